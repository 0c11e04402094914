"""The run config a deblurlab checkpoint carries, and the only way anything in it is built.

The config names classes by ``_target_``; a checkpoint may come from anywhere, so nothing in it is
handed to Hydra. :func:`embedded_config` returns the sections that are built from it (``model``,
``loss``, ``data``, ``schedule``) only when every ``_target_`` in them is registered
(:mod:`deblurlab.registry`) or named by the user with ``trust=``, and their argument names fit the
constructors; every other section is kept only when it holds plain values. :func:`rebuild` builds
one node of that config through the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from deblurlab.errors import CheckpointError
from deblurlab.registry import build, check

# The key under which deblurlab's EmbedConfig callback stores the resolved run config.
CONFIG_KEY = "deblurlab_config"
# Sections of a run config that are built from it.
BUILT_SECTIONS = ("model", "loss", "data", "schedule")


def _has_target(node: Any) -> bool:
    """True when ``node`` (plain containers) holds a ``_target_`` key anywhere."""
    if isinstance(node, Mapping):
        return "_target_" in node or any(_has_target(v) for v in node.values())
    if isinstance(node, list | tuple):
        return any(_has_target(v) for v in node)
    return False


def _interpolation(node: Any, key: str) -> str | None:
    """The key of the first string holding ``${`` in ``node`` (OmegaConf would resolve it)."""
    if isinstance(node, str):
        return key if "${" in node else None
    if isinstance(node, Mapping | list | tuple):
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        for name, value in items:
            found = _interpolation(value, f"{key}.{name}" if key else str(name))
            if found:
                return found
    return None


def embedded_config(
    checkpoint: Any,
    path: str | Path,
    trust: Iterable[str] = (),
    sections: Iterable[str] = BUILT_SECTIONS,
) -> DictConfig:
    """The run config ``checkpoint`` (read from ``path``) carries, checked.

    ``sections`` (of ``model``, ``loss``, ``data``, ``schedule``) are the ones the caller builds:
    each is checked (:func:`deblurlab.registry.check`: registered or ``trust``-ed names, argument
    names that bind) and kept; the other built sections are kept only when they pass the same
    check, and every other section naming anything to build is dropped, so nothing left can run
    code the file chose. Raises CheckpointError naming
    the file (and the key) when there is no config or a checked section is refused.
    """
    config = checkpoint.get(CONFIG_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{path}: no embedded deblurlab config (an official weight file? pass model=<name> too)"
        )
    sections, trust = tuple(sections), tuple(trust)
    kept: dict[str, Any] = {}
    for name, value in config.items():
        if name in sections:
            if name == "model" and not (
                isinstance(value, Mapping) and isinstance(value.get("net"), Mapping)
            ):
                raise CheckpointError(
                    f"{path}: embedded config model.net: missing or not a mapping"
                )
            check(value, name, str(path), trust)
        elif name in BUILT_SECTIONS:
            # not built by this caller: kept (e.g. as a W&B column) only when it would pass the
            # same check, so nothing kept names a class the registry does not know
            try:
                check(value, name, str(path), trust)
            except CheckpointError:
                continue
        elif _has_target(value):
            continue
        found = _interpolation(value, str(name))
        if found:
            raise CheckpointError(
                f"{path}: embedded config {found}: interpolations are not accepted; refusing it"
            )
        kept[str(name)] = value
    return OmegaConf.create(kept)


def rebuild(node: Any, key: str, path: str | Path, trust: Iterable[str] = ()) -> Any:
    """Build ``node`` (the section ``key`` of a checkpoint's config, read from ``path``) through
    the registry; a constructor's ValueError/TypeError is one line naming the file and the key."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False)
    return build(node, key, str(path), trust)
