"""``model.compile=true`` measured: graph breaks of each network (``torch._dynamo.explain``: 0 means
one graph per forward) and a training step (forward, the paper's loss, backward, Adam) compiled vs
eager, as CompileTraining runs it. Compiling takes minutes on a small CPU, so the CPU rows use the
tiny widths of ``--quick``; on a GPU the full networks are measured."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from deblurlab.benchmarks import BenchOptions, Table, ratio
from deblurlab.benchmarks.networks import make_network
from deblurlab.benchmarks.probes import in_turns
from deblurlab.losses import MIMOLoss, SGENetLoss

NAMES = ("MIMO-UNet", "SGENet")


def graph_breaks(net: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """``(graphs, graph breaks)`` of one training-mode forward of ``net`` on ``x``."""
    torch._dynamo.reset()
    explained = torch._dynamo.explain(net.train())(x)
    return explained.graph_count, explained.graph_break_count


def train_step(
    net: nn.Module, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool
) -> Callable[[], float]:
    """One optimizer step per call; Adam fused on CUDA, as deblurlab trains."""
    device = x.device.type
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=device == "cuda")

    def step() -> float:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            total, _ = loss_fn(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return float(total.detach())

    return step


def rows(opts: BenchOptions, bf16: bool, batch: int, size: int) -> list[list[object]]:
    """Each network's graph breaks and compiled vs eager step time."""
    device, tiny = opts.device, opts.quick or opts.device == "cpu"
    out: list[list[object]] = []
    for name in opts.networks or NAMES:
        torch.manual_seed(0)
        x, y = (torch.rand(batch, 3, size, size, device=device) for _ in range(2))
        graphs, breaks = graph_breaks(make_network(name, tiny).to(device), x)
        loss = SGENetLoss() if name == "SGENet" else MIMOLoss()
        eager, compiled = (make_network(name, tiny).to(device) for _ in range(2))
        compiled.compile()  # in place, as CompileTraining does: state_dict names unchanged
        calls = {
            k: train_step(n, loss, x, y, bf16)
            for k, n in (("eager", eager), ("compiled", compiled))
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            turns = in_turns(calls, opts.repeats, device)
        e, c = turns.median("eager"), turns.median("compiled")
        width = "tiny" if tiny else "full"
        out.append(
            [f"{name} ({width})", graphs, breaks, e, c, ratio(e / c), turns.first["compiled"]]
        )
    return out


def run(opts: BenchOptions) -> Table:
    """The compile table."""
    from deblurlab.hardware import trainer_precision

    bf16 = trainer_precision("gpu" if opts.device == "cuda" else "cpu") == "bf16-mixed"
    batch, size = (2, 32) if opts.quick or opts.device == "cpu" else (4, opts.train_size)
    table = Table(
        title=f"Compiled training step, batch {batch} x 3 x {size} x {size}, "
        f"{'bf16-mixed' if bf16 else 'fp32'}, {opts.device}",
        columns=[
            "network",
            "graphs",
            "graph breaks",
            "eager s",
            "compiled s",
            "speed-up",
            "first compiled call s",
        ],
        note=(
            "graphs / graph breaks: torch._dynamo.explain of one training-mode forward (0 breaks: "
            f"the whole forward is one graph). Steps timed in turns, {opts.repeats} each after a "
            "warm-up step; speed-up = eager / compiled (higher is faster); the first compiled "
            "call includes compiling. Skip this section with --only <others>."
        ),
    )
    table.rows += rows(opts, bf16, batch, size)
    return table
