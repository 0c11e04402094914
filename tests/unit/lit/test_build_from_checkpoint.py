"""The LightningModule rebuilt from a checkpoint alone, with any of torch's LR schedules,
including the ones built from nested schedules (SequentialLR warm-up, ChainedScheduler)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from deblurlab.checkpoint import CONFIG_KEY, write_checkpoint
from deblurlab.errors import CheckpointError
from deblurlab.lit.build import build_module, module_from_checkpoint
from deblurlab.lit.deblur_module import DeblurLitModule
from fixtures.config import TINY, compose_config

LR = "torch.optim.lr_scheduler"
WARM_UP = {
    "_target_": f"{LR}.SequentialLR",
    "_partial_": True,
    "milestones": [2],
    "schedulers": [
        {"_target_": f"{LR}.LinearLR", "_partial_": True, "start_factor": 0.25, "total_iters": 2},
        {"_target_": f"{LR}.CosineAnnealingLR", "_partial_": True, "T_max": 4},
    ],
}


@pytest.fixture(scope="module")
def run_config(tmp_path_factory) -> dict:
    cfg = compose_config("train", TINY, tmp_path_factory.mktemp("cfg"))
    return OmegaConf.to_container(cfg, resolve=True)  # as training embeds it


def _checkpoint(run_config: dict, folder: Path, scheduler: dict | None = None) -> Path:
    """A checkpoint as training writes it: the module's whole state and the run config."""
    config = copy.deepcopy(run_config)
    if scheduler is not None:
        config["schedule"]["scheduler"] = scheduler
    torch.manual_seed(0)
    module = build_module(OmegaConf.create(config), DeblurLitModule)
    path = folder / "run.ckpt"
    checkpoint = {"state_dict": module.state_dict(), "pytorch-lightning_version": "2.6.0"}
    write_checkpoint({**checkpoint, CONFIG_KEY: config}, path)
    return path


def _learning_rates(module: DeblurLitModule, steps: int) -> list[float]:
    configured = module.configure_optimizers()
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_a_warm_up_schedule_is_rebuilt_from_the_checkpoint(run_config, tmp_path):
    path = _checkpoint(run_config, tmp_path, WARM_UP)
    module = module_from_checkpoint(DeblurLitModule, path)
    lr = run_config["schedule"]["optimizer"]["lr"]
    rates = _learning_rates(module, 6)
    assert rates[:2] == pytest.approx([0.25 * lr, 0.625 * lr])  # linear warm-up
    assert rates[2] == pytest.approx(lr) and rates[-1] < rates[2]  # then the cosine
    # the same config trained (Hydra-instantiated) gives the same schedule
    trained = build_module(OmegaConf.create({**run_config, "schedule": {
        **run_config["schedule"], "scheduler": WARM_UP}}), DeblurLitModule)  # fmt: skip
    assert _learning_rates(trained, 6) == pytest.approx(rates)
    saved = torch.load(path, weights_only=True)["state_dict"]
    for name, weight in module.state_dict().items():
        assert torch.equal(weight, saved[name]), name


@pytest.mark.parametrize(
    "scheduler",
    [
        {"_target_": f"{LR}.OneCycleLR", "_partial_": True, "max_lr": 0.01, "total_steps": 10},
        {"_target_": f"{LR}.CosineAnnealingWarmRestarts", "_partial_": True, "T_0": 3},
        {
            "_target_": f"{LR}.ChainedScheduler",
            "_partial_": True,
            "schedulers": [
                {"_target_": f"{LR}.ConstantLR", "_partial_": True, "factor": 0.5},
                {"_target_": f"{LR}.ExponentialLR", "_partial_": True, "gamma": 0.9},
            ],
        },
    ],
    ids=["OneCycleLR", "CosineAnnealingWarmRestarts", "ChainedScheduler"],
)
def test_torch_schedules_are_rebuilt_from_the_checkpoint(run_config, tmp_path, scheduler):
    module = module_from_checkpoint(DeblurLitModule, _checkpoint(run_config, tmp_path, scheduler))
    rates = _learning_rates(module, 4)
    assert len(set(rates)) > 1


def test_a_schedule_value_its_constructor_refuses_is_one_line_at_load(run_config, tmp_path):
    bad = copy.deepcopy(WARM_UP)
    bad["milestones"] = [2, 3]  # SequentialLR needs one milestone fewer than schedules
    path = _checkpoint(run_config, tmp_path, None)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint[CONFIG_KEY]["schedule"]["scheduler"] = bad
    write_checkpoint(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"embedded config schedule\.scheduler: ") as info:
        module_from_checkpoint(DeblurLitModule, path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_load_from_checkpoint_reads_the_file_once(run_config, tmp_path, monkeypatch):
    path = _checkpoint(run_config, tmp_path)
    calls = []
    load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(a[0]) or load(*a, **k))
    DeblurLitModule.load_from_checkpoint(path)
    assert calls == [path]
