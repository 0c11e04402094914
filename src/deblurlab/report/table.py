"""The report's tables as data: runs grouped into rows, each row's cells beside the paper's
numbers, and the notes under each table. Markdown and HTML render the same :class:`Table`.

A paper's number is set beside ours only when both were scored the same way: under the same
metric protocol and on the same data. Whether they were is decided once per row
(:attr:`Row.mismatches`); a withheld number is a cell flagged :attr:`Cell.refused`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deblurlab.report.runs import RunResult

COLUMNS = (
    "configuration",
    "data: protocol (split)",
    "PSNR",
    "PSNR paper",
    "Δ PSNR",
    "PSNR best-by-val",
    "SSIM",
    "SSIM paper",
    "SSIM per-channel",
    "params (M)",
    "params paper (M)",
    "MACs (G) @256²",
    "runtime (s)",
    "runtime paper (s)",
    "n",
)

EMPTY = "–"
# Protocols whose SSIM in the papers is MATLAB's 3-D SSIM (``ssim_matlab``), the one set beside
# the paper's; deblurlab.metrics.MATLAB_SSIM_PROTOCOLS (the report cannot import torch).
MATLAB_SSIM_PROTOCOLS = ("gopro",)
# Marks a headline score that is not the final model's (an older run that tested only its best).
NOT_FINAL = "†"


@dataclass(frozen=True)
class Cell:
    """One table cell; ``refused``: the paper's number is withheld (and the text says why);
    ``strong``: a difference whose interval leaves out 0. Both are shown in bold."""

    text: str
    refused: bool = False
    strong: bool = False

    @property
    def bold(self) -> bool:
        return self.refused or self.strong


@dataclass(frozen=True)
class Span:
    """A piece of a note: plain text, ``bold`` or ``code`` (a value the reader may type)."""

    text: str
    style: str = ""


Note = tuple[Span, ...]


@dataclass(frozen=True)
class Mismatch:
    """A setting (``protocol`` or ``data``) under which the paper's number was obtained and ours
    was not."""

    setting: str
    ours: str
    papers: str

    @property
    def reason(self) -> str:
        """``paper used realblur`` (a protocol), ``paper used data=gopro``."""
        value = self.papers if self.setting == "protocol" else f"data={self.papers}"
        return f"paper used {value}"


def find_mismatches(paper: dict[str, Any], protocol: str, data: str | None) -> list[Mismatch]:
    """The settings in which a row scored under ``protocol`` on ``data`` differs from a paper
    row that has numbers (a paper row without numbers compares with nothing)."""
    if paper.get("psnr") is None and paper.get("ssim") is None:
        return []
    found = []
    for setting, ours in (("protocol", protocol), ("data", data)):
        wanted = paper.get(setting)
        if wanted and ours and ours != wanted:
            found.append(Mismatch(setting, str(ours), str(wanted)))
    return found


@dataclass
class Row:
    """Runs of one configuration (seed repeats), aggregated; compared with the paper's row of
    its first run."""

    group: str
    label: str
    protocol: str
    split: str
    runs: list[RunResult]
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def images(self) -> tuple[str | None, str, str]:
        """What the row was scored on: (data, protocol, split); rows that share it scored the
        same test images the same way and may be compared image by image."""
        return (self.data, self.protocol, self.split)

    @property
    def components(self) -> dict[str, bool]:
        return self.runs[0].components

    @property
    def ssim_key(self) -> str:
        """The :class:`RunResult` field set beside the paper's SSIM: MATLAB's 3-D SSIM under the
        protocols whose papers report it, else the protocol's SSIM."""
        return "ssim_matlab" if self.protocol in MATLAB_SSIM_PROTOCOLS else "ssim"

    @classmethod
    def start(cls, run: RunResult) -> Row:
        return cls(
            run.group,
            run.label,
            run.protocol,
            run.split,
            [run],
            find_mismatches(run.paper, run.protocol, run.data),
        )

    def values(self, key: str) -> list[float]:
        """The runs' finite values of ``key`` (a :class:`RunResult` field)."""
        found = (getattr(r, key) for r in self.runs)
        return [float(v) for v in found if v is not None and float(v) == float(v)]

    @property
    def paper(self) -> dict[str, Any]:
        return self.runs[0].paper

    @property
    def data(self) -> str | None:
        return self.runs[0].data

    @property
    def comparable(self) -> bool:
        """Whether the paper's numbers may be set beside ours."""
        return not self.mismatches


