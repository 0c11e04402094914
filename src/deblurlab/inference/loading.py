"""Load a network from any checkpoint or weight file and wrap it in a :class:`Restorer`.

The one way every command gets a network to run (evaluate, predict, bench, export):

    restorer, loaded = load_restorer("best.ckpt")                          # a deblurlab checkpoint
    restorer, loaded = load_restorer("MIMO-UNet.pkl", model_cfg=cfg.model)  # an official weight file

A deblurlab checkpoint carries its resolved run config (model, data, protocol); an official weight
file carries weights only, so the model config must be given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from deblurlab.checkpoint import embedded_config, is_lightning_checkpoint, read_checkpoint
from deblurlab.errors import ConfigError
from deblurlab.inference.restorer import Restorer
from deblurlab.models.weights import load_weights


@dataclass
class LoadedRun:
    """What was loaded: the checkpoint, the model config used, and the run config it carried."""

    checkpoint: Path
    model_cfg: DictConfig
    run_cfg: DictConfig | None  # the embedded config of a deblurlab checkpoint; None otherwise


def checkpoint_run_config(path: str | Path) -> DictConfig | None:
    """The run config embedded in a deblurlab checkpoint; None for other weight files."""
    checkpoint = read_checkpoint(path)
    return embedded_config(checkpoint, path) if is_lightning_checkpoint(checkpoint) else None


def resolve_model_config(path: str | Path, model_cfg: DictConfig | None) -> LoadedRun:
    """The model config to build: ``model_cfg`` when given, else the checkpoint's own."""
    run_cfg = checkpoint_run_config(path)
    chosen = model_cfg or (run_cfg.model if run_cfg is not None else None)
    if chosen is None:
        raise ConfigError(f"{path}: not a deblurlab checkpoint; pass model=<name> too")
    return LoadedRun(checkpoint=Path(path), model_cfg=chosen, run_cfg=run_cfg)


def build_network(model_cfg: DictConfig, weights: str | Path | None = None) -> nn.Module:
    """Instantiate ``model_cfg.net`` and, when ``weights`` is given, load that file into it."""
    net = instantiate(model_cfg.net)
    if weights:
        load_weights(net, weights)
    return net


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


def make_restorer(
    net: nn.Module,
    model_cfg: DictConfig | None = None,
    ensemble: str | None = None,
    **settings: Any,
) -> Restorer:
    """``Restorer(net, ...)`` with the config conventions of the commands.

    ``ensemble: None`` takes the model's own (rot4 for ``mimo_unet_pp``), ``"none"`` turns it off.
    ``settings`` are Restorer arguments (``tile``, ``overlap``, ``precision``); invalid values are
    reported as ConfigError (the messages name the keys).
    """
    if ensemble is None and model_cfg is not None:
        ensemble = model_cfg.get("ensemble")
    if ensemble == "none":
        ensemble = None
    try:
        return Restorer(net, ensemble=ensemble, **settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_restorer(
    ckpt_path: str | Path,
    model_cfg: DictConfig | None = None,
    ensemble: str | None = None,
    tile: int | None = None,
    overlap: int = 32,
    precision: str = "fp32",
    device: str | torch.device | None = "auto",
) -> tuple[Restorer, LoadedRun]:
    """Build the network for ``ckpt_path`` (its own config, or ``model_cfg``), load its weights,
    move it to ``device`` in eval mode and wrap it in a Restorer with the given settings."""
    loaded = resolve_model_config(ckpt_path, model_cfg)
    target = device if isinstance(device, torch.device) else pick_device(device)
    net = build_network(loaded.model_cfg, ckpt_path).to(target).eval()
    restorer = make_restorer(
        net, loaded.model_cfg, ensemble, tile=tile, overlap=overlap, precision=precision
    )
    return restorer, loaded


def load_restorer_from_config(cfg: DictConfig) -> tuple[Restorer, LoadedRun]:
    """:func:`load_restorer` with the keys of the commands' configs (eval.yaml, predict.yaml):
    ``ckpt_path``, ``model`` (optional), ``ensemble``, ``tile``, ``overlap``, ``precision``,
    ``device``."""
    return load_restorer(
        cfg.ckpt_path,
        model_cfg=cfg.get("model"),
        ensemble=cfg.get("ensemble"),
        tile=cfg.get("tile"),
        overlap=cfg.get("overlap", 32),
        precision=cfg.get("precision", "fp32"),
        device=cfg.get("device"),
    )
