"""Training crops per second: decoding PNG pairs for every crop vs the memory-mapped decoded
cache, through the real DataModule datasets and a DataLoader with 0 and 2 worker processes; the
cache is checked to hold exactly the decoded pixels."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from deblurlab.benchmarks import BenchOptions, Table
from deblurlab.benchmarks.probes import in_turns
from deblurlab.data.cache import load_cached
from deblurlab.data.datamodule import DeblurDataModule
from deblurlab.data.io import read_image_raw, write_image
from deblurlab.data.paired import PairedFolderSource
from deblurlab.data.photos import BUILTIN_PHOTOS, load_builtin_photo

SIZE, CROP, BATCH = (720, 1280), 256, 4


def write_pairs(root: Path, count: int, seed: int = 0) -> None:
    """``count`` GoPro-sized pairs in the folder layout: photographs with camera-like noise."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = load_builtin_photo(BUILTIN_PHOTOS[i % len(BUILTIN_PHOTOS)])
        sharp = cv2.resize(photo, SIZE[::-1], interpolation=cv2.INTER_CUBIC).astype(np.float32)
        sharp = np.clip(sharp + rng.normal(0, 2.0, sharp.shape), 0, 255) / 255  # sensor noise
        blurry = cv2.filter2D(sharp.astype(np.float32), -1, np.full((1, 15), 1 / 15, np.float32))
        blurry = blurry + rng.normal(0, 2.0 / 255, blurry.shape)
        for split in ("train", "test") if i == 0 else ("train",):  # setup("fit") validates on test
            for name, image in (("blur", blurry), ("sharp", sharp)):
                write_image(root / split / name / f"{i:04d}.png", np.clip(image, 0, 1))


def crop_pass(root: Path, use_cache: bool, workers: int, crops: int) -> Callable[[], int]:
    """A call that draws ``crops`` paired training crops through a DataLoader (its workers kept
    between calls, so only the first call, the warm-up, pays for starting them)."""
    source = PairedFolderSource(str(root), "folder", use_cache=use_cache)
    dm = DeblurDataModule(source, crop_size=CROP, batch_size=BATCH, num_workers=workers)
    dm.setup("fit")
    assert dm.train_set is not None
    sampler = RandomSampler(dm.train_set, replacement=True, num_samples=crops)
    loader = DataLoader(
        dm.train_set, BATCH, sampler=sampler, num_workers=workers, persistent_workers=workers > 0
    )
    return lambda: sum(batch["blur"].shape[0] for batch in loader)


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
    """Crops per second from PNG decoding and from the cache, with 0 and 2 loader workers."""
    pairs, png_crops, cache_crops = (2, 8, 64) if opts.quick else (6, 48, 1536)
    threads = torch.get_num_threads()
    # loader workers run one torch thread; so does the main process here, because with several
    # threads on a busy machine collating a batch alone can take longer than a crop
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="deblurlab-bench-") as tmp:
            root = Path(tmp)
            write_pairs(root, pairs)
            png_mb = np.mean([p.stat().st_size for p in root.glob("train/*/*.png")]) / 2**20
            src = PairedFolderSource(str(root), "folder")
            src.cache().add(p for pair in src.pairs("train") for p in (pair.blurry, pair.sharp))
            equal, total = same_pixels(root)
            count = {"png": png_crops, "cache": cache_crops}
            calls = {
                f"{k} {w}": crop_pass(root, k == "cache", w, count[k])
                for k in count
                for w in (0, 2)
            }
            turns = in_turns(calls, 1 if opts.quick else opts.repeats)
            calls.clear()  # the loaders' worker processes end here, before their folder goes
    finally:
        torch.set_num_threads(threads)
    table = Table(
        title=f"Training crops per second: {CROP}x{CROP} paired crops from {SIZE[1]}x{SIZE[0]} pairs",
        columns=["loader workers", "PNG decoding crops/s", "decoded cache crops/s", "cache / PNG"],
        note=(
            f"{pairs} pairs of {png_mb:.1f} MB PNGs; random crop + hflip, batch {BATCH}, one "
            "torch thread per process; the four loaders timed in turns after a warm-up pass each. "
            f"The cache holds exactly the decoded pixels: {equal} of {total} images identical."
        ),
    )
    for workers in (0, 2):
        png, cached = (count[k] / turns.median(f"{k} {workers}") for k in count)
        table.rows.append([workers, png, cached, cached / png])
    return table
