"""Every option of every config group runs: one smoke step of train + validation + test each.

The cases are read from the package's config tree, so an option added later is covered without
editing this file. Each case composes ``train.yaml`` with ``<group>=<option>`` exactly as the
command line would, shrinks the network and data, points file-based datasets at a fake layout of
the right kind, and calls the same ``train`` the console script runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, open_dict

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import CONF_DIR, CONF_MODULE, shrink
from fixtures.datasets import make_folder, make_gopro, make_hide, make_realblur

NOT_OPTIONS = {"hydra", "local", "__pycache__"}  # Hydra's own settings and user files
GROUPS = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name not in NOT_OPTIONS)
CASES = [
    (str(f.parent.relative_to(CONF_DIR)), f.stem)
    for group in GROUPS
    for f in sorted((CONF_DIR / group).rglob("*.yaml"))
]
# Fake on-disk layouts, by the data option a case ends up with (data=..., or an experiment's).
LAYOUTS = {
    "gopro": make_gopro,
    "hide": make_hide,
    "realblur_j": make_realblur,
    "realblur_r": make_realblur,
    "folder": make_folder,
}

# Test-only datasets: the smoke step scores the (untrained) network on their test split.
TEST_ONLY = {"hide"}


def _skip_reason(group: str, option: str, cfg: DictConfig) -> str | None:
    if cfg.trainer.get("accelerator") == "gpu" and not torch.cuda.is_available():
        return "GPU trainer (its keys are checked in tests/integration/conf/test_configs.py)"
    if cfg.trainer.get("devices", 1) not in (1, "1", "auto"):
        return "several processes: tests/e2e/cli/test_ddp.py runs trainer=ddp_cpu end to end"
    if group == "hparams_search":
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    return None


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_runs_a_smoke_step(group: str, option: str, tmp_path: Path) -> None:
    overrides = [f"{group}={option}"]
    if group != "logger":
        overrides.append("logger=csv")  # W&B is covered by its own options
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        try:
            cfg = compose("train", overrides=overrides, return_hydra_config=True)
        except ConfigCompositionException:  # a group outside train.yaml's defaults (ablation/...)
            overrides[0] = f"+{overrides[0]}"
            cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    reason = _skip_reason(group, option, cfg)
    if reason:
        pytest.skip(reason)
    data_choice = str(cfg.hydra.runtime.choices.get("data"))
    root = None
    if cfg.data.get("root", "missing") is None and "train_samples" not in cfg.data.source:
        root = LAYOUTS[data_choice](tmp_path / "data")  # KeyError: add the new layout above
    with open_dict(cfg):
        del cfg.hydra
        shrink(cfg, root, tmp_path)
        cfg.test = True
        if data_choice in TEST_ONLY:
            cfg.train = False
    metrics = run_task(train, cfg)
    assert metrics["test/num_images"] == 1 and math.isfinite(metrics["test/psnr_last"])
    if cfg.train:
        assert metrics["val/num_images"] == 1 and math.isfinite(metrics["val/psnr"])
    assert metrics["protocol"] == cfg.protocol
