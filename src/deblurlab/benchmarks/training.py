"""One optimizer step (forward, the paper's full loss, backward, Adam) three ways: the released
way, a bare loop with deblurlab's settings, and deblurlab's Lightning step. A callback takes the
bare steps at the start of each Lightning iteration, so they run in turns in one process, and an
iteration's time (from the end of those steps to the next start) includes all Lightning adds.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from deblurlab.benchmarks import BenchOptions, Table, ratio
from deblurlab.benchmarks.networks import network_makers
from deblurlab.benchmarks.probes import Turns
from deblurlab.hardware import trainer_precision
from deblurlab.lit.channels_last import ChannelsLast, channels_last_pays
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss, SGENetLoss
from deblurlab.models.mimo_unet import released_aff


def bare_step(
    net: nn.Module,
    loss_fn: nn.Module,
    blur: Tensor,
    sharp: Tensor,
    layout: bool,
    bf16: bool,
    fused: bool = False,
) -> Callable[[], float]:
    """One plain-PyTorch optimizer step per call (``layout``: channels_last; ``fused``: fused
    Adam, deblurlab's default)."""
    net = net.train()
    if layout:
        net = net.to(memory_format=torch.channels_last)
        blur, sharp = (t.contiguous(memory_format=torch.channels_last) for t in (blur, sharp))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=fused)

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            total, _ = loss_fn(net(blur), sharp)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return float(total.detach())

    return step


class Interleave(pl.Callback):
    """Before each Lightning iteration, time the one before it and take a step of each bare loop."""

    def __init__(self, bare: dict[str, Callable[[], float]], turns: Turns) -> None:
        self.bare, self.turns, self.mark = bare, turns, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if batch_idx:
            self.turns.record("lightning", time.perf_counter() - self.mark)
        for name, step in self.bare.items():
            self.turns.take(name, step)
        self.mark = time.perf_counter()


def network_rows(
    name: str, make_net: Callable[[], nn.Module], batch: int, size: int, repeats: int
) -> list[list]:
    """The variants of one network's training step, timed in turns."""
    precision = trainer_precision("cpu")
    bf16, layout = precision == "bf16-mixed", channels_last_pays(precision)
    torch.manual_seed(1)
    blur, sharp = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    loss = SGENetLoss if "sgenet" in name.lower() else MIMOLoss  # each paper's full loss
    step = functools.partial(bare_step, loss_fn=loss(), blur=blur, sharp=sharp)
    bare = {
        "released": step(released_aff(make_net()), layout=False, bf16=False),
        "bare": step(make_net(), layout=layout, bf16=bf16, fused=True),
    }
    if not layout:  # deblurlab leaves channels_last out here: show what it would do
        bare["channels_last"] = step(make_net(), layout=True, bf16=bf16, fused=True)
    turns = Turns()
    module = DeblurLitModule(
        make_net(), loss(), optimizer=functools.partial(torch.optim.Adam, lr=1e-4)
    )
    iterations = repeats + 2  # warm-up + repeats + the one that closes the last timing
    items = [
        {"blur": blur[0], "sharp": sharp[0], "name": str(i)} for i in range(batch * iterations)
    ]
    logging.disable(logging.WARNING)  # Lightning's start-up chatter: the table is the output
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pl.Trainer(
                accelerator="cpu",
                precision=precision,
                max_steps=iterations,
                callbacks=[ChannelsLast("auto"), Interleave(bare, turns)],
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                limit_val_batches=0,
                num_sanity_val_steps=0,
            ).fit(module, train_dataloaders=DataLoader(items, batch_size=batch))
    finally:
        logging.disable(logging.NOTSET)
    settings = "channels_last + bf16-mixed" if bf16 else "NCHW, 32-true: no native bf16"
    rows = [
        ("released", "released way: bare loop, eager fp32 NCHW"),
        ("bare", f"bare loop, deblurlab settings ({settings})"),
        ("lightning", f"deblurlab Lightning step ({settings})"),
        ("channels_last", "bare loop, channels_last fp32 (not deblurlab's choice here)"),
    ]
    times = {k: turns.median(k) for k, _ in rows if k in turns.first}
    return [
        [
            name,
            label,
            times[k],
            ratio(times["released"] / times[k]),
            ratio(times[k] / times["bare"]),
        ]
        for k, label in rows
        if k in times
    ]


def run(opts: BenchOptions) -> Table:
    """The training-step table (MIMO-UNet unless ``--networks``/``--ckpt`` name others)."""
    batch, size = (2, 32) if opts.quick else (4, opts.train_size)
    table = Table(
        title=f"Training step, batch {batch} x 3 x {size} x {size}, the paper's loss, Adam, CPU",
        columns=["network", "variant", "median s", "x released", "x bare loop"],
        note=(
            f"Interleaved, {opts.repeats} steps each after a warm-up step. x released: speed-up "
            "over the released way (higher is faster); x bare loop: time relative to the bare "
            "loop with the same settings (what Lightning costs; 1.00x = nothing). deblurlab's "
            f"settings: trainer.precision={trainer_precision('cpu')} (bf16-mixed only where the "
            "CPU has native bf16) and the ChannelsLast callback (auto: with 16-bit precision)."
        ),
    )
    for name, make_net in network_makers(opts, ["MIMO-UNet"]).items():
        table.rows += network_rows(name, make_net, batch, size, opts.repeats)
    return table
