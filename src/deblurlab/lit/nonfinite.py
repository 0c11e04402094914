"""Non-finite losses never reach the weights or ``best.ckpt``.

:class:`~deblurlab.lit.deblur_module.DeblurLitModule` returns no loss for a batch whose loss is
NaN or infinite (on any rank), so Lightning skips that optimizer step. :class:`NonFiniteGuard`
counts those skips, logs them (``train/nonfinite_skipped``), and after ``max_in_a_row`` in a row
stops the run with a one-line message naming the step and the batch's files.
:class:`BestCheckpoint` never saves a checkpoint whose monitored value, or whose weights, are not
finite.
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from deblurlab.errors import DivergenceError


def _names(batch: Any, limit: int = 4) -> str:
    names = list(batch.get("name", [])) if isinstance(batch, dict) else []
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(str(n) for n in names[:limit]) + more if names else "(unnamed batch)"


class NonFiniteGuard(pl.Callback):
    """Count skipped non-finite steps; stop after ``max_in_a_row`` consecutive ones.

    Args:
        max_in_a_row: consecutive non-finite losses after which the run stops (>= 1).
    """

    def __init__(self, max_in_a_row: int = 20) -> None:
        if max_in_a_row < 1:
            raise ValueError(f"max_in_a_row must be at least 1, got {max_in_a_row}")
        self.max_in_a_row = int(max_in_a_row)
        self.in_a_row = 0
        self.skipped = 0

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if outputs is not None:
            self.in_a_row = 0
            return
        self.in_a_row += 1
        self.skipped += 1
        pl_module.log("train/nonfinite_skipped", float(self.skipped), on_step=True, on_epoch=False)
        pl.utilities.rank_zero_warn(
            f"non-finite loss at step {trainer.global_step} (epoch {trainer.current_epoch}, "
            f"batch {batch_idx}: {_names(batch)}); step skipped "
            f"({self.in_a_row} in a row, {self.skipped} in all)"
        )
        if self.in_a_row >= self.max_in_a_row:
            raise DivergenceError(
                f"training stopped: {self.in_a_row} non-finite losses in a row, the last at step "
                f"{trainer.global_step} (epoch {trainer.current_epoch}, batch {batch_idx}, files "
                f"{_names(batch)}); lower schedule.optimizer.lr or clip gradients "
                "(trainer.gradient_clip_val=1.0); limit: callbacks.nonfinite.max_in_a_row"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"in_a_row": self.in_a_row, "skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.in_a_row = int(state_dict.get("in_a_row", 0))
        self.skipped = int(state_dict.get("skipped", 0))


def weights_are_finite(module: torch.nn.Module) -> bool:
    """True when every floating-point parameter and buffer of ``module`` is finite."""
    tensors = list(module.parameters()) + list(module.buffers())
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that skips a save when the monitored value or the weights are not finite
    (Lightning would rank a NaN score as the worst possible one and still save it first)."""

    def _save_topk_checkpoint(
        self, trainer: pl.Trainer, monitor_candidates: dict[str, Any]
    ) -> None:
        value = monitor_candidates.get(self.monitor) if self.monitor else None
        if value is not None and not math.isfinite(float(value)):
            return
        if not weights_are_finite(trainer.lightning_module):
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)
