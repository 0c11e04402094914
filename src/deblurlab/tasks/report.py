"""Finished runs -> a markdown table beside the papers' numbers, and a plot: what
``deblurlab-report`` does.

Reads only the files runs leave behind (no network): a training run is a folder with
``metrics.json`` and ``.hydra/config.yaml``; an evaluation (``deblurlab-eval``) is a folder with
``summary.json`` and ``.hydra/``, reported in the table of the run whose checkpoint it scored.
The paper's numbers come from each run's own config (the experiment's ``paper`` node). Runs that
differ only in ``seed`` are one row (mean and standard deviation, ``n`` runs).

Writes ``report.md`` (also printed), ``runs.csv`` (one line per run) and ``psnr_vs_runtime.png``
(filled markers: measured here; hollow: the paper's) into ``--out`` (default: the first folder).
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import DataError

# Forward passes of a self-ensemble per image (the rotated/flipped copies cost as much as the original).
ENSEMBLE_PASSES = {None: 1, "rot4": 4, "x8": 8}


@dataclass
class RunResult:
    """One finished run (training or evaluation), as read from its folder."""

    path: str
    kind: str  # train | eval
    group: str  # the table it belongs to (experiment or sweep name)
    label: str  # the row (the paper's row name, else model + overrides)
    protocol: str
    split: str
    psnr: float | None
    ssim: float | None
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


@dataclass
class Row:
    """Runs of one configuration (seed repeats), aggregated."""

    group: str
    label: str
    protocol: str
    split: str
    runs: list[RunResult]

    def values(self, key: str) -> list[float]:
        found = (getattr(r, key) for r in self.runs)
        return [float(v) for v in found if v is not None and math.isfinite(float(v))]

    @property
    def paper(self) -> dict[str, Any]:
        return self.runs[0].paper


# --- reading run folders ------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({type(exc).__name__})") from exc


def _load_yaml(path: Path) -> DictConfig:
    return OmegaConf.load(path) if path.is_file() else OmegaConf.create({})


def _choice(run_dir: Path, group: str) -> str | None:
    """The option chosen for a config group in that run (from its ``.hydra/hydra.yaml``)."""
    hydra_cfg = _load_yaml(run_dir / ".hydra" / "hydra.yaml")
    return OmegaConf.select(hydra_cfg, f"hydra.runtime.choices.{group}", default=None)


def _plain(cfg: DictConfig, key: str) -> Any:
    """A config value without resolving interpolations that point at Hydra's runtime."""
    node = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
    return OmegaConf.to_container(node) if isinstance(node, DictConfig) else node


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _without_seed(name: str) -> str:
    return re.sub(r"\s*\bseed=\S+", "", name).strip()


def read_train_run(run_dir: Path) -> RunResult:
    """A training run: ``metrics.json`` + ``.hydra/config.yaml``; test metrics, else validation."""
    metrics = _read_json(run_dir / "metrics.json")
    cfg = _load_yaml(run_dir / ".hydra" / "config.yaml")
    paper = _plain(cfg, "paper") or {}
    tested = metrics.get("test/psnr") is not None
    name = str(metrics.get("name") or metrics.get("model") or run_dir.name)
    group = metrics.get("group") or _choice(run_dir, "experiment") or run_dir.parent.name
    return RunResult(
        path=str(run_dir),
        kind="train",
        group=str(group),
        label=str(paper.get("row") or _without_seed(name)),
        protocol=str(metrics.get("protocol", "?")),
        split="test" if tested else "val",
        psnr=_number(metrics.get("test/psnr" if tested else "val/psnr_best")),
        ssim=_number(metrics.get("test/ssim" if tested else "val/ssim")),
        params=metrics.get("num_params"),
        macs=metrics.get("test_macs", metrics.get("macs")),
        runtime_s=_number(metrics.get("test/runtime_s")),
        device=metrics.get("test/device"),
        seed=_plain(cfg, "seed"),
        paper=paper,
        data=_choice(run_dir, "data"),
        selected_on=metrics.get("selected_on"),
    )


