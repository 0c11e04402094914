"""Score a checkpoint (or an official weight file) on a dataset under a protocol: what
``deblurlab-eval`` does.

Writes ``per_image.csv`` (name, psnr, ssim, input_psnr, input_ssim, seconds) and ``summary.json``
to its run folder, and on the test split the fixed test crops the training runs' test step saves
(``images/test_crops/``, :mod:`deblurlab.data.crops`, default settings: 2 images, 256 px); with a
logger (``logger=wandb``) also the summary and a table of sample images.
Seconds are the median per-image time of the restoration alone (after warm-up, device
synchronised, no file I/O, no scoring).
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig
from tqdm import tqdm

from deblurlab.checkpoint import file_digest, rebuild
from deblurlab.data.crops import TestCrops
from deblurlab.data.roots import check_data_roots
from deblurlab.errors import ConfigError
from deblurlab.inference.loading import load_restorer_from_config, trust_list
from deblurlab.lit.build import instantiate_group
from deblurlab.metrics import PROTOCOLS, SSIM_MATLAB, SSIM_VARIANTS, batch_scores, per_image_records
from deblurlab.quantize import to_uint8
from deblurlab.run.identity import apply_eval_identity
from deblurlab.runfiles import EvalSummary, ImageScores, write_per_image
from deblurlab.timing import timed

log = logging.getLogger("deblurlab")


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt_path`` on ``cfg.split`` of the data; write per_image.csv and summary.json.
    With ``sweep=DIR``: score every run of that sweep (:mod:`deblurlab.tasks.evaluate_sweep`)."""
    if cfg.split not in ("test", "val"):
        raise ConfigError(f"split must be 'test' or 'val', got {cfg.split!r}")
    if cfg.get("protocol") is not None and cfg.protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {cfg.protocol!r}")
    if cfg.get("sweep"):  # sweep= (empty) is unset, as null
        from deblurlab.tasks.evaluate_sweep import evaluate_sweep

        return evaluate_sweep(cfg, evaluate)
    check_data_roots(cfg.get("data"))  # before the checkpoint is read
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    # the checkpoint's data section is checked (and later built) only when no data= is given
    sections = ("model",) if cfg.get("data") else ("model", "data")
    restorer, loaded = load_restorer_from_config(cfg, sections)
    protocol, protocol_source = resolve_protocol(cfg.get("protocol"), loaded.run_cfg)
    model_cfg, device = loaded.model_cfg, restorer.device
    data_cfg = cfg.get("data") or (loaded.run_cfg.get("data") if loaded.run_cfg else None)
    if data_cfg is None:
        raise ConfigError("no dataset: pass data=<name> (and data.root=...)")
    if cfg.get("data"):
        datamodule = instantiate(data_cfg)
    else:
        check_data_roots(data_cfg, origin=" (the checkpoint's data; pass data=... data.root=...)")
        # built from the checkpoint: through the registry only
        datamodule = rebuild(data_cfg, "data", loaded.checkpoint, trust_list(cfg))
    if cfg.split == "val":
        datamodule.setup("validate")
        loader = datamodule.val_dataloader()
    else:
        datamodule.setup("test")
        loader = datamodule.test_dataloader()

    records: list[dict[str, Any]] = []
    samples: list[list[Any]] = []
    crops = TestCrops() if cfg.split == "test" else None
    warmed_up = False
    progress = tqdm(total=len(loader.dataset), desc=f"eval ({protocol})", unit="img")
    for batch in loader:
        blur, sharp = batch["blur"].to(device), batch["sharp"].to(device)
        if not warmed_up:  # first calls pay for allocation, kernel selection, thread start-up
            for _ in range(int(cfg.get("warmup", 1))):
                restorer(blur)
            warmed_up = True
        run = timed(lambda b=blur: restorer(b), device)
        pred = run.result
        scores = batch_scores(pred, sharp, protocol)
        inputs = batch_scores(blur, sharp, protocol)
        records += per_image_records(batch["name"], scores, inputs, run.elapsed)
        if crops is not None:
            crops.add(batch["name"], blur, pred, sharp)
        for i, name in enumerate(batch["name"]):
            if len(samples) < int(cfg.get("log_images", 4)):
                samples.append(
                    [name, records[-1]["psnr"], records[-1]["ssim"]]
                    + [to_uint8(t[i].permute(1, 2, 0)) for t in (blur, pred, sharp)]
                )
        progress.update(len(batch["name"]))
    progress.close()
    if not records:
        raise ConfigError(f"no images in the {cfg.split} split of data={data_cfg.get('_target_')}")
    rows = [ImageScores(**record) for record in records]
    write_per_image(output_dir, rows)

    def mean(key: str) -> float:
        return statistics.fmean(getattr(row, key) for row in rows)

    matlab = rows[0].ssim_matlab is not None
    summary = EvalSummary(
        protocol=protocol,
        protocol_description=PROTOCOLS[protocol],
        protocol_source=protocol_source,
        ssim_variant=SSIM_VARIANTS[protocol],
        model=model_cfg.get("name"),
        model_source="command line" if cfg.get("model") else "checkpoint",
        checkpoint=str(loaded.checkpoint),
        checkpoint_sha256=file_digest(loaded.checkpoint),
        split=cfg.split,
        **restorer.settings(),
        device=str(device),
        num_images=len(rows),
        psnr=mean("psnr"),
        ssim=mean("ssim"),
        input_psnr=mean("input_psnr"),
        input_ssim=mean("input_ssim"),
        ssim_matlab=mean("ssim_matlab") if matlab else None,
        input_ssim_matlab=mean("input_ssim_matlab") if matlab else None,
        ssim_matlab_variant=SSIM_MATLAB if matlab else None,
        median_seconds=statistics.median(row.seconds for row in rows),
        warmup=int(cfg.get("warmup", 1)),
    )
    summary.write(output_dir)
    if crops is not None:
        crops.write(output_dir)
    log_to_loggers(cfg, summary, samples, apply_eval_identity(cfg, loaded.run_cfg, summary))
    print(
        f"{summary.model} ({summary.model_source}), ensemble {summary.ensemble or 'none'}, "
        f"on {len(rows)} {cfg.split} images ({protocol} protocol, from {protocol_source}): "
        f"PSNR {summary.psnr:.2f} dB (input {summary.input_psnr:.2f}), "
        f"SSIM {summary.ssim:.4f} (input {summary.input_ssim:.4f}), "
        f"{summary.median_seconds:.3g} s/image -> {output_dir}",
        flush=True,
    )
    return summary.to_dict()


