"""Image pairs on disk as a dataset source: any layout of :mod:`deblurlab.data.layouts`.

Building the source touches no file (configs are instantiated in tests without any data): the
scan happens in :meth:`PairedFolderSource.preflight`, which the DataModule calls in ``setup()``
before training starts. Images come out as stored (uint8 / uint16, from the decoded cache when it
is up to date); the DataModule crops first and converts to float after.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from deblurlab.data.cache import DecodedCache, load_cached
from deblurlab.data.checks import check_pairs
from deblurlab.data.io import read_image_raw
from deblurlab.data.layouts import (
    GOPRO_VARIANTS,
    KNOWN_COUNTS,
    LAYOUTS,
    Pair,
    find_pairs,
    splits_on_disk,
)
from deblurlab.errors import ConfigError

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")


class PairDataset(Dataset):
    """``(blurry, sharp, name)`` with H x W x 3 arrays as stored (memory-mapped when cached)."""

    def __init__(self, pairs: Sequence[Pair], cached: dict[Path, Path] | None = None) -> None:
        self.pairs = list(pairs)
        self.cached = cached or {}

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, path: Path) -> np.ndarray:
        npy = self.cached.get(path)
        return load_cached(npy) if npy is not None else read_image_raw(path)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        pair = self.pairs[index]
        return self._load(pair.blurry), self._load(pair.sharp), pair.name

    def decodes_files(self) -> bool:
        """Whether some images are decoded from their files (not in the decoded cache)."""
        return any(p not in self.cached for pair in self.pairs for p in (pair.blurry, pair.sharp))

    def describe(self) -> str:
        """How many pairs, and whether they come from the decoded cache."""
        total = 2 * len(self.pairs)
        hits = sum(p in self.cached for pair in self.pairs for p in (pair.blurry, pair.sharp))
        if hits == total:
            how = "from the decoded cache"
        elif hits:
            how = f"{hits} of {total} images from the decoded cache, the rest decoded from files"
        else:
            how = "decoded from image files (run deblurlab-prepare to build the faster cache)"
        return f"{len(self.pairs)} pairs, {how}"


def evenly_spaced(items: Sequence[Pair], limit: int | None) -> list[Pair]:
    """``limit`` items spread evenly over ``items`` (all of them when ``limit`` is None)."""
    if limit is None or limit >= len(items):
        return list(items)
    index = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in index]


class PairedFolderSource:
    """Blurry/sharp image pairs in one of the layouts ``gopro``, ``realblur_j``, ``realblur_r``,
    ``hide``, ``folder`` (see docs/data.md).

    Args:
        root: the dataset folder (``data.root``); required when the data is first used.
        layout: which on-disk layout ``root`` holds.
        variant: the blurry-image folder: ``blur`` | ``blur_gamma`` for GoPro, any folder name
            for ``folder``; must be ``blur`` for RealBlur and HIDE.
        val_limit: validate on this many pairs spread evenly over the validation split (None:
            all). GoPro, RealBlur and HIDE have no validation split, so validation uses the test
            set, as the MIMO-UNet authors did; ``folder`` uses ``root/val`` when it exists.
        cache_dir: the decoded cache (default ``<root>/deblurlab_cache``); used when up to date.
        use_cache: False decodes the image files even when a cache exists.
        full_check: decode every image in the pre-flight scan (slow) instead of reading headers.
    """

    def __init__(
        self,
        root: str | None = None,
        layout: str = "folder",
        variant: str = "blur",
        val_limit: int | None = None,
        cache_dir: str | None = None,
        use_cache: bool = True,
        full_check: bool = False,
    ) -> None:
        if layout not in LAYOUTS:
            raise ConfigError(
                f"data.source.layout must be one of {', '.join(LAYOUTS)}, got {layout!r}"
            )
        if layout == "gopro" and variant not in GOPRO_VARIANTS:
            raise ConfigError(
                f"data.source.variant must be one of {', '.join(GOPRO_VARIANTS)} for GoPro, "
                f"got {variant!r}"
            )
        if layout in ("realblur_j", "realblur_r", "hide") and variant != "blur":
            raise ConfigError(f"data.source.variant must be 'blur' for {layout}, got {variant!r}")
        if val_limit is not None and (not isinstance(val_limit, int) or val_limit <= 0):
            raise ConfigError(
                f"data.source.val_limit must be a positive integer or null, got {val_limit!r}"
            )
        self.root = root
        self.layout = layout
        self.variant = variant
        self.val_limit = val_limit
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.full_check = full_check
        self._pairs: dict[str, list[Pair]] = {}
        self._cached: dict[Path, Path] = {}

    # -- discovery -----------------------------------------------------------------------------
    def root_path(self) -> Path:
        """``data.root`` as a path; ConfigError when it is not set."""
        if self.root in (None, ""):
            raise ConfigError(
                f"data.root is not set: pass data.root=/path/to/your {self.layout} dataset "
                "(or try the command on the built-in data first: add data=synthetic)"
            )
        return Path(str(self.root)).expanduser()

    def validation_split(self) -> str:
        """The split on disk that validation reads: ``val``, or ``test`` when there is none."""
        return self._disk_split("val")

    def _disk_split(self, split: str) -> str:
        if split != "val":
            return split
        return "val" if "val" in splits_on_disk(self.root_path(), self.layout) else "test"

    def pairs(self, split: str) -> list[Pair]:
        """The pairs of ``split`` (train | val | test), found on first use (no checks of pixels)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        if split not in self._pairs:
            disk = self._disk_split(split)
            found = find_pairs(self.root_path(), self.layout, disk, self.variant)
            if split == "val":
                found = evenly_spaced(found, self.val_limit)
            else:
                self._compare_count(disk, len(found))
            self._pairs[split] = found
        return self._pairs[split]

    def _compare_count(self, split: str, count: int) -> None:
        known = KNOWN_COUNTS.get((self.layout, split))
        if known is not None and count != known:
            log.warning(
                "data: found %d %s pairs in %s, the published %s %s split has %d",
                count, split, self.root, self.layout, split, known,
            )  # fmt: skip
        else:
            log.info("data: found %d %s pairs in %s", count, split, self.root)

    def cache(self) -> DecodedCache:
        """The decoded cache of this dataset (it may not exist yet)."""
        return DecodedCache(self.root_path(), self.cache_dir)

    # -- the pre-flight scan -------------------------------------------------------------------
    def preflight(self, splits: Sequence[str], min_size: int | None = None) -> None:
        """Find the pairs of ``splits`` and check them; DataError/ConfigError on the first problem.

        ``min_size`` (the training crop) applies to the train split. Images with an up-to-date
        cache entry were fully decoded by ``deblurlab-prepare`` and are not probed again.
        """
        for split in splits:
            pairs = self.pairs(split)
            paths = [p for pair in pairs for p in (pair.blurry, pair.sharp)]
            cached = self.cache().lookup(paths) if self.use_cache else {}
            self._cached.update({p: npy for p, (npy, _) in cached.items()})
            check_pairs(
                [(p.blurry, p.sharp) for p in pairs],
                min_size=min_size if split == "train" else None,
                full=self.full_check,
                known_sizes={p: size for p, (_, size) in cached.items()},
            )

    # -- the PairSource interface --------------------------------------------------------------
    def describe(self) -> str:
        """One line for the log: layout, variant, where."""
        variant = f" ({self.variant})" if self.layout in ("gopro", "folder") else ""
        return f"{self.layout}{variant} pairs in {self.root}"

    def _dataset(self, split: str) -> PairDataset:
        pairs = self.pairs(split)
        return PairDataset(
            pairs,
            {
                p: self._cached[p]
                for pair in pairs
                for p in (pair.blurry, pair.sharp)
                if p in self._cached
            },
        )

    def train_dataset(self) -> Dataset:
        return self._dataset("train")

    def val_dataset(self) -> Dataset:
        return self._dataset("val")

    def test_dataset(self) -> Dataset:
        return self._dataset("test")
