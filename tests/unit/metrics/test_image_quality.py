"""Per-image PSNR/SSIM: the numbers scikit-image gives, averaged per image, under named protocols."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deblurlab.metrics import batch_scores, evaluate_pair, psnr, quantize_8bit, ssim


def _pair(seed: int, shape=(3, 40, 48), noise=0.05) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g, dtype=torch.float64)
    pred = (target + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return pred, target


def test_psnr_matches_skimage():
    pred, target = _pair(0)
    expected = peak_signal_noise_ratio(target.numpy(), pred.numpy(), data_range=1.0)
    assert float(psnr(pred[None], target[None])[0]) == pytest.approx(expected, abs=1e-9)


def test_ssim_matches_skimage_gaussian_population_covariance():
    pred, target = _pair(1)
    expected = structural_similarity(
        target.numpy().transpose(1, 2, 0),
        pred.numpy().transpose(1, 2, 0),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=-1,
        data_range=1.0,
    )
    assert float(ssim(pred[None], target[None])[0]) == pytest.approx(expected, abs=1e-7)


def test_identical_images_have_infinite_psnr_and_unit_ssim():
    _, target = _pair(2)
    assert math.isinf(float(psnr(target[None], target[None])[0]))
    assert float(ssim(target[None], target[None])[0]) == pytest.approx(1.0)


def test_scores_are_per_image_not_pooled():
    a_pred, a_t = _pair(3, noise=0.01)
    b_pred, b_t = _pair(4, noise=0.2)
    scores = psnr(torch.stack([a_pred, b_pred]), torch.stack([a_t, b_t]))
    pooled_mse = ((torch.stack([a_pred, b_pred]) - torch.stack([a_t, b_t])) ** 2).mean()
    pooled = 10 * torch.log10(1 / pooled_mse)
    assert scores.shape == (2,)
    assert (
        float(scores.mean()) > float(pooled) + 1.0
    )  # the mean of PSNRs is not the PSNR of the mean


def test_quantize_rounds_not_truncates():
    x = torch.tensor([0.0, 0.4 / 255, 0.6 / 255, 254.5 / 255, 1.2, -0.1])
    expected = torch.tensor([0.0, 0.0, 1.0, 255.0, 255.0, 0.0]) / 255
    torch.testing.assert_close(quantize_8bit(x), expected)


def test_gopro_protocol_scores_8bit_images_float_protocol_does_not():
    pred, target = _pair(5, noise=0.02)
    target = quantize_8bit(target)
    gopro = batch_scores(pred[None], target[None], "gopro")
    flt = batch_scores(pred[None], target[None], "float")
    expected = peak_signal_noise_ratio(
        np.round(target.numpy() * 255).astype(np.uint8),
        np.round(pred.numpy() * 255).astype(np.uint8),
    )
    assert float(gopro["psnr"][0]) == pytest.approx(expected, abs=1e-6)
    assert float(flt["psnr"][0]) != pytest.approx(expected, abs=1e-6)


def test_evaluate_pair_on_uint8_arrays_and_unknown_protocol():
    rng = np.random.default_rng(6)
    target = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    output = np.clip(target.astype(int) + rng.integers(-5, 6, target.shape), 0, 255).astype(
        np.uint8
    )
    scores = evaluate_pair(output, target, protocol="gopro")
    assert scores["psnr"] == pytest.approx(peak_signal_noise_ratio(target, output), abs=1e-9)
    assert 0 < scores["ssim"] < 1
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate_pair(output, target, protocol="matlab")
