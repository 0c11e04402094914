"""What a training command (a sweep with ``-m``) will cost before it is submitted: per point and
in total, the optimizer steps, a step time (measured over a few real steps here, or given for
the target GPU), the wall time, and the SLURM jobs a partition time limit splits it into.

The points are the jobs Hydra's basic sweeper would launch (the experiment's
``hydra.sweeper.params`` and the command's own ``a,b`` lists), composed exactly as the launcher
composes them. The steps come from each point's data (the training set's size), batch size,
number of ranks, ``limit_train_batches``, ``accumulate_grad_batches``, ``max_epochs`` and
``max_steps``. Validation, testing and start-up are not counted: the wall time is the training
steps' time. A job that reaches its time limit saves its checkpoint and is requeued, so a point
needs ``ceil(wall time / time limit)`` jobs, i.e. one less requeues.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from deblurlab.errors import ConfigError

CONF_MODULE = "deblurlab.conf"
WARMUP_STEPS = 2  # not timed: first-call allocations, lazy initialisation, autotuning


@dataclass(frozen=True)
class Point:
    """One job of the sweep: its overrides and its composed task config (no ``hydra`` key)."""

    overrides: tuple[str, ...]
    cfg: DictConfig
    timeout_min: float | None = None  # the SLURM launcher's time limit (launcher=slurm)


@dataclass
class PointPlan:
    """The cost of one point."""

    overrides: tuple[str, ...]
    steps: int
    steps_per_epoch: int
    epochs: int | None
    step_s: float
    step_source: str
    time_limit_s: float
    wall_s: float = field(init=False)
    jobs: int = field(init=False)

    def __post_init__(self) -> None:
        self.wall_s = self.steps * self.step_s
        self.jobs = max(1, math.ceil(self.wall_s / self.time_limit_s))

    @property
    def requeues(self) -> int:
        return self.jobs - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "overrides": list(self.overrides),
            "steps": self.steps,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "step_s": self.step_s,
            "step_time": self.step_source,
            "wall_s": self.wall_s,
            "jobs": self.jobs,
            "requeues": self.requeues,
        }


# --- durations -----------------------------------------------------------------------------------

_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, what: str = "--time-limit", bare_s: float = 60.0) -> float:
    """Seconds of ``24h``, ``90m``, ``2d``, ``1.5h``, ``45s``, ``50ms``, a bare number (of
    ``bare_s`` seconds: minutes, as SLURM reads one) or a SLURM time (``MM:SS``, ``HH:MM:SS``,
    ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``); one-line ConfigError otherwise."""
    value = text.strip().lower()
    unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)", value)
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value) * bare_s
    elif unit:
        seconds = float(unit.group(1)) * _UNIT_S[unit.group(2)]
    else:
        slurm = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value)
        if not slurm:
            raise ConfigError(
                f"{what}={text}: not a duration (e.g. 24h, 90m, 2d, or SLURM's 1-12:00:00)"
            )
        days, first, second, third = slurm.groups()
        parts = [int(p) for p in (first, second, third) if p is not None]
        if days is not None:  # D-HH[:MM[:SS]]
            parts += [0] * (3 - len(parts))
            seconds = int(days) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
        elif len(parts) == 3:  # HH:MM:SS
            seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
        elif len(parts) == 2:  # MM:SS
            seconds = parts[0] * 60 + parts[1]
        else:  # a bare number, read above
            raise ConfigError(f"{what}={text}: not a duration")
    if seconds <= 0:
        raise ConfigError(f"{what}={text}: must be longer than 0")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """``0.050 s``, ``12.0 min``, ``4.2 h``, ``3.1 d``: the unit a person reads at a glance."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


# --- the sweep's points --------------------------------------------------------------------------


def sweep_points(config_name: str, overrides: Sequence[str], multirun: bool) -> list[Point]:
    """The jobs ``deblurlab-train [-m] overrides`` would run, each composed as its launcher does.

    Raises ConfigError for a sweeper other than the basic one (Optuna chooses its points while it
    runs) and for a sweep override without ``-m``.
    """
    from hydra import initialize_config_module
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    from deblurlab.run.command_line import check_group_choices, read_command_line, read_overrides
    from deblurlab.run.config import register_resolvers

    register_resolvers()
    check_group_choices(read_command_line(["-m", *overrides] if multirun else list(overrides)))
    parsed = read_overrides(overrides)
    if not multirun:
        swept = [o.input_line for o in parsed if o.is_sweep_override()]
        if swept:
            raise ConfigError(f"{swept[0]}: a sweep; plan it with -m")
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        mode = RunMode.MULTIRUN if multirun else RunMode.RUN
        master = loader.load_configuration(config_name, list(overrides), run_mode=mode)
        if not multirun:
            return [Point(tuple(overrides), _task_config(master), _timeout_min(master))]
        sweeper = str(master.hydra.runtime.choices.get("hydra/sweeper") or "basic")
        if sweeper != "basic":
            raise ConfigError(
                f"hydra/sweeper={sweeper}: deblurlab-plan expands lists (a,b) and the basic "
                "sweeper's params only; plan one trial without hparams_search"
            )
        params = OmegaConf.select(master, "hydra.sweeper.params") or {}
        arguments = [f"{k}={v}" for k, v in params.items()]
        arguments += list(master.hydra.overrides.task)
        jobs = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(jobs, None)
        points = []
        for batch in batches:
            for job in batch:
                cfg = loader.load_sweep_config(master, list(job))
                points.append(Point(tuple(job), _task_config(cfg), _timeout_min(cfg)))
        return points


