"""deblurlab-report: finished runs -> tables beside the papers' numbers, a plot, report.html.

    deblurlab-report experiments/runs/train/multirun/2026-01-01/12-00-00-000000_4242
    deblurlab-report experiments/runs --out experiments/results/table1

The work is :func:`deblurlab.report.report` (which files it reads, what it writes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deblurlab.report import report
from deblurlab.report.stats import RESAMPLES, SEED
from deblurlab.run.task import run_task


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="deblurlab-report", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="run, multirun or runs folders")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the first path)"
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=RESAMPLES,
        help=f"paired bootstrap resamples of the test images (default {RESAMPLES})",
    )
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"the bootstrap's seed (default {SEED})"
    )
    args = parser.parse_args(argv)
    if args.resamples < 1:
        parser.error(f"--resamples must be >= 1, got {args.resamples}")
    run_task(report, args.paths, args.out, args.resamples, args.seed)


if __name__ == "__main__":
    main()
