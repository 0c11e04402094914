"""Paired transforms: the same random crop and flips applied to the blurry and the sharp image.

A training item's random choices are drawn in one fixed sequence from one numpy generator, the
item's stream (see :mod:`deblurlab.data.resumable`): crop row, crop column, horizontal flip,
vertical flip, whether to turn, quarter turns. All six are drawn whatever the probabilities, so
the stream's layout does not depend on which augmentations are on, and consecutive draws of one
generator are independent, so no choice is tied to another. Not albumentations: a ``Compose``
seeded per item gives each of its transforms that same seed, so the crop's row and every flip's
coin would all be the first draw of equal generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import albumentations as A
import numpy as np
import torch

from deblurlab.data.io import to_float


@dataclass(frozen=True)
class Augmentation:
    """The random choices of one training item: the crop's top-left corner, the flips, and the
    number of counter-clockwise quarter turns (applied in that order)."""

    top: int
    left: int
    hflip: bool
    vflip: bool
    quarter_turns: int

    def apply(self, image: np.ndarray, size: int) -> np.ndarray:
        """Crop ``image`` (H x W x C) to ``size`` x ``size`` at the corner, flip, then turn.

        Returns a view where possible: a crop of a memory-mapped image reads only its window.
        """
        out = image[self.top : self.top + size, self.left : self.left + size]
        if self.hflip:
            out = out[:, ::-1]
        if self.vflip:
            out = out[::-1]
        return np.rot90(out, self.quarter_turns) if self.quarter_turns else out


class PairedTrainTransform:
    """Random ``crop_size`` crop, then a horizontal flip, a vertical flip and quarter turns, drawn
    once per item and applied identically to the blurry and the sharp image.

    Args:
        crop_size: side of the square crop.
        hflip, vflip: probabilities of each flip.
        rot90: probability of turning; a turned crop is turned by k quarter turns, k uniform over
            0..3 (as albumentations' ``RandomRotate90``).
    """

    def __init__(
        self, crop_size: int, hflip: float = 0.5, vflip: float = 0.0, rot90: float = 0.0
    ) -> None:
        self.crop_size = int(crop_size)
        self.hflip, self.vflip, self.rot90 = float(hflip), float(vflip), float(rot90)
        self._rng = np.random.default_rng()

    def set_random_seed(self, seed: int) -> None:
        """Seed the generator used when no stream is handed in (items asked for by index alone)."""
        self._rng = np.random.default_rng(seed)

    def draw(self, rng: np.random.Generator, height: int, width: int) -> Augmentation:
        """Draw, in this order from ``rng``: crop row, crop column, hflip, vflip, turn, k."""
        size = self.crop_size
        if height < size or width < size:
            raise ValueError(f"image {width}x{height} is smaller than the {size}x{size} crop")
        top = int(rng.integers(0, height - size + 1))
        left = int(rng.integers(0, width - size + 1))
        hflip = bool(rng.random() < self.hflip)
        vflip = bool(rng.random() < self.vflip)
        turn = bool(rng.random() < self.rot90)
        k = int(rng.integers(0, 4))
        return Augmentation(top, left, hflip, vflip, k if turn else 0)

    def __call__(
        self, *, image: np.ndarray, sharp: np.ndarray, rng: np.random.Generator | None = None
    ) -> dict[str, np.ndarray]:
        """Albumentations' calling convention: ``{"image": blurry, "sharp": sharp}`` out."""
        augmentation = self.draw(self._rng if rng is None else rng, *image.shape[:2])
        return {
            "image": augmentation.apply(image, self.crop_size),
            "sharp": augmentation.apply(sharp, self.crop_size),
        }


PairTransform = PairedTrainTransform | A.Compose


def paired_train_transform(
    crop_size: int, hflip: float = 0.5, vflip: float = 0.0, rot90: float = 0.0
) -> PairedTrainTransform:
    """The training transform: see :class:`PairedTrainTransform`."""
    return PairedTrainTransform(crop_size, hflip=hflip, vflip=vflip, rot90=rot90)


def paired_eval_transform(center_crop: int | None = None) -> A.Compose | None:
    """Full frames for validation and test, or an optional centre crop for quick validation."""
    if center_crop is None:
        return None
    return A.Compose(
        [A.CenterCrop(height=center_crop, width=center_crop, pad_if_needed=True)],
        additional_targets={"sharp": "image"},
    )


def apply_pair(
    transform: PairTransform | None,
    blurry: np.ndarray,
    sharp: np.ndarray,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``transform`` to both images of a pair (identity when ``transform`` is None).

    ``rng``: the item's stream; a random training transform draws its choices from it (else
    from its own generator). Fixed transforms (the evaluation centre crop) draw nothing.
    """
    if transform is None:
        return blurry, sharp
    if isinstance(transform, PairedTrainTransform):
        out = transform(image=blurry, sharp=sharp, rng=rng)
    else:
        out = transform(image=blurry, sharp=sharp)
    return out["image"], out["sharp"]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """H x W x 3 array -> 3 x H x W float32 tensor in [0, 1] (contiguous).

    uint8 and uint16 images (as stored, e.g. crops of the decoded cache) are divided by 255 and
    65535 exactly as :func:`deblurlab.data.io.read_image` does, so both paths give equal floats.
    """
    return torch.from_numpy(to_float(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))))
