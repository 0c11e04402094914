"""``launcher=slurm``: what deblurlab adds to Hydra's submitit launcher (the launcher class itself
is ``hydra_plugins.deblurlab_launcher.SlurmLauncher``, where Hydra looks for launchers).

- Before anything is submitted (:func:`submitting`), the sweep is checked against the cluster:
  ``sbatch`` is on PATH, the controller answers, the partition exists; sbatch refusing the jobs
  and a job ending without a result are reported too. Each is one line and a non-zero exit.
- On CPU-only runs (``trainer.accelerator=cpu``) no GPUs are requested, whatever
  ``hydra.launcher.gpus_per_node`` says.
- SLURM warns a job ``hydra.launcher.signal_delay_s`` seconds before its time limit with SIGUSR1
  (:func:`set_job_parameters`; submitit would send USR2 and requeue from inside its signal
  handler, mid-step). submitit never requeues (``max_num_timeout`` 0).
- In the job (:func:`start_job`), submitit's signal handlers (SIGTERM ignored, USR2 requeue) give
  way to deblurlab's, which record the signal; :class:`deblurlab.lit.preemption.SlurmRequeue`
  acts on it at a step boundary.

Nothing here imports Lightning at import time: Hydra imports the launcher module on every start.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from deblurlab.errors import ConfigError

EXIT_USER_ERROR = 2
TIME_LIMIT_SIGNAL = "USR1"  # deblurlab.lit.preemption.TIME_LIMIT_SIGNAL, without the SIG
_ANSWER_S = 20  # a controller that has not answered by then is taken as unreachable


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _slurm_command(command: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=_ANSWER_S)
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"launcher=slurm: the SLURM controller did not answer `{' '.join(command)}` within "
            f"{_ANSWER_S} s (check SLURM_CONF and that slurmctld runs)"
        ) from None


def limit_minutes(text: str) -> float | None:
    """A time limit as sinfo prints it (``10:00``, ``1:00:00``, ``2-00:00:00``, ``infinite``) in
    minutes; None when there is none."""
    text = text.strip()
    if not text or text.lower() in ("infinite", "unlimited", "n/a"):
        return None
    days, _, clock = text.rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    seconds = sum(v * 60**i for i, v in enumerate(reversed(parts)))
    return (float(days or 0) * 86400 + seconds) / 60


def check_cluster(partition: str | None, timeout_min: float | None = None) -> None:
    """Raise ConfigError (one line) when jobs cannot be submitted: no ``sbatch``, an unreachable
    controller, ``partition`` not among the cluster's partitions, or ``timeout_min`` above the
    partition's time limit (the default partition when ``partition`` is None)."""
    for tool in ("sbatch", "scontrol", "sinfo"):
        if shutil.which(tool) is None:
            raise ConfigError(
                f"launcher=slurm: `{tool}` is not on PATH; run on a SLURM login node "
                "(or use launcher=local)"
            )
    ping = _slurm_command(["scontrol", "ping"])
    if ping.returncode != 0 or "is UP" not in ping.stdout:
        detail = _first_line(ping.stdout) or _first_line(ping.stderr) or "no answer"
        raise ConfigError(f"launcher=slurm: the SLURM controller is unreachable ({detail})")
    listed = _slurm_command(["sinfo", "-h", "-o", "%P|%l"])
    if listed.returncode != 0:
        return  # sbatch will say what is wrong
    limits: dict[str, str] = {}
    default = None
    for line in listed.stdout.splitlines():
        name, _, limit = line.strip().partition("|")
        if name.endswith("*"):
            name = default = name[:-1]
        limits.setdefault(name, limit)
    if partition and partition not in limits:
        raise ConfigError(
            f"hydra.launcher.partition={partition}: no such partition on this cluster "
            f"(partitions: {', '.join(sorted(limits)) or 'none'})"
        )
    chosen = partition or default
    limit = limit_minutes(limits.get(chosen, "")) if chosen else None
    if timeout_min is not None and limit is not None and float(timeout_min) > limit:
        raise ConfigError(
            f"hydra.launcher.timeout_min={timeout_min}: above the time limit of partition "
            f"{chosen} ({limit:g} min); ask for at most that (a job past it is requeued and "
            "continues, docs/cluster.md)"
        )


