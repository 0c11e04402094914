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
    ("flags", "native"),
    [
        (("avx2",), False),
        (("avx2", "avx512f"), False),
        (("avx512_bf16",), True),
        (("amx_bf16",), True),
    ],
)
def test_native_bf16_needs_avx512_bf16_or_amx(monkeypatch, flags, native):
    fake_cpu(monkeypatch, *flags)
    assert hardware.native_bf16("cpu") is native
    assert hardware.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert hardware.trainer_precision("cpu") == ("bf16-mixed" if native else "32-true")
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"  # explicit choices pass through
    assert ("native bf16: yes" if native else "native bf16: no") in hardware.cpu_info().describe()


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, auto"):
        hardware.resolve_precision("fp16", "cpu")


@pytest.mark.parametrize("native", [False, True])
def test_the_quick_start_trains_in_bf16_mixed_only_where_native(train_config, monkeypatch, native):
    fake_cpu(monkeypatch, "avx2", *(["amx_bf16"] if native else []))
    cfg = train_config("experiment=quickstart", tiny=False)
    precision = OmegaConf.to_container(cfg.trainer, resolve=True)["precision"]
    assert precision == ("bf16-mixed" if native else "32-true")


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_the_gpu_bench_training_runs_compose(train_config, precision):
    # make bench-gpu: deblurlab-train logger=csv debug=smoke trainer=gpu test=false ...
    cfg = train_config(
        "logger=csv",
        "debug=smoke",
        "trainer=gpu",
        "test=false",
        f"trainer.precision={precision}",
        "run_name=gpu_check",
        tiny=False,
    )
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == precision
    assert cfg.test is False and cfg.trainer.limit_train_batches == 2
