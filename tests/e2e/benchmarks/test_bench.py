"""deblurlab-bench end to end: every section runs smoke-sized (--quick) and prints its table, and a
path's peak memory is read in a process of its own."""

from __future__ import annotations

import functools

import pytest
import torch

from deblurlab.benchmarks.networks import make_network
from deblurlab.benchmarks.paths import path_call
from deblurlab.benchmarks.probes import peak_memory_mib
from deblurlab.cli.bench import SECTIONS, main
from deblurlab.hardware import cpu_info


@pytest.mark.slow
def test_every_section_runs_quick_and_prints_machine_and_tables(capsys):
    # all but `compiled`: inductor builds its kernels with a C++ compiler, many minutes on 2 cores
    # (its graph-break count is tested in tests/unit/benchmarks/test_compiled.py)
    sections = [s for s in SECTIONS if s != "compiled"]
    main(["--quick", "--threads", "1", "--only", *sections])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"CPU: {cpu_info().describe()}" and cpu_info().model in lines[0]
    assert "avx512_bf16" in lines[0] and "amx_bf16" in lines[0] and "torch " in lines[1]
    assert lines[2].startswith("fp32 matmul (512 x 512, 1 threads): ")
    assert float(lines[2].split(": ")[1].split()[0]) > 0
    titles = [line for line in lines if line.startswith("### ")]
    expected = (
        "Inference paths",
        "Training step",
        "pairs per second per loader worker",
        "linear filter",
        "Restorer",
        "GPU training: everything in one table",
        "Training-step overhead on near-zero compute",
    )
    assert len(titles) == len(sections) == len(expected)  # one table per section
    assert all(any(e in t for t in titles) for e in expected), titles
    paths = [line for line in lines if line.startswith("| MIMO-UNet |")]
    assert any("reference (eager fp32 NCHW)" in line and "| 1.00x |" in line for line in paths)
    default = next(line for line in paths if "deblurlab default" in line).split("|")
    assert float(default[7]) <= 1e-5  # channels_last and AFF's conv-first order: rounding only
    assert default[10].strip().endswith("%") and float(default[11]) > 0  # share of matmul, MiB
    lightning = next(line for line in lines if "deblurlab Lightning step" in line)
    assert float(lightning.split("|")[3]) > 0
    assert "images identical" in next(line for line in lines if "decoded pixels" in line)
    breaks = [line for line in lines if line.startswith("| graph breaks |")]  # the gpu section
    assert len(breaks) == 2 and all("| 1 graph(s), 0 break(s) |" in line for line in breaks)
    assert any("| 32-true, TF32 off (trainer.precision=32-true) |" in line for line in lines)
    # the overhead section's own table (the gpu section repeats its rows in another layout)
    start = next(i for i, line in enumerate(lines) if "Training-step overhead on near-zero" in line)
    overhead = next(line for line in lines[start:] if "default callbacks and loggers" in line)
    assert float(overhead.split("|")[3].strip().rstrip("x")) > 0  # x bare loop
    assert any("of which NonFiniteGuard" in line for line in lines)  # each callback's share
    assert any("amortised over 10 minutes" in line for line in lines)


def test_a_paths_peak_memory_leaves_out_what_the_benchmark_process_holds():
    """The probe runs in a fresh process; the 1 GiB held here must not show in its reading."""
    ballast = torch.ones(256 * 2**20)  # 1 GiB, resident
    make_net = functools.partial(make_network, "MIMO-UNet", True)
    mib = peak_memory_mib(functools.partial(path_call, make_net, "default", "cpu"), (1, 3, 64, 64))
    assert float(ballast[-1]) == 1.0
    assert mib is not None and 0 < mib < 100
