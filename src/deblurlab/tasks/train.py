"""Train (and by default test) one configuration: what ``deblurlab-train`` does.

Writes into its run folder: checkpoints/, metrics.json (final metrics with the protocol, the run's
name and group, parameters, MACs and the median test runtime), run.json (name, group, tags, W&B id),
the CSV log and the W&B offline run.
"""

from __future__ import annotations

import logging
import statistics
import warnings
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
from deblurlab.lit.build import build_module, build_trainer, resolve_speed, warn_unregistered
from deblurlab.lit.checkpointing import EmbedConfig
from deblurlab.lit.deblur_module import SCORE_KEYS, DeblurLitModule
from deblurlab.lit.preemption import requeue_count
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
from deblurlab.runfiles import ImageScores, TrainMetrics, write_per_image

log = logging.getLogger("deblurlab")


# Lightning warns that a checkpoint from the middle of an epoch cannot be continued exactly unless
# the loader itself keeps state; a DataModule with ``resume_at`` skips the batches already consumed
# itself, and the continuation is exact (tests/e2e/cli/test_resume_exact.py), so the warning would
# be false there
MID_EPOCH_RESUME_WARNING = "You're resuming from a checkpoint that ended before the epoch ended"


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


def _copy_state(module: DeblurLitModule) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def run_test(
    trainer: pl.Trainer,
    module: DeblurLitModule,
    datamodule: pl.LightningDataModule,
    ckpt_path: str | None,
    model: str,
) -> dict[str, float]:
    """Test ``ckpt_path`` (None: the module's weights as they are) and return its scores, each
    ``test/<score>`` named ``test/<score>_<model>`` (``last`` or ``best``); the blurry input's
    scores and the image count, the same for both models, keep their names."""
    remember_csv_columns(trainer)
    tested = trainer.test(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    scores = _scalars(tested[0]) if tested else {}
    own = {f"test/{key}" for key in SCORE_KEYS}
    return {f"{k}_{model}" if k in own else k: v for k, v in scores.items()}


def write_test_rows(module: DeblurLitModule, output_dir: Path, best: bool) -> None:
    """The last test's per-image scores: ``per_image.csv`` (the final model) or, ``best``,
    ``per_image_best.csv``. Nothing when the test ran in other processes (a spawning strategy)."""
    if module.test_records:
        rows = [ImageScores(**record) for record in module.test_records]
        write_per_image(output_dir, rows, best=best)


def describe_selection(trainer: pl.Trainer, best_path: str, images: str) -> str:
    """How the best checkpoint was chosen, e.g. ``val/psnr=27.31 at epoch 17 (step 8942) on
    test``: the monitored score, the epoch it was reached in (counted from 1), and the images
    validation scored (``test``, ``val`` or ``train_holdout``)."""
    callback = trainer.checkpoint_callback
    assert isinstance(callback, ModelCheckpoint)
    score = callback.best_model_score
    saved = torch.load(best_path, map_location="cpu", weights_only=True, mmap=True)
    value = "n/a" if score is None else f"{float(score):.2f}"
    return (
        f"{callback.monitor}={value} at epoch {int(saved.get('epoch', -1)) + 1} "
        f"(step {saved.get('global_step')}) on {images}"
    )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit ``cfg``'s model on its data, validate the best checkpoint, test the final model and
    the best one, write metrics.json, per_image.csv (final) and per_image_best.csv (best).

    Returns the final metrics (also written to ``<output_dir>/metrics.json``), with the protocol,
    the run's name/group, parameters, MACs and the median test runtime per image. The final
    model's test scores are ``test/<score>_last`` (the headline: what the papers' code reports),
    the best-by-validation one's ``test/<score>_best`` (with ``best_selected_on``); without a
    best checkpoint (no validation, no checkpoint callback, train=false) there are no ``_best``
    scores.
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
    resolve_speed(cfg)  # concrete precision and TF32, recorded in the run's config
    module = build_module(cfg, DeblurLitModule)
    check_schedule(cfg, module)
    start = check_start_checkpoint(cfg.ckpt_path, module) if cfg.get("ckpt_path") else None
    if start is not None and cfg.get("resume"):
        done = finished_run(start, cfg)
        # found in its folder without metrics.json (stopped while testing): fit ends at once, tests
        if done is not None and not in_place.resumed:
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
    best_selected_on: str | None = None
    if cfg.train:
        with warnings.catch_warnings():
            if hasattr(datamodule, "resume_at"):
                warnings.filterwarnings("ignore", message=MID_EPOCH_RESUME_WARNING)
            trainer.fit(
                module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True
            )
        metrics.update(_scalars(trainer.callback_metrics))
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
            best_path = checkpoint.best_model_path
    # the final weights, put back after the best checkpoint's validation and test replace them
    final_state = _copy_state(module) if best_path is not None and cfg.test else None
    if best_path is not None:
        # the pair (PSNR, SSIM) of the best checkpoint on the fixed validation set
        remember_csv_columns(trainer)
        validated = trainer.validate(
            module, datamodule=datamodule, ckpt_path=best_path, weights_only=True
        )
        metrics.update(_scalars(validated[0]) if validated else {})
        best_selected_on = describe_selection(trainer, best_path, datamodule.selected_on())
        if cfg.test:
            metrics.update(run_test(trainer, module, datamodule, best_path, "best"))
            if trainer.is_global_zero:
                write_test_rows(module, output_dir, best=True)
            module.load_state_dict(final_state)
    if cfg.test:
        # the final model last: the test crops, the W&B table and the runtime are its own
        start = None if cfg.train else cfg.get("ckpt_path")  # train=false: the given checkpoint
        metrics.update(run_test(trainer, module, datamodule, start, "last"))
        metrics["test/runtime_s"] = median_test_seconds(module)
        metrics["test/device"] = device_name(module.device)
        if trainer.is_global_zero:
            write_test_rows(module, output_dir, best=False)

    final = TrainMetrics(
        scores=metrics,
        protocol=cfg.get("protocol", "gopro"),
        # the images the best checkpoint was chosen on (test: no validation split, as the papers' code)
        selected_on=datamodule.selected_on() if cfg.train else None,
        model=cfg.model.name,
        name=identity.name,
        group=identity.group,
        best_ckpt=best_path,
        best_selected_on=best_selected_on,
        requeues=requeue_count(),
        **cost,
    )
    if trainer.is_global_zero:
        final.write(output_dir)
        log_final_metrics(trainer, final)
        print_summary(final, trainer, output_dir)
    return final.to_dict()
