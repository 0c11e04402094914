"""deblurlab-eval sweep=DIR as a user starts it: every run of a two-job multirun made by
deblurlab-train -m is scored on HIDE, runs that cannot be scored are refused one line each without
stopping the others, and the report goes beside the scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixtures.config import TINY, run_cli
from fixtures.datasets import make_hide


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A two-job multirun (seed=1,2) of tiny runs, plus two run folders that cannot be scored: a
    copy of job 0 whose last.ckpt is random bytes, and one whose checkpoints are gone."""
    root = tmp_path_factory.mktemp("sweep")
    command = ["-m", "seed=1,2", "debug=smoke", "schedule.max_epochs=1", *TINY]
    result = run_cli("cli.train", *command, root=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (root / "experiments" / "runs" / "train" / "multirun").glob("*/*")
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["0", "1"]
    shutil.copytree(sweep_dir / "0", sweep_dir / "2")
    (sweep_dir / "2" / "checkpoints" / "last.ckpt").write_bytes(b"\x00 not a checkpoint" * 9)
    shutil.copytree(sweep_dir / "0", sweep_dir / "3")
    shutil.rmtree(sweep_dir / "3" / "checkpoints")
    return sweep_dir


def test_every_run_is_scored_on_another_dataset_refusals_are_listed_and_a_report_written(
    sweep, tmp_path
):
    hide = make_hide(tmp_path / "HIDE_dataset", num_close=1, num_long=1)
    out = tmp_path / "scored"
    result = run_cli(
        "cli.evaluate",
        f"sweep={sweep}",
        "data=hide",
        f"data.root={hide}",
        f"hydra.run.dir={out}",
        root=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    refused = [line for line in result.stdout.splitlines() if line.startswith("refused: ")]
    assert refused == [
        f"refused: {sweep / '2'}: {sweep / '2' / 'checkpoints' / 'last.ckpt'}: "
        + refused[0].split("last.ckpt: ", 1)[-1],
        f"refused: {sweep / '3'}: no checkpoints/last.ckpt",
    ]
    assert "not" in refused[0].split("last.ckpt: ", 1)[-1]  # the loader's own reason
    for job in ("0", "1"):  # each scored with its own final model, on HIDE's two test images
        summary = json.loads((out / job / "summary.json").read_text())
        assert summary["checkpoint"] == str(sweep / job / "checkpoints" / "last.ckpt")
        assert summary["num_images"] == 2 and summary["protocol"] == "gopro"
        assert len((out / job / "per_image.csv").read_text().splitlines()) == 3
    assert not (out / "2").exists() and not (out / "3").exists()  # nothing half-written
    record = json.loads((out / "sweep.json").read_text())
    assert record["scored"] == [str(out / "0"), str(out / "1")]
    assert sorted(record["refused"]) == [str(sweep / "2"), str(sweep / "3")]
    report = (out / "report.md").read_text()
    assert "hide" in report and (out / "report.html").is_file()
    runs_csv = (out / "runs.csv").read_text().splitlines()
    assert len(runs_csv) == 3 and all(",eval," in line for line in runs_csv[1:])
    assert f"scored 2 of 4 runs of {sweep} (last.ckpt); 2 refused -> {out}" in result.stdout


def test_a_sweep_with_no_run_that_can_be_scored_fails_in_one_line(sweep, tmp_path):
    broken = tmp_path / "broken_sweep"
    for job in ("2", "3"):
        shutil.copytree(sweep / job, broken / job)
    result = run_cli(
        "cli.evaluate", f"sweep={broken}", f"hydra.run.dir={tmp_path / 'out'}", root=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: sweep={broken}: none of its 2 runs could be scored (each refused above)"
    )
    assert result.stdout.count("refused: ") == 2
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["scored"] == []


@pytest.mark.parametrize(
    ("words", "line"),
    [
        (["sweep=/no/such/sweep"], "error: sweep=/no/such/sweep: not a folder"),
        (
            ["sweep=SWEEP", "ckpt_path=best.ckpt"],
            "error: sweep= scores each run's own checkpoint (sweep_checkpoint=last.ckpt | "
            "best.ckpt); leave ckpt_path= and pretrained= unset",
        ),
    ],
)
def test_a_bad_sweep_command_fails_in_one_line_naming_the_key(words, line, tmp_path):
    words = [w.replace("SWEEP", str(tmp_path)) for w in words]  # an empty folder
    result = run_cli("cli.evaluate", *words, f"hydra.run.dir={tmp_path / 'out'}", root=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [line]
