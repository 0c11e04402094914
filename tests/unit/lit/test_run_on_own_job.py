"""A SLURM command aimed at the job's own processes (``scontrol requeue``, ``scancel --signal``)
survives the signal it makes SLURM send to every process of the job, its own included: a
command killed by that signal would report a failure although it did its work."""

from __future__ import annotations

import sys

from deblurlab.lit.preemption import run_on_own_job

# a command that receives, while still running, the signals SLURM sends a job's processes
SIGNALLED = (
    "import os, signal; "
    "os.kill(os.getpid(), signal.SIGUSR1); os.kill(os.getpid(), signal.SIGTERM); print('done')"
)


def test_the_command_outlives_sigterm_and_sigusr1_and_reports():
    result = run_on_own_job([sys.executable, "-c", SIGNALLED])
    assert result.returncode == 0 and result.stdout.strip() == "done"
