"""Train (and by default test) one configuration: what ``deblurlab-train`` does.

Writes into its run folder: checkpoints/, metrics.json (final metrics with the protocol, the run's
name and group, parameters, MACs and the median test runtime), run.json (name, group, tags, W&B id),
the CSV log and the W&B offline run.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only

from deblurlab.atomic import remove_partial_files
from deblurlab.data.roots import check_data_roots
from deblurlab.lit.build import build_module, build_trainer, warn_unregistered
from deblurlab.lit.checkpointing import EmbedConfig
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.lit.wandb_callbacks import (
    WandbBestMetrics,
    WandbCheckpointArtifact,
    WandbTestTable,
    take_log_model,
)
from deblurlab.models.macs import REFERENCE_SIZE, count_macs
from deblurlab.run.csv_log import keep_earlier_csv_log, remember_csv_columns
from deblurlab.run.identity import apply_identity, load_or_create_identity
from deblurlab.run.preflight import (
    check_schedule,
    check_start_checkpoint,
    check_train_config,
    check_writable,
    claim_run_folder,
    finished_run,
)
from deblurlab.run.resume import continue_in_place
from deblurlab.run.summary import log_final_metrics, print_summary
from deblurlab.runfiles import TrainMetrics

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
    check_data_roots(cfg.get("data"))  # before the run folder is claimed or anything is built
    output_dir = Path(cfg.paths.output_dir)
    rank_zero = rank_zero_only.rank == 0
    # a sweep run again or a requeued job finds its run here: skip, continue or refuse it
    in_place = continue_in_place(cfg, output_dir, announce=rank_zero)
    if in_place.finished is not None:
        return in_place.finished
    check_writable(output_dir)
    if rank_zero and not cfg.get("resume") and not in_place.restart:
        claim_run_folder(output_dir)
    remove_partial_files(output_dir / "checkpoints")  # left by a write that was killed
    pl.seed_everything(cfg.seed, workers=True)
    identity = load_or_create_identity(cfg, output_dir, write=rank_zero)
    apply_identity(cfg, identity)
    if cfg.get("resume"):
        keep_earlier_csv_log(cfg, output_dir)

    datamodule = instantiate(cfg.data)
    if rank_zero:
        warn_unregistered(cfg)  # the run's checkpoints would need trust= to load
    module = build_module(cfg, DeblurLitModule)
    check_schedule(cfg, module)
    start = check_start_checkpoint(cfg.ckpt_path, module) if cfg.get("ckpt_path") else None
    if start is not None and cfg.get("resume"):
        done = finished_run(start, cfg)
        if done is not None:
            print(
                f"run {output_dir} {done}: nothing to do (extend the schedule to continue, "
                "e.g. schedule.max_epochs=<more>)",
                flush=True,
            )
            return {"finished": True}
    resolved = OmegaConf.to_container(cfg, resolve=True)
    wandb_extras = [
        WandbBestMetrics(),
        WandbTestTable(),
        WandbCheckpointArtifact(take_log_model(cfg)),
    ]
    trainer = build_trainer(cfg, [EmbedConfig(resolved), *wandb_extras])
    cost = model_cost(module) if rank_zero else {}
    log.info("model %s: %s parameters", cfg.model.name, f"{cost.get('num_params', 0):,}")
    for logger in trainer.loggers:
        logger.log_hyperparams({**resolved, **cost})

    metrics: dict[str, Any] = {}
    best_path: str | None = None
    if cfg.train:
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True
        )
        metrics.update(_scalars(trainer.callback_metrics))
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
            best_path = checkpoint.best_model_path
            # the pair (PSNR, SSIM) of the best checkpoint on the fixed validation set
            remember_csv_columns(trainer)
            validated = trainer.validate(
                module, datamodule=datamodule, ckpt_path=best_path, weights_only=True
            )
            metrics.update(_scalars(validated[0]) if validated else {})
    if cfg.test:
        remember_csv_columns(trainer)
        tested = trainer.test(module, datamodule=datamodule, ckpt_path=best_path, weights_only=True)
        metrics.update(_scalars(tested[0]) if tested else {})
        metrics["test/runtime_s"] = median_test_seconds(module)
        metrics["test/device"] = device_name(module.device)

    final = TrainMetrics(
        scores=metrics,
        protocol=cfg.get("protocol", "gopro"),
        # the images the best checkpoint was chosen on (test: no validation split, as the papers' code)
        selected_on=datamodule.selected_on() if cfg.train else None,
        model=cfg.model.name,
        name=identity.name,
        group=identity.group,
        best_ckpt=best_path,
        **cost,
    )
    if trainer.is_global_zero:
        final.write(output_dir)
        log_final_metrics(trainer, final)
        print_summary(final, trainer, output_dir)
    return final.to_dict()
