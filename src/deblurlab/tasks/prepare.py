"""Scan a dataset, report problems, build the decoded cache: what ``deblurlab-prepare`` does.

Every image is decoded once (the full check: truncated or corrupt files are found here), pairs and
sizes are checked as the training pre-flight does, the pair counts are compared with the published
ones, and the decoded images are stored as memory-mapped ``.npy`` files that the DataModule uses
from then on (see docs/data.md).
"""

from __future__ import annotations

import logging
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from deblurlab.data.checks import check_pairs
from deblurlab.data.layouts import KNOWN_COUNTS, splits_on_disk
from deblurlab.data.paired import PairedFolderSource
from deblurlab.data.roots import check_data_roots
from deblurlab.errors import ConfigError, DataError

log = logging.getLogger("deblurlab")


def prepare(cfg: DictConfig) -> dict[str, Any]:
    """Scan ``cfg.data``'s dataset, decode every image, build the cache; return a summary."""
    check_data_roots(cfg.data)
    datamodule = instantiate(cfg.data)
    source = getattr(datamodule, "source", None)
    if not isinstance(source, PairedFolderSource):
        raise ConfigError(
            "deblurlab-prepare works on image datasets: data=gopro|realblur_j|realblur_r|hide|folder"
        )
    splits = list(cfg.get("splits") or splits_on_disk(source.root_path(), source.layout))
    if cfg.get("verify", False):
        return verify_counts(source, splits)
    cache = source.cache()
    summary: dict[str, Any] = {"root": str(source.root_path()), "layout": source.layout}
    for split in splits:
        pairs = source.pairs(split)
        min_size = datamodule.crop_size if split == "train" else None
        check_pairs([(p.blurry, p.sharp) for p in pairs], min_size=min_size)
        paths = [path for p in pairs for path in (p.blurry, p.sharp)]

        def progress(done: int, total: int, split: str = split) -> None:
            if done == total or done % max(50, total // 10) == 0:
                log.info("prepare: %s: decoded %d / %d images", split, done, total)

        if cfg.cache:
            decoded = cache.add(paths, progress)
        else:
            check_pairs([(p.blurry, p.sharp) for p in pairs], full=True)
            decoded = len(set(paths))
        known = KNOWN_COUNTS.get((source.layout, split))
        summary[split] = {"pairs": len(pairs), "published": known, "decoded": decoded}
    lines = [f"deblurlab-prepare: {source.describe()}"]
    for split in splits:
        s = summary[split]
        note = "" if s["published"] in (None, s["pairs"]) else f" (published: {s['published']})"
        lines.append(f"  {split:5s}: {s['pairs']} pairs{note}, all images readable")
    if cfg.cache:
        summary["cache_dir"] = str(cache.dir)
        summary["cache_bytes"] = size = cache.nbytes()
        amount = f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"
        lines.append(f"  cache: {cache.dir} ({amount} of decoded pixels)")
    print("\n".join(lines), flush=True)
    return summary


def verify_counts(source: PairedFolderSource, splits: list[str]) -> dict[str, Any]:
    """``verify=true``: count each split's pairs against the published count, decode nothing.

    Prints one line per split; raises DataError naming the dataset root and every split whose
    count differs (an incomplete download or a wrong folder). Layouts without published counts
    (``folder``) are refused: there is nothing to verify against.
    """
    if not any((source.layout, split) in KNOWN_COUNTS for split in splits):
        raise ConfigError(
            f"verify=true: no published pair counts for data layout {source.layout!r} "
            "(known: gopro, realblur_j, realblur_r, hide)"
        )
    summary: dict[str, Any] = {"root": str(source.root_path()), "layout": source.layout}
    lines = [f"deblurlab-prepare verify=true: {source.describe()}"]
    wrong: list[str] = []
    for split in splits:
        count, published = len(source.pairs(split)), KNOWN_COUNTS.get((source.layout, split))
        summary[split] = {"pairs": count, "published": published}
        verdict = "ok" if count == published else "MISMATCH"
        if published is None:
            verdict = "no published count"
        elif count != published:
            wrong.append(f"{split} has {count} pairs, published {published}")
        lines.append(f"  {split:5s}: {count} pairs, published {published}: {verdict}")
    print("\n".join(lines), flush=True)
    if wrong:
        raise DataError(f"{source.root_path()}: {'; '.join(wrong)} (incomplete download?)")
    return summary
