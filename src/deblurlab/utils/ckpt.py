"""Checkpoints: read the embedded config and rebuild the network from a .ckpt alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import ConfigError, DataError


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file onto the CPU, with a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, not a torch file, ...
        raise DataError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from exc


def embedded_config(checkpoint: dict[str, Any], path: str | Path) -> DictConfig:
    """The run config a deblurlab checkpoint carries, as a DictConfig."""
    config = checkpoint.get("deblurlab_config")
    if config is None:
        raise ConfigError(
            f"{path}: no embedded deblurlab config (an official weight file? pass model=<name> too)"
        )
    return OmegaConf.create(config)


def is_lightning_checkpoint(checkpoint: dict[str, Any]) -> bool:
    """True for a Lightning checkpoint (as opposed to an official weight file)."""
    return "state_dict" in checkpoint and "pytorch-lightning_version" in checkpoint
