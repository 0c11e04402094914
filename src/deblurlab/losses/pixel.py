"""Element-wise pixel losses (Charbonnier lives in ``charbonnier.py``)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error over all elements (``nn.L1Loss()``)."""
    return F.l1_loss(pred, target)