def _mean_std(values: list[float], digits: int) -> str:
    if not values:
        return EMPTY
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _fmt(value: Any, digits: int) -> str:
    return EMPTY if value is None else f"{float(value):.{digits}f}"


def row_cells(row: Row) -> list[Cell]:
    """The cells of one line (in :data:`COLUMNS` order): ours beside the paper's, whose PSNR and
    SSIM are refused when the row was scored another way."""
    psnr, ssim = row.values("psnr"), row.values(row.ssim_key)
    paper = row.paper
    mark = NOT_FINAL if any(r.tested == "tested" for r in row.runs) else ""
    refused = Cell(f"not comparable: {row.mismatches[0].reason}", True) if row.mismatches else None
    paper_psnr = None if refused else paper.get("psnr")
    delta = (
        f"{statistics.fmean(psnr) - float(paper_psnr):+.2f}"
        if psnr and paper_psnr is not None
        else EMPTY
    )
    params, macs = row.values("params"), row.values("macs")
    return [
        Cell(row.label),
        Cell(f"{row.data or '?'}: {row.protocol} ({row.split})"),
        Cell(_mean_std(psnr, 2) + mark if psnr else EMPTY),
        refused or Cell(_fmt(paper_psnr, 2)),
        Cell(delta + mark if delta != EMPTY else delta),
        Cell(_mean_std(row.values("psnr_best"), 2)),
        Cell(_mean_std(ssim, 4)),
        refused or Cell(_fmt(paper.get("ssim"), 3)),
        Cell(_mean_std(row.values("ssim"), 4)),
        Cell(_fmt(params[0] / 1e6 if params else None, 2)),
        Cell(_fmt(paper.get("params_m"), 2)),
        Cell(_fmt(macs[0] / 1e9 if macs else None, 1)),
        Cell(_mean_std(row.values("runtime_s"), 4)),
        Cell(_fmt(paper.get("runtime_s"), 3)),
        Cell(str(len(row.runs))),
    ]


def _mismatch_note(row: Row, mismatch: Mismatch) -> Note:
    if mismatch.setting == "protocol":
        return (
            Span("Protocol mismatch", "bold"),
            Span(f": {row.label} was scored under "),
            Span(mismatch.ours, "code"),
            Span(", the paper's number under "),
            Span(mismatch.papers, "code"),
            Span("; not set side by side (re-run deblurlab-eval with "),
            Span(f"protocol={mismatch.papers}", "code"),
            Span(")."),
        )
    return (
        Span("Data mismatch", "bold"),
        Span(f": {row.label} was scored on "),
        Span(f"data={mismatch.ours}", "code"),
        Span(", the paper's number on "),
        Span(f"data={mismatch.papers}", "code"),
        Span("; not set side by side."),
    )


@dataclass
class Section:
    """A table under a group's main one (paired differences, main effects, blur strength) or
    under all of them: markdown and HTML render it the same way."""

    title: str
    columns: tuple[str, ...]
    rows: list[list[Cell]]
    notes: list[Note] = field(default_factory=list)


