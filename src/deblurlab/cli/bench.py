"""deblurlab-bench: speed and memory tables, with the variants measured side by side in one run.

    deblurlab-bench                 # every section
    deblurlab-bench --only models   # one section
    deblurlab-bench --quick         # smaller inputs, fewer repeats (a smoke check of the benchmark)

Absolute times depend on the machine and on what else runs on it; read the ratios, which compare
variants measured one after the other in the same process.
"""

from __future__ import annotations

import argparse
import importlib

import torch

SECTIONS: dict[str, str] = {
    "models": "deblurlab.benchmarks.models",
    "data": "deblurlab.benchmarks.data",
    "inference": "deblurlab.benchmarks.inference",
}


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="deblurlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="sections to run")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n")
    for name in args.only or list(SECTIONS):
        try:
            module = importlib.import_module(SECTIONS[name])
        except ModuleNotFoundError as exc:
            if exc.name != SECTIONS[name]:
                raise
            print(f"### {name}\n\n(section not available: {exc})\n")
            continue
        for table in module.run(quick=args.quick):
            print(table.render() + "\n", flush=True)


if __name__ == "__main__":
    main()
