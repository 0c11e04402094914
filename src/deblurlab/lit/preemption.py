"""Preemption and time limits on SLURM: one mechanism, deblurlab's own.

A SLURM job is told to stop in one of two ways:

- ``SIGTERM``: the job is being preempted, requeued (``scontrol requeue``) or cancelled. SLURM
  itself puts a preempted or requeued job back in the queue; the job only has to save and leave
  before SIGKILL follows (``KillWait``, 30 s by default).
- ``SIGUSR1``: the job's time limit is near (``--signal=USR1@<seconds>``; the SLURM launcher asks
  for it, ``hydra.launcher.signal_delay_s`` seconds before the limit). Nobody requeues a job that
  times out, so the job requeues itself (``scontrol requeue``) once it has saved.

:class:`LastCheckpoint <deblurlab.lit.checkpointing.LastCheckpoint>` writes ``last.ckpt`` at the
next step boundary after either signal and stops the fit; :class:`SlurmRequeue` records which
signal came, requeues the job when the signal was the time-limit warning, and ends the process
(exit status 128 + signal) instead of letting the task go on to validate and test a half-trained
network. The requeued job runs the same command in the same run folder, which continues the run
from ``last.ckpt`` in the same W&B run (:mod:`deblurlab.run.resume`).

Lightning's own SLURM handling (``SLURMEnvironment(auto_requeue=True)``: an ``hpc_ckpt_*.ckpt``
written from inside the signal handler, mid-step, then requeue) and submitit's (requeue on its
USR2 signal, after calling the launcher's ``checkpoint``) are switched off:
:func:`cluster_plugins` and :class:`deblurlab.run.slurm.SlurmLauncher`. Only the checkpoint written
at a step boundary resumes exactly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from lightning_fabric.plugins.environments import SLURMEnvironment

log = logging.getLogger("deblurlab")

# The signals that ask a job to stop: preemption/requeue/cancel, and the time-limit warning.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
TIME_LIMIT_SIGNAL = signal.SIGUSR1

_received: list[int] = []  # the stop signals this process received, in order
_requeued: list[str] = []  # the jobs this process requeued


def received_signal() -> int | None:
    """The first stop signal this process received (``signal.SIGTERM``/``SIGUSR1``), or None."""
    return _received[0] if _received else None


def _record(signum: int, frame: FrameType | None) -> None:
    if signum not in _received:
        _received.append(signum)


def record_stop_signals() -> None:
    """From now on, a stop signal is recorded instead of ending the process (its default action):
    a job signalled while it is still starting leaves at the start of training instead of dying
    without a word. Only the main thread can set signal handlers; elsewhere nothing changes."""
    for signum in STOP_SIGNALS:
        try:
            signal.signal(signum, _record)
        except ValueError:  # not the main thread
            return


def in_slurm_job() -> bool:
    """Whether this process is a task of a SLURM batch job (not an interactive allocation)."""
    return "SLURM_JOB_ID" in os.environ and SLURMEnvironment.detect()


def slurm_job_id() -> str | None:
    """The id ``scontrol requeue`` takes: ``<array job>_<task>`` in an array, else the job's."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def requeue_count() -> int | None:
    """How many times SLURM requeued this job before this attempt (None outside SLURM)."""
    if "SLURM_JOB_ID" not in os.environ:
        return None
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0)


def cluster_plugins() -> list[Any]:
    """Trainer plugins for the cluster this runs on: in a SLURM job, Lightning's SLURM environment
    with its auto-requeue off (SlurmRequeue acts instead); elsewhere none."""
    if not SLURMEnvironment.detect():
        return []
    return [SLURMEnvironment(auto_requeue=False)]


