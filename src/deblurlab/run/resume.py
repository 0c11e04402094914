"""``resume=<run dir>``: continue a run in its own folder, with its config and last checkpoint.

Hydra composes a config before any task code runs, so the command line is rewritten first:
``deblurlab-train resume=DIR [key=value ...]`` becomes a Hydra command line that composes
``DIR/.hydra/config.yaml`` (the run's own config, not today's ``conf/``), writes into ``DIR``
(``hydra.run.dir``) and starts from ``DIR/checkpoints/last.ckpt``. Further ``key=value`` overrides
still apply (e.g. more epochs: ``schedule.max_epochs=4000``). The original ``DIR/.hydra`` record is
kept; the resumed job's own record goes to ``DIR/.hydra-resume`` (outside ``.hydra``: a folder
there would become a config group of the next resume and clash with ``resume=``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from deblurlab.errors import ConfigError, DeblurlabError
from deblurlab.run.command_line import (
    CommandLine,
    read_command_line,
    read_overrides,
    resume_folder,
)
from deblurlab.run.config import config_groups
from deblurlab.runfiles import RunFolder, TrainMetrics

RESUME_RECORD = ".hydra-resume"
REPLACED = ("resume", "ckpt_path")  # set by the rewrite: the run's folder and its last.ckpt


def _quote(value: str) -> str:
    """A Hydra override value that stays one string whatever characters the path holds."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def last_checkpoint(run_dir: Path) -> Path:
    """``run_dir/checkpoints/last.ckpt``, with a one-line error when the run cannot be continued."""
    files = RunFolder(run_dir)
    if not files.hydra_config.is_file():
        raise ConfigError(f"resume={run_dir}: not a deblurlab run folder (no .hydra/config.yaml)")
    ckpt = files.checkpoints / "last.ckpt"
    if not ckpt.is_file():
        raise ConfigError(f"resume={run_dir}: no checkpoints/last.ckpt to continue from")
    return ckpt


def resume_argv(argv: list[str]) -> list[str]:
    """Rewrite ``argv`` (without the program name) for ``resume=<run dir>``; unchanged without it.

    Raises ConfigError for a folder that is not a finished-or-interrupted run, for a multirun
    (one run is continued at a time) and for a config-group choice (the run keeps its own).
    """
    command_line = read_command_line(argv)
    value = resume_folder(command_line)
    if value is None:
        return argv
    if command_line.multirun:
        raise ConfigError("resume=... continues one run; drop -m/--multirun")
    run_dir = Path(value).expanduser().resolve()
    ckpt = last_checkpoint(run_dir)
    groups = config_groups()
    for override in command_line.overrides:
        # the run's saved config is one flat file: a group choice there would replace a whole
        # section by the option's name instead of composing the option's file
        if override.key_or_group in groups and not override.is_delete():
            raise ConfigError(
                f"resume={run_dir}: {override.input_line} chooses a config group, but a resumed "
                f"run keeps the groups it started with; set its keys instead "
                f"({override.key_or_group}.<key>=...)"
            )
    replaced = {o.input_line for o in command_line.overrides if o.key_or_group in REPLACED}
    rest = [a for a in argv if a not in replaced]
    return [
        f"--config-path={run_dir / '.hydra'}",
        "--config-name=config",
        f"hydra.run.dir={_quote(str(run_dir))}",
        f"hydra.output_subdir={RESUME_RECORD}",
        f"resume={_quote(str(run_dir))}",
        f"ckpt_path={_quote(str(ckpt))}",
        *rest,
    ]


# --- a job whose folder already holds a run (a sweep run again, a requeued SLURM job) ------------
#
# Re-running a multirun command with the same ``hydra.sweep.dir`` gives every point the folder it
# had the first time (``<sweep dir>/<job number>``), and a requeued SLURM job restarts in its own
# folder. Such a job continues the run it finds there instead of refusing the folder or mixing two
# runs in it: a finished run is skipped, an interrupted one continues exactly from ``last.ckpt`` in
# the same folder and W&B run, a run of another config is refused naming the keys that differ.

SWEEP_RECORD = "multirun.yaml"
# keys that say how a run was started, not what it is
_NOT_COMPARED = frozenset({"resume", "ckpt_path"})
# overrides that say where a sweep's jobs run, not what they train: a sweep started on this
# machine may be completed through SLURM
_NOT_THE_COMMAND = frozenset({"launcher"})
_MAX_KEYS_SHOWN = 8


