"""A step whose loss is NaN or inf is skipped on the device: the weights and the optimizer state
stay as they were, and NonFiniteGuard counts it (without a host sync per step)."""

from __future__ import annotations

import functools

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.lit.nonfinite import NonFiniteGuard
from deblurlab.losses import MIMOLoss
from deblurlab.models.mimo_unet import MIMOUNet


class InfAtCall(nn.Module):
    """The paper's loss, made infinite at its ``bad``-th call (1-based)."""

    def __init__(self, bad: int) -> None:
        super().__init__()
        self.inner, self.bad, self.calls = MIMOLoss(), bad, 0

    def forward(self, outputs, target):
        self.calls += 1
        total, parts = self.inner(outputs, target)
        return (total * torch.inf if self.calls == self.bad else total), parts


def fit(steps: int, bad: int) -> tuple[DeblurLitModule, NonFiniteGuard]:
    torch.manual_seed(0)
    net = MIMOUNet(num_res=1, base_channels=8)
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    module = DeblurLitModule(net, InfAtCall(bad), optimizer=adam)
    items = [
        {"blur": torch.rand(3, 16, 16), "sharp": torch.rand(3, 16, 16), "name": f"{i}"}
        for i in range(4)
    ]
    guard = NonFiniteGuard(max_in_a_row=3)
    pl.Trainer(
        accelerator="cpu", max_steps=steps, callbacks=[guard], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    ).fit(module, DataLoader(items, batch_size=2))  # fmt: skip
    return module, guard


def test_a_non_finite_step_changes_neither_weights_nor_optimizer_state():
    skipped, guard = fit(steps=2, bad=2)  # the second step's loss is infinite
    one, _ = fit(steps=1, bad=0)
    assert guard.skipped == 1 and guard.in_a_row == 1
    for (name, a), b in zip(
        skipped.net.state_dict().items(), one.net.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    state = skipped.trainer.optimizers[0].state
    assert {float(s["step"]) for s in state.values()} == {1.0}  # Adam counted one step, not two
