"""What deblurlab's training loop adds to a step when the step itself costs next to nothing: the
CPU stand-in for a fast GPU, where every host-side millisecond and every wait for the device shows.

The real Trainer with the default callbacks (``conf/callbacks/default.yaml``: checkpoints,
NonFiniteGuard, progress bar, ...) and loggers (CSV, W&B offline) trains the full-width network on
16 x 16 crops; a bare PyTorch loop doing the same forward, loss, backward and fused Adam takes one
step at the start of each Lightning iteration (in turns, as in :mod:`.training`). Each callback's
hooks and each logger are timed where Lightning calls them. A second fit leaves the checkpoint
callbacks out, a third forces a ``last.ckpt`` write every few steps: what a write costs the loop
(host copy on the loop, the file written by a background thread), amortised over the default
timer.
"""

from __future__ import annotations

import functools
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from importlib.resources import files
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from deblurlab.benchmarks import BenchOptions, Table, ratio
from deblurlab.benchmarks.networks import network_makers
from deblurlab.benchmarks.probes import Turns
from deblurlab.benchmarks.training import Interleave, bare_step
from deblurlab.lit.checkpointing import BestCheckpoint, LastCheckpoint
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss

CHECKPOINTS = (BestCheckpoint, LastCheckpoint)
CHECKPOINT_NAMES = {c.__name__ for c in CHECKPOINTS}
WRITE = "last.ckpt write (background thread)"
# the hooks Lightning calls every step (start and end hooks run once and are left out)
HOOKS = (
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
)


class HookTimes(defaultdict):
    """Seconds spent in each callback's hooks and each logger's ``log_metrics``, by name."""

    def __init__(self) -> None:
        super().__init__(float)
        self.on = False  # only the timed iterations count
        self.calls: defaultdict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                if self.on:
                    self[label] += time.perf_counter() - start
                    self.calls[label] += 1

        setattr(owner, name, timed)


def default_callbacks(folder: str, every_n_train_steps: int, checkpoints: bool) -> list:
    """The callbacks of ``conf/callbacks/default.yaml``, writing into ``folder``."""
    group = OmegaConf.load(str(files("deblurlab.conf") / "callbacks" / "default.yaml"))
    cfg = OmegaConf.create({"paths": {"output_dir": folder}, "callbacks": group})
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c and "_target_" in c]
    for callback in callbacks:
        if isinstance(callback, LastCheckpoint):
            callback.every_n_train_steps = every_n_train_steps
    return [c for c in callbacks if checkpoints or not isinstance(c, CHECKPOINTS)]


def loggers(folder: str) -> list:
    """CSV and W&B offline, as ``logger=wandb`` (the default) sets them up."""
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    return [
        pl.loggers.CSVLogger(folder, name="csv", version=""),
        pl.loggers.WandbLogger(project="deblurlab-bench", save_dir=folder),
    ]


