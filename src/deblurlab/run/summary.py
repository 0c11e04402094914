"""The end of a training run: final metrics into the W&B summary, and a few lines for the person."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from deblurlab.lit.callbacks import ImageGridLogger
from deblurlab.lit.linear_baseline import KEY as LINEAR_KEY
from deblurlab.report.stats import bootstrap_mean
from deblurlab.runfiles import RunFolder, TrainMetrics, read_per_image

# the test scores of both models, under the names metrics.json gives them
HEADLINE_KEYS = tuple(
    f"test/{m}_{w}" for w in ("last", "best") for m in ("psnr", "ssim", "ssim_matlab")
)


def log_final_metrics(trainer: pl.Trainer, metrics: TrainMetrics) -> None:
    """Put the final metrics (with the protocol that produced them) into the W&B run summary:
    every number as ``final/<name>``, and the two models' test scores under their own names
    (``test/psnr_last``, ..., ``test/psnr_best``, ...) with ``best_selected_on``."""
    flat = metrics.to_dict()
    final = {f"final/{k}": v for k, v in flat.items() if isinstance(v, int | float)}
    tested = {k: flat[k] for k in HEADLINE_KEYS if isinstance(flat.get(k), int | float)}
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(
                {
                    **final,
                    **tested,
                    "best_selected_on": metrics.best_selected_on
                    or f"none: {no_best_reason(metrics)}",
                    "protocol": metrics.protocol,
                    "num_params": metrics.num_params,
                }
            )


def no_best_reason(metrics: TrainMetrics) -> str:
    """Why a run has no best-by-validation model to test beside its final one."""
    if metrics.selected_on is None:
        return "train=false: the given checkpoint was tested"
    return "no checkpoint was chosen on validation (no validation ran, or no model_checkpoint)"


def tested_lines(metrics: TrainMetrics) -> list[str]:
    """The test lines of the summary: the final model (the headline), then the best one."""
    if not metrics.tested:
        return []

    def fmt(model: str) -> str:
        psnr, ssim = metrics.test_score("psnr", model), metrics.test_score("ssim", model)
        matlab = metrics.test_score("ssim_matlab", model)
        text = (
            f"PSNR {psnr:.2f} dB  SSIM {ssim:.4f}"
            if psnr is not None and ssim is not None
            else "n/a"
        )
        return text + (f" (MATLAB {matlab:.4f})" if matlab is not None else "")

    psnr_in, ssim_in = metrics.score("test/input_psnr"), metrics.score("test/input_ssim")
    lines = []
    if psnr_in is not None and ssim_in is not None:
        lines.append(f"  test        blurry input : PSNR {psnr_in:.2f} dB  SSIM {ssim_in:.4f}")
    lines.append(f"  test        final model  : {fmt('last')}   <- headline")
    if metrics.best_selected_on:
        lines.append(f"  test        best model   : {fmt('best')}   ({metrics.best_selected_on})")
    else:
        lines.append(f"  test        best model   : none ({no_best_reason(metrics)})")
    return lines


def gain_lines(metrics: TrainMetrics, output_dir: Path) -> list[str]:
    """The final model's gain over the blurry input, image by image (``per_image.csv``), with its
    95% bootstrap interval over the test images and how many improved; beside it the best single
    linear filter's gain on the same images when the run scored one."""
    if not RunFolder(output_dir).per_image_csv.is_file():
        return []
    rows = read_per_image(output_dir)
    if not rows:
        return []
    gain = bootstrap_mean([r.psnr - r.input_psnr for r in rows])
    improved = sum(r.psnr > r.input_psnr for r in rows)
    verdict = "beyond" if gain.clear else "within"
    lines = [
        f"  test        gain (final) : {gain.text()} dB over the blurry input (95% interval over "
        f"{gain.n} images, {verdict} the test set's noise); {improved} of {gain.n} images improved"
    ]
    linear, psnr_in = metrics.score(LINEAR_KEY), metrics.score("test/input_psnr")
    if linear is not None and psnr_in is not None:
        above = gain.mean - (linear - psnr_in)
        lines.append(
            f"  test        best single linear filter: {linear - psnr_in:+.2f} dB on the same "
            f"images (fitted to training pairs); the network is {abs(above):.2f} dB "
            f"{'above' if above >= 0 else 'below'} it"
        )
    return lines


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
        *tested_lines(metrics),
        *gain_lines(metrics, output_dir),
    ]
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
        lines.append(f"  best ckpt  : {metrics.best_ckpt}")
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            lines.append(f"  W&B run    : {Path(logger.experiment.dir).parent}")
    for callback in trainer.callbacks:
        if isinstance(callback, ImageGridLogger) and callback.last_path is not None:
            lines.append(f"  image grid : {callback.last_path}")
            if callback.zoom_path is not None:
                lines.append(f"  zoomed in  : {callback.zoom_path}")
    lines.append(f"  metrics    : {RunFolder(output_dir).metrics_json}")
    print("\n".join(lines), flush=True)
