"""Inference paths side by side: the released way (what the authors' code does: eager fp32 NCHW
under ``torch.no_grad()``, AFF concatenating before its 1x1 conv) against deblurlab's ``Restorer``
paths. bf16 is timed in full only where it is native; elsewhere once, labelled emulated, to show
what it would cost. ``compile`` (with ``--compile``): the first-call time is the compile time."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor, nn

from deblurlab.benchmarks import BenchOptions, Table, ratio
from deblurlab.benchmarks.networks import NETWORKS, make_restorer, network_makers, photo_pair
from deblurlab.benchmarks.probes import in_turns, peak_memory_mib
from deblurlab.hardware import native_bf16
from deblurlab.metrics import psnr
from deblurlab.models.macs import count_macs
from deblurlab.models.mimo_unet import released_aff

# path -> (label, Restorer settings; None: the released way)
PATHS: dict[str, tuple[str, dict[str, object] | None]] = {
    "reference": ("reference (eager fp32 NCHW)", None),
    "default": ("deblurlab default (channels_last fp32)", {}),
    "bf16": ("deblurlab bf16", {"precision": "bf16"}),
    "compile": ("deblurlab compile", {"compile": True}),
}


def path_call(make_net: Callable[[], nn.Module], kind: str, device: str) -> Callable:
    """A fresh network from ``make_net`` on ``device``, run the way of path ``kind``."""
    if PATHS[kind][1] is not None:
        return make_restorer(make_net, device, **PATHS[kind][1])
    net = released_aff(make_net().to(device).eval()).to(memory_format=torch.contiguous_format)

    def call(x: Tensor) -> Tensor:
        with torch.no_grad():
            return net(x)[-1].clamp(0, 1)

    return call


def run(opts: BenchOptions) -> Table:
    """Every network's paths at 256 x 256 (64 with ``--quick``; + 1280 x 720 with ``--large``)."""
    native = native_bf16(opts.device)
    sizes = [(64, 64)] if opts.quick else [(256, 256)] + [(720, 1280)] * opts.large
    columns = "network|size|path|median s|first call s|x reference|max abs diff|PSNR change dB"
    table = Table(
        title=f"Inference paths: the released way vs deblurlab's Restorer ({opts.device})",
        columns=(columns + "|GMAC/s|% of matmul|peak MiB").split("|"),
        note=(
            f"Paths timed in turns, {opts.repeats} calls each after a warm-up call (first call "
            "s); x reference = reference median / path median. max abs diff to the reference "
            "output; PSNR change against the sharp photograph, path minus reference. GMAC/s: "
            "multiply-adds of one forward of the released network / median (every path is "
            "credited with the same work); % of matmul: that rate over the head's fp32 matmul "
            "rate. peak MiB: extra peak memory of one forward, in a fresh process."
            + ("" if native else " No native bf16 here: bf16 runs emulated, timed once.")
        ),
    )
    for h, w in sizes:
        blurry, sharp = photo_pair(h, w)
        blurry = blurry.to(opts.device)
        for index, (name, make_net) in enumerate(network_makers(opts, list(NETWORKS)).items()):
            kinds = ["reference", "default"] + ["bf16"] * native + ["compile"] * opts.compile
            calls = {
                k: functools.partial(path_call(make_net, k, opts.device), blurry) for k in kinds
            }
            turns = in_turns(calls, opts.repeats, opts.device)
            if not native and index == 0 and (h, w) == sizes[0]:  # a warm-up and one timed call
                emulated = functools.partial(path_call(make_net, "bf16", opts.device), blurry)
                for _ in range(2):
                    turns.take("bf16", emulated)
            macs = count_macs(released_aff(make_net()), (h, w))
            reference = turns.results["reference"].float().cpu()
            ref_db = float(psnr(reference, sharp).mean())
            for kind in turns.first:
                out, seconds = turns.results[kind].float().cpu(), turns.median(kind)
                gmacs = macs / seconds / 1e9
                # --quick is a smoke test: one probe (the first default path) shows it works
                probe = kind in ("reference", "default") or (kind == "bf16" and native)
                probe = index == 0 and kind == "default" if opts.quick else probe
                make_call = functools.partial(path_call, make_net, kind, opts.device)
                shape = tuple(blurry.shape)
                memory = peak_memory_mib(make_call, shape, opts.device) if probe else None
                change = float(psnr(out, sharp).mean()) - ref_db
                label = PATHS[kind][0] + (" (emulated)" if kind == "bf16" and not native else "")
                table.rows.append(
                    [name, f"{w}x{h}", label, seconds, turns.first[kind]]
                    + [ratio(turns.median("reference") / seconds)]
                    + [f"{float((out - reference).abs().max()):.1e}"]
                    + ["-" if kind == "reference" else f"{change:+.3f}", gmacs]
                    + [f"{100 * gmacs / opts.matmul_gmacs:.0f}%" if opts.matmul_gmacs else "-"]
                    + [memory]
                )
    return table
