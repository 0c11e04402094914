"""model.compile=true: the network compiled for training steps, eager in validation and test, the
last smaller batch dropped, checkpoints unchanged in their names."""

from __future__ import annotations

import functools

import pytorch_lightning as pl
import torch

from deblurlab.data import DeblurDataModule, SyntheticBlurSource
from deblurlab.lit.build import build_trainer
from deblurlab.lit.compile import CompileTraining
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss
from deblurlab.models import mimo_unet


class Spy(DeblurLitModule):
    """Records, per step kind, whether the network's call was the compiled one."""

    seen: list[tuple[str, bool]]

    def training_step(self, batch, batch_idx):
        self.seen.append(("train", self.net._compiled_call_impl is not None))
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.seen.append(("val", self.net._compiled_call_impl is not None))
        return super().validation_step(batch, batch_idx)


def test_training_steps_run_compiled_and_validation_eager_with_the_last_batch_dropped():
    torch.manual_seed(0)
    module = Spy(
        mimo_unet(num_res=1, base_channels=4),
        MIMOLoss(),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
    )
    module.seen = []
    names = set(module.state_dict())
    source = SyntheticBlurSource(
        train_size=(40, 40), eval_size=(32, 32), train_samples=5, val_samples=1, test_samples=1
    )
    dm = DeblurDataModule(source, crop_size=32, batch_size=2)  # 5 pairs: batches 2, 2 (and 1)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        callbacks=[CompileTraining(backend="eager")],  # dynamo's graph capture, no code generation
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=dm)
    assert dm.drop_last and module.seen == [("train", True), ("train", True), ("val", False)]
    assert set(module.state_dict()) == names  # no _orig_mod. prefix: checkpoints load anywhere
    assert module.net._compiled_call_impl is None  # eager again after fit (best validation, test)


def test_model_compile_adds_the_callback(train_config):
    with_compile = build_trainer(train_config("model.compile=true", "logger=none"), [])
    without = build_trainer(train_config("logger=none"), [])
    assert any(isinstance(c, CompileTraining) for c in with_compile.callbacks)
    assert not any(isinstance(c, CompileTraining) for c in without.callbacks)
