"""Fixed crops of test images (blurry | output | sharp), saved beside a run for side-by-side looks.

Every run that scores a test set (``deblurlab-train``'s test step, ``deblurlab-eval``) keeps the
same crop of the same images: the ``num_images`` test images whose names sort first, each cut at
its centre to ``size`` x ``size`` pixels (smaller images whole). Two runs on the same test set
therefore save the same blurry and sharp crops, and their output crops can be compared by eye
(``deblurlab-report`` lays them out in ``report.html``).

Written to ``<run>/images/test_crops/``: ``<k>_<name>_{blurry,output,sharp}.png`` (8-bit, rounded
half up) and ``crops.json``, the index (per image: name, crop box, the three file names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblurlab.atomic import write_json
from deblurlab.data.io import write_image
from deblurlab.quantize import to_uint8

CROPS_DIR = Path("images") / "test_crops"  # inside a run folder
INDEX = "crops.json"
KINDS = ("blurry", "output", "sharp")


def centre_box(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the centred ``size`` x ``size`` crop (clipped)."""
    h, w = min(size, height), min(size, width)
    return (height - h) // 2, (width - w) // 2, h, w


def _file_stem(index: int, name: str) -> str:
    return f"{index}_" + re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).with_suffix("").as_posix())


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

    def write(self, folder: str | Path) -> list[dict[str, Any]]:
        """Write the kept crops and the index into ``folder``; returns the index entries."""
        folder = Path(folder)
        entries = []
        for index, name in enumerate(sorted(self.kept)):
            box, images = self.kept[name]
            stem = _file_stem(index, name)
            files = {kind: f"{stem}_{kind}.png" for kind in KINDS}
            for kind, image in zip(KINDS, images, strict=True):
                write_image(folder / files[kind], image)
            entries.append({"name": name, "box": list(box), **files})
        if entries:
            write_json(folder / INDEX, {"size": self.size, "crops": entries})
        return entries
