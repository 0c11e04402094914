"""Restorer: any size in, same size out, with every option; equal to the network where it should be."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deblurlab.inference import Restorer, SelfEnsemble
from deblurlab.models import mimo_unet


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return mimo_unet(num_res=1, base_channels=8).eval()


class Cheap(nn.Module):
    """A 3x3 conv network that insists on inputs divisible by its size_multiple (like the release)."""

    size_multiple = 4

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0, tuple(x.shape)
        return [x[..., ::2, ::2], x + 0.1 * self.conv(x)]


OPTIONS = [
    {},
    {"tile": 16, "overlap": 8},
    {"ensemble": "rot4"},
    {"ensemble": "x8", "tile": 24, "overlap": 8},
    {"precision": "bf16", "tile": 20, "overlap": 4},
]


@pytest.mark.parametrize(
    "options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())
)
@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 7), (13, 5), (37, 45), (64, 48)])
def test_any_size_gives_a_same_size_image_in_range(net, options, h, w):
    x = torch.rand(1, 3, h, w)
    out = Restorer(net, **options)(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_4k_image_whole_and_tiled_gives_the_same_size():
    x = torch.rand(1, 3, 2160, 3840)
    whole = Restorer(Cheap())(x)
    tiled = Restorer(Cheap(), tile=1024, overlap=16)(x)
    assert whole.shape == tiled.shape == x.shape
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)  # radius 1 <= 16 // 4


@pytest.mark.parametrize(("h", "w"), [(40, 52), (37, 45)])
def test_whole_image_result_is_the_networks_last_output_clamped(net, h, w):
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        expected = net(x)[-1]
    assert torch.equal(Restorer(net, clamp=False, channels_last=False)(x), expected)
    assert torch.equal(Restorer(net, channels_last=False)(x), expected.clamp(0, 1))


def test_a_tile_larger_than_the_image_is_whole_image_inference(net):
    x = torch.rand(1, 3, 37, 45)
    assert torch.equal(Restorer(net, tile=64, overlap=8)(x), Restorer(net)(x))


def test_tiles_run_on_padded_multiples_and_blend_exactly_on_a_local_network():
    x = torch.rand(1, 3, 37, 45)
    whole = Restorer(Cheap())(x)
    tiled = Restorer(Cheap(), tile=16, overlap=4)(x)  # Cheap asserts every tile divides by 4
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("mode", ["rot4", "x8"])
def test_ensemble_is_the_self_ensemble_of_the_network(net, mode):
    x = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        expected = SelfEnsemble(net, mode)(x)[-1]
    torch.testing.assert_close(Restorer(net, ensemble=mode, clamp=False)(x), expected)
    assert not torch.equal(Restorer(net, ensemble=mode)(x), Restorer(net)(x))


def test_the_default_fast_path_matches_the_plain_nchw_forward():
    torch.manual_seed(3)
    plain = mimo_unet(num_res=1, base_channels=8).eval()
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        expected = plain(x)[-1]
    restore = Restorer(plain, clamp=False)  # channels_last + inference mode by default
    out = restore(x)
    assert restore.settings()["channels_last"] is True
    assert plain.feat_extract[0].main[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert out.is_contiguous() and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("native", "expected"), [(False, "fp32"), (True, "bf16")])
def test_auto_precision_picks_bf16_only_where_the_cpu_has_it(net, monkeypatch, native, expected):
    from deblurlab import hardware

    flags = frozenset({"avx2", "amx_bf16"} if native else {"avx2", "avx512f"})
    monkeypatch.setattr(hardware, "cpu_info", lambda: hardware.CpuInfo("test CPU", 2, flags))
    restore = Restorer(net, precision="auto")
    assert restore.precision == expected and restore.settings()["precision"] == expected
    assert restore.requested_precision == "auto"


def test_bf16_stays_close_to_fp32_and_returns_float32(net):
    x = torch.rand(1, 3, 32, 40)
    fp32, bf16 = Restorer(net)(x), Restorer(net, precision="bf16")(x)
    assert bf16.dtype == torch.float32
    assert 0 < (bf16 - fp32).abs().max() < 0.05


def test_network_runs_in_eval_mode_and_the_input_is_untouched():
    torch.manual_seed(0)
    dropout_net = mimo_unet(num_res=1, base_channels=8, dropout=0.5).train()
    restore = Restorer(dropout_net)
    x = torch.rand(1, 3, 24, 24)
    copy = x.clone()
    assert torch.equal(restore(x), restore(x))  # no dropout at inference
    assert torch.equal(x, copy)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"precision": "fp16"}, "precision must be"),
        ({"ensemble": "rot8"}, "ensemble must be"),
        ({"tile": 0}, "tile must be"),
        ({"tile": 32, "overlap": 32}, "overlap must be"),
        ({"overlap": -1}, "overlap must be"),
    ],
)
def test_bad_settings_raise_naming_the_setting(net, options, message):
    with pytest.raises(ValueError, match=message):
        Restorer(net, **options)
