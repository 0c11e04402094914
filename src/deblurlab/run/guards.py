"""Checks a training run makes before anything heavy starts, each failing in one line (exit 2).

- :func:`claim_run_folder`: a folder that already holds a run is never reused by a new run;
- :func:`check_start_checkpoint`: ``ckpt_path`` (and ``resume=``'s ``last.ckpt``) is a readable
  deblurlab training checkpoint whose weights fit the configured network;
- :func:`finished_run`: resuming a run whose schedule is complete changes nothing;
- :func:`check_writable`: the run folder can be written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from torch import nn

from deblurlab.checkpoint import is_lightning_checkpoint, read_checkpoint
from deblurlab.errors import CheckpointError, ConfigError

RUN_MARK = "run.json"  # written by the run that owns the folder (see run.identity)


def holds_run(folder: Path) -> bool:
    """True when ``folder`` holds (or held) a deblurlab training run."""
    return (folder / RUN_MARK).exists() or (folder / "checkpoints").is_dir()


def claim_run_folder(folder: Path) -> None:
    """Claim ``folder`` for a new run (not a resume): refuse one that holds a run, and make two
    runs started at once in the same folder fail in all but one (``run.json`` created
    exclusively, filled in later by the run's identity)."""
    message = (
        f"{folder} already holds a run; continue it with resume={folder}, or choose another "
        "folder (hydra.run.dir=...)"
    )
    if (folder / "checkpoints").is_dir():
        raise ConfigError(message)
    try:
        fd = os.open(folder / RUN_MARK, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise ConfigError(message) from None
    os.close(fd)


def check_writable(folder: Path) -> None:
    """One line when the run folder cannot be created or written (read-only disk or folder)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot create the run folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{folder}: the run folder is not writable")


def check_start_checkpoint(path: str | Path, module: nn.Module) -> dict[str, Any]:
    """Read ``ckpt_path`` (``weights_only=True``) and check that it is a Lightning training
    checkpoint whose weights fit ``module``; returns the checkpoint. One-line CheckpointError
    naming the file otherwise (missing, truncated, random bytes, a weight file, another model)."""
    checkpoint = read_checkpoint(path)
    if not is_lightning_checkpoint(checkpoint):
        raise CheckpointError(
            f"{path}: not a deblurlab training checkpoint (a weight file? start from it with "
            "model.pretrained=... instead of ckpt_path=...)"
        )
    state = checkpoint["state_dict"]
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        k for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        first = (missing + unexpected + shapes)[:3]
        raise CheckpointError(
            f"{path}: does not fit the configured model ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(shapes)} differently shaped tensors, e.g. "
            f"{', '.join(first)}); was it trained with another model config?"
        )
    return checkpoint


def finished_run(checkpoint: dict[str, Any], cfg: DictConfig) -> str | None:
    """A message when ``checkpoint`` already completed ``cfg``'s schedule, else None."""
    from deblurlab.lit.resume_state import STATE_KEY

    state = checkpoint.get(STATE_KEY) or {}
    batches = int(state.get("batches", 0))
    next_epoch = int(state["epoch"]) if "epoch" in state else int(checkpoint.get("epoch", 0)) + 1
    max_epochs = cfg.trainer.get("max_epochs")
    max_steps = cfg.trainer.get("max_steps", -1)
    step = int(checkpoint.get("global_step", 0))
    if max_steps is not None and int(max_steps) > 0 and step >= int(max_steps):
        return f"finished at step {step} (trainer.max_steps={max_steps})"
    epochs_done = max_epochs is not None and batches == 0 and next_epoch >= int(max_epochs) >= 0
    if epochs_done and (max_steps is None or int(max_steps) <= 0):
        return f"finished after epoch {next_epoch} of {max_epochs} (schedule.max_epochs)"
    return None


def check_run_dir_argument(argv: list[str]) -> None:
    """Before Hydra writes its record into an explicit ``hydra.run.dir=DIR``: refuse a DIR that
    holds a run (unless this is ``resume=DIR``, or a DDP rank > 0 joining its rank 0)."""
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank != 0 or any(a.startswith("resume=") for a in argv):
        return
    for arg in argv:
        if arg.startswith("hydra.run.dir="):
            folder = Path(arg.split("=", 1)[1].strip("'\"")).expanduser()
            if holds_run(folder):
                raise ConfigError(
                    f"{folder} already holds a run; continue it with resume={folder}, or "
                    "choose another folder (hydra.run.dir=...)"
                )
