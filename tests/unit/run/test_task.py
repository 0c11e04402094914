"""A job logs to W&B through a service of its own: a service a parent process named in
WANDB_SERVICE is forgotten, one this process started is kept (a local multirun's jobs share it).
tests/e2e/cli/test_wandb_service.py runs the case it is for: a killed run resumed under a
parent's service."""

from __future__ import annotations

import os

from deblurlab.run.task import use_own_wandb_service


def _service_after(monkeypatch, token: str | None) -> str | None:
    if token is None:
        monkeypatch.delenv("WANDB_SERVICE", raising=False)
    else:
        monkeypatch.setenv("WANDB_SERVICE", token)
    use_own_wandb_service()
    return os.environ.get("WANDB_SERVICE")


def test_a_service_started_by_another_process_is_not_used(monkeypatch):
    parent = f"3-{os.getppid()}-unix-/tmp/wandb-1-2-3/socket"
    assert _service_after(monkeypatch, parent) is None


def test_a_service_this_process_started_is_kept(monkeypatch):
    own = f"3-{os.getpid()}-tcp-localhost-41234"
    assert _service_after(monkeypatch, own) == own


def test_no_service_stays_none(monkeypatch):
    assert _service_after(monkeypatch, None) is None
