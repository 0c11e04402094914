"""Non-finite losses never reach the weights or ``best.ckpt``.

:class:`~deblurlab.lit.deblur_module.DeblurLitModule` returns no loss for a batch whose loss is
NaN or infinite (on any rank), so Lightning skips that optimizer step. :class:`NonFiniteGuard`
counts those skips, logs them (``train/nonfinite_skipped``), and after ``max_in_a_row`` in a row
stops the run with a one-line message naming the step and the batch's files. It also stops the
run at once when an optimizer step leaves NaN or inf in the network's weights (no later step can
repair them) and when a validation score is NaN (the network's outputs are not finite, e.g.
after a step with a huge learning rate: the weights are finite but every output overflows).
:func:`network_is_finite` is also what keeps such weights out of ``best.ckpt`` and ``last.ckpt``
(:mod:`deblurlab.lit.checkpointing`).
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn

from deblurlab.errors import DivergenceError

_ADVICE = "lower schedule.optimizer.lr or clip gradients (trainer.gradient_clip_val=1.0)"


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
        skipped = outputs is None or (isinstance(outputs, dict) and outputs.get("loss") is None)
        if not skipped:  # Lightning hands {} on when training_step returned None
            self.in_a_row = 0
            if not network_is_finite(pl_module):  # a finite loss, but the step overflowed
                raise DivergenceError(
                    f"training stopped: the weights hold NaN or inf after step "
                    f"{trainer.global_step} (epoch {trainer.current_epoch}, batch {batch_idx}, "
                    f"files {_names(batch)}); {_ADVICE}"
                )
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
                f"{_names(batch)}); {_ADVICE}; limit: callbacks.nonfinite.max_in_a_row"
            )

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        nan = [
            key
            for key, value in trainer.callback_metrics.items()
            if key.startswith("val/") and value.numel() == 1 and math.isnan(float(value))
        ]
        if nan:
            losses = f"{self.skipped} non-finite training loss{'es' if self.skipped != 1 else ''}"
            raise DivergenceError(
                f"training stopped: the validation after step {trainer.global_step} (epoch "
                f"{trainer.current_epoch}) scored NaN ({', '.join(sorted(nan))}): the network's "
                f"outputs are not finite ({losses} skipped so far); {_ADVICE}"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"in_a_row": self.in_a_row, "skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.in_a_row = int(state_dict.get("in_a_row", 0))
        self.skipped = int(state_dict.get("skipped", 0))


def network_is_finite(module: torch.nn.Module) -> bool:
    """True when the weights of ``module``'s network (``module.net`` when it has one, leaving
    out metric states such as the best score's ``-inf`` start) are all finite. One device sync."""
    net = getattr(module, "net", module)
    tensors = [t for t in (*net.parameters(), *net.buffers()) if t.is_floating_point()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
