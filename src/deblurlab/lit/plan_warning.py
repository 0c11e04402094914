"""Say at the start when a CPU run's plan will take longer than a threshold (e.g. the papers'
3000 epochs started without ``trainer=gpu``), with the command that moves or shortens it.

The estimate comes from timing the run's own first training batches (data loading included) and
multiplying by the batches its plan still has; the run goes on either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.accelerators import CPUAccelerator
from pytorch_lightning.callbacks import Timer

log = logging.getLogger("deblurlab")


def human_duration(seconds: float) -> str:
    """``5400`` -> ``1.5 hours``, ``2 * 86400`` -> ``2.0 days`` (minutes below an hour)."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def plan_line(seconds: float, batches: int, per_batch: float, timed: int) -> str:
    """The one line a long CPU plan prints."""
    return (
        f"plan: about {human_duration(seconds)} of training on the CPU ({batches:,} batches left "
        f"at {per_batch:.3g} s each, timed over the first {timed}; validation comes on top): "
        "move it to a GPU with trainer=gpu, or shorten it with debug=smoke or "
        "schedule.max_epochs=<n>; this run goes on"
    )


class PlanWarning(pl.Callback):
    """Warn once, early in a CPU fit, when the training still planned exceeds ``threshold_hours``.

    The first training batch is left out of the timing (it pays one-off costs: worker start-up,
    allocator warm-up); the next ``timed_batches`` are timed, or fewer when the first epoch is
    shorter. A ``max_time`` limit of the Trainer caps the estimate. GPU runs are not checked
    (the papers' schedules are meant for them).

    Args:
        threshold_hours: warn when the estimate exceeds this many hours.
        timed_batches: how many batches after the first to time.
        clock: seconds since an arbitrary origin (``time.perf_counter``; tests pass a fake one).
    """

    def __init__(
        self,
        threshold_hours: float = 1.0,
        timed_batches: int = 2,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if threshold_hours < 0 or timed_batches < 1:
            raise ValueError(
                "callbacks.plan_warning: threshold_hours must be >= 0 and timed_batches >= 1, "
                f"got {threshold_hours} and {timed_batches}"
            )
        self.threshold_s = threshold_hours * 3600.0
        self.timed_batches = timed_batches
        self.clock = clock
        self.warned: str | None = None  # the line printed, if any
        self.warned_validation: str | None = None  # ... about a run that never validates
        self._start: float | None = None
        self._timed = 0
        self._done = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._timed = None, 0
        self._done = not isinstance(trainer.accelerator, CPUAccelerator)
        line = never_validates(trainer)
        if line is not None and trainer.is_global_zero:
            self.warned_validation = line
            log.warning(line)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._done:
            return
        now = self.clock()
        if self._start is None:
            self._start = now  # after the first batch: the timing starts here
            return
        self._timed += 1
        if self._timed >= self.timed_batches:
            self._estimate(trainer, now)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._interrupted(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._interrupted(trainer)

    def _interrupted(self, trainer: pl.Trainer) -> None:
        """Validation or an epoch end comes before the timing is complete: estimate from the
        batches timed so far, or, with none timed yet, start again after the next batch (so the
        validation's time is never counted as a training batch's)."""
        if self._done or trainer.sanity_checking:
            return
        if self._timed > 0:
            self._estimate(trainer, self.clock())
        else:
            self._start = None

    def _estimate(self, trainer: pl.Trainer, now: float) -> None:
        self._done = True
        assert self._start is not None
        per_batch = (now - self._start) / self._timed
        accumulate = max(1, int(getattr(trainer, "accumulate_grad_batches", 1) or 1))
        total = trainer.estimated_stepping_batches * accumulate
        if total == float("inf"):
            return  # no end planned (max_epochs=-1 without max_steps): nothing to estimate
        left = max(0, int(total) - trainer.global_step * accumulate)
        seconds = left * per_batch
        limit = _max_time_seconds(trainer)
        if limit is not None:
            seconds = min(seconds, limit)
        if seconds > self.threshold_s and trainer.is_global_zero:
            self.warned = plan_line(seconds, left, per_batch, self._timed)
            log.warning(self.warned)


def never_validates(trainer: pl.Trainer) -> str | None:
    """One line when the run's epochs end before its first validation (a data set's cadence,
    e.g. GoPro's 100 epochs, above a shortened schedule): no best checkpoint would be chosen."""
    every, epochs = trainer.check_val_every_n_epoch, trainer.max_epochs
    if not every or not epochs or epochs < 0 or every <= epochs or not trainer.limit_val_batches:
        return None
    return (
        f"trainer.check_val_every_n_epoch={every} > schedule.max_epochs={epochs}: this run never "
        f"validates, so no best checkpoint is chosen; set trainer.check_val_every_n_epoch=<n> "
        f"(at most {epochs})"
    )


def _max_time_seconds(trainer: pl.Trainer) -> float | None:
    """What is left of the Trainer's ``max_time``, in seconds (None when it has none)."""
    for callback in trainer.callbacks:
        if isinstance(callback, Timer):
            remaining = callback.time_remaining()
            return float(remaining) if remaining is not None else None
    return None
