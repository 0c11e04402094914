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


def wandb_group(group: str | None, name: str, wandb_id: str) -> str:
    """The W&B group of a training run: its group (experiment, search or sweep), else a group of
    its own (``<name> (<id>)``, which evaluations of its checkpoints join); runs of a ``debug=*``
    mode are grouped apart (``debug=smoke: <group>``), so smoke runs never mix with real ones."""
    base = group or f"{name} ({wandb_id})"
    hydra_cfg = _hydra_config()
    debug = hydra_cfg.runtime.choices.get("debug") if hydra_cfg is not None else None
    return f"debug={debug}: {base}" if debug else base


def new_identity(cfg: DictConfig) -> dict[str, Any]:
    """A fresh identity for ``cfg``'s run (an explicit ``run_name=...`` override is kept)."""
    overrides = task_overrides()
    explicit = any(o.lstrip("+").startswith("run_name=") for o in overrides)
    name = str(cfg.run_name) if explicit else run_name(str(cfg.model.name), overrides)
    group, wandb_id = run_group(cfg), uuid.uuid4().hex[:12]
    return {
        "name": name,
        "group": group,
        "tags": run_tags(cfg),
        "wandb_id": wandb_id,
        "wandb_group": wandb_group(group, name, wandb_id),
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
            wandb.group = identity.get("wandb_group") or identity["group"]
            wandb.job_type = "train"
            # plain keys (kept in the config checkpoints carry): evaluations join this W&B run
            cfg.wandb_run = {
                "id": identity["wandb_id"],
                "name": identity["name"],
                "group": wandb.group,
                "log_model": bool(wandb.get("log_model", False)),
            }
            wandb.tags = identity["tags"]
            wandb.id = identity["wandb_id"]
            wandb.resume = "allow"  # the same id again (resume=<run dir>) continues that run


def _data_label(data_cfg: Any) -> str | None:
    """A short name for a data config: its layout (gopro, hide, ...) or its source class."""
    source = (data_cfg or {}).get("source") or {}
    if source.get("layout"):
        return str(source["layout"])
    target = str(source.get("_target_") or "")
    return target.rsplit(".", 1)[-1] or None


def apply_eval_identity(
    cfg: DictConfig, train_cfg: DictConfig | None, summary: dict[str, Any]
) -> dict[str, Any]:
    """Join an evaluation's W&B run to the training run that made its checkpoint.

    Sets the eval config's W&B logger (if any) to ``job_type=eval``, the training run's W&B group
    (a release weight file gets a group of its own: ``release <file name>``) and a name saying
    what was scored where. Returns the config to log with it: the training run's config at the top
    level (so the same columns line up in the W&B table and in parallel coordinates), the
    evaluation settings under ``eval`` (checkpoint, its SHA-256 prefix, protocol, split, data,
    inference settings), ``train_run_id``, and ``train_artifact`` when the training run logged
    its checkpoints as artifacts (``logger.wandb.log_model=true``).
    """
    from omegaconf import OmegaConf

    checkpoint = Path(str(summary["checkpoint"]))
    train: dict[str, Any] = {}
    train_wandb: dict[str, Any] = {}
    if train_cfg is not None:
        train = OmegaConf.to_container(train_cfg, resolve=False)  # already resolved when saved
        train_wandb = train.pop("wandb_run", None) or {}
        for key in ("logger", "callbacks", "paths", "hydra"):
            train.pop(key, None)  # where the training run wrote, not what it was
    train_name = train_wandb.get("name") or train.get("run_name") or checkpoint.name
    if train_cfg is None:
        group = f"release {checkpoint.name}"
    else:
        group = train_wandb.get("group") or str(train_name)
    data = _data_label(cfg.get("data")) or _data_label(train.get("data"))
    settings = {
        k: summary.get(k)
        for k in ("checkpoint", "checkpoint_sha256", "protocol", "split", "ensemble", "tile")
    }
    config: dict[str, Any] = {
        **train,
        "eval": {**settings, "precision": summary.get("precision"), "data": data},
    }
    if train_wandb.get("id"):
        config["train_run_id"] = train_wandb["id"]
        if train_wandb.get("log_model"):
            config["train_artifact"] = f"model-{train_wandb['id']}:latest"
    with open_dict(cfg):
        wandb = (cfg.get("logger") or {}).get("wandb")
        if wandb and str(wandb.get("_target_", "")).endswith("WandbLogger"):
            wandb.name = (
                f"eval {train_name} on {data or summary.get('split')} ({summary['protocol']})"
            )
            wandb.group = group
            wandb.job_type = "eval"
    return config
