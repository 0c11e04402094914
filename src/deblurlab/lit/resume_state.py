"""What a checkpoint must carry, besides Lightning's own state, for an exact resume; and when
``last.ckpt`` is written.

Lightning restores the weights, optimizer, LR scheduler, loop counters (epoch, step, batches of
the current epoch) and callback states (the best score so far). :class:`ResumeState` adds the
random generators of this process (torch, CUDA, numpy, python; dropout draws from torch's) and
the position inside the epoch, which it hands to the DataModule (``resume_at(epoch, batches)``)
so the training loader skips what was consumed. The data's own randomness needs no state: every
training item is a function of (seed, epoch, index), see :mod:`deblurlab.data.resumable`.

:class:`LastCheckpoint` writes ``last.ckpt`` every ``every_n_train_steps`` optimizer steps and at
the end of every epoch (after that epoch's validation).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_warn

from deblurlab.lit.nonfinite import network_is_finite

STATE_KEY = "deblurlab_resume"


def rng_states() -> dict[str, Any]:
    """The global random generators of this process."""
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _plain_numpy_state(state: Any) -> dict[str, Any]:
    """numpy's state tuple as tensors and plain values (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = state
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _plain_python_state(state: Any) -> dict[str, Any]:
    version, internal, gauss = state
    return {"version": int(version), "internal": list(internal), "gauss": gauss}


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`rng_states` saved (stored in plain form)."""
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    p = states["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def data_position(trainer: pl.Trainer) -> tuple[int, int]:
    """(epoch, training batches of it already consumed) at a checkpoint; a finished epoch counts
    as the start of the next one."""
    epoch = trainer.current_epoch
    done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    total = trainer.num_training_batches
    if isinstance(total, int | float) and done >= total:
        return epoch + 1, 0
    return epoch, int(done)


class ResumeState(pl.Callback):
    """Save the random generators and the position inside the epoch; restore them on resume."""

    def __init__(self) -> None:
        self._pending_rng: dict[str, Any] | None = None

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        states = rng_states()
        plain = {
            "torch": states["torch"],
            "numpy": _plain_numpy_state(states["numpy"]),
            "python": _plain_python_state(states["python"]),
        }
        if "cuda" in states:
            plain["cuda"] = states["cuda"]
        epoch, batches = data_position(trainer)
        checkpoint[STATE_KEY] = {"rng": plain, "epoch": epoch, "batches": batches}

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        state = checkpoint.get(STATE_KEY)
        if not state:
            return
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "resume_at"):
            datamodule.resume_at(state["epoch"], state["batches"])
        self._pending_rng = state["rng"]

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after the loaders are built and the sanity check ran: the next draw is the next step's
        if self._pending_rng is not None:
            set_rng_states(self._pending_rng)
            self._pending_rng = None


class LastCheckpoint(pl.Callback):
    """Write ``<dirpath>/<filename>.ckpt`` every ``every_n_train_steps`` steps and at the end of
    every training epoch (after its validation), for ``resume=<run dir>``.

    Args:
        dirpath: the checkpoint folder.
        filename: file name without ``.ckpt``.
        every_n_train_steps: optimizer steps between two writes inside an epoch (0: epoch ends
            only). A GoPro epoch at batch size 4 is 526 steps; the default 100 loses at most 100
            steps to a kill, for a few writes per epoch.
    """

    def __init__(
        self, dirpath: str, filename: str = "last", every_n_train_steps: int = 100
    ) -> None:
        if every_n_train_steps < 0:
            raise ValueError(
                f"every_n_train_steps must be >= 0 (0: epoch ends only), got {every_n_train_steps}"
            )
        self.dirpath = Path(dirpath)
        self.filename = filename
        self.every_n_train_steps = int(every_n_train_steps)
        self._last_step = -1

    @property
    def path(self) -> Path:
        return self.dirpath / f"{self.filename}.ckpt"

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        if not network_is_finite(trainer.lightning_module):  # keep the last good one
            rank_zero_warn(f"{self.path} not written: the weights hold NaN or inf")
            return
        trainer.save_checkpoint(self.path)
        self._last_step = trainer.global_step

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        n = self.every_n_train_steps
        step = trainer.global_step
        if not n or step == self._last_step or step % n:
            return
        if batch_idx + 1 >= trainer.num_training_batches:
            return  # the epoch's end (after validation) writes it
        self._save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)