@dataclass
class Table:
    """The rows of one experiment or sweep, with the paper they are compared with."""

    group: str
    rows: list[Row]
    sections: list[Section] = field(default_factory=list)

    @property
    def title(self) -> str:
        table = self.rows[0].paper.get("table")
        return f"{self.group}: {table}" if table else self.group

    @property
    def source(self) -> str | None:
        """The paper the numbers beside ours come from."""
        return self.rows[0].paper.get("source")

    def cells(self) -> list[list[Cell]]:
        return [row_cells(row) for row in self.rows]

    def notes(self) -> list[Note]:
        """Where the runtimes were measured, how the best checkpoints were selected, and every
        number withheld from the comparison, and why."""
        runs = [run for row in self.rows for run in row.runs]
        notes: list[Note] = []
        devices = sorted({r.device for r in runs if r.device})
        if devices:
            text = f"Runtime here: median seconds per test image on {', '.join(devices)}."
            notes.append((Span(text),))
        paper_notes = {row.paper.get("runtime_note") for row in self.rows} - {None, ""}
        notes += [(Span(f"Runtime in the paper: {note}."),) for note in sorted(paper_notes)]
        if any(r.tested == "last" or r.psnr_best is not None for r in runs):
            notes.append(
                (
                    Span("PSNR", "bold"),
                    Span(": the final model's (what the papers report; "),
                    Span("test/psnr_last", "code"),
                    Span("). "),
                    Span("PSNR best-by-val", "bold"),
                    Span(": the model of the best validation, tested beside it ("),
                    Span("test/psnr_best", "code"),
                    Span(")."),
                )
            )
        best_on = [
            f"{row.label}: {', '.join(chosen)}"
            for row in self.rows
            if (chosen := [str(r.best_selected_on) for r in row.runs if r.best_selected_on])
        ]
        if best_on:
            text = (
                "Best-by-val model selected (on test: the test set itself, as the papers' code "
                f"does; on train_holdout: data.val_from_train): {'; '.join(best_on)}."
            )
            notes.append((Span(text),))
        scored = sorted({Path(r.checkpoint).name for r in runs if r.checkpoint})
        if scored:
            notes.append(
                (
                    Span("Evaluations (deblurlab-eval) score the checkpoint they name: "),
                    Span(", ".join(scored), "code"),
                    Span(" (last.ckpt: the final model; best.ckpt: the best by validation)."),
                )
            )
        if any(r.tested == "tested" for r in runs):
            notes.append(
                (
                    Span(f"{NOT_FINAL} an older run that tested one checkpoint only ("),
                    Span("test/psnr", "code"),
                    Span(
                        "), its best by validation: shown in place of the final model the "
                        "papers report, which it did not test."
                    ),
                )
            )
        # runs that say more (best_selected_on, above) are left out here
        selected = sorted({str(r.selected_on) for r in runs if r.selected_on and not best_on})
        if selected:
            text = (
                f"Best checkpoint selected on: {', '.join(selected)} (test: the test set itself, "
                "as the papers' code does; train_holdout: data.val_from_train)."
            )
            notes.append((Span(text),))
        matlab = [row for row in self.rows if row.ssim_key == "ssim_matlab"]
        if matlab:
            notes.append(
                (
                    Span("SSIM", "bold"),
                    Span(" (beside the paper's) under "),
                    Span(", ".join(MATLAB_SSIM_PROTOCOLS), "code"),
                    Span(": MATLAB's 3-D SSIM of the 8-bit RGB volume ("),
                    Span("ssim_matlab", "code"),
                    Span(
                        "), what the GoPro/HIDE tables report; under other protocols the "
                        "protocol's SSIM. "
                    ),
                    Span("SSIM per-channel", "bold"),
                    Span(": the mean over R, G, B of a Gaussian SSIM per channel ("),
                    Span("test/ssim", "code"),
                    Span("), not the papers' number."),
                )
            )
        notes += [_mismatch_note(row, m) for row in self.rows for m in row.mismatches]
        return notes


def build_tables(runs: list[RunResult]) -> list[Table]:
    """One table per group, rows in the order the runs were found; seed repeats share a row."""
    grouped: dict[str, dict[tuple[str, str | None, str, str], Row]] = {}
    for run in runs:
        rows = grouped.setdefault(run.group, {})
        key = (run.label, run.data, run.protocol, run.split)
        if key in rows:
            rows[key].runs.append(run)
        else:
            rows[key] = Row.start(run)
    return [Table(group, list(rows.values())) for group, rows in grouped.items()]


FOOTER = (
    "Ours: test-split metrics under the named protocol (validation of the best checkpoint when "
    "a run did not test); mean ± standard deviation over seeds when n > 1. MACs of one "
    "test-time forward pass (self-ensembles included) at 256 x 256. Differences between runs: "
    "mean per-image Δ PSNR with a 95% paired bootstrap interval over the test images (bold: the "
    "interval leaves out 0)."
)
