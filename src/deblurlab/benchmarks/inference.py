"""Restorer options on one image: whole image against tiles (time, memory, agreement) and the
cost of the self-ensembles. With ``--ckpt`` it measures a trained network, whose agreement between
tiles and the whole image is the one that matters for its scores."""

from __future__ import annotations

import functools

from torch import Tensor

from deblurlab.benchmarks import BenchOptions, Table, ratio
from deblurlab.benchmarks.networks import make_restorer, network_makers, photo_pair
from deblurlab.benchmarks.probes import in_turns, peak_memory_mib
from deblurlab.metrics import psnr

UHD, TILES = (2160, 3840), [(512, 64), (256, 32), (256, 64)]  # (tile, overlap)


def _db(a: Tensor, b: Tensor, digits: int = 4) -> str:
    """PSNR as text with fixed decimals (3 significant digits would hide the differences)."""
    value = float(psnr(a.float().cpu(), b.float().cpu())[0])
    return "inf" if value == float("inf") else f"{value:.{digits}f}"


def run(opts: BenchOptions) -> Table:
    """Whole image, tiles and ensembles of the first network at 1280 x 720 (128 x 96 with
    ``--quick``); with ``--large`` also the peak memory of a 3840 x 2160 image in 512 px tiles."""
    name, make_net = next(iter(network_makers(opts, ["MIMO-UNet"]).items()))
    size, tiles = ((96, 128), [(64, 16)]) if opts.quick else ((720, 1280), TILES)
    blurry, sharp = photo_pair(*size)
    settings: dict[str, dict[str, object]] = {"whole image": {}}
    settings.update({f"tile {t}, overlap {o}": {"tile": t, "overlap": o} for t, o in tiles})
    settings.update({f"ensemble {e}": {"ensemble": e} for e in ("rot4", "x8")})
    makers = {
        k: functools.partial(make_restorer, make_net, opts.device, **s) for k, s in settings.items()
    }
    x = blurry.to(opts.device)
    turns = in_turns(
        {k: functools.partial(m(), x) for k, m in makers.items()}, opts.repeats, opts.device
    )
    whole = turns.results["whole image"]
    table = Table(
        title=f"Restorer options, {name}, {size[1]} x {size[0]} ({opts.device})",
        columns=["variant", "median s", "x whole", "extra peak MiB", "PSNR to whole dB"]
        + ["max abs diff", "PSNR to sharp dB"],
        note=(
            f"Timed in turns, {opts.repeats} calls each after a warm-up call. PSNR to whole: "
            "agreement with the whole-image output (inf = identical); PSNR to sharp: the "
            "restoration's quality, before 8-bit rounding. rot4 = MIMO-UNet++'s 4 rotations, "
            "x8 = EDSR's 8 flips and rotations. Peak memory (fresh process) not probed with --quick."
        ),
    )
    for key, make in makers.items():
        out, seconds = turns.results[key], turns.median(key)
        memory = None if opts.quick else peak_memory_mib(make, tuple(x.shape), opts.device)
        table.rows.append(
            [key, seconds, ratio(seconds / turns.median("whole image")), memory]
            + [_db(out, whole, 1), float((out - whole).abs().max()), _db(out, sharp)]
        )
    if opts.large:
        tiled_4k = functools.partial(make_restorer, make_net, opts.device, tile=512, overlap=32)
        memory = peak_memory_mib(tiled_4k, (1, 3, *UHD), opts.device)
        table.rows.append(["3840 x 2160, tile 512, overlap 32", None, None, memory] + [None] * 3)
    return table