def resolve_protocol(requested: str | None, run_cfg: DictConfig | None) -> tuple[str, str]:
    """The protocol to score with and where it came from: the command line's, else the one the
    checkpoint was trained and validated under, else ``gopro``."""
    if requested is not None:
        return str(requested), "command line"
    if run_cfg is not None and run_cfg.get("protocol") in PROTOCOLS:
        return str(run_cfg.protocol), "checkpoint"
    return "gopro", "default"


def log_to_loggers(
    cfg: DictConfig,
    summary: EvalSummary,
    samples: list[list[Any]],
    run_config: dict[str, Any] | None = None,
) -> None:
    """Send the summary numbers (and, to W&B, a table of sample images) to the configured loggers,
    with ``run_config`` (the training run's config and the evaluation settings) as their config."""
    loggers = instantiate_group(cfg.get("logger"))
    if not loggers:
        return
    from pytorch_lightning.loggers import WandbLogger

    flat = summary.to_dict()
    numbers = {
        f"eval/{k}": v
        for k, v in flat.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    for logger in loggers:
        logger.log_hyperparams(
            {
                **{k: v for k, v in flat.items() if f"eval/{k}" not in numbers},
                **(run_config or {}),
            }
        )
        artifact = (run_config or {}).get("train_artifact")
        if isinstance(logger, WandbLogger) and artifact and not logger.experiment.settings._offline:
            # links the eval run to the training run's checkpoint artifact (offline runs
            # cannot: there the artifact's name is in the config)
            logger.experiment.use_artifact(artifact)
        logger.log_metrics(numbers)
        if isinstance(logger, WandbLogger) and samples:
            import wandb

            logger.log_table(
                key="eval/samples",
                columns=["name", "psnr", "ssim", "blurry", "output", "sharp"],
                data=[row[:3] + [wandb.Image(img) for img in row[3:]] for row in samples],
            )
        logger.finalize("success")
