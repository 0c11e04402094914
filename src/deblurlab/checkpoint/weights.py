"""A network's weights from any file deblurlab reads, and the one check that they fit.

Accepted: (a) the official MIMO-UNet release / training format, a dict whose ``"model"`` entry is
the state dict; (b) a deblurlab Lightning ``.ckpt`` (``"state_dict"``, the network's keys under
``net.``; other entries such as loss buffers are dropped); (c) a bare state dict. ``module.``
(DataParallel) and ``_orig_mod.`` (torch.compile) prefixes are stripped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from deblurlab.checkpoint.files import read_checkpoint
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


def network_state(checkpoint: Any, path: str | Path) -> dict[str, Tensor]:
    """The network's state dict inside an already read ``checkpoint`` (read from ``path``)."""
    if isinstance(checkpoint, Mapping) and _is_state_dict(checkpoint.get("model")):
        state = dict(checkpoint["model"])
    elif isinstance(checkpoint, Mapping) and _is_state_dict(checkpoint.get("state_dict")):
        state = checkpoint["state_dict"]
        if any(k.startswith(_LIGHTNING_PREFIX) for k in state):
            state = {
                k[len(_LIGHTNING_PREFIX) :]: v
                for k, v in state.items()
                if k.startswith(_LIGHTNING_PREFIX)
            }
    elif _is_state_dict(checkpoint):
        state = dict(checkpoint)
    else:
        keys = (
            list(checkpoint)[:5] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        )
        raise WeightsMismatchError(
            f"{path}: no state dict found (expected a 'model' or 'state_dict' entry, or a bare "
            f"state dict; got {keys})"
        )
    for prefix in _WRAPPER_PREFIXES:
        state = _strip(state, prefix)
    return state


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read the network state dict stored in ``path`` (any accepted format, see the module)."""
    return network_state(read_checkpoint(path), path)


def _first(items: list[str], n: int = 5) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def check_fit(
    state: Mapping[str, Tensor],
    module: nn.Module,
    path: str | Path,
    what: str | None = None,
    hint: str = "",
    finite: bool = True,
) -> None:
    """Refuse, in one line naming ``path``, a state dict that does not fit ``module`` exactly
    (the first few missing/unexpected keys and shape mismatches, then ``hint``), or, with
    ``finite``, that holds NaN or inf.

    ``what`` names the module in the message (default: its class name)."""
    expected = module.state_dict()
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
        if hint:
            problems.append(hint)
        raise WeightsMismatchError(
            f"{path}: does not fit {what or type(module).__name__}: " + "; ".join(problems)
        )
    if not finite:
        return
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(
            f"{path}: {len(bad)} weight tensors hold NaN or inf (e.g. {bad[0]}); the training "
            "that wrote it diverged, refusing to use it"
        )


def load_state(net: nn.Module, state: Mapping[str, Tensor], path: str | Path) -> nn.Module:
    """Check that ``state`` (read from ``path``) fits ``net`` (:func:`check_fit`), load it, return
    ``net``."""
    check_fit(state, net, path)
    net.load_state_dict(state, strict=True)
    return net


def load_weights(net: nn.Module, path: str | Path) -> nn.Module:
    """Load the weights in ``path`` (any accepted format) into ``net`` strictly and return ``net``.

    Raises :class:`WeightsMismatchError` with a one-line message naming the file and the first few
    missing/unexpected keys and shape mismatches when the file does not fit the network.
    """
    return load_state(net, read_state_dict(path), path)
