"""The ChannelsLast callback: the network and the float batches run channels_last in training."""

from __future__ import annotations

import functools

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from deblurlab.lit.channels_last import ChannelsLast
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss
from deblurlab.models import mimo_unet


class Pairs(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict[str, object]:
        g = torch.Generator().manual_seed(i)
        return {
            "blur": torch.rand(3, 16, 16, generator=g),
            "sharp": torch.rand(3, 16, 16, generator=g),
        }


class Spy(DeblurLitModule):
    layouts: list[bool]

    def training_step(self, batch, batch_idx):
        self.layouts.append(batch["blur"].is_contiguous(memory_format=torch.channels_last))
        return super().training_step(batch, batch_idx)


def fit(enabled: bool | str, precision: str = "32-true") -> Spy:
    torch.manual_seed(0)
    module = Spy(
        mimo_unet(num_res=1, base_channels=4),
        MIMOLoss(),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
    )
    module.layouts = []
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=2,
        precision=precision,
        callbacks=[ChannelsLast(enabled)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader(Pairs(), batch_size=2))
    return module


def test_training_runs_channels_last_and_learns_the_same_weights():
    fast, plain = fit(True), fit(False)
    assert fast.layouts == [True, True] and plain.layouts == [False, False]
    weight = fast.net.feat_extract[0].main[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(fast.net.parameters(), plain.net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_auto_runs_channels_last_only_with_16_bit_precision():
    # the default config's choice: fp32 training stays NCHW (slower channels_last on AVX2 CPUs)
    assert fit("auto").layouts == [False, False]
    assert fit("auto", precision="bf16-mixed").layouts == [True, True]
