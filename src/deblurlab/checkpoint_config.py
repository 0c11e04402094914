"""Check the config embedded in a checkpoint before anything in it is built.

A checkpoint may come from anywhere. Its weights are read as tensors only (``weights_only=True``),
but the run config it carries names classes by ``_target_`` that Hydra would import and call:
``builtins.open``, ``torch.load``, ``os.system``, ... Nothing from a checkpoint is instantiated as
given. :func:`check_embedded_config` accepts only what deblurlab itself can build, with the
argument names and value types of those constructors (read from their signatures), and refuses
anything else in one line naming the file and the key:

- ``model.net``: deblurlab's networks (``deblurlab.models.mimo_unet``, ``mimo_unet_plus``,
  ``mimo_unet_pp``, ``sgenet``, and the classes ``MIMOUNet``, ``SGENet``);
- ``model.ensemble``: one of deblurlab's self-ensembles (``rot4``, ``x8``, ``none``) or null;
- ``loss``: deblurlab's losses (``MIMOLoss``, ``SGENetLoss``);
- ``data`` and ``data.source``: deblurlab's DataModule and its sources.

Every other section is kept only when it holds plain values (no ``_target_`` anywhere inside):
:func:`safe_run_config` returns the checked config with such sections dropped, so no later code
can build them by accident.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from deblurlab.errors import CheckpointError

# Sections of an embedded run config that are built from it, and what may be built there.
_BUILT_SECTIONS = ("model", "loss", "data")
ENSEMBLE_CHOICES = (None, "none", "rot4", "x8")
_MODEL_PLAIN_KEYS: dict[str, Any] = {"name": str, "pretrained": str | None, "ensemble": str | None}


# ``{section: {target: signature source}}``: deblurlab's own buildable objects, by name. The
# signature source is the class whose constructor arguments are accepted (the network factories
# pass ``**kwargs`` on to their class). Names are imported only after they matched this table.
_MIMO = "deblurlab.models.MIMOUNet"
_SGENET = "deblurlab.models.SGENet"
_TABLE: dict[str, dict[str, str]] = {
    "net": {
        "deblurlab.models.mimo_unet": _MIMO,
        "deblurlab.models.mimo_unet_plus": _MIMO,
        "deblurlab.models.mimo_unet_pp": _MIMO,
        "deblurlab.models.MIMOUNet": _MIMO,
        "deblurlab.models.sgenet": _SGENET,
        "deblurlab.models.SGENet": _SGENET,
        # the same objects under their defining modules' names
        "deblurlab.models.mimo_unet.mimo_unet": _MIMO,
        "deblurlab.models.mimo_unet.mimo_unet_plus": _MIMO,
        "deblurlab.models.mimo_unet.mimo_unet_pp": _MIMO,
        "deblurlab.models.mimo_unet.MIMOUNet": _MIMO,
        "deblurlab.models.sgenet.sgenet": _SGENET,
        "deblurlab.models.sgenet.SGENet": _SGENET,
    },
    "loss": {
        "deblurlab.losses.MIMOLoss": "deblurlab.losses.MIMOLoss",
        "deblurlab.losses.SGENetLoss": "deblurlab.losses.SGENetLoss",
        "deblurlab.losses.mimo.MIMOLoss": "deblurlab.losses.MIMOLoss",
        "deblurlab.losses.sgenet.SGENetLoss": "deblurlab.losses.SGENetLoss",
    },
    "data": {
        "deblurlab.data.DeblurDataModule": "deblurlab.data.DeblurDataModule",
        "deblurlab.data.datamodule.DeblurDataModule": "deblurlab.data.DeblurDataModule",
    },
    "source": {
        "deblurlab.data.SyntheticBlurSource": "deblurlab.data.SyntheticBlurSource",
        "deblurlab.data.PairedFolderSource": "deblurlab.data.PairedFolderSource",
        "deblurlab.data.synthetic.SyntheticBlurSource": "deblurlab.data.SyntheticBlurSource",
        "deblurlab.data.paired.PairedFolderSource": "deblurlab.data.PairedFolderSource",
    },
}


def _signature_source(name: str) -> Callable[..., Any]:
    """Import one of the table's signature sources (deblurlab's own classes)."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def allowed_targets(section: str) -> list[str]:
    """The ``_target_`` names accepted in ``section`` (``net``, ``loss``, ``data``, ``source``)."""
    return sorted(_TABLE[section])


