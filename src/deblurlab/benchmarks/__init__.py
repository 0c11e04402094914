"""The sections of ``deblurlab-bench``: each module's ``run(opts)`` measures one question and
returns its :class:`Table`. Timing and memory go through :mod:`.probes`, networks and the test
image through :mod:`.networks`, so every section measures the same way. What the numbers should
reach on which hardware is written in docs/performance.md, not here: the tables only measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BenchOptions", "Table"]


@dataclass
class BenchOptions:
    """What to run and on what; ``matmul_gmacs`` (the fp32 matmul rate) is measured by the command."""

    quick: bool = False  # tiny networks and sizes: a smoke test of the benchmark itself
    large: bool = False  # add 1280 x 720, the Restorer options and a tiled 4K image
    compile: bool = False  # add torch.compile rows
    networks: list[str] | None = None  # names to measure; None: each section's default
    ckpt: str | None = None  # a deblurlab checkpoint measured instead of seeded random weights
    repeats: int = 3  # timed calls per variant, after one warm-up call
    device: str = "cpu"  # where the inference sections run: cpu or cuda
    train_size: int = 256  # side of the training-step crops
    matmul_gmacs: float | None = field(default=None, init=False)  # the tables' yardstick


@dataclass
class Table:
    """One printed table: rows of values under named columns, with a note on how to read it."""

    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    note: str = ""

    def render(self) -> str:
        """Markdown, so the output can be pasted into docs as it is."""
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


def ratio(value: float) -> str:
    """A speed or cost ratio as the tables print it (``1.29x``)."""
    return f"{value:.2f}x"


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)
