"""deblurlab-bench: every section runs (smoke-sized with --quick) and prints markdown tables."""

from __future__ import annotations

import pytest
import torch

from deblurlab.benchmarks import Table, Target, targets_table
from deblurlab.cli.bench import DEFAULT_SECTIONS, SECTIONS, main


def test_table_renders_markdown_with_a_note():
    table = Table("T", ["name", "seconds"], [["a", 0.12345], ["b", 1234.5]], note="read the ratios")
    assert table.render().splitlines() == [
        "### T",
        "",
        "| name | seconds |",
        "|---|---|",
        "| a | 0.123 |",
        "| b | 1,234 |",
        "",
        "read the ratios",
    ]


def test_targets_say_where_they_apply_and_whether_they_hold():
    rows = targets_table(
        [
            Target("fast", True, "2.0x", True),
            Target("faster", True, "1.2x", False),
            Target("bf16", False, reason="needs avx512_bf16"),
            Target("large", True, reason="run with --large"),
        ]
    ).rows
    assert [row[-1] for row in rows] == [
        "yes",
        "NO",
        "n/a (needs avx512_bf16)",
        "not measured (run with --large)",
    ]


@pytest.mark.slow
def test_every_section_runs_quick_and_prints_machine_and_tables(capsys):
    main(["--quick", "--threads", "1", "--only", *SECTIONS])
    out = capsys.readouterr().out
    head = out.splitlines()[0]
    assert head.startswith("CPU: ") and "avx512_bf16" in head and "amx_bf16" in head
    assert "torch " in out.splitlines()[1]
    ceiling = out.splitlines()[2]
    assert ceiling.startswith("fp32 matmul (512 x 512, 1 threads): ")
    assert float(ceiling.split(": ")[1].split()[0]) > 0
    titles = ("Inference paths", "Training step", "crops per second", "Tiled", "Forward pass")
    for title in (*titles, "how much a single linear filter undoes"):
        assert title.lower() in out.lower(), title
    assert set(DEFAULT_SECTIONS) <= set(SECTIONS)
    paths = [line for line in out.splitlines() if line.startswith("| MIMO-UNet |")]
    assert any("reference (eager fp32 NCHW)" in line and "| 1.00x |" in line for line in paths)
    default = next(line for line in paths if "deblurlab default" in line)
    diff = float(default.split("|")[7])
    assert diff <= 1e-5  # channels_last and AFF's conv-first order change nothing but rounding
    assert default.split("|")[10].strip().endswith("%")  # share of the matmul rate
    lightning = next(line for line in out.splitlines() if "deblurlab Lightning step" in line)
    assert float(lightning.split("|")[2]) > 0


def test_the_documented_options_reach_the_sections():
    from deblurlab.cli.bench import LARGE_SECTIONS, parse

    opts, sections, threads = parse(
        ["--large", "--compile", "--networks", "MIMO-UNet", "--repeats", "5", "--train-size", "128"]
    )
    assert sections == list(LARGE_SECTIONS) and "inference" in sections and threads is None
    assert (opts.large, opts.compile, opts.networks, opts.repeats) == (True, True, ["MIMO-UNet"], 5)
    assert opts.train_size == 128 and opts.device == "cpu" and not opts.quick
    _, sections, _ = parse(["--large", "--only", "paths", "training", "blur"])  # the README's
    assert sections == ["paths", "training", "blur"] and "blur" in DEFAULT_SECTIONS
    opts, sections, threads = parse(["--only", "paths", "--device", "cuda", "--threads", "2"])
    assert sections == ["paths"] and opts.device == "cuda" and threads == 2 and opts.repeats == 3
    with pytest.raises(SystemExit):
        parse(["--networks", "ResNet"])


def test_the_least_squares_filter_recovers_a_known_sharpening_filter():
    """Pairs whose sharp image is an exact 5x5 filtering of the blurry one give that filter back."""
    from deblurlab.benchmarks.blur import _interior, apply_linear_filter, fit_linear_filter

    torch.manual_seed(0)
    k = 5
    taps = torch.randn(k * k, dtype=torch.float64) * 0.1
    taps[k * k // 2] += 1.0
    pairs = []
    for _ in range(3):
        blurry = torch.rand(3, 24, 30, dtype=torch.float64) * 0.5 + 0.25
        sharp = blurry.clone()
        inside = torch.nn.functional.conv2d(blurry.unsqueeze(1), taps.view(1, 1, k, k)).squeeze(1)
        _interior(sharp, k).copy_(inside)
        pairs.append((blurry, sharp))
    fitted = fit_linear_filter(pairs, k)
    torch.testing.assert_close(fitted, taps, rtol=0, atol=1e-6)
    clamped = apply_linear_filter(pairs[0][0], fitted, k)
    assert clamped.shape == (3, 20, 26) and clamped.min() >= 0 and clamped.max() <= 1


def test_a_paths_peak_memory_leaves_out_what_the_benchmark_process_holds():
    """The probe runs in a fresh process; the 1 GiB held here must not show in its reading."""
    from deblurlab.benchmarks.paths import peak_memory_mb

    ballast = torch.ones(256 * 2**20)  # 1 GiB, resident
    mib = peak_memory_mb("MIMO-UNet", True, "default", (1, 3, 64, 64))
    assert float(ballast[-1]) == 1.0
    assert 0 <= mib < 100


def test_a_calls_peak_rise_counts_its_own_allocation_and_nothing_from_before():
    from deblurlab.benchmarks.memory import peak_rise_bytes

    spike = torch.ones(128 * 2**20)  # 512 MiB resident, then freed: before the call
    del spike
    mib = peak_rise_bytes(lambda: float(torch.ones(32 * 2**20)[-1])) / 2**20  # 128 MiB
    assert 100 < mib < 250
