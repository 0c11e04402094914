"""Benchmark sections for ``deblurlab-bench``; each module exposes ``run(opts) -> list[Table]``.

Sections record the issue's performance targets they measured in ``opts.targets`` (a
:class:`Target` per claim: whether it applies on this machine, what was measured, whether it
holds); the command prints them last, so a run states which claims it supports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deblurlab.timing import median_seconds

__all__ = ["BenchOptions", "Table", "Target", "median_seconds"]


@dataclass
class Target:
    """One performance claim, checked on this machine.

    ``applies`` False: the claim is not meant for this hardware (e.g. a bf16 speed-up on a CPU
    without native bf16), ``holds`` None: not measured in this run (``reason`` says why).
    """

    claim: str
    applies: bool
    measured: str = "-"
    holds: bool | None = None
    reason: str = ""


@dataclass
class BenchOptions:
    """What to run: ``quick`` (tiny networks and sizes: a smoke test of the benchmark itself),
    ``large`` (add 1280 x 720 and the tiled 4K image), ``compile`` (add torch.compile rows),
    ``networks`` (names to measure, None = all), ``repeats`` (timed calls per variant),
    ``device`` (where the inference table runs: ``cpu`` or ``cuda``), ``train_size`` (side of the
    training-step crops; 256 as in the papers), ``matmul_gmacs`` (the machine's fp32 matmul
    GMAC/s, measured once by the command; see :mod:`deblurlab.benchmarks.ceiling`)."""

    quick: bool = False
    large: bool = False
    compile: bool = False
    networks: list[str] | None = None
    repeats: int = 3
    device: str = "cpu"
    train_size: int = 256
    matmul_gmacs: float | None = None
    targets: list[Target] = field(default_factory=list)


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


def targets_table(targets: list[Target]) -> Table:
    """The targets of a run: which apply on this machine and whether they hold."""
    table = Table(
        title="Targets on this machine",
        columns=["target", "applies here", "measured", "holds"],
        note="holds: yes / NO / not measured (why). A target that does not apply names the "
        "hardware it needs.",
    )
    for t in targets:
        if not t.applies:
            holds = f"n/a ({t.reason})" if t.reason else "n/a"
        elif t.holds is None:
            holds = f"not measured ({t.reason})" if t.reason else "not measured"
        else:
            holds = "yes" if t.holds else "NO"
        table.rows.append([t.claim, "yes" if t.applies else "no", t.measured, holds])
    return table


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)
