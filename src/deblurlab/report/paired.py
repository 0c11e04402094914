"""The report's comparisons between rows, image by image (``per_image.csv``): each row against its
table's baseline, the main effect of each ablation component, gains by blur strength, and every
pair of rows scored on the same images.

A row's per-image scores are those of its runs' ``per_image.csv`` (the final model's for a training
run, the checkpoint's for an evaluation), averaged over seed repeats image by image. Rows are
compared only when they were scored on the same data under the same protocol and split
(:attr:`Row.images`), and then on the images both scored, matched by name. The statistics are
those of :mod:`deblurlab.report.stats`.

What a table compares with is data in the experiment's ``paper:`` node:

- ``paper.baseline``: the row (its ``paper.row`` name) every other row is set against;
- ``paper.components``: ablation component -> the config key that switches it on (true or
  non-zero), for the main effects.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblurlab.report.stats import RESAMPLES, SEED, Interval, blur_bins, bootstrap_mean
from deblurlab.report.table import EMPTY, Cell, Note, Row, Section, Span, Table
from deblurlab.runfiles import RunFolder, read_per_image

BINS = 4
BIN_NAMES = ("Q1 most blurred", "Q2", "Q3", "Q4 least blurred")


@dataclass(frozen=True)
class ImageTable:
    """A row's per-image scores: output PSNR and blurry-input PSNR by image name."""

    psnr: dict[str, float]
    input_psnr: dict[str, float]

    @property
    def gain(self) -> dict[str, float]:
        """What the network adds over its blurry input, per image (dB)."""
        return {name: self.psnr[name] - self.input_psnr[name] for name in self.psnr}


def read_row(row: Row) -> ImageTable | None:
    """The row's per-image scores (seed repeats averaged per image, over the images every run
    scored), or None when a run left no ``per_image.csv``."""
    tables = []
    for run in row.runs:
        path = RunFolder(Path(run.path)).per_image_csv
        if not path.is_file():
            return None
        tables.append(read_per_image(Path(run.path)))
    names = set.intersection(*({r.name for r in table} for table in tables))
    psnr: dict[str, list[float]] = {name: [] for name in names}
    inputs: dict[str, list[float]] = {name: [] for name in names}
    for table in tables:
        for r in table:
            if r.name in names:
                psnr[r.name].append(r.psnr)
                inputs[r.name].append(r.input_psnr)
    return ImageTable(
        {name: statistics.fmean(v) for name, v in sorted(psnr.items())},
        {name: statistics.fmean(v) for name, v in sorted(inputs.items())},
    )


@dataclass
class Comparer:
    """Per-image tables of rows (read once) and the bootstrap settings."""

    resamples: int = RESAMPLES
    seed: int = SEED

    def __post_init__(self) -> None:
        self._cache: dict[int, ImageTable | None] = {}
        # the same comparison appears against the baseline and among all pairs: resampled once
        self._intervals: dict[tuple[tuple[str, float], ...], Interval] = {}

    def table(self, row: Row) -> ImageTable | None:
        if id(row) not in self._cache:
            self._cache[id(row)] = read_row(row)
        return self._cache[id(row)]

    def interval(self, differences: dict[str, float]) -> Interval | None:
        if not differences:
            return None
        key = tuple(sorted(differences.items()))
        if key not in self._intervals:
            values = np.array([value for _, value in key])
            self._intervals[key] = bootstrap_mean(values, resamples=self.resamples, seed=self.seed)
        return self._intervals[key]

    def difference(self, base: Row, other: Row, names: set[str] | None = None) -> dict[str, float]:
        """``other - base`` per image, over the images both scored (and in ``names``)."""
        a, b = self.table(base), self.table(other)
        if a is None or b is None or base.images != other.images:
            return {}
        common = a.psnr.keys() & b.psnr.keys()
        if names is not None:
            common &= names
        return {name: b.psnr[name] - a.psnr[name] for name in common}


def _interval_cells(interval: Interval | None) -> list[Cell]:
    if interval is None:
        return [Cell(EMPTY), Cell(EMPTY), Cell(EMPTY)]
    return [
        Cell(interval.text(), strong=interval.clear),
        Cell(f"{interval.improved:.0%}"),
        Cell(str(interval.n)),
    ]


def _paper_psnr(row: Row) -> float | None:
    value = row.paper.get("psnr")
    return float(value) if value is not None and row.comparable else None


def _interval_note(comparer: Comparer) -> Note:
    return (
        Span(
            "Δ PSNR: mean over the test images of the per-image difference, with its 95% "
            f"paired bootstrap interval ({comparer.resamples} resamples of the images, seed "
            f"{comparer.seed}); bold: the interval leaves out 0. It measures the noise of the "
            "test set (which images), not seed-to-seed training noise (add seed repeats for "
            "that; they are averaged per image). Improved: the share of images on which the "
            "row scores higher."
        ),
    )