def _refuse(path: str | Path, key: str, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: embedded config {key}: {why}; refusing to build it")


def _has_target(node: Any) -> bool:
    """True when ``node`` (plain containers) holds a ``_target_`` key anywhere."""
    if isinstance(node, Mapping):
        return "_target_" in node or any(_has_target(v) for v in node.values())
    if isinstance(node, list | tuple):
        return any(_has_target(v) for v in node)
    return False


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether a plain config value fits a constructor annotation (simple, strict rules)."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return not isinstance(value, Mapping)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str or annotation is Path:
        return isinstance(value, str)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(args)
            and all(_type_ok(v, a) for v, a in zip(value, args, strict=True))
        )
    if origin in (tuple, list, Sequence) or annotation in (tuple, list):
        if not isinstance(value, list | tuple):
            return False
        return all(_type_ok(v, args[0]) for v in value) if args else True
    return False  # anything else (objects, protocols) must come as an allow-listed nested config


def _hints(source: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], dict[str, Any]]:
    target = source.__init__ if inspect.isclass(source) else source
    params = dict(inspect.signature(target).parameters)
    params.pop("self", None)
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # an annotation that cannot be evaluated: fall back to "plain values"
        hints = {}
    return params, hints


def _check_node(
    node: Any, section: str, key: str, path: str | Path, nested: dict[str, str]
) -> None:
    """Check one ``{_target_: ..., arg: value}`` node against the allow-list of ``section``."""
    if not isinstance(node, Mapping):
        raise _refuse(path, key, f"expected a mapping with _target_, got {type(node).__name__}")
    table = _TABLE[section]
    target = node.get("_target_")
    if not isinstance(target, str) or target not in table:
        raise _refuse(
            path,
            f"{key}._target_",
            f"{target!r} is not one of deblurlab's {section} classes "
            f"({', '.join(sorted(t for t in table if t.count('.') == 2))})",
        )
    params, hints = _hints(_signature_source(table[target]))
    for name, value in node.items():
        if name == "_target_":
            continue
        if not isinstance(name, str) or name.startswith("_"):
            raise _refuse(path, f"{key}.{name}", "Hydra instantiation keys are not accepted")
        if name not in params or params[name].kind in (
            inspect.Parameter.VAR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            raise _refuse(path, f"{key}.{name}", f"{target} takes no argument {name!r}")
        if name in nested:
            if value is not None:
                _check_node(value, nested[name], f"{key}.{name}", path, {})
            continue
        if isinstance(value, str) and "${" in value:
            raise _refuse(path, f"{key}.{name}", "interpolations are not accepted")
        annotation = hints.get(name, params[name].annotation)
        if _has_target(value) or not _type_ok(value, annotation):
            raise _refuse(
                path,
                f"{key}.{name}",
                f"{value!r} is not a valid value for {target}({name}: "
                f"{getattr(annotation, '__name__', annotation)})",
            )


def _plain(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(cfg, DictConfig | ListConfig):
        try:
            return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]
        except Exception as exc:
            raise CheckpointError(
                f"embedded config cannot be read ({type(exc).__name__})"
            ) from None
    return dict(cfg)


def check_embedded_config(config: DictConfig | Mapping[str, Any], path: str | Path) -> None:
    """Refuse (CheckpointError naming ``path`` and the key) anything deblurlab would not build.

    Checks ``model`` (``net`` target and arguments, ``name``/``pretrained``/``ensemble``),
    ``loss`` and ``data`` (DataModule and source). Other sections are not checked here; see
    :func:`safe_run_config`.
    """
    plain = _plain(config)
    model = plain.get("model")
    if model is not None:
        if not isinstance(model, Mapping):
            raise _refuse(path, "model", "expected a mapping")
        for name, value in model.items():
            if name == "net":
                _check_node(value, "net", "model.net", path, {})
            elif name in _MODEL_PLAIN_KEYS:
                if not _type_ok(value, _MODEL_PLAIN_KEYS[name]):
                    raise _refuse(path, f"model.{name}", f"{value!r} is not a valid value")
                if name == "ensemble" and value not in ENSEMBLE_CHOICES:
                    raise _refuse(
                        path, "model.ensemble", f"{value!r} is not one of none, rot4, x8, null"
                    )
            elif _has_target(value):
                raise _refuse(path, f"model.{name}", "unexpected buildable entry")
    if plain.get("loss") is not None:
        _check_node(plain["loss"], "loss", "loss", path, {})
    if plain.get("data") is not None:
        _check_node(plain["data"], "data", "data", path, {"source": "source"})


def safe_run_config(config: DictConfig | Mapping[str, Any], path: str | Path) -> DictConfig:
    """The embedded config, checked (:func:`check_embedded_config`), with every other section
    that holds a ``_target_`` dropped (trainer, callbacks, loggers, optimizer, ...): what is left
    can be shown, and built, without running anything the checkpoint chose."""
    check_embedded_config(config, path)
    plain = _plain(config)
    kept = {k: v for k, v in plain.items() if k in _BUILT_SECTIONS or not _has_target(v)}
    return OmegaConf.create(kept)
