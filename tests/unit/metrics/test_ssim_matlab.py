"""MATLAB's 3-D SSIM of an RGB volume, against an independent N-D computation with scipy.ndimage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from deblurlab.metrics import batch_scores, evaluate_pair, per_image_records, ssim, ssim_matlab


def _scipy_matlab_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """MATLAB ``ssim(A, ref)`` of two H x W x 3 arrays written with scipy: a 3-D Gaussian filter
    (sigma 1.5, radius ceil(3 * 1.5) = 5, i.e. 11 taps), 'nearest' (= MATLAB's replicate) borders,
    the whole map averaged."""
    a, b = a.astype(np.float64), b.astype(np.float64)

    def g(v: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(v, sigma=1.5, mode="nearest", radius=5)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ma, mb = g(a), g(b)
    va, vb, cab = g(a * a) - ma**2, g(b * b) - mb**2, g(a * b) - ma * mb
    smap = ((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(smap.mean())


def _images(seed: int, shape=(37, 45, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sharp = rng.integers(0, 256, shape).astype(np.uint8)
    smooth = ndimage.uniform_filter(sharp.astype(np.float64), size=(1, 5, 1))  # a horizontal blur
    return np.clip(smooth + rng.normal(0, 4, shape), 0, 255).round().astype(np.uint8), sharp


def _batch(*arrays: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(a.transpose(2, 0, 1) / 255.0) for a in arrays])


@pytest.mark.parametrize("shape", [(37, 45, 3), (12, 9, 3), (64, 48, 3)])
def test_ssim_matlab_equals_an_independent_scipy_computation(shape):
    out, gt = _images(0, shape)
    expected = _scipy_matlab_ssim(out, gt)
    got = float(ssim_matlab(_batch(out), _batch(gt))[0])
    assert got == pytest.approx(expected, abs=1e-10)
    # the same number on 8-bit values with dynamic range 255
    got255 = ssim_matlab(_batch(out) * 255, _batch(gt) * 255, data_range=255.0)
    assert float(got255[0]) == pytest.approx(expected, abs=1e-10)


def test_ssim_matlab_is_not_the_per_channel_ssim():
    """The channel axis is filtered too, and borders are replicated instead of cropped."""
    out, gt = _images(1)
    three_d = float(ssim_matlab(_batch(out), _batch(gt))[0])
    per_channel = float(ssim(_batch(out), _batch(gt))[0])
    assert abs(three_d - per_channel) > 1e-3
    # filtering each channel alone (sigma 0 on the channel axis) is a different number as well
    a, b = out.astype(np.float64), gt.astype(np.float64)

    def g2(v):
        return ndimage.gaussian_filter(v, sigma=(1.5, 1.5, 0), mode="nearest", radius=5)

    c1, c2 = 6.5025, 58.5225
    ma, mb = g2(a), g2(b)
    smap = ((2 * ma * mb + c1) * (2 * (g2(a * b) - ma * mb) + c2)) / (
        (ma**2 + mb**2 + c1) * (g2(a * a) - ma**2 + g2(b * b) - mb**2 + c2)
    )
    assert abs(three_d - float(smap.mean())) > 1e-4


def test_ssim_matlab_is_per_image_in_a_batch():
    (o1, g1), (o2, g2) = _images(2), _images(3)
    batch = ssim_matlab(_batch(o1, o2), _batch(g1, g2))
    assert float(batch[0]) == pytest.approx(_scipy_matlab_ssim(o1, g1), abs=1e-10)
    assert float(batch[1]) == pytest.approx(_scipy_matlab_ssim(o2, g2), abs=1e-10)
    assert float(ssim_matlab(_batch(g1), _batch(g1))[0]) == pytest.approx(1.0, abs=1e-12)


def test_gopro_protocol_reports_matlab_ssim_of_the_rounded_8bit_images():
    out, gt = _images(4)
    noisy = out.astype(np.float64) / 255.0 + 0.3 / 255.0  # rounding moves nothing...
    noisy[::2] += 0.4 / 255.0  # ...except these rows, one level up
    out8 = np.clip(np.floor(noisy * 255 + 0.5), 0, 255).astype(np.uint8)
    scores = evaluate_pair(noisy, gt, "gopro")
    assert scores["ssim_matlab"] == pytest.approx(_scipy_matlab_ssim(out8, gt), abs=1e-10)
    assert scores["ssim_matlab"] != pytest.approx(
        _scipy_matlab_ssim(noisy * 255.0, gt), abs=1e-7
    )  # the float (unrounded) output would give another number
    assert "ssim_matlab" not in evaluate_pair(noisy, gt, "float")
    assert "ssim_matlab" not in evaluate_pair(out8, gt, "realblur")


def test_per_image_records_carry_matlab_ssim_for_gopro():
    out, gt = _images(5)
    pred, target = _batch(out), _batch(gt)
    blur = torch.from_numpy(ndimage.uniform_filter(gt / 255.0, size=(1, 9, 1)).transpose(2, 0, 1))
    rows = per_image_records(
        ["a"], batch_scores(pred, target), batch_scores(blur[None], target), 1.0
    )
    assert rows[0]["ssim_matlab"] == pytest.approx(_scipy_matlab_ssim(out, gt), abs=1e-10)
    assert rows[0]["input_ssim_matlab"] < rows[0]["ssim_matlab"]
    assert list(rows[0]) == [
        "name",
        "psnr",
        "ssim",
        "ssim_matlab",
        "input_psnr",
        "input_ssim",
        "input_ssim_matlab",
        "seconds",
    ]
