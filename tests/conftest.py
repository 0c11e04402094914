"""Shared test fixtures: compose the real configs from conf/ and shrink them for a 2-core CPU."""

from __future__ import annotations

import importlib.resources
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from deblurlab.run.config import register_resolvers

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_DISABLE_GIT", "true")
# tiny test networks gain nothing from threads, and oversubscribed cores slow them 10-100x
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")
register_resolvers()

# The configs ship inside the package; tests compose them as the commands do (through the package).
CONF_MODULE = "deblurlab.conf"
CONF_DIR: Path = Path(str(importlib.resources.files(CONF_MODULE)))

# A network and data small enough for seconds-long end-to-end runs on a CPU.
TINY = [
    "logger=csv",
    "+model.net.num_res=1",
    "+model.net.base_channels=8",
    "data.source.train_samples=8",
    "data.source.val_samples=2",
    "data.source.test_samples=2",
    "data.source.train_size=[48,48]",
    "data.source.eval_size=[40,52]",
    "data.crop_size=32",
    "data.batch_size=2",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``) the tests that share a
    module- or class-scoped fixture (a trained run, a built dataset) stay on one worker, so that
    fixture is built once; every other test is spread over the workers.

    Files holding ``slow`` tests run first (each file's tests stay together, in their order), so
    the workers end on short tests and finish together instead of one waiting on a long tail."""
    slow_files = {i.nodeid.split("::")[0] for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow_files)
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d.scope in ("module", "class") for chain in defs for d in chain):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def compose_config(name: str, overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """Compose ``deblurlab/conf/<name>.yaml`` with ``overrides`` as the command line would."""
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        if output_dir is not None:
            cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg


@pytest.fixture
def train_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """``train_config(*overrides)`` -> a tiny, CPU-sized training config writing under tmp_path."""

    def make(*overrides: str, tiny: bool = True) -> DictConfig:
        return compose_config("train", (TINY if tiny else []) + list(overrides), tmp_path / "run")

    return make


def run_cli(
    module: str, *args: str, root: Path, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m deblurlab.<module> *args`` as a user would, with run folders under ``root``
    (``env``: extra environment variables)."""
    env = {
        **os.environ,
        "DEBLURLAB_ROOT": str(root),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    command = [sys.executable, "-m", f"deblurlab.{module}", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
