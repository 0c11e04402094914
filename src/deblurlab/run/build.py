"""Build the run's objects from a composed config (Hydra instantiates; this only wires them)."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import LearningRateMonitor
from torch import nn

from deblurlab.inference.loading import build_network as load_network
from deblurlab.lit.atomic_checkpoint import AtomicCheckpointIO
from deblurlab.lit.deblur_module import DeblurLitModule

log = logging.getLogger("deblurlab")


def build_network(model_cfg: DictConfig) -> nn.Module:
    """Instantiate ``model.net`` and load ``model.pretrained`` into it when set."""
    pretrained = model_cfg.get("pretrained")
    net = load_network(model_cfg, pretrained)
    if pretrained:
        log.info("loaded weights from %s", pretrained)
    return net


def build_eval_network(net: nn.Module, ensemble: str | None) -> nn.Module | None:
    """Wrap ``net`` in the self-ensemble ``ensemble`` (rot4 | x8) for evaluation, or return None."""
    if not ensemble:
        return None
    from deblurlab.inference import SelfEnsemble

    return SelfEnsemble(net, mode=ensemble)


def build_module(cfg: DictConfig, net: nn.Module | None = None) -> DeblurLitModule:
    """The LightningModule for ``cfg`` (network, loss, optimizer and LR schedule)."""
    net = build_network(cfg.model) if net is None else net
    schedule = cfg.schedule
    return DeblurLitModule(
        net=net,
        loss=instantiate(cfg.loss),
        optimizer=instantiate(schedule.optimizer),
        scheduler=instantiate(schedule.scheduler) if schedule.get("scheduler") else None,
        scheduler_interval=schedule.get("interval", "epoch"),
        protocol=cfg.get("protocol", "gopro"),
        eval_net=build_eval_network(net, cfg.model.get("ensemble")),
    )


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (callbacks, loggers); skip empty ones."""
    if not group:
        return []
    return [instantiate(item) for item in group.values() if item and "_target_" in item]


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback]) -> pl.Trainer:
    """The Trainer with the configured callbacks (plus ``callbacks``) and loggers."""
    loggers = instantiate_group(cfg.get("logger"))
    configured = instantiate_group(cfg.get("callbacks"))
    if not loggers:  # logger=none: nothing would receive the learning rate (Lightning refuses)
        configured = [c for c in configured if not isinstance(c, LearningRateMonitor)]
    return instantiate(
        cfg.trainer,
        callbacks=configured + callbacks,
        logger=loggers if loggers else False,
        # atomic writes in the checkpoint's own folder; reads with weights_only=True
        plugins=[AtomicCheckpointIO()],
    )
