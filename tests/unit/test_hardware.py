"""Fast paths are chosen from what the machine declares: CPU flags, and the precision resolver."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from deblurlab import hardware

CPUINFO = """processor\t: 0
model name\t: Example CPU 9000
flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16

processor\t: 1
model name\t: Example CPU 9000
flags\t\t: fpu sse avx2
"""


def fake_cpu(monkeypatch, *flags: str) -> None:
    info = hardware.CpuInfo("test CPU", 2, frozenset(flags))
    monkeypatch.setattr(hardware, "cpu_info", lambda: info)


def test_cpuinfo_is_read_from_the_first_processor():
    model, flags = hardware.parse_cpuinfo(CPUINFO)
    assert model == "Example CPU 9000"
    assert {"avx512_bf16", "amx_bf16", "amx_tile"} <= flags


@pytest.mark.parametrize(
    ("flags", "speedup", "native"),
    [
        (("avx2",), 5.0, False),  # emulated bf16: never, whatever a probe would say
        (("avx2", "avx512f"), 5.0, False),
        (("avx512_bf16",), 0.84, False),  # the Xeon without AMX: measured slower
        (("avx512_bf16",), 3.9, True),  # the Zen 4 EPYC: measured faster
        (("amx_bf16",), 0.5, True),  # AMX: always, no probe needed
    ],
)
def test_cpu_bf16_is_chosen_by_flags_and_the_measured_speed(monkeypatch, flags, speedup, native):
    fake_cpu(monkeypatch, *flags)
    probed: list[bool] = []
    monkeypatch.setattr(hardware, "bf16_speedup", lambda: probed.append(True) or speedup)
    assert hardware.native_bf16("cpu") is native
    assert hardware.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert hardware.trainer_precision("cpu") == ("bf16-mixed" if native else "32-true")
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"  # explicit choices pass through
    assert bool(probed) == (flags == ("avx512_bf16",))  # the probe runs only where flags can't tell
    has_instructions = "avx512_bf16" in flags or "amx_bf16" in flags
    assert f"native bf16: {'yes' if has_instructions else 'no'}" in hardware.cpu_info().describe()


def test_the_bf16_probe_measures_a_positive_ratio():
    hardware.bf16_speedup.cache_clear()
    assert 0 < hardware.bf16_speedup() < 100


@pytest.mark.parametrize(
    ("capability", "precision"),
    [
        (None, "32-true"),
        ((6, 1), "32-true"),  # Pascal (the papers' Titan Xp): no tensor cores
        ((7, 0), "16-mixed"),  # V100: fp16 tensor cores, bf16 only emulated
        ((7, 5), "16-mixed"),  # T4
        ((8, 0), "bf16-mixed"),  # A100
        ((9, 0), "bf16-mixed"),  # H100
    ],
)
def test_gpu_precision_follows_the_compute_capability(capability, precision):
    assert hardware.gpu_precision(capability) == precision


def fake_gpus(
    monkeypatch, capabilities: dict[int, tuple[int, int]], native: bool = True
) -> list[object]:
    """Pretend CUDA with these devices; return the log of what the probes asked for."""
    asked: list[object] = []
    cuda = hardware.torch.cuda
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(cuda, "device_count", lambda: len(capabilities))

    def capability(index):
        asked.append(index)
        return capabilities[index]

    def bf16_supported(including_emulation=True):
        asked.append(("is_bf16_supported", including_emulation))
        return native or including_emulation  # without native bf16 only emulation says yes

    monkeypatch.setattr(cuda, "get_device_capability", capability)
    monkeypatch.setattr(cuda, "is_bf16_supported", bf16_supported)
    return asked


def test_the_bf16_probe_reads_this_ranks_own_gpu_and_refuses_emulation(monkeypatch):
    asked = fake_gpus(monkeypatch, {0: (7, 0), 1: (7, 0), 2: (9, 0), 3: (7, 0)})
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert hardware.trainer_precision("gpu") == "bf16-mixed"
    assert hardware.native_bf16("cuda")
    assert 0 not in asked and 2 in asked  # rank 2 never asks about cuda:0
    assert ("is_bf16_supported", False) in asked and ("is_bf16_supported", True) not in asked
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert hardware.trainer_precision("gpu") == "16-mixed" and not hardware.native_bf16("cuda:1")
    monkeypatch.delenv("LOCAL_RANK")
    monkeypatch.setenv("SLURM_LOCALID", "3")
    assert hardware.local_rank() == 3


def test_emulated_bf16_is_not_native_even_on_a_new_gpu(monkeypatch):
    fake_gpus(monkeypatch, {0: (8, 0)}, native=False)
    assert not hardware.native_bf16("cuda:0")
    assert hardware.trainer_precision("gpu") == "16-mixed"


@pytest.mark.parametrize(
    ("precision", "tf32", "expected"),
    [
        ("32-true", None, ("32-true", False)),  # fp32 means fp32: no TF32
        ("32-true", True, ("32-true", True)),  # unless asked for
        ("bf16-mixed", None, ("bf16-mixed", True)),
        ("bf16-mixed", False, ("bf16-mixed", False)),
        ("auto", None, ("bf16-mixed", True)),  # auto resolved for the (fake) H100
    ],
)
def test_gpu_settings_make_precision_and_tf32_concrete(monkeypatch, precision, tf32, expected):
    fake_gpus(monkeypatch, {0: (9, 0)})
    settings = hardware.gpu_settings(precision, "gpu", tf32)
    assert (settings.precision, settings.tf32) == expected
    assert hardware.gpu_settings(precision, "cpu", True).tf32 is False  # no TF32 off a GPU


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, auto"):
        hardware.resolve_precision("fp16", "cpu")


@pytest.mark.parametrize("native", [False, True])
def test_the_quick_start_trains_in_bf16_mixed_only_where_native(train_config, monkeypatch, native):
    fake_cpu(monkeypatch, "avx2", *(["amx_bf16"] if native else []))
    cfg = train_config("experiment=quickstart", tiny=False)
    precision = OmegaConf.to_container(cfg.trainer, resolve=True)["precision"]
    assert precision == ("bf16-mixed" if native else "32-true")


@pytest.mark.parametrize("precision", [None, "32-true"])
def test_the_gpu_bench_training_runs_compose(train_config, precision):
    # make bench-gpu: deblurlab-train logger=csv debug=smoke trainer=gpu test=false ...
    cfg = train_config(
        "logger=csv",
        "debug=smoke",
        "trainer=gpu",
        "test=false",
        *([f"trainer.precision={precision}"] if precision else []),
        "run_name=gpu_check",
        tiny=False,
    )
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == (precision or "auto")
    assert cfg.test is False and cfg.trainer.limit_train_batches == 2
