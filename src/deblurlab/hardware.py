"""What the machine can do fast: CPU model and flags, native bf16, and the precision to pick.

Fast paths are chosen from what the hardware declares and, where that is not enough, from what it
measures, never assumed. On a CPU, AMX tiles (``amx_bf16``) make bf16 pay; without any bf16
instructions PyTorch emulates it and bf16 is several times *slower*; with ``avx512_bf16`` alone it
depends on the CPU (3.9x faster on a Zen 4 EPYC, 0.84x on a Xeon without AMX), so a short
convolution probe decides there (:func:`bf16_speedup`). On a GPU, bf16 is native from compute
capability 8.0 (Ampere) on: ``torch.cuda.is_bf16_supported(including_emulation=False)``, read for
the rank's own device (``LOCAL_RANK``), so no rank touches another's GPU. Each decision is a small
function of a description (flags, compute capability) that tests feed with fake hardware; the CUDA
calls that read the real one are kept thin.
"""

from __future__ import annotations

import functools
import os
import platform
import time
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


# a CPU whose bf16 convolutions are not at least this much faster than fp32 ones trains in fp32
BF16_PAYS_BELOW = 0.9


@functools.cache
def bf16_speedup() -> float:
    """fp32 time / bf16 time of two small convolutions, forward and backward, on one CPU thread.
    Each variant's fastest of 12 calls, interleaved after 2 warm-up rounds: the fastest call is
    the one least disturbed by other programs (a median swung from 0.4x to 3.7x on a loaded
    2-core machine; the fastest stayed within 0.2x-0.9x). About 0.3 s, once per process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(0)
        convs = torch.nn.Sequential(*(torch.nn.Conv2d(32, 32, 3, padding=1) for _ in range(2)))
        convs = convs.to(memory_format=torch.channels_last)
        x = torch.rand(1, 32, 64, 64, generator=generator)
        x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
        times: dict[bool, list[float]] = {False: [], True: []}
        for round_ in range(14):
            for bf16 in (False, True) if round_ % 2 else (True, False):
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    y = convs(x)
                y.float().sum().backward()
                times[bf16].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return min(times[False][2:]) / min(times[True][2:])


def cpu_bf16_pays(flags: frozenset[str], speedup: float | None = None) -> bool:
    """Whether bf16 pays on a CPU with these flags: AMX yes; no bf16 instruction no;
    ``avx512_bf16`` alone when ``speedup`` (fp32 time / bf16 time, measured when None) is at
    least 1 / :data:`BF16_PAYS_BELOW`."""
    if "amx_bf16" in flags:
        return True
    if "avx512_bf16" not in flags:
        return False
    speedup = bf16_speedup() if speedup is None else speedup
    return speedup >= 1 / BF16_PAYS_BELOW


def gpu_precision(capability: tuple[int, int] | None) -> str:
    """Lightning's ``trainer.precision`` for a GPU of compute ``capability`` (major, minor):
    ``bf16-mixed`` from 8.0 on (native bf16: A100, H100, RTX 30xx/40xx), ``16-mixed`` (fp16 with
    Lightning's gradient scaler) on 7.x (V100, T4, RTX 20xx, whose bf16 is only emulated),
    ``32-true`` below 7.0 or when unknown."""
    if capability is None:
        return "32-true"
    if tuple(capability) >= (8, 0):
        return "bf16-mixed"
    return "16-mixed" if tuple(capability) >= (7, 0) else "32-true"


def local_rank() -> int:
    """This process's rank on its node (Lightning's ``LOCAL_RANK``, else SLURM's ``SLURM_LOCALID``)."""
    for name in ("LOCAL_RANK", "SLURM_LOCALID"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def cuda_capability(device: torch.device | str | None = None) -> tuple[int, int] | None:
    """Compute capability of ``device`` (default: this rank's own GPU), or None without CUDA.
    Reads the device's properties only: no context is created on any GPU."""
    if not torch.cuda.is_available():
        return None
    index = torch.device(device).index if device is not None else None
    if index is None:
        index = local_rank() % torch.cuda.device_count()
    return torch.cuda.get_device_capability(index)


def native_bf16(device: torch.device | str) -> bool:
    """Whether bf16 is native (hence worth using) on ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        # emulated bf16 (V100, T4) is not native; the capability is read for this rank's device
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported(
            including_emulation=False
        )
        return native and gpu_precision(cuda_capability(device)) == "bf16-mixed"
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and cpu_bf16_pays(cpu_info().flags)
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"auto"`` -> ``"bf16"`` where bf16 is native on ``device``, else ``"fp32"``; others pass."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def on_cuda(accelerator: str) -> bool:
    """Whether Lightning's ``trainer.accelerator`` value means a CUDA GPU here."""
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def trainer_precision(accelerator: str = "cpu") -> str:
    """Lightning's ``trainer.precision`` for the fastest training that is native here: on a GPU
    :func:`gpu_precision` of this rank's device; on a CPU ``"bf16-mixed"`` where bf16 pays
    (:func:`native_bf16`), else ``"32-true"``."""
    if on_cuda(accelerator):
        if gpu_precision(cuda_capability()) == "bf16-mixed" and not native_bf16("cuda"):
            return "16-mixed"  # a toolkit without native bf16 on an Ampere-class GPU
        return gpu_precision(cuda_capability())
    return "bf16-mixed" if native_bf16("cpu") else "32-true"


@dataclass(frozen=True)
class GpuSettings:
    """How a training run sets the GPU's global switches (see :func:`gpu_settings`)."""

    precision: str  # Lightning's trainer.precision, concrete
    tf32: bool  # TF32 for fp32 matmuls and cuDNN convolutions


def gpu_settings(precision: str, accelerator: str, tf32: bool | None = None) -> GpuSettings:
    """The concrete ``trainer.precision`` (``auto`` resolved by :func:`trainer_precision`) and
    whether TF32 is on. ``32-true`` means fp32, as on the papers' GPUs: TF32 off unless ``tf32``
    is True. Mixed precision keeps TF32 for the ops autocast leaves in fp32 unless ``tf32`` is
    False. Off a GPU TF32 is always False (it does not exist there)."""
    precision = trainer_precision(accelerator) if str(precision) == "auto" else str(precision)
    if not on_cuda(accelerator):
        return GpuSettings(precision, False)
    if tf32 is None:
        tf32 = precision not in ("32-true", "32", "64-true", "64")
    return GpuSettings(precision, bool(tf32))


def apply_tf32(enabled: bool) -> None:
    """Set PyTorch's TF32 switches for matmuls and cuDNN convolutions (process-wide)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
