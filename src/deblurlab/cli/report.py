"""deblurlab-report: finished runs -> tables beside the papers' numbers, a plot, report.html.

    deblurlab-report experiments/runs/train/multirun/2026-01-01/12-00-00-000000_4242
    deblurlab-report experiments/runs --out experiments/results/table1

The work is :func:`deblurlab.report.report` (which files it reads, what it writes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deblurlab.report import report
from deblurlab.run.task import run_task


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="deblurlab-report", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="run, multirun or runs folders")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the first path)"
    )
    args = parser.parse_args(argv)
    run_task(report, args.paths, args.out)


if __name__ == "__main__":
    main()
