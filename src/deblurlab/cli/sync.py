"""deblurlab-sync: upload a run folder's offline W&B runs, resumed ones included, in one go.

    deblurlab-sync experiments/runs/train/2026-01-01/12-00-00-000000_4242
    deblurlab-sync experiments/runs/train/multirun/2026-01-01/12-00-00-000000_4242 --dry-run
    deblurlab-sync RUN_DIR -- --project myproject --entity myteam    # after --: passed to wandb sync

A run continued with ``resume=<run dir>`` logs offline into a second ``wandb/offline-run-*`` folder
with the same run id. Synced one folder at a time, the second upload would not continue the
first; given together, ``wandb sync`` uploads the folders of one run one after the other in order
of start time, into that one run. This command finds every offline run under the given folders
(a run, a multirun, or any folder of runs) and hands them to one ``wandb sync`` call.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from deblurlab.errors import ConfigError
from deblurlab.run.task import run_task


def offline_run_folders(paths: list[Path]) -> list[Path]:
    """Every ``offline-run-*`` folder under ``paths`` (sorted by name, i.e. by start time)."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise ConfigError(f"{path}: not a folder")
        runs = [p for p in path.rglob("offline-run-*") if p.is_dir() and p.parent.name == "wandb"]
        if not runs:
            raise ConfigError(f"{path}: no offline W&B runs (wandb/offline-run-*) under it")
        found += runs
    return sorted(set(found), key=lambda p: (p.name, str(p)))


def wandb_command() -> list[str]:
    """The ``wandb`` executable of this environment (beside Python), else ``wandb`` on PATH."""
    local = Path(sys.executable).with_name("wandb")
    return [str(local)] if local.is_file() else ["wandb"]


def sync(paths: list[Path], extra: list[str], dry_run: bool = False) -> int:
    """Run ``wandb sync [extra] <every offline run under paths>``; returns its exit code."""
    command = [*wandb_command(), "sync", *extra, *map(str, offline_run_folders(paths))]
    if dry_run:
        command.insert(len(wandb_command()) + 1, "--dry-run")
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command).returncode


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="deblurlab-sync",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Arguments after -- go to `wandb sync` (e.g. -- --project NAME --entity TEAM).",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="run, multirun or runs folders")
    parser.add_argument(
        "--dry-run", action="store_true", help="show what wandb sync would upload, upload nothing"
    )
    args = parser.parse_args(argv)
    code = run_task(sync, args.paths, extra, args.dry_run)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
