"""Benchmark sections for ``deblurlab-bench``; each module exposes ``run(quick: bool) -> list[Table]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from deblurlab.timing import median_seconds

__all__ = ["Table", "median_seconds"]


@dataclass
class Table:
    """One printed table: rows of values under named columns, with a note on how to read it."""

    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    note: str = ""

    def render(self) -> str:
        """Markdown, so the output can be pasted into docs as it is."""
        cells = [[_fmt(v) for v in row] for row in self.rows]
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)
