"""A run killed with SIGKILL mid-epoch and continued with ``resume=<run dir>`` ends with the same
weights and optimizer state as an uninterrupted run of the same seed, with 0 and 2 loader workers;
a partial checkpoint write left by the kill is cleaned up; a finished run is left alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fixtures.config import TINY

TESTS = Path(__file__).resolve().parents[2]
# four batches per epoch, two epochs, last.ckpt every 2 steps; killed at step 3 (mid-epoch 0,
# one step after the last checkpoint: that step is lost and redone)
RUN = [
    *TINY,
    "debug=smoke",
    "test=false",
    "trainer.limit_train_batches=4",
    "schedule.max_epochs=2",
    "callbacks.last_checkpoint.every_n_train_steps=2",
]
KILL = ["+callbacks.kill._target_=fixtures.killer.KillAtStep", "+callbacks.kill.step=3"]

pytestmark = pytest.mark.slow


def train(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DEBLURLAB_ROOT": str(root),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(TESTS),
    }
    command = [sys.executable, "-m", "deblurlab.cli.train", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def max_diff(a: dict, b: dict) -> float:
    diffs = [(a[k].float() - b[k].float()).abs().max().item() for k in a]
    return max(diffs)


def optimizer_tensors(checkpoint: dict) -> dict:
    states = checkpoint["optimizer_states"][0]["state"]
    return {(i, k): v for i, s in states.items() for k, v in s.items() if v.dim() > 0}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run (no loader workers)."""
    root = tmp_path_factory.mktemp("reference")
    result = train(*RUN, "data.num_workers=0", f"hydra.run.dir={root / 'run'}", root=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return state(root / "run")


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_mid_epoch_then_resume_ends_with_the_same_weights(reference, tmp_path, workers):
    run = tmp_path / "run"
    killed = train(
        *RUN, *KILL, f"data.num_workers={workers}", f"hydra.run.dir={run}", root=tmp_path
    )
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL: no cleanup ran
    saved = state(run)
    assert (saved["global_step"], saved["epoch"]) == (2, 0)  # last.ckpt every 2 steps, mid-epoch
    # a checkpoint write killed half-way leaves only its temporary file; the next start removes it
    partial = run / "checkpoints" / ".last.ckpt.deblurlab-partial-0badf00d"
    partial.write_bytes(b"half a checkpoint")

    resumed = train(f"resume={run}", "~callbacks.kill", root=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # exact, so Lightning's warning that a mid-epoch resume of a loader without state is not
    # would be false here
    assert "not resumable" not in resumed.stderr
    final = state(run)
    assert final["global_step"] == reference["global_step"] == 8
    assert max_diff(final["state_dict"], reference["state_dict"]) <= 1e-6
    assert max_diff(optimizer_tensors(final), optimizer_tensors(reference)) <= 1e-6
    best = [c for k, c in final["callbacks"].items() if "BestCheckpoint" in k][0]
    ref_best = [c for k, c in reference["callbacks"].items() if "BestCheckpoint" in k][0]
    assert abs(float(best["best_model_score"]) - float(ref_best["best_model_score"])) <= 1e-6
    assert not partial.exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]

    if workers == 0:  # resuming the finished run: says so, changes nothing
        kept = ["checkpoints/last.ckpt", "checkpoints/best.ckpt", "metrics.json", "run.json"]
        digests = {k: hashlib.sha256((run / k).read_bytes()).hexdigest() for k in kept}
        again = train(f"resume={run}", "~callbacks.kill", root=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "finished after epoch 2 of 2 (schedule.max_epochs): nothing to do" in again.stdout
        assert digests == {k: hashlib.sha256((run / k).read_bytes()).hexdigest() for k in kept}
