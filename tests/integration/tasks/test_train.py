"""End to end on tiny data: train writes checkpoints and metrics; eval reproduces the validation score."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deblurlab.data.io import read_image_raw
from deblurlab.quantize import to_uint8
from deblurlab.run.task import run_task
from deblurlab.tasks.evaluate import evaluate
from deblurlab.tasks.train import train
from fixtures.config import compose_config


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[Path, dict]:
    """One smoke training run shared by the tests of this module."""
    out = tmp_path_factory.mktemp("smoke")
    from fixtures.config import TINY

    # every validation image is scored during training, so eval can be compared with it
    # test crops smaller than the 40 x 52 test images, so the crop box is exercised
    overrides = ["debug=smoke", "trainer.limit_val_batches=1.0", "callbacks.test_crops.size=24"]
    cfg = compose_config("train", TINY + overrides, out)
    metrics = run_task(train, cfg)
    return out, metrics


def test_fast_dev_run_trains_validates_and_tests(train_config):
    metrics = train(train_config("debug=fdr"))
    assert math.isfinite(metrics["train/loss"])
    assert "test/psnr_last" in metrics and "test/input_psnr" in metrics


def test_smoke_run_leaves_checkpoints_metrics_logs_and_an_image_grid(smoke_run):
    out, metrics = smoke_run
    assert (out / "checkpoints" / "best.ckpt").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "images" / "val_latest.png").is_file()
    assert (out / "csv" / "metrics.csv").is_file()
    written = json.loads((out / "metrics.json").read_text())
    for key in (
        "val/psnr",
        "val/ssim",
        "val/psnr_best",
        "input/psnr",
        "input/ssim",
        "test/psnr_last",
    ):
        assert math.isfinite(written[key]), key
    assert written["protocol"] == "gopro" and written["model"] == "mimo_unet"
    assert written["val/psnr"] == pytest.approx(written["val/psnr_best"])


def test_checkpoints_embed_the_resolved_config(smoke_run):
    out, _ = smoke_run
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = torch.load(out / "checkpoints" / name, map_location="cpu", weights_only=True)
        config = ckpt["deblurlab_config"]
        assert config["model"]["net"]["_target_"] == "deblurlab.models.mimo_unet"
        assert config["model"]["net"]["base_channels"] == 8
        assert config["paths"]["output_dir"] == str(out)


def test_training_and_eval_save_crops_of_the_test_images(smoke_run, tmp_path):
    # training's test step (callbacks.test_crops.size=24 here) and deblurlab-eval on the test split
    # (default 256 px: the whole 64 x 64 image) save centre crops of the first test images: those
    # images' pixels, and the same checkpoint's output
    out, _ = smoke_run
    trained = json.loads((out / "images" / "test_crops" / "crops.json").read_text())
    cfg = compose_config("eval", [f"ckpt_path={out}/checkpoints/best.ckpt"], tmp_path)
    evaluate(cfg)
    evaluated = json.loads((tmp_path / "images" / "test_crops" / "crops.json").read_text())
    first = sorted(row.split(",")[0] for row in (tmp_path / "per_image.csv").read_text().split())
    assert [e["name"] for e in evaluated["crops"]] == first[:2]  # sorted: "name" header is last
    assert [e["box"] for e in evaluated["crops"]] == [[0, 0, 64, 64]] * 2
    # smoke tests one batch: its first image by name, cut to the centre 24 x 24
    assert trained["size"] == 24 and [e["name"] for e in trained["crops"]] == first[:1]
    assert trained["crops"][0]["box"] == [20, 20, 24, 24]

    run_cfg = OmegaConf.create(
        torch.load(out / "checkpoints" / "best.ckpt", weights_only=True)["deblurlab_config"]
    )
    datamodule = instantiate(run_cfg.data)
    datamodule.setup("test")
    batch = next(iter(datamodule.test_dataloader()))
    index = batch["name"].index(first[0])
    crop = (slice(20, 44), slice(20, 44))

    def load(folder: Path, entry: dict, kind: str) -> np.ndarray:
        return read_image_raw(folder / "images" / "test_crops" / entry[kind]).astype(int)

    for kind, key in (("blurry", "blur"), ("sharp", "sharp")):
        expected = to_uint8(batch[key][index].permute(1, 2, 0)).astype(int)
        assert np.array_equal(load(tmp_path, evaluated["crops"][0], kind), expected)
        assert np.array_equal(load(out, trained["crops"][0], kind), expected[crop])
    train_out = load(out, trained["crops"][0], "output")
    eval_out = load(tmp_path, evaluated["crops"][0], "output")
    assert np.abs(train_out - eval_out[crop]).max() <= 1  # the same checkpoint's output
    assert not np.array_equal(train_out, load(out, trained["crops"][0], "sharp"))


def test_eval_of_the_best_checkpoint_reproduces_its_validation_metric(smoke_run, tmp_path):
    out, metrics = smoke_run
    cfg = compose_config("eval", [f"ckpt_path={out}/checkpoints/best.ckpt", "split=val"], tmp_path)
    summary = evaluate(cfg)
    assert summary["psnr"] == pytest.approx(metrics["val/psnr_best"], abs=1e-4)
    assert summary["ssim"] == pytest.approx(metrics["val/ssim"], abs=1e-5)
    assert summary["input_psnr"] == pytest.approx(metrics["input/psnr"], abs=1e-4)
    rows = (tmp_path / "per_image.csv").read_text().splitlines()
    assert rows[0].startswith("name,psnr,ssim") and len(rows) == 1 + summary["num_images"]
    assert json.loads((tmp_path / "summary.json").read_text())["protocol"] == "gopro"


def test_wandb_runs_offline_and_is_closed_after_the_job(train_config):
    import wandb

    cfg = train_config("debug=smoke", "logger=wandb", "test=false")
    run_task(train, cfg)
    assert wandb.run is None
    runs = list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))


def test_wandb_is_closed_and_error_is_one_line_when_a_job_fails(train_config, capsys):
    import wandb

    cfg = train_config("debug=fdr", "logger=wandb", "data.source.image_dir=/no/such/folder")
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    assert wandb.run is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: /no/such/folder: data.source.image_dir is not a folder"