def _timeout_min(cfg: DictConfig) -> float | None:
    """The minutes a SLURM launcher's job trains: ``hydra.launcher.timeout_min`` less the
    ``signal_delay_s`` before it at which the job saves and requeues itself; None without one."""
    launcher = OmegaConf.select(cfg, "hydra.launcher") or {}
    if "slurm" not in str(launcher.get("_target_", "")).lower():
        return None
    value = OmegaConf.select(cfg, "hydra.launcher.timeout_min", throw_on_resolution_failure=False)
    if not isinstance(value, int | float):
        return None
    delay = OmegaConf.select(cfg, "hydra.launcher.signal_delay_s", default=0) or 0
    return float(value) - float(delay) / 60


def _task_config(cfg: DictConfig) -> DictConfig:
    """The task config of a composed config, resolvable without a running Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/nonexistent/deblurlab-plan"  # read by paths, never written
    HydraConfig.instance().set_config(cfg)
    task = copy.deepcopy(cfg)
    with open_dict(task):
        del task["hydra"]
    return OmegaConf.create(OmegaConf.to_container(task, resolve=True))


# --- steps ---------------------------------------------------------------------------------------


def world_size(trainer: DictConfig) -> int:
    """How many ranks share an epoch (devices x nodes for the strategies that start ranks)."""
    from deblurlab.run.preflight import _process_count

    strategy = str(trainer.get("strategy", "auto"))
    processes = _process_count(trainer.get("devices", 1), str(trainer.get("accelerator", "cpu")))
    processes *= int(trainer.get("num_nodes", 1) or 1)
    distributed = strategy == "auto" or strategy.startswith(("ddp", "fsdp", "deepspeed"))
    return processes if distributed else 1


def limited(batches: int, limit: Any) -> int:
    """Lightning's ``limit_*_batches``: an int caps the batches, a float takes that fraction."""
    if limit is None:
        return batches
    if isinstance(limit, float):
        n = int(batches * limit)
        return max(n, 1) if limit > 0 and batches > 0 else n
    return min(batches, int(limit))


def training_steps(
    cfg: DictConfig, samples: int, batch_size: int, drop_last: bool
) -> tuple[int, int, int | None]:
    """(total optimizer steps, steps per epoch, epochs) of ``cfg`` on ``samples`` training
    samples: each rank takes ``ceil(samples / ranks)`` (the distributed sampler pads)."""
    trainer = cfg.trainer
    per_rank = math.ceil(samples / world_size(trainer))
    batches = per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)
    batches = limited(batches, trainer.get("limit_train_batches"))
    accumulate = int(trainer.get("accumulate_grad_batches", 1) or 1)
    per_epoch = math.ceil(batches / accumulate)
    max_epochs = trainer.get("max_epochs")
    max_steps = int(trainer.get("max_steps", -1) or -1)
    epochs = int(max_epochs) if max_epochs is not None and int(max_epochs) >= 0 else None
    if epochs is None and max_steps <= 0:
        raise ConfigError("trainer.max_epochs and trainer.max_steps: neither ends the training")
    steps = per_epoch * epochs if epochs is not None else max_steps
    if max_steps > 0:
        steps = min(steps, max_steps)
    return steps, per_epoch, epochs


def training_samples(cfg: DictConfig) -> tuple[int, Any]:
    """The size of ``cfg``'s training set, and its datamodule (set up for fitting)."""
    from hydra.utils import instantiate

    from deblurlab.data.roots import check_data_roots

    check_data_roots(cfg.get("data"))
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return len(datamodule.train_set), datamodule


# --- step time -----------------------------------------------------------------------------------


