"""Every option of every config group composes, and what it configures can be instantiated."""

from __future__ import annotations

import importlib
import inspect
import os

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from deblurlab.lit.build import build_module, instantiate_group
from deblurlab.lit.deblur_module import DeblurLitModule
from fixtures.config import CONF_DIR, CONF_MODULE, compose_config

SKIP_GROUPS = {
    "hydra",
    "local",
    "hparams_search",
    "__pycache__",
}  # hparams_search: needs the optuna plugin
GROUPS = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name not in SKIP_GROUPS)
CASES = [(g, f.stem) for g in GROUPS for f in sorted((CONF_DIR / g).glob("*.yaml"))]


def _check_trainer(cfg: DictConfig) -> None:
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        # cannot build a GPU trainer here: check that every key is a Trainer argument instead
        module, _, name = cfg.trainer._target_.rpartition(".")
        params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
        unknown = [k for k in cfg.trainer if k != "_target_" and k not in params]
        assert not unknown, f"unknown Trainer arguments {unknown}"
        return
    assert isinstance(instantiate(cfg.trainer, logger=False), pl.Trainer)


def test_the_groups_of_the_interface_exist():
    expected = {"model", "loss", "data", "schedule", "trainer", "callbacks", "logger", "paths"}
    expected |= {"experiment", "debug", "launcher"}
    assert expected <= set(GROUPS)


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_composes_and_instantiates(group: str, option: str, tmp_path) -> None:
    overrides = [f"{group}={option}"]
    if group == "experiment":
        overrides.append("debug=smoke")
    cfg = compose_config("train", overrides, tmp_path)
    module = build_module(cfg, DeblurLitModule)
    assert sum(p.numel() for p in module.net.parameters()) > 0
    optim = module.configure_optimizers()
    assert optim is not None
    data = instantiate(cfg.data)
    assert isinstance(data, pl.LightningDataModule)
    for callback in instantiate_group(cfg.get("callbacks")):
        assert isinstance(callback, pl.Callback)
    for logger in instantiate_group(cfg.get("logger")):
        assert isinstance(logger, pl.loggers.Logger)
    _check_trainer(cfg)


def test_eval_config_composes(tmp_path) -> None:
    cfg = compose_config("eval", ["ckpt_path=x.ckpt", "data=synthetic", "model=sgenet"], tmp_path)
    assert cfg.protocol is None and cfg.model.name == "sgenet"  # None: the checkpoint's


def test_run_folders_are_unique_per_job_even_within_one_second(tmp_path) -> None:
    from hydra import compose, initialize_config_module

    dirs = []
    for _ in range(2):
        with initialize_config_module(CONF_MODULE, version_base="1.3"):
            cfg = compose("train", return_hydra_config=True)
        dirs.append(str(cfg.hydra.run.dir))
    assert dirs[0] != dirs[1]  # microseconds in the name
    for d in dirs:
        assert d.endswith(f"_{os.getpid()}")  # and the process id, for jobs started in parallel
