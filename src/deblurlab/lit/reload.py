"""Rebuild a :class:`DeblurLitModule` from a deblurlab checkpoint alone (its embedded, checked config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate

from deblurlab.checkpoint import embedded_config, read_checkpoint
from deblurlab.inference.ensemble import SelfEnsemble
from deblurlab.inference.loading import build_network


def rebuild_module(
    cls: type, checkpoint_path: str | Path, map_location: Any = None, strict: bool | None = None
) -> Any:
    """``cls`` (a DeblurLitModule class) built from the checkpoint's config, with its weights and
    input scores loaded: network, loss, protocol, self-ensemble (and the schedule when the checked
    config kept it)."""
    checkpoint = read_checkpoint(checkpoint_path)
    # the checked config: only allow-listed targets (deblurlab's networks, losses, data; torch's
    # common optimizers and LR schedules) survive; sections naming anything else are dropped
    cfg = embedded_config(checkpoint, checkpoint_path)
    net = build_network(cfg.model)
    schedule = cfg.get("schedule")
    ensemble = cfg.model.get("ensemble")
    module = cls(
        net=net,
        loss=instantiate(cfg.loss) if cfg.get("loss") else None,
        optimizer=instantiate(schedule.optimizer) if schedule else None,
        scheduler=instantiate(schedule.scheduler)
        if schedule and schedule.get("scheduler")
        else None,
        scheduler_interval=schedule.get("interval", "epoch") if schedule else "epoch",
        protocol=cfg.get("protocol", "gopro"),
        eval_net=SelfEnsemble(net, mode=ensemble) if ensemble else None,
    )
    module.load_state_dict(checkpoint["state_dict"], strict=True if strict is None else strict)
    module.on_load_checkpoint(checkpoint)
    return module.to(map_location) if map_location is not None else module
