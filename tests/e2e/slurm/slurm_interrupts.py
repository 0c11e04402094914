"""A callback that interrupts chosen SLURM jobs of a sweep the ways a cluster does, at chosen
optimizer steps (the cluster tests add it with ``PYTHONPATH=tests/e2e/slurm``):

    +callbacks.interrupt._target_=slurm_interrupts.Interrupt
    '+callbacks.interrupt.plan="1:requeue@2 1:usr1@5 2:kill@3"'

``<array task>:<how>@<step>``, one per attempt of that task, in order (the first applies to the
first attempt, the second to the attempt after the first requeue, ...):

- ``requeue``: ``scontrol requeue`` of the job, as preemption does: SLURM sends SIGTERM and
  puts the job back in the queue;
- ``usr1``: ``scancel --signal=USR1``, the signal SLURM sends ``--signal=USR1@<s>`` before the
  time limit (the job has to requeue itself);
- ``kill``: this process dies by SIGKILL, before any handler runs (a node lost, the OOM
  killer); the job fails, and the test requeues it as SLURM requeues the jobs of a lost node
  (``Cluster.releasing_requeued``): the next attempt has only the last ``last.ckpt``.

Outside a SLURM array task (a local multirun of the same sweep) it does nothing, so the two
sweeps share one config.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytorch_lightning as pl

from deblurlab.lit.preemption import received_signal, run_on_own_job, slurm_job_id

WAIT_FOR_SIGNAL_S = 60


def parse_plan(plan: str) -> dict[str, list[tuple[str, int]]]:
    """``"1:requeue@2 1:usr1@5"`` -> ``{"1": [("requeue", 2), ("usr1", 5)]}``."""
    steps: dict[str, list[tuple[str, int]]] = {}
    for item in plan.split():
        task, rest = item.split(":")
        how, step = rest.split("@")
        assert how in ("requeue", "usr1", "kill"), item
        steps.setdefault(task, []).append((how, int(step)))
    return steps


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # the fields after the command name (in parentheses) start with state, ppid
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


class Interrupt(pl.Callback):
    """Interrupt this job at the step its plan gives for this attempt (see the module)."""

    def __init__(self, plan: str) -> None:
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        attempt = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
        mine = parse_plan(plan).get(task or "", [])
        self.action = mine[attempt] if task is not None and attempt < len(mine) else None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        if self.action is None or trainer.global_step < self.action[1]:
            return
        how, _ = self.action
        self.action = None
        job = slurm_job_id()
        assert job is not None
        if how == "kill":
            # a lost node (or the OOM killer under cgroup tracking) takes every process of the job
            # with it: W&B's service process, in a session of its own, too
            for child in _children(os.getpid()):
                os.kill(child, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        # the command would otherwise race the signal it asks for (SLURM signals every process
        # of the job, the command's own too) and, killed by it, fail the callback
        if how == "usr1":
            run_on_own_job(["scancel", "--signal=USR1", job])
        else:
            run_on_own_job(["scontrol", "requeue", job])
        # the signal comes from slurmd a moment later; the step boundary after it acts on it
        deadline = time.monotonic() + WAIT_FOR_SIGNAL_S
        while received_signal() is None and time.monotonic() < deadline:
            time.sleep(0.05)