def _baseline(table: Table, row: Row) -> Row | None:
    """The row that ``row``'s ``paper.baseline`` names, scored on the same images."""
    wanted = row.paper.get("baseline")
    if not wanted:
        return None
    return next((b for b in table.rows if b.label == wanted and b.images == row.images), None)


def _baselines_title(table: Table) -> str:
    names = list(dict.fromkeys(str(r.paper["baseline"]) for r in table.rows if _baseline(table, r)))
    return " / ".join(names)


def baseline_section(table: Table, comparer: Comparer) -> Section | None:
    """Each row against its ``paper.baseline`` row, beside the paper's difference."""
    cells = []
    for row in table.rows:
        base = _baseline(table, row)
        if base is None or base is row:
            continue
        differences = comparer.difference(base, row)
        paper_row, paper_base = _paper_psnr(row), _paper_psnr(base)
        paper = f"{paper_row - paper_base:+.2f}" if None not in (paper_row, paper_base) else EMPTY
        cells.append(
            [Cell(row.label), *_interval_cells(comparer.interval(differences)), Cell(paper)]
        )
    if not cells:
        return None
    wanted = _baselines_title(table)
    return Section(
        f"Each row against the baseline ({wanted})",
        (
            "configuration",
            f"Δ PSNR vs {wanted} [95% CI]",
            "improved",
            "images",
            "Δ PSNR paper",
        ),
        cells,
        [
            _interval_note(comparer),
            (
                Span("Baseline: "),
                Span("paper.baseline", "code"),
                Span(f" = {wanted} (the row the paper's choice is weighed against)."),
            ),
        ],
    )


def main_effects_section(table: Table, comparer: Comparer) -> list[Section]:
    """Per component of ``paper.components``: the mean PSNR of the rows with it on minus that of
    the rows with it off, per image (over the images every row scored), with its interval."""
    sections = []
    keyed: dict[tuple, list[Row]] = {}
    for row in table.rows:
        if row.components and comparer.table(row) is not None:
            keyed.setdefault(row.images, []).append(row)
    for images, rows in keyed.items():
        if len(rows) < 2:
            continue
        tables = [comparer.table(row) for row in rows]
        names = sorted(set.intersection(*(set(t.psnr) for t in tables if t is not None)))
        if not names:
            continue
        # rows x images
        scores = np.array([[t.psnr[n] for n in names] for t in tables if t is not None])
        cells = []
        for component in rows[0].components:
            on = [i for i, row in enumerate(rows) if row.components.get(component)]
            off = [i for i, row in enumerate(rows) if not row.components.get(component)]
            if not on or not off:
                continue
            effect = dict(
                zip(names, scores[on].mean(axis=0) - scores[off].mean(axis=0), strict=True)
            )
            papers = [_paper_psnr(row) for row in rows]
            paper = EMPTY
            if None not in papers:
                mean_on = statistics.fmean(papers[i] for i in on)  # type: ignore[misc]
                mean_off = statistics.fmean(papers[i] for i in off)  # type: ignore[misc]
                paper = f"{mean_on - mean_off:+.2f}"
            # pairs of rows that differ in this component alone: its effect, nothing mixed in
            others = [{k: v for k, v in row.components.items() if k != component} for row in rows]
            matched = [(i, j) for i in on for j in off if others[i] == others[j]]
            alone = None
            if matched:
                on_rows, off_rows = zip(*matched, strict=True)
                differences = scores[list(on_rows)] - scores[list(off_rows)]
                alone = comparer.interval(dict(zip(names, differences.mean(axis=0), strict=True)))
            cells.append(
                [
                    Cell(component),
                    *_interval_cells(comparer.interval(effect)),
                    Cell(f"{len(on)} / {len(off)}"),
                    Cell(alone.text(), strong=alone.clear) if alone else Cell(EMPTY),
                    Cell(str(len(matched))),
                    Cell(paper),
                ]
            )
        if not cells:
            continue
        data, protocol, split = images
        sections.append(
            Section(
                f"Main effect of each component ({data or '?'}: {protocol} ({split}))",
                (
                    "component",
                    "Δ PSNR on − off [95% CI]",
                    "improved",
                    "images",
                    "rows on / off",
                    "Δ PSNR matched pairs [95% CI]",
                    "pairs",
                    "Δ PSNR paper",
                ),
                cells,
                [
                    (
                        Span(
                            "Main effect: per image, the mean PSNR of the grid's rows with the "
                            "component on minus the mean of the rows with it off, averaged over "
                            "the images every row scored; the interval resamples the images. The "
                            "grid is not a full factorial (the paper's rows), so the rows on and "
                            "off also differ in other components (MSFR's one row on has all "
                            "others on). Matched pairs: the mean over the pairs of rows that "
                            "differ in this component alone (on minus off), which nothing else "
                            "is mixed into. Δ PSNR paper: the paper's rows, on minus off."
                        ),
                    ),
                    _interval_note(comparer),
                ],
            )
        )
    return sections


