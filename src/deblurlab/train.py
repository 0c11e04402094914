"""deblurlab-train: train (and by default test) one configuration; ``-m`` for sweeps.

    deblurlab-train experiment=quickstart
    deblurlab-train model=mimo_unet_plus data=gopro data.root=/data/GOPRO_Large trainer=gpu
    deblurlab-train -m experiment=ablation_table3 data.root=/data/GOPRO_Large debug=smoke
    deblurlab-train resume=experiments/runs/train/2026-01-01/12-00-00-000000_123

Writes into its run folder: checkpoints/, metrics.json (final metrics with the protocol, the run's
name and group, parameters, MACs and the median test runtime), run.json (name, group, tags, W&B id),
the CSV log and the W&B offline run.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from deblurlab.errors import DeblurlabError
from deblurlab.lit.callbacks import EmbedConfig, ImageGridLogger
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.utils.build import build_module, build_trainer
from deblurlab.utils.config import check_train_config, config_dir, register_resolvers
from deblurlab.utils.macs import REFERENCE_SIZE, count_macs
from deblurlab.utils.resume import keep_earlier_csv_log, resume_argv
from deblurlab.utils.run_info import apply_identity, load_or_create_identity
from deblurlab.utils.task import EXIT_USER_ERROR, run_task

log = logging.getLogger("deblurlab")


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if getattr(v, "numel", lambda: 1)() == 1}


def model_cost(module: DeblurLitModule) -> dict[str, Any]:
    """Parameters and multiply-accumulates (at the reference 256 x 256) of the trained network,
    and of the test-time network when a self-ensemble wraps it (MIMO-UNet++)."""
    cost: dict[str, Any] = {
        "num_params": sum(p.numel() for p in module.net.parameters()),
        "macs": count_macs(module.net),
        "macs_size": list(REFERENCE_SIZE),
    }
    cost["test_macs"] = count_macs(module.eval_net) if module.eval_net is not None else cost["macs"]
    return cost


def median_test_seconds(module: DeblurLitModule) -> float | None:
    """Median seconds per test image (the network call only, device synchronised)."""
    seconds = [r["seconds"] for r in module.test_records]
    return statistics.median(seconds) if seconds else None


def device_name(device: torch.device) -> str:
    """``cpu``, or the GPU's model name (runtimes are only comparable on the same device)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit ``cfg``'s model on its data, validate the best checkpoint, test it, write metrics.json.

    Returns the final metrics (also written to ``<output_dir>/metrics.json``), with the protocol,
    the run's name/group, parameters, MACs and the median test runtime per image.
    """
    check_train_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    rank_zero = rank_zero_only.rank == 0
    identity = load_or_create_identity(cfg, output_dir, write=rank_zero)
    apply_identity(cfg, identity)
    if cfg.get("resume"):
        keep_earlier_csv_log(cfg, output_dir)

    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    trainer = build_trainer(cfg, [EmbedConfig(resolved)])
    cost = model_cost(module) if rank_zero else {}
    log.info("model %s: %s parameters", cfg.model.name, f"{cost.get('num_params', 0):,}")
    for logger in trainer.loggers:
        logger.log_hyperparams({**resolved, **cost})

    metrics: dict[str, Any] = {}
    best_path: str | None = None
    if cfg.train:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(_scalars(trainer.callback_metrics))
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
            best_path = checkpoint.best_model_path
            # the pair (PSNR, SSIM) of the best checkpoint on the fixed validation set
            _remember_csv_columns(trainer)
            validated = trainer.validate(module, datamodule=datamodule, ckpt_path=best_path)
            metrics.update(_scalars(validated[0]) if validated else {})
    if cfg.test:
        _remember_csv_columns(trainer)
        tested = trainer.test(module, datamodule=datamodule, ckpt_path=best_path)
        metrics.update(_scalars(tested[0]) if tested else {})
        metrics["test/runtime_s"] = median_test_seconds(module)
        metrics["test/device"] = device_name(module.device)

    metrics["protocol"] = cfg.get("protocol", "gopro")
    metrics["model"] = cfg.model.name
    metrics.update(name=identity["name"], group=identity["group"], **cost)
    metrics["best_ckpt"] = best_path
    if trainer.is_global_zero:
        with open(output_dir / "metrics.json", "w") as f:
            json.dump(metrics, f, indent=2, allow_nan=True)
        _log_final(trainer, metrics)
        _print_summary(metrics, trainer, output_dir)
    return metrics


def _remember_csv_columns(trainer: pl.Trainer) -> None:
    """Give the CSV logger the columns already in its file before the next trainer call.

    With a spawning strategy (trainer=ddp_cpu) each trainer call runs in new processes that get
    this process's logger, which never saw the columns the previous call wrote; Lightning's CSV
    writer would then rewrite the file with the new columns only and fail on the old rows.
    """
    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger) and logger.experiment is not None:
            writer = logger.experiment
            if os.path.isfile(writer.metrics_file_path):
                with open(writer.metrics_file_path, newline="") as f:
                    header = next(csv.reader(f), [])
                writer.metrics_keys = sorted(set(writer.metrics_keys) | set(header))


def _log_final(trainer: pl.Trainer, metrics: dict[str, Any]) -> None:
    """Put the final metrics (with the protocol that produced them) into the W&B run summary."""
    final = {f"final/{k}": v for k, v in metrics.items() if isinstance(v, int | float)}
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(
                {**final, "protocol": metrics["protocol"], "num_params": metrics.get("num_params")}
            )


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


register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    metrics = run_task(train, cfg)
    return metrics.get("val/psnr_best")


def main() -> float | None:
    """Console entry point; returns val/psnr_best for sweepers (e.g. Optuna).

    ``resume=<run dir>`` is read before Hydra composes anything (see deblurlab.utils.resume).
    """
    try:
        sys.argv[1:] = resume_argv(sys.argv[1:])
    except DeblurlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    return _hydra_main()


if __name__ == "__main__":
    main()
