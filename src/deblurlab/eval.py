"""deblurlab-eval: score a checkpoint (or an official weight file) on a dataset under a protocol.

    deblurlab-eval ckpt_path=experiments/runs/train/.../checkpoints/best.ckpt
    deblurlab-eval ckpt_path=best.ckpt data=hide data.root=/data/HIDE
    deblurlab-eval ckpt_path=MIMO-UNetPlus.pkl model=mimo_unet_pp data=gopro data.root=/data/GOPRO

Writes ``per_image.csv`` (name, psnr, ssim, seconds, ...) and ``summary.json`` to its run folder.
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
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import ConfigError
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.utils.build import build_eval_network
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


def resolve_run_config(cfg: DictConfig) -> tuple[DictConfig, DictConfig]:
    """The model and data configs to evaluate: the command line's, else the checkpoint's."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    run_cfg = embedded_config(checkpoint, cfg.ckpt_path) if is_lightning_checkpoint(checkpoint) else None
    model_cfg = cfg.get("model") or (run_cfg.model if run_cfg is not None else None)
    data_cfg = cfg.get("data") or (run_cfg.data if run_cfg is not None else None)
    if model_cfg is None:
        raise ConfigError(f"{cfg.ckpt_path}: not a deblurlab checkpoint; pass model=<name> too")
    if data_cfg is None:
        raise ConfigError("no dataset: pass data=<name> (and data.root=...)")
    return model_cfg, data_cfg


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt_path`` on ``cfg.split`` of the data; write per_image.csv and summary.json."""
    from deblurlab.models import load_weights

    if cfg.split not in ("test", "val"):
        raise ConfigError(f"split must be 'test' or 'val', got {cfg.split!r}")
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_cfg, data_cfg = resolve_run_config(cfg)
    net = instantiate(model_cfg.net)
    load_weights(net, cfg.ckpt_path)
    net.eval()
    ensemble = cfg.get("ensemble") or model_cfg.get("ensemble")
    module = DeblurLitModule(
        net=net, protocol=cfg.protocol, eval_net=build_eval_network(net, ensemble)
    )
    datamodule = instantiate(data_cfg)
    trainer = instantiate(cfg.trainer)
    if cfg.split == "val":
        datamodule.setup("validate")
        trainer.test(module, dataloaders=datamodule.val_dataloader(), verbose=False)
    else:
        trainer.test(module, datamodule=datamodule, verbose=False)

    records = module.test_records
    if not records:
        raise ConfigError(f"no images in the {cfg.split} split of data={model_cfg.get('name')}")
    with open(output_dir / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)

    def mean(key: str) -> float:
        return statistics.fmean(r[key] for r in records)

    summary = {
        "protocol": cfg.protocol,
        "model": model_cfg.get("name"),
        "checkpoint": str(cfg.ckpt_path),
        "checkpoint_sha256": file_digest(cfg.ckpt_path),
        "split": cfg.split,
        "ensemble": ensemble,
        "num_images": len(records),
        "psnr": mean("psnr"),
        "ssim": mean("ssim"),
        "input_psnr": mean("input_psnr"),
        "input_ssim": mean("input_ssim"),
        "median_seconds": statistics.median(r["seconds"] for r in records),
    }
    with open(output_dir / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    print(
        f"{summary['model']} on {len(records)} {cfg.split} images ({cfg.protocol} protocol): "
        f"PSNR {summary['psnr']:.2f} dB (input {summary['input_psnr']:.2f}), "
        f"SSIM {summary['ssim']:.4f} (input {summary['input_ssim']:.4f}) -> {output_dir}",
        flush=True,
    )
    return summary


register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="eval")
def main(cfg: DictConfig) -> None:
    """Console entry point."""
    OmegaConf.set_struct(cfg, False)
    run_task(evaluate, cfg)


if __name__ == "__main__":
    main()