def run_on_own_job(command: list[str]) -> subprocess.CompletedProcess:
    """Run a SLURM command aimed at this process's own job (``scontrol requeue``, ``scancel
    --signal``) so that the signal it makes SLURM send does not kill the command itself: SLURM
    signals every process of the job, the command's among them when it has not exited yet, and
    the command would then fail although it did its work. A shell ignores SIGTERM and SIGUSR1 and
    ``exec``s the command (an ignored signal stays ignored across exec)."""
    return subprocess.run(
        ["sh", "-c", 'trap "" TERM USR1; exec "$@"', "sh", *command],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


def requeue_job(job_id: str) -> None:
    """``scontrol requeue <job_id>``, once per process; a failure is logged (the checkpoint is
    written either way, and re-running the command continues the run)."""
    if job_id in _requeued:
        return
    _requeued.append(job_id)
    try:
        run_on_own_job(["scontrol", "requeue", job_id])
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        log.error("scontrol requeue %s failed: %s", job_id, detail.strip().splitlines()[0])
        return
    log.warning("requeued SLURM job %s", job_id)


def leave_after_signal() -> None:
    """When this process received a stop signal: requeue its SLURM job if the signal was the
    time-limit warning (unless done already), and end the process with status 128 + signal.
    Nothing happens without a signal.

    The end of a SLURM job, after the task: an attempt that was told to stop must not report a
    result, whatever the task returned or raised meanwhile (SLURM signals every process of the
    job, the W&B service among them, so its connection may break while the run shuts down);
    the requeued attempt, or the command run again, reports the run's."""
    signum = received_signal()
    if signum is None:
        return
    job = slurm_job_id() if in_slurm_job() else None
    if job and signum == TIME_LIMIT_SIGNAL and int(os.environ.get("SLURM_PROCID") or 0) == 0:
        requeue_job(job)
    raise SystemExit(128 + int(signum))


def _mark_wandb_preempting() -> None:
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        with contextlib.suppress(Exception):  # the W&B service may have had the signal too
            wandb.mark_preempting()


class SlurmRequeue(pl.Callback):
    """After a stop signal has stopped the fit (LastCheckpoint saved at a step boundary): requeue
    the SLURM job when the signal was the time-limit warning, and end the process with status
    128 + signal, so that nothing is validated, tested or written as if the run had finished.

    Outside SLURM a stop signal still ends the run after the save (re-run the command, or
    ``resume=<run dir>``, to continue it). A signal that arrives once the fit is over (during the
    final test) is left to the default handling."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._handled = False
        self._trainer: pl.Trainer | None = None

    def _chain(self, signum: int, frame: FrameType | None) -> None:
        _record(signum, frame)
        if self._trainer is not None:
            _mute_wandb(self._trainer)
        previous = self._previous.get(signum)
        if callable(previous) and previous is not _record:
            previous(signum, frame)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the last handlers set before the first step (Lightning's, LastCheckpoint's) stay in
        # charge: this one records the signal and calls them
        self._trainer = trainer
        for signum in STOP_SIGNALS:
            try:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._chain)
            except ValueError:  # not the main thread: nothing can be recorded here
                self._previous.pop(signum, None)
        if received_signal() is not None:  # signalled while starting: nothing trained to save
            trainer.should_stop = True
            _mute_wandb(trainer)

    def _leave(self, trainer: pl.Trainer) -> None:
        signum = received_signal() or _checkpoint_signal(trainer)
        if signum is None or self._handled:
            return
        self._handled = True
        self._restore()
        name = signal.Signals(signum).name
        job = slurm_job_id() if in_slurm_job() else None
        if trainer.is_global_zero:
            where = f" (SLURM job {job})" if job else ""
            print(
                f"stopped by {name} at step {trainer.global_step}{where}: last.ckpt holds the run; "
                + (
                    "the job continues it when it starts again"
                    if job
                    else "run the same command again (or resume=<run dir>) to continue it"
                ),
                flush=True,
            )
            if job and signum == TIME_LIMIT_SIGNAL:
                requeue_job(job)
            _mark_wandb_preempting()
        raise SystemExit(128 + int(signum))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a signal during the fit ends the process, even in its last steps: the next attempt
        # finds last.ckpt at the schedule's end and only tests (Lightning counts an epoch cut
        # short by the signal as done, so the counters cannot tell)
        self._leave(trainer)
        self._restore()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # Lightning ends the fit with SIGTERMException (a SystemExit) at an epoch end after SIGTERM
        if isinstance(exception, SystemExit) and trainer.state.fn == "fit":
            self._leave(trainer)
        self._restore()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def _restore(self) -> None:
        self._trainer = None
        for signum, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}


def _mute_wandb(trainer: pl.Trainer) -> None:
    """No more logging to W&B in this process: SLURM signals every process of a job, the W&B
    service among them, and a log call into the dead service would raise before the step
    boundary where last.ckpt is written. The steps until then still go to the CSV log; the
    requeued attempt logs to the same W&B run from the checkpoint on."""
    from pytorch_lightning.loggers import WandbLogger

    kept = [logger for logger in trainer.loggers if not isinstance(logger, WandbLogger)]
    if len(kept) != len(trainer.loggers):
        trainer.loggers = kept


def _checkpoint_signal(trainer: pl.Trainer) -> int | None:
    """The stop signal LastCheckpoint acted on, if any (it records the signals it handles)."""
    for callback in trainer.callbacks:
        signum = getattr(callback, "signal_received", None)
        if signum is not None:
            return int(signum)
    return None
