"""Build a run's objects: the network, the LightningModule (from a run config, or from a checkpoint
alone) and the Trainer.

A run config composed by the user is the user's own: Hydra instantiates it as it is. A checkpoint's
config is not: its parts are rebuilt only through the registry
(:func:`deblurlab.checkpoint.rebuild`), with the names the user allows by ``trust=``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.strategies import DDPStrategy
from torch import nn

from deblurlab.checkpoint import (
    check_fit,
    embedded_config,
    load_weights,
    network_state,
    read_checkpoint,
    rebuild,
)
from deblurlab.checkpoint.official import resolve_pretrained
from deblurlab.errors import CheckpointError
from deblurlab.hardware import GpuSettings, apply_tf32, gpu_settings, on_cuda
from deblurlab.inference.ensemble import SelfEnsemble
from deblurlab.lit.checkpointing import AtomicCheckpointIO
from deblurlab.lit.compile import CompileTraining
from deblurlab.lit.preemption import cluster_plugins
from deblurlab.registry import ENTRY_POINT_GROUP, unregistered_targets

log = logging.getLogger("deblurlab")

Module = TypeVar("Module", bound=pl.LightningModule)
# What a config node becomes: (node, config key) -> object.
Maker = Callable[[Any, str], Any]


class ScheduleFactory:
    """A partial LR schedule called with the optimizer. The schedules nested in it
    (``SequentialLR``'s and ``ChainedScheduler``'s ``schedulers``, given as partial configs too)
    are called with the same optimizer first."""

    def __init__(self, partial: Callable[..., Any]) -> None:
        self.partial = partial

    def __call__(self, optimizer: torch.optim.Optimizer) -> Any:
        return _with_optimizer(self.partial, optimizer)


def _is_schedule(value: Any) -> bool:
    func = getattr(value, "func", None)
    return (
        isinstance(value, functools.partial)
        and isinstance(func, type)
        and (issubclass(func, torch.optim.lr_scheduler.LRScheduler))
    )


def _with_optimizer(partial: Callable[..., Any], optimizer: torch.optim.Optimizer) -> Any:
    if not isinstance(partial, functools.partial):
        return partial(optimizer=optimizer)
    keywords = {}
    for name, value in partial.keywords.items():
        if isinstance(value, list | tuple | ListConfig) and any(_is_schedule(v) for v in value):
            value = [_with_optimizer(v, optimizer) if _is_schedule(v) else v for v in value]
        keywords[name] = value
    return partial.func(*partial.args, optimizer=optimizer, **keywords)


def build_network(model_cfg: DictConfig) -> nn.Module:
    """Instantiate ``model.net`` and load ``model.pretrained`` into it when set."""
    net = instantiate(model_cfg.net)
    pretrained = model_cfg.get("pretrained")
    if pretrained:
        path = resolve_pretrained(pretrained, model_cfg.get("name"))
        load_weights(net, path)
        log.info("loaded weights from %s", path)
    return net


def eval_network(net: nn.Module, ensemble: str | None) -> nn.Module | None:
    """``net`` in the self-ensemble ``ensemble`` (rot4 | x8) for testing, or None."""
    return SelfEnsemble(net, mode=ensemble) if ensemble and ensemble != "none" else None


def _module(module_class: type[Module], cfg: DictConfig, make: Maker, net: nn.Module) -> Module:
    schedule = cfg.get("schedule") or {}
    optimizer = schedule.get("optimizer")
    scheduler = schedule.get("scheduler")
    return module_class(
        net=net,
        loss=make(cfg.loss, "loss") if cfg.get("loss") else None,
        optimizer=make(optimizer, "schedule.optimizer") if optimizer else None,
        scheduler=ScheduleFactory(make(scheduler, "schedule.scheduler")) if scheduler else None,
        scheduler_interval=schedule.get("interval", "epoch"),
        protocol=cfg.get("protocol", "gopro"),
        eval_net=eval_network(net, cfg.model.get("ensemble")),
    )


def build_module(
    cfg: DictConfig, module_class: type[Module], net: nn.Module | None = None
) -> Module:
    """``module_class`` (DeblurLitModule) for the run config ``cfg``: network (``net`` or
    :func:`build_network`), loss, optimizer, LR schedule, protocol and test-time self-ensemble."""
    net = build_network(cfg.model) if net is None else net
    return _module(module_class, cfg, lambda node, key: instantiate(node), net)


def resolve_speed(cfg: DictConfig) -> GpuSettings:
    """Make the run's precision and TF32 concrete, write them into ``cfg`` (so the run's recorded
    config says what was used) and set TF32 on a GPU. ``trainer.precision=auto`` becomes
    bf16-mixed / 16-mixed / 32-true from this rank's GPU (or the CPU's measured bf16 speed);
    ``trainer_tf32`` (null: off with 32-true, on with mixed precision) becomes true or false.
    ``trainer.deterministic=true`` turns ``trainer.benchmark`` off (cuDNN's autotuner picks
    kernels by timing, which is not reproducible)."""
    trainer = cfg.trainer
    settings = gpu_settings(
        str(trainer.get("precision", "32-true")),
        str(trainer.get("accelerator", "cpu")),
        cfg.get("trainer_tf32"),
    )
    with open_dict(cfg):
        trainer.precision = settings.precision
        cfg.trainer_tf32 = settings.tf32
        if trainer.get("deterministic") is True and trainer.get("benchmark"):
            trainer.benchmark = False
    if on_cuda(str(trainer.get("accelerator", "cpu"))):
        apply_tf32(settings.tf32)
        log.info(
            "GPU: precision %s, TF32 %s, cudnn.benchmark %s",
            settings.precision,
            "on" if settings.tf32 else "off (fp32 as on the papers' GPUs)",
            "on" if trainer.get("benchmark") else "off",
        )
    return settings


def warn_unregistered(cfg: DictConfig) -> list[str]:
    """Log one warning line per ``_target_`` in the built sections of ``cfg`` that is not
    registered: this run's checkpoints will load only with ``trust=`` or once it is registered.
    Returns the warned lines."""
    lines = []
    for section in ("model", "loss", "data", "schedule"):
        node = cfg.get(section)
        if node is None:
            continue
        plain = (
            OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else node
        )
        for key, target in unregistered_targets(plain, section):
            lines.append(
                f"{key}._target_={target} is not registered with deblurlab: loading this run's "
                f"checkpoints will need trust=[{target}] (or a package registering it in the "
                f"entry-point group '{ENTRY_POINT_GROUP}')"
            )
    for line in lines:
        log.warning(line)
    return lines


def module_from_checkpoint(
    module_class: type[Module],
    path: str | Path,
    map_location: Any = None,
    strict: bool | None = None,
    trust: Iterable[str] = (),
) -> Module:
    """``module_class`` rebuilt from the checkpoint at ``path`` alone: its config's network, loss,
    optimizer, LR schedule, protocol and self-ensemble (through the registry, plus ``trust``),
    with its weights and input scores. The file is read once."""
    trust = tuple(trust)
    checkpoint = read_checkpoint(path)
    cfg = embedded_config(checkpoint, path, trust, sections=("model", "loss", "schedule"))

    def make(node: Any, key: str) -> Any:
        return rebuild(node, key, path, trust)

    net = make(cfg.model.net, "model.net")
    try:
        module = _module(module_class, cfg, make, net)
    except ValueError as exc:  # the module's own checks (ensemble, protocol, interval)
        raise CheckpointError(f"{path}: embedded config: {str(exc).splitlines()[0]}") from None
    _try_schedule(module, path)
    state = checkpoint["state_dict"]
    strict = True if strict is None else strict
    if strict:
        check_fit(state, module, path, finite=False)
    check_fit(network_state(checkpoint, path), module.net, path)  # and no NaN in the weights
    module.load_state_dict(state, strict=strict)
    module.on_load_checkpoint(checkpoint)
    return module.to(map_location) if map_location is not None else module


def _try_schedule(module: Any, path: str | Path) -> None:
    """Build the optimizer and LR schedule once on a stand-in parameter: a value their
    constructors refuse is one line naming the file and the key now, not at the first step."""
    if getattr(module, "optimizer_factory", None) is None:
        return
    key = "schedule.optimizer"
    try:
        optimizer = module.optimizer_factory(params=[torch.zeros(1, requires_grad=True)])
        if module.scheduler_factory is not None:
            key = "schedule.scheduler"
            module.scheduler_factory(optimizer=optimizer)
    except (TypeError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: embedded config {key}: {detail}") from None


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (callbacks, loggers); skip empty ones."""
    if not group:
        return []
    return [instantiate(item) for item in group.values() if item and "_target_" in item]


