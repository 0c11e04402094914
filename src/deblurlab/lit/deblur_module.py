"""The LightningModule that trains and evaluates any deblurlab network with any deblurlab loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric

from deblurlab.metrics import batch_scores, check_protocol, per_image_records
from deblurlab.timing import timed

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


class DeblurLitModule(pl.LightningModule):
    """Train ``net`` with ``loss``; score validation and test images one by one.

    Args:
        net: maps B x 3 x H x W in [0, 1] to a list of images, coarse to fine, last = full size.
        loss: ``loss(outputs, target) -> (total, parts)``; every part is logged as ``train/<part>``
            (only needed for training).
        optimizer: partial optimizer, called with the parameters (only needed for training).
        scheduler: optional partial LR scheduler, called with the optimizer.
        scheduler_interval: ``epoch`` or ``step``: when the scheduler steps.
        protocol: metric protocol of validation/test (``gopro``: 8-bit rounded RGB PSNR, ...).
        eval_net: optional network used at test time instead of ``net`` (e.g. a self-ensemble
            wrapped around it for MIMO-UNet++); validation always scores ``net`` itself.

    Validation and test compute PSNR and SSIM per image on full frames and average those numbers
    (the papers' convention; one PSNR of the pooled MSE would be a different, larger number).
    The blurry input is scored the same way once, as ``input/psnr`` and ``input/ssim``.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None = None,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        protocol: str = "gopro",
        eval_net: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(
                f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
            )
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.protocol = check_protocol(protocol)
        self.eval_net = eval_net
        self.val_psnr, self.val_ssim = MeanMetric(), MeanMetric()
        self.val_psnr_best = MaxMetric()
        self.val_psnr_best.persistent(True)  # survives resume, so "best" stays the best of the run
        self.input_psnr, self.input_ssim = MeanMetric(), MeanMetric()
        self.test_psnr, self.test_ssim = MeanMetric(), MeanMetric()
        self.test_input_psnr, self.test_input_ssim = MeanMetric(), MeanMetric()
        # blurry-input scores of the fixed validation set, computed once (kept in checkpoints)
        self.input_values: dict[str, float] | None = None
        self.test_records: list[dict[str, Any]] = []

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(x)

    # --- training -------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        if self.loss is None:
            raise RuntimeError("DeblurLitModule was built without a loss; it can only evaluate")
        outputs = self.net(batch["blur"])
        total, parts = self.loss(outputs, batch["sharp"])
        finite = bool(torch.isfinite(total.detach()).all())
        if self._trainer is not None:
            finite = self.trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:  # on any rank: every rank skips this step (NonFiniteGuard counts it)
            return None
        bs = batch["blur"].shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=bs)
        for name, value in parts.items():
            self.log(f"train/{name}", value, batch_size=bs)
        return total

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            return None
        optimizer = self.optimizer_factory(params=self.net.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval},
        }

    # --- scoring (shared by validation and test) ------------------------------------------------
    def score_batch(
        self, batch: dict[str, Any], net: nn.Module, score_input: bool
    ) -> dict[str, Any]:
        """Restore ``batch["blur"]`` with ``net`` (timed) and score it per image under the protocol.

        Returns ``pred`` (full-size output), ``scores`` and, when ``score_input``, ``inputs`` (the
        blurry input scored against the same sharp image), each ``{"psnr": B, "ssim": B}``, and the
        batch's forward ``seconds``.
        """
        run = timed(lambda: net(batch["blur"])[-1], batch["blur"].device)
        scored: dict[str, Any] = {
            "pred": run.result,
            "scores": batch_scores(run.result, batch["sharp"], self.protocol),
            "seconds": run.elapsed,
        }
        if score_input:
            scored["inputs"] = batch_scores(batch["blur"], batch["sharp"], self.protocol)
        return scored

    # --- validation -----------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        # Fresh states in this process: under ddp_spawn (trainer=ddp_cpu) the metric states arrive
        # as CPU tensors shared with the launching process and the other ranks, so in-place
        # updates would mix every rank's images and carry over into the next trainer call.
        for metric in (self.val_psnr, self.val_ssim, self.input_psnr, self.input_ssim):
            metric.reset()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        score_input = self.input_values is None and not self.trainer.sanity_checking
        scored = self.score_batch(batch, self.net, score_input)
        self.val_psnr.update(scored["scores"]["psnr"])
        self.val_ssim.update(scored["scores"]["ssim"])
        if score_input:
            self.input_psnr.update(scored["inputs"]["psnr"])
            self.input_ssim.update(scored["inputs"]["ssim"])
        return {"pred": scored["pred"].detach()}

    def on_validation_epoch_end(self) -> None:
        psnr = self.val_psnr.compute()
        self.val_psnr_best.update(psnr)
        self.log("val/psnr", psnr, prog_bar=True)
        self.log("val/ssim", self.val_ssim.compute())
        self.log("val/psnr_best", self.val_psnr_best.compute(), prog_bar=True)
        self.val_psnr.reset()
        self.val_ssim.reset()
        if self.trainer.sanity_checking:
            # the sanity check must not count towards the best PSNR
            self.val_psnr_best.reset()
            return
        if self.input_values is None:
            self.input_values = {
                "input/psnr": float(self.input_psnr.compute()),
                "input/ssim": float(self.input_ssim.compute()),
            }
        for key, value in self.input_values.items():
            self.log(key, value)

    # --- test -----------------------------------------------------------------------------------
    def on_test_epoch_start(self) -> None:
        self.test_records = []
        for metric in (self.test_psnr, self.test_ssim, self.test_input_psnr, self.test_input_ssim):
            metric.reset()  # see on_validation_epoch_start

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        net = self.eval_net if self.eval_net is not None else self.net
        scored = self.score_batch(batch, net, score_input=True)
        scores, inputs = scored["scores"], scored["inputs"]
        self.test_psnr.update(scores["psnr"])
        self.test_ssim.update(scores["ssim"])
        self.test_input_psnr.update(inputs["psnr"])
        self.test_input_ssim.update(inputs["ssim"])
        self.test_records += per_image_records(batch["name"], scores, inputs, scored["seconds"])
        return {"pred": scored["pred"].detach()}

    def on_test_epoch_end(self) -> None:
        self.log("test/psnr", self.test_psnr.compute())
        self.log("test/ssim", self.test_ssim.compute())
        self.log("test/input_psnr", self.test_input_psnr.compute())
        self.log("test/input_ssim", self.test_input_ssim.compute())
        for metric in (self.test_psnr, self.test_ssim, self.test_input_psnr, self.test_input_ssim):
            metric.reset()

    # --- checkpoint state -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["deblurlab_input_metrics"] = self.input_values

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        values = checkpoint.get("deblurlab_input_metrics")
        if values:
            self.input_values = values
