"""A training run inside a SLURM job (its environment faked, ``scontrol`` a stand-in that records
its arguments): the time-limit warning (SIGUSR1) saves, requeues the job and ends the process;
SIGTERM (preemption, ``scontrol requeue``: SLURM requeues the job itself) saves and ends it
without a second requeue; Lightning's own SLURM requeue is off; a finished run records how many
times the job was requeued. The real controller runs these paths in tests/e2e/slurm."""

from __future__ import annotations

import json
import os
import signal
import stat

import pytest
import torch
from lightning_fabric.plugins.environments import SLURMEnvironment

from deblurlab.lit import preemption
from deblurlab.lit.build import build_trainer
from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import TWO_SHORT_EPOCHS, compose_config

RUN = TWO_SHORT_EPOCHS
SLURM_JOB = {
    "SLURM_JOB_ID": "4242",
    "SLURM_NTASKS": "1",
    "SLURM_JOB_NAME": "train",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
}


@pytest.fixture
def slurm_job(tmp_path, monkeypatch):
    """This process as a task of SLURM job 4242; returns the file where the stand-in scontrol
    writes each call."""
    calls = tmp_path / "scontrol.calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for key, value in SLURM_JOB.items():
        monkeypatch.setenv(key, value)
    for key in ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(preemption, "_received", [])
    monkeypatch.setattr(preemption, "_requeued", [])
    return calls


def signalled_run(tmp_path, name: str) -> tuple[int, dict]:
    run = tmp_path / "run"
    overrides = [
        *RUN,
        "+callbacks.signal._target_=fixtures.clock.SignalAtStep",
        "+callbacks.signal.step=2",
        f"+callbacks.signal.name={name}",
    ]
    with pytest.raises(SystemExit) as stopped:
        run_task(train, compose_config("train", overrides, run))
    saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert not (run / "metrics.json").exists()  # nothing validated or tested as if finished
    assert not list(run.rglob("hpc_ckpt_*.ckpt"))  # Lightning's own SLURM requeue stayed off
    return stopped.value.code, saved


def test_the_time_limit_warning_saves_requeues_the_job_and_leaves(slurm_job, tmp_path):
    code, saved = signalled_run(tmp_path, "SIGUSR1")
    assert code == 128 + signal.SIGUSR1
    assert saved["global_step"] == 3  # the step boundary after the signal
    assert slurm_job.read_text().split("\n")[:-1] == ["requeue 4242"]


def test_preemption_saves_and_leaves_the_requeue_to_slurm(slurm_job, tmp_path):
    code, saved = signalled_run(tmp_path, "SIGTERM")
    assert code == 128 + signal.SIGTERM
    assert saved["global_step"] == 3
    assert not slurm_job.exists()  # SLURM requeues a preempted job itself


def test_an_array_task_is_requeued_by_its_array_id(slurm_job, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4240")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    signalled_run(tmp_path, "SIGUSR1")
    assert slurm_job.read_text().split("\n")[:-1] == ["requeue 4240_2"]


def test_a_finished_run_records_how_often_its_job_was_requeued(slurm_job, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    run = tmp_path / "run"
    run_task(train, compose_config("train", RUN, run))
    assert json.loads((run / "metrics.json").read_text())["requeues"] == 2
    assert not slurm_job.exists()


def test_lightnings_own_slurm_requeue_is_off_in_a_slurm_job(slurm_job, tmp_path):
    # it would write hpc_ckpt_*.ckpt from inside the signal handler, mid-step, and requeue too
    trainer = build_trainer(compose_config("train", RUN, tmp_path / "run"), [])
    environment = trainer._accelerator_connector.cluster_environment
    assert isinstance(environment, SLURMEnvironment)
    assert environment.auto_requeue is False
