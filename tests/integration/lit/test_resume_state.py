"""Continuing from a checkpoint (what resume=<run dir> does) keeps the optimizer and the LR
scheduler where they were: Adam's step count and the scheduler's epoch carry on."""

from __future__ import annotations

import torch

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import TINY, compose_config


def test_continuing_from_a_checkpoint_keeps_optimizer_and_scheduler_state(tmp_path):
    base = [*TINY, "debug=smoke", "test=false", "schedule.scheduler.milestones=[1]"]
    run_task(train, compose_config("train", [*base, "schedule.max_epochs=1"], tmp_path / "a"))
    first = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)
    steps = first["global_step"]
    assert first["optimizer_states"][0]["state"][0]["step"] == steps
    assert first["lr_schedulers"][0]["last_epoch"] == 1

    resumed = [*base, "schedule.max_epochs=2", f"ckpt_path={tmp_path / 'a/checkpoints/last.ckpt'}"]
    run_task(train, compose_config("train", resumed, tmp_path / "b"))
    last = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 2 * steps
    assert last["optimizer_states"][0]["state"][0]["step"] == 2 * steps  # Adam's moments went on
    assert last["lr_schedulers"][0]["last_epoch"] == 2
    lr = last["optimizer_states"][0]["param_groups"][0]["lr"]
    assert lr == first["optimizer_states"][0]["param_groups"][0]["lr"]  # halved once, at epoch 1
    assert lr == 0.5 * first["optimizer_states"][0]["param_groups"][0]["initial_lr"]
