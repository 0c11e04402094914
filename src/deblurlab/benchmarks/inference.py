"""Inference options side by side: tiles vs whole image (time, memory, agreement), fp32 vs bf16,
and the cost of the self-ensembles.

    deblurlab-bench --only inference [--quick]
    python -m deblurlab.benchmarks.inference --ckpt best.ckpt   # a trained network instead of random weights

The full run uses a 1280 x 720 synthetic pair (a scikit-image photograph upscaled and blurred along
a camera path) and the full MIMO-UNet; ``--quick`` a 128 x 96 pair and a tiny MIMO-UNet. Without
a checkpoint (argument or ``$DEBLURLAB_BENCH_CKPT``) the network has seeded random weights.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from deblurlab.benchmarks import BenchOptions, Table, median_seconds
from deblurlab.benchmarks.memory import peak_rise_bytes
from deblurlab.inference import Restorer
from deblurlab.metrics import psnr


def synthetic_pair(height: int, width: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A ``height x width`` (blurry, sharp) pair: the rocket photograph scaled to cover the size,
    blurred by averaging frames along a random camera path (the built-in data's blur model)."""
    from deblurlab.data.photos import load_builtin_photo
    from deblurlab.data.synthetic import BlurModel, synthesize_pair

    photo = load_builtin_photo("rocket").astype(np.float32) / 255.0
    scale = max(height / photo.shape[0], width / photo.shape[1]) * 1.05
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC).clip(0, 1)
    region = (0, 0, photo.shape[0], photo.shape[1])
    blurry, sharp = synthesize_pair(
        photo, region, (height, width), np.random.default_rng(seed), BlurModel()
    )

    def tensor(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]

    return tensor(blurry), tensor(sharp)


def load_network(ckpt: str | None, quick: bool) -> tuple[nn.Module, str]:
    """The network to measure and a description: a checkpoint's, else seeded random MIMO-UNet."""
    if ckpt:
        from deblurlab.inference.loading import build_network, resolve_model_config

        loaded = resolve_model_config(ckpt, None)
        net = build_network(loaded.model_cfg, ckpt)
        return net.eval(), f"{loaded.model_cfg.name} from {ckpt}"
    from deblurlab.models import mimo_unet

    torch.manual_seed(0)
    if quick:
        return mimo_unet(num_res=1, base_channels=8).eval(), "tiny MIMO-UNet, random weights"
    return mimo_unet().eval(), "MIMO-UNet, random weights"


def _peak_child(net: nn.Module, shape: tuple[int, ...], settings: dict[str, Any], queue) -> None:
    """In a fresh process: the peak RSS rise (MiB) during one restoration."""
    torch.set_num_threads(int(settings.pop("threads")))
    restorer = Restorer(net, **settings)
    x = torch.rand(shape)
    queue.put(peak_rise_bytes(lambda: restorer(x)) / 2**20)


def peak_memory_mb(net: nn.Module, x: Tensor, settings: dict[str, Any]) -> float:
    """Extra peak memory (MiB) of one restoration of an input shaped like ``x``.

    On a GPU: peak allocated CUDA memory above what was allocated before. On the CPU: the rise of
    the resident set size of a fresh process (so memory cached by earlier runs does not hide it),
    from the kernel's high-water mark.
    """
    device = next(net.parameters()).device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        Restorer(net, **settings)(x.to(device))
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child_settings = {**settings, "threads": torch.get_num_threads()}
    proc = ctx.Process(target=_peak_child, args=(net, tuple(x.shape), child_settings, queue))
    proc.start()
    value = queue.get(timeout=3600)
    proc.join()
    return float(value)


