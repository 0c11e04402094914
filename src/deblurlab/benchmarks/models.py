"""Forward and training-step cost of the networks, and of CPU execution options, side by side."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from deblurlab.benchmarks import BenchOptions, Table, median_seconds


def _networks(quick: bool) -> dict[str, Callable[[], nn.Module]]:
    """The networks of the inference-paths table (tiny widths with ``--quick``)."""
    from deblurlab.benchmarks.paths import network_factories

    return network_factories(quick)


def _forward(net: nn.Module, x: torch.Tensor, bf16: bool = False) -> Callable[[], object]:
    def run() -> object:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return net(x)

    return run


def forward_table(quick: bool) -> Table:
    """Forward time per network at one size, relative to MIMO-UNet."""
    size = 64 if quick else 256
    repeats = 1 if quick else 3
    x = torch.rand(1, 3, size, size)
    table = Table(
        title=f"Forward pass, 1 x 3 x {size} x {size}, fp32 eager, CPU",
        columns=["network", "parameters", "median s", "x MIMO-UNet"],
        note="Ratios come from one process, networks timed one after the other.",
    )
    base = None
    for name, factory in _networks(quick).items():
        net = factory().eval()
        seconds = median_seconds(_forward(net, x), repeats=repeats)
        base = base or seconds
        params = sum(p.numel() for p in net.parameters())
        table.rows.append([name, f"{params:,}", seconds, seconds / base])
    return table


def execution_table(quick: bool) -> Table:
    """MIMO-UNet forward under CPU execution options: channels_last and bf16 autocast."""
    size = 64 if quick else 256
    repeats = 1 if quick else 3
    x = torch.rand(1, 3, size, size)
    net = _networks(quick)["MIMO-UNet"]()
    reference = _forward(net, x)()[-1]
    table = Table(
        title=f"MIMO-UNet forward options, 1 x 3 x {size} x {size}, CPU",
        columns=["variant", "median s", "speed-up", "max abs diff to fp32"],
        note="speed-up = fp32 eager time / variant time, measured in the same run.",
    )
    base = median_seconds(_forward(net, x), repeats=repeats)
    table.rows.append(["fp32 eager", base, 1.0, 0.0])
    net_cl = _networks(quick)["MIMO-UNet"]()
    net_cl.load_state_dict(net.state_dict())
    net_cl = net_cl.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    for name, fn in (
        ("channels_last", _forward(net_cl, x_cl)),
        ("bf16 autocast", _forward(net, x, bf16=True)),
    ):
        seconds = median_seconds(fn, repeats=repeats)
        diff = float((fn()[-1].float() - reference).abs().max())
        table.rows.append([name, seconds, base / seconds, diff])
    return table


def training_step_table(quick: bool) -> Table:
    """One optimizer step (forward, loss, backward, Adam) for each network."""
    from deblurlab.losses import MIMOLoss

    size, batch = (32, 1) if quick else (128, 2)
    repeats = 1 if quick else 3
    table = Table(
        title=f"Training step, batch {batch} x 3 x {size} x {size}, fp32, CPU",
        columns=["network", "median s", "x MIMO-UNet"],
    )
    losses: dict[str, nn.Module] = {"MIMO-UNet": MIMOLoss(), "MIMO-UNet+": MIMOLoss()}
    from deblurlab.losses import SGENetLoss

    losses["SGENet"] = SGENetLoss()
    x, y = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    base = None
    for name, factory in _networks(quick).items():
        net = factory().train()
        loss_fn = losses[name]
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

        def step(net: nn.Module = net, loss_fn: nn.Module = loss_fn, opt=optimizer) -> None:
            total, _ = loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()

        seconds = median_seconds(step, repeats=repeats)
        base = base or seconds
        table.rows.append([name, seconds, seconds / base])
    return table


def run(opts: BenchOptions | bool = False) -> list[Table]:
    """Every table of this section."""
    quick = opts.quick if isinstance(opts, BenchOptions) else bool(opts)
    return [forward_table(quick), execution_table(quick), training_step_table(quick)]
