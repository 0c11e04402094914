"""Run folders -> :class:`RunResult`: what the report knows of each finished run.

A training run is a folder with ``metrics.json`` and ``.hydra/``; an evaluation
(``deblurlab-eval``) is a folder with ``summary.json`` and ``.hydra/``, reported in the table of
the run whose checkpoint it scored. Both files are read through :mod:`deblurlab.runfiles`. The
paper's numbers come from each run's own config (the experiment's ``paper`` node).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import DataError
from deblurlab.runfiles import EvalSummary, RunFolder, TrainMetrics

_NAMES = RunFolder(Path())
# what a finished run leaves (named for the person reading the report)
FINISHED = f"{_NAMES.metrics_json.name} or {_NAMES.summary_json.name}"
# Forward passes of a self-ensemble per image (the rotated/flipped copies cost as much as the original).
ENSEMBLE_PASSES = {None: 1, "rot4": 4, "x8": 8}


@dataclass
class RunResult:
    """One finished run (training or evaluation), as the report sees it."""

    path: str
    kind: str  # train | eval
    group: str  # the table it belongs to (experiment or sweep name)
    label: str  # the row (the paper's row name, else model + overrides)
    protocol: str
    split: str
    psnr: float | None  # the headline: the final model's (``test/psnr_last``), see ``tested``
    ssim: float | None  # per-channel SSIM of the same model
    params: int | None
    macs: int | None
    runtime_s: float | None
    device: str | None
    seed: int | None
    paper: dict[str, Any] = field(default_factory=dict)
    data: str | None = None  # the data option the numbers come from (gopro, synthetic, ...)
    selected_on: str | None = (
        None  # where the best checkpoint was chosen: test | val | train_holdout
    )
    # MATLAB's 3-D SSIM of the headline model (protocols that report it: gopro)
    ssim_matlab: float | None = None
    # the best-by-validation model, tested beside the final one, and what it was chosen on
    psnr_best: float | None = None
    ssim_best: float | None = None
    ssim_matlab_best: float | None = None
    best_selected_on: str | None = None
    # which model the headline scores are of: last (the final model, as the papers report),
    # tested (an older run that tested one checkpoint, the best, as ``test/psnr``), checkpoint (an
    # evaluation of the checkpoint it names), val (no test: validation of the best checkpoint)
    tested: str = "last"
    # the ablation switches of the run (``paper.components``: name -> config key), on or off
    components: dict[str, bool] = field(default_factory=dict)
    checkpoint: str | None = None  # the file an evaluation scored


def _load_yaml(path: Path) -> DictConfig:
    return OmegaConf.load(path) if path.is_file() else OmegaConf.create({})


def _choice(folder: RunFolder, group: str) -> str | None:
    """The option chosen for a config group in that run (from Hydra's saved settings)."""
    hydra_cfg = _load_yaml(folder.hydra_runtime)
    return OmegaConf.select(hydra_cfg, f"hydra.runtime.choices.{group}", default=None)


def _plain(cfg: DictConfig, key: str) -> Any:
    """A config value without resolving interpolations that point at Hydra's runtime."""
    node = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
    return OmegaConf.to_container(node) if isinstance(node, DictConfig) else node


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _without_seed(name: str) -> str:
    return re.sub(r"\s*\bseed=\S+", "", name).strip()


def _components(cfg: DictConfig, paper: dict[str, Any]) -> dict[str, bool]:
    """Which ablation switches are on in a run: ``paper.components`` maps each component's name
    to the config key that switches it (on: a true or non-zero value)."""
    keys = paper.get("components") or {}
    return {str(name): bool(_plain(cfg, str(key))) for name, key in keys.items()}


def read_train_run(run_dir: Path) -> RunResult:
    """A training run: the final model's test scores (``test/<metric>_last``) and the best one's
    (``test/<metric>_best``); an older run's single ``test/<metric>``; else the validation of its
    best checkpoint."""
    folder = RunFolder(run_dir)
    metrics = TrainMetrics.read(run_dir)
    cfg = _load_yaml(folder.hydra_config)
    paper = _plain(cfg, "paper") or {}
    if metrics.score("test/psnr_last") is not None:
        tested, suffix = "last", "_last"
    elif metrics.score("test/psnr") is not None:
        tested, suffix = "tested", ""
    else:
        tested, suffix = "val", None
    split = "val" if suffix is None else "test"
    best = "" if tested == "tested" else "_best"
    name = str(metrics.name or metrics.model or run_dir.name)

    def test(metric: str) -> float | None:
        return None if suffix is None else metrics.score(f"test/{metric}{suffix}")

    best_on = getattr(metrics, "best_selected_on", None) or metrics.scores.get("best_selected_on")
    return RunResult(
        path=str(run_dir),
        kind="train",
        group=str(metrics.group or _choice(folder, "experiment") or run_dir.parent.name),
        label=str(paper.get("row") or _without_seed(name)),
        protocol=metrics.protocol,
        split=split,
        psnr=test("psnr") if suffix is not None else metrics.score("val/psnr_best"),
        ssim=test("ssim") if suffix is not None else metrics.score("val/ssim"),
        params=metrics.num_params,
        macs=metrics.test_macs if metrics.test_macs is not None else metrics.macs,
        runtime_s=metrics.score("test/runtime_s"),
        device=metrics.scores.get("test/device"),
        seed=_plain(cfg, "seed"),
        paper=paper,
        data=_choice(folder, "data"),
        selected_on=metrics.selected_on,
        ssim_matlab=test("ssim_matlab"),
        # an older run's one test was of its best checkpoint
        psnr_best=metrics.score(f"test/psnr{best}"),
        ssim_best=metrics.score(f"test/ssim{best}"),
        ssim_matlab_best=metrics.score(f"test/ssim_matlab{best}"),
        best_selected_on=str(best_on) if best_on else None,
        tested=tested,
        components=_components(cfg, paper),
    )


def read_eval_run(run_dir: Path) -> RunResult:
    """A ``deblurlab-eval`` folder; the paper's numbers come from the scored run's experiment,
    ``paper.evaluations.<key>``, where key names what differs from training (``hide``, ``rot4``,
    ``hide+rot4``); nothing differs: the experiment's own row."""
    folder = RunFolder(run_dir)
    summary = EvalSummary.read(run_dir)
    train = RunFolder.of_checkpoint(summary.checkpoint)
    train_cfg = _load_yaml(train.hydra_config)
    trained = TrainMetrics.read(train.path) if train.metrics_json.is_file() else None
    paper = _plain(train_cfg, "paper") or {}
    components = _components(train_cfg, paper)
    differs = []
    data = _choice(folder, "data")
    if data and data != _choice(train, "data"):
        differs.append(str(data))
    if summary.ensemble and summary.ensemble != _plain(train_cfg, "model.ensemble"):
        differs.append(str(summary.ensemble))
    if differs:
        # rows without their own numbers for this evaluation keep their name, marked with what
        # changed, so the columns of a re-scored sweep stay apart (and keep their baseline)
        marked = [str(paper.get("row") or summary.model or "?"), *differs]
        baseline = paper.get("baseline")
        paper = {
            "source": paper.get("source"),
            "protocol": paper.get("protocol"),
            "data": data if data in differs else paper.get("data"),
            "row": " ".join(marked),
            **({"baseline": " ".join([str(baseline), *differs])} if baseline else {}),
            **((paper.get("evaluations") or {}).get("+".join(differs)) or {}),
        }
    macs = trained.macs if trained is not None else None
    return RunResult(
        path=str(run_dir),
        kind="eval",
        group=str(
            (trained.group if trained is not None else None)
            or _choice(train, "experiment")
            or "evaluations"
        ),
        label=str(paper.get("row") or " ".join([summary.model or "?", *differs])),
        protocol=summary.protocol,
        split=summary.split,
        psnr=_finite(summary.psnr),
        ssim=_finite(summary.ssim),
        params=trained.num_params if trained is not None else None,
        macs=macs * ENSEMBLE_PASSES.get(summary.ensemble, 1) if macs is not None else None,
        runtime_s=_finite(summary.median_seconds),
        device=None,
        seed=_plain(train_cfg, "seed"),
        paper=paper,
        data=data or _choice(train, "data"),
        selected_on=trained.selected_on if trained is not None else None,
        ssim_matlab=_finite(summary.ssim_matlab),
        tested="checkpoint",
        components=components,
        checkpoint=str(summary.checkpoint),
    )


def _natural_key(path: Path) -> list[Any]:
    """Sort multirun jobs 0, 1, ..., 10 (not 0, 1, 10, 2)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def collect_runs(roots: list[Path]) -> tuple[list[RunResult], list[Path]]:
    """Finished runs under ``roots`` (in folder order) and the folders of unfinished ones;
    DataError when there is no finished run at all."""
    runs: list[RunResult] = []
    unfinished: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise DataError(f"{root}: not a folder")
        for folder in sorted(
            (RunFolder(c.parent.parent) for c in root.rglob(".hydra/config.yaml")),
            key=lambda f: _natural_key(f.path),
        ):
            if folder.metrics_json.is_file():
                runs.append(read_train_run(folder.path))
            elif folder.summary_json.is_file():
                runs.append(read_eval_run(folder.path))
            elif not folder.sweep_json.is_file():  # deblurlab-eval sweep=: its runs are below
                unfinished.append(folder.path)
    if not runs:
        raise DataError(
            f"{', '.join(map(str, roots))}: no finished runs (folders with {FINISHED} next to "
            ".hydra/)"
        )
    return runs, unfinished


def write_runs_csv(runs: list[RunResult], path: Path) -> None:
    """One line per run, the paper's numbers flattened as ``paper_<key>``."""
    records = []
    for run in runs:
        record = {k: v for k, v in asdict(run).items() if k not in ("paper", "components")}
        record |= {f"component_{name}": on for name, on in run.components.items()}
        for key in ("row", "psnr", "ssim", "params_m", "runtime_s"):
            record[f"paper_{key}"] = run.paper.get(key)
        records.append(record)
    columns = list(dict.fromkeys(key for record in records for key in record))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
