"""The LightningModule that trains and evaluates any deblurlab network with any deblurlab loss."""

from __future__ import annotations

import inspect
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import distributed as dist
from torch import nn
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
from torchmetrics import MaxMetric

from deblurlab.errors import CheckpointError
from deblurlab.lit.nonfinite import finite_flag, skip_on_device
from deblurlab.metrics import batch_scores, check_protocol, per_image_records
from deblurlab.timing import timed

SCORE_KEYS: tuple[str, ...] = ("psnr", "ssim", "ssim_matlab")


def image_rows(names: list[str], scored: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per image: name, its scores and (when scored) its blurry input's as ``input_*``."""
    rows = []
    for i, name in enumerate(names):
        row: dict[str, Any] = {"name": name}
        row.update({k: float(v[i]) for k, v in scored["scores"].items()})
        row.update({f"input_{k}": float(v[i]) for k, v in scored.get("inputs", {}).items()})
        rows.append(row)
    return rows


def mean_scores(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of every numeric column over the rows (NaN when there are none)."""
    keys = [k for k in (rows[0] if rows else {}) if k != "name"]
    return (
        {k: statistics.fmean(float(r[k]) for r in rows) for k in keys}
        if rows
        else {"psnr": math.nan}
    )


OptimizerFactory = Callable[..., torch.optim.Optimizer]


def fused_default(factory: Any, net: nn.Module) -> dict[str, bool]:
    """``{"fused": True}`` when ``factory`` (a partial torch optimizer) takes ``fused``, leaves it
    (and ``foreach``) unset, and the network's device has fused kernels: one kernel per step, and
    the only optimizers that skip a non-finite step on the device (:mod:`deblurlab.lit.nonfinite`).
    ``+schedule.optimizer.fused=false`` keeps the unfused kernels (then one host sync per step)."""
    func = getattr(factory, "func", None)
    keywords = getattr(factory, "keywords", {}) or {}
    if func is None or "fused" in keywords or keywords.get("foreach"):
        return {}
    try:
        takes_fused = "fused" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}
    devices = {p.device.type for p in net.parameters()}
    supported = set(_get_fused_kernels_supported_devices())
    return {"fused": True} if takes_fused and devices and devices <= supported else {}


SchedulerFactory = Callable[..., Any]
# the score ReduceLROnPlateau follows: higher is better, so the scheduler needs mode="max"
PLATEAU_MONITOR = "val/psnr"


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
        self.val_psnr_best = MaxMetric().set_dtype(torch.float64)
        self.val_psnr_best.persistent(True)  # survives resume, so "best" stays the best of the run
        self._val_rows: list[dict[str, Any]] = []
        self.psnr_best = -math.inf  # the best validation PSNR of the run so far (in checkpoints)
        # blurry-input scores of the fixed validation set, computed once (kept in checkpoints)
        self.input_values: dict[str, float] | None = None
        self.test_records: list[dict[str, Any]] = []
        self.step_finite: torch.Tensor | None = None  # the last step's gradients were finite
        self.validated_epoch = -1  # the last epoch that ended with a validation

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(x)

    # --- training -------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        if self.loss is None:
            raise RuntimeError("DeblurLitModule was built without a loss; it can only evaluate")
        outputs = self.net(batch["blur"])
        total, parts = self.loss(outputs, batch["sharp"])
        # a non-finite loss makes every gradient NaN: the step is then skipped on the device from
        # the (all-reduced) gradients, the same on every rank, with no wait for the device
        poison = torch.where(torch.isfinite(total.detach()), 1.0, math.nan)
        total = total * poison
        bs = batch["blur"].shape[0]
        # not prog_bar=True: Lightning would read it back to the host after every step;
        # TimedProgressBar shows it from the logging steps
        self.log("train/loss", total, batch_size=bs)
        for name, value in parts.items():
            self.log(f"train/{name}", value, batch_size=bs)
        return total

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        if not grads:
            return
        self.step_finite = finite_flag(grads)  # read later by NonFiniteGuard, off the step
        skip_on_device(self._trainer, optimizer, self.step_finite)

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            return None
        optimizer = self.optimizer_factory(
            params=self.net.parameters(), **fused_default(self.optimizer_factory, self.net)
        )
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        config: dict[str, Any] = {"scheduler": scheduler, "interval": self.scheduler_interval}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            # it steps on the validation PSNR; before the first validation there is none, and
            # strict=False lets those epochs pass (later ones: see lr_scheduler_step)
            config.update(monitor=PLATEAU_MONITOR, strict=False)
        return {"optimizer": optimizer, "lr_scheduler": config}

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        """Step the schedule; ReduceLROnPlateau only at the end of an epoch that validated.
        Lightning hands it the last ``val/psnr`` logged, which outlives its epoch: stepping on
        it after every epoch would count each epoch between validations as one more without
        improvement."""
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if self.validated_epoch == self.current_epoch:
                scheduler.step(metric)
            return
        super().lr_scheduler_step(scheduler, metric)

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
        self._val_rows: list[dict[str, Any]] = []

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        score_input = self.input_values is None and not self.trainer.sanity_checking
        scored = self.score_batch(batch, self.net, score_input)
        self._val_rows += image_rows(batch["name"], scored)
        return {"pred": scored["pred"].detach()}

    def on_validation_epoch_end(self) -> None:
        rows = self.gather_unique(self._val_rows)
        self._val_rows = []
        means = mean_scores(rows)
        self.val_psnr_best.update(means["psnr"])
        best = max(self.psnr_best, means["psnr"])  # exact (the metric state may round to float32)
        self._log_exact("val/psnr", means["psnr"], prog_bar=True)
        for key in SCORE_KEYS[1:]:
            if key in means:
                self._log_exact(f"val/{key}", means[key])
        self._log_exact("val/psnr_best", best, prog_bar=True)
        self._log_exact("val/num_images", float(len(rows)))
        if self.trainer.sanity_checking:
            # the sanity check must not count towards the best PSNR
            self.val_psnr_best.reset()
            return
        self.psnr_best = best
        self.validated_epoch = self.current_epoch
        if self.input_values is None:
            self.input_values = {
                f"input/{k}": means[f"input_{k}"] for k in SCORE_KEYS if f"input_{k}" in means
            }
        for key, value in self.input_values.items():
            self._log_exact(key, value)

    # --- test -----------------------------------------------------------------------------------
    def on_test_epoch_start(self) -> None:
        self.test_records = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        net = self.eval_net if self.eval_net is not None else self.net
        scored = self.score_batch(batch, net, score_input=True)
        scores, inputs = scored["scores"], scored["inputs"]
        self.test_records += per_image_records(batch["name"], scores, inputs, scored["seconds"])
        return {"pred": scored["pred"].detach()}

    def on_test_epoch_end(self) -> None:
        self.test_records = self.gather_unique(self.test_records)
        means = mean_scores(self.test_records)
        for key in SCORE_KEYS:
            if key in means:
                self._log_exact(f"test/{key}", means[key])
                self._log_exact(f"test/input_{key}", means[f"input_{key}"])
        self._log_exact("test/num_images", float(len(self.test_records)))

    def _log_exact(self, key: str, value: Any, **kwargs: Any) -> None:
        """Log an epoch-level value in float64 (float32 would round PSNR at the 1e-5 dB level).

        Every rank holds the same value (see ``gather_unique``), so ``sync_dist`` averages equal
        numbers: it changes nothing but tells Lightning the value is valid on all ranks.
        """
        dtype = torch.float32 if self.device.type == "mps" else torch.float64
        tensor = torch.as_tensor(value, dtype=dtype, device=self.device)
        self.log(key, tensor, sync_dist=True, **kwargs)

    # --- every image once under DDP -------------------------------------------------------------
    def gather_unique(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every rank's per-image rows, each image once, in dataset order (on every rank).

        A distributed sampler gives rank ``r`` the images ``r, r + W, r + 2W, ...`` and pads the
        last round with images from the start, so that every rank has as many; the rows of all
        ranks are interleaved back into dataset order and the padded repeats (same name) dropped.
        """
        world = self.trainer.world_size if self._trainer is not None else 1
        if world > 1 and dist.is_available() and dist.is_initialized():
            parts: list[Any] = [None] * world
            dist.all_gather_object(parts, rows)
            rows = [
                part[i]
                for i in range(max(len(p) for p in parts))
                for part in parts
                if i < len(part)
            ]
        unique: dict[str, dict[str, Any]] = {}
        for row in rows:
            unique.setdefault(str(row["name"]), row)
        return list(unique.values())

    # --- reload -----------------------------------------------------------------------------------
    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: str | Path,
        map_location: Any = None,
        hparams_file: str | Path | None = None,
        strict: bool | None = None,
        trust: Sequence[str] = (),
        **kwargs: Any,
    ) -> DeblurLitModule:
        """The module of a deblurlab checkpoint, rebuilt from the run config it carries (network,
        loss, optimizer, schedule, protocol, self-ensemble) with its weights and input scores.

        Only registered classes are built from the file (deblurlab's, torch's optimizers and LR
        schedules, and what installed packages register); ``trust`` names further classes the
        caller allows (``trust=["mypkg.nets.MyNet"]``). With extra arguments (``net=...``,
        ``hparams_file``) Lightning's own loader is used.

        Checkpoints are always read as data (``weights_only=True``, what Lightning's own argument
        asks for); ``weights_only=False`` is refused with a ``CheckpointError``, as reading a file
        that way can run code stored in it.
        """
        weights_only = kwargs.pop("weights_only", None)
        if weights_only is False:
            raise CheckpointError(
                f"{checkpoint_path}: deblurlab reads checkpoints as data only (weights_only=True); "
                "weights_only=False is not supported"
            )
        if kwargs or hparams_file is not None:
            return super().load_from_checkpoint(  # type: ignore[return-value]
                checkpoint_path, map_location, hparams_file, strict, weights_only=True, **kwargs
            )
        from deblurlab.lit.build import module_from_checkpoint  # files are read outside this module

        return module_from_checkpoint(cls, checkpoint_path, map_location, strict, trust)

    # --- checkpoint state -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["deblurlab_input_metrics"] = self.input_values
        checkpoint["deblurlab_val_psnr_best"] = self.psnr_best

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        best = checkpoint.get("deblurlab_val_psnr_best")
        if best is None:  # an older checkpoint: the metric state
            state = checkpoint.get("state_dict", {}).get("val_psnr_best.max_value")
            best = float(state) if state is not None else -math.inf
        self.psnr_best = float(best)
        values = checkpoint.get("deblurlab_input_metrics")
        if values:
            self.input_values = values
