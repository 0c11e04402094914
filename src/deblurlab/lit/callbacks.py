"""Callbacks: a progress bar that never waits for the device, validation image grids and fixed
test crops (the checkpoint callbacks live in :mod:`deblurlab.lit.checkpointing`)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from deblurlab.data.crops import TestCrops
from deblurlab.data.io import write_image
from deblurlab.lit.zoom import zoom_rows
from deblurlab.quantize import to_uint8

_now = time.monotonic  # the progress bar's clock (tests drive it)


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


class TimedProgressBar(TQDMProgressBar):
    """Lightning's bar, refreshed every ``refresh_seconds`` instead of every step; its numbers are
    those of the last logging step (``trainer.log_every_n_steps``), read when the loggers read
    them, so a step that logs nothing never waits for the device. Without a terminal (a SLURM log,
    a pipe) there is no bar: one plain line every ``line_seconds``, and one per epoch.

    Args:
        refresh_seconds: seconds between two redraws of the bar.
        line_seconds: seconds between two lines when stdout is not a terminal.
        lines: force plain lines (True) or the bar (False); None: lines unless stdout is a TTY.
        show: logged training values shown besides Lightning's ``prog_bar`` ones (a value logged
            with ``prog_bar=True`` in ``training_step`` is read back by Lightning every step).
    """

    def __init__(
        self,
        refresh_seconds: float = 1.0,
        line_seconds: float = 60.0,
        lines: bool | None = None,
        show: Sequence[str] = ("train/loss",),
    ) -> None:
        super().__init__(refresh_rate=1)
        self.show = tuple(show)
        self.refresh_seconds = float(refresh_seconds)
        self.line_seconds = float(line_seconds)
        self.lines = (
            (not sys.stdout.isatty() or "SLURM_JOB_ID" in os.environ) if lines is None else lines
        )
        self._shown: dict[str, Any] = {}
        self._next = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.lines:
            self.disable()  # no tqdm output; the lines below instead
        super().on_train_start(trainer, pl_module)
        self._next = _now() + (self.line_seconds if self.lines else 0.0)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer._logger_connector.should_update_logs:  # the loggers read the values now too
            self._shown = self.get_metrics(trainer, pl_module)
        now, n = _now(), batch_idx + 1
        if now < self._next:
            return
        if self.lines:
            self._next = now + self.line_seconds
            self._line(trainer, f"batch {n}/{trainer.num_training_batches}")
        elif self.train_progress_bar is not None:
            self._next = now + self.refresh_seconds
            self.train_progress_bar.n = n
            self.train_progress_bar.set_postfix(self._shown)  # redraws

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        shown = super().get_metrics(trainer, pl_module)
        logged = trainer.logged_metrics
        shown.update({k: float(logged[k]) for k in self.show if k in logged})
        return shown

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._shown = self.get_metrics(trainer, pl_module)
        if self.lines:
            self._line(trainer, "epoch done")
        else:
            super().on_train_epoch_end(trainer, pl_module)

    def _line(self, trainer: pl.Trainer, where: str) -> None:
        if not trainer.is_global_zero:
            return
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self._shown.items()
        )
        print(
            f"epoch {trainer.current_epoch} step {trainer.global_step} {where}: {shown}",
            flush=True,
        )


class ImageGridLogger(pl.Callback):
    """After each validation, save (and send to W&B) a grid of blurry | output | sharp rows.

    The grid is written to ``<dirpath>/val_epoch<NNNN>.png`` and ``<dirpath>/val_latest.png``;
    with ``zoom_window`` > 0 also ``<dirpath>/val_zoom_latest.png``: the window of that many
    pixels where the output gained most over the blurry input, enlarged ``zoom_scale`` times
    (:mod:`deblurlab.lit.zoom`), sent to W&B as ``val/zoom``.
    """

    def __init__(
        self, dirpath: str, num_images: int = 4, zoom_window: int = 32, zoom_scale: int = 6
    ) -> None:
        self.dirpath = Path(dirpath)
        self.num_images = num_images
        self.zoom_window, self.zoom_scale = int(zoom_window), int(zoom_scale)
        self.rows: list[list[torch.Tensor]] = []
        self.last_path: Path | None = None
        self.zoom_path: Path | None = None

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
        pictures = [("val/samples", grid, "blurry | output | sharp")]
        if self.zoom_window > 0:
            rows, caption = zoom_rows(self.rows, self.zoom_window, self.zoom_scale)
            zoom = make_grid(rows)
            self.zoom_path = self.dirpath / "val_zoom_latest.png"
            write_image(self.zoom_path, zoom)
            pictures.append(("val/zoom", zoom, caption))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for key, image, caption in pictures:
                    logger.log_image(
                        key=key, images=[image], caption=[caption], step=trainer.global_step
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