def read_eval_run(run_dir: Path) -> RunResult:
    """A ``deblurlab-eval`` folder; the paper's numbers come from the scored run's experiment,
    ``paper.evaluations.<key>``, where key names what differs from training (``hide``, ``rot4``,
    ``hide+rot4``); nothing differs: the experiment's own row."""
    summary = _read_json(run_dir / "summary.json")
    train_dir = Path(str(summary.get("checkpoint", ""))).parent.parent
    train_cfg = _load_yaml(train_dir / ".hydra" / "config.yaml")
    train_metrics = (
        _read_json(train_dir / "metrics.json") if (train_dir / "metrics.json").is_file() else {}
    )
    paper = _plain(train_cfg, "paper") or {}
    differs = []
    data = _choice(run_dir, "data")
    if data and data != _choice(train_dir, "data"):
        differs.append(str(data))
    ensemble = summary.get("ensemble")
    if ensemble and ensemble != _plain(train_cfg, "model.ensemble"):
        differs.append(str(ensemble))
    if differs:
        paper = {
            "source": paper.get("source"),
            "protocol": paper.get("protocol"),
            "data": data if data in differs else paper.get("data"),
            **((paper.get("evaluations") or {}).get("+".join(differs)) or {}),
        }
    model = str(summary.get("model") or "?")
    macs = train_metrics.get("macs")
    return RunResult(
        path=str(run_dir),
        kind="eval",
        group=str(train_metrics.get("group") or _choice(train_dir, "experiment") or "evaluations"),
        label=str(paper.get("row") or " ".join([model, *differs])),
        protocol=str(summary.get("protocol", "?")),
        split=str(summary.get("split", "test")),
        psnr=_number(summary.get("psnr")),
        ssim=_number(summary.get("ssim")),
        params=train_metrics.get("num_params"),
        macs=macs * ENSEMBLE_PASSES.get(ensemble, 1) if macs is not None else None,
        runtime_s=_number(summary.get("median_seconds")),
        device=None,
        seed=_plain(train_cfg, "seed"),
        paper=paper,
        data=data or _choice(train_dir, "data"),
        selected_on=train_metrics.get("selected_on"),
    )


def _natural_key(path: Path) -> list[Any]:
    """Sort multirun jobs 0, 1, ..., 10 (not 0, 1, 10, 2)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def collect_runs(roots: list[Path]) -> tuple[list[RunResult], list[Path]]:
    """Finished runs under ``roots`` (in folder order) and folders of unfinished ones."""
    runs: list[RunResult] = []
    unfinished: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise DataError(f"{root}: not a folder")
        configs = sorted(root.rglob(".hydra/config.yaml"), key=_natural_key)
        for config in configs:
            run_dir = config.parent.parent
            if (run_dir / "metrics.json").is_file():
                runs.append(read_train_run(run_dir))
            elif (run_dir / "summary.json").is_file():
                runs.append(read_eval_run(run_dir))
            else:
                unfinished.append(run_dir)
    return runs, unfinished


def group_rows(runs: list[RunResult]) -> dict[str, list[Row]]:
    """Rows per table, in the order the runs were found; seed repeats share a row."""
    tables: dict[str, dict[tuple[str, str, str], Row]] = {}
    for run in runs:
        key = (run.label, run.protocol, run.split)
        rows = tables.setdefault(run.group, {})
        if key not in rows:
            rows[key] = Row(run.group, run.label, run.protocol, run.split, [])
        rows[key].runs.append(run)
    return {group: list(rows.values()) for group, rows in tables.items()}


# --- the table ----------------------------------------------------------------------------------


def _mean_std(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _fmt(value: Any, digits: int) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


HEADER = (
    "| configuration | data: protocol (split) | PSNR | PSNR paper | Δ PSNR | SSIM | SSIM paper "
    "| params (M) | params paper (M) | MACs (G) @256² | runtime (s) | runtime paper (s) | n |"
)


def _paper_setting_differs(row: Row, key: str, ours: object) -> str | None:
    """The paper's ``key`` (protocol, data) when it has numbers and ours differs, else None."""
    wanted = row.paper.get(key)
    has_numbers = row.paper.get("psnr") is not None or row.paper.get("ssim") is not None
    return str(wanted) if wanted and has_numbers and ours and ours != wanted else None


