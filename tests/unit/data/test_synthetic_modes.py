"""Synthetic blur: camera-shake kernels, noise, and determinism of both modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblurlab.data.synthetic import (
    SyntheticBlurSource,
    convolve,
    random_shake_trajectory,
    rasterize_psf,
)
from deblurlab.errors import ConfigError


def small_source(**kwargs) -> SyntheticBlurSource:
    return SyntheticBlurSource(
        train_size=(40, 40),
        eval_size=(32, 48),
        train_samples=4,
        val_samples=3,
        test_samples=3,
        **kwargs,
    )


@pytest.mark.parametrize("seed", range(5))
def test_psf_sums_to_one_and_its_centroid_is_the_centre_pixel(seed):
    points = random_shake_trajectory(np.random.default_rng(seed), length_px=12.0)
    extent = np.max(np.linalg.norm(points - points[0], axis=1))
    assert extent == pytest.approx(12.0)
    psf = rasterize_psf(points)
    size = psf.shape[0]
    assert psf.shape == (size, size) and size % 2 == 1
    assert psf.min() >= 0 and psf.sum() == pytest.approx(1.0, abs=1e-6)
    yy, xx = np.mgrid[:size, :size]
    centre = size // 2
    assert (psf * xx).sum() == pytest.approx(centre, abs=1e-4)
    assert (psf * yy).sum() == pytest.approx(centre, abs=1e-4)
    assert (psf > 0).sum() > 12  # a path, not a dot


def test_convolve_is_a_true_convolution():
    psf = np.zeros((5, 5), np.float32)
    psf[2, 2], psf[2, 4], psf[0, 2] = 0.5, 0.3, 0.2  # asymmetric
    image = np.zeros((11, 11, 3), np.float32)
    image[5, 5] = 1.0
    out = convolve(image, psf)
    # an impulse response is the kernel itself, not its mirror image
    np.testing.assert_allclose(out[3:8, 3:8, 0], psf, atol=1e-7)


@pytest.mark.parametrize("mode", ["frames", "kernel"])
def test_both_modes_are_deterministic_by_seed_and_index(mode):
    a, b = small_source(mode=mode), small_source(mode=mode)
    for i in range(3):
        (b1, s1, n1), (b2, s2, n2) = a.val_dataset()[i], b.val_dataset()[i]
        assert np.isfinite(b1).all() and b1.min() >= 0.0 and b1.max() <= 1.0
        np.testing.assert_array_equal(b1, b2)
        np.testing.assert_array_equal(s1, s2)
        assert n1 == n2
    assert not np.array_equal(a.val_dataset()[0][0], a.val_dataset()[1][0])
    assert not np.array_equal(a.val_dataset()[0][0], a.test_dataset()[0][0])
    assert not np.array_equal(
        a.val_dataset()[0][0], small_source(mode=mode, seed=9).val_dataset()[0][0]
    )
    torch.manual_seed(3)
    first = a.train_dataset()[1][0]
    torch.manual_seed(3)
    np.testing.assert_array_equal(first, b.train_dataset()[1][0])


def test_kernel_mode_blurs_in_linear_light_and_keeps_the_sharp_crop():
    kernel = small_source(mode="kernel", quantize=False)
    assert kernel.blur.gamma == 2.2 and small_source().blur.gamma == 1.0
    srgb = small_source(mode="kernel", quantize=False, gamma=1.0)
    for i in range(3):
        blurry, sharp, _ = kernel.val_dataset()[i]
        blurry_srgb, sharp_srgb, _ = srgb.val_dataset()[i]
        np.testing.assert_array_equal(sharp, sharp_srgb)  # the same draw, the same target
        assert np.abs(np.diff(blurry, axis=1)).mean() < np.abs(np.diff(sharp, axis=1)).mean()
        assert blurry.mean() > blurry_srgb.mean()  # the power mean exceeds the arithmetic mean
    assert "camera-shake kernels" in kernel.describe()


@pytest.mark.parametrize("mode", ["frames", "kernel"])
def test_noise_is_added_to_the_blurry_image_only(mode):
    clean = small_source(mode=mode, quantize=False)
    noisy = small_source(mode=mode, quantize=False, noise_std=0.02)
    (b0, s0, _), (b1, s1, _) = clean.val_dataset()[0], noisy.val_dataset()[0]
    np.testing.assert_array_equal(s0, s1)
    inside = (b0 > 0.1) & (b0 < 0.9)  # away from clipping
    assert np.std((b1 - b0)[inside]) == pytest.approx(0.02, rel=0.15)
    np.testing.assert_array_equal(b1, noisy.val_dataset()[0][0])  # deterministic too


@pytest.mark.parametrize(
    ("kwargs", "key"), [({"mode": "psf"}, "mode"), ({"noise_std": -1}, "noise_std")]
)
def test_bad_settings_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=f"data.source.{key}"):
        SyntheticBlurSource(**kwargs)
