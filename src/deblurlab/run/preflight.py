"""Checks of the composed config before anything heavy starts, each failing in one line (exit 2).

The command line was checked before Hydra ran (:mod:`deblurlab.run.command_line`); these checks
need the composed config, the network or the run folder Hydra made:

- :func:`check_train_config`: values that would fail late or silently (crop size, a DDP run
  inside a local sweep);
- :func:`check_writable`: the run folder can be written;
- :func:`claim_run_folder`: a folder that already holds a run is never reused by a new run;
- :func:`check_schedule`: the optimizer and LR scheduler can be built from their config;
- :func:`check_start_checkpoint`: ``ckpt_path`` (and ``resume=``'s ``last.ckpt``) is a readable
  deblurlab training checkpoint whose weights fit the configured network;
- :func:`finished_run`: resuming a run whose schedule is complete changes nothing.

torch and Lightning are imported on use: :mod:`deblurlab.run.command_line` (run on ``--help``)
imports :func:`holds_run` from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from deblurlab.errors import CheckpointError, ConfigError
from deblurlab.runfiles import RunFolder

if TYPE_CHECKING:
    from torch import nn


def holds_run(folder: Path) -> bool:
    """True when ``folder`` holds (or held) a deblurlab training run."""
    files = RunFolder(folder)
    return files.run_json.exists() or files.checkpoints.is_dir()


def run_folder_taken(folder: Path) -> ConfigError:
    """The one-line refusal of a new run in ``folder``, which holds a run."""
    return ConfigError(
        f"{folder} already holds a run; continue it with resume={folder}, or choose another "
        "folder (hydra.run.dir=...)"
    )


def claim_run_folder(folder: Path) -> None:
    """Claim ``folder`` for a new run (not a resume): refuse one that holds a run, and make two
    runs started at once in the same folder fail in all but one (``run.json`` created
    exclusively, filled in later by the run's identity)."""
    files = RunFolder(folder)
    if files.checkpoints.is_dir():
        raise run_folder_taken(folder)
    try:
        fd = os.open(files.run_json, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise run_folder_taken(folder) from None
    os.close(fd)


def check_train_config(cfg: DictConfig) -> None:
    """Refuse configurations that would fail late or silently, naming the key."""
    data = cfg.get("data")
    if data is not None and "crop_size" in data:
        crop = data.crop_size
        if not isinstance(crop, int) or crop <= 0:
            raise ConfigError(f"data.crop_size must be a positive integer, got {crop!r}")
    multirun, launcher = _launch_context()
    if multirun and launcher != "submitit_slurm" and starts_rank_processes(cfg.trainer):
        raise ConfigError(
            f"trainer.strategy={cfg.trainer.get('strategy', 'auto')} with "
            f"trainer.devices={cfg.trainer.get('devices', 1)} inside a local multirun would "
            "re-launch this sweep in every rank; use launcher=slurm (one SLURM job per sweep "
            "point, SLURM starts the ranks) or a single run"
        )


def _launch_context() -> tuple[bool, str]:
    """(is this a multirun job, Hydra launcher name); (False, "basic") outside @hydra.main."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():  # tests, notebooks
        return False, "basic"
    hydra_cfg = HydraConfig.get()
    multirun = str(hydra_cfg.mode) == "RunMode.MULTIRUN"
    return multirun, str(hydra_cfg.runtime.choices.get("hydra/launcher") or "basic")


def _process_count(devices: object, accelerator: str) -> int:
    """How many processes Lightning starts for ``devices`` (a best guess for "auto" and -1)."""
    if not isinstance(devices, int | str):  # a list of device indices
        return len(devices)  # type: ignore[arg-type]
    text = str(devices).strip()
    if "," in text:  # "0,1"
        return len([d for d in text.split(",") if d.strip()])
    if text.isdigit():
        return int(text)
    # "auto" or -1: every visible GPU (one CPU process unless asked for more)
    if accelerator in ("cpu", "mps"):
        return 1
    import torch

    return max(1, torch.cuda.device_count())


def starts_rank_processes(trainer: DictConfig) -> bool:
    """True when Lightning would start the ranks by re-running this command: ``ddp``, ``fsdp``,
    ``deepspeed`` or ``auto`` with several devices (or nodes). False for one process, and for the
    strategies that start their ranks inside this process (``ddp_spawn``, ``ddp_fork``, ...)."""
    strategy = str(trainer.get("strategy", "auto"))
    if any(kind in strategy for kind in ("spawn", "fork", "notebook")):
        return False
    accelerator = str(trainer.get("accelerator", "auto"))
    processes = _process_count(trainer.get("devices", "auto"), accelerator)
    processes *= int(trainer.get("num_nodes", 1) or 1)
    return processes > 1 and (
        strategy == "auto" or strategy.startswith(("ddp", "fsdp", "deepspeed"))
    )


def check_writable(folder: Path) -> None:
    """One line when the run folder cannot be created or written (read-only disk or folder)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot create the run folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{folder}: the run folder is not writable")


_NUMERIC = ("lr", "weight_decay", "eps", "momentum", "eta_min", "gamma", "T_max", "step_size")


def check_schedule(cfg: DictConfig, module: Any) -> None:
    """Build the optimizer and LR scheduler once on a stand-in parameter, so a bad value
    (``schedule.optimizer.lr=abc``) is one line naming the key now, not a traceback when the
    training starts."""
    import torch

    schedule = cfg.get("schedule") or {}
    for part in ("optimizer", "scheduler"):
        section = schedule.get(part) or {}
        for key in _NUMERIC:
            value = section.get(key)
            if value is not None and (
                isinstance(value, str | bool) or not isinstance(value, int | float)
            ):
                raise ConfigError(f"schedule.{part}.{key} must be a number, got {value!r}")
    if module.optimizer_factory is None:
        return
    try:
        optimizer = module.optimizer_factory(params=[torch.zeros(1, requires_grad=True)])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"schedule.optimizer: {str(exc).splitlines()[0]}") from None
    if module.scheduler_factory is not None:
        try:
            scheduler = module.scheduler_factory(optimizer=optimizer)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"schedule.scheduler: {str(exc).splitlines()[0]}") from None
        check_plateau(scheduler, module.scheduler_interval)


