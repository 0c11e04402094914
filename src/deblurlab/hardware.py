"""What the machine can do fast: CPU model and flags, native bf16, and the precision to pick.

Fast paths are chosen from what the hardware declares, never assumed: bf16 pays off on a CPU only
where it has native bf16 arithmetic (the ``avx512_bf16`` instructions or AMX tiles, ``amx_bf16``);
elsewhere PyTorch emulates it and a bf16 forward is *slower* than fp32. On a GPU, bf16 is used
where ``torch.cuda.is_bf16_supported()`` says so (Ampere or newer).
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass

import torch

# /proc/cpuinfo flags that mean native bf16 matrix arithmetic on x86
NATIVE_BF16_FLAGS: tuple[str, ...] = ("avx512_bf16", "amx_bf16")
REPORTED_FLAGS: tuple[str, ...] = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "auto")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as the operating system describes it."""

    model: str
    cores: int
    flags: frozenset[str]

    @property
    def native_bf16(self) -> bool:
        """True when the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
        return any(flag in self.flags for flag in NATIVE_BF16_FLAGS)

    def describe(self) -> str:
        """One line: model, cores, torch threads and the flags that matter for the fast paths."""
        flags = ", ".join(f"{f} {'yes' if f in self.flags else 'no'}" for f in REPORTED_FLAGS)
        return (
            f"{self.model}; {self.cores} cores, {torch.get_num_threads()} torch threads; {flags}; "
            f"native bf16: {'yes' if self.native_bf16 else 'no'}"
        )


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """``(model name, flags)`` of the first processor in a ``/proc/cpuinfo`` text."""
    model, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return model, flags


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (Linux reads ``/proc/cpuinfo``; elsewhere no flags are known)."""
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo") as f:
            model, flags = parse_cpuinfo(f.read())
    except OSError:
        pass
    return CpuInfo(model or platform.processor() or "unknown CPU", os.cpu_count() or 1, flags)


def native_bf16(device: torch.device | str) -> bool:
    """Whether bf16 is native (hence worth using) on ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_info().native_bf16 and torch.backends.mkldnn.is_available()
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"auto"`` -> ``"bf16"`` where bf16 is native on ``device``, else ``"fp32"``; others pass."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def trainer_precision(accelerator: str = "cpu") -> str:
    """Lightning's ``trainer.precision`` for the fastest training that is native here:
    ``"bf16-mixed"`` where bf16 is native on the accelerator, else ``"32-true"``."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        device = "cuda"
    else:
        device = "cpu"
    return "bf16-mixed" if native_bf16(device) else "32-true"
