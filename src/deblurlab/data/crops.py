"""Fixed crops of test images (blurry | output | sharp), saved beside a run for side-by-side looks.

Every run that scores a test set (``deblurlab-train``'s test step, ``deblurlab-eval``) keeps the
same crop of the same images: the ``num_images`` test images whose names sort first, each cut at
its centre to ``size`` x ``size`` pixels (smaller images whole). Two runs on the same test set
therefore save the same blurry and sharp crops, and their output crops can be compared by eye
(``deblurlab-report`` lays them out in ``report.html``).

The folder, the file names and the index are :mod:`deblurlab.runfiles`'s (:class:`CropIndex`);
the PNGs are 8-bit, rounded half up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deblurlab.data.io import write_image
from deblurlab.quantize import to_uint8
from deblurlab.runfiles import CROP_KINDS, CropEntry, CropIndex, RunFolder


def centre_box(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the centred ``size`` x ``size`` crop (clipped)."""
    h, w = min(size, height), min(size, width)
    return (height - h) // 2, (width - w) // 2, h, w


class TestCrops:
    """Collects the crops of the test images whose names sort first, then writes them.

    ``add`` takes batches in any order (the kept images do not depend on batch order or size).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, num_images: int = 2, size: int = 256) -> None:
        if num_images < 0 or size < 1:
            raise ValueError(
                f"test crops need num_images >= 0 and size >= 1, got {num_images}, {size}"
            )
        self.num_images = num_images
        self.size = size
        self.kept: dict[str, tuple[tuple[int, int, int, int], list[np.ndarray]]] = {}

    def add(
        self, names: list[str], blurry: torch.Tensor, output: torch.Tensor, sharp: torch.Tensor
    ) -> None:
        """A batch: image names and B x 3 x H x W tensors in [0, 1] (the output unrounded)."""
        if self.num_images == 0:
            return
        for i, name in enumerate(names):
            if len(self.kept) >= self.num_images and name >= max(self.kept):
                continue
            top, left, h, w = box = centre_box(blurry.shape[-2], blurry.shape[-1], self.size)
            self.kept[name] = (
                box,
                [
                    to_uint8(t[i, :, top : top + h, left : left + w].permute(1, 2, 0))
                    for t in (blurry, output, sharp)
                ],
            )
            if len(self.kept) > self.num_images:
                del self.kept[max(self.kept)]

    def write(self, run_dir: str | Path) -> CropIndex:
        """Write the kept crops and their index into the run folder ``run_dir``; returns the
        index (no index file when nothing was kept)."""
        folder = RunFolder(Path(run_dir)).crops_dir
        index = CropIndex(self.size, [])
        for k, name in enumerate(sorted(self.kept)):
            box, images = self.kept[name]
            entry = CropEntry.named(k, name, box)
            for kind, image in zip(CROP_KINDS, images, strict=True):
                write_image(folder / entry.file(kind), image)
            index.crops.append(entry)
        if index.crops:
            index.write(Path(run_dir))
        return index
