"""The benchmark's parts that need no extra process: the table, the timing probe, the in-process
memory reading, the linear-filter fit and the command line."""

from __future__ import annotations

import pytest
import torch

from deblurlab.benchmarks import Table
from deblurlab.benchmarks.probes import in_turns, peak_rise_bytes
from deblurlab.cli.bench import DEFAULT_SECTIONS, LARGE_SECTIONS, SECTIONS, parse


def test_table_renders_markdown_with_a_note():
    table = Table("T", ["name", "seconds"], [["a", 0.12345], ["b", 1234.5, None]], note="read it")
    assert table.render().splitlines() == [
        "### T",
        "",
        "| name | seconds |",
        "|---|---|",
        "| a | 0.123 |",
        "| b | 1,234 | - |",
        "",
        "read it",
    ]


def test_variants_are_timed_in_turns_after_one_warm_up_round():
    calls: list[str] = []
    turns = in_turns({v: lambda v=v: calls.append(v) or len(calls) for v in "AB"}, repeats=2)
    assert calls == ["A", "B", "A", "B", "A", "B"]  # A B A B ..., never A A B B
    assert turns.results == {"A": 1, "B": 2}  # the warm-up call's output, for comparisons
    assert [len(turns.times[v]) for v in "AB"] == [2, 2]  # the warm-up is not in the median
    turns.record("C", 5.0)
    turns.record("C", 1.0)
    turns.record("C", 3.0)
    assert turns.first["C"] == 5.0 and turns.median("C") == 2.0


def test_a_calls_peak_rise_counts_its_own_allocation_and_nothing_from_before():
    spike = torch.ones(128 * 2**20)  # 512 MiB resident, then freed: before the call
    del spike
    mib = peak_rise_bytes(lambda: float(torch.ones(32 * 2**20)[-1])) / 2**20  # 128 MiB
    assert 100 < mib < 250


def test_the_documented_options_reach_the_sections(monkeypatch):
    monkeypatch.delenv("DEBLURLAB_BENCH_CKPT", raising=False)
    opts, sections, threads = parse(
        ["--large", "--compile", "--networks", "MIMO-UNet", "--repeats", "5", "--train-size", "128"]
    )
    assert sections == list(LARGE_SECTIONS) and "inference" not in DEFAULT_SECTIONS
    assert threads is None and set(SECTIONS) - set(LARGE_SECTIONS) == {"compiled", "gpu"}
    assert "compiled" not in DEFAULT_SECTIONS and "gpu" not in DEFAULT_SECTIONS  # minutes / a GPU
    assert (opts.large, opts.compile, opts.networks, opts.repeats) == (True, True, ["MIMO-UNet"], 5)
    assert opts.train_size == 128 and opts.device == "cpu" and not opts.quick and opts.ckpt is None
    _, sections, _ = parse(["--large", "--only", "paths", "training", "blur"])
    assert sections == ["paths", "training", "blur"]
    opts, sections, threads = parse(["--only", "paths", "--device", "cuda", "--threads", "2"])
    assert sections == ["paths"] and opts.device == "cuda" and threads == 2 and opts.repeats == 3
    assert parse(["--quick"])[0].repeats == 1 and parse(["--quick"])[1] == list(DEFAULT_SECTIONS)
    monkeypatch.setenv("DEBLURLAB_BENCH_CKPT", "best.ckpt")
    assert parse(["--only", "inference"])[0].ckpt == "best.ckpt"
    assert parse(["--ckpt", "other.ckpt"])[0].ckpt == "other.ckpt"
    for wrong in (["--networks", "ResNet"], ["--only", "models"]):
        with pytest.raises(SystemExit):
            parse(wrong)


def test_ckpt_measures_the_checkpoints_network_in_a_form_a_probe_process_can_rebuild(tmp_path):
    import pickle

    from deblurlab.benchmarks import BenchOptions
    from deblurlab.benchmarks.networks import network_makers
    from fixtures.checkpoints import tiny_checkpoint

    path = tiny_checkpoint(tmp_path, seed=1)
    ((label, make),) = network_makers(BenchOptions(ckpt=str(path)), ["SGENet"]).items()
    assert label == f"mimo_unet from {path}"
    saved = torch.load(path, weights_only=False)["state_dict"]
    net = pickle.loads(pickle.dumps(make))()  # what the memory probe's process builds
    assert all(torch.equal(v, saved[f"net.{k}"]) for k, v in net.state_dict().items())
    assert make() is not make()  # every path gets its own copy to convert
