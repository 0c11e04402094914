"""Every command reads its checkpoint from disk once: the weights and the embedded config come
from the same read (a checkpoint with optimizer state is hundreds of MB)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblurlab.data.io import write_image
from deblurlab.run.task import run_task
from deblurlab.tasks.evaluate import evaluate
from deblurlab.tasks.predict import predict
from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import compose_config


@pytest.fixture
def loads(monkeypatch) -> list:
    """The files ``torch.load`` is asked to read (through deblurlab's one reader)."""
    calls: list = []
    load = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: calls.append(f) or load(f, *a, **k))
    return calls


def test_eval_reads_the_checkpoint_once(tmp_path, loads):
    path = tiny_checkpoint(tmp_path)
    summary = run_task(evaluate, compose_config("eval", [f"ckpt_path={path}"], tmp_path / "run"))
    assert summary["num_images"] > 0  # scored on the checkpoint's own data
    assert loads == [path]


def test_predict_reads_the_checkpoint_once(tmp_path, loads):
    path = tiny_checkpoint(tmp_path)
    photo = tmp_path / "in" / "a.png"
    write_image(photo, np.zeros((16, 16, 3), np.uint8))
    overrides = [f"ckpt_path={path}", f"input={photo}", f"output={tmp_path / 'out'}"]
    run_task(predict, compose_config("predict", overrides, tmp_path / "run"))
    assert loads == [path]
