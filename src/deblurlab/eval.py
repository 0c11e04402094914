"""deblurlab-eval: score a checkpoint (or an official weight file) on a dataset under a protocol.

    deblurlab-eval ckpt_path=experiments/runs/train/.../checkpoints/best.ckpt
    deblurlab-eval ckpt_path=best.ckpt data=hide data.root=/data/HIDE protocol=gopro
    deblurlab-eval ckpt_path=best.ckpt data=realblur_j data.root=/data/RealBlur protocol=realblur
    deblurlab-eval ckpt_path=MIMO-UNetPlus.pkl model=mimo_unet_pp data=gopro data.root=/data/GOPRO
    deblurlab-eval ckpt_path=best.ckpt tile=512 overlap=64 precision=bf16 ensemble=x8

Writes ``per_image.csv`` (name, psnr, ssim, input_psnr, input_ssim, seconds) and ``summary.json``
to its run folder; with a logger (``logger=wandb``) also the summary and a table of sample images.
Seconds are the median per-image time of the restoration alone (after warm-up, device
synchronised, no file I/O, no scoring).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import statistics
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from tqdm import tqdm

from deblurlab.errors import ConfigError
from deblurlab.inference import Restorer
from deblurlab.lit.deblur_module import timed
from deblurlab.metrics import PROTOCOLS, SSIM_VARIANTS, batch_scores, per_image_records
from deblurlab.utils.build import instantiate_group
from deblurlab.utils.ckpt import embedded_config, is_lightning_checkpoint, read_checkpoint
from deblurlab.utils.config import config_dir, register_resolvers
from deblurlab.utils.task import run_task

log = logging.getLogger("deblurlab")


def file_digest(path: str | Path, length: int = 12) -> str:
    """Short SHA-256 of a file, to tell checkpoints apart in summaries."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def resolve_run_config(cfg: DictConfig, need_data: bool = True) -> tuple[DictConfig, DictConfig]:
    """The model and data configs to use: the command line's, else the checkpoint's."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    run_cfg = (
        embedded_config(checkpoint, cfg.ckpt_path) if is_lightning_checkpoint(checkpoint) else None
    )
    model_cfg = cfg.get("model") or (run_cfg.model if run_cfg is not None else None)
    data_cfg = cfg.get("data") or (run_cfg.data if run_cfg is not None else None)
    if model_cfg is None:
        raise ConfigError(f"{cfg.ckpt_path}: not a deblurlab checkpoint; pass model=<name> too")
    if data_cfg is None and need_data:
        raise ConfigError("no dataset: pass data=<name> (and data.root=...)")
    return model_cfg, data_cfg


def pick_device(name: str | None) -> torch.device:
    """``auto`` (a GPU when there is one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    name = str(name or "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device must be auto, cpu or cuda[:N], got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name}: no CUDA GPU is available here")
    return device


def load_network(cfg: DictConfig, model_cfg: DictConfig, device: torch.device) -> nn.Module:
    """Build ``model_cfg.net`` and load the weights of ``cfg.ckpt_path`` into it (eval mode)."""
    from deblurlab.models import load_weights

    net = instantiate(model_cfg.net)
    load_weights(net, cfg.ckpt_path)
    return net.to(device).eval()


def build_restorer(net: nn.Module, cfg: DictConfig, model_cfg: DictConfig) -> Restorer:
    """The Restorer of the config's inference settings (``ensemble``, ``tile``, ``overlap``,
    ``precision``); ``ensemble: null`` takes the model's (e.g. rot4 for mimo_unet_pp), ``none``
    turns it off."""
    ensemble = cfg.get("ensemble")
    if ensemble is None:
        ensemble = model_cfg.get("ensemble")
    if ensemble == "none":
        ensemble = None
    try:
        return Restorer(
            net,
            precision=cfg.get("precision", "fp32"),
            tile=cfg.get("tile"),
            overlap=cfg.get("overlap", 32),
            ensemble=ensemble,
        )
    except ValueError as exc:  # the messages name the config keys
        raise ConfigError(str(exc)) from None


def _hwc_uint8(x: torch.Tensor) -> np.ndarray:
    """3 x H x W float tensor in [0, 1] -> H x W x 3 uint8 (for image logging)."""
    return (x.detach().float().clamp(0, 1) * 255.0 + 0.5).byte().permute(1, 2, 0).cpu().numpy()


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt_path`` on ``cfg.split`` of the data; write per_image.csv and summary.json."""
    if cfg.split not in ("test", "val"):
        raise ConfigError(f"split must be 'test' or 'val', got {cfg.split!r}")
    if cfg.protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {cfg.protocol!r}")
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_cfg, data_cfg = resolve_run_config(cfg)
    device = pick_device(cfg.get("device"))
    restorer = build_restorer(load_network(cfg, model_cfg, device), cfg, model_cfg)
    datamodule = instantiate(data_cfg)
    if cfg.split == "val":
        datamodule.setup("validate")
        loader = datamodule.val_dataloader()
    else:
        datamodule.setup("test")
        loader = datamodule.test_dataloader()

    records: list[dict[str, Any]] = []
    samples: list[list[Any]] = []
    warmed_up = False
    progress = tqdm(total=len(loader.dataset), desc=f"eval ({cfg.protocol})", unit="img")
    for batch in loader:
        blur, sharp = batch["blur"].to(device), batch["sharp"].to(device)
        if not warmed_up:  # first calls pay for allocation, kernel selection, thread start-up
            for _ in range(int(cfg.get("warmup", 1))):
                restorer(blur)
            warmed_up = True
        run = timed(lambda b=blur: restorer(b), device)
        pred = run.result
        scores = batch_scores(pred, sharp, cfg.protocol)
        inputs = batch_scores(blur, sharp, cfg.protocol)
        records += per_image_records(batch["name"], scores, inputs, run.elapsed)
        for i, name in enumerate(batch["name"]):
            if len(samples) < int(cfg.get("log_images", 4)):
                samples.append(
                    [name, records[-1]["psnr"], records[-1]["ssim"]]
                    + [_hwc_uint8(t[i]) for t in (blur, pred, sharp)]
                )
        progress.update(len(batch["name"]))
    progress.close()
    if not records:
        raise ConfigError(f"no images in the {cfg.split} split of data={data_cfg.get('_target_')}")
    with open(output_dir / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)

    def mean(key: str) -> float:
        return statistics.fmean(r[key] for r in records)

    summary = {
        "protocol": cfg.protocol,
        "protocol_description": PROTOCOLS[cfg.protocol],
        "ssim_variant": SSIM_VARIANTS[cfg.protocol],
        "model": model_cfg.get("name"),
        "checkpoint": str(cfg.ckpt_path),
        "checkpoint_sha256": file_digest(cfg.ckpt_path),
        "split": cfg.split,
        **restorer.settings(),
        "device": str(device),
        "num_images": len(records),
        "psnr": mean("psnr"),
        "ssim": mean("ssim"),
        "input_psnr": mean("input_psnr"),
        "input_ssim": mean("input_ssim"),
        "median_seconds": statistics.median(r["seconds"] for r in records),
        "warmup": int(cfg.get("warmup", 1)),
    }
    with open(output_dir / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    log_to_loggers(cfg, summary, samples)
    print(
        f"{summary['model']} on {len(records)} {cfg.split} images ({cfg.protocol} protocol): "
        f"PSNR {summary['psnr']:.2f} dB (input {summary['input_psnr']:.2f}), "
        f"SSIM {summary['ssim']:.4f} (input {summary['input_ssim']:.4f}), "
        f"{summary['median_seconds']:.3g} s/image -> {output_dir}",
        flush=True,
    )
    return summary


def log_to_loggers(cfg: DictConfig, summary: dict[str, Any], samples: list[list[Any]]) -> None:
    """Send the summary numbers (and, to W&B, a table of sample images) to the configured loggers."""
    loggers = instantiate_group(cfg.get("logger"))
    if not loggers:
        return
    from pytorch_lightning.loggers import WandbLogger

    numbers = {
        f"eval/{k}": v
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    for logger in loggers:
        logger.log_hyperparams({k: v for k, v in summary.items() if f"eval/{k}" not in numbers})
        logger.log_metrics(numbers)
        if isinstance(logger, WandbLogger) and samples:
            import wandb

            logger.log_table(
                key="eval/samples",
                columns=["name", "psnr", "ssim", "blurry", "output", "sharp"],
                data=[row[:3] + [wandb.Image(img) for img in row[3:]] for row in samples],
            )
        logger.finalize("success")


register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
def main(cfg: DictConfig) -> None:
    """Console entry point."""
    OmegaConf.set_struct(cfg, False)
    run_task(evaluate, cfg)


if __name__ == "__main__":
    main()
