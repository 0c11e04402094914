"""Load a network from any checkpoint or weight file and wrap it in a :class:`Restorer`.

The one way every command gets a network to run (evaluate, predict, bench, export):

    restorer, loaded = load_restorer("best.ckpt")                          # a deblurlab checkpoint
    restorer, loaded = load_restorer("MIMO-UNet.pkl", model_cfg=cfg.model)  # an official weight file

A deblurlab checkpoint carries its resolved run config (model, data, protocol); an official weight
file carries weights only, so the model config must be given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from deblurlab.checkpoint import (
    embedded_config,
    is_lightning_checkpoint,
    load_state,
    network_state,
    read_checkpoint,
    rebuild,
)
from deblurlab.checkpoint.official import OFFICIAL_WORD, resolve_pretrained
from deblurlab.errors import ConfigError
from deblurlab.inference.restorer import Restorer


@dataclass
class LoadedRun:
    """What was loaded: the checkpoint, the model config used, and the run config it carried."""

    checkpoint: Path
    model_cfg: DictConfig
    run_cfg: DictConfig | None  # the embedded config of a deblurlab checkpoint; None otherwise


def load_network(
    ckpt_path: str | Path,
    model_cfg: DictConfig | None = None,
    trust: Iterable[str] = (),
    sections: Iterable[str] = ("model",),
) -> tuple[nn.Module, LoadedRun]:
    """The network for ``ckpt_path`` with its weights, reading the file once.

    A deblurlab checkpoint's own ``model`` section is rebuilt through the registry (plus the names
    in ``trust``); ``model_cfg`` (the user's ``model=...``, needed for an official weight file)
    is instantiated as given. ``sections`` are the parts of the checkpoint's config the caller
    will use (``data`` too for an evaluation on the checkpoint's own data): they are checked;
    ``model`` only when ``model_cfg`` is not given.
    """
    trust = tuple(trust)
    checkpoint = read_checkpoint(ckpt_path)
    run_cfg = None
    if is_lightning_checkpoint(checkpoint):
        checked = [s for s in sections if s != "model" or model_cfg is None]
        run_cfg = embedded_config(checkpoint, ckpt_path, trust, sections=checked)
    if model_cfg is not None:
        net = instantiate(model_cfg.net)
    elif run_cfg is not None:
        model_cfg = run_cfg.model
        net = rebuild(model_cfg.net, "model.net", ckpt_path, trust)
    else:
        raise ConfigError(f"{ckpt_path}: not a deblurlab checkpoint; pass model=<name> too")
    load_state(net, network_state(checkpoint, ckpt_path), ckpt_path)
    return net, LoadedRun(checkpoint=Path(ckpt_path), model_cfg=model_cfg, run_cfg=run_cfg)


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
    trust: Iterable[str] = (),
    sections: Iterable[str] = ("model",),
) -> tuple[Restorer, LoadedRun]:
    """Build the network for ``ckpt_path`` (its own config, or ``model_cfg``; see
    :func:`load_network` for ``trust`` and ``sections``), load its weights, move it to ``device``
    in eval mode and wrap it in a Restorer with the given settings."""
    net, loaded = load_network(ckpt_path, model_cfg, trust, sections)
    target = device if isinstance(device, torch.device) else pick_device(device)
    restorer = make_restorer(
        net.to(target).eval(),
        loaded.model_cfg,
        ensemble,
        tile=tile,
        overlap=overlap,
        precision=precision,
    )
    return restorer, loaded


def load_restorer_from_config(
    cfg: DictConfig, sections: Iterable[str] = ("model",)
) -> tuple[Restorer, LoadedRun]:
    """:func:`load_restorer` with the keys of the commands' configs (eval.yaml, predict.yaml):
    ``ckpt_path``, ``model`` (optional), ``ensemble``, ``tile``, ``overlap``, ``precision``,
    ``device``, ``trust``; ``pretrained=official`` (with ``model=<name>``) scores the authors'
    released file for that network instead of ``ckpt_path``."""
    return load_restorer(
        checkpoint_from_config(cfg),
        model_cfg=cfg.get("model"),
        ensemble=cfg.get("ensemble"),
        tile=cfg.get("tile"),
        overlap=cfg.get("overlap", 32),
        precision=cfg.get("precision", "fp32"),
        device=cfg.get("device"),
        trust=trust_list(cfg),
        sections=sections,
    )


def checkpoint_from_config(cfg: DictConfig) -> Path:
    """The file a command scores: ``ckpt_path``, or with ``pretrained=official`` the released file
    of ``model.name`` (downloaded into the cache when missing)."""
    pretrained, ckpt_path = cfg.get("pretrained"), cfg.get("ckpt_path")
    if pretrained is not None:
        if str(pretrained) != OFFICIAL_WORD:
            raise ConfigError(
                f"pretrained: expected 'official' (or pass the file as ckpt_path=...), got {pretrained!r}"
            )
        if ckpt_path is not None:
            raise ConfigError("pass either ckpt_path=... or pretrained=official, not both")
        model = cfg.get("model")
        if model is None:
            raise ConfigError("pretrained=official needs model=<name> (which network's release)")
        return resolve_pretrained(OFFICIAL_WORD, model.get("name"))
    if ckpt_path is None:
        raise ConfigError(
            "ckpt_path: missing (a deblurlab .ckpt or an official .pkl with model=...; "
            "or pretrained=official model=<name>)"
        )
    return Path(str(ckpt_path)).expanduser()


def trust_list(cfg: DictConfig) -> list[str]:
    """The command's ``trust=[...]``: names of classes the user allows a checkpoint to build."""
    trust = cfg.get("trust") or []
    if isinstance(trust, str):
        trust = [trust]
    names = [str(t).strip() for t in trust]
    bad = [n for n in names if not n or " " in n or n.startswith(".") or n.endswith(".")]
    if bad:
        raise ConfigError(f"trust: expected dotted class names (mypkg.nets.MyNet), got {bad[0]!r}")
    return names
