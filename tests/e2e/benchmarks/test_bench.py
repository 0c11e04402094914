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
    main(["--quick", "--threads", "1", "--only", *SECTIONS])
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
        "Compiled training step",
        "GPU training: everything in one table",
    )
    assert len(titles) == len(SECTIONS) == len(expected)  # one table per section
    assert all(any(e in t for t in titles) for e in expected), titles
    paths = [line for line in lines if line.startswith("| MIMO-UNet |")]
    assert any("reference (eager fp32 NCHW)" in line and "| 1.00x |" in line for line in paths)
    default = next(line for line in paths if "deblurlab default" in line).split("|")
    assert float(default[7]) <= 1e-5  # channels_last and AFF's conv-first order: rounding only
    assert default[10].strip().endswith("%") and float(default[11]) > 0  # share of matmul, MiB
    lightning = next(line for line in lines if "deblurlab Lightning step" in line)
    assert float(lightning.split("|")[3]) > 0
    assert "images identical" in next(line for line in lines if "decoded pixels" in line)


def test_a_paths_peak_memory_leaves_out_what_the_benchmark_process_holds():
    """The probe runs in a fresh process; the 1 GiB held here must not show in its reading."""
    ballast = torch.ones(256 * 2**20)  # 1 GiB, resident
    make_net = functools.partial(make_network, "MIMO-UNet", True)
    mib = peak_memory_mib(functools.partial(path_call, make_net, "default", "cpu"), (1, 3, 64, 64))
    assert float(ballast[-1]) == 1.0
    assert mib is not None and 0 < mib < 100
