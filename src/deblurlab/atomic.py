"""Files written whole or not at all: a temporary file beside the target, flushed, fsynced and
renamed over it (``os.replace`` is atomic within one filesystem).

A kill at any moment leaves either the old file or the new one, never a mix; a link at the
target is replaced by the new file, so the link's target (perhaps an input photo) is never
written. Temporary files carry a fixed mark, so the ones a killed write left behind can be found
and removed (:func:`remove_partial_files`) without touching anything else.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Temporary files are named ``.<target name>.<TEMP_MARK><random>``: only those are ever removed.
TEMP_MARK = ".deblurlab-partial-"


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every platform can open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through ``write(file)`` into a temporary file beside it, flush, fsync, and
    rename it over ``path``. A link at ``path`` is replaced by the new file (its target is never
    written). On any error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}{TEMP_MARK}{uuid.uuid4().hex[:8]}"
    try:
        with open(temp, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def remove_partial_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files that killed writes left in ``folder``; returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for item in folder.iterdir():
        if item.name.startswith(".") and TEMP_MARK in item.name and item.is_file():
            item.unlink(missing_ok=True)
            removed.append(item)
    return removed


def strict_json_value(value: Any) -> Any:
    """``value`` with every NaN/inf float replaced by None (recursively): strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json_value(v) for v in value]
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as strict JSON (NaN/inf -> null), atomically."""
    text = json.dumps(strict_json_value(data), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")
