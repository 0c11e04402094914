"""The named protocols against scikit-image on fixed images: gopro (8-bit rounded), float, realblur."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deblurlab.metrics import PROTOCOLS, batch_scores, evaluate_pair


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A fixed 48 x 64 uint8 crop of scikit-image's astronaut."""
    small = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small[40:88, 32:96])


@pytest.fixture(scope="module")
def restored(photo) -> np.ndarray:
    """A float 'network output' near the photo, partly outside [0, 1] (as raw outputs are)."""
    rng = np.random.default_rng(0)
    return photo.astype(np.float64) / 255.0 + rng.normal(0, 0.03, photo.shape) + 0.01


def _skimage_ssim(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=-1,
        data_range=data_range,
    )


def test_gopro_is_skimage_on_clamped_rounded_8bit_images(photo, restored):
    out8 = np.clip(np.floor(restored * 255 + 0.5), 0, 255).astype(np.uint8)
    scores = evaluate_pair(restored, photo, "gopro")
    assert scores["psnr"] == pytest.approx(peak_signal_noise_ratio(photo, out8), abs=1e-9)
    assert scores["ssim"] == pytest.approx(_skimage_ssim(photo, out8, 255), abs=1e-7)
    # a uint8 output scores the same as the float it was rounded from
    assert evaluate_pair(out8, photo, "gopro") == pytest.approx(scores, abs=1e-12)


def test_float_is_skimage_on_the_clamped_float_output(photo, restored):
    target = photo.astype(np.float64) / 255
    clamped = np.clip(restored, 0, 1)
    scores = evaluate_pair(restored, target, "float")
    assert scores["psnr"] == pytest.approx(
        peak_signal_noise_ratio(target, clamped, data_range=1), abs=1e-9
    )
    assert scores["ssim"] == pytest.approx(_skimage_ssim(target, clamped, 1.0), abs=1e-7)
    assert scores["psnr"] != pytest.approx(
        evaluate_pair(restored, photo, "gopro")["psnr"], abs=1e-4
    )


def test_gopro_rounds_to_8_bits_instead_of_truncating(photo):
    # 0.6 of a level above every target value: rounding moves each value up one level
    # (PSNR = 20 log10(255) exactly); truncation would give back the target (infinite PSNR).
    output = (photo.astype(np.float64) + 0.6) / 255.0
    output[photo == 255] = 1.0  # clamping keeps these equal, so leave them out
    off = np.count_nonzero(photo != 255) / photo.size
    expected = 10 * math.log10(255.0**2 / off)
    assert evaluate_pair(output, photo, "gopro")["psnr"] == pytest.approx(expected, abs=1e-9)
    truncated = np.floor(output * 255).astype(np.uint8)
    assert math.isinf(evaluate_pair(truncated, photo, "gopro")["psnr"])


def test_batch_scores_agree_with_evaluate_pair_for_every_protocol(photo, restored):
    target = torch.from_numpy(photo.transpose(2, 0, 1) / 255.0).float()[None].repeat(2, 1, 1, 1)
    pred = torch.from_numpy(restored.transpose(2, 0, 1)).float()[None]
    darker = target[:1] * 0.9 + 0.02 * torch.rand(
        target[:1].shape, generator=torch.Generator().manual_seed(1)
    )
    pred = torch.cat([pred, darker])
    for protocol in PROTOCOLS:
        scores = batch_scores(pred, target, protocol)
        for i in range(2):
            expected = evaluate_pair(
                pred[i].permute(1, 2, 0).numpy(), target[i].permute(1, 2, 0).numpy(), protocol
            )
            assert float(scores["psnr"][i]) == pytest.approx(expected["psnr"], abs=1e-5), protocol
            assert float(scores["ssim"][i]) == pytest.approx(expected["ssim"], abs=1e-6), protocol


def test_realblur_scores_the_8bit_image_of_a_float_output(photo, restored):
    out8 = np.clip(np.floor(restored * 255 + 0.5), 0, 255).astype(np.uint8)
    assert evaluate_pair(restored, photo, "realblur") == evaluate_pair(out8, photo, "realblur")


def test_realblur_of_identical_images_is_perfect(photo):
    scores = evaluate_pair(photo, photo, "realblur")
    assert scores["psnr"] > 100  # ECC's warp is the identity up to float noise
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-9)


def test_realblur_forgives_gain_but_not_noise(photo, restored):
    """A darker copy is perfect after intensity matching; a noisy one stays as good as it was."""
    darker = (photo.astype(np.float64) * 0.8 / 255.0).astype(np.float32)
    gopro = evaluate_pair(darker, photo, "gopro")["psnr"]
    assert evaluate_pair(darker, photo, "realblur")["psnr"] > gopro + 15
    noisy_gopro = evaluate_pair(restored, photo, "gopro")["psnr"]
    assert evaluate_pair(restored, photo, "realblur")["psnr"] == pytest.approx(noisy_gopro, abs=0.5)


def test_shapes_must_match_and_protocols_must_exist(photo):
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate_pair(photo[:-1], photo, "realblur")
    with pytest.raises(ValueError, match="unknown protocol 'matlab'"):
        evaluate_pair(photo, photo, "matlab")
