"""The decoded cache: every image decoded once into an uncompressed ``.npy`` that is memory-mapped.

A random 256x256 crop from a 1280x720 PNG pair otherwise pays for decoding both full frames; from
the cache it reads only its own rows of pixels. The cache holds exactly what
:func:`deblurlab.data.io.read_image_raw` returns (uint8 or uint16 RGB), so training sees the
same pixels either way.

Layout: ``<cache_dir>/<path relative to data.root>.npy`` plus ``manifest.json``, which records
each source file's size and modification time. An entry whose source file changed since is
stale and ignored (the image is decoded from its file again) until ``deblurlab-prepare`` runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from deblurlab.data.checks import listing
from deblurlab.data.io import read_image_raw
from deblurlab.errors import DataError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERSION = 1
DEFAULT_DIRNAME = "deblurlab_cache"


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


class DecodedCache:
    """Decoded images of the dataset under ``root``, stored in ``cache_dir``.

    Args:
        root: the dataset root (``data.root``); cache entries are named by paths relative to it.
        cache_dir: where the ``.npy`` files live; default ``<root>/deblurlab_cache``.
    """

    def __init__(self, root: str | Path, cache_dir: str | Path | None = None) -> None:
        self.root = Path(root)
        self.dir = Path(cache_dir) if cache_dir else self.root / DEFAULT_DIRNAME
        self._manifest: dict[str, dict] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def key(self, path: Path) -> str:
        """The entry name of a source image: its path relative to the root (or a hash)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:  # outside the root: a stable name from the absolute path
            digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
            return f"_outside/{digest}_{path.name}"

    def npy_path(self, path: Path) -> Path:
        return self.dir / (self.key(path) + ".npy")

    def manifest(self) -> dict[str, dict]:
        """``{key: {size, mtime_ns, shape, dtype}}``; empty when there is no (readable) cache."""
        if self._manifest is None:
            self._manifest = {}
            if self.manifest_path.is_file():
                try:
                    data = json.loads(self.manifest_path.read_text())
                    if data.get("version") == VERSION:
                        self._manifest = data["entries"]
                except (OSError, ValueError, KeyError):
                    log.warning("data: ignoring unreadable cache manifest %s", self.manifest_path)
        return self._manifest

    def exists(self) -> bool:
        return bool(self.manifest())

    def lookup(self, paths: Iterable[Path]) -> dict[Path, tuple[Path, tuple[int, int]]]:
        """``{source path: (npy path, (h, w))}`` for the images whose cache entry is up to date."""
        entries = self.manifest()
        found: dict[Path, tuple[Path, tuple[int, int]]] = {}
        if not entries:
            return found
        for path in paths:
            entry = entries.get(self.key(path))
            if entry is None:
                continue
            try:
                fresh = _stamp(path) == (entry["size"], entry["mtime_ns"])
            except OSError:
                fresh = False
            npy = self.npy_path(path)
            if fresh and npy.is_file():
                found[path] = (npy, (int(entry["shape"][0]), int(entry["shape"][1])))
        return found

    def add(self, paths: Iterable[Path], progress: Callable[[int, int], None] | None = None) -> int:
        """Decode and store every image of ``paths`` that is not cached yet; return how many.

        Decoding is the full check of a file: broken images are skipped and reported together
        in one DataError at the end (the good ones stay cached). The manifest is saved every few
        hundred images, so an interrupted run keeps its work.
        """
        paths = list(dict.fromkeys(paths))
        fresh = self.lookup(paths)
        todo = [p for p in paths if p not in fresh]
        entries = self.manifest()
        problems: list[str] = []
        for done, path in enumerate(todo, start=1):
            try:
                stamp = _stamp(path)
                image = read_image_raw(path)
            except (DataError, OSError) as exc:  # keep going: report every broken file at once
                problems.append(str(exc) if isinstance(exc, DataError) else f"{path}: {exc}")
                continue
            target = self.npy_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with open(partial, "wb") as f:
                np.save(f, image)
            os.replace(partial, target)
            entries[self.key(path)] = {
                "size": stamp[0],
                "mtime_ns": stamp[1],
                "shape": list(image.shape),
                "dtype": str(image.dtype),
            }
            if done % 200 == 0:
                self._save()
            if progress is not None:
                progress(done, len(todo))
        self._save()
        if problems:
            prefix = f"{len(problems)} unreadable images: " if len(problems) > 1 else ""
            raise DataError(prefix + listing(problems))
        return len(todo)

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.manifest_path.with_name(MANIFEST + ".partial")
        payload = {"version": VERSION, "root": str(self.root), "entries": self.manifest()}
        partial.write_text(json.dumps(payload))
        os.replace(partial, self.manifest_path)

    def nbytes(self) -> int:
        """Bytes of decoded pixels held in the cache."""
        return sum(
            int(np.prod(e["shape"])) * np.dtype(e["dtype"]).itemsize
            for e in self.manifest().values()
        )


class OpenMaps:
    """Memory maps of cached images kept open in this process (each loader worker has its own):
    opening one (header read, ``open``, ``mmap``) costs more than reading a 256 px crop from it.
    At most ``limit`` stay open (the least recently used is closed first): each map holds a file
    descriptor, and the default keeps well inside the process's limit on open files."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit if limit is not None else _default_limit()
        self.pid = os.getpid()
        self.maps: OrderedDict[Path, tuple[tuple[int, int, int], np.ndarray]] = OrderedDict()

    def get(self, npy: Path) -> np.ndarray:
        """The read-only map of ``npy``, opened on first use and again when the file was
        replaced since (``deblurlab-prepare`` writes a new file, never into a mapped one)."""
        if self.pid != os.getpid():  # a forked worker: its own maps, not the parent's
            self.pid, self.maps = os.getpid(), OrderedDict()
        st = os.stat(npy)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        held = self.maps.get(npy)
        if held is not None and held[0] == stamp:
            self.maps.move_to_end(npy)
            return held[1]
        # a plain ndarray view of the map: slicing a np.memmap costs more than reading a crop
        image = np.asarray(np.load(npy, mmap_mode="r"))
        self.maps[npy] = (stamp, image)
        self.maps.move_to_end(npy)
        while len(self.maps) > self.limit:
            self.maps.popitem(last=False)
        return image


def _default_limit() -> int:
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 256
    return 8192 if soft == resource.RLIM_INFINITY else max(16, min(8192, soft // 4))


_OPEN = OpenMaps()


def load_cached(npy: Path) -> np.ndarray:
    """A memory-mapped, read-only view of one cached image (reading a crop touches only its
    rows); the map stays open in this process for the next crop of the same image."""
    return _OPEN.get(npy if isinstance(npy, Path) else Path(npy))


def is_mapped(image: np.ndarray) -> bool:
    """Whether ``image`` is a view of a memory-mapped file (as cached images are)."""
    base: object = image
    while base is not None:
        if isinstance(base, np.memmap | mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False
