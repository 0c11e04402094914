"""Data parallel training on CPU (trainer=ddp_cpu: 2 gloo processes), and the launch rules that
keep DDP out of local multiruns."""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict

from deblurlab.errors import ConfigError
from deblurlab.run.preflight import check_train_config, starts_rank_processes
from deblurlab.tasks.evaluate import evaluate
from deblurlab.tasks.train import train
from fixtures.config import CONF_MODULE, TINY, compose_config


@pytest.mark.slow
def test_ddp_cpu_scores_every_image_once_and_equals_one_process_eval(tmp_path, capfd):
    # 3 validation and 3 test images on 2 ranks: the distributed sampler pads each split to 4
    # (one image twice); the logged numbers must still be those of the 3 images, each once.
    # channels_last in training as in deblurlab-eval's Restorer: the same arithmetic, so the
    # numbers can be compared to 1e-6 (a layout change may flip an 8-bit rounding)
    overrides = TINY + ["debug=smoke", "trainer=ddp_cpu", "callbacks.channels_last.enabled=true"]
    overrides += ["data.source.val_samples=3", "trainer.limit_val_batches=1.0"]
    overrides += ["data.source.test_samples=3", "trainer.limit_test_batches=1.0"]
    cfg = compose_config("train", overrides, tmp_path / "run")
    assert cfg.trainer.devices == 2 and cfg.trainer.strategy == "ddp_spawn"
    metrics = train(cfg)
    assert "sync_dist" not in capfd.readouterr().err  # no Lightning DDP logging warning

    run = tmp_path / "run"
    # rank 0 alone writes: one best and one last checkpoint, one metrics.json, one run identity
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert (
        json.loads((run / "metrics.json").read_text())["val/psnr_best"] == metrics["val/psnr_best"]
    )
    assert (run / "run.json").is_file()
    assert metrics["val/num_images"] == 3 and metrics["test/num_images"] == 3

    # One process scoring the 3 images of the best checkpoint gives the DDP numbers ...
    best = f"ckpt_path={run}/checkpoints/best.ckpt"
    val = evaluate(compose_config("eval", [best, "split=val"], tmp_path / "ev"))
    test = evaluate(compose_config("eval", [best, "split=test"], tmp_path / "et"))
    assert val["num_images"] == 3 and test["num_images"] == 3
    for key in ("psnr", "ssim", "ssim_matlab"):
        assert metrics[f"test/{key}_best"] == pytest.approx(test[key], abs=1e-6), key
    for key in ("input_psnr", "input_ssim"):
        assert metrics[f"test/{key}"] == pytest.approx(test[key], abs=1e-6), key
    # ... and of the final model (last.ckpt), tested after it
    last = f"ckpt_path={run}/checkpoints/last.ckpt"
    final = evaluate(compose_config("eval", [last, "split=test"], tmp_path / "el"))
    for key in ("psnr", "ssim", "ssim_matlab"):
        assert metrics[f"test/{key}_last"] == pytest.approx(final[key], abs=1e-6), key
    for key in ("psnr", "ssim", "ssim_matlab"):
        assert metrics[f"val/{key}"] == pytest.approx(val[key], abs=1e-6), key
    assert metrics["val/psnr_best"] == pytest.approx(val["psnr"], abs=1e-6)
    assert metrics["input/psnr"] == pytest.approx(val["input_psnr"], abs=1e-6)
    # ... which the padded 4 (image 0 twice) would not give.
    with open(tmp_path / "ev" / "per_image.csv", newline="") as f:
        psnr = [float(r["psnr"]) for r in csv.DictReader(f)]
    assert abs(statistics.fmean(psnr + psnr[:1]) - val["psnr"]) > 1e-4


@pytest.mark.parametrize(
    ("trainer", "expected"),
    [
        ({"strategy": "ddp", "devices": 2}, True),
        ({"strategy": "ddp", "devices": 1}, False),  # one process: nothing is re-run
        ({"strategy": "fsdp", "devices": 4}, True),
        ({"strategy": "auto", "accelerator": "gpu", "devices": 2}, True),
        ({"strategy": "auto", "accelerator": "gpu", "devices": [0, 1]}, True),
        ({"strategy": "auto", "accelerator": "gpu", "devices": "0,1"}, True),
        ({"strategy": "auto", "accelerator": "gpu", "devices": 1, "num_nodes": 2}, True),
        ({"strategy": "auto", "accelerator": "gpu", "devices": 1}, False),
        ({"strategy": "auto", "accelerator": "cpu", "devices": "auto"}, False),
        ({"strategy": "ddp_spawn", "devices": 2}, False),  # ranks start inside this process
        ({"strategy": "ddp_fork", "devices": 2}, False),
    ],
)
def test_which_trainers_would_rerun_the_command_in_every_rank(trainer, expected):
    assert starts_rank_processes(OmegaConf.create(trainer)) is expected


@pytest.fixture
def hydra_runtime():
    """Leave no multirun Hydra runtime behind for the tests that follow."""
    yield
    HydraConfig.instance().cfg = None


def multirun_config(*overrides: str):
    """A composed train config whose Hydra runtime says: a job of a multirun."""
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose("train", list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_ddp_inside_a_local_multirun_is_refused_but_allowed_with_the_slurm_launcher(hydra_runtime):
    with pytest.raises(ConfigError, match="use launcher=slurm"):
        check_train_config(multirun_config("trainer=ddp"))
    with pytest.raises(ConfigError, match="use launcher=slurm"):
        check_train_config(multirun_config("trainer=gpu", "trainer.devices=2"))
    check_train_config(multirun_config("trainer=ddp", "launcher=slurm"))  # SLURM starts the ranks
    check_train_config(multirun_config("trainer=ddp_cpu"))  # spawned inside each job
    check_train_config(multirun_config("trainer=gpu"))


def test_the_slurm_launcher_asks_for_one_task_per_gpu_of_the_trainer(hydra_runtime):
    cfg = multirun_config(
        "launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.tasks_per_node, launcher.gpus_per_node, launcher.nodes) == (4, 4, 2)


def test_the_command_line_refuses_ddp_in_a_local_multirun_in_one_line(tmp_path):
    env = {**os.environ, "DEBLURLAB_ROOT": str(tmp_path), "WANDB_MODE": "disabled"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "deblurlab.cli.train",
            "-m",
            "trainer=ddp",
            "seed=1,2",
            "logger=none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: trainer.strategy=ddp") and "launcher=slurm" in last
