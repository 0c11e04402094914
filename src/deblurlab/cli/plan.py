"""deblurlab-plan: what a training command or sweep will cost before it is submitted.

    deblurlab-plan -m experiment=ablation_table3 data=synthetic debug=smoke
    deblurlab-plan -m experiment=ablation_table3 seed=1,2,3 --step-time 0.05 --time-limit 24h

Per point and in total: optimizer steps, step time (measured over a few real steps here, or
given with --step-time for the target GPU), wall time, and SLURM jobs for a partition time
limit. The work is :func:`deblurlab.run.plan.plan`.
"""

from __future__ import annotations

import argparse
import json

from deblurlab.run.task import run_task


def _plan(args: argparse.Namespace) -> None:
    from deblurlab.run.plan import plan, render

    plans, limit_s, where = plan(
        args.overrides, args.multirun, args.time_limit, args.step_time, args.measure_steps
    )
    if args.json:
        print(json.dumps({"time_limit_s": limit_s, "points": [p.to_dict() for p in plans]}))
    else:
        print(render(plans, limit_s, where))


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="deblurlab-plan", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="deblurlab-train's overrides (key=value)")
    parser.add_argument("-m", "--multirun", action="store_true", help="plan the sweep's points")
    parser.add_argument(
        "--step-time",
        default=None,
        help="seconds per optimizer step on the target (e.g. 0.05, 50ms is 0.05s); "
        "default: measured here over --measure-steps steps",
    )
    parser.add_argument(
        "--time-limit",
        default=None,
        help="the partition's time limit per job (24h, 90m, 2d, 1-12:00:00); default: "
        "hydra.launcher.timeout_min with launcher=slurm, else 24h",
    )
    parser.add_argument(
        "--measure-steps", type=int, default=5, help="steps timed per configuration (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    run_task(_plan, parser.parse_args(argv))


if __name__ == "__main__":
    main()
