"""Checkpoint and weight files on disk: read as data only, written whole or not at all, told apart
by digest.

Every file is read with ``torch.load(..., weights_only=True)`` onto the CPU: tensors and plain
containers only, never arbitrary pickled objects, whatever the environment says about torch's
default. Every failure is a :class:`CheckpointError` whose one-line message names the file.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch

from deblurlab.atomic import atomic_write
from deblurlab.errors import CheckpointError


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
    except pickle.UnpicklingError:  # random bytes, or a pickle naming objects (code) to build
        raise CheckpointError(
            f"{path}: not a readable checkpoint (not a torch file, or it holds objects other than "
            "tensors and plain values, which deblurlab never loads)"
        ) from None
    except Exception as exc:  # truncated, not a torch file, ...
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None


def write_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` into a temporary file beside ``path``, fsynced and renamed over it: a kill
    at any moment leaves the complete old file or the complete new one
    (:func:`deblurlab.atomic.atomic_write`)."""
    return atomic_write(path, lambda f: torch.save(checkpoint, f))


def is_lightning_checkpoint(checkpoint: Any) -> bool:
    """True for a Lightning checkpoint (as opposed to an official weight file or a state dict)."""
    return (
        isinstance(checkpoint, dict)
        and "state_dict" in checkpoint
        and "pytorch-lightning_version" in checkpoint
    )


def file_digest(path: str | Path, length: int = 12) -> str:
    """Short SHA-256 of a file, to tell checkpoints apart in summaries."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]
