"""deblurlab-bench: speed and memory tables, with the variants measured side by side in one run.

    deblurlab-bench                       # inference paths at 256x256, training step, data loading,
                                          # how much a linear filter undoes the built-in blur
    deblurlab-bench --large               # + 1280x720, tiled 4K memory, tiling and ensembles
    deblurlab-bench --compile             # + torch.compile rows (first call compiles: slow)
    deblurlab-bench --networks MIMO-UNet  # only these networks in the inference table
    deblurlab-bench --only paths training # some sections
    deblurlab-bench --quick               # tiny networks and sizes (a smoke check of the benchmark)
    deblurlab-bench --device cuda         # the inference table on the GPU (make bench-gpu)

The head of the output names the machine (CPU model, cores, threads, bf16/AMX flags, torch) and
its fp32 matmul speed, the yardstick every GMAC/s in the tables is set against;
the end lists the performance targets, whether each applies on this machine and whether it holds.
Absolute times depend on the machine and on what else runs on it; read the ratios, which compare
variants timed in turns in the same process.
"""

from __future__ import annotations

import argparse
import importlib

import torch

from deblurlab.benchmarks import BenchOptions, targets_table
from deblurlab.benchmarks.ceiling import matmul_gmacs
from deblurlab.hardware import cpu_info

SECTIONS: dict[str, str] = {
    "paths": "deblurlab.benchmarks.paths",
    "training": "deblurlab.benchmarks.training",
    "data": "deblurlab.benchmarks.data",
    "inference": "deblurlab.benchmarks.inference",
    "models": "deblurlab.benchmarks.models",
    "blur": "deblurlab.benchmarks.blur",
}
DEFAULT_SECTIONS: tuple[str, ...] = ("paths", "training", "data", "blur")
LARGE_SECTIONS: tuple[str, ...] = ("paths", "training", "data", "blur", "inference")


def machine_line() -> str:
    """What this machine is, for the head of the output."""
    mkldnn = "yes" if torch.backends.mkldnn.is_available() else "no"
    capability = torch.backends.cpu.get_cpu_capability()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"CPU: {cpu_info().describe()}\n"
        f"torch {torch.__version__}, oneDNN (mkldnn) {mkldnn}, CPU kernels {capability}, GPU {gpu}"
    )


def parse(argv: list[str] | None = None) -> tuple[BenchOptions, list[str], int | None]:
    """The command line -> (options, sections to run, torch threads or None)."""
    parser = argparse.ArgumentParser(prog="deblurlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="sections to run")
    parser.add_argument("--quick", action="store_true", help="tiny networks and sizes")
    parser.add_argument("--large", action="store_true", help="add 1280x720 and tiled 4K")
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument("--networks", nargs="+", default=None, help="networks (inference table)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per variant")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="inference table")
    parser.add_argument("--train-size", type=int, default=256, help="training-step crop side")
    args = parser.parse_args(argv)
    known = ("MIMO-UNet", "MIMO-UNet+", "SGENet")
    for name in args.networks or []:
        if name not in known:
            parser.error(f"--networks: unknown network {name!r} (known: {', '.join(known)})")
    opts = BenchOptions(
        quick=args.quick,
        large=args.large,
        compile=args.compile,
        networks=args.networks,
        repeats=args.repeats or (1 if args.quick else 3),
        device=args.device,
        train_size=args.train_size,
    )
    sections = args.only or list(LARGE_SECTIONS if args.large else DEFAULT_SECTIONS)
    return opts, sections, args.threads


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    opts, sections, threads = parse(argv)
    if threads:
        torch.set_num_threads(threads)
    n = 512 if opts.quick else 2048
    opts.matmul_gmacs = matmul_gmacs(opts.device, n)
    print(
        f"{machine_line()}\nfp32 matmul ({n} x {n}, {torch.get_num_threads()} threads): "
        f"{opts.matmul_gmacs:.1f} GMAC/s, about the most fp32 convolutions reach here\n",
        flush=True,
    )
    for name in sections:
        module = importlib.import_module(SECTIONS[name])
        for table in module.run(opts):
            print(table.render() + "\n", flush=True)
    if opts.targets:
        print(targets_table(opts.targets).render(), flush=True)


if __name__ == "__main__":
    main()
