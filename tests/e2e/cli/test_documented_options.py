"""Options that users type and that are easy to break silently: logger=none, trainer.max_steps (and the other
common Trainer keys) without `+`, DeblurLitModule.load_from_checkpoint(path) with no arguments,
and a GoPro experiment without data.root."""

from __future__ import annotations

import json

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deblurlab.lit import DeblurLitModule
from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import TINY, compose_config, run_cli

COMMON_TRAINER_KEYS = [
    "trainer.max_steps=3",
    "trainer.precision=32-true",
    "trainer.gradient_clip_val=0.5",
    "trainer.accumulate_grad_batches=1",
    "trainer.val_check_interval=1.0",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]


def test_logger_none_and_common_trainer_keys_then_reload_without_arguments(tmp_path):
    overrides = [o for o in TINY if not o.startswith("logger=")] + ["logger=none", "debug=smoke"]
    run = tmp_path / "run"
    result = run_cli(
        "cli.train", *overrides, *COMMON_TRAINER_KEYS, f"hydra.run.dir={run}", root=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 3  # max_steps stopped the 2-epoch smoke schedule after 3 steps
    assert not list(run.rglob("metrics.csv"))  # no logger wrote anything

    best = run / "checkpoints" / "best.ckpt"
    module = DeblurLitModule.load_from_checkpoint(best)
    state = torch.load(best, weights_only=True)["state_dict"]
    for key, value in module.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert module.protocol == metrics["protocol"] and module.loss is not None
    # the run's optimizer and schedule come back too (they are on the checkpoint allow-list)
    cfg = OmegaConf.create(last["deblurlab_config"])
    optimizers = module.configure_optimizers()
    assert isinstance(optimizers["optimizer"], torch.optim.Adam)
    assert optimizers["optimizer"].defaults["lr"] == cfg.schedule.optimizer.lr
    # the reloaded module validates to the run's own best validation PSNR
    trainer = pl.Trainer(
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=cfg.trainer.limit_val_batches,
    )
    [validated] = trainer.validate(module, datamodule=instantiate(cfg.data))
    assert validated["val/psnr"] == pytest.approx(metrics["val/psnr_best"], abs=1e-6)


def test_a_gopro_experiment_without_data_root_says_how_to_try_the_built_in_data(tmp_path, capsys):
    cfg = compose_config("train", ["experiment=ablation_table3", "logger=csv"], tmp_path)
    with pytest.raises(SystemExit) as stop:
        run_task(train, cfg)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.root is not set" in err[0] and "data=synthetic" in err[0]
