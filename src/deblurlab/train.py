"""deblurlab-train: train (and by default test) one configuration; ``-m`` for sweeps.

    deblurlab-train experiment=quickstart
    deblurlab-train model=mimo_unet_plus data=gopro data.root=/data/GOPRO_Large trainer=gpu
    deblurlab-train -m experiment=ablation_table3 debug=smoke
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger

from deblurlab.lit.callbacks import EmbedConfig, ImageGridLogger
from deblurlab.utils.build import build_module, build_trainer
from deblurlab.utils.config import check_train_config, config_dir, register_resolvers
from deblurlab.utils.task import run_task

log = logging.getLogger("deblurlab")


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if getattr(v, "numel", lambda: 1)() == 1}


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit ``cfg``'s model on its data, validate the best checkpoint, test it, write metrics.json.

    Returns the final metrics (also written to ``<output_dir>/metrics.json``).
    """
    check_train_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    trainer = build_trainer(cfg, [EmbedConfig(resolved)])
    num_params = sum(p.numel() for p in module.net.parameters())
    log.info("model %s: %s parameters", cfg.model.name, f"{num_params:,}")
    for logger in trainer.loggers:
        logger.log_hyperparams({**resolved, "num_params": num_params})

    metrics: dict[str, Any] = {}
    best_path: str | None = None
    if cfg.train:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(_scalars(trainer.callback_metrics))
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
            best_path = checkpoint.best_model_path
            # the pair (PSNR, SSIM) of the best checkpoint on the fixed validation set
            validated = trainer.validate(module, datamodule=datamodule, ckpt_path=best_path)
            metrics.update(_scalars(validated[0]) if validated else {})
    if cfg.test:
        tested = trainer.test(module, datamodule=datamodule, ckpt_path=best_path)
        metrics.update(_scalars(tested[0]) if tested else {})

    metrics["protocol"] = cfg.get("protocol", "gopro")
    metrics["model"] = cfg.model.name
    metrics["num_params"] = num_params
    metrics["best_ckpt"] = best_path
    if trainer.is_global_zero:
        with open(output_dir / "metrics.json", "w") as f:
            json.dump(metrics, f, indent=2, allow_nan=True)
        _print_summary(metrics, trainer, output_dir)
    return metrics


def _print_summary(metrics: dict[str, Any], trainer: pl.Trainer, output_dir: Path) -> None:
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


register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Console entry point; returns val/psnr_best for sweepers (e.g. Optuna)."""
    metrics = run_task(train, cfg)
    return metrics.get("val/psnr_best")


if __name__ == "__main__":
    main()
