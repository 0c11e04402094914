"""``report.html``: the report's tables and notes, the PSNR-vs-runtime plot and, for every run,
its strip of test crops (blurry | output | sharp), so configurations are compared by eye.

The strips are the crops each run saved when it scored its test set (the test step of
``deblurlab-train`` and ``deblurlab-eval``; :class:`deblurlab.runfiles.CropIndex`): the same
centre crop of the same test images (those whose names sort first) for every run, so runs on one
test set show identical blurry and sharp crops beside their own outputs. Nothing is re-run: the
outputs are those of the checkpoint the run tested. A run whose crops differ from the group's
first run's (another test set or crop size) is marked as such. The page is one self-contained
file: every image is embedded (PNG, base64), so it can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from deblurlab.errors import DataError
from deblurlab.report.table import COLUMNS, FOOTER, Cell, Note, Row, Section, Table
from deblurlab.runfiles import CROP_KINDS, CropIndex, RunFolder

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


def _cell(cell: Cell) -> str:
    text = html.escape(cell.text)
    return f"<td><b>{text}</b></td>" if cell.bold else f"<td>{text}</td>"


def _note(note: Note) -> str:
    tags = {"bold": "b", "code": "code"}
    parts = [
        f"<{tags[s.style]}>{html.escape(s.text)}</{tags[s.style]}>"
        if s.style in tags
        else html.escape(s.text)
        for s in note
    ]
    return f"<p>{''.join(parts)}</p>"


def _grid(columns: tuple[str, ...], rows: list[list[Cell]]) -> str:
    if not columns:
        return ""
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"]
    lines += ["<tr>" + "".join(map(_cell, cells)) + "</tr>" for cells in rows]
    return "\n".join(lines + ["</table>"])


def _table(table: Table) -> str:
    return _grid(COLUMNS, table.cells())


def _section(section: Section, level: int) -> list[str]:
    return [
        f"<h{level}>{html.escape(section.title)}</h{level}>",
        _grid(section.columns, section.rows),
        *map(_note, section.notes),
    ]


def read_crops(run_dir: Path) -> CropIndex | None:
    """The test crops a run saved, or None (none saved, an unreadable index, a missing file)."""
    try:
        index = CropIndex.read(run_dir)
    except DataError:
        return None
    if index is None or not index.crops:
        return None
    folder = RunFolder(run_dir).crops_dir
    if not all((folder / e.file(kind)).is_file() for e in index.crops for kind in CROP_KINDS):
        return None
    return index


def _strips(rows: list[Row]) -> str:
    figures = []
    reference: list[tuple[str, tuple[int, ...]]] | None = None
    for row in rows:
        for run in row.runs:
            index = read_crops(Path(run.path))
            if index is None:
                continue
            key = [(e.name, e.box) for e in index.crops]
            reference = key if reference is None else reference
            seed = f", seed {run.seed}" if run.seed is not None else ""
            caption = f"{row.label}{seed} ({run.kind}): blurry | output | sharp ({run.path})"
            if key != reference:
                caption += " [other test images or crop than the first run's: not comparable]"
            folder = RunFolder(Path(run.path)).crops_dir
            lines = []
            for entry in index.crops:
                top, left, height, width = entry.box
                title = html.escape(f"{entry.name} [{top}:{top + height}, {left}:{left + width}]")
                images = "".join(
                    f'<img class="crop" src="{embed_png(folder / entry.file(kind))}" '
                    f'alt="{kind}: {title}" title="{kind}: {title}">'
                    for kind in CROP_KINDS
                )
                lines.append(f'<div class="crops">{images}</div>')
            figures.append(
                f"<figure>{''.join(lines)}<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return "\n".join(figures)


def render_html(
    tables: list[Table], plot: Path | None = None, closing: list[Section] | None = None
) -> str:
    """The whole page: the plot on top, then per group its table, notes, comparisons and image
    strips, then the sections ``closing`` (across tables)."""
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
    for table in tables:
        parts += [f"<h2>{html.escape(table.title)}</h2>"]
        if table.source:
            parts.append(f"<p>Paper: {html.escape(table.source)}.</p>")
        parts += [_table(table), *map(_note, table.notes())]
        for section in table.sections:
            parts += _section(section, 3)
        strips = _strips(table.rows)
        if strips:
            parts += [
                "<h3>Test crops (the same crop of the same test images for every run: "
                "blurry | output | sharp)</h3>",
                strips,
            ]
    for section in closing or []:
        parts += _section(section, 2)
    parts += [f"<p>{html.escape(FOOTER)}</p>", "</body></html>"]
    return "\n".join(parts)
