"""``report.md``: the tables in markdown, a refused cell in bold."""

from __future__ import annotations

from pathlib import Path

from deblurlab.report.runs import FINISHED
from deblurlab.report.table import COLUMNS, FOOTER, Cell, Note, Section, Table


def _cell(cell: Cell) -> str:
    text = cell.text.replace("|", "\\|")  # a bar in a name would end the cell
    return f"**{text}**" if cell.bold else text


def _note(note: Note) -> str:
    marks = {"bold": "**", "code": "`"}
    return "".join(f"{marks.get(s.style, '')}{s.text}{marks.get(s.style, '')}" for s in note)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _grid(columns: tuple[str, ...], rows: list[list[Cell]]) -> list[str]:
    if not columns:
        return []
    lines = [_line(list(columns)), "|" + "---|" * len(columns)]
    return lines + [_line([_cell(c) for c in cells]) for cells in rows] + [""]


def _section(section: Section, level: str) -> list[str]:
    return [f"{level} {section.title}", "", *_grid(section.columns, section.rows)] + [
        line for note in section.notes for line in (_note(note), "")
    ]


def render_markdown(
    tables: list[Table], unfinished: list[Path], closing: list[Section] | None = None
) -> str:
    """The report: one table per experiment or sweep, with where the numbers come from, its
    comparisons (:attr:`Table.sections`), then the sections ``closing`` (across tables)."""
    lines = ["# deblurlab results", ""]
    for table in tables:
        lines += [f"## {table.title}", ""]
        if table.source:
            lines += [f"Paper: {table.source}.", ""]
        lines += _grid(COLUMNS, table.cells())
        lines += [line for note in table.notes() for line in (_note(note), "")]
        for section in table.sections:
            lines += _section(section, "###")
    for section in closing or []:
        lines += _section(section, "##")
    lines += [FOOTER, ""]
    if unfinished:
        lines += [f"Unfinished runs (no {FINISHED}), left out: {len(unfinished)}"]
        lines += [f"- {p}" for p in unfinished] + [""]
    return "\n".join(lines)
