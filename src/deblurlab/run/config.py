"""Where the configs live, which config groups and options they offer, and the resolvers they use."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from omegaconf import OmegaConf

from deblurlab.runfiles import RunFolder

# The configs (conf/ in a checkout) ship as the package deblurlab.conf; Hydra finds them through
# the import system, so an installed wheel works from any directory.
CONFIG_PATH = "pkg://deblurlab.conf"


def register_resolvers() -> None:
    """Resolvers used in the configs (idempotent)."""
    if not OmegaConf.has_resolver("deblurlab_pid"):
        OmegaConf.register_new_resolver("deblurlab_pid", lambda: os.getpid(), use_cache=True)
    if not OmegaConf.has_resolver("deblurlab_precision"):
        # ${deblurlab_precision:${trainer.accelerator}}: bf16-mixed where bf16 is native, else 32-true
        OmegaConf.register_new_resolver("deblurlab_precision", _trainer_precision)
    if not OmegaConf.has_resolver("deblurlab_record"):
        # hydra.output_subdir: a job whose folder already holds a run leaves that run's record alone
        OmegaConf.register_new_resolver("deblurlab_record", record_subdir)
    if not OmegaConf.has_resolver("deblurlab_options"):
        # ${deblurlab_options:data} -> "folder, gopro, ...": a group's options, for --help texts
        OmegaConf.register_new_resolver("deblurlab_options", group_options)


def _trainer_precision(accelerator: str) -> str:
    # imported on use: --help and config composition need no torch
    from deblurlab.hardware import trainer_precision

    return trainer_precision(accelerator)


def record_subdir(output_dir: str) -> str | None:
    """Where Hydra writes a job's record (``hydra.output_subdir``): ``.hydra`` in a new folder,
    nothing (None) in one that already holds a training run, whose record is the run's own and
    stays as it is while the job skips, continues or refuses that run (deblurlab.run.resume)."""
    try:
        holds = RunFolder(Path(output_dir)).run_json.exists()
    except (OSError, ValueError):
        holds = False
    return None if holds else ".hydra"


def config_root() -> Path:
    """The folder of the shipped configs (``conf/`` in a checkout, the installed package else)."""
    return Path(str(importlib.resources.files("deblurlab.conf")))


def group_options(group: str) -> str:
    """The options of the config group ``group`` (its ``.yaml`` files), comma separated."""
    return ", ".join(sorted(p.stem for p in (config_root() / group).glob("*.yaml")))


def config_groups() -> dict[str, list[str]]:
    """``{group: [options]}`` of the shipped config groups (``hydra/help`` included)."""
    root = config_root()
    groups: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        options = sorted(f.stem for f in folder.glob("*.yaml"))
        if options:
            groups[folder.relative_to(root).as_posix()] = options
    return groups