def _timer(restorer: Restorer, x: Tensor) -> Callable[[], Tensor]:
    device = restorer.device

    def run() -> Tensor:
        out = restorer(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return out

    return run


def _db(a: Tensor, b: Tensor, digits: int = 4) -> str:
    """PSNR in dB as text with fixed decimals (the table's 3 significant digits hide differences)."""
    value = float(psnr(a, b)[0])
    return "inf" if value == float("inf") else f"{value:.{digits}f}"


def tiling_table(
    net: nn.Module, blurry: Tensor, sharp: Tensor, tiles: list[tuple[int, int]], repeats: int
) -> Table:
    """Whole-image inference against tiled inference with several (tile, overlap) settings."""
    h, w = blurry.shape[-2:]
    table = Table(
        title=f"Tiled vs whole-image inference, {w} x {h}, fp32",
        columns=[
            "variant",
            "median s",
            "x whole",
            "extra peak MiB",
            "PSNR to whole (dB)",
            "max abs diff",
            "PSNR to sharp (dB)",
        ],
        note=(
            "PSNR to whole: agreement of the tiled output with the whole-image output (inf = "
            "identical). PSNR to sharp: the restoration's quality (8-bit rounding not applied)."
        ),
    )
    whole = Restorer(net)
    reference = whole(blurry)
    base = median_seconds(_timer(whole, blurry), repeats=repeats)
    table.rows.append(
        [
            "whole image",
            base,
            1.0,
            peak_memory_mb(net, blurry, {}),
            "inf",
            0.0,
            _db(reference, sharp),
        ]
    )
    for tile, overlap in tiles:
        restorer = Restorer(net, tile=tile, overlap=overlap)
        out = restorer(blurry)
        seconds = median_seconds(_timer(restorer, blurry), repeats=repeats)
        table.rows.append(
            [
                f"tile {tile}, overlap {overlap}",
                seconds,
                seconds / base,
                peak_memory_mb(net, blurry, {"tile": tile, "overlap": overlap}),
                _db(out, reference, 1),
                float((out - reference).abs().max()),
                _db(out, sharp),
            ]
        )
    return table


def precision_table(net: nn.Module, blurry: Tensor, sharp: Tensor, repeats: int) -> Table:
    """fp32 against bf16 autocast: time and how far the outputs move."""
    h, w = blurry.shape[-2:]
    table = Table(
        title=f"Precision, {w} x {h}",
        columns=["precision", "median s", "speed-up", "PSNR to fp32 (dB)", "PSNR to sharp (dB)"],
        note="speed-up = fp32 time / variant time, measured in the same run.",
    )
    fp32 = Restorer(net)
    reference = fp32(blurry)
    base = median_seconds(_timer(fp32, blurry), repeats=repeats)
    table.rows.append(["fp32", base, 1.0, "inf", _db(reference, sharp)])
    bf16 = Restorer(net, precision="bf16")
    out = bf16(blurry)
    seconds = median_seconds(_timer(bf16, blurry), repeats=repeats)
    table.rows.append(["bf16", seconds, base / seconds, _db(out, reference, 1), _db(out, sharp)])
    return table


def ensemble_table(net: nn.Module, blurry: Tensor, sharp: Tensor, repeats: int) -> Table:
    """The cost (and effect) of the rot4 and x8 self-ensembles."""
    h, w = blurry.shape[-2:]
    table = Table(
        title=f"Self-ensemble, {w} x {h}, fp32",
        columns=["ensemble", "median s", "x none", "PSNR to sharp (dB)"],
        note="rot4 = MIMO-UNet++ (4 rotations, 2 batches of 2); x8 = EDSR (8, 2 batches of 4).",
    )
    base = None
    for mode in (None, "rot4", "x8"):
        restorer = Restorer(net, ensemble=mode)
        out = restorer(blurry)
        seconds = median_seconds(_timer(restorer, blurry), repeats=repeats)
        base = base or seconds
        table.rows.append([mode or "none", seconds, seconds / base, _db(out, sharp)])
    return table


def run(opts: BenchOptions | bool = False, ckpt: str | None = None) -> list[Table]:
    """Every table of this section (``ckpt``: a deblurlab checkpoint instead of random weights)."""
    quick = opts.quick if isinstance(opts, BenchOptions) else bool(opts)
    ckpt = ckpt or os.environ.get("DEBLURLAB_BENCH_CKPT")
    net, description = load_network(ckpt, quick)
    if torch.cuda.is_available():
        net = net.cuda()
    if quick:
        blurry, sharp = synthetic_pair(96, 128)
        small = blurry, sharp
        tiles, repeats = [(64, 16)], 3
    else:
        blurry, sharp = synthetic_pair(720, 1280)
        small = blurry[..., :256, :256], sharp[..., :256, :256]
        tiles, repeats = [(512, 64), (256, 32), (256, 64)], 1
    tables = [
        tiling_table(net, blurry, sharp, tiles, repeats),
        precision_table(net, *small, repeats=3),
        ensemble_table(net, *small, repeats=3),
    ]
    for table in tables:
        table.note = f"Network: {description}. " + table.note
    return tables


def main(argv: list[str] | None = None) -> None:
    """``python -m deblurlab.benchmarks.inference [--quick] [--ckpt PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, tiny network")
    parser.add_argument("--ckpt", default=None, help="a deblurlab checkpoint to measure")
    args = parser.parse_args(argv)
    for table in run(args.quick, args.ckpt):
        print(table.render() + "\n", flush=True)


if __name__ == "__main__":
    main()
