"""Paired transforms: one random crop and flip, applied identically to both images."""

from __future__ import annotations

import numpy as np

from deblurlab.data.transforms import apply_pair, paired_eval_transform, paired_train_transform


def test_identical_pair_gives_identical_crops_under_every_augmentation():
    rng = np.random.default_rng(0)
    image = rng.random((70, 90, 3), dtype=np.float32)
    transform = paired_train_transform(32, hflip=0.5, vflip=0.5, rot90=0.5)
    for _ in range(30):
        blurry, sharp = apply_pair(transform, image, image.copy())
        assert blurry.shape == (32, 32, 3)
        np.testing.assert_array_equal(blurry, sharp)


def test_crop_keeps_pixel_alignment_between_different_images():
    # sharp = blurry + 1: after any crop/flip the difference must still be exactly 1 everywhere
    rng = np.random.default_rng(1)
    blurry = rng.random((64, 64, 3), dtype=np.float32)
    transform = paired_train_transform(24, hflip=0.5, vflip=0.5, rot90=0.5)
    for _ in range(20):
        b, s = apply_pair(transform, blurry, blurry + 1.0)
        np.testing.assert_allclose(s - b, 1.0, rtol=0, atol=1e-6)


def test_crops_vary_between_calls():
    image = np.arange(64 * 64 * 3, dtype=np.float32).reshape(64, 64, 3)
    transform = paired_train_transform(16, hflip=0.0)
    crops = {apply_pair(transform, image, image)[0][0, 0, 0] for _ in range(20)}
    assert len(crops) > 1


def test_eval_transform_is_identity_or_a_centre_crop():
    image = np.random.default_rng(2).random((40, 60, 3), dtype=np.float32)
    assert paired_eval_transform(None) is None
    b, s = apply_pair(paired_eval_transform(20), image, image)
    np.testing.assert_array_equal(b, image[10:30, 20:40])
