"""W&B: training and evaluation runs joined (group, job type, config, checkpoint hash, artifact),
best scores with their step, a per-image test table, debug runs grouped apart, and a resumed
offline run synced as one. Every check reads the offline run files back with W&B's own reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deblurlab.checkpoint import file_digest
from deblurlab.run.task import run_task
from deblurlab.tasks.evaluate import evaluate
from fixtures.config import TINY, compose_config
from fixtures.wandb_reader import offline_runs, read_offline_run

pytestmark = pytest.mark.slow


def _cli(module: str, *args: str, root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBLURLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    command = [sys.executable, "-m", f"deblurlab.{module}", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _history(records: list[dict], key: str) -> list[dict]:
    """Every history row (a dict of logged values) that logged ``key``."""
    rows = [r["history"]["item"] for r in records if r.get("type") == "history"]
    return [row for row in rows if key in row]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny debug=smoke training run (the command) logged offline to W&B, with artifacts."""
    root = tmp_path_factory.mktemp("wandb")
    os.environ.setdefault("WANDB_DATA_DIR", str(root / "wandb-data"))  # artifact staging
    overrides = [*TINY, "logger=wandb", "logger.wandb.log_model=true", "debug=smoke"]
    result = _cli("cli.train", *overrides, "schedule.max_epochs=3", root=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (root / "experiments" / "runs" / "train").glob("*/*")
    return root, run_dir


def test_training_run_holds_best_scores_table_and_checkpoint_artifact(trained):
    _, run_dir = trained
    (folder,) = offline_runs(run_dir)
    run = read_offline_run(folder)
    assert run["run"]["job_type"] == "train"
    assert run["run"]["run_group"].startswith("debug=smoke: mimo_unet")  # apart from real runs
    assert run["run"]["run_group"].endswith(f"({run['run']['run_id']})")
    summary = run["summary"]
    rows = _history(run["records"], "val/psnr")
    assert len(rows) == 4  # three epochs, then the best checkpoint validated again
    best = max(rows[:3], key=lambda row: row["val/psnr"])
    assert summary["val/psnr"] == {"max": pytest.approx(best["val/psnr"])}
    assert summary["val/ssim"] == {"max": pytest.approx(max(r["val/ssim"] for r in rows))}
    assert summary["best/val_psnr"] == pytest.approx(best["val/psnr"])
    assert summary["best/val_ssim"] == pytest.approx(best["val/ssim"])  # at the best-PSNR epoch
    assert summary["best/epoch"] == best["epoch"]
    assert summary["best/step"] == 2 * (best["epoch"] + 1)  # optimizer steps (debug=smoke: 2/epoch)
    table = summary["test/per_image"]
    assert table["_type"] == "table-file" and table["ncols"] == 7 and table["nrows"] >= 1
    artifacts = [r["artifact"] for r in run["records"] if r.get("type") == "artifact"]
    model = [a for a in artifacts if a.get("type") == "model"]
    assert len(model) == 1 and model[0]["name"] == f"model-{run['run']['run_id']}"
    assert {f["path"] for f in model[0]["manifest"]["contents"]} == {"best.ckpt", "last.ckpt"}


def test_training_run_summary_holds_the_final_and_best_models_test_scores(trained):
    _, run_dir = trained
    (folder,) = offline_runs(run_dir)
    summary = read_offline_run(folder)["summary"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for model in ("last", "best"):
        for metric in ("psnr", "ssim", "ssim_matlab"):
            key = f"test/{metric}_{model}"
            assert summary[key] == pytest.approx(metrics[key]), key
    assert summary["best_selected_on"] == metrics["best_selected_on"]
    assert metrics["best_selected_on"].startswith("val/psnr=")


def test_eval_run_joins_its_training_run(trained):
    root, run_dir = trained
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    eval_dir = root / "eval"
    cfg = compose_config("eval", [f"ckpt_path={ckpt}", "logger=wandb"], eval_dir)
    run_task(evaluate, cfg)
    train_run = read_offline_run(offline_runs(run_dir)[0])
    (folder,) = offline_runs(eval_dir)
    eval_run = read_offline_run(folder)
    assert eval_run["run"]["job_type"] == "eval"
    assert eval_run["run"]["run_group"] == train_run["run"]["run_group"]
    config = eval_run["config"]
    train_id = train_run["run"]["run_id"]
    assert config["train_run_id"] == train_id
    assert config["train_artifact"] == f"model-{train_id}:latest"
    assert config["eval"]["checkpoint_sha256"] == file_digest(ckpt)
    assert config["eval"]["protocol"] == "gopro"
    # the training run's config columns, for the same table and parallel coordinates
    for key in ("model", "loss", "seed", "protocol"):
        assert config[key] == train_run["config"][key]
    assert eval_run["summary"]["eval/psnr"] > 0


def test_a_resumed_offline_run_is_synced_as_one(trained):
    root, run_dir = trained
    resumed = _cli("cli.train", f"resume={run_dir}", "schedule.max_epochs=4", root=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first, second = offline_runs(run_dir)
    one, two = read_offline_run(first), read_offline_run(second)
    assert one["run"]["run_id"] == two["run"]["run_id"]
    assert two["run"]["run_group"] == one["run"]["run_group"]
    steps_one = [row["trainer/global_step"] for row in _history(one["records"], "val/psnr")]
    steps_two = [row["trainer/global_step"] for row in _history(two["records"], "val/psnr")]
    assert steps_two and min(steps_two) > max(steps_one)  # the second part continues the first
    synced = _cli("cli.sync", str(run_dir), "--dry-run", root=root)
    assert synced.returncode == 0, synced.stderr
    output = synced.stdout + synced.stderr
    assert "Would sync 2 run(s)" in output
    assert first.name in output and second.name in output
    missing = _cli("cli.sync", str(root / "nothing-here"), root=root)
    assert missing.returncode == 2 and "not a folder" in missing.stderr
