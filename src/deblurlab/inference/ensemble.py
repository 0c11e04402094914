"""Geometric self-ensemble (MIMO-UNet++ = MIMO-UNet+ with the ``rot4`` ensemble)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

Transform = tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]  # (forward, inverse)


def _rot90(x: Tensor, k: int) -> Tensor:
    """``torch.rot90(x, k, (-2, -1))`` written as flips and a transpose (the same permutation of
    pixels, bit for bit), so that ONNX export works (the ONNX exporter has no ``rot90``)."""
    k %= 4
    if k == 1:
        return x.flip(-1).transpose(-2, -1)
    if k == 2:
        return x.flip(-2, -1)
    if k == 3:
        return x.transpose(-2, -1).flip(-1)
    return x


def _rot(k: int) -> Transform:
    return (lambda x: _rot90(x, k), lambda y: _rot90(y, -k))


def _flip_transpose(h: bool, v: bool, t: bool) -> Transform:
    dims = [d for d, on in ((-1, h), (-2, v)) if on]

    def forward(x: Tensor) -> Tensor:
        x = torch.flip(x, dims) if dims else x
        return x.transpose(-2, -1) if t else x

    def inverse(y: Tensor) -> Tensor:
        y = y.transpose(-2, -1) if t else y
        return torch.flip(y, dims) if dims else y

    return forward, inverse


def _groups(mode: str) -> list[list[Transform]]:
    """Transforms grouped so that every group gives inputs of one shape (batched together)."""
    if mode == "rot4":  # the author's MIMO-UNet++: rotations only, no flips
        return [[_rot(0), _rot(2)], [_rot(1), _rot(3)]]
    if mode == "x8":  # EDSR: every combination of h-flip, v-flip and transpose
        return [
            [_flip_transpose(h, v, t) for h in (False, True) for v in (False, True)]
            for t in (False, True)
        ]
    raise ValueError(f"mode must be 'rot4' or 'x8', got {mode!r}")


class SelfEnsemble(nn.Module):
    """Average a network's full-size output over flips/rotations of the input.

    ``SelfEnsemble(net)(x)`` returns a list with one item, the mean of
    ``inverse_t(net(t(x))[-1])`` over the transforms ``t``:

    - ``"rot4"``: rotations by 0, 90, 180 and 270 degrees (MIMO-UNet++, per the authors); 0 and 180
      run as one batch, 90 and 270 as another.
    - ``"x8"``: the 8 flips/transposes of EDSR's geometric self-ensemble, two batches of 4.

    Args:
        net: any deblurlab network (``net(x)`` returns a list, the last item full size).
        mode: ``"rot4"`` or ``"x8"``.
        batch: run the transforms of one shape as a single batch (False: one at a time, less memory).
    """

    def __init__(self, net: nn.Module, mode: Literal["rot4", "x8"] = "rot4", batch: bool = True):
        super().__init__()
        self._groups = _groups(mode)
        self.net, self.mode, self.batch = net, mode, batch
        self.size_multiple = getattr(net, "size_multiple", 1)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Return ``[mean over transforms of the restored full-size image]``."""
        total = None
        count = 0
        for group in self._groups:
            if self.batch:
                outs = self.net(torch.cat([fwd(x) for fwd, _ in group]))[-1].chunk(len(group))
            else:
                outs = [self.net(fwd(x))[-1] for fwd, _ in group]
            for (_, inv), out in zip(group, outs, strict=True):
                y = inv(out)
                total = y if total is None else total + y
                count += 1
        return [total / count]

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, batch={self.batch}"
