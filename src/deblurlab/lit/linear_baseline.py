"""Score the best single linear filter on the test images beside the network.

Before testing, the filter (:mod:`deblurlab.metrics.linear_filter`) is fitted to a few training
batches, then applied to each test image and scored under the run's protocol like the network's
output. The test logs ``test/linear_filter_psnr``, so the summary can say how far the network got
beyond anything a fixed filter does.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from deblurlab.metrics import batch_scores
from deblurlab.metrics.linear_filter import LinearFilter, LinearFilterFit

KEY = "test/linear_filter_psnr"


def _unit_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


class LinearFilterBaseline(pl.Callback):
    """Fits a ``size`` x ``size`` filter on ``fit_batches`` training batches once, before the
    first test, and logs its mean test PSNR as ``test/linear_filter_psnr``.

    Args:
        size: the kernel's side (odd).
        fit_batches: training batches the filter is fitted to.
    """

    def __init__(self, size: int = 15, fit_batches: int = 50) -> None:
        self.size, self.fit_batches = int(size), int(fit_batches)
        self.filter: LinearFilter | None = None
        self._sum = 0.0
        self._count = 0

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sum, self._count = 0.0, 0
        if self.filter is not None:
            return
        datamodule = trainer.datamodule
        datamodule.setup("fit")
        fit = LinearFilterFit(self.size)
        for i, batch in enumerate(datamodule.train_dataloader()):
            if i >= self.fit_batches:
                break
            fit.add(_unit_float(batch["blur"]), _unit_float(batch["sharp"]))
        self.filter = fit.solve()

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.filter is None:
            return
        blur, sharp = _unit_float(batch["blur"]).cpu(), _unit_float(batch["sharp"]).cpu()
        scores = batch_scores(self.filter(blur), sharp, getattr(pl_module, "protocol", "gopro"))
        self._sum += float(scores["psnr"].sum())
        self._count += len(scores["psnr"])

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._count:
            pl_module.log(KEY, self._sum / self._count, sync_dist=True)
