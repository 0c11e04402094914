"""The end of a training run: final metrics into the W&B summary, and a few lines for the person."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from deblurlab.lit.callbacks import ImageGridLogger
from deblurlab.runfiles import RunFolder, TrainMetrics


def log_final_metrics(trainer: pl.Trainer, metrics: TrainMetrics) -> None:
    """Put the final metrics (with the protocol that produced them) into the W&B run summary."""
    flat = metrics.to_dict()
    final = {f"final/{k}": v for k, v in flat.items() if isinstance(v, int | float)}
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(
                {**final, "protocol": metrics.protocol, "num_params": metrics.num_params}
            )


def print_summary(metrics: TrainMetrics, trainer: pl.Trainer, output_dir: Path) -> None:
    """A few lines a person reads at the end of a run: the gain, and where everything went."""

    def fmt(key: str, digits: int) -> str:
        value = metrics.score(key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    lines = [
        "",
        f"deblurlab summary ({metrics.protocol} protocol, {metrics.model})",
        f"  validation  blurry input : PSNR {fmt('input/psnr', 2)} dB  SSIM {fmt('input/ssim', 4)}",
        f"  validation  output (best): PSNR {fmt('val/psnr', 2)} dB  SSIM {fmt('val/ssim', 4)}",
    ]
    if "test/psnr" in metrics.scores:
        lines.append(
            f"  test        input -> output: PSNR {fmt('test/input_psnr', 2)} -> "
            f"{fmt('test/psnr', 2)} dB  SSIM {fmt('test/input_ssim', 4)} -> {fmt('test/ssim', 4)}"
        )
    if metrics.num_params and metrics.test_macs is not None and metrics.macs_size:
        height, width = metrics.macs_size
        lines.append(
            f"  network     : {metrics.num_params / 1e6:.2f} M parameters, "
            f"{metrics.test_macs / 1e9:.1f} G MACs at {height}x{width}"
        )
    runtime = metrics.score("test/runtime_s")
    if runtime is not None:
        lines.append(
            f"  runtime     : {runtime:.4f} s per test image "
            f"(median, {metrics.scores.get('test/device')})"
        )
    if metrics.best_ckpt:
        lines.append(f"  checkpoint : {metrics.best_ckpt}")
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            lines.append(f"  W&B run    : {Path(logger.experiment.dir).parent}")
    for callback in trainer.callbacks:
        if isinstance(callback, ImageGridLogger) and callback.last_path is not None:
            lines.append(f"  image grid : {callback.last_path}")
    lines.append(f"  metrics    : {RunFolder(output_dir).metrics_json}")
    print("\n".join(lines), flush=True)
