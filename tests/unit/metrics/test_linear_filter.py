"""The best single linear filter is found by least squares: it recovers a known filter exactly,
and on blur it improves what a filter can improve."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deblurlab.metrics.linear_filter import LinearFilter, LinearFilterFit, fit_linear_filter


def _filtered(images: torch.Tensor, kernel: torch.Tensor, bias: float) -> torch.Tensor:
    b, c, h, w = images.shape
    flat = F.pad(images.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="reflect")
    return (F.conv2d(flat, kernel[None, None]) + bias).reshape(b, c, h, w)


def test_a_known_linear_map_is_recovered():
    g = torch.Generator().manual_seed(0)
    kernel = torch.tensor([[0.0, -0.25, 0.1], [-0.25, 2.0, -0.25], [0.0, -0.35, 0.0]])
    blur = torch.rand(4, 3, 24, 24, generator=g) * 0.5 + 0.25
    sharp = _filtered(blur, kernel, 0.01)
    found = fit_linear_filter([(blur, sharp)], size=3)
    assert torch.allclose(found.kernel, kernel, atol=1e-4)
    assert found.bias == pytest.approx(0.01, abs=1e-4)
    # applied the same way round as fitted
    inner = (..., slice(1, -1), slice(1, -1))
    assert torch.allclose(found(blur)[inner], sharp.clamp(0, 1)[inner], atol=1e-4)


def test_it_undoes_part_of_a_box_blur_and_beats_doing_nothing():
    g = torch.Generator().manual_seed(1)
    sharp = F.avg_pool2d(torch.rand(8, 3, 64, 64, generator=g), 3, 1, 1)  # some texture
    box = torch.full((5, 5), 1 / 25)
    blur = F.conv2d(F.pad(sharp.reshape(-1, 1, 64, 64), (2,) * 4, mode="reflect"), box[None, None])
    blur = blur.reshape(sharp.shape)
    fit = LinearFilterFit(9)
    fit.add(blur[:6], sharp[:6])
    restored = fit.solve()(blur[6:])
    error_before = (blur[6:] - sharp[6:]).pow(2).mean()
    error_after = (restored - sharp[6:]).pow(2).mean()
    assert error_after < 0.7 * error_before


def test_the_filter_keeps_the_image_size_and_range():
    out = LinearFilter(torch.full((5, 5), 0.08), 0.0)(torch.rand(2, 3, 7, 9))
    assert out.shape == (2, 3, 7, 9) and out.min() >= 0 and out.max() <= 1


def test_an_even_size_is_refused():
    with pytest.raises(ValueError, match="odd"):
        LinearFilterFit(4)