def check_signal_delay(delay_s: float | None, timeout_min: float | None) -> None:
    """Raise ConfigError when the time-limit warning would come before the job could start
    training: a signal that arrives while Python is still starting ends the job."""
    if delay_s is None or timeout_min is None:
        return
    if float(delay_s) >= float(timeout_min) * 60 / 2:
        raise ConfigError(
            f"hydra.launcher.signal_delay_s={delay_s}: the time-limit warning would come within "
            f"the first half of the job's {timeout_min} min (hydra.launcher.timeout_min); "
            "make it shorter or the time limit longer"
        )


def set_job_parameters(params: dict[str, Any]) -> None:
    """The launcher's parameters as deblurlab submits them: SIGUSR1 ``signal_delay_s`` before the
    time limit (unless ``additional_parameters.signal`` says otherwise), ``--requeue``, no
    submitit requeue."""
    extra = dict(params.get("additional_parameters") or {})
    extra.setdefault("signal", f"{TIME_LIMIT_SIGNAL}@{params.get('signal_delay_s', 120)}")
    extra.setdefault("requeue", True)  # requeueable whatever the cluster's JobRequeue default
    params["additional_parameters"] = extra
    params["max_num_timeout"] = 0


def _fail(message: str, status: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


@contextlib.contextmanager
def submitting(params: dict[str, Any], config: Any) -> Iterator[None]:
    """Around the launcher's ``launch``: check the cluster first, request no GPUs for a CPU run,
    and turn submitit's errors into one line and a non-zero exit."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    try:
        check_cluster(params.get("partition"), params.get("timeout_min"))
        check_signal_delay(params.get("signal_delay_s"), params.get("timeout_min"))
    except ConfigError as exc:
        _fail(str(exc), EXIT_USER_ERROR)
    if str(config.trainer.get("accelerator")) == "cpu":
        params["gpus_per_node"] = None
    try:
        yield
    except FailedJobError as exc:  # sbatch refused the jobs; its first line says why
        _fail(f"launcher=slurm: sbatch refused the jobs: {_first_line(str(exc))}", EXIT_USER_ERROR)
    except UncompletedJobError as exc:
        _fail(
            f"{_first_line(str(exc))}; run the same command again to continue the sweep "
            "(finished points are skipped, the others continue from their last.ckpt)",
            1,
        )


def end_job(error: BaseException | None = None) -> None:
    """In a SLURM job, after the task (``error``: what it raised, if anything): an attempt that
    received a stop signal leaves without a result, naming the error it ended with (see
    :func:`deblurlab.lit.preemption.leave_after_signal`)."""
    from deblurlab.lit.preemption import leave_after_signal, received_signal

    if error is not None and received_signal() is not None:
        detail = _first_line(str(error))
        print(
            f"after {signal.Signals(received_signal()).name} the task ended with "
            f"{type(error).__name__}{': ' + detail if detail else ''}",
            file=sys.stderr,
            flush=True,
        )
    leave_after_signal()


def start_job() -> None:
    """In a SLURM job, before the task: submitit's signal handlers give way to deblurlab's."""
    from deblurlab.lit.preemption import record_stop_signals

    for signum in (signal.SIGUSR2, signal.SIGCONT):
        signal.signal(signum, signal.SIG_DFL)
    record_stop_signals()


def register_launcher() -> None:
    """Make ``launcher=slurm``'s class known to Hydra even where Hydra's scan of the
    ``hydra_plugins`` namespace misses it (an editable install's namespace cannot be walked).
    Nothing happens without the ``slurm`` extra."""
    try:
        import hydra_plugins.deblurlab_launcher as plugin
    except ImportError:
        return
    launcher = getattr(plugin, "SlurmLauncher", None)
    if launcher is not None:
        from hydra.core.plugins import Plugins

        Plugins.instance().register(launcher)
