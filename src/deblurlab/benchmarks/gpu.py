"""Everything a GPU training run depends on, in one table (``make bench-gpu``): the MIMO-UNet
training step in strict fp32, TF32, bf16-mixed, with channels_last and compiled; graph breaks; the
loader's pairs per second; and the rows of the training section (the Lightning step against a bare
loop) and of the overhead section (callbacks, syncs and checkpoint writes on near-zero compute).
Off a GPU (``--device cpu``, as the tests run it) the TF32 and compiled rows are left out and the
networks are tiny."""

from __future__ import annotations

import dataclasses
import importlib

import torch

from deblurlab.benchmarks import BenchOptions, Table, _fmt, ratio
from deblurlab.benchmarks.compiled import graph_breaks, train_step
from deblurlab.benchmarks.networks import make_network
from deblurlab.benchmarks.probes import in_turns
from deblurlab.hardware import apply_tf32
from deblurlab.losses import MIMOLoss


def step_rows(opts: BenchOptions) -> list[list[object]]:
    """The training step's variants, timed in turns; ms per step and speed over strict fp32."""
    cuda = opts.device == "cuda"
    batch, size = (4, opts.train_size) if cuda and not opts.quick else (2, 32)
    torch.manual_seed(0)
    x, y = (torch.rand(batch, 3, size, size, device=opts.device) for _ in range(2))
    xl, yl = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))

    def variant(tf32: bool, bf16: bool, layout: bool = False, compiled: bool = False):
        net = make_network("MIMO-UNet", not cuda or opts.quick).to(opts.device).train()
        if layout:
            net = net.to(memory_format=torch.channels_last)
        if compiled:
            net.compile()
        step = train_step(net, MIMOLoss(), *((xl, yl) if layout else (x, y)), bf16=bf16)
        return lambda: (apply_tf32(tf32) if cuda else None, step())[1]

    calls = {"32-true, TF32 off (trainer.precision=32-true)": variant(False, False)}
    if cuda:
        calls["32-true with TF32 (trainer_tf32=true)"] = variant(True, False)
    calls["bf16-mixed, NCHW"] = variant(True, True)
    calls["bf16-mixed, channels_last (trainer=gpu default)"] = variant(True, True, True)
    if cuda:
        calls["bf16-mixed, channels_last, model.compile=true"] = variant(True, True, True, True)
    turns = in_turns(calls, opts.repeats, opts.device)
    apply_tf32(False) if cuda else None
    base = turns.median(next(iter(calls)))
    what = f"MIMO-UNet step, batch {batch} x {size}^2"
    return [
        [what, k, f"{turns.median(k) * 1e3:.1f} ms", ratio(base / turns.median(k))] for k in calls
    ]


def flattened(table: Table, section: str) -> list[list[object]]:
    """Another section's rows as rows of this table: first column, then the rest as text."""
    return [
        [
            section,
            row[0],
            "; ".join(f"{c} {_fmt(v)}" for c, v in zip(table.columns[1:], row[1:], strict=False)),
            "",
        ]
        for row in table.rows
    ]


def run(opts: BenchOptions) -> Table:
    """The one GPU table."""
    table = Table(
        title=f"GPU training: everything in one table ({opts.device})",
        columns=["part", "variant", "measured", "speed vs first row"],
        note=(
            "Step times timed in turns after a warm-up step (the compiled row's warm-up "
            "compiles); speed > 1 is faster than strict fp32. Graph breaks: "
            "torch._dynamo.explain of one training forward. The data, training and overhead "
            "rows are those sections' tables (their notes: docs/performance.md)."
        ),
    )
    table.rows += step_rows(opts)
    for name in ("MIMO-UNet", "SGENet"):
        size = opts.train_size if opts.device == "cuda" and not opts.quick else 32
        x = torch.rand(1, 3, size, size, device=opts.device)
        net = make_network(name, opts.device != "cuda" or opts.quick).to(opts.device)
        graphs, breaks = graph_breaks(net, x)
        table.rows.append(["graph breaks", name, f"{graphs} graph(s), {breaks} break(s)", ""])
    for section in ("data", "training", "overhead"):
        sub = importlib.import_module(f"deblurlab.benchmarks.{section}")
        table.rows += flattened(sub.run(dataclasses.replace(opts)), section)
    return table