def _flat(node: object, prefix: str = "") -> dict[str, object]:
    """``{"a.b.c": value}`` of a nested config container (lists are values)."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, object] = {}
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(_flat(value, name))
        else:
            flat[name] = value
    return flat


def config_differences(old: DictConfig, new: DictConfig) -> list[str]:
    """The keys (dotted, unresolved values compared) whose value differs between two task configs,
    added or removed keys included; ``resume`` and ``ckpt_path`` are not compared."""
    a = _flat(OmegaConf.to_container(old, resolve=False))
    b = _flat(OmegaConf.to_container(new, resolve=False))
    keys = sorted(set(a) | set(b))
    return [
        k
        for k in keys
        if k.split(".")[0] not in _NOT_COMPARED and a.get(k, _MISSING) != b.get(k, _MISSING)
    ]


_MISSING = object()


def _recorded_config(run_dir: Path) -> DictConfig | None:
    """The config the run in ``run_dir`` last ran with: its ``resume=`` record, else its own."""
    for record in (RESUME_RECORD, ".hydra"):
        path = run_dir / record / "config.yaml"
        if path.is_file():
            loaded = OmegaConf.load(path)
            return loaded if isinstance(loaded, DictConfig) else None
    return None


def _finished_metrics(run_dir: Path) -> dict[str, Any] | None:
    """The final metrics of a finished run in ``run_dir`` (a readable ``metrics.json``), else None."""
    files = RunFolder(run_dir)
    if not files.metrics_json.is_file():
        return None
    try:
        return TrainMetrics.from_dict(
            json.loads(files.metrics_json.read_text()), files.metrics_json
        ).to_dict()
    except (ValueError, TypeError, DeblurlabError):
        return None  # half written: the run did not finish


@dataclass(frozen=True)
class InPlace:
    """What a job does with the run already in its folder: ``finished`` holds that run's final
    metrics (skip it); ``restart`` says it never saved a checkpoint (start it again, same folder);
    ``resumed``: the config was set to continue it (``resume``, ``ckpt_path``); a run whose
    training is complete then only tests (it was stopped before writing ``metrics.json``)."""

    finished: dict[str, Any] | None = None
    restart: bool = False
    resumed: bool = False


def continue_in_place(cfg: DictConfig, output_dir: Path, announce: bool = True) -> InPlace:
    """Decide what a training job does with the run its output folder already holds.

    - no run there (no ``run.json``), or an explicit ``resume=``: nothing to decide;
    - a run of another config than this job's (finished or not): ConfigError naming the folder
      and the differing keys, so that a sweep never mixes two configs under one point;
    - finished (``metrics.json``): print ``skipped: <folder> finished``; write nothing;
    - ``checkpoints/last.ckpt``: set ``resume`` and ``ckpt_path`` so the job continues it exactly,
      in the same folder and W&B run (the identity in ``run.json`` is kept);
    - no checkpoint yet: start again in the same folder.

    ``announce``: print the one line saying what is done (rank 0 only).
    """
    files = RunFolder(output_dir)
    if cfg.get("resume") or not files.run_json.exists():
        return InPlace()
    recorded = _recorded_config(output_dir)
    if recorded is None:
        raise ConfigError(
            f"{output_dir}: holds a run without its config (.hydra/config.yaml); choose another "
            "folder"
        )
    differences = config_differences(recorded, cfg)
    if differences:
        shown = ", ".join(differences[:_MAX_KEYS_SHOWN])
        more = (
            f" and {len(differences) - _MAX_KEYS_SHOWN} more"
            if len(differences) > _MAX_KEYS_SHOWN
            else ""
        )
        raise ConfigError(
            f"{output_dir}: holds a run of another config (differs in {shown}{more}); run the "
            "command that started it, or choose another folder"
        )
    finished = _finished_metrics(output_dir)
    if finished is not None:
        if announce:
            print(f"skipped: {output_dir} finished", flush=True)
        return InPlace(finished=finished)
    ckpt = files.checkpoints / "last.ckpt"
    if not ckpt.is_file():
        if announce:
            print(f"restarting: {output_dir} (it saved no checkpoint to continue from)", flush=True)
        return InPlace(restart=True)
    if announce:
        print(f"resuming: {output_dir} from {ckpt}", flush=True)
    with open_dict(cfg):
        cfg.resume = str(output_dir)
        cfg.ckpt_path = str(ckpt)
    return InPlace(resumed=True)


def _command(overrides: list[str]) -> list[str]:
    """The overrides that make a sweep what it is (Hydra's own and the launcher's left out)."""
    kept = []
    for override in read_overrides(overrides):
        if override.is_hydra_override() or override.key_or_group in _NOT_THE_COMMAND:
            continue
        kept.append(override.input_line)
    return kept


def check_sweep_folder(command_line: CommandLine) -> None:
    """Before Hydra writes into an explicit ``hydra.sweep.dir=DIR`` of a multirun: DIR is new,
    empty, or a sweep of the same command (whose jobs then skip, continue or start their runs);
    one line otherwise."""
    if not command_line.multirun:
        return
    try:
        value = command_line.text("hydra.sweep.dir")
    except ConfigError:
        return  # a sweep over sweep folders: Hydra refuses it
    if value is None:
        return
    folder = Path(value).expanduser()
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    record = folder / SWEEP_RECORD
    if not record.is_file():
        raise ConfigError(
            f"hydra.sweep.dir={folder}: holds files but no {SWEEP_RECORD} (not a sweep folder); "
            "choose another folder"
        )
    try:
        saved = OmegaConf.load(record)
        before = [str(o) for o in OmegaConf.select(saved, "hydra.overrides.task", default=[]) or []]
    except Exception:  # an unreadable record: not the sweep of this command
        before = None
    now = _command([o.input_line for o in command_line.overrides])
    if before is None or _command(before) != now:
        shown = " ".join(_command(before)) if before is not None else "unreadable"
        raise ConfigError(
            f"hydra.sweep.dir={folder}: holds a sweep of another command ({shown}); re-run that "
            "command to complete it, or choose another folder"
        )
