"""The benchmark's two instruments. Time: variants in turns (A B C A B C ...) after a warm-up
round, medians compared, so load from other programs falls on all alike. Memory: the kernel's
high-water mark, reset just before the call, in a freshly spawned process, so nothing the
benchmark holds counts (nor a parent's resident size, which a child's ``ru_maxrss`` inherits)."""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from deblurlab.timing import timed


@dataclass
class Turns:
    """Times per variant: the first (warm-up) call apart, the rest for the median."""

    device: str = "cpu"
    first: dict[str, float] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def take(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run and time ``fn`` as one call of variant ``name``; return its result."""
        run = timed(fn, self.device)
        self.record(name, run.elapsed, run.result)
        return run.result

    def record(self, name: str, seconds: float, result: Any = None) -> None:
        """Add a time measured by the caller (the first one per variant is the warm-up)."""
        if name not in self.first:
            self.first[name], self.results[name], self.times[name] = seconds, result, []
        else:
            self.times[name].append(seconds)

    def median(self, name: str) -> float:
        """Median of the timed calls (the warm-up call when there were none)."""
        return statistics.median(self.times[name] or [self.first[name]])


def in_turns(calls: dict[str, Callable[[], Any]], repeats: int, device: str = "cpu") -> Turns:
    """One warm-up round, then ``repeats`` rounds, each calling every variant once in order."""
    turns = Turns(device)
    for _ in range(repeats + 1):
        for name, fn in calls.items():
            turns.take(name, fn)
    return turns


def matmul_gmacs(device: str = "cpu", n: int = 2048) -> float:
    """The device's fp32 multiply-adds per second (G) in an ``n x n`` matrix product. Convolutions
    are matrix products in disguise, so no fp32 path doing the same arithmetic gets far beyond it."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.rand(n, n, generator=generator).to(device) for _ in range(2))
    return n**3 / in_turns({"matmul": lambda: a @ b}, 5, device).median("matmul") / 1e9


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith(name + ":")))


def peak_rise_bytes(fn: Callable[[], Any]) -> int:
    """How far this process's resident memory rose above its level before ``fn()``, at the peak:
    the kernel's high-water mark (``VmHWM``) is reset first (5 into ``/proc/self/clear_refs``), so
    the reading is exact, with no sampling, and nothing from before the call counts."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    fn()
    return max(0, _status_kib("VmHWM") - before) * 1024


def _probe_child(make_call: Callable[[], Callable], shape: tuple[int, ...], threads: int) -> float:
    torch.set_num_threads(threads)
    call, x = make_call(), torch.rand(shape)
    return peak_rise_bytes(lambda: call(x)) / 2**20


def peak_memory_mib(
    make_call: Callable[[], Callable], shape: tuple[int, ...], device: str = "cpu"
) -> float | None:
    """Extra peak memory (MiB) of one ``make_call()(x)`` with a random ``x`` of ``shape``, above
    the built call and its input. CPU: in a spawned process (``make_call`` must pickle), None
    without Linux's ``/proc``; GPU: the peak of allocated memory above what was allocated."""
    if device != "cpu":
        call, x = make_call(), torch.rand(shape, device=device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        call(x)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    # a pool of one, so that a probe killed (out of memory, say) raises instead of hanging
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_probe_child, make_call, tuple(shape), torch.get_num_threads()).result()
