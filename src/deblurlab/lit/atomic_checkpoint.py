"""Checkpoints written atomically and read as data only.

Lightning's own writer streams into a temporary file that may live on another filesystem (the
system temp folder) and then moves it over the target; across filesystems that move is a copy in
place, and a kill during it leaves a truncated ``last.ckpt``. Here every checkpoint is written to a
temporary file in its own folder, flushed and fsynced, then renamed over the old file
(``os.replace`` is atomic within one filesystem): at any moment the folder holds the complete old
file or the complete new one. Temporary files of a killed write are removed on the next start.

Reading goes through :func:`deblurlab.checkpoint.read_checkpoint` (``weights_only=True`` always,
whatever the environment says; one-line CheckpointError naming the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from deblurlab.atomic import atomic_write
from deblurlab.checkpoint import read_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning CheckpointIO: atomic local writes, ``weights_only=True`` reads."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_write(path, lambda f: torch.save(checkpoint, f))

    def load_checkpoint(
        self, path: str | Path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        # weights_only is True whatever the caller or the environment asks for
        return read_checkpoint(path)
