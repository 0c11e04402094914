"""The cluster tests run against a real SLURM controller on this machine: ``start.sh`` installs
(when missing) and starts munge, slurmctld and slurmd for one node; the session ends by stopping
what it started. Where that cannot be done (not root, no packages, a daemon that does not come
up) every cluster test is skipped with one line saying why.

All cluster tests share one pytest-xdist group (``pytestmark`` in each file): the node has two
CPUs, and tests on several workers would only queue behind each other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
DIR = Path(os.environ.get("DEBLURLAB_SLURM_DIR", "/tmp/deblurlab-slurm"))


@dataclass
class Cluster:
    """The running cluster: its folder and the environment its commands and jobs need."""

    dir: Path
    env: dict[str, str]

    def command(self, *args: str, timeout: int = 60) -> subprocess.CompletedProcess:
        """A SLURM command (``scontrol``, ``squeue``, ...) against this cluster."""
        return subprocess.run(args, capture_output=True, text=True, env=self.env, timeout=timeout)

    def train(
        self, *args: str, root: Path, timeout: int = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """``deblurlab-train *args`` as a user on the login node runs it, run folders under
        ``root``; the test callbacks of this folder importable in the jobs."""
        full = {**self.env, "DEBLURLAB_ROOT": str(root), **(env or {})}
        command = [sys.executable, "-m", "deblurlab.cli.train", *args]
        return subprocess.run(
            command, capture_output=True, text=True, env=full, timeout=timeout, cwd=root
        )

    def _jobs(self, state: str, workdir: Path) -> list[tuple[str, str]]:
        """(job id, reason) of the jobs in ``state`` submitted from ``workdir``."""
        listed = self.command("squeue", "-h", "-t", state, "-o", "%i|%r|%Z")
        jobs = []
        for line in listed.stdout.splitlines():
            job, reason, folder = (line.split("|") + ["", ""])[:3]
            if Path(folder.strip()) == workdir:
                jobs.append((job.strip(), reason.strip()))
        return jobs

    def jobcomp(self) -> list[str]:
        """The job-completion log: one line per finished job or requeued attempt."""
        path = self.dir / "jobcomp.log"
        return path.read_text().splitlines() if path.is_file() else []

    @contextmanager
    def releasing_requeued(self, workdir: Path) -> Iterator[None]:
        """While inside: a requeued job may start again at once, and a failed one is requeued.

        SLURM holds a requeued job for about two minutes (Reason=BeginTime); ``scontrol update
        StartTime=now`` lets it go, so the tests do not wait on that hold. A job that failed
        (killed without warning) is requeued, as SLURM requeues the jobs of a node it lost.
        Only the jobs submitted from ``workdir`` are touched."""
        stop = threading.Event()

        def release() -> None:
            while not stop.wait(0.5):
                for job, _ in self._jobs("F", workdir):
                    self.command("scontrol", "requeue", job)
                for job, reason in self._jobs("PD", workdir):
                    if reason == "BeginTime":
                        self.command("scontrol", "update", f"JobId={job}", "StartTime=now")

        thread = threading.Thread(target=release, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _is_up(env: dict[str, str]) -> bool:
    if not (DIR / "slurm.conf").is_file():
        return False  # scontrol would wait a minute for a config that is not there
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, env=env, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in ping.stdout


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Cluster]:
    """A one-node SLURM cluster on this machine (started here unless one already runs)."""
    env = {
        **os.environ,
        "SLURM_CONF": str(DIR / "slurm.conf"),
        "PATH": f"{DIR / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "DEBLURLAB_SLURM_DIR": str(DIR),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(HERE)]),
    }
    started = False
    if not _is_up(env):
        try:
            start = subprocess.run(
                [str(HERE / "start.sh")], capture_output=True, text=True, env=env, timeout=600
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"no SLURM cluster: start.sh did not finish ({type(exc).__name__})")
        if start.returncode != 0:
            why = (start.stderr.strip().splitlines() or [f"exit status {start.returncode}"])[-1]
            pytest.skip(f"no SLURM cluster: {why}")
        started = True
    yield Cluster(DIR, env)
    if started:
        subprocess.run([str(HERE / "stop.sh")], env=env, timeout=120, check=False)
