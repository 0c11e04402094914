"""Element-wise pixel losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error over all elements (``nn.L1Loss()``)."""
    return F.l1_loss(pred, target)


def charbonnier_loss(pred: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """Mean of ``sqrt((pred - target)^2 + eps^2)``."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()
