"""model.compile=true pays only if the networks compile whole: each training forward is one graph."""

from __future__ import annotations

import pytest
import torch

from deblurlab.benchmarks.compiled import graph_breaks
from deblurlab.benchmarks.networks import make_network


@pytest.mark.parametrize("name", ["MIMO-UNet", "SGENet"])
def test_the_networks_compile_without_graph_breaks(name):
    assert graph_breaks(make_network(name, quick=True), torch.rand(2, 3, 32, 32)) == (1, 0)


def test_a_graph_break_is_counted():
    class Breaks(torch.nn.Module):
        def forward(self, x):
            x = x + 1
            print("host side effect")  # dynamo cannot trace print: the graph breaks here
            return x * 2

    graphs, breaks = graph_breaks(Breaks(), torch.rand(2))
    assert breaks == 1 and graphs == 2


def test_the_compiled_section_times_both_steps_and_counts_breaks(monkeypatch):
    from deblurlab.benchmarks import BenchOptions
    from deblurlab.benchmarks.compiled import run

    original = torch.nn.Module.compile
    # dynamo's graph capture without inductor's C++ build (minutes on a small CPU)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self: original(self, backend="eager"))
    table = run(BenchOptions(quick=True, networks=["MIMO-UNet"], repeats=1))
    (row,) = table.rows
    assert row[:3] == ["MIMO-UNet (tiny)", 1, 0]
    assert row[3] > 0 and row[4] > 0 and row[5].endswith("x") and row[6] > 0
