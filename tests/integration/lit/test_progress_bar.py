"""Without a terminal (a SLURM log) the progress bar is one line per ``line_seconds`` with the
values of the last logging step, never a line per step."""

from __future__ import annotations

import functools

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from deblurlab.lit import callbacks
from deblurlab.lit.callbacks import TimedProgressBar
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss
from deblurlab.models.mimo_unet import MIMOUNet


class Tick(pl.Callback):
    def __init__(self, now: list[float]) -> None:
        self.now = now

    def on_train_batch_start(self, *args) -> None:
        self.now[0] += 25.0  # seconds per step


def test_without_a_terminal_one_line_per_minute(monkeypatch, capsys, tmp_path):
    now = [0.0]
    monkeypatch.setattr(callbacks, "_now", lambda: now[0])
    torch.manual_seed(0)
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    module = DeblurLitModule(MIMOUNet(num_res=1, base_channels=8), MIMOLoss(), optimizer=adam)
    items = [{"blur": torch.rand(3, 16, 16), "sharp": torch.rand(3, 16, 16)} for _ in range(12)]
    pl.Trainer(
        accelerator="cpu", max_epochs=1, logger=pl.loggers.CSVLogger(tmp_path), log_every_n_steps=2,
        callbacks=[TimedProgressBar(line_seconds=60, lines=True), Tick(now)],
        enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path,
    ).fit(module, DataLoader(items, batch_size=2))  # fmt: skip
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    # 6 steps of 25 s: a line once 60 s have passed (at 75 s and at 150 s), one at the epoch end
    assert [line.split(":")[0] for line in lines] == [
        "epoch 0 step 3 batch 3/6",
        "epoch 0 step 6 batch 6/6",
        "epoch 0 step 6 epoch done",
    ]
    assert "train/loss=" in lines[0]  # from the logging step before it (step 2)
