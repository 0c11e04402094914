"""Where the configs live, the OmegaConf resolvers they use, and config checks with one-line errors."""

from __future__ import annotations

import importlib.resources
import os

from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import ConfigError

# The configs ship inside the package (deblurlab/conf/); Hydra finds them through the import system,
# so an installed wheel works from any directory and nothing is located at import time.
CONFIG_PATH = "pkg://deblurlab.conf"


def register_resolvers() -> None:
    """Resolvers used in the configs (idempotent)."""
    if not OmegaConf.has_resolver("deblurlab_pid"):
        OmegaConf.register_new_resolver("deblurlab_pid", lambda: os.getpid(), use_cache=True)
    if not OmegaConf.has_resolver("deblurlab_precision"):
        # ${deblurlab_precision:${trainer.accelerator}}: bf16-mixed where bf16 is native, else 32-true
        OmegaConf.register_new_resolver("deblurlab_precision", _trainer_precision)
    if not OmegaConf.has_resolver("deblurlab_options"):
        # ${deblurlab_options:data} -> "folder, gopro, ...": a group's options, for --help texts
        OmegaConf.register_new_resolver("deblurlab_options", group_options)


def _trainer_precision(accelerator: str) -> str:
    # imported on use: --help and config composition need no torch
    from deblurlab.hardware import trainer_precision

    return trainer_precision(accelerator)


def group_options(group: str) -> str:
    """The options of the config group ``group`` (its ``.yaml`` files), comma separated."""
    folder = importlib.resources.files("deblurlab.conf").joinpath(*group.split("/"))
    names = sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )
    return ", ".join(names)


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
