"""Who a run is: its display name, its group (experiment or sweep) and tags, and its W&B run id.

The identity (:class:`deblurlab.runfiles.RunIdentity`) is chosen once, when a run starts, from
the config and from how Hydra launched the job (:class:`Launch`, read once), and kept in the run
folder's ``run.json``, so that a run continued with ``resume=<run dir>`` logs into the same W&B
run under the same name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from deblurlab.run.command_line import read_overrides
from deblurlab.runfiles import EvalSummary, RunIdentity

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


@dataclass(frozen=True)
class Launch:
    """How Hydra started this job: its command-line overrides, the option chosen in each config
    group, and the sweep folder of a multirun (None for a single run)."""

    overrides: tuple[str, ...] = ()
    choices: dict[str, str | None] = field(default_factory=dict)
    sweep_dir: str | None = None

    @classmethod
    def current(cls) -> Launch:
        """The running Hydra job's launch (an empty one outside Hydra)."""
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return cls()
        hydra_cfg = HydraConfig.get()
        multirun = str(hydra_cfg.mode) == "RunMode.MULTIRUN"
        return cls(
            overrides=tuple(hydra_cfg.overrides.task),
            choices=dict(hydra_cfg.runtime.choices),
            sweep_dir=str(hydra_cfg.sweep.dir) if multirun else None,
        )


def short_override(override: str) -> str | None:
    """``model.net.fusion=concat`` -> ``fusion=concat``; None for overrides kept out of names."""
    (parsed,) = read_overrides([override])
    key = parsed.key_or_group
    if parsed.is_delete():
        return None
    if any(key == k or key.startswith((k + ".", k + "/")) for k in _NOT_IN_NAME):
        return None
    value = parsed.value()
    text = value if isinstance(value, str) else parsed.get_value_element_as_str()
    return f"{key.replace('/', '.').rsplit('.', 1)[-1]}={text}"


def run_name(model_name: str, overrides: list[str] | tuple[str, ...]) -> str:
    """``<model> <key=value> ...`` from the overrides that change what is trained."""
    parts = [model_name] + [s for s in map(short_override, overrides) if s]
    name = " ".join(parts)
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 3] + "..."


def explicit_name(cfg: DictConfig, launch: Launch) -> str | None:
    """The name given with ``run_name=...`` on the command line (None without one): as given for
    one run; ``<run_name>/<key=value> ...`` for a job of a sweep, so that the sweep's jobs keep
    distinct names."""
    if not any(o.key_or_group == "run_name" for o in read_overrides(launch.overrides)):
        return None
    name = str(cfg.run_name)
    changes = [s for s in map(short_override, launch.overrides) if s]
    if launch.sweep_dir is not None and changes:
        name = f"{name}/{' '.join(changes)}"
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 3] + "..."


def run_group(launch: Launch) -> str | None:
    """The experiment's name, else the hyper-parameter search's, else the sweep folder's name."""
    for group in ("experiment", "hparams_search"):
        if launch.choices.get(group):
            return str(launch.choices[group])
    return f"sweep-{Path(launch.sweep_dir).name}" if launch.sweep_dir else None


def run_tags(cfg: DictConfig, launch: Launch) -> list[str]:
    """The configured tags plus the model, data and debug choices (deduplicated, in order)."""
    tags = [str(t) for t in cfg.get("tags") or []]
    tags.append(str(cfg.model.name))
    if launch.choices.get("data"):
        tags.append(str(launch.choices["data"]))
    if launch.choices.get("debug"):
        tags.append(f"debug:{launch.choices['debug']}")
    return list(dict.fromkeys(tags))


def wandb_group(group: str | None, name: str, wandb_id: str, debug: str | None) -> str:
    """The W&B group of a training run: its group (experiment, search or sweep), else a group of
    its own (``<name> (<id>)``, which evaluations of its checkpoints join); runs of a ``debug=*``
    mode are grouped apart (``debug=smoke: <group>``), so smoke runs never mix with real ones."""
    base = group or f"{name} ({wandb_id})"
    return f"debug={debug}: {base}" if debug else base