def protocol_mismatch(row: Row) -> str | None:
    """The paper's protocol when the row was scored under another one (its numbers are then not
    set beside ours), else None."""
    return _paper_setting_differs(row, "protocol", row.protocol)


def data_mismatch(row: Row) -> str | None:
    """The paper's dataset (config group ``data``) when the row was scored on other data, e.g. a
    paper experiment run on the built-in ``synthetic`` data (its numbers are then not set beside
    ours), else None."""
    return _paper_setting_differs(row, "data", row.runs[0].data)


def render_row(row: Row) -> str:
    """One markdown table line: ours beside the paper's (only under the paper's protocol)."""
    return "| " + " | ".join(row_cells(row)) + " |"


def row_cells(row: Row) -> list[str]:
    """The cells of one table line (markdown and HTML reports): ours beside the paper's; the
    paper's numbers are refused when the row was scored under another protocol."""
    psnr, ssim = row.values("psnr"), row.values("ssim")
    paper = row.paper
    mismatch = protocol_mismatch(row)
    other_data = data_mismatch(row)
    refused = ""
    if mismatch or other_data:
        refused = f"**not comparable: paper used {mismatch or f'data={other_data}'}**"
        paper = {**paper, "psnr": None, "ssim": None}
    delta = (
        f"{statistics.fmean(psnr) - float(paper['psnr']):+.2f}"
        if psnr and paper.get("psnr") is not None
        else "–"
    )
    params = row.values("params")
    macs = row.values("macs")
    cells = [
        row.label,
        f"{row.runs[0].data or '?'}: {row.protocol} ({row.split})",
        _mean_std(psnr, 2),
        refused or _fmt(paper.get("psnr"), 2),
        delta,
        _mean_std(ssim, 4),
        refused or _fmt(paper.get("ssim"), 3),
        _fmt(params[0] / 1e6 if params else None, 2),
        _fmt(paper.get("params_m"), 2),
        _fmt(macs[0] / 1e9 if macs else None, 1),
        _mean_std(row.values("runtime_s"), 4),
        _fmt(paper.get("runtime_s"), 3),
        str(len(row.runs)),
    ]
    return cells


