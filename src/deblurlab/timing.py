"""Timing helpers: wall time of one call with the device synchronised, and medians of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Timed:
    """The result of a call and the wall time it took, in seconds (device synchronised)."""

    result: Any
    elapsed: float


def synchronize(device: torch.device | str | None) -> None:
    """Wait for the GPU's queued work (no-op on the CPU), so a clock read afterwards is real."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device | str | None = None) -> Timed:
    """Run ``fn`` and measure it; on a GPU, synchronise before and after so the time is real."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return Timed(result, time.perf_counter() - start)


def median_seconds(
    fn: Callable[[], Any],
    repeats: int = 3,
    warmup: int = 1,
    device: torch.device | str | None = None,
) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn, device).elapsed for _ in range(max(1, repeats)))
