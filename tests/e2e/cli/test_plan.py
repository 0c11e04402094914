"""deblurlab-plan as a user runs it before submitting a sweep: per point and in total the steps,
the step time (measured here or given), the wall time and the SLURM jobs of a time limit."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from fixtures.config import CONF_DIR, TINY_NET, run_cli

SWEEP = ["-m", "experiment=ablation_table3", "debug=smoke", "data=synthetic", "seed=1,2"]


def plan(*args: str, root) -> dict:
    result = run_cli("cli.plan", *args, "--json", root=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_given_step_time_plans_every_point_of_the_sweep_with_its_jobs(tmp_path):
    # debug=smoke: 2 epochs of 2 batches = 4 steps per point; 3 fusions x 2 seeds
    planned = plan(*SWEEP, "--step-time", "0.05", "--time-limit", "0.15s", root=tmp_path)
    points = planned["points"]
    assert [p["overrides"][0] for p in points] == [
        "ablation/table3=concat",
        "ablation/table3=concat",
        "ablation/table3=sum",
        "ablation/table3=sum",
        "ablation/table3=fam",
        "ablation/table3=fam",
    ]
    assert [p["overrides"][-1] for p in points[:2]] == ["seed=1", "seed=2"]
    assert {(p["steps"], p["steps_per_epoch"], p["epochs"]) for p in points} == {(4, 2, 2)}
    for p in points:
        assert p["wall_s"] == pytest.approx(0.2)
        assert (p["jobs"], p["requeues"], p["step_time"]) == (2, 1, "given")
    assert planned["time_limit_s"] == pytest.approx(0.15)
    # nothing was written: no run folder, no sweep folder
    assert not (tmp_path / "experiments").exists()


@pytest.mark.slow
def test_the_step_time_is_measured_here_once_per_configuration_and_the_table_adds_up(tmp_path):
    tiny = TINY_NET["mimo_unet"]
    result = run_cli(
        "cli.plan", *SWEEP, *tiny, "--measure-steps", "2", "--time-limit", "1h", root=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == [
        "point", "overrides", "steps", "step", "time", "wall", "time", "SLURM", "jobs",
    ]  # fmt: skip
    assert len([ln for ln in lines if ln[:1].isdigit()]) == 6
    total = next(ln for ln in lines if ln.startswith("total"))
    assert total.split()[:4] == ["total", "6", "points", "24"]
    assert total.endswith("6 (0 requeues)")
    assert "step time: measured (2 steps) on cpu" in lines[-1]
    assert "time limit from --time-limit" in lines[-1]
    planned = plan(*SWEEP, *tiny, "--measure-steps", "2", root=tmp_path)
    seconds = [p["step_s"] for p in planned["points"]]
    assert all(s > 0 for s in seconds)
    assert seconds[0] == seconds[1] and seconds[2] == seconds[3]  # seeds share one timing
    assert planned["time_limit_s"] == 24 * 3600  # no launcher=slurm, no --time-limit


def test_the_slurm_launchers_time_limit_is_the_default(tmp_path):
    planned = plan(*SWEEP, "launcher=slurm", "--step-time", "50ms", root=tmp_path)
    launcher = OmegaConf.load(CONF_DIR / "launcher" / "slurm.yaml").hydra.launcher
    # what a job trains: its time limit less the warning before it, when it saves and requeues
    usable = launcher.timeout_min * 60 - launcher.get("signal_delay_s", 0)
    assert planned["time_limit_s"] == pytest.approx(usable)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["-m", "seed=1,2", "--time-limit", "24x"], "error: --time-limit=24x: not a duration"),
        (["seed=1,2", "--step-time", "1"], "error: seed=1,2: a sweep; plan it with -m"),
        (["-m", "hparams_search=optuna_lr", "--step-time", "1"], "error: hydra/sweeper=optuna"),
        (["-m", "model=nope", "--step-time", "1"], "error: model=nope: no such option"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, line):
    result = run_cli("cli.plan", *args, root=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(line), result.stderr[-2000:]