def new_identity(cfg: DictConfig, launch: Launch) -> RunIdentity:
    """A fresh identity for ``cfg``'s run (an explicit ``run_name=...`` is kept: see
    :func:`explicit_name`)."""
    name = explicit_name(cfg, launch) or run_name(str(cfg.model.name), launch.overrides)
    group, wandb_id = run_group(launch), uuid.uuid4().hex[:12]
    return RunIdentity(
        name=name,
        group=group,
        tags=run_tags(cfg, launch),
        wandb_id=wandb_id,
        wandb_group=wandb_group(group, name, wandb_id, launch.choices.get("debug")),
    )


def load_or_create_identity(
    cfg: DictConfig, output_dir: Path, write: bool, launch: Launch | None = None
) -> RunIdentity:
    """The identity kept in ``output_dir`` when resuming a run that has one, else a new one
    (written there when ``write``, i.e. on rank 0). ``launch`` defaults to the running job's."""
    if cfg.get("resume"):
        kept = RunIdentity.read(output_dir)
        if kept is not None:
            return kept
    identity = new_identity(cfg, launch if launch is not None else Launch.current())
    if write:
        identity.write(output_dir)
    return identity


def apply_identity(cfg: DictConfig, identity: RunIdentity) -> None:
    """Put the identity into ``cfg``: ``run_name`` and the W&B logger's name/group/tags/id."""
    with open_dict(cfg):
        cfg.run_name = identity.name
        wandb = (cfg.get("logger") or {}).get("wandb")
        if wandb and str(wandb.get("_target_", "")).endswith("WandbLogger"):
            wandb.name = identity.name
            wandb.group = identity.wandb_group
            wandb.job_type = "train"
            # plain keys (kept in the config checkpoints carry): evaluations join this W&B run
            cfg.wandb_run = {
                "id": identity.wandb_id,
                "name": identity.name,
                "group": identity.wandb_group,
                "log_model": bool(wandb.get("log_model", False)),
            }
            wandb.tags = list(identity.tags)
            wandb.id = identity.wandb_id
            wandb.resume = "allow"  # the same id again (resume=<run dir>) continues that run


def _data_label(data_cfg: Any) -> str | None:
    """A short name for a data config: its layout (gopro, hide, ...) or its source class."""
    source = (data_cfg or {}).get("source") or {}
    if source.get("layout"):
        return str(source["layout"])
    target = str(source.get("_target_") or "")
    return target.rsplit(".", 1)[-1] or None


def apply_eval_identity(
    cfg: DictConfig,
    train_cfg: DictConfig | None,
    summary: EvalSummary,
    launch: Launch | None = None,
) -> dict[str, Any]:
    """Join an evaluation's W&B run to the training run that made its checkpoint.

    Sets the eval config's W&B logger (if any) to ``job_type=eval``, the training run's W&B group
    (a release weight file gets a group of its own: ``release <file name>``) and a name saying
    what was scored where, or the name given with ``run_name=...`` (see :func:`explicit_name`;
    ``launch`` defaults to the running job's). Returns the config to log with it: the training run's config at the top
    level (so the same columns line up in the W&B table and in parallel coordinates), the
    evaluation settings under ``eval`` (checkpoint, its SHA-256 prefix, protocol, split, data,
    inference settings), ``train_run_id``, and ``train_artifact`` when the training run logged
    its checkpoints as artifacts (``logger.wandb.log_model=true``).
    """
    checkpoint = Path(summary.checkpoint)
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
        "checkpoint": summary.checkpoint,
        "checkpoint_sha256": summary.checkpoint_sha256,
        "protocol": summary.protocol,
        "split": summary.split,
        "ensemble": summary.ensemble,
        "tile": summary.tile,
    }
    config: dict[str, Any] = {
        **train,
        "eval": {**settings, "precision": summary.precision, "data": data},
    }
    if train_wandb.get("id"):
        config["train_run_id"] = train_wandb["id"]
        if train_wandb.get("log_model"):
            config["train_artifact"] = f"model-{train_wandb['id']}:latest"
    with open_dict(cfg):
        wandb = (cfg.get("logger") or {}).get("wandb")
        if wandb and str(wandb.get("_target_", "")).endswith("WandbLogger"):
            given = explicit_name(cfg, launch if launch is not None else Launch.current())
            default = f"eval {train_name} on {data or summary.split} ({summary.protocol})"
            wandb.name = given or default
            wandb.group = group
            wandb.job_type = "eval"
    return config
