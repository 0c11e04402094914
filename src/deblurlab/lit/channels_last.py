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


def channels_last_pays(precision: str, device_type: str = "cpu") -> bool:
    """Whether training in channels_last is expected to pay at this Trainer precision and device.

    On CUDA always: cuDNN's tensor-core convolutions (TF32, bf16, fp16) run NHWC and otherwise
    transpose every activation. On a CPU only with 16-bit autocast (``bf16-mixed``,
    ``16-mixed``), where oneDNN's bf16/AMX kernels want it; in fp32 the layout measured 0.82x
    (slower) for a MIMO-UNet training step on this project's AVX2 CPU (``deblurlab-bench``'s
    training table), so fp32 CPU training keeps NCHW (no AMX machine has been measured).
    """
    return device_type == "cuda" or "16" in str(precision)


class ChannelsLast(pl.Callback):
    """Run the LightningModule's networks and batches in channels_last (N x H x W x C in memory).

    The parameters keep their values (only their strides change), so checkpoints load into any
    network; results equal the NCHW ones to float rounding. ``deblurlab-bench`` shows what the
    layout gains on a machine.

    Args:
        enabled: True or False, or ``"auto"`` (the default config): on when the Trainer's
            precision is a 16-bit one or the device a GPU (see :func:`channels_last_pays`).
    """

    def __init__(self, enabled: bool | str = True) -> None:
        if enabled not in (True, False, "auto"):
            raise ValueError(f"enabled must be true, false or auto, got {enabled!r}")
        self.enabled = enabled
        self.active = enabled is True  # what this fit/test does; "auto" is resolved in setup

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        auto = self.enabled == "auto"
        device = trainer.strategy.root_device.type
        self.active = channels_last_pays(trainer.precision, device) if auto else bool(self.enabled)
        if self.active:
            pl_module.to(memory_format=torch.channels_last)

    def on_train_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int) -> None:
        if self.active:
            to_channels_last(batch)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if self.active:
            to_channels_last(batch)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if self.active:
            to_channels_last(batch)
