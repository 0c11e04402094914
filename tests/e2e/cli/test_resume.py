"""resume=<run dir> continues a run in its folder, with its config, last checkpoint and W&B run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from deblurlab.cli.train import main
from deblurlab.run.resume import resume_argv
from fixtures.config import TINY


def deblurlab_train(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DEBLURLAB_ROOT": str(root),
        "WANDB_MODE": "offline",
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "deblurlab.cli.train", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def epochs_trained(path: Path) -> set[int]:
    """The epochs of the training-loss rows of a CSV log."""
    with open(path, newline="") as f:
        return {int(r["epoch"]) for r in csv.DictReader(f) if r.get("train/loss")}


@pytest.mark.slow
def test_resume_continues_training_in_the_same_folder_checkpoint_and_wandb_run(tmp_path):
    run = tmp_path / "run"
    tiny = [o for o in TINY if not o.startswith("logger=")]
    deblurlab_train(
        *tiny, "debug=smoke", "schedule.max_epochs=1", "test=false", "logger=wandb",
        f"hydra.run.dir={run}", root=tmp_path,
    )  # fmt: skip
    first = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    identity = json.loads((run / "run.json").read_text())

    deblurlab_train(f"resume={run}", "schedule.max_epochs=2", root=tmp_path)

    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # written at the end of training, when the epoch counter has moved past the last epoch
    assert (first["epoch"], last["epoch"]) == (1, 2)
    assert last["global_step"] == 2 * first["global_step"]  # continued, not restarted
    # the run's own config, recorded once; the resumed job's record beside it
    assert OmegaConf.load(run / ".hydra" / "config.yaml").resume is None
    assert "schedule.max_epochs=2" in OmegaConf.load(run / ".hydra-resume" / "overrides.yaml")
    assert last["deblurlab_config"]["resume"] == str(run)
    assert last["deblurlab_config"]["model"]["net"]["base_channels"] == 8  # from the run's config
    # the same W&B run (same id and name), and the earlier CSV log kept
    assert json.loads((run / "run.json").read_text()) == identity
    wandb_runs = sorted((run / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 2
    assert all(p.name.endswith(f"-{identity['wandb_id']}") for p in wandb_runs)
    assert epochs_trained(run / "csv" / "metrics.csv") == {0}
    assert epochs_trained(run / "csv" / "resume-1" / "metrics.csv") == {1}
    assert json.loads((run / "metrics.json").read_text())["name"] == identity["name"]


def test_resume_of_a_folder_that_is_not_a_run_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["deblurlab-train", f"resume={tmp_path}"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: resume={tmp_path}: not a deblurlab run folder (no .hydra/config.yaml)"]


def test_resume_rewrites_the_command_line_for_the_runs_own_config(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    with pytest.raises(Exception, match="no checkpoints/last.ckpt"):
        resume_argv([f"resume={tmp_path}"])
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    argv = resume_argv([f"resume={tmp_path}", "trainer.max_epochs=9"])
    assert argv[:2] == [f"--config-path={tmp_path / '.hydra'}", "--config-name=config"]
    assert f"hydra.run.dir='{tmp_path}'" in argv and argv[-1] == "trainer.max_epochs=9"
    assert f"ckpt_path='{tmp_path / 'checkpoints' / 'last.ckpt'}'" in argv
    assert resume_argv(["seed=1"]) == ["seed=1"]
    with pytest.raises(Exception, match="drop -m"):
        resume_argv(["-m", f"resume={tmp_path}"])
