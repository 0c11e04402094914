"""Where the configs live, the OmegaConf resolvers they use, and config checks with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import ConfigError


def config_dir() -> Path:
    """The ``conf/`` folder: ``$DEBLURLAB_CONF`` if set, else the repository's top-level ``conf/``."""
    env = os.environ.get("DEBLURLAB_CONF")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "conf"
    if not (path / "train.yaml").is_file():
        raise ConfigError(
            f"{path}: no deblurlab configs here (install with `pip install -e .` from the "
            "repository, or set DEBLURLAB_CONF to its conf/ folder)"
        )
    return path


def register_resolvers() -> None:
    """Resolvers used in conf/ (idempotent)."""
    if not OmegaConf.has_resolver("deblurlab_pid"):
        OmegaConf.register_new_resolver("deblurlab_pid", lambda: os.getpid(), use_cache=True)


def check_train_config(cfg: DictConfig) -> None:
    """Refuse configurations that would fail late or silently, naming the key."""
    data = cfg.get("data")
    if data is not None and "crop_size" in data:
        crop = data.crop_size
        if not isinstance(crop, int) or crop <= 0:
            raise ConfigError(f"data.crop_size must be a positive integer, got {crop!r}")
    strategy = str(cfg.trainer.get("strategy", "auto"))
    try:
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        multirun = str(hydra_cfg.mode) == "RunMode.MULTIRUN"
        launcher = str(hydra_cfg.runtime.choices.get("hydra/launcher", "basic"))
    except ValueError:  # not running under @hydra.main (tests, notebooks)
        multirun, launcher = False, "basic"
    relaunches = strategy.startswith("ddp") and "spawn" not in strategy
    if multirun and relaunches and launcher == "basic":
        raise ConfigError(
            f"trainer.strategy={strategy} inside a local multirun would re-launch this sweep in "
            "every rank; use launcher=slurm (one SLURM job per sweep point) or a single run"
        )
