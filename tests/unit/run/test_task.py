"""A job logs to W&B through a service of its own: a service a parent process named in
WANDB_SERVICE is forgotten, one this process started is kept (a local multirun's jobs share it).
tests/e2e/cli/test_wandb_service.py runs the case it is for: a killed run resumed under a
parent's service.

An allocation that fails (the CPU allocator's refusal, CUDA's out-of-memory error) is one line:
where memory ran out, how much was asked, what to lower, and the config key of the object being
built when there is one."""

from __future__ import annotations

import os

import pytest
import torch
from hydra.errors import InstantiationException

from deblurlab.run.task import out_of_memory, use_own_wandb_service, user_error


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


def test_a_gpu_out_of_memory_is_one_line_with_the_size_asked():
    exc = torch.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB "
        "of which 1.02 GiB is free.\nIncluding non-PyTorch memory, this process has ..."
    )
    assert user_error(exc) == (
        "out of memory on the GPU: tried to allocate 2.00 GiB; lower data.batch_size or "
        "data.crop_size (training), tile=<px> (eval, predict), or the network's width"
    )


def _refused_allocation() -> RuntimeError:
    try:
        torch.empty(2**50, dtype=torch.uint8)  # a petabyte: refused at once, nothing touched
    except RuntimeError as exc:
        return exc
    raise AssertionError("a petabyte was allocated")


def test_a_cpu_allocation_refused_is_read_in_gib():
    assert user_error(_refused_allocation()).startswith(
        "out of memory on the CPU: tried to allocate 1,048,576.0 GiB; lower data.batch_size"
    )


@pytest.mark.parametrize("key", ["model.net", "data.source"])
def test_an_object_hydra_could_not_build_for_memory_is_named_by_its_key(key):
    wrapped = InstantiationException(f"Error in call to target 'x':\nfull_key: {key}")
    wrapped.__cause__ = _refused_allocation()
    message = user_error(wrapped)
    assert message.startswith(f"{key}: out of memory on the CPU: tried to allocate"), message
    narrower = message.endswith("the network's weights alone do not fit: use a narrower network")
    assert narrower == key.startswith("model"), message


def test_other_runtime_errors_are_not_taken_for_memory():
    assert out_of_memory(RuntimeError("expected scalar type Float but found Half")) is None
    assert user_error(RuntimeError("CUDA error: device-side assert triggered")) is None
