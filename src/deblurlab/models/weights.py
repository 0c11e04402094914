"""Load network weights from official release files, deblurlab checkpoints or bare state dicts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from torch import Tensor, nn

from deblurlab.checkpoint import read_checkpoint
from deblurlab.errors import CheckpointError

# Wrappers whose prefixes are stripped: DataParallel/DDP, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Attribute that holds the network inside deblurlab's LightningModule.
_LIGHTNING_PREFIX = "net."


class WeightsMismatchError(CheckpointError):
    """A weight file does not fit the network (missing/unexpected keys or other shapes)."""


def _is_state_dict(obj: object) -> bool:
    return isinstance(obj, Mapping) and all(isinstance(v, Tensor) for v in obj.values())


def _strip(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items()}
    return dict(state)


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read the network state dict stored in ``path``.

    Accepts (a) the official MIMO-UNet release / training format, a dict whose ``"model"`` entry is
    the state dict; (b) a deblurlab Lightning ``.ckpt`` (``"state_dict"`` with the network's keys
    under ``net.``; other entries, e.g. loss buffers, are dropped); (c) a bare state dict. ``module.``
    (DataParallel) and ``_orig_mod.`` (torch.compile) prefixes are stripped. The file is read by
    :func:`deblurlab.checkpoint.read_checkpoint` (``weights_only=True``, CheckpointError naming it).
    """
    obj = read_checkpoint(path)
    if isinstance(obj, Mapping) and _is_state_dict(obj.get("model")):
        state = dict(obj["model"])
    elif isinstance(obj, Mapping) and _is_state_dict(obj.get("state_dict")):
        state = obj["state_dict"]
        if any(k.startswith(_LIGHTNING_PREFIX) for k in state):
            state = {
                k[len(_LIGHTNING_PREFIX) :]: v
                for k, v in state.items()
                if k.startswith(_LIGHTNING_PREFIX)
            }
    elif _is_state_dict(obj):
        state = dict(obj)
    else:
        keys = list(obj)[:5] if isinstance(obj, Mapping) else type(obj).__name__
        raise WeightsMismatchError(
            f"{path}: no state dict found (expected a 'model' or 'state_dict' entry, or a bare "
            f"state dict; got {keys})"
        )
    for prefix in _WRAPPER_PREFIXES:
        state = _strip(state, prefix)
    return state


def _first(items: list[str], n: int = 5) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def load_weights(net: nn.Module, path: str | Path) -> nn.Module:
    """Load the weights in ``path`` into ``net`` strictly and return ``net``.

    See :func:`read_state_dict` for the accepted formats. Raises :class:`WeightsMismatchError`
    with a one-line message naming the file and the first few missing/unexpected keys and shape
    mismatches when the file does not fit the network.
    """
    state = read_state_dict(path)
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys: {_first(missing)}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys: {_first(unexpected)}")
        if shapes:
            problems.append(f"{len(shapes)} shape mismatches (file vs model): {_first(shapes)}")
        raise WeightsMismatchError(
            f"{path} does not fit {type(net).__name__}: " + "; ".join(problems)
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(
            f"{path}: {len(bad)} weight tensors hold NaN or inf (e.g. {bad[0]}); the training "
            "that wrote it diverged, refusing to use it"
        )
    net.load_state_dict(state, strict=True)
    return net