def buffers_change_in_training(net: nn.Module) -> bool:
    """Whether a training step can change one of ``net``'s buffers (norm layers' running
    statistics): only then must DDP broadcast buffers from rank 0 before every forward."""
    norms = (nn.modules.batchnorm._NormBase,)
    return any(isinstance(m, norms) and m.track_running_stats for m in net.modules())


class BucketViewDDP(DDPStrategy):
    """Lightning's DDP with gradients as views into the all-reduce buckets (no copy in or out)
    and buffers broadcast only where a training step changes them
    (:func:`buffers_change_in_training`; no network of deblurlab has such buffers)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("gradient_as_bucket_view", True)
        super().__init__(**kwargs)

    def _setup_model(self, model: nn.Module) -> Any:
        self._ddp_kwargs.setdefault("broadcast_buffers", buffers_change_in_training(model))
        return super()._setup_model(model)


def ddp_strategy(strategy: Any) -> Any:
    """``trainer.strategy``: ``ddp`` / ``ddp_spawn`` become :class:`BucketViewDDP` (started the
    same way); any other value passes unchanged."""
    starts = {"ddp": "popen", "ddp_spawn": "spawn"}
    if isinstance(strategy, str) and strategy in starts:
        return BucketViewDDP(start_method=starts[strategy])
    return strategy


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback]) -> pl.Trainer:
    """The Trainer with the configured callbacks (plus ``callbacks``) and loggers; with
    ``model.compile=true`` the network is compiled for training (:class:`CompileTraining`)."""
    loggers = instantiate_group(cfg.get("logger"))
    configured = instantiate_group(cfg.get("callbacks"))
    if cfg.get("model") is not None and cfg.model.get("compile"):
        configured.append(CompileTraining())
    if not loggers:  # logger=none: nothing would receive the learning rate (Lightning refuses)
        configured = [c for c in configured if not isinstance(c, LearningRateMonitor)]
    callbacks = configured + callbacks
    extra = {}
    if "strategy" in cfg.trainer:
        extra["strategy"] = ddp_strategy(cfg.trainer.strategy)
    return instantiate(
        cfg.trainer,
        **extra,
        callbacks=callbacks,
        # Lightning adds a ModelCheckpoint of its own when none is configured: callbacks=none
        # (or a group without one) means no checkpoints at all
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        logger=loggers if loggers else False,
        # atomic writes in the checkpoint's own folder; reads with weights_only=True
        # in a SLURM job: Lightning's SLURM environment without its own requeue (lit/preemption)
        plugins=[AtomicCheckpointIO(), *cluster_plugins()],
    )
