"""deblurlab-bench: speed and memory tables, the variants of each measured side by side in one run.

    deblurlab-bench                       # paths at 256x256, training step, data loading, blur
    deblurlab-bench --large               # + 1280x720, and Restorer options (tiles, 4K, ensembles)
    deblurlab-bench --only paths training # some sections (--networks: some networks)
    deblurlab-bench --ckpt best.ckpt      # a trained network instead of seeded random weights
    deblurlab-bench --quick               # tiny networks and sizes: a smoke check of the benchmark
    deblurlab-bench --only compiled       # graph breaks, compiled vs eager training step
    deblurlab-bench --device cuda --only gpu   # everything a GPU run depends on, one table

The head names the machine and its fp32 matmul rate, the yardstick for every GMAC/s. Read the
ratios, not the seconds; what each should reach, and where, is in docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
from dataclasses import fields

import torch

from deblurlab.benchmarks import BenchOptions
from deblurlab.benchmarks.networks import NETWORKS
from deblurlab.benchmarks.probes import matmul_gmacs
from deblurlab.hardware import bf16_speedup, cpu_info, trainer_precision

SECTIONS = ("paths", "training", "data", "blur", "inference", "compiled", "gpu", "overhead")
# not compiled (minutes of C++ compilation on a small CPU) nor gpu (its own make target)
DEFAULT_SECTIONS = ("paths", "training", "data", "blur", "overhead")
LARGE_SECTIONS = tuple(s for s in SECTIONS if s not in ("compiled", "gpu"))


def machine_lines() -> str:
    """What this machine is, for the head of the output."""
    mkldnn = "yes" if torch.backends.mkldnn.is_available() else "no"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"CPU: {cpu_info().describe()}\ntorch {torch.__version__}, oneDNN (mkldnn) {mkldnn}, "
        f"CPU kernels {torch.backends.cpu.get_cpu_capability()}, GPU {gpu}; CPU precision=auto "
        f"trains in {trainer_precision('cpu')} (bf16 convolutions {bf16_speedup():.2f}x fp32 here)"
    )


def parse(argv: list[str] | None = None) -> tuple[BenchOptions, list[str], int | None]:
    """The command line -> (options, sections to run, torch threads or None)."""
    parser = argparse.ArgumentParser(prog="deblurlab-bench", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--only", nargs="+", choices=SECTIONS, help="sections to run")
    add("--quick", action="store_true", help="tiny networks and sizes")
    add("--large", action="store_true", help="add 1280x720, tiled 4K and the Restorer options")
    add("--compile", action="store_true", help="add torch.compile rows")
    add("--networks", nargs="+", choices=list(NETWORKS), help="networks to measure")
    ckpt = os.environ.get("DEBLURLAB_BENCH_CKPT")
    add("--ckpt", default=ckpt, help="a checkpoint to measure ($DEBLURLAB_BENCH_CKPT)")
    add("--repeats", type=int, default=None, help="timed calls per variant")
    add("--threads", type=int, default=None, help="torch CPU threads")
    add("--device", default="cpu", choices=["cpu", "cuda"], help="inference sections' device")
    add("--train-size", type=int, default=256, help="training-step crop side")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    opts = BenchOptions(**{f.name: getattr(args, f.name) for f in fields(BenchOptions) if f.init})
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
        f"{machine_lines()}\nfp32 matmul ({n} x {n}, {torch.get_num_threads()} threads): "
        f"{opts.matmul_gmacs:.1f} GMAC/s, about the most fp32 convolutions reach here\n",
        flush=True,
    )
    for name in sections:
        table = importlib.import_module(f"deblurlab.benchmarks.{name}").run(opts)
        print(table.render() + "\n", flush=True)


if __name__ == "__main__":
    main()