def blur_sections(table: Table, comparer: Comparer) -> list[Section]:
    """The gain over the blurry input by quartile of the input's PSNR, per row; with a baseline,
    also each row's difference to it per quartile, with intervals."""
    rows = [row for row in table.rows if comparer.table(row) is not None]
    if not rows:
        return []
    cells, ranges = [], []
    for row in rows:
        scores = comparer.table(row)
        assert scores is not None
        bins = blur_bins(scores.input_psnr, BINS)
        gain = scores.gain
        values = [
            Cell(f"{statistics.fmean(gain[n] for n in b.names):+.2f} (n={len(b.names)})")
            if b.names
            else Cell(EMPTY)
            for b in bins
        ]
        ranges.append([b.label if b.names else EMPTY for b in bins])
        cells.append([Cell(row.label), *values])
    if all(r == ranges[0] for r in ranges):  # one test set: its quartiles head the columns
        columns = (
            "configuration",
            *(f"{q} ({r})" for q, r in zip(BIN_NAMES, ranges[0], strict=True)),
        )
        where = "the column heads give each quartile's input PSNR range"
    else:
        columns = ("configuration", *BIN_NAMES, "input PSNR per quartile")
        cells = [c + [Cell("; ".join(r))] for c, r in zip(cells, ranges, strict=True)]
        where = "the last column gives each row's quartiles' input PSNR ranges"
    sections = [
        Section(
            "Gain over the blurry input by blur strength",
            columns,
            cells,
            [
                (
                    Span(
                        "Mean per-image PSNR gain (output minus blurry input, dB) within each "
                        "quartile of the test set by the blurry input's PSNR (Q1: the most "
                        f"blurred quarter); {where}."
                    ),
                )
            ],
        )
    ]
    by_bin = []
    for row in rows:
        base = _baseline(table, row)
        if base is None or base is row or comparer.table(base) is None:
            continue
        base_scores = comparer.table(base)
        assert base_scores is not None
        differences = comparer.difference(base, row)
        bins = blur_bins({n: base_scores.input_psnr[n] for n in differences}, BINS)
        values = []
        for b in bins:
            interval = comparer.interval({n: differences[n] for n in b.names})
            values.append(Cell(interval.text(), strong=interval.clear) if interval else Cell(EMPTY))
        by_bin.append([Cell(row.label), *values])
    if by_bin:
        sections.append(
            Section(
                f"Δ PSNR vs {_baselines_title(table)} by blur strength [95% CI]",
                ("configuration", *BIN_NAMES),
                by_bin,
                [
                    (
                        Span(
                            "The rows' differences to the baseline within each quartile of the "
                            "images both scored, by the blurry input's PSNR: where a component "
                            "helps. Each quartile holds a quarter of the images, so its interval "
                            "is about twice as wide as the whole set's."
                        ),
                    )
                ],
            )
        )
    return sections


def pairs_section(tables: list[Table], comparer: Comparer) -> Section | None:
    """Every pair of rows (of any table) scored on the same images: the later minus the earlier."""
    rows = [row for table in tables for row in table.rows if comparer.table(row) is not None]
    cells = []
    for a, b in itertools.combinations(rows, 2):
        differences = comparer.difference(a, b)
        if not differences:
            continue
        data, protocol, split = a.images
        cells.append(
            [
                Cell(f"{b.label} − {a.label}"),
                Cell(f"{data or '?'}: {protocol} ({split})"),
                *_interval_cells(comparer.interval(differences)),
            ]
        )
    if not cells:
        return None
    return Section(
        "Paired differences between rows scored on the same images",
        ("comparison", "data: protocol (split)", "Δ PSNR [95% CI]", "improved", "images"),
        cells,
        [
            _interval_note(comparer),
            (
                Span(
                    "Images are matched by name (per_image.csv); only the images both rows scored."
                ),
            ),
        ],
    )


def missing_note(table: Table, comparer: Comparer) -> Note | None:
    """Which rows have no per-image scores (and so no intervals)."""
    missing = list(dict.fromkeys(row.label for row in table.rows if comparer.table(row) is None))
    if not missing:
        return None
    return (
        Span("No per-image scores (per_image.csv) for "),
        Span(", ".join(missing)),
        Span(": no intervals or blur-strength split for them (deblurlab-eval writes one)."),
    )


def compare(tables: list[Table], resamples: int = RESAMPLES, seed: int = SEED) -> list[Section]:
    """Fill each table's sections (baseline, main effects, blur strength) and return the report's
    closing one: every pair of rows on the same images."""
    comparer = Comparer(resamples, seed)
    for table in tables:
        sections = []
        baseline = baseline_section(table, comparer)
        if baseline is not None:
            sections.append(baseline)
        sections += main_effects_section(table, comparer)
        sections += blur_sections(table, comparer)
        note = missing_note(table, comparer)
        if note is not None and sections:
            sections[-1].notes.append(note)
        elif note is not None:
            sections.append(Section("Per-image comparisons", (), [], [note]))
        table.sections = sections
    pairs = pairs_section(tables, comparer)
    return [pairs] if pairs is not None else []
