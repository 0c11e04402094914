"""The end of a training run: final metrics into the W&B summary, and a few lines for the person."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from deblurlab.lit.callbacks import ImageGridLogger


def log_final_metrics(trainer: pl.Trainer, metrics: dict[str, Any]) -> None:
    """Put the final metrics (with the protocol that produced them) into the W&B run summary."""
    final = {f"final/{k}": v for k, v in metrics.items() if isinstance(v, int | float)}
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(
                {**final, "protocol": metrics["protocol"], "num_params": metrics.get("num_params")}
            )


def print_summary(metrics: dict[str, Any], trainer: pl.Trainer, output_dir: Path) -> None:
    """A few lines a person reads at the end of a run: the gain, and where everything went."""

    def fmt(key: str, digits: int) -> str:
        value = metrics.get(key)
        return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"

    lines = [
        "",
        f"deblurlab summary ({metrics['protocol']} protocol, {metrics['model']})",
        f"  validation  blurry input : PSNR {fmt('input/psnr', 2)} dB  SSIM {fmt('input/ssim', 4)}",
        f"  validation  output (best): PSNR {fmt('val/psnr', 2)} dB  SSIM {fmt('val/ssim', 4)}",
    ]
    if "test/psnr" in metrics:
        lines.append(
            f"  test        input -> output: PSNR {fmt('test/input_psnr', 2)} -> "
            f"{fmt('test/psnr', 2)} dB  SSIM {fmt('test/input_ssim', 4)} -> {fmt('test/ssim', 4)}"
        )
    if metrics.get("num_params"):
        lines.append(
            f"  network     : {metrics['num_params'] / 1e6:.2f} M parameters, "
            f"{metrics['test_macs'] / 1e9:.1f} G MACs at {metrics['macs_size'][0]}x{metrics['macs_size'][1]}"
        )
    if metrics.get("test/runtime_s") is not None:
        lines.append(
            f"  runtime     : {metrics['test/runtime_s']:.4f} s per test image "
            f"(median, {metrics['test/device']})"
        )
    if metrics.get("best_ckpt"):
        lines.append(f"  checkpoint : {metrics['best_ckpt']}")
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            lines.append(f"  W&B run    : {Path(logger.experiment.dir).parent}")
    for callback in trainer.callbacks:
        if isinstance(callback, ImageGridLogger) and callback.last_path is not None:
            lines.append(f"  image grid : {callback.last_path}")
    lines.append(f"  metrics    : {output_dir / 'metrics.json'}")
    print("\n".join(lines), flush=True)
