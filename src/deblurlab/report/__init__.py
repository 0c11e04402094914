"""Finished runs -> tables beside the papers' numbers, a plot and a page of test crops: what
``deblurlab-report`` does.

Reads only the files runs leave behind (no network; :mod:`deblurlab.report.runs` says which).
Runs that differ only in ``seed`` are one row (mean and standard deviation, ``n`` runs).
Rows scored on the same test images are compared image by image (``per_image.csv``): paired
bootstrap intervals, each row against its table's baseline, main effects of ablation components
and gains by blur strength (:mod:`deblurlab.report.paired`).

Writes into ``out`` (default: the first folder) ``report.md`` (also printed), ``report.html``
(the tables, the plot and every run's test crops), ``runs.csv`` (one line per run) and
``psnr_vs_runtime.png`` (filled markers: measured here; hollow: the paper's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deblurlab.report.html import render_html
from deblurlab.report.markdown import render_markdown
from deblurlab.report.paired import compare
from deblurlab.report.plot import plot_psnr_runtime
from deblurlab.report.runs import collect_runs, write_runs_csv
from deblurlab.report.stats import RESAMPLES, SEED
from deblurlab.report.table import build_tables

OUTPUTS = ("report.md", "report.html", "runs.csv", "psnr_vs_runtime.png")


def report(
    roots: list[Path],
    out: Path | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, Any]:
    """Collect the finished runs under ``roots`` and write the report's files into ``out``;
    ``resamples`` and ``seed``: the paired bootstrap's (:mod:`deblurlab.report.stats`)."""
    runs, unfinished = collect_runs(roots)
    tables = build_tables(runs)
    closing = compare(tables, resamples, seed)
    out = out or roots[0]
    md, page, listing, plot = (out / name for name in OUTPUTS)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(tables, unfinished, closing)
    md.write_text(markdown)
    write_runs_csv(runs, listing)
    points = plot_psnr_runtime([row for table in tables for row in table.rows], plot)
    page.write_text(render_html(tables, plot, closing))
    print(markdown)
    print(f"wrote {md}, {page}, {listing}, {plot}")
    rows = sum(len(table.rows) for table in tables)
    return {"runs": len(runs), "rows": rows, "points": points, "out": out}
