"""Names -> constructors: what a checkpoint's config may ask deblurlab to build.

A checkpoint's embedded config names classes by ``_target_``; building them would import and
call whatever the file's author chose. Only these names are ever built from a checkpoint:

- deblurlab's own networks, losses, DataModule and data sources;
- every optimizer in ``torch.optim`` and every LR schedule in ``torch.optim.lr_scheduler``
  (found by walking those modules, so a torch upgrade brings its new ones);
- what an installed package registers in the entry-point group ``deblurlab.registry``
  (installing that package is the decision to trust it);
- the names the user passes on the loading command's own line (``trust=[mypkg.nets.MyNet]``).

A name is looked up as a string first; nothing is imported for a name that is neither
registered nor trusted. Argument names are checked against the constructor's signature
(:func:`inspect.Signature.bind`, ``bind_partial`` for ``_partial_`` nodes); values are the
constructors' to check.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from deblurlab.errors import CheckpointError

ENTRY_POINT_GROUP = "deblurlab.registry"

# deblurlab's own buildable objects: public package -> {defining submodule: names}. Each is
# registered under both spellings (``deblurlab.models.mimo_unet`` and
# ``deblurlab.models.mimo_unet.mimo_unet``), imported only when a config names it.
_OWN: dict[str, dict[str, tuple[str, ...]]] = {
    "deblurlab.models": {
        "mimo_unet": ("MIMOUNet", "mimo_unet", "mimo_unet_plus", "mimo_unet_pp"),
        "sgenet": ("SGENet", "sgenet"),
    },
    "deblurlab.losses": {"mimo": ("MIMOLoss",), "sgenet": ("SGENetLoss",)},
    "deblurlab.data": {
        "datamodule": ("DeblurDataModule",),
        "synthetic": ("SyntheticBlurSource",),
        "paired": ("PairedFolderSource",),
    },
}
# Hydra keys a checkpoint may use: the rest (``_args_``, ``_recursive_``, ``_convert_``, ...)
# change how things are built and are refused.
_NODE_KEYS = ("_target_", "_partial_")


def _torch_classes(module_name: str, bases: tuple[str, ...], base: str) -> dict[str, str]:
    """``{dotted name: "module:attr"}`` of the public subclasses of ``bases`` in a torch module,
    leaving out the abstract ``base``."""
    module = importlib.import_module(module_name)
    base_types = tuple(getattr(module, b) for b in bases)
    return {
        f"{module_name}.{name}": f"{module_name}:{name}"
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, base_types)
        and obj is not getattr(module, base)
        and not name.startswith("_")
    }


@functools.cache
def registered() -> dict[str, str]:
    """Every registered name, ``{dotted name: "module:attr"}`` (nothing is imported for it)."""
    table: dict[str, str] = {}
    for package, modules in _OWN.items():
        for submodule, names in modules.items():
            for name in names:
                table[f"{package}.{name}"] = f"{package}.{submodule}:{name}"
                table[f"{package}.{submodule}.{name}"] = f"{package}.{submodule}:{name}"
    table.update(_torch_classes("torch.optim", ("Optimizer",), "Optimizer"))
    # ReduceLROnPlateau is not an LRScheduler in every torch version
    schedules = ("LRScheduler", "ReduceLROnPlateau")
    table.update(_torch_classes("torch.optim.lr_scheduler", schedules, "LRScheduler"))
    for point in entry_points(group=ENTRY_POINT_GROUP):
        # the entry point's name is the spelling configs use; its value is where the object lives
        table[point.name] = point.value
        table[point.value.replace(":", ".")] = point.value
    return table


def is_registered(name: str) -> bool:
    """True when configs may name ``name`` for a checkpoint to be rebuilt without ``trust=``."""
    return name in registered()


def _import(reference: str) -> Any:
    """The object at ``"module:attr"`` or ``"module.attr"`` (an attribute path after the colon)."""
    module, sep, attr = reference.partition(":")
    if not sep:
        module, _, attr = reference.rpartition(".")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def refusal(origin: str, key: str, target: str) -> CheckpointError:
    """The one-line refusal of an unregistered, untrusted ``_target_``."""
    return CheckpointError(
        f"{origin}: embedded config {key}._target_: {target!r} is not registered with deblurlab, "
        f"refusing to build it; allow it by installing a package that registers it (entry-point "
        f"group {ENTRY_POINT_GROUP!r}) or by naming it on this command: trust=[{target}]"
    )


def _refuse(origin: str, key: str, why: str) -> CheckpointError:
    return CheckpointError(f"{origin}: embedded config {key}: {why}; refusing to build it")


def constructor(target: Any, key: str, origin: str, trust: Iterable[str] = ()) -> Callable:
    """The callable ``target`` names, when it is registered or in ``trust``; else the refusal.

    Only then is its module imported; an import failure is one line naming the key.
    """
    if not isinstance(target, str) or not target:
        raise _refuse(origin, f"{key}._target_", f"expected a dotted name, got {target!r}")
    reference = registered().get(target) or (target if target in set(trust) else None)
    if reference is None:
        raise refusal(origin, key, target)
    try:
        obj = _import(reference)
    except (ImportError, AttributeError) as exc:
        raise _refuse(origin, f"{key}._target_", f"cannot import {target} ({exc})") from None
    if not callable(obj):
        raise _refuse(origin, f"{key}._target_", f"{target} is not a class or function")
    return obj


def _signature(obj: Callable) -> inspect.Signature:
    """The constructor's signature; a factory taking only ``**kwargs`` that declares the class it
    returns (``def mimo_unet(**kwargs) -> MIMOUNet``) is checked against that class."""
    signature = inspect.signature(obj)
    kinds = {p.kind for p in signature.parameters.values()}
    if kinds == {inspect.Parameter.VAR_KEYWORD} and not inspect.isclass(obj):
        try:
            returned = inspect.signature(obj, eval_str=True).return_annotation
        except Exception:  # an annotation that cannot be evaluated: keep **kwargs
            return signature
        if inspect.isclass(returned):
            return inspect.signature(returned)
    return signature


def _is_node(value: Any) -> bool:
    return isinstance(value, Mapping) and "_target_" in value


def check(node: Any, key: str, origin: str, trust: Iterable[str] = ()) -> None:
    """Refuse (one line naming ``origin`` and the key) anything in ``node`` that deblurlab would
    not build: unregistered targets, Hydra keys other than ``_target_``/``_partial_``, argument
    names the constructor does not take, interpolations. Nested nodes are checked the same way."""
    trust = tuple(trust)
    if isinstance(node, str) and "${" in node:
        raise _refuse(origin, key, "interpolations are not accepted")
    if isinstance(node, list | tuple):
        for i, item in enumerate(node):
            check(item, f"{key}[{i}]", origin, trust)
        return
    if not isinstance(node, Mapping):
        return
    for name in node:
        if not isinstance(name, str) or (name.startswith("_") and name not in _NODE_KEYS):
            raise _refuse(origin, f"{key}.{name}", "Hydra instantiation keys are not accepted")
    arguments = {k: v for k, v in node.items() if k not in _NODE_KEYS}
    for name, value in arguments.items():
        check(value, f"{key}.{name}", origin, trust)
    if not _is_node(node):
        return
    partial = node.get("_partial_", False)
    if not isinstance(partial, bool):
        raise _refuse(origin, f"{key}._partial_", f"expected true or false, got {partial!r}")
    target = node["_target_"]
    obj = constructor(target, key, origin, trust)
    try:
        signature = _signature(obj)
    except (TypeError, ValueError):  # a builtin without a signature: the call will tell
        return
    try:
        (signature.bind_partial if partial else signature.bind)(**arguments)
    except TypeError as exc:
        raise _refuse(origin, key, f"{target}: {exc}") from None


def _build(node: Any, key: str, origin: str, trust: tuple[str, ...]) -> Any:
    if isinstance(node, list | tuple):
        return [_build(v, f"{key}[{i}]", origin, trust) for i, v in enumerate(node)]
    if not isinstance(node, Mapping):
        return node
    arguments = {
        k: _build(v, f"{key}.{k}", origin, trust) for k, v in node.items() if k not in _NODE_KEYS
    }
    if not _is_node(node):
        return arguments
    obj = constructor(node["_target_"], key, origin, trust)
    if node.get("_partial_", False):
        return functools.partial(obj, **arguments)
    try:
        return obj(**arguments)
    except (TypeError, ValueError, RuntimeError, MemoryError) as exc:  # e.g. a size to allocate
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _refuse(origin, key, f"{node['_target_']}: {detail}") from None


def build(node: Any, key: str, origin: str, trust: Iterable[str] = ()) -> Any:
    """Check ``node`` (:func:`check`) and build it: ``{_target_: name, arg: value}`` calls the
    registered constructor, ``_partial_: true`` gives a :func:`functools.partial`, nested nodes are
    built first. A constructor's refusal of a value (TypeError, ValueError; RuntimeError or
    MemoryError for a size that cannot be allocated) is one line naming ``origin`` and the key."""
    trust = tuple(trust)
    check(node, key, origin, trust)
    return _build(node, key, origin, trust)


def unregistered_targets(node: Any, key: str) -> list[tuple[str, str]]:
    """``(key, target)`` of every ``_target_`` in ``node`` that is not registered."""
    found: list[tuple[str, str]] = []
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if isinstance(target, str) and not is_registered(target):
            found.append((key, target))
        for name, value in node.items():
            found += unregistered_targets(value, f"{key}.{name}")
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            found += unregistered_targets(value, f"{key}[{i}]")
    return found
