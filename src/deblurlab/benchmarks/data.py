"""Training-crop throughput: decoding PNG pairs for every crop vs the memory-mapped decoded cache.

256 x 256 paired crops (random crop + horizontal flip, as in training) from 1280 x 720 pairs,
through the real DataModule datasets and a torch DataLoader with 0 and 2 worker processes. The
same images are read both ways, and the cache is checked to hold exactly the decoded pixels.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from deblurlab.benchmarks import BenchOptions, Table, Target
from deblurlab.data.cache import load_cached
from deblurlab.data.datamodule import DeblurDataModule
from deblurlab.data.io import read_image_raw, write_image
from deblurlab.data.paired import PairedFolderSource
from deblurlab.data.photos import BUILTIN_PHOTOS, load_builtin_photo

SIZE = (720, 1280)
CROP = 256
BATCH = 4


def write_pairs(root: Path, count: int, seed: int = 0) -> None:
    """``count`` GoPro-sized pairs in the folder layout: photographs with camera-like noise."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = load_builtin_photo(BUILTIN_PHOTOS[i % len(BUILTIN_PHOTOS)])
        sharp = cv2.resize(photo, SIZE[::-1], interpolation=cv2.INTER_CUBIC).astype(np.float32)
        sharp = np.clip(sharp + rng.normal(0, 2.0, sharp.shape), 0, 255) / 255  # sensor noise
        kernel = np.full((1, 15), 1 / 15, np.float32)
        blurry = cv2.filter2D(sharp.astype(np.float32), -1, kernel)
        blurry = blurry + rng.normal(0, 2.0 / 255, blurry.shape)
        splits = ("train", "test") if i == 0 else ("train",)  # setup("fit") validates on test
        for split in splits:
            for name, image in (("blur", blurry), ("sharp", sharp)):
                write_image(root / split / name / f"{i:04d}.png", np.clip(image, 0, 1))


def crops_per_second(root: Path, use_cache: bool, workers: int, crops: int) -> float:
    """Paired training crops per second through a DataLoader (the first batch excluded)."""
    dm = DeblurDataModule(
        PairedFolderSource(str(root), "folder", use_cache=use_cache),
        crop_size=CROP,
        batch_size=BATCH,
        num_workers=workers,
    )
    dm.setup("fit")
    train_set = dm.train_set
    assert train_set is not None
    sampler = RandomSampler(train_set, replacement=True, num_samples=crops + BATCH)
    loader = DataLoader(train_set, batch_size=BATCH, sampler=sampler, num_workers=workers)
    batches = iter(loader)
    next(batches)  # worker start-up and first decode are not throughput
    start = time.perf_counter()
    seen = sum(batch["blur"].shape[0] for batch in batches)
    return seen / (time.perf_counter() - start)


def same_pixels(root: Path) -> tuple[int, int]:
    """How many images the cache holds exactly as decoded, out of how many."""
    src = PairedFolderSource(str(root), "folder")
    paths = [p for pair in src.pairs("train") for p in (pair.blurry, pair.sharp)]
    found = src.cache().lookup(paths)
    equal = sum(
        p in found and np.array_equal(load_cached(found[p][0]), read_image_raw(p)) for p in paths
    )
    return equal, len(paths)


def run(opts: BenchOptions) -> list[Table]:
    """The crops-per-second table (quick: fewer pairs and crops, same frame size)."""
    threads = torch.get_num_threads()
    # Loader workers run with one torch thread; so does the main process here, because with
    # several threads on a busy machine collating a batch alone can take longer than a crop.
    torch.set_num_threads(1)
    try:
        table = crop_table(opts.quick)
    finally:
        torch.set_num_threads(threads)
    if not opts.quick:
        (_, png0, cache0, _), (_, png2, cache2, _) = table.rows
        opts.targets.append(
            Target(
                "2 loader workers deliver more crops/s than 0 (decoded cache)",
                True,
                f"{cache2:,.0f} vs {cache0:,.0f} crops/s (PNG: {png2:,.0f} vs {png0:,.0f})",
                cache2 > cache0,
            )
        )
    return [table]


def crop_table(quick: bool) -> Table:
    """Crops per second from PNG decoding and from the cache, with 0 and 2 loader workers."""
    pairs, png_crops, cache_crops = (2, 8, 128) if quick else (6, 48, 1536)
    with tempfile.TemporaryDirectory(prefix="deblurlab-bench-") as tmp:
        root = Path(tmp)
        write_pairs(root, pairs)
        png_mb = np.mean([p.stat().st_size for p in root.glob("train/*/*.png")]) / 2**20
        src = PairedFolderSource(str(root), "folder")
        src.cache().add(p for pair in src.pairs("train") for p in (pair.blurry, pair.sharp))
        equal, total = same_pixels(root)
        table = Table(
            title=f"Training crops per second: {CROP}x{CROP} paired crops from "
            f"{SIZE[1]}x{SIZE[0]} pairs",
            columns=[
                "loader workers",
                "PNG decoding crops/s",
                "decoded cache crops/s",
                "cache / PNG",
            ],
            note=(
                f"{pairs} pairs of {png_mb:.1f} MB PNGs; random crop + hflip, batch {BATCH}, one "
                f"torch thread per process; both paths measured one after the other in this run. "
                f"The cache holds exactly the decoded pixels: {equal} of {total} images identical."
            ),
        )
        for workers in (0, 2):
            png = crops_per_second(root, use_cache=False, workers=workers, crops=png_crops)
            cached = crops_per_second(root, use_cache=True, workers=workers, crops=cache_crops)
            table.rows.append([workers, png, cached, cached / png])
    return table
