"""run_task logs to W&B through a service of the job's own: a service a parent process named in
WANDB_SERVICE is forgotten, one this process started is kept (a local multirun's jobs share it)."""

from __future__ import annotations

import os

from deblurlab.run.task import run_task


def _service_seen_by_the_task(monkeypatch, token: str | None) -> str | None:
    if token is None:
        monkeypatch.delenv("WANDB_SERVICE", raising=False)
    else:
        monkeypatch.setenv("WANDB_SERVICE", token)
    return run_task(lambda: os.environ.get("WANDB_SERVICE"))


def test_a_service_started_by_another_process_is_not_used(monkeypatch):
    parent = f"3-{os.getppid()}-unix-/tmp/wandb-1-2-3/socket"
    assert _service_seen_by_the_task(monkeypatch, parent) is None


def test_a_service_this_process_started_is_kept(monkeypatch):
    own = f"3-{os.getpid()}-tcp-localhost-41234"
    assert _service_seen_by_the_task(monkeypatch, own) == own


def test_no_service_stays_none(monkeypatch):
    assert _service_seen_by_the_task(monkeypatch, None) is None
