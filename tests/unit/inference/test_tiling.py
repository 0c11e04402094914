"""Tiled inference: covers every pixel, aligns tiles to the network's multiple, and equals
whole-image inference on networks whose receptive field fits in a quarter of the overlap."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deblurlab.inference import blend_weights, tile_starts, tiled_apply


class LocalConvNet(nn.Module):
    """``depth`` 3x3 convolutions with zero padding: translation-equivariant, receptive radius
    ``depth`` px (exactly: output at a pixel depends on inputs within ``depth`` px and the image
    border)."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.convs = nn.ModuleList(nn.Conv2d(3, 3, 3, padding=1) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.tanh(conv(x))
        return x


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "multiple"),
    [(100, 32, 8, 1), (128, 48, 16, 4), (64, 64, 16, 4), (40, 64, 8, 4), (132, 32, 30, 4)],
)
def test_tiles_cover_the_length_overlap_enough_and_start_on_the_multiple(
    length, tile, overlap, multiple
):
    starts = tile_starts(length, tile, overlap, multiple)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    assert all(s % multiple == 0 for s in starts)
    assert all(b > a for a, b in zip(starts, starts[1:], strict=False))
    least = min(overlap, size - multiple)
    assert all(a + size - b >= least for a, b in zip(starts, starts[1:], strict=False))


def test_blend_weights_skip_the_outer_quarter_of_an_overlap_and_keep_image_edges():
    w = blend_weights(start=16, size=32, length=80, overlap=16)  # neighbours on both sides
    assert torch.all(w[:4] == 0) and torch.all(w[-4:] == 0)  # 16 // 4 = 4 px discarded
    assert torch.all(w[12:20] == 1) and torch.all(w[4:12] > 0)
    assert torch.all(torch.diff(w[:16]) >= 0)
    first = blend_weights(start=0, size=32, length=80, overlap=16)
    assert first[0] == 1 and torch.all(first[-4:] == 0)


@pytest.mark.parametrize(("h", "w"), [(37, 45), (64, 64), (8, 100)])
@pytest.mark.parametrize(("tile", "overlap"), [(16, 0), (16, 8), (20, 12), (32, 4)])
def test_identity_is_reproduced_exactly(h, w, tile, overlap):
    x = torch.rand(2, 3, h, w)
    calls = []

    def identity(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.shape[-2:])
        return t.clone()

    out = tiled_apply(identity, x, tile, overlap)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-6)
    assert all(s[0] <= tile and s[1] <= tile for s in calls)


def test_tiles_equal_the_whole_image_when_a_quarter_overlap_covers_the_receptive_field():
    net = LocalConvNet(depth=3).eval()  # receptive radius 3 px
    x = torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        whole = net(x)
        exact = tiled_apply(net, x, tile=24, overlap=12)  # 12 // 4 = 3 >= 3
        seams = tiled_apply(net, x, tile=24, overlap=4)  # 4 // 4 = 1 < 3
    torch.testing.assert_close(exact, whole, rtol=0, atol=1e-5)
    assert (seams - whole).abs().max() > 1e-3


def test_tiles_start_on_the_network_multiple_so_strided_networks_see_the_same_grid():
    """A stride-4 network (4x4 average pool, then nearest upsampling) is only equivariant to shifts
    by multiples of 4; aligned tiles reproduce it exactly."""

    def strided(t: torch.Tensor) -> torch.Tensor:
        assert t.shape[-2] % 4 == 0 and t.shape[-1] % 4 == 0
        return F.interpolate(F.avg_pool2d(t, 4), scale_factor=4.0, mode="nearest")

    x = torch.rand(1, 3, 48, 76)
    out = tiled_apply(strided, x, tile=23, overlap=8, multiple=4)  # tile rounds down to 20
    torch.testing.assert_close(out, strided(x), rtol=0, atol=1e-6)


def test_bad_tile_settings_raise():
    with pytest.raises(ValueError, match="tile > 0"):
        tiled_apply(lambda t: t, torch.rand(1, 3, 8, 8), tile=0, overlap=0)
