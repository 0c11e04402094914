"""last.ckpt on a timer and on a signal, written in the background: a run continued from either
file mid-epoch ends with the weights and optimizer state of an uninterrupted run."""

from __future__ import annotations

import signal

import pytest
import torch

from deblurlab.lit import checkpointing, preemption
from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.clock import NOW
from fixtures.config import TWO_SHORT_EPOCHS, compose_config

# four batches per epoch, two epochs; the timer is off unless a test sets it
RUN = TWO_SHORT_EPOCHS


def last(run) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def same_training_state(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"]
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(value, b["state_dict"][key], rtol=0, atol=1e-6, msg=key)
    for i, state in a["optimizer_states"][0]["state"].items():
        for key, value in state.items():
            torch.testing.assert_close(
                value, b["optimizer_states"][0]["state"][i][key], rtol=0, atol=1e-6
            )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    run = tmp_path_factory.mktemp("reference") / "run"
    run_task(train, compose_config("train", RUN, run))
    return last(run)


def resume(run, tmp_path) -> dict:
    again = [*RUN, f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"]
    run_task(train, compose_config("train", again, tmp_path / "resumed"))
    return last(tmp_path / "resumed")


def test_a_timed_checkpoint_mid_epoch_resumes_exactly(reference, tmp_path, monkeypatch):
    # 25 s per step on a fake clock, a write every minute: at step 3 (mid-epoch 0); a crash at
    # step 5 writes nothing more, so the file holds step 3
    monkeypatch.setattr(checkpointing, "_now", lambda: NOW[0])
    run = tmp_path / "run"
    crashing = [
        *RUN[:-1],
        "callbacks.last_checkpoint.every_n_minutes=1",
        "+callbacks.tick._target_=fixtures.clock.Tick",
        "+callbacks.tick.seconds=25",
        "+callbacks.crash._target_=fixtures.clock.CrashAtStep",
        "+callbacks.crash.step=5",
    ]
    with pytest.raises((SystemExit, RuntimeError)):
        run_task(train, compose_config("train", crashing, run))
    saved = last(run)
    assert (saved["global_step"], saved["epoch"]) == (3, 0)
    assert saved[checkpointing.STATE_KEY]["batches"] == 3
    same_training_state(resume(run, tmp_path), reference)


def test_a_signal_writes_at_the_next_step_and_stops_the_run(reference, tmp_path):
    run = tmp_path / "run"
    signalled = [
        *RUN,
        "+callbacks.signal._target_=fixtures.clock.SignalAtStep",
        "+callbacks.signal.step=2",
    ]
    before = signal.getsignal(signal.SIGUSR1)
    try:  # the fit stops; lit/preemption's SlurmRequeue then ends the process (128 + signal)
        run_task(train, compose_config("train", signalled, run))
    except SystemExit as stopped:
        assert stopped.code == 128 + signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == before  # the handler is put back
    saved = last(run)
    # sent after LastCheckpoint's hook of step 2: written at the boundary of step 3
    assert (saved["global_step"], saved["epoch"]) == (3, 0)
    preemption._received.clear()  # the signal is remembered per process: a new one would not
    same_training_state(resume(run, tmp_path), reference)
