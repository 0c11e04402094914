"""The inference paths side by side: the released way against deblurlab's Restorer paths.

For each network and size, on a photograph blurred along a camera path:

* ``reference``: what the authors' code does: eager, fp32, NCHW, ``torch.no_grad()``, AFF as
  released (concatenate at the output scale, then the 1x1 conv);
* ``deblurlab default``: ``Restorer(net)``: channels_last, inference mode, fp32;
* ``deblurlab bf16``: ``Restorer(net, precision="bf16")`` (timed in full only where bf16 is
  native; elsewhere measured once on MIMO-UNet at the small size, to show that it is slower);
* ``deblurlab compile``: ``Restorer(net, compile=True)`` (``--compile``; first-call time shown).

The variants are timed interleaved (A B C A B C ...) in one process and the medians compared, so
load from other programs falls on all of them alike. Peak memory is measured in a fresh process
per path (the rise of the resident set size from just before the forward to its peak).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from deblurlab.benchmarks import BenchOptions, Table, Target
from deblurlab.benchmarks.memory import peak_rise_bytes
from deblurlab.hardware import native_bf16
from deblurlab.inference import Restorer
from deblurlab.metrics import psnr
from deblurlab.models.macs import count_macs
from deblurlab.models.mimo_unet import released_aff
from deblurlab.timing import timed

SIZES: tuple[tuple[int, int], ...] = ((256, 256),)
LARGE: tuple[int, int] = (720, 1280)
QUICK: tuple[int, int] = (64, 64)
UHD: tuple[int, int] = (2160, 3840)
TILE = 512
# the targets for deblurlab's paths against the reference, at 1280 x 720
FP32_TARGET, BF16_TARGET, MAX_DIFF, BF16_PSNR_DROP, MEMORY_MB = 1.7, 2.2, 1e-5, 0.02, 2.5 * 1024


def network_factories(quick: bool = False) -> dict[str, Callable[[], nn.Module]]:
    """Network name -> constructor with seeded random weights (tiny widths when ``quick``)."""
    from deblurlab.models import mimo_unet, mimo_unet_plus, sgenet

    factories: dict[str, Callable[..., nn.Module]] = {
        "MIMO-UNet": mimo_unet,
        "MIMO-UNet+": mimo_unet_plus,
        "SGENet": sgenet,
    }
    tiny: dict[str, dict[str, object]] = {
        "MIMO-UNet": {"num_res": 1, "base_channels": 8},
        "MIMO-UNet+": {"num_res": 2, "base_channels": 8},
        "SGENet": {"widths": [8, 8, 8], "num_rdm": 1},
    }

    def seeded(name: str) -> Callable[[], nn.Module]:
        def make() -> nn.Module:
            torch.manual_seed(0)
            return factories[name](**(tiny[name] if quick else {})).eval()

        return make

    return {name: seeded(name) for name in factories}


def photo_pair(height: int, width: int) -> tuple[Tensor, Tensor]:
    """A (blurry, sharp) pair of real photographs, 1 x 3 x H x W (see benchmarks.inference)."""
    from deblurlab.benchmarks.inference import synthetic_pair

    return synthetic_pair(height, width)


@dataclass
class Variant:
    """One inference path: ``call(x)`` returns the B x 3 x H x W float32 result."""

    name: str
    call: Callable[[Tensor], Tensor]
    first_s: float = 0.0
    times: list[float] | None = None
    output: Tensor | None = None


def reference_call(net: nn.Module) -> Callable[[Tensor], Tensor]:
    """The released way: eager fp32 NCHW under ``torch.no_grad()``, the last output clamped."""

    def call(x: Tensor) -> Tensor:
        with torch.no_grad():
            return net(x)[-1].clamp(0, 1)

    return call


def make_variant(
    kind: str, make_net: Callable[[], nn.Module], device: str = "cpu"
) -> Callable[[Tensor], Tensor]:
    """A fresh network on ``device`` wrapped for the path ``kind`` (reference, default, bf16,
    compile, tiled)."""
    net = make_net().to(device)
    if kind == "reference":
        return reference_call(released_aff(net))
    options = {
        "default": {},
        "bf16": {"precision": "bf16"},
        "compile": {"compile": True},
        "tiled": {"tile": TILE, "overlap": 32},
    }[kind]
    return Restorer(net, **options)


def interleaved(variants: list[Variant], x: Tensor, repeats: int) -> None:
    """Warm every variant up once (its first-call time kept), then time them in turns."""
    for v in variants:
        run = timed(lambda v=v: v.call(x), x.device)
        v.output, v.first_s, v.times = run.result.float().cpu(), run.elapsed, []
    for _ in range(repeats):
        for v in variants:
            v.times.append(timed(lambda v=v: v.call(x), x.device).elapsed)  # type: ignore[union-attr]


def _peak_child(name: str, quick: bool, kind: str, shape: tuple[int, ...], threads: int, queue):
    """In a fresh process: extra peak resident memory (MiB) of one call of path ``kind``."""
    torch.set_num_threads(threads)
    call = make_variant(kind, network_factories(quick)[name])
    x = torch.rand(shape)
    queue.put(peak_rise_bytes(lambda: call(x)) / 2**20)


def peak_memory_mb(
    name: str, quick: bool, kind: str, shape: tuple[int, ...], device: str = "cpu"
) -> float | str:
    """Peak memory of one forward above the loaded network and input: in a fresh process on the
    CPU; on a GPU, the peak of allocated memory above what was allocated before."""
    if device != "cpu":
        call = make_variant(kind, network_factories(quick)[name], device)
        x = torch.rand(shape, device=device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        call(x)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    if not os.path.exists("/proc/self/clear_refs"):
        return "-"
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    args = (name, quick, kind, shape, torch.get_num_threads(), queue)
    proc = ctx.Process(target=_peak_child, args=args)
    proc.start()
    value = queue.get(timeout=7200)
    proc.join()
    return float(value)


def _db(out: Tensor, sharp: Tensor) -> float:
    return float(psnr(out, sharp).mean())


def network_rows(
    name: str,
    make_net: Callable[[], nn.Module],
    size: tuple[int, int],
    opts: BenchOptions,
    bf16_native: bool,
    table: Table,
) -> dict[str, float]:
    """Measure the paths of one network at one size; add rows to ``table``; return the ratios."""
    h, w = size
    blurry, sharp = (t.to(opts.device) for t in photo_pair(h, w))
    macs = count_macs(released_aff(make_net()), (h, w))  # the released network's arithmetic
    ceiling = opts.matmul_gmacs
    kinds = ["reference", "default"]
    if bf16_native:
        kinds.append("bf16")
    if opts.compile:
        kinds.append("compile")
    variants = [Variant(kind, make_variant(kind, make_net, opts.device)) for kind in kinds]
    interleaved(variants, blurry, opts.repeats)
    # bf16 without native support: one timed call on the first network at the small size only
    if not bf16_native and name == "MIMO-UNet" and size == (SIZES[0] if not opts.quick else QUICK):
        emulated = Variant("bf16", make_variant("bf16", make_net, opts.device))
        interleaved([emulated], blurry, 1)
        variants.append(emulated)
    ref = variants[0]
    base = statistics.median(ref.times or [0.0])
    sharp = sharp.cpu()
    ref_db = _db(ref.output, sharp)  # type: ignore[arg-type]
    ratios: dict[str, float] = {}
    for v in variants:
        seconds = statistics.median(v.times or [0.0])
        diff = float((v.output - ref.output).abs().max())  # type: ignore[operator]
        change = _db(v.output, sharp) - ref_db  # type: ignore[arg-type]
        label = {
            "reference": "reference (eager fp32 NCHW)",
            "default": "deblurlab default (channels_last fp32)",
            "bf16": "deblurlab bf16" + ("" if bf16_native else " (emulated: no native bf16)"),
            "compile": "deblurlab compile",
        }[v.name]
        measured = v.name in ("reference", "default") or (v.name == "bf16" and bf16_native)
        # --quick is a smoke test: one fresh process (the default path of the first network)
        # shows the memory probe works; each costs a torch import
        if opts.quick and (name, v.name) != (next(iter(network_factories())), "default"):
            measured = False
        memory = (
            peak_memory_mb(name, opts.quick, v.name, tuple(blurry.shape), opts.device)
            if measured
            else "-"
        )
        ratios[v.name] = base / seconds
        table.rows.append(
            [
                name,
                f"{w}x{h}",
                label,
                seconds,
                v.first_s,
                f"{base / seconds:.2f}x",
                f"{diff:.1e}",
                f"{change:+.3f}" if v.name != "reference" else "-",
                macs / seconds / 1e9,
                f"{100 * macs / seconds / 1e9 / ceiling:.0f}%" if ceiling else "-",
                memory,
            ]
        )
        if v.name == "default":
            ratios["diff"] = diff
            ratios["reference_gmacs"] = macs / base / 1e9
            ratios["memory"] = memory if isinstance(memory, float) else float("nan")
        if v.name == "bf16":
            ratios["bf16_change"] = change
    return ratios


def run(opts: BenchOptions) -> list[Table]:
    """The inference-paths table and its targets."""
    bf16_here = native_bf16(opts.device)
    sizes = [QUICK] if opts.quick else list(SIZES) + ([LARGE] if opts.large else [])
    factories = network_factories(opts.quick)
    names = opts.networks or list(factories)
    table = Table(
        title=f"Inference paths: the released way vs deblurlab's Restorer ({opts.device})",
        columns=[
            "network",
            "size",
            "path",
            "median s",
            "first call s",
            "x reference",
            "max abs diff",
            "PSNR change dB",
            "GMAC/s",
            "% of matmul",
            "peak MiB",
        ],
        note=(
            f"Variants timed in turns, {opts.repeats} calls each after one warm-up call (first "
            "call s); x reference = reference median / path median. max abs diff and PSNR change "
            "(against the sharp photograph, vs the reference) are measured on a real photograph "
            "blurred along a camera path; networks have seeded random weights. GMAC/s = "
            "multiply-adds of one forward of the released network / median time (deblurlab's "
            "MIMO-UNets do up to 0.7% fewer: AFF convolves before upsampling); % of matmul: that "
            "rate over the fp32 matmul rate at the head of the output. peak MiB: rise of the "
            "resident memory during one forward in a fresh process (above the loaded network and input)."
            + ("" if bf16_here else " No native bf16 here: bf16 runs emulated, timed once.")
        ),
    )
    results: dict[tuple[str, tuple[int, int]], dict[str, float]] = {}
    for size in sizes:
        for name in names:
            results[(name, size)] = network_rows(
                name, factories[name], size, opts, bf16_here, table
            )
    if not opts.quick:
        add_targets(opts, results, bf16_here)
    if opts.large and "MIMO-UNet" in names:
        start = time.perf_counter()
        mem = peak_memory_mb("MIMO-UNet", False, "tiled", (1, 3, *UHD), opts.device)
        seconds = time.perf_counter() - start
        claim = f"MIMO-UNet on a 3840x2160 image in {TILE} px tiles stays under 4 GB"
        if isinstance(mem, float):
            measured = f"{mem:,.0f} MiB extra peak ({seconds:.0f} s incl. process start)"
            opts.targets.append(Target(claim, True, measured, mem < 4 * 1024))
        else:
            opts.targets.append(Target(claim, True, reason="needs /proc (Linux)"))
    return [table]


def add_targets(
    opts: BenchOptions, results: dict[tuple[str, tuple[int, int]], dict[str, float]], bf16: bool
) -> None:
    """The inference targets at 1280 x 720 (measured with ``--large``)."""
    found = {name: r for (name, size), r in results.items() if size == LARGE}
    why = "run with --large" if not found else ""
    r = next(iter(found.values()), None)
    name = next(iter(found), "")
    fp32_claim = f"default path >= {FP32_TARGET}x reference at 1280x720, max abs diff <= 1e-5"
    if r is None:
        opts.targets.append(Target(fp32_claim, True, reason=why))
    else:
        ok = r["default"] >= FP32_TARGET and r["diff"] <= MAX_DIFF
        measured = f"{name}: {r['default']:.2f}x, diff {r['diff']:.1e}"
        if opts.matmul_gmacs:  # how close the target sits to the hardware's ceiling
            needed = FP32_TARGET * r["reference_gmacs"]
            measured += (
                f"; {FP32_TARGET}x = {needed:.1f} GMAC/s, "
                f"{100 * needed / opts.matmul_gmacs:.0f}% of the fp32 matmul rate"
            )
        opts.targets.append(Target(fp32_claim, True, measured, ok))
    bf16_claim = f"bf16 path >= {BF16_TARGET}x reference at 1280x720, PSNR change <= 0.02 dB"
    if not bf16:
        opts.targets.append(Target(bf16_claim, False, reason="needs avx512_bf16 or amx_bf16"))
    elif r is None:
        opts.targets.append(Target(bf16_claim, True, reason=why))
    else:
        ok = r["bf16"] >= BF16_TARGET and abs(r["bf16_change"]) <= BF16_PSNR_DROP
        measured = f"{name}: {r['bf16']:.2f}x, {r['bf16_change']:+.3f} dB"
        opts.targets.append(Target(bf16_claim, True, measured, ok))
    mem_claim = "peak memory of a 1280x720 forward <= 2.5 GB"
    if r is None:
        opts.targets.append(Target(mem_claim, True, reason=why))
    else:
        mem = r["memory"]
        opts.targets.append(Target(mem_claim, True, f"{name}: {mem:,.0f} MiB", mem <= MEMORY_MB))
