"""Charbonnier loss (a smooth L1), mean-reduced over every element as in MPRNet."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def charbonnier(pred: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """Mean over all elements (batch, channels, pixels) of ``sqrt((pred - target)^2 + eps^2)``."""
    diff = pred - target
    return torch.sqrt(diff * diff + eps * eps).mean()


class CharbonnierLoss(nn.Module):
    """Module form of :func:`charbonnier`."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return charbonnier(pred, target, self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
