"""Peak resident memory of one call, read from ``/proc`` (Linux), for the benchmarks' probes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line")


def peak_rise_bytes(fn: Callable[[], Any]) -> int:
    """How far this process's resident memory rose above its level before ``fn()``, at the peak.

    The kernel's high-water mark (``VmHWM``) is reset first (writing 5 to ``/proc/self/clear_refs``),
    so the reading is exact (no sampling) and nothing from before the call counts: not earlier
    work in this process and not, for a spawned probe, the parent's resident size, which Linux
    carries into a child's ``getrusage(...).ru_maxrss``."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    fn()
    return max(0, _status_kib("VmHWM") - before) * 1024
