"""A job whose parent process runs a W&B service (a notebook or script that used W&B, then
started deblurlab; the variable naming the service reaches SLURM jobs and sweep jobs alike)
still resumes into its own W&B run after being killed: each deblurlab process logs through a
service of its own, which ends with it, so the killed attempt's run is not left open in the
parent's service ("run ID ... is in use")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.config import TINY

TESTS = Path(__file__).resolve().parents[2]
RUN = [
    *[o for o in TINY if not o.startswith("logger=")],
    "logger=wandb",
    "debug=smoke",
    "test=false",
    "trainer.limit_train_batches=4",
    "schedule.max_epochs=1",
    "callbacks.last_checkpoint.every_n_train_steps=2",
]
KILL = ["+callbacks.kill._target_=fixtures.killer.KillAtStep", "+callbacks.kill.step=3"]

# The parent: starts a W&B service (wandb.setup() names it in WANDB_SERVICE), then runs each
# command given as a JSON list, and prints their exit codes and the tail of their errors.
PARENT = """
import json, os, subprocess, sys
import wandb
wandb.setup()
assert os.environ.get("WANDB_SERVICE"), "wandb.setup() named no service"
results = []
for command in json.loads(sys.argv[1]):
    done = subprocess.run([sys.executable, "-m", "deblurlab.cli.train", *command],
                          capture_output=True, text=True, timeout=600)
    results.append([done.returncode, done.stderr[-2000:]])
print(json.dumps(results))
"""

pytestmark = pytest.mark.slow


def test_a_killed_run_resumes_into_its_wandb_run_under_a_parents_wandb_service(tmp_path):
    run = tmp_path / "run"
    commands = [[*RUN, *KILL, f"hydra.run.dir={run}"], [f"resume={run}", "~callbacks.kill"]]
    env = {
        **os.environ,
        "DEBLURLAB_ROOT": str(tmp_path),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(TESTS),
    }
    env.pop("WANDB_SERVICE", None)  # the parent's own service, not this test process's
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, json.dumps(commands)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert parent.returncode == 0, parent.stderr[-3000:]
    (killed, killed_err), (resumed, resumed_err) = json.loads(parent.stdout.splitlines()[-1])
    assert killed == -9, killed_err  # SIGKILL: the W&B run was never finished
    assert resumed == 0, resumed_err
    wandb_id = json.loads((run / "run.json").read_text())["wandb_id"]
    attempts = sorted((run / "wandb").glob("offline-run-*"))
    assert len(attempts) == 2 and all(p.name.endswith(f"-{wandb_id}") for p in attempts)
    assert json.loads((run / "metrics.json").read_text())["name"]
