"""Everything a training run does with checkpoints: which ones are written, what they carry, and
how they reach the disk.

- :class:`BestCheckpoint`: the best-scoring checkpoints, never one whose monitored value or
  weights are not finite (Lightning would rank a NaN score as the worst one and still save it);
- :class:`LastCheckpoint`: ``last.ckpt`` on a timer, on SIGTERM/SIGUSR1 and at the end, for
  ``resume=``, written by a background thread from a host copy of the state;
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
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_utilities.core.apply_func import apply_to_collection
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_info

from deblurlab.checkpoint import CONFIG_KEY, read_checkpoint, write_checkpoint
from deblurlab.errors import DivergenceError
from deblurlab.lit.nonfinite import NonFiniteGuard, network_is_finite, weights_message

STATE_KEY = "deblurlab_resume"
_now = time.monotonic  # the timer's clock (tests drive it)


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
    # the epoch started last (current_epoch already counts a finished one at on_train_end)
    epoch = max(trainer.fit_loop.epoch_progress.current.ready - 1, 0)
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
    """Write ``<dirpath>/<filename>.ckpt`` every ``every_n_minutes``, on SIGTERM/SIGUSR1 and at the
    end of training, for ``resume=<run dir>``.

    A write costs the training loop one copy of the state to host memory at a step boundary (and
    one fused check that the weights are finite); a background thread writes that copy (temporary
    file in the same folder, fsync, rename), so steps go on while it is written. Never two writes
    at once: a write that falls due while one is in flight waits for the next boundary. A signal
    sets a flag; the next step boundary writes the file (waiting for it) and sets
    ``trainer.should_stop``, so the run ends cleanly with :attr:`signal_received` set. Under DDP
    only rank 0 copies and writes; the other ranks never wait for it.

    Args:
        dirpath: the checkpoint folder.
        filename: file name without ``.ckpt``.
        every_n_minutes: wall-clock minutes between two writes (0: none on a timer).
        every_n_train_steps: also write every N optimizer steps (0: never on a step count).
        signals: signal names that write the file and stop the run.
        signal_check_every_n_steps: under DDP, the ranks agree on a signal (one all-reduce) every
            N steps, so that all stop at the same step; a single process acts on the next step.
    """

    def __init__(
        self,
        dirpath: str,
        filename: str = "last",
        every_n_minutes: float = 10.0,
        every_n_train_steps: int = 0,
        signals: Sequence[str] = ("SIGTERM", "SIGUSR1"),
        signal_check_every_n_steps: int = 10,
    ) -> None:
        if every_n_train_steps < 0 or every_n_minutes < 0:
            raise ValueError(
                "every_n_train_steps and every_n_minutes must be >= 0 (0: off), got "
                f"{every_n_train_steps} and {every_n_minutes}"
            )
        unknown = [name for name in signals if not isinstance(getattr(signal, name, None), int)]
        if unknown:
            raise ValueError(f"signals: unknown signal names {unknown}")
        self.dirpath = Path(dirpath)
        self.filename = filename
        self.every_n_minutes = float(every_n_minutes)
        self.every_n_train_steps = int(every_n_train_steps)
        self.signals = tuple(signals)
        self.signal_check_every_n_steps = max(1, int(signal_check_every_n_steps))
        self.signal_received: int | None = None  # the signal that stopped the run, if one did
        self._flag: int | None = None  # set by the handler, acted on at the next step boundary
        self._handlers: dict[int, Any] = {}
        self._last_step = -1
        self._due = math.inf
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def path(self) -> Path:
        return self.dirpath / f"{self.filename}.ckpt"

    # --- signals --------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        self._flag = signum  # only a flag: saving from inside a handler could interrupt a write

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._due = _now() + 60 * self.every_n_minutes if self.every_n_minutes else math.inf
        self._flag = None
        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be set from the main thread
        for name in self.signals:
            signum = getattr(signal, name)
            self._handlers[signum] = signal.signal(signum, self._on_signal)

    def _restore_handlers(self) -> None:
        # only where ours is still in place: a handler set after ours (and its own restore,
        # then Lightning's at the end of the fit) must not be undone
        for signum, handler in self._handlers.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._handlers = {}

    def _signal_pending(self, trainer: pl.Trainer) -> bool:
        if trainer.world_size <= 1:
            return self._flag is not None
        if trainer.global_step % self.signal_check_every_n_steps:
            return False
        return bool(trainer.strategy.reduce_boolean_decision(self._flag is not None, all=False))

    # --- writing --------------------------------------------------------------------------------
    def wait(self) -> None:
        """Wait for the write in flight, if any; raise what it raised."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _write(self, state: dict[str, Any], ready: Any) -> None:
        try:
            if ready is not None:
                ready.synchronize()  # the device-to-host copies have landed
            write_checkpoint(state, self.path)
        except BaseException as exc:  # re-raised in the training loop by wait()
            self._error = exc

    def _start(self, trainer: pl.Trainer, batch: Any = None, batch_idx: int | None = None) -> bool:
        """Copy the state to host memory and start writing it; False when nothing was started."""
        if trainer.sanity_checking or trainer.fast_dev_run:
            return False
        self._last_step = trainer.global_step
        if self.every_n_minutes:
            self._due = _now() + 60 * self.every_n_minutes
        if not trainer.is_global_zero:
            return False
        check_before_write(trainer, batch, batch_idx)  # raises on NaN/inf: the old file stays
        state = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        state, ready = host_copy(state)
        self._thread = threading.Thread(
            target=self._write, args=(state, ready), name="deblurlab-last-ckpt", daemon=False
        )
        self._thread.start()
        return True

    def save_now(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Path:
        """Write the file now and return its path, waiting for any write in flight and for this
        one (rank 0 writes; other ranks return at once). Raises
        :class:`~deblurlab.errors.DivergenceError` when the weights are not finite (the file keeps
        the last finite state)."""
        self.wait()
        if self._start(trainer):
            self.wait()
        return self.path

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._error is not None:
            self.wait()
        # the last batch of an epoch is no place for a write: its validation, epoch-end hooks
        # and LR step are still to come (on_train_end or the next boundary writes instead)
        last_batch = batch_idx + 1 >= trainer.num_training_batches
        if self._signal_pending(trainer):
            self.signal_received = self._flag or signal.SIGTERM
            trainer.should_stop = True
            if not last_batch:
                self.save_now(trainer, pl_module)
            rank_zero_info(
                f"signal {signal.Signals(self.signal_received).name}: writing {self.path} at "
                f"step {trainer.global_step} and stopping"
            )
            return
        step, n = trainer.global_step, self.every_n_train_steps
        due = (n and step % n == 0 and step != self._last_step) or _now() >= self._due
        if not due or last_batch or (self._thread is not None and self._thread.is_alive()):
            return  # a write in flight: this one waits for the next boundary
        self.wait()
        self._start(trainer, batch, batch_idx)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.wait()
        if trainer.global_step != self._last_step:
            self._start(trainer)
        self.wait()
        self._restore_handlers()  # before Lightning puts back the handlers it found

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if self._thread is not None:
            self._thread.join()  # the write in flight completes; no new one after an error
            self._thread = None
        self._restore_handlers()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._restore_handlers()


def host_copy(state: Any) -> tuple[Any, Any]:
    """``state`` with every tensor copied to host memory (a copy even of CPU tensors: training
    goes on changing them in place), and a CUDA event to wait on before reading the copies (None
    on the CPU). Device tensors go to pinned memory without blocking the training loop."""
    event = None

    def copy(t: torch.Tensor) -> torch.Tensor:
        nonlocal event
        t = t.detach()
        if t.device.type == "cuda":
            host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            host.copy_(t, non_blocking=True)
            event = event or torch.cuda.Event()
            return host
        return t.to("cpu", copy=True)

    copied = apply_to_collection(state, torch.Tensor, copy)
    if event is not None:
        event.record()
    return copied, event


def check_before_write(
    trainer: pl.Trainer, batch: Any = None, batch_idx: int | None = None
) -> None:
    """Before a checkpoint write: let :class:`~deblurlab.lit.nonfinite.NonFiniteGuard` catch up
    on the skipped steps and stop the run when the weights are not finite (one device sync)."""
    for callback in trainer.callbacks:
        if isinstance(callback, NonFiniteGuard):
            callback.check(trainer, trainer.lightning_module, batch, batch_idx)
            return
    if not network_is_finite(trainer.lightning_module):
        raise DivergenceError(weights_message(trainer, batch, batch_idx))


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that skips a save when the monitored value or the weights are not finite
    (Lightning would rank a NaN score as the worst possible one and still save it first), and
    saves only after a validation (``save_on_train_epoch_end`` defaults to False: Lightning would
    otherwise also rank the stale score at the end of epochs that ran no validation)."""

    def __init__(self, *args: Any, save_on_train_epoch_end: bool | None = False, **kwargs: Any):
        super().__init__(*args, save_on_train_epoch_end=save_on_train_epoch_end, **kwargs)

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
