"""deblurlab-plan's arithmetic: durations as people and SLURM write them, steps per point from
the data size, ranks, batch limits, accumulation, epochs and max_steps, and jobs per time limit."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from deblurlab.errors import ConfigError
from deblurlab.run.plan import PointPlan, format_duration, limited, parse_duration, training_steps


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86400),
        ("90m", 5400),
        ("90min", 5400),
        ("2d", 172800),
        ("1.5h", 5400),
        ("50ms", 0.05),
        ("4320", 4320 * 60),  # a bare number: minutes, as SLURM reads it
        ("30:00", 1800),
        ("12:00:00", 43200),
        ("1-12", 129600),
        ("1-12:30", 131400),
        ("2-00:00:01", 172801),
    ],
)
def test_durations_are_read_as_people_and_slurm_write_them(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["24x", "", "h", "-1h", "0", "1:2:3:4"])
def test_a_bad_duration_is_one_line_naming_the_option(text):
    with pytest.raises(ConfigError, match=f"^--time-limit={text}: "):
        parse_duration(text)


def test_a_bare_step_time_is_seconds():
    assert parse_duration("0.05", "--step-time", bare_s=1.0) == 0.05
    assert format_duration(0.05) == "0.05 s" and format_duration(5400) == "1.5 h"


def test_batch_limits_as_lightning_reads_them():
    assert limited(10, None) == 10
    assert limited(10, 4) == 4 and limited(3, 4) == 3
    assert limited(10, 0.25) == 2 and limited(10, 1.0) == 10 and limited(3, 0.01) == 1


def trainer(**keys):
    base = {"max_epochs": 3, "max_steps": -1, "devices": 1, "num_nodes": 1, "strategy": "auto"}
    return OmegaConf.create({"trainer": {"accelerator": "cpu", **base, **keys}})


def test_steps_count_the_ranks_the_batch_limit_accumulation_epochs_and_max_steps():
    assert training_steps(trainer(), 100, 4, False) == (75, 25, 3)
    assert training_steps(trainer(), 101, 4, False) == (78, 26, 3)  # the last, smaller batch
    assert training_steps(trainer(), 101, 4, True) == (75, 25, 3)  # dropped
    # 2 nodes x 2 devices: each rank takes ceil(101 / 4) = 26 samples, 7 batches of 4
    ddp = trainer(strategy="ddp", devices=2, num_nodes=2)
    assert training_steps(ddp, 101, 4, False) == (21, 7, 3)
    assert training_steps(trainer(limit_train_batches=5), 100, 4, False) == (15, 5, 3)
    assert training_steps(trainer(accumulate_grad_batches=2), 100, 4, False) == (39, 13, 3)
    assert training_steps(trainer(max_steps=10), 100, 4, False) == (10, 25, 3)
    assert training_steps(trainer(max_epochs=None, max_steps=50), 100, 4, False) == (50, 25, None)
    with pytest.raises(ConfigError, match="neither ends the training"):
        training_steps(trainer(max_epochs=-1), 100, 4, False)


def test_a_point_needs_one_job_per_time_limit_started():
    plan = PointPlan(("seed=1",), 1000, 10, 100, 0.5, "given", time_limit_s=200)
    assert (plan.wall_s, plan.jobs, plan.requeues) == (500, 3, 2)
    exact = PointPlan(("seed=1",), 1000, 10, 100, 0.2, "given", time_limit_s=200)
    assert (exact.jobs, exact.requeues) == (1, 0)
