"""The same multirun command run again into the same ``hydra.sweep.dir``: finished points are
skipped, a point killed mid-epoch continues exactly from its ``last.ckpt``, the rest start; a
point whose config changed and a sweep folder of another command are refused in one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from fixtures.config import TINY, TINY_NET

TESTS = Path(__file__).resolve().parents[2]
REPO = TESTS.parent
TINY_MIMO = TINY_NET["mimo_unet"]
ARM = "DEBLURLAB_TEST_KILL"
# what Lightning logs when a Trainer is built and when a fit ends
TRAINER, FIT_DONE = "GPU available:", "`Trainer.fit` stopped"
# two points that train the same thing (run_name only names them): the killed-and-continued
# point must end with the weights of the point that ran through. Four batches, one epoch,
# last.ckpt every 2 steps; killed at step 3 (mid-epoch) while ARM is set.
SWEEP = [
    "-m",
    "run_name=first,second",
    *TINY,
    "debug=smoke",
    "trainer.limit_train_batches=4",
    "schedule.max_epochs=1",
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "+callbacks.kill._target_=fixtures.killer.KillAtStep",
    "+callbacks.kill.step=3",
    f"+callbacks.kill.armed_by={ARM}",
]

pytestmark = pytest.mark.slow


def train(*args: str, root: Path, kill: bool = False) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DEBLURLAB_ROOT": str(root),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(TESTS),
    }
    env.pop(ARM, None)
    if kill:
        env[ARM] = "1"
    command = [sys.executable, "-m", "deblurlab.cli.train", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def weights(run: Path) -> dict:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return ckpt


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (what a skipped re-run must leave as it was)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_sweep_run_again_skips_finished_points_and_continues_a_killed_one_exactly(tmp_path):
    sweep = tmp_path / "sweep"
    command = [*SWEEP, f"hydra.sweep.dir={sweep}"]
    killed = train(*command, root=tmp_path, kill=True)
    assert killed.returncode == -9, killed.stderr[-3000:]  # the sweep's process, SIGKILLed
    assert not (sweep / "1").exists()  # the second point never started
    first = json.loads((sweep / "0" / "run.json").read_text())
    saved = weights(sweep / "0")
    assert (saved["global_step"], saved["epoch"]) == (2, 0)

    again = train(*command, root=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming: {sweep / '0'} from {sweep / '0' / 'checkpoints' / 'last.ckpt'}" in (
        again.stdout
    )
    # the same folder and run identity (W&B id), continued from step 2 to the end
    assert json.loads((sweep / "0" / "run.json").read_text()) == first
    continued, through = weights(sweep / "0"), weights(sweep / "1")
    assert continued["global_step"] == through["global_step"] == 4
    diff = max(
        (continued["state_dict"][k].float() - through["state_dict"][k].float()).abs().max().item()
        for k in through["state_dict"]
    )
    assert diff <= 1e-6
    # the run's own record is kept: the re-run wrote no .hydra over it
    assert OmegaConf.load(sweep / "0" / ".hydra" / "config.yaml").run_name == "first"

    before = digests(sweep)
    third = train(*command, root=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    skipped = [ln for ln in third.stdout.splitlines() if ln.startswith("skipped:")]
    assert skipped == [f"skipped: {sweep / '0'} finished", f"skipped: {sweep / '1'} finished"]
    assert TRAINER not in third.stdout + third.stderr  # nothing trained
    assert digests(sweep) == before  # nothing rewritten, logs included

    # a point whose recorded config differs from the command's: refused by name
    record = sweep / "1" / ".hydra" / "config.yaml"
    changed = OmegaConf.load(record)
    changed.seed = 7
    OmegaConf.save(changed, record)
    refused = train(*command, root=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {sweep / '1'}: holds a run of another config (differs in seed); run the "
        "command that started it, or choose another folder"
    )

    # another command into the same sweep folder: one line, nothing written
    other = train(*[a if a != "run_name=first,second" else "run_name=a,b" for a in command],
                  root=tmp_path)  # fmt: skip
    assert other.returncode == 2
    assert other.stderr.strip().splitlines() == [
        f"error: hydra.sweep.dir={sweep}: holds a sweep of another command "
        f"({' '.join(a for a in SWEEP if a != '-m')}); re-run that command to complete it, or "
        "choose another folder"
    ]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_sweep_twice_trains_nothing_the_second_time_and_reports_the_same(tmp_path):
    sweep = tmp_path / "sweep"
    venv = Path(sys.prefix)
    make = ["make", "-C", str(REPO), "-o", f"{venv}/.deblurlab-installed", "sweep"]
    make += [f"VENV={venv}", f"SWEEP_DIR={sweep}", "ARGS=logger=csv " + " ".join(TINY_MIMO)]
    env = {**os.environ, "DEBLURLAB_ROOT": str(tmp_path), "WANDB_MODE": "disabled"}
    env["OMP_NUM_THREADS"] = "1"
    first = subprocess.run(make, capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (first.stdout + first.stderr).count(FIT_DONE) == 3  # it trained three points
    report = {name: (sweep / name).read_bytes() for name in ("report.md", "runs.csv")}
    runs = {job: digests(sweep / job) for job in ("0", "1", "2")}

    second = subprocess.run(make, capture_output=True, text=True, env=env, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    skipped = [ln for ln in second.stdout.splitlines() if ln.startswith("skipped:")]
    assert skipped == [f"skipped: {sweep / job} finished" for job in ("0", "1", "2")]
    assert TRAINER not in second.stdout + second.stderr  # not even a Trainer was built
    assert {
        job: digests(sweep / job) for job in ("0", "1", "2")
    } == runs  # runs and logs as they were
    assert {name: (sweep / name).read_bytes() for name in report} == report


def test_a_single_run_into_its_own_folder_again_tests_what_was_untested_then_skips(tmp_path):
    # a requeued sbatch script: the same command with the same hydra.run.dir
    run = tmp_path / "run"
    command = [*TINY, "debug=smoke", f"hydra.run.dir={run}"]
    first = train(*command, root=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    scores = json.loads((run / "metrics.json").read_text())
    trained = weights(run)
    (run / "metrics.json").unlink()  # as if stopped during its final test

    tested = train(*command, root=tmp_path)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert f"resuming: {run} from" in tested.stdout
    again = json.loads((run / "metrics.json").read_text())
    assert again["test/psnr_last"] == pytest.approx(scores["test/psnr_last"], abs=1e-6)
    assert weights(run)["global_step"] == trained["global_step"]  # no step trained

    third = train(*command, root=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"skipped: {run} finished" in third.stdout