def measure_step_time(cfg: DictConfig, datamodule: Any, steps: int) -> float:
    """Median seconds per optimizer step of ``cfg``'s model on its data, over ``steps`` steps after
    :data:`WARMUP_STEPS`, on one device of the configured accelerator (data loading included;
    no validation, logging or checkpoints)."""
    import pytorch_lightning as pl
    import torch

    from deblurlab.lit.build import build_module
    from deblurlab.lit.deblur_module import DeblurLitModule

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
            if torch.cuda.is_available() and trainer.strategy.root_device.type == "cuda":
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    pl.seed_everything(int(cfg.get("seed", 0)), verbose=False)
    module = build_module(cfg, DeblurLitModule)
    quiet = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch")]
    levels = [q.level for q in quiet]
    for q in quiet:  # the plan's table is the output, not Lightning's notes on the timing run
        q.setLevel(logging.WARNING)
    timer = StepTimer()
    trainer_cfg = cfg.trainer
    trainer = pl.Trainer(
        accelerator=str(trainer_cfg.get("accelerator", "cpu")),
        devices=1,
        precision=trainer_cfg.get("precision", "32-true"),
        max_steps=WARMUP_STEPS + steps,
        max_epochs=-1,
        accumulate_grad_batches=int(trainer_cfg.get("accumulate_grad_batches", 1) or 1),
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    try:
        trainer.fit(module, datamodule=datamodule)
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    gaps = [b - a for a, b in zip(timer.ends, timer.ends[1:], strict=False)][WARMUP_STEPS - 1 :]
    if not gaps:
        raise ConfigError("the training set is too small to time a step; give --step-time")
    return statistics.median(gaps)


# --- the plan ------------------------------------------------------------------------------------


def plan_points(
    points: Sequence[Point],
    time_limit_s: float,
    step_s: float | None = None,
    measure_steps: int = 5,
    measure: Callable[[DictConfig, Any, int], float] = measure_step_time,
) -> list[PointPlan]:
    """The cost of each point; points whose model, loss, data and trainer are the same (seeds of
    one configuration) share one measurement."""
    measured: dict[str, float] = {}
    plans = []
    for point in points:
        samples, datamodule = training_samples(point.cfg)
        steps, per_epoch, epochs = training_steps(
            point.cfg, samples, int(datamodule.batch_size), bool(datamodule.drop_last)
        )
        if step_s is not None:
            seconds, source = step_s, "given"
        else:
            key = json.dumps(
                {k: OmegaConf.to_container(point.cfg[k]) for k in _SAME_STEP if k in point.cfg},
                sort_keys=True,
                default=str,
            )
            if key not in measured:
                measured[key] = measure(point.cfg, datamodule, measure_steps)
            seconds = measured[key]
            source = f"measured ({measure_steps} steps)"
        plans.append(
            PointPlan(point.overrides, steps, per_epoch, epochs, seconds, source, time_limit_s)
        )
    return plans


_SAME_STEP = ("model", "loss", "data", "trainer", "schedule")


def render(plans: Sequence[PointPlan], time_limit_s: float, where: str) -> str:
    """The plan as a table, one line per point and a total, with what the numbers assume."""
    rows = [("point", "overrides", "steps", "step time", "wall time", "SLURM jobs")]
    for i, plan in enumerate(plans):
        rows.append(
            (
                str(i),
                " ".join(plan.overrides) or "(defaults)",
                f"{plan.steps:,}",
                format_duration(plan.step_s),
                format_duration(plan.wall_s),
                f"{plan.jobs} ({plan.requeues} requeues)",
            )
        )
    wall = sum(p.wall_s for p in plans)
    jobs = sum(p.jobs for p in plans)
    rows.append(
        (
            "total",
            f"{len(plans)} points",
            f"{sum(p.steps for p in plans):,}",
            "",
            format_duration(wall),
            f"{jobs} ({jobs - len(plans)} requeues)",
        )
    )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    sources = sorted({p.step_source for p in plans})
    lines.append("")
    lines.append(
        f"step time: {', '.join(sources)} {where}; wall time: training steps only (no "
        f"validation, test or start-up); SLURM jobs: wall time / time limit "
        f"{format_duration(time_limit_s)}, each job continuing from the last one's checkpoint"
    )
    return "\n".join(lines)


def machine() -> str:
    """What a measured step time was measured on: the GPU's name, else the CPU and its cores."""
    import os
    import platform

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def plan(
    overrides: Sequence[str],
    multirun: bool,
    time_limit: str | None = None,
    step_time: str | None = None,
    measure_steps: int = 5,
) -> tuple[list[PointPlan], float, str]:
    """The plan of ``deblurlab-train [-m] overrides``: (per-point plans, the time limit in
    seconds, a line saying where the step time comes from and which time limit applies).

    The time limit is ``time_limit``, else the SLURM launcher's ``timeout_min``
    (``launcher=slurm``), else 24 h.
    """
    if measure_steps < 1:
        raise ConfigError(f"--measure-steps must be at least 1, got {measure_steps}")
    step_s = parse_duration(step_time, "--step-time", bare_s=1.0) if step_time else None
    points = sweep_points("train", overrides, multirun)
    if time_limit is not None:
        limit_s, limit_from = parse_duration(time_limit), "--time-limit"
    elif points and points[0].timeout_min:
        limit_s = points[0].timeout_min * 60
        limit_from = "hydra.launcher.timeout_min less signal_delay_s"
    else:
        limit_s, limit_from = 24 * 3600.0, "default; set --time-limit"
    plans = plan_points(points, limit_s, step_s=step_s, measure_steps=measure_steps)
    where = "for the target (--step-time)" if step_s is not None else f"on {machine()}"
    return plans, limit_s, f"{where}; time limit from {limit_from}"
