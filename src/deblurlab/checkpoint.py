"""The one reader of checkpoint and weight files (deblurlab ``.ckpt``, official release ``.pkl``,
bare state dicts), and what a deblurlab checkpoint carries besides weights.

Every file is read with ``torch.load(..., weights_only=True)`` onto the CPU: tensors and plain
containers only, never arbitrary pickled objects. Every failure is a :class:`CheckpointError`
whose one-line message names the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from deblurlab.errors import CheckpointError

# The key under which deblurlab's EmbedConfig callback stores the resolved run config.
CONFIG_KEY = "deblurlab_config"


def read_checkpoint(path: str | Path) -> Any:
    """Load a checkpoint or weight file onto the CPU (``weights_only=True``).

    Raises CheckpointError naming the file when it is missing, is a folder, or cannot be read.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a file (a checkpoint or weight file is expected)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, a pickle with disallowed objects, ...
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None


def is_lightning_checkpoint(checkpoint: Any) -> bool:
    """True for a Lightning checkpoint (as opposed to an official weight file or a state dict)."""
    return (
        isinstance(checkpoint, dict)
        and "state_dict" in checkpoint
        and "pytorch-lightning_version" in checkpoint
    )


def embedded_config(checkpoint: Any, path: str | Path) -> DictConfig:
    """The run config a deblurlab checkpoint carries, as a DictConfig, checked against what
    deblurlab can build (:func:`deblurlab.checkpoint_config.safe_run_config`): only deblurlab's
    own networks, losses and data modules with valid arguments; sections naming anything else to
    build are dropped or refused, so nothing the file chose is ever run.

    Raises CheckpointError naming the file when there is none (an official weight file, or a
    checkpoint written by another program).
    """
    config = checkpoint.get(CONFIG_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{path}: no embedded deblurlab config (an official weight file? pass model=<name> too)"
        )
    from deblurlab.checkpoint_config import safe_run_config

    return safe_run_config(config, path)


def file_digest(path: str | Path, length: int = 12) -> str:
    """Short SHA-256 of a file, to tell checkpoints apart in summaries."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]