def check_plateau(scheduler: Any, interval: str) -> None:
    """ReduceLROnPlateau follows the validation PSNR, which rises as training improves, once per
    validation: it needs ``mode: max`` and ``schedule.interval: epoch`` (one line otherwise)."""
    import torch

    if not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return
    if scheduler.mode != "max":
        raise ConfigError(
            f"schedule.scheduler.mode: ReduceLROnPlateau follows val/psnr (higher is better), so "
            f"it needs mode=max, got {scheduler.mode!r} (+schedule.scheduler.mode=max)"
        )
    if interval != "epoch":
        raise ConfigError(
            f"schedule.interval: ReduceLROnPlateau steps after each validation, so it needs "
            f"interval=epoch, got {interval!r}"
        )


def check_start_checkpoint(path: str | Path, module: nn.Module) -> dict[str, Any]:
    """Read ``ckpt_path`` (``weights_only=True``) and check that it is a Lightning training
    checkpoint whose weights fit ``module``; returns the checkpoint. One-line CheckpointError
    naming the file otherwise (missing, truncated, random bytes, a weight file, another model)."""
    from deblurlab.checkpoint import check_fit, is_lightning_checkpoint, read_checkpoint

    checkpoint = read_checkpoint(path)
    if not is_lightning_checkpoint(checkpoint):
        raise CheckpointError(
            f"{path}: not a deblurlab training checkpoint (a weight file? start from it with "
            "model.pretrained=... instead of ckpt_path=...)"
        )
    check_fit(
        checkpoint["state_dict"],
        module,
        path,
        what="the configured model",
        hint="was it trained with another model config?",
        finite=False,
    )
    return checkpoint


def finished_run(checkpoint: dict[str, Any], cfg: DictConfig) -> str | None:
    """A message when ``checkpoint`` already completed ``cfg``'s schedule, else None."""
    from deblurlab.lit.checkpointing import STATE_KEY

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
