"""SGENetLoss against a longhand reference; the Laplacian residual; device/dtype handling."""

from __future__ import annotations

import math

import pytest
import torch

from deblurlab.losses.charbonnier import CharbonnierLoss, charbonnier
from deblurlab.losses.edge import LaplacianEdgeLoss, laplacian_residual
from deblurlab.losses.sgenet import SGENetLoss, sgenet_targets

TAPS = [0.05, 0.25, 0.4, 0.25, 0.05]


def ref_blur(x: torch.Tensor) -> torch.Tensor:
    """5x5 g g^T blur with replicate borders, tap by tap with clamped indices."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    for i, gi in enumerate(TAPS):
        rows = (torch.arange(h) + i - 2).clamp(0, h - 1)
        for j, gj in enumerate(TAPS):
            cols = (torch.arange(w) + j - 2).clamp(0, w - 1)
            out = out + gi * gj * x[..., rows, :][..., :, cols]
    return out


def ref_laplacian(x: torch.Tensor) -> torch.Tensor:
    blurred = ref_blur(x)
    up = torch.zeros_like(x)
    for r in range(0, x.shape[-2], 2):
        for c in range(0, x.shape[-1], 2):
            up[..., r, c] = 4 * blurred[..., r, c]
    return x - ref_blur(up)


def ref_char(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2 + 1e-3**2).sqrt().sum() / a.numel()


def ref_half(x: torch.Tensor) -> torch.Tensor:
    """Mean of each 2x2 block (what bilinear x0.5 without antialias is on even sizes)."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5))


def test_loss_equals_longhand_reference() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 3, 16, 20, dtype=torch.float64)
    shapes = [(8, 10)] * 2 + [(16, 20)] * 4
    outputs = [torch.rand(2, 3, *s, dtype=torch.float64) for s in shapes]
    total, parts = SGENetLoss()(outputs, target)

    char_sum, edge_sum = 0.0, 0.0
    for out in outputs:
        y = target if out.shape == target.shape else ref_half(target)
        char_sum = char_sum + ref_char(out, y)
        edge_sum = edge_sum + ref_char(ref_laplacian(out), ref_laplacian(y))
    torch.testing.assert_close(parts["charbonnier"], char_sum)
    torch.testing.assert_close(parts["edge"], edge_sum)
    torch.testing.assert_close(total, char_sum + 0.05 * edge_sum)
    assert total.dtype == torch.float64


def test_laplacian_matches_reference_on_odd_sizes() -> None:
    x = torch.rand(1, 3, 11, 14, dtype=torch.float64)
    torch.testing.assert_close(laplacian_residual(x), ref_laplacian(x))


def test_laplacian_of_constant_is_zero_inside() -> None:
    lap = laplacian_residual(torch.full((1, 3, 24, 24), 0.7))
    assert lap[..., 2:-2, 2:-2].abs().max() < 1e-6
    # MPRNet's construction replicate-pads the zero-inserted image: the border is not zero.
    assert lap[..., 0, :].abs().max() > 0.1


def test_charbonnier() -> None:
    a, b = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 3.0)
    assert charbonnier(a, b).item() == pytest.approx(math.sqrt(9 + 1e-6))
    assert charbonnier(a, a).item() == pytest.approx(1e-3)
    assert CharbonnierLoss(eps=0.5)(a, a).item() == pytest.approx(0.5)


def test_kernel_buffer_is_not_persistent_and_follows_dtype() -> None:
    loss = SGENetLoss()
    assert loss.state_dict() == {}
    assert any(name.endswith("kernel") for name, _ in loss.named_buffers())
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert LaplacianEdgeLoss()(x, x.flip(-1)).dtype == torch.float64


def test_targets_on_odd_sizes_follow_the_network_padding() -> None:
    target = torch.rand(1, 3, 9, 6)
    half, full = sgenet_targets(target, [torch.zeros(1, 3, 5, 3), torch.zeros(1, 3, 9, 6)])
    assert full is target
    padded = torch.nn.functional.pad(target, (0, 2, 0, 3), mode="reflect")
    torch.testing.assert_close(half, ref_half(padded)[..., :5, :3])
    with pytest.raises(ValueError):
        sgenet_targets(target, [torch.zeros(1, 3, 4, 4)])


def test_edge_weight_zero_drops_the_edge_term() -> None:
    x = torch.rand(1, 3, 8, 8)
    total, parts = SGENetLoss(edge_weight=0.0)([x], x.flip(-2))
    assert set(parts) == {"charbonnier"}
    assert torch.equal(total, parts["charbonnier"])
