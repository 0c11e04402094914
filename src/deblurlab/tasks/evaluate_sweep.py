"""Score every training run of a sweep on another dataset or protocol: ``deblurlab-eval sweep=DIR``.

Each run under ``DIR`` (a folder with ``.hydra/config.yaml`` and ``metrics.json``) is scored with
its ``checkpoints/<sweep_checkpoint>`` (``last.ckpt``, the final model, by default) exactly as
``deblurlab-eval ckpt_path=<that file>`` with the same other keys would score it, into
``<run folder>/<run's path under DIR>/`` (``summary.json``, ``per_image.csv``, test crops and a
``.hydra/`` record the report reads). Then the report of the scored runs goes beside them
(:func:`deblurlab.report.report`), with ``sweep.json`` listing what was scored and what refused.

A run that cannot be scored (unfinished, no such checkpoint, a checkpoint that does not load or
does not fit the model) is refused in one line naming its folder and the reason; the others go
on. The command fails (exit 2) only when no run could be scored.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from deblurlab.data.roots import check_data_roots
from deblurlab.errors import ConfigError, DataError
from deblurlab.run.task import close_wandb, user_error
from deblurlab.runfiles import RunFolder, SweepEvaluation


def _natural_key(path: Path) -> list[Any]:
    """Jobs 0, 1, ..., 10 in that order (not 0, 1, 10, 2)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def sweep_runs(sweep: Path, exclude: Path | None = None) -> list[RunFolder]:
    """The training-run folders under ``sweep`` (``.hydra/config.yaml`` and no ``summary.json``,
    which marks an evaluation), in job order; ``exclude``: a folder whose contents are skipped."""
    found = []
    for config in sweep.rglob(".hydra/config.yaml"):
        folder = RunFolder(config.parent.parent)
        if exclude is not None and folder.path.resolve().is_relative_to(exclude.resolve()):
            continue
        if not folder.summary_json.is_file():
            found.append(folder)
    return sorted(found, key=lambda f: _natural_key(f.path))


def _hydra_choices() -> dict[str, Any]:
    """This command's config-group choices (``data=hide``, ...): the report reads them from each
    scored run's ``.hydra/hydra.yaml`` to say what differs from training."""
    try:
        choices = HydraConfig.get().runtime.choices
    except ValueError:  # not under Hydra
        return {}
    return OmegaConf.to_container(choices) if choices is not None else {}


def _refusal(run: RunFolder, checkpoint: Path) -> str | None:
    """Why ``run`` cannot be scored before anything is read, else None."""
    if not run.metrics_json.is_file():
        return f"unfinished (no {run.metrics_json.name})"
    if not checkpoint.is_file():
        return f"no {checkpoint.relative_to(run.path)}"
    return None


def _record_job(folder: Path, job_cfg: DictConfig, choices: dict[str, Any]) -> Path:
    """What Hydra records of a run, for a scored run: its config and this command's choices."""
    job = RunFolder(folder)
    job.hydra_config.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(job_cfg, job.hydra_config)
    OmegaConf.save(
        OmegaConf.create({"hydra": {"runtime": {"choices": choices}}}), job.hydra_runtime
    )
    return folder


def evaluate_sweep(
    cfg: DictConfig, evaluate: Callable[[DictConfig], dict[str, Any]]
) -> dict[str, Any]:
    """Score every finished run of the sweep folder ``cfg.sweep`` with ``evaluate`` (the one-run
    evaluation, passed in so that it and this module do not import each other; see the module's
    docstring); returns what was scored and what refused."""
    from deblurlab.report import report

    sweep = Path(str(cfg.sweep)).expanduser()
    if not sweep.is_dir():
        raise ConfigError(f"sweep={cfg.sweep}: not a folder")
    if cfg.get("ckpt_path") is not None or cfg.get("pretrained") is not None:
        raise ConfigError(
            "sweep= scores each run's own checkpoint (sweep_checkpoint=last.ckpt | best.ckpt); "
            "leave ckpt_path= and pretrained= unset"
        )
    name = str(cfg.get("sweep_checkpoint") or "last.ckpt")
    if Path(name).name != name:
        raise ConfigError(f"sweep_checkpoint={name}: a file name in checkpoints/, e.g. last.ckpt")
    check_data_roots(cfg.get("data"))  # one line now, not one refusal per run
    out = Path(cfg.paths.output_dir)
    runs = sweep_runs(sweep, exclude=out)
    if not runs:
        raise DataError(f"sweep={sweep}: no training runs in it (folders with .hydra/config.yaml)")
    choices = _hydra_choices()
    scored: list[Path] = []
    refused: dict[str, str] = {}
    for run in runs:
        checkpoint = run.checkpoints / name
        reason = _refusal(run, checkpoint)
        job = run.path.relative_to(sweep).as_posix() if run.path != sweep else run.path.name
        if reason is None:
            job_cfg = copy.deepcopy(cfg)
            with open_dict(job_cfg):
                job_cfg.sweep = None
                job_cfg.ckpt_path = str(checkpoint)
                job_cfg.paths.output_dir = str(out / job)
                # an explicit run_name=... names each job's logger run <run_name>/<job>, so the
                # runs stay apart (without one, each is named after the run it scores)
                job_cfg.run_name = f"{cfg.run_name}/{job}"
            failed = True
            try:
                evaluate(job_cfg)
                failed = False
                scored.append(_record_job(out / job, job_cfg, choices))
            except Exception as exc:  # a user error refuses this run only; a bug stops the command
                reason = user_error(exc)
                if reason is None:
                    raise
                if (out / job).is_dir() and not any((out / job).iterdir()):
                    (out / job).rmdir()  # made before the checkpoint was read; nothing in it
            finally:
                close_wandb(failed)  # one logger run per scored run
        if reason is not None:
            refused[str(run.path)] = reason
            print(f"refused: {run.path}: {reason}", flush=True)
    record = SweepEvaluation(
        sweep=str(sweep),
        checkpoint=name,
        scored=[str(p) for p in scored],
        refused=refused,
    )
    record.write(out)
    if not scored:
        raise DataError(
            f"sweep={sweep}: none of its {len(runs)} runs could be scored (each refused above)"
        )
    written = report(scored, out)
    print(
        f"scored {len(scored)} of {len(runs)} runs of {sweep} ({name}); "
        f"{len(refused)} refused -> {out}",
        flush=True,
    )
    return {**record.to_dict(), "report": str(written["out"])}
