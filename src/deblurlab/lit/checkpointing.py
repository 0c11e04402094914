"""Everything a training run does with checkpoints: which ones are written, what they carry, and
how they reach the disk.

- :class:`BestCheckpoint`: the best-scoring checkpoints, never one whose monitored value or
  weights are not finite (Lightning would rank a NaN score as the worst one and still save it);
- :class:`LastCheckpoint`: ``last.ckpt`` every ``every_n_train_steps`` optimizer steps and at the
  end of every epoch (after that epoch's validation), for ``resume=``;
- :class:`ResumeState`: what an exact resume needs besides Lightning's own state (weights,
  optimizer, LR scheduler, loop counters, callback states): the random generators of this process
  (torch, CUDA, numpy, python; dropout draws from torch's) and the position inside the epoch,
  which it hands to the DataModule (``resume_at(epoch, batches)``) so the training loader skips
  what was consumed. The data's own randomness needs no state: every training item is a function
  of (seed, epoch, index), see :mod:`deblurlab.data.resumable`;
- :class:`EmbedConfig`: the resolved run config in every checkpoint, so evaluation and prediction
  need nothing but the ``.ckpt`` file;
- :class:`AtomicCheckpointIO`: every checkpoint written to a temporary file in its own folder,
  fsynced and renamed over the old one (Lightning's own writer may stream into another
  filesystem's temp folder and move it, a copy in place that a kill truncates); read with
  ``weights_only=True`` whatever the caller or the environment asks for.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_warn

from deblurlab.checkpoint import CONFIG_KEY, read_checkpoint, write_checkpoint
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


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that skips a save when the monitored value or the weights are not finite
    (Lightning would rank a NaN score as the worst possible one and still save it first)."""

    def _save_topk_checkpoint(
        self, trainer: pl.Trainer, monitor_candidates: dict[str, Any]
    ) -> None:
        value = monitor_candidates.get(self.monitor) if self.monitor else None
        if value is not None and not math.isfinite(float(value)):
            return
        if not network_is_finite(trainer.lightning_module):
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)


class EmbedConfig(pl.Callback):
    """Store the resolved run configuration in every checkpoint (under
    :data:`deblurlab.checkpoint.CONFIG_KEY`), so evaluation and prediction need nothing but the
    ``.ckpt`` file."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = self.config


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning CheckpointIO: atomic local writes, ``weights_only=True`` reads."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        write_checkpoint(checkpoint, path)

    def load_checkpoint(
        self, path: str | Path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        # weights_only is True whatever the caller or the environment asks for
        return read_checkpoint(path)
