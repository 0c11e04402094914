"""``report.md``: the tables in markdown, a refused cell in bold."""

from __future__ import annotations

from pathlib import Path

from deblurlab.report.runs import FINISHED
from deblurlab.report.table import COLUMNS, FOOTER, Cell, Note, Table


def _cell(cell: Cell) -> str:
    return f"**{cell.text}**" if cell.refused else cell.text


def _note(note: Note) -> str:
    marks = {"bold": "**", "code": "`"}
    return "".join(f"{marks.get(s.style, '')}{s.text}{marks.get(s.style, '')}" for s in note)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(tables: list[Table], unfinished: list[Path]) -> str:
    """The report: one table per experiment or sweep, with where the numbers come from."""
    lines = ["# deblurlab results", ""]
    for table in tables:
        lines += [f"## {table.title}", ""]
        if table.source:
            lines += [f"Paper: {table.source}.", ""]
        lines += [_line(list(COLUMNS)), "|" + "---|" * len(COLUMNS)]
        lines += [_line([_cell(c) for c in cells]) for cells in table.cells()]
        lines += ["", *map(_note, table.notes()), ""]
    lines += [FOOTER, ""]
    if unfinished:
        lines += [f"Unfinished runs (no {FINISHED}), left out: {len(unfinished)}"]
        lines += [f"- {p}" for p in unfinished] + [""]
    return "\n".join(lines)
