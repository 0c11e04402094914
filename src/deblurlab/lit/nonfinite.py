"""Non-finite losses never reach the weights or a checkpoint, and no step waits for the device to
find out.

:class:`~deblurlab.lit.deblur_module.DeblurLitModule` turns a NaN or infinite loss into NaN
gradients, and :func:`skip_on_device` skips an optimizer step whose gradients are not finite on
the device (a fused optimizer's ``found_inf``, as a gradient scaler does): under DDP the gradients
are already averaged, so every rank takes the same decision with no extra all-reduce.
:class:`NonFiniteGuard` keeps the per-step flags on the device and reads them every
``check_every_n_steps`` steps, before every checkpoint write, before validation and at the end
(one host sync each time). It then warns about each skipped step, logs the count
(``train/nonfinite_skipped``), and stops the run with a one-line message naming the step and the
batch's files after ``max_in_a_row`` in a row (found up to ``check_every_n_steps`` steps late: the
skipped steps in between changed nothing). The same checks stop the run when the weights hold NaN
or inf (no later step can repair them; checked in one fused pass), and when a validation score
is NaN (the network's outputs are not finite, e.g. after a step with a huge learning rate: the
weights are finite but every output overflows). :func:`network_is_finite` also keeps such weights
out of ``best.ckpt`` and ``last.ckpt`` (:mod:`deblurlab.lit.checkpointing`).
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn

from deblurlab.errors import DivergenceError

_ADVICE = "lower schedule.optimizer.lr or clip gradients (trainer.gradient_clip_val=1.0)"


def _names(names: list[str] | None, limit: int = 4) -> str:
    if not names:
        return "(unnamed batch)"
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(str(n) for n in names[:limit]) + more


def _batch_names(batch: Any) -> list[str] | None:
    return [str(n) for n in batch.get("name", [])] if isinstance(batch, dict) else None


def weights_message(trainer: pl.Trainer, batch: Any = None, batch_idx: int | None = None) -> str:
    """The one line that stops a run whose weights hold NaN or inf."""
    where = f"epoch {trainer.current_epoch}"
    if batch_idx is not None:
        where += f", batch {batch_idx}, files {_names(_batch_names(batch))}"
    return (
        f"training stopped: the weights hold NaN or inf after step {trainer.global_step} "
        f"({where}); {_ADVICE}"
    )


def finite_flag(tensors: list[torch.Tensor]) -> torch.Tensor:
    """A device bool: every element of ``tensors`` is finite; no host sync. On CUDA one fused
    max-abs norm (``torch._foreach_norm``: NaN and inf propagate, a max cannot overflow); on the
    CPU, whose ``_foreach_norm`` goes tensor by tensor, plain sums: the fastest pass there."""
    if not tensors:
        return torch.tensor(True)
    if all(t.is_cuda for t in tensors):
        parts = list(torch._foreach_norm(tensors, math.inf))
    else:
        parts = [t.sum() for t in tensors]
    if len({p.dtype for p in parts}) > 1:
        parts = [p.float() for p in parts]
    return torch.stack(parts).isfinite().all()


def network_is_finite(module: torch.nn.Module) -> bool:
    """True when the weights of ``module``'s network (``module.net`` when it has one, leaving
    out metric states such as the best score's ``-inf`` start) are all finite. One device sync."""
    net = getattr(module, "net", module)
    tensors = [t.detach() for t in (*net.parameters(), *net.buffers()) if t.is_floating_point()]
    return bool(finite_flag(tensors))


def skip_on_device(trainer: pl.Trainer | None, optimizer: Any, finite: torch.Tensor) -> None:
    """Make the coming ``optimizer.step()`` a no-op when ``finite`` (a device bool) is False.

    Fused optimizers (deblurlab's default) read ``found_inf`` on the device: no host sync. With a
    gradient scaler (``16-mixed``) the scaler sets it from the same gradients. Other optimizers
    cannot skip on the device: their gradients are dropped after one host sync.
    """
    inner = getattr(optimizer, "optimizer", optimizer)
    if trainer is not None and getattr(trainer.precision_plugin, "scaler", None) is not None:
        return
    if inner.defaults.get("fused"):
        inner.found_inf = (~finite).to(torch.float32)
    elif not bool(finite):
        inner.zero_grad(set_to_none=True)


class NonFiniteGuard(pl.Callback):
    """Count skipped non-finite steps; stop after ``max_in_a_row`` consecutive ones, or when the
    weights are not finite.

    Args:
        max_in_a_row: consecutive non-finite losses after which the run stops (>= 1).
        check_every_n_steps: optimizer steps between two reads of the flags and the weights (one
            host sync each); they are also read before every checkpoint write and validation.
    """

    def __init__(self, max_in_a_row: int = 20, check_every_n_steps: int = 100) -> None:
        if max_in_a_row < 1 or check_every_n_steps < 1:
            raise ValueError(
                "max_in_a_row and check_every_n_steps must be at least 1, got "
                f"{max_in_a_row} and {check_every_n_steps}"
            )
        self.max_in_a_row = int(max_in_a_row)
        self.check_every_n_steps = int(check_every_n_steps)
        self.in_a_row = 0
        self.skipped = 0
        # per step since the last check: (finite flag on the device, step, epoch, batch, names)
        self._pending: list[tuple[torch.Tensor, int, int, int, list[str] | None]] = []

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        flag = getattr(pl_module, "step_finite", None)
        if flag is None:  # a module that returns no loss for a non-finite batch
            skipped = outputs is None or (isinstance(outputs, dict) and outputs.get("loss") is None)
            flag = torch.tensor(not skipped, device=pl_module.device)
        else:
            pl_module.step_finite = None
        entry = (flag, trainer.global_step, trainer.current_epoch, batch_idx, _batch_names(batch))
        self._pending.append(entry)
        if trainer.global_step % self.check_every_n_steps == 0:
            self.check(trainer, pl_module, batch, batch_idx, log=True)

    def check(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batch: Any = None,
        batch_idx: int | None = None,
        log: bool = False,
    ) -> None:
        """Read the pending flags and the weights (one host sync); warn, log, or stop the run."""
        pending, self._pending = self._pending, []
        flags = torch.stack([p[0].reshape(()) for p in pending]).tolist() if pending else []
        before = self.skipped
        for finite, (_, step, epoch, index, names) in zip(flags, pending, strict=True):
            if finite:
                self.in_a_row = 0
                continue
            self.in_a_row += 1
            self.skipped += 1
            pl.utilities.rank_zero_warn(
                f"non-finite loss at step {step} (epoch {epoch}, batch {index}: {_names(names)}); "
                f"step skipped ({self.in_a_row} in a row, {self.skipped} in all)"
            )
            if self.in_a_row >= self.max_in_a_row:
                raise DivergenceError(
                    f"training stopped: {self.in_a_row} non-finite losses in a row, the last at "
                    f"step {step} (epoch {epoch}, batch {index}, files {_names(names)}); "
                    f"{_ADVICE}; limit: callbacks.nonfinite.max_in_a_row"
                )
        if log and self.skipped != before:
            pl_module.log(
                "train/nonfinite_skipped", float(self.skipped), on_step=True, on_epoch=False
            )
        if not network_is_finite(pl_module):
            raise DivergenceError(weights_message(trainer, batch, batch_idx))

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == TrainerFn.FITTING:
            self.check(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer, pl_module)

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
