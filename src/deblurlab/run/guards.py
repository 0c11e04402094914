"""Checks a training run makes before anything heavy starts, each failing in one line (exit 2).

- :func:`claim_run_folder`: a folder that already holds a run is never reused by a new run;
- :func:`check_start_checkpoint`: ``ckpt_path`` (and ``resume=``'s ``last.ckpt``) is a readable
  deblurlab training checkpoint whose weights fit the configured network;
- :func:`finished_run`: resuming a run whose schedule is complete changes nothing;
- :func:`check_writable`: the run folder can be written;
- :func:`check_output_folder`: before Hydra runs, the folder the run folder goes in can be
  written (``hydra.run.dir`` or ``paths.log_dir``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from deblurlab.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # torch is imported on use: the commands' --help runs these checks without it
    from torch import nn

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
    from deblurlab.checkpoint import is_lightning_checkpoint, read_checkpoint

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
    folders = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")]
    if not folders or any(a.startswith("resume=") for a in argv):
        return  # (Lightning, for the rank, is imported only when needed: --help stays light)
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank != 0:
        return
    for value in folders:
        folder = Path(value.strip("'\"")).expanduser()
        if holds_run(folder):
            raise ConfigError(
                f"{folder} already holds a run; continue it with resume={folder}, or "
                "choose another folder (hydra.run.dir=...)"
            )


def _override(argv: list[str], key: str) -> str | None:
    """The value of ``key=VALUE`` (or ``+key=VALUE``) on the command line, else None."""
    found = None
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name.lstrip("+") == key:
            found = value.strip("'\"")
    return found


def default_log_dir(argv: list[str]) -> Path:
    """``paths.log_dir`` as the command line will resolve it (the shipped paths config, with the
    command line's ``paths.*`` overrides and ``DEBLURLAB_ROOT``): run folders are made under it."""
    import importlib.resources

    from omegaconf import OmegaConf

    paths = OmegaConf.load(
        Path(str(importlib.resources.files("deblurlab.conf"))) / "paths" / "default.yaml"
    )
    for key in ("root_dir", "log_dir"):
        value = _override(argv, f"paths.{key}")
        if value is not None:
            paths[key] = value
    return Path(str(OmegaConf.create({"paths": paths}).paths.log_dir)).expanduser()


def check_output_folder(argv: list[str]) -> None:
    """Before Hydra creates the run folder: the folder it goes in (``hydra.run.dir``, with
    ``-m`` ``hydra.sweep.dir``, else under ``paths.log_dir``) can be created and written.
    Otherwise one line naming the key and the first folder on the way that is not writable."""
    multirun = any(a in ("-m", "--multirun") for a in argv)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    value = _override(argv, key)
    if value is None:
        try:
            key, folder = "paths.log_dir", default_log_dir(argv)
        except Exception:  # an override only Hydra can resolve: Hydra reports on it
            return
    else:
        folder = Path(value).expanduser()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
        hint = "" if value is not None else " (set DEBLURLAB_ROOT=... or hydra.run.dir=...)"
        raise ConfigError(f"{key}={folder}: {existing} is not a writable folder{hint}")


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
            module.scheduler_factory(optimizer=optimizer)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"schedule.scheduler: {str(exc).splitlines()[0]}") from None


def config_group_choices() -> dict[str, list[str]]:
    """``{group: [options]}`` of the shipped config groups (folders of the config package)."""
    import importlib.resources

    root = Path(str(importlib.resources.files("deblurlab.conf")))
    groups: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        options = sorted(f.stem for f in folder.glob("*.yaml"))
        if options:
            groups[folder.relative_to(root).as_posix()] = options
    return groups


def check_group_choices(argv: list[str]) -> None:
    """``group=option`` overrides naming an option that does not exist: one line listing the
    choices (Hydra would print a multi-line error). Skipped with an extra config dir."""
    if any(a.startswith(("--config-dir", "-cd", "hydra.searchpath", "resume=")) for a in argv):
        return
    groups = config_group_choices()
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+")
        if not sep or key not in groups or arg.startswith("~"):
            continue
        values = [v.strip() for v in value.split(",")] if "," in value else [value.strip()]
        for option in values:
            if option in ("null", "") or option.startswith(("choice(", "range(", "glob(")):
                continue
            if option not in groups[key]:
                raise ConfigError(
                    f"{key}={option}: no such option; choices: {', '.join(groups[key])}"
                )