def fit(opts: BenchOptions, steps: int, every: int, checkpoints: bool) -> dict[str, Any]:
    """One fit, a bare step taken before each of its iterations; mean times and hook times."""
    make_net = network_makers(opts, ["MIMO-UNet"])["MIMO-UNet"]
    torch.manual_seed(1)
    blur, sharp = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    adam = functools.partial(torch.optim.Adam, lr=1e-4)
    bare = bare_step(make_net(), MIMOLoss(), blur, sharp, False, False, fused=True)  # as deblurlab
    turns, times = Turns(), HookTimes()
    items = [{"blur": blur[0], "sharp": sharp[0], "name": str(i)} for i in range(4 * (steps + 3))]
    with tempfile.TemporaryDirectory() as folder:
        callbacks = default_callbacks(folder, every, checkpoints)
        logs = loggers(folder)
        for callback in callbacks:
            for hook in HOOKS:
                if getattr(type(callback), hook) is not getattr(pl.Callback, hook):
                    times.wrap(callback, hook, type(callback).__name__)
            if isinstance(callback, LastCheckpoint):  # the background thread, apart
                times.wrap(callback, "_write", WRITE)
        for logger in logs:
            times.wrap(logger, "log_metrics", f"{type(logger).__name__} (logger)")
        interleave = Interleave({"bare": bare}, turns)
        original = interleave.on_train_batch_start

        def start(trainer: pl.Trainer, *args: Any) -> None:
            times.on = trainer.global_step >= 2  # two warm-up iterations
            original(trainer, *args)

        interleave.on_train_batch_start = start  # type: ignore[method-assign]
        module = DeblurLitModule(make_net(), MIMOLoss(), optimizer=adam)
        logging.disable(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pl.Trainer(
                    accelerator="cpu",
                    max_steps=steps + 3,
                    callbacks=[*callbacks, interleave],
                    logger=logs,
                    log_every_n_steps=10,
                    limit_val_batches=0,
                    num_sanity_val_steps=0,
                    enable_model_summary=False,
                    default_root_dir=folder,
                    enable_checkpointing=checkpoints,  # else Lightning adds a checkpoint of its own
                ).fit(module, train_dataloaders=DataLoader(items, batch_size=4))
        finally:
            logging.disable(logging.NOTSET)
            import wandb

            wandb.finish()  # the next fit starts a run of its own
    timed = steps + 1  # iterations from global step 2 on
    writes = max(1, times.calls.pop(WRITE, 0))
    return {
        "lightning": statistics.fmean(turns.times["lightning"][1:]),
        "bare": statistics.fmean(turns.times["bare"][1:]),
        "hooks": {k: v / timed for k, v in times.items() if k != WRITE},
        "per_write": (times["LastCheckpoint"] / writes, times.pop(WRITE, 0.0) / writes),
    }


def run(opts: BenchOptions) -> Table:
    """The overhead table: the default loop against a bare loop, and what checkpoints cost."""
    steps = 8 if opts.quick else max(30, 10 * opts.repeats)
    every = max(2, steps // 6)
    default = fit(opts, steps, 0, checkpoints=True)
    without = fit(opts, steps, 0, checkpoints=False)
    forced = fit(opts, steps, every, checkpoints=True)
    bare = default["bare"]
    table = Table(
        title="Training-step overhead on near-zero compute: MIMO-UNet, batch 4 x 3 x 16 x 16",
        columns=["what", "mean ms per step", "x bare loop", "share of a bare step"],
        note=(
            f"Mean over {steps - 1} steps after two warm-up steps; every variant timed in turns "
            "with a bare PyTorch step (forward, the paper's loss, backward, fused Adam) inside "
            "one fit. Hook rows: time inside each callback's hooks (and each logger's "
            "log_metrics), per step, against the bare step. Checkpoint rows: fits without the "
            f"checkpoint callbacks and with a last.ckpt write forced every {every} steps; per "
            "write, the loop's time (host copy, weight check) and the background thread's "
            "(torch.save, fsync, rename), both charged to the loop over the default timer "
            "(callbacks.last_checkpoint.every_n_minutes=10). Timings on a loaded machine vary: "
            "read the ratios."
        ),
    )
    table.rows.append(["bare PyTorch loop", 1e3 * bare, ratio(1.0), "100%"])
    lightning = default["lightning"]
    table.rows.append(
        [
            "deblurlab step: default callbacks and loggers",
            1e3 * lightning,
            ratio(lightning / bare),
            "",
        ]
    )
    for name, seconds in sorted(default["hooks"].items(), key=lambda kv: -kv[1]):
        table.rows.append([f"  of which {name}", 1e3 * seconds, "", f"{100 * seconds / bare:.1f}%"])
    rest = lightning - bare - sum(default["hooks"].values())
    table.rows.append(
        [
            "  of which the rest: Lightning's loop, the on-device loss check",
            1e3 * rest,
            "",
            f"{100 * rest / bare:.1f}%",
        ]
    )
    # each fit's ratio to its own bare steps: the load of the moment falls on both alike
    base = without["lightning"] / without["bare"]
    table.rows.append(["without checkpoint callbacks", 1e3 * without["lightning"], ratio(base), ""])
    loop, thread = forced["per_write"]
    table.rows.append(
        [
            f"last.ckpt written every {every} steps",
            1e3 * forced["lightning"],
            ratio(forced["lightning"] / forced["bare"]),
            f"per write: {1e3 * loop:.0f} ms in the loop, {1e3 * thread:.0f} ms in the thread",
        ]
    )
    # from the default fit itself (fit-to-fit differences on a loaded machine are noise): the
    # checkpoint callbacks' hooks per step, plus a write every 10 minutes charged in full to the
    # loop (as if the thread stopped it)
    hooks = sum(v for k, v in default["hooks"].items() if k in CHECKPOINT_NAMES)
    amortised = lightning / (lightning - hooks) + (loop + thread) / 600.0
    table.rows.append(
        ["checkpoint callbacks, amortised over 10 minutes: x without", "", ratio(amortised), ""]
    )
    return table
