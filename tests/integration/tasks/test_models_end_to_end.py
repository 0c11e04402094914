"""Every model goes through the same three commands: train (smoke), eval and predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deblurlab.data.io import read_image, write_image
from deblurlab.run.task import run_task
from deblurlab.tasks.evaluate import evaluate
from deblurlab.tasks.predict import predict
from deblurlab.tasks.train import train
from fixtures.config import TINY_NET, compose_config, tiny

# MIMO-UNet itself is trained by every other test
MODELS = sorted(set(TINY_NET) - {"mimo_unet"})


@pytest.mark.parametrize("model", MODELS)
def test_model_trains_evaluates_and_predicts(model: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    overrides = [f"model={model}", "debug=smoke", "test=false", *tiny(model)]
    metrics = run_task(train, compose_config("train", overrides, run))
    assert metrics["model"] == model and np.isfinite(metrics["val/psnr"])
    ckpt = run / "checkpoints" / "best.ckpt"
    assert metrics["best_ckpt"] == str(ckpt)
    loss = torch.load(ckpt, weights_only=True)["deblurlab_config"]["loss"]["_target_"]
    assert loss == (
        "deblurlab.losses.SGENetLoss" if model == "sgenet" else "deblurlab.losses.MIMOLoss"
    )
    summary = run_task(evaluate, compose_config("eval", [f"ckpt_path={ckpt}"], tmp_path / "eval"))
    assert summary["model"] == model and summary["num_images"] == 2
    assert summary["ensemble"] == ("rot4" if model == "mimo_unet_pp" else None)

    photos = tmp_path / "photos"
    write_image(photos / "odd.png", np.random.default_rng(0).random((37, 51, 3)))
    out = tmp_path / "restored"
    run_task(
        predict,
        compose_config(
            "predict", [f"ckpt_path={ckpt}", f"input={photos}", f"output={out}"], tmp_path / "p"
        ),
    )
    assert read_image(out / "odd.png").shape == (37, 51, 3)
