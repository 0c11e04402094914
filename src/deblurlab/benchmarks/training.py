"""The training step side by side: the released way, a bare loop with deblurlab's settings, and
deblurlab's Lightning step (DeblurLitModule + Trainer).

MIMO-UNet, batch 4 x 3 x 256 x 256, the full MIMO loss (content + MSFR), Adam. All three run in
one process, interleaved: the bare steps are taken inside a callback between two Lightning
iterations, so every Lightning iteration is followed by one step of each bare loop. A Lightning
iteration is the time from one ``on_train_batch_start`` to the next, minus the bare steps taken
in between: it includes what Lightning adds (fetching the batch, hooks, logging).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from deblurlab.benchmarks import BenchOptions, Table, Target
from deblurlab.hardware import trainer_precision
from deblurlab.lit.channels_last import ChannelsLast, channels_last_pays
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss

SPEED_TARGET, OVERHEAD_TARGET = 1.8, 1.05


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x"


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's start-up chatter and warnings (the table is the output)."""
    names = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def make_network(quick: bool, released: bool = False) -> nn.Module:
    """MIMO-UNet with seeded random weights (tiny when ``quick``), in training mode; ``released``:
    its AFFs computed the released way (concatenate, then convolve)."""
    from deblurlab.models import mimo_unet
    from deblurlab.models.mimo_unet import released_aff

    torch.manual_seed(0)
    net = mimo_unet(num_res=1, base_channels=8) if quick else mimo_unet()
    return (released_aff(net) if released else net).train()


def bare_step(
    net: nn.Module, blur: Tensor, sharp: Tensor, channels_last: bool, bf16: bool
) -> Callable[[], float]:
    """One plain-PyTorch optimizer step (forward, MIMO loss, backward, Adam) per call."""
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        blur = blur.contiguous(memory_format=torch.channels_last)
        sharp = sharp.contiguous(memory_format=torch.channels_last)
    loss_fn = MIMOLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            total, _ = loss_fn(net(blur), sharp)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return float(total.detach())

    return step


class FixedBatches(Dataset):
    """The same pair every item (the loader collates them into the benchmark's batch)."""

    def __init__(self, blur: Tensor, sharp: Tensor, length: int) -> None:
        self.blur, self.sharp, self.length = blur, sharp, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"blur": self.blur, "sharp": self.sharp, "name": f"{index}"}


class Interleave(pl.Callback):
    """Time Lightning iterations and run one step of each bare loop after every iteration."""

    def __init__(self, bare: dict[str, Callable[[], float]]) -> None:
        self.bare = bare
        self.starts: list[float] = []
        self.spent: list[float] = []
        self.times: dict[str, list[float]] = {name: [] for name in bare}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        spent = 0.0
        for name, step in self.bare.items():
            start = time.perf_counter()
            step()
            elapsed = time.perf_counter() - start
            self.times[name].append(elapsed)
            spent += elapsed
        self.spent.append(spent)

    def lightning_times(self) -> list[float]:
        """Iteration times (the first, warm-up one excluded)."""
        return [
            self.starts[i + 1] - self.starts[i] - self.spent[i]
            for i in range(1, len(self.starts) - 1)
        ]


def run(opts: BenchOptions) -> list[Table]:
    """The training-step table and its targets."""
    batch, size = (2, 32) if opts.quick else (4, opts.train_size)
    precision = trainer_precision("cpu")
    bf16 = precision == "bf16-mixed"
    torch.manual_seed(1)
    blur, sharp = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    layout = channels_last_pays(precision)  # what the ChannelsLast callback's "auto" picks
    bare = {
        "released": bare_step(make_network(opts.quick, released=True), blur, sharp, False, False),
        "bare": bare_step(make_network(opts.quick), blur, sharp, layout, bf16),
    }
    if not layout:  # the layout left out: show what it would have done
        bare["channels_last"] = bare_step(make_network(opts.quick), blur, sharp, True, bf16)
    for step in bare.values():  # warm-up, untimed
        step()
    interleave = Interleave(bare)
    module = DeblurLitModule(
        make_network(opts.quick),
        MIMOLoss(),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-4),
    )
    iterations = opts.repeats + 2  # warm-up + repeats + the one that closes the last timing
    loader = DataLoader(FixedBatches(blur[0], sharp[0], batch * iterations), batch_size=batch)
    with quiet_lightning():
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            precision=precision,
            max_steps=iterations,
            callbacks=[ChannelsLast("auto"), interleave],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, train_dataloaders=loader)
    released = statistics.median(interleave.times["released"][1:])
    bare_s = statistics.median(interleave.times["bare"][1:])
    lightning = statistics.median(interleave.lightning_times())
    settings = "channels_last + bf16-mixed" if bf16 else "NCHW, 32-true (no native bf16)"
    table = Table(
        title=f"Training step, MIMO-UNet{' (tiny)' if opts.quick else ''}, batch {batch} x 3 x "
        f"{size} x {size}, MIMO loss, Adam, CPU",
        columns=["variant", "median s", "x released", "x bare loop"],
        rows=[
            ["released way: bare loop, eager fp32 NCHW", released, "1.00x", _x(released / bare_s)],
            [f"bare loop, deblurlab settings ({settings})", bare_s, _x(released / bare_s), "1.00x"],
            [
                f"deblurlab Lightning step ({settings})",
                lightning,
                _x(released / lightning),
                _x(lightning / bare_s),
            ],
        ],
        note=(
            f"Interleaved, {opts.repeats} steps each after one warm-up step. x released: speed-up "
            "over the released way (its AFFs concatenate, then convolve; higher is faster); "
            "x bare loop: time relative to the bare loop with the same settings (the cost of "
            f"Lightning; 1.00 = none). deblurlab's settings here: trainer.precision={precision} "
            "(bf16-mixed only where the CPU has native bf16) and the ChannelsLast callback "
            "(auto: channels_last with 16-bit precision only)."
        ),
    )
    if "channels_last" in interleave.times:
        cl_s = statistics.median(interleave.times["channels_last"][1:])
        table.rows.append(
            [
                "bare loop, channels_last fp32 (not deblurlab's choice here)",
                cl_s,
                _x(released / cl_s),
                _x(cl_s / bare_s),
            ]
        )
    if not opts.quick and size == 256:
        speed_claim = f"Lightning step >= {SPEED_TARGET}x the released step (bf16-mixed CPU)"
        if bf16:
            opts.targets.append(
                Target(
                    speed_claim,
                    True,
                    f"{released / lightning:.2f}x",
                    released / lightning >= SPEED_TARGET,
                )
            )
        else:
            opts.targets.append(
                Target(
                    speed_claim,
                    False,
                    f"fp32 NCHW step: {released / lightning:.2f}x",
                    reason="needs avx512_bf16 or amx_bf16",
                )
            )
        opts.targets.append(
            Target(
                f"Lightning step <= {OVERHEAD_TARGET}x a bare loop with the same settings",
                True,
                f"{lightning / bare_s:.2f}x",
                lightning / bare_s <= OVERHEAD_TARGET,
            )
        )
    return [table]
