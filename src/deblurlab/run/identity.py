"""Who a run is: its display name, its group (experiment or sweep) and tags, and its W&B run id.

The identity is chosen once, when a run starts, and kept in ``<run dir>/run.json``, so that a run
continued with ``resume=<run dir>`` logs into the same W&B run under the same name.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

RUN_FILE = "run.json"
MAX_NAME = 120

# Overrides that say where or how a run goes, not what it is: left out of the run name.
_NOT_IN_NAME = (
    "experiment",
    "debug",
    "logger",
    "launcher",
    "callbacks",
    "hydra",
    "paths",
    "resume",
    "ckpt_path",
    "data.root",
    "train",
    "test",
    "tags",
    "run_name",
    "task_name",
    "trainer",
    "hparams_search",
)


def _hydra_config() -> DictConfig | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def task_overrides() -> list[str]:
    """The command-line overrides of this job (empty outside Hydra)."""
    hydra_cfg = _hydra_config()
    return list(hydra_cfg.overrides.task) if hydra_cfg is not None else []


def short_override(override: str) -> str | None:
    """``model.net.fusion=concat`` -> ``fusion=concat``; None for overrides kept out of names."""
    key, sep, value = override.lstrip("+~").partition("=")
    if not sep:
        return None
    if any(key == k or key.startswith((k + ".", k + "/")) for k in _NOT_IN_NAME):
        return None
    return f"{key.replace('/', '.').rsplit('.', 1)[-1]}={value}"


def run_name(model_name: str, overrides: list[str]) -> str:
    """``<model> <key=value> ...`` from the overrides that change what is trained."""
    parts = [model_name] + [s for s in map(short_override, overrides) if s]
    name = " ".join(parts)
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 3] + "..."


def run_group(cfg: DictConfig) -> str | None:
    """The experiment's name, else the hyper-parameter search's, else the sweep folder's name."""
    hydra_cfg = _hydra_config()
    if hydra_cfg is None:
        return None
    choices = hydra_cfg.runtime.choices
    for group in ("experiment", "hparams_search"):
        if choices.get(group):
            return str(choices[group])
    if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
        return f"sweep-{Path(str(hydra_cfg.sweep.dir)).name}"
    return None


def run_tags(cfg: DictConfig) -> list[str]:
    """The configured tags plus the model, data and debug choices (deduplicated, in order)."""
    tags = [str(t) for t in cfg.get("tags") or []]
    tags.append(str(cfg.model.name))
    hydra_cfg = _hydra_config()
    if hydra_cfg is not None:
        choices = hydra_cfg.runtime.choices
        for group in ("data", "debug"):
            if choices.get(group):
                tags.append(
                    f"{group}:{choices[group]}" if group == "debug" else str(choices[group])
                )
    return list(dict.fromkeys(tags))


def new_identity(cfg: DictConfig) -> dict[str, Any]:
    """A fresh identity for ``cfg``'s run (an explicit ``run_name=...`` override is kept)."""
    overrides = task_overrides()
    explicit = any(o.lstrip("+").startswith("run_name=") for o in overrides)
    return {
        "name": str(cfg.run_name) if explicit else run_name(str(cfg.model.name), overrides),
        "group": run_group(cfg),
        "tags": run_tags(cfg),
        "wandb_id": uuid.uuid4().hex[:12],
    }


def load_or_create_identity(cfg: DictConfig, output_dir: Path, write: bool) -> dict[str, Any]:
    """The identity in ``output_dir/run.json`` when resuming a run that has one, else a new one
    (written there when ``write``, i.e. on rank 0)."""
    path = output_dir / RUN_FILE
    if cfg.get("resume") and path.is_file():
        return json.loads(path.read_text())
    identity = new_identity(cfg)
    if write:
        path.write_text(json.dumps(identity, indent=2))
    return identity


def apply_identity(cfg: DictConfig, identity: dict[str, Any]) -> None:
    """Put the identity into ``cfg``: ``run_name`` and the W&B logger's name/group/tags/id."""
    with open_dict(cfg):
        cfg.run_name = identity["name"]
        wandb = (cfg.get("logger") or {}).get("wandb")
        if wandb and str(wandb.get("_target_", "")).endswith("WandbLogger"):
            wandb.name = identity["name"]
            wandb.group = identity["group"]
            wandb.tags = identity["tags"]
            wandb.id = identity["wandb_id"]
            wandb.resume = "allow"  # the same id again (resume=<run dir>) continues that run
