"""Callbacks: validation image grids and fixed test crops (the checkpoint callbacks live in
:mod:`deblurlab.lit.checkpointing`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from deblurlab.data.crops import TestCrops
from deblurlab.data.io import write_image
from deblurlab.quantize import to_uint8


def make_grid(rows: list[list[torch.Tensor]], pad: int = 4) -> np.ndarray:
    """Tile images (3 x H x W tensors in [0, 1]) into one H x W x 3 uint8 picture, row by row.

    Images of different sizes are placed top-left in equal cells on a white background.
    """
    cell_h = max(img.shape[1] for row in rows for img in row)
    cell_w = max(img.shape[2] for row in rows for img in row)
    ncols = max(len(row) for row in rows)
    grid = np.ones((len(rows) * (cell_h + pad) + pad, ncols * (cell_w + pad) + pad, 3), np.float32)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            y, x = pad + r * (cell_h + pad), pad + c * (cell_w + pad)
            arr = img.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
            grid[y : y + arr.shape[0], x : x + arr.shape[1]] = arr
    return to_uint8(grid)


class ImageGridLogger(pl.Callback):
    """After each validation, save (and send to W&B) a grid of blurry | output | sharp rows.

    The grid is written to ``<dirpath>/val_epoch<NNNN>.png`` and ``<dirpath>/val_latest.png``.
    """

    def __init__(self, dirpath: str, num_images: int = 4) -> None:
        self.dirpath = Path(dirpath)
        self.num_images = num_images
        self.rows: list[list[torch.Tensor]] = []
        self.last_path: Path | None = None

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rows = []

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.sanity_checking or not isinstance(outputs, dict) or "pred" not in outputs:
            return
        for i in range(batch["blur"].shape[0]):
            if len(self.rows) >= self.num_images:
                return
            self.rows.append([batch["blur"][i], outputs["pred"][i], batch["sharp"][i]])

    @rank_zero_only
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self.rows:
            return
        grid = make_grid(self.rows)
        path = self.dirpath / f"val_epoch{trainer.current_epoch:04d}.png"
        write_image(path, grid)
        write_image(self.dirpath / "val_latest.png", grid)
        self.last_path = path
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    key="val/samples",
                    images=[grid],
                    caption=["blurry | output | sharp"],
                    step=trainer.global_step,
                )


class TestCropSaver(pl.Callback):
    """After testing, save the same centre crop of the first test images (by name) as blurry,
    output and sharp PNGs plus an index (:mod:`deblurlab.data.crops`), for report.html.

    Under DDP each rank sees part of the test set; rank 0 writes the crops of its part.
    """

    def __init__(self, run_dir: str, num_images: int = 2, size: int = 256) -> None:
        self.run_dir = Path(run_dir)  # the crops go where deblurlab.runfiles puts them in it
        self.crops = TestCrops(num_images, size)

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.crops = TestCrops(self.crops.num_images, self.crops.size)

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if isinstance(outputs, dict) and "pred" in outputs:
            self.crops.add(batch["name"], batch["blur"], outputs["pred"], batch["sharp"])

    @rank_zero_only
    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.crops.write(self.run_dir)
