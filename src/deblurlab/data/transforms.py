"""Paired transforms: the same random crop and flips applied to the blurry and the sharp image."""

from __future__ import annotations

import albumentations as A
import numpy as np
import torch

from deblurlab.data.io import to_float


def paired_train_transform(
    crop_size: int, hflip: float = 0.5, vflip: float = 0.0, rot90: float = 0.0
) -> A.Compose:
    """Random ``crop_size`` crop, then horizontal/vertical flips and 90-degree rotations.

    Albumentations draws the parameters once per call and applies them to ``image`` (blurry) and
    the additional target ``sharp``, so the two stay aligned pixel for pixel.
    """
    ops: list[A.BasicTransform] = [A.RandomCrop(height=crop_size, width=crop_size)]
    if hflip > 0:
        ops.append(A.HorizontalFlip(p=hflip))
    if vflip > 0:
        ops.append(A.VerticalFlip(p=vflip))
    if rot90 > 0:
        ops.append(A.RandomRotate90(p=rot90))
    return A.Compose(ops, additional_targets={"sharp": "image"})


def paired_eval_transform(center_crop: int | None = None) -> A.Compose | None:
    """Full frames for validation and test, or an optional centre crop for quick validation."""
    if center_crop is None:
        return None
    return A.Compose(
        [A.CenterCrop(height=center_crop, width=center_crop, pad_if_needed=True)],
        additional_targets={"sharp": "image"},
    )


def apply_pair(
    transform: A.Compose | None, blurry: np.ndarray, sharp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``transform`` to both images of a pair (identity when ``transform`` is None)."""
    if transform is None:
        return blurry, sharp
    out = transform(image=blurry, sharp=sharp)
    return out["image"], out["sharp"]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """H x W x 3 array -> 3 x H x W float32 tensor in [0, 1] (contiguous).

    uint8 and uint16 images (as stored, e.g. crops of the decoded cache) are divided by 255 and
    65535 exactly as :func:`deblurlab.data.io.read_image` does, so both paths give equal floats.
    """
    return torch.from_numpy(to_float(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))))