def render_markdown(tables: dict[str, list[Row]], unfinished: list[Path]) -> str:
    """The report: one table per experiment or sweep, with where the numbers come from."""
    lines = ["# deblurlab results", ""]
    for group, rows in tables.items():
        first = rows[0].paper
        title = f"## {group}"
        if first.get("table"):
            title += f": {first['table']}"
        lines += [title, ""]
        if first.get("source"):
            lines += [f"Paper: {first['source']}.", ""]
        lines += [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
        lines += [render_row(row) for row in rows]
        devices = sorted({r.device for row in rows for r in row.runs if r.device})
        notes = sorted({row.paper["runtime_note"] for row in rows if row.paper.get("runtime_note")})
        lines += [""]
        lines += (
            [f"Runtime here: median seconds per test image on {', '.join(devices)}."]
            if devices
            else []
        )
        lines += [f"Runtime in the paper: {note}." for note in notes]
        selected = sorted({str(r.selected_on) for row in rows for r in row.runs if r.selected_on})
        if selected:
            lines += [
                f"Best checkpoint selected on: {', '.join(selected)} (test: the test set itself, "
                "as the papers' code does; train_holdout: data.val_from_train)."
            ]
        for row in rows:
            if protocol_mismatch(row):
                lines += [
                    f"**Protocol mismatch**: {row.label} was scored under `{row.protocol}`, the "
                    f"paper's number under `{protocol_mismatch(row)}`; not set side by side "
                    f"(re-run deblurlab-eval with protocol={protocol_mismatch(row)})."
                ]
            if data_mismatch(row):
                lines += [
                    f"**Data mismatch**: {row.label} was scored on `data={row.runs[0].data}`, the "
                    f"paper's number on `data={data_mismatch(row)}`; not set side by side."
                ]
        lines += [""]
    lines += [
        "Ours: test-split metrics under the named protocol (validation of the best checkpoint when",
        "a run did not test); mean ± standard deviation over seeds when n > 1. MACs of one",
        "test-time forward pass (self-ensembles included) at 256 x 256.",
        "",
    ]
    if unfinished:
        lines += [f"Unfinished runs (no metrics.json or summary.json), left out: {len(unfinished)}"]
        lines += [f"- {p}" for p in unfinished]
        lines += [""]
    return "\n".join(lines)


def write_csv(runs: list[RunResult], path: Path) -> None:
    """One line per run, paper numbers flattened as ``paper_<key>``."""
    records = []
    for run in runs:
        record = {k: v for k, v in asdict(run).items() if k != "paper"}
        for key in ("row", "psnr", "ssim", "params_m", "runtime_s"):
            record[f"paper_{key}"] = run.paper.get(key)
        records.append(record)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


# --- the plot -----------------------------------------------------------------------------------


def plot_psnr_runtime(tables: dict[str, list[Row]], path: Path) -> int:
    """PSNR against runtime per image (log scale), in the spirit of the MIMO-UNet paper's Figure 1:
    filled markers are our runs, hollow ones the paper's numbers. Returns the points drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = 0
    rows = [row for rows in tables.values() for row in rows]
    for i, row in enumerate(rows):
        colour = colours[i % len(colours)]
        psnr, runtime = row.values("psnr"), row.values("runtime_s")
        if psnr and runtime and statistics.fmean(runtime) > 0:
            x, y = statistics.fmean(runtime), statistics.fmean(psnr)
            ax.scatter([x], [y], s=60, color=colour, edgecolors="black", linewidths=0.5, zorder=3)
            ax.annotate(row.label, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
            drawn += 1
        paper = row.paper
        comparable = not (protocol_mismatch(row) or data_mismatch(row))
        if comparable and paper.get("psnr") is not None and paper.get("runtime_s"):
            x, y = float(paper["runtime_s"]), float(paper["psnr"])
            ax.scatter(
                [x], [y], s=60, facecolors="none", edgecolors=colour, linewidths=1.5, zorder=3
            )
            ax.annotate(
                f"{paper.get('row', row.label)} (paper)",
                (x, y),
                textcoords="offset points",
                xytext=(6, -10),
                fontsize=8,
                color="0.35",
            )
            drawn += 1
    ax.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel("runtime per image (s, log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("PSNR vs runtime — filled: measured here, hollow: paper", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return drawn


# --- command line -------------------------------------------------------------------------------


def report(roots: list[Path], out: Path | None = None) -> dict[str, Any]:
    """Collect the runs under ``roots`` and write report.md, runs.csv and psnr_vs_runtime.png."""
    runs, unfinished = collect_runs(roots)
    if not runs:
        raise DataError(
            f"{', '.join(map(str, roots))}: no finished runs (folders with metrics.json or "
            "summary.json next to .hydra/)"
        )
    out = out or roots[0]
    out.mkdir(parents=True, exist_ok=True)
    tables = group_rows(runs)
    markdown = render_markdown(tables, unfinished)
    (out / "report.md").write_text(markdown)
    write_csv(runs, out / "runs.csv")
    points = plot_psnr_runtime(tables, out / "psnr_vs_runtime.png")
    from deblurlab.tasks.report_html import write_html

    write_html(tables, out / "report.html", out / "psnr_vs_runtime.png")
    print(markdown)
    print(
        f"wrote {out / 'report.md'}, {out / 'report.html'}, {out / 'runs.csv'}, "
        f"{out / 'psnr_vs_runtime.png'}"
    )
    return {"runs": len(runs), "rows": sum(map(len, tables.values())), "points": points, "out": out}
