"""``report.html``: the report's tables, the PSNR-vs-runtime plot and, for every run, its strip of
test crops (blurry | output | sharp), so configurations are compared by eye.

The strips are the crops each run saved when it scored its test set (``images/test_crops/``, written
by the test step of ``deblurlab-train`` and by ``deblurlab-eval``; :mod:`deblurlab.data.crops`): the
same centre crop of the same test images (those whose names sort first) for every run, so runs on
one test set show identical blurry and sharp crops beside their own outputs. Nothing is re-run: the
outputs are those of the checkpoint the run tested. A run whose crops differ from the group's first
run's (another test set or crop size) is marked as such. The page is one self-contained file: every
image is embedded (PNG, base64), so it can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from deblurlab.tasks.report import HEADER, Row, row_cells

# the layout deblurlab.data.crops writes (not imported: that would load torch and Lightning here)
CROPS_DIR = Path("images") / "test_crops"
INDEX = "crops.json"
KINDS = ("blurry", "output", "sharp")

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1em 0; }
figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; }
img.crop { image-rendering: pixelated; border: 1px solid #ddd; width: 16em; margin-right: 0.3em; }
div.crops { display: flex; align-items: flex-start; }
"""


def embed_png(path: Path) -> str:
    """A ``data:`` URI holding the PNG file ``path``."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _cell(text: str) -> str:
    """A table cell: escaped, with the markdown table's **bold** (refused paper numbers) as <b>."""
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        return f"<b>{html.escape(text[2:-2])}</b>"
    return html.escape(text)


def _table(rows: list[Row]) -> str:
    header = [cell.strip() for cell in HEADER.strip("|").split("|")]
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = "".join(f"<td>{_cell(c)}</td>" for c in row_cells(row))
        lines.append(f"<tr>{cells}</tr>")
    return "\n".join(lines + ["</table>"])


def read_crops(run_dir: Path) -> list[dict[str, Any]] | None:
    """The test crops a run saved (entries of its ``crops.json``), or None."""
    index = run_dir / CROPS_DIR / INDEX
    if not index.is_file():
        return None
    try:
        entries = json.loads(index.read_text())["crops"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    folder = index.parent
    if not entries or not all((folder / e[kind]).is_file() for e in entries for kind in KINDS):
        return None
    return entries


def _strips(rows: list[Row]) -> str:
    figures = []
    reference: list[tuple[str, list[int]]] | None = None
    for row in rows:
        for run in row.runs:
            entries = read_crops(Path(run.path))
            if entries is None:
                continue
            key = [(e["name"], list(e["box"])) for e in entries]
            reference = key if reference is None else reference
            seed = f", seed {run.seed}" if run.seed is not None else ""
            caption = f"{row.label}{seed} ({run.kind}): blurry | output | sharp ({run.path})"
            if key != reference:
                caption += " [other test images or crop than the first run's: not comparable]"
            caption = html.escape(caption)
            folder = Path(run.path) / CROPS_DIR
            lines = []
            for entry in entries:
                top, left, height, width = entry["box"]
                title = html.escape(
                    f"{entry['name']} [{top}:{top + height}, {left}:{left + width}]"
                )
                images = "".join(
                    f'<img class="crop" src="{embed_png(folder / entry[kind])}" '
                    f'alt="{kind}: {title}" title="{kind}: {title}">'
                    for kind in KINDS
                )
                lines.append(f'<div class="crops">{images}</div>')
            figures.append(f"<figure>{''.join(lines)}<figcaption>{caption}</figcaption></figure>")
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
                "<h3>Test crops (the same crop of the same test images for every run: "
                "blurry | output | sharp)</h3>"
            ]
            parts.append(strips)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(tables: dict[str, list[Row]], path: Path, plot: Path | None = None) -> Path:
    """Write :func:`render_html` to ``path``."""
    path.write_text(render_html(tables, plot))
    return path
