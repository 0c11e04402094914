"""W&B extras for training runs: the best validation scores with their step, and a per-image table
of the test set. Both do nothing unless the trainer has a :class:`WandbLogger`.

* :class:`WandbBestMetrics` declares ``val/psnr`` and ``val/ssim`` with ``define_metric`` (summary
  ``max``, so the run summary holds the best value, not the last) and writes ``best/val_psnr``,
  ``best/val_ssim`` (at the best-PSNR validation), ``best/step`` and ``best/epoch`` to the summary.
* :class:`WandbTestTable` logs ``test/per_image``: one row per test image with its name, the PSNR
  and SSIM of the blurry input and of the output, and thumbnails of both.
* :class:`WandbCheckpointArtifact` (``logger.wandb.log_model=true``) logs ``best.ckpt`` and
  ``last.ckpt`` at the end of training as one version of the artifact ``model-<run id>`` (type
  ``model``, aliases ``latest`` and ``best``, the best score and its step as metadata). Unlike
  Lightning's own ``log_model`` it works in offline runs too (uploaded by ``wandb sync``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from deblurlab.lit.checkpointing import LastCheckpoint
from deblurlab.quantize import to_uint8

STEP_METRIC = "trainer/global_step"  # the x-axis WandbLogger logs every metric against
BEST_KEYS = ("best/val_psnr", "best/val_ssim", "best/step", "best/epoch")
TABLE_KEY = "test/per_image"
TABLE_COLUMNS = ["name", "input_psnr", "input_ssim", "psnr", "ssim", "blurry", "output"]


def wandb_loggers(trainer: pl.Trainer) -> list[WandbLogger]:
    """The trainer's W&B loggers (none, usually one)."""
    return [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]


def thumbnail(image: torch.Tensor, size: int = 128) -> np.ndarray:
    """3 x H x W in [0, 1] -> H' x W' x 3 uint8 whose longer side is at most ``size`` (area)."""
    scale = min(1.0, size / max(image.shape[-2:]))
    if scale < 1.0:
        out_size = [max(1, round(s * scale)) for s in image.shape[-2:]]
        image = F.interpolate(image[None].float(), size=out_size, mode="area")[0]
    return to_uint8(image.detach().float().clamp(0, 1).cpu().permute(1, 2, 0))


class WandbBestMetrics(pl.Callback):
    """Best-so-far ``val/psnr`` (and ``val/ssim`` at that validation) with its step, in the summary."""

    def __init__(self) -> None:
        self.best: dict[str, float] | None = None

    @rank_zero_only
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for logger in wandb_loggers(trainer):
            run = logger.experiment
            for key in ("val/psnr", "val/ssim"):
                run.define_metric(key, step_metric=STEP_METRIC, summary="max")

    @rank_zero_only
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        metrics = trainer.callback_metrics
        if "val/psnr" not in metrics:
            return
        psnr = float(metrics["val/psnr"])
        if self.best is not None and not psnr > self.best["best/val_psnr"]:
            return
        self.best = {
            "best/val_psnr": psnr,
            "best/val_ssim": float(metrics.get("val/ssim", float("nan"))),
            "best/step": trainer.global_step,
            "best/epoch": trainer.current_epoch,
        }
        for logger in wandb_loggers(trainer):
            logger.experiment.summary.update(self.best)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}  # a resumed run keeps its best

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")


class WandbTestTable(pl.Callback):
    """A W&B Table of the test set: name, input and output PSNR/SSIM, thumbnails."""

    def __init__(self, thumbnail_size: int = 128) -> None:
        self.thumbnail_size = thumbnail_size
        self.thumbs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.thumbs = {}

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not wandb_loggers(trainer) or not isinstance(outputs, dict) or "pred" not in outputs:
            return
        for i, name in enumerate(batch["name"]):
            self.thumbs[name] = (
                thumbnail(batch["blur"][i], self.thumbnail_size),
                thumbnail(outputs["pred"][i], self.thumbnail_size),
            )

    @rank_zero_only
    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        records = getattr(pl_module, "test_records", None)
        if not wandb_loggers(trainer) or not records:
            return
        import wandb

        rows = []
        for record in records:
            blurry, output = self.thumbs.get(record["name"], (None, None))
            rows.append(
                [record[c] for c in TABLE_COLUMNS[:5]]
                + [wandb.Image(img) if img is not None else None for img in (blurry, output)]
            )
        for logger in wandb_loggers(trainer):
            logger.log_table(key=TABLE_KEY, columns=TABLE_COLUMNS, data=rows)


def artifact_name(run_id: str) -> str:
    """The name of a training run's checkpoint artifact (Lightning's convention)."""
    return f"model-{run_id}"


class WandbCheckpointArtifact(pl.Callback):
    """At the end of training, log the best and last checkpoints as a W&B ``model`` artifact."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.logged: list[str] = []

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.enabled:
            return
        files: dict[str, str] = {}
        metadata: dict[str, Any] = {}
        for callback in trainer.checkpoint_callbacks:
            if not isinstance(callback, ModelCheckpoint):
                continue
            if callback.best_model_path and callback.monitor:
                files["best.ckpt"] = callback.best_model_path
                score = callback.best_model_score
                metadata[callback.monitor] = float(score) if score is not None else None
            if callback.last_model_path:
                files["last.ckpt"] = callback.last_model_path
            elif callback.best_model_path and not callback.monitor:
                files["last.ckpt"] = callback.best_model_path
        for callback in trainer.callbacks:
            if isinstance(callback, LastCheckpoint):
                last = Path(callback.dirpath) / f"{callback.filename}.ckpt"
                if last.is_file():
                    files["last.ckpt"] = str(last)
        if not files:
            return
        import wandb

        for logger in wandb_loggers(trainer):
            run = logger.experiment
            artifact = wandb.Artifact(
                artifact_name(run.id),
                type="model",
                metadata={**metadata, "step": trainer.global_step, "epoch": trainer.current_epoch},
            )
            for name, path in files.items():
                artifact.add_file(path, name=name)
            aliases = ["latest", "best"] if "best.ckpt" in files else ["latest"]
            run.log_artifact(artifact, aliases=aliases)
            self.logged.append(artifact.name)


def take_log_model(cfg: Any) -> bool:
    """``logger.wandb.log_model`` of a run config, switched off in ``cfg`` for Lightning's own
    logger (which refuses it offline); :class:`WandbCheckpointArtifact` does the logging."""
    wandb_cfg = (cfg.get("logger") or {}).get("wandb") or {}
    wanted = bool(wandb_cfg.get("log_model", False))
    if wanted:
        wandb_cfg.log_model = False
    return wanted
