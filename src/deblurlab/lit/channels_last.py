"""Train and validate in the channels_last memory format (a callback, so the module stays plain)."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch


def to_channels_last(batch: Any) -> None:
    """Convert the 4-D float tensors of a batch dict to channels_last, in place."""
    if isinstance(batch, dict):
        for key, value in batch.items():
            if isinstance(value, torch.Tensor) and value.ndim == 4 and value.is_floating_point():
                batch[key] = value.contiguous(memory_format=torch.channels_last)


class ChannelsLast(pl.Callback):
    """Run the LightningModule's networks and batches in channels_last (N x H x W x C in memory).

    The parameters keep their values (only their strides change), so checkpoints load into any
    network; results equal the NCHW ones to float rounding. oneDNN convolutions on CPUs and
    tensor cores on GPUs prefer this layout; ``deblurlab-bench`` shows what it gains on a machine.

    Args:
        enabled: False turns the callback into a no-op (``callbacks.channels_last.enabled=false``).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.enabled:
            pl_module.to(memory_format=torch.channels_last)

    def on_train_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int) -> None:
        if self.enabled:
            to_channels_last(batch)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if self.enabled:
            to_channels_last(batch)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if self.enabled:
            to_channels_last(batch)
