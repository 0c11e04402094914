"""Training pairs per second and per loader worker: decoding PNG pairs for every crop vs the
memory-mapped decoded cache, through the real DataModule, its sampler and its training loader
with 0, 1 and 2 workers; the cache is checked to hold exactly the decoded pixels."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from deblurlab.benchmarks import BenchOptions, Table
from deblurlab.benchmarks.probes import in_turns
from deblurlab.data.cache import load_cached
from deblurlab.data.datamodule import DeblurDataModule
from deblurlab.data.io import read_image_raw, write_image
from deblurlab.data.paired import PairedFolderSource
from deblurlab.data.photos import BUILTIN_PHOTOS, load_builtin_photo

SIZE, CROP, BATCH, WORKERS = (720, 1280), 256, 4, (0, 1, 2)


def write_pairs(root: Path, count: int, seed: int = 0, size: tuple[int, int] = SIZE) -> None:
    """``count`` GoPro-sized pairs in the folder layout: photographs with camera-like noise."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = load_builtin_photo(BUILTIN_PHOTOS[i % len(BUILTIN_PHOTOS)])
        sharp = cv2.resize(photo, size[::-1], interpolation=cv2.INTER_CUBIC).astype(np.float32)
        sharp = np.clip(sharp + rng.normal(0, 2.0, sharp.shape), 0, 255) / 255  # sensor noise
        blurry = cv2.filter2D(sharp.astype(np.float32), -1, np.full((1, 15), 1 / 15, np.float32))
        blurry = blurry + rng.normal(0, 2.0 / 255, blurry.shape)
        for split in ("train", "test") if i == 0 else ("train",):  # setup("fit") validates on test
            for name, image in (("blur", blurry), ("sharp", sharp)):
                write_image(root / split / name / f"{i:04d}.png", np.clip(image, 0, 1))


def pair_pass(
    root: Path, use_cache: bool, workers: int, epochs: int, crop: int
) -> Callable[[], int]:
    """A call that draws ``epochs`` epochs of training pairs from the DataModule's own training
    loader (its sampler, its transforms, persistent workers: only the warm-up call starts them)."""
    source = PairedFolderSource(str(root), "folder", use_cache=use_cache)
    dm = DeblurDataModule(source, crop_size=crop, batch_size=BATCH, num_workers=workers)
    dm.setup("fit")
    loader = dm.train_dataloader()

    def call() -> int:
        pairs = 0
        for epoch in range(epochs):
            dm.train_sampler.set_epoch(epoch)
            pairs += sum(len(batch["name"]) for batch in loader)
        return pairs

    return call


def same_pixels(root: Path) -> tuple[int, int]:
    """How many images the cache holds exactly as decoded, out of how many."""
    src = PairedFolderSource(str(root), "folder")
    paths = [p for pair in src.pairs("train") for p in (pair.blurry, pair.sharp)]
    found = src.cache().lookup(paths)
    equal = sum(
        p in found and np.array_equal(load_cached(found[p][0]), read_image_raw(p)) for p in paths
    )
    return equal, len(paths)


def run(opts: BenchOptions) -> Table:
    """Pairs per second per worker from PNG decoding and from the cache, 0, 1 and 2 workers."""
    pairs, size, crop = (4, (96, 128), 32) if opts.quick else (16, SIZE, CROP)
    epochs = {"png": 1, "cache": 1 if opts.quick else 12}
    threads = torch.get_num_threads()
    # loader workers run one torch thread; so does the main process here, because with several
    # threads on a busy machine collating a batch alone can take longer than a crop
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="deblurlab-bench-") as tmp:
            root = Path(tmp)
            write_pairs(root, pairs, size=size)
            png_mb = np.mean([p.stat().st_size for p in root.glob("train/*/*.png")]) / 2**20
            src = PairedFolderSource(str(root), "folder")
            src.cache().add(p for pair in src.pairs("train") for p in (pair.blurry, pair.sharp))
            equal, total = same_pixels(root)
            calls = {
                (kind, w): pair_pass(root, kind == "cache", w, epochs[kind], crop)
                for kind in epochs
                for w in WORKERS
            }
            turns = in_turns(calls, 1 if opts.quick else opts.repeats)
            calls.clear()  # the loaders' worker processes end here, before their folder goes
    finally:
        torch.set_num_threads(threads)
    table = Table(
        title=f"Training pairs per second per loader worker: {crop}x{crop} crops from "
        f"{size[1]}x{size[0]} pairs",
        columns=[
            "loader workers",
            "PNG pairs/s",
            "PNG per worker",
            "cache pairs/s",
            "cache per worker",
            "cache / PNG",
        ],
        note=(
            f"{pairs} pairs of {png_mb:.1f} MB PNGs; the DataModule's training loader (its "
            f"sampler, random crop + hflip, batch {BATCH}, persistent workers), one torch thread "
            "per process; the six loaders timed in turns after a warm-up pass each; per worker: "
            "divided by max(1, workers), so 0 workers is the training process itself. With as "
            "many workers as cores the training process competes with them. "
            f"The cache holds exactly the decoded pixels: {equal} of {total} images identical."
        ),
    )
    for w in WORKERS:
        png, cache = (turns.results[(k, w)] / turns.median((k, w)) for k in epochs)
        table.rows.append([w, png, png / max(1, w), cache, cache / max(1, w), cache / png])
    return table
