"""The pre-flight scan: find broken pairs before training starts, with one-line errors.

``probe_image`` reads only a file's header and its last bytes (PNG and JPEG), so scanning a whole
dataset takes seconds; other formats, and ``full=True``, decode the image. Truncated PNG/JPEG
files are caught by their missing end marker, and ``deblurlab-prepare`` decodes every image.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from deblurlab.data.io import read_image_raw
from deblurlab.errors import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
HEAD_BYTES = 1 << 18  # JPEG size markers may follow up to ~64 KB of EXIF data
TAIL_BYTES = 1024
MAX_LISTED = 3

T = TypeVar("T")


def listing(items: Sequence[object], limit: int = MAX_LISTED) -> str:
    """``a, b, c (+4 more)``: the first few items of a problem list, for one-line errors."""
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def count(n: int, noun: str) -> str:
    """``1 image`` / ``3 images``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def probe_image(path: Path, full: bool = False) -> tuple[int, int]:
    """``(height, width)`` of the image at ``path``; DataError if it is missing, unreadable,
    truncated or not an image. Reads the header only for PNG and JPEG unless ``full``."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise DataError(f"{path}: empty file")
    if not full:
        if head.startswith(PNG_SIGNATURE):
            return _png_size(path, head, tail)
        if head.startswith(JPEG_START):
            return _jpeg_size(path, head, tail)
    image = read_image_raw(path)
    return int(image.shape[0]), int(image.shape[1])


def _png_size(path: Path, head: bytes, tail: bytes) -> tuple[int, int]:
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise DataError(f"{path}: not a readable image (broken PNG header)")
    if PNG_END not in tail:  # the IEND chunk closes every complete PNG
        raise DataError(f"{path}: truncated PNG (no end marker)")
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _jpeg_size(path: Path, head: bytes, tail: bytes) -> tuple[int, int]:
    # 0xFF 0xD9 only occurs as the end-of-image marker (entropy-coded 0xFF bytes are stuffed)
    if JPEG_END not in tail:
        raise DataError(f"{path}: truncated JPEG (no end marker)")
    pos = 2
    while pos + 9 <= len(head):
        if head[pos] != 0xFF:
            break
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", head[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return height, width
        pos += 2 + length
    # unusual layout (huge metadata): decode to learn the size
    image = read_image_raw(path)
    return int(image.shape[0]), int(image.shape[1])


def collect(items: Iterable[T], check: Callable[[T], object]) -> tuple[dict[T, object], list[str]]:
    """Run ``check`` on every item; return its results and the one-line messages of DataErrors."""
    results: dict[T, object] = {}
    problems: list[str] = []
    for item in items:
        try:
            results[item] = check(item)
        except DataError as exc:
            problems.append(str(exc))
    return results, problems


def check_pairs(
    pairs: Sequence[tuple[Path, Path]],
    min_size: int | None = None,
    full: bool = False,
    known_sizes: dict[Path, tuple[int, int]] | None = None,
) -> dict[Path, tuple[int, int]]:
    """Check every ``(blurry, sharp)`` pair; return ``{path: (h, w)}``.

    Raises one DataError naming the first few files of the first kind of problem found:
    unreadable / truncated / non-image files, blurry and sharp sizes that differ, images smaller
    than ``min_size`` (the training crop). ``known_sizes`` (from the decoded cache) skips probing.
    """
    known = known_sizes or {}
    paths = list(dict.fromkeys(p for pair in pairs for p in pair))
    todo = [p for p in paths if p not in known]
    sizes, problems = collect(todo, lambda p: probe_image(p, full=full))
    if problems:
        prefix = f"{len(problems)} unreadable images: " if len(problems) > 1 else ""
        raise DataError(prefix + listing(problems))
    sizes = {**{p: known[p] for p in paths if p in known}, **sizes}
    mismatched = [
        f"{b} is {sizes[b][1]}x{sizes[b][0]} but {s} is {sizes[s][1]}x{sizes[s][0]}"
        for b, s in pairs
        if sizes[b] != sizes[s]
    ]
    if mismatched:
        prefix = f"{len(mismatched)} pairs differ in size: " if len(mismatched) > 1 else ""
        raise DataError(prefix + listing(mismatched, 2))
    if min_size is not None:
        small = [f"{b} ({sizes[b][1]}x{sizes[b][0]})" for b, _ in pairs if min(sizes[b]) < min_size]
        if small:
            raise DataError(
                f"{count(len(small), 'training image')} smaller than data.crop_size={min_size}: "
                + listing(small)
            )
    return sizes  # type: ignore[return-value]
