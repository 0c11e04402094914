"""``report.html``: the report's tables, the PSNR-vs-runtime plot and, for every training run, its
strip of images (blurry | output | sharp), so configurations are compared by eye.

The strips are the runs' last validation grids (``images/val_latest.png``, written by every
training run): the validation set is fixed by the data config's seed, so the runs of one sweep show
the same images side by side. The page is one self-contained file: every image is embedded (PNG,
base64), so it can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from deblurlab.tasks.report import HEADER, Row, row_cells

STRIP = Path("images") / "val_latest.png"
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1em 0; }
figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; }
img.strip { image-rendering: pixelated; border: 1px solid #ddd; min-width: 40em; }
"""


def embed_png(path: Path) -> str:
    """A ``data:`` URI holding the PNG file ``path``."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(rows: list[Row]) -> str:
    header = [cell.strip() for cell in HEADER.strip("|").split("|")]
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in row_cells(row))
        lines.append(f"<tr>{cells}</tr>")
    return "\n".join(lines + ["</table>"])


def _strips(rows: list[Row]) -> str:
    figures = []
    for row in rows:
        for run in row.runs:
            path = Path(run.path) / STRIP
            if run.kind != "train" or not path.is_file():
                continue
            seed = f", seed {run.seed}" if run.seed is not None else ""
            caption = html.escape(f"{row.label}{seed}: blurry | output | sharp ({run.path})")
            figures.append(
                f'<figure><img class="strip" src="{embed_png(path)}" alt="{caption}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
    return "\n".join(figures)


def render_html(tables: dict[str, list[Row]], plot: Path | None = None) -> str:
    """The whole page: per group its table and its runs' image strips; the plot on top."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>deblurlab results</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>deblurlab results</h1>",
    ]
    if plot is not None and plot.is_file():
        parts.append(
            f'<figure><img src="{embed_png(plot)}" alt="PSNR vs runtime">'
            "<figcaption>PSNR vs runtime: filled markers measured here, hollow the paper's"
            "</figcaption></figure>"
        )
    for group, rows in tables.items():
        title = group + (f": {rows[0].paper['table']}" if rows[0].paper.get("table") else "")
        parts += [f"<h2>{html.escape(title)}</h2>", _table(rows)]
        strips = _strips(rows)
        if strips:
            parts += [
                "<h3>Validation images (the same for every run: blurry | output | sharp)</h3>"
            ]
            parts.append(strips)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(tables: dict[str, list[Row]], path: Path, plot: Path | None = None) -> Path:
    """Write :func:`render_html` to ``path``."""
    path.write_text(render_html(tables, plot))
    return path
