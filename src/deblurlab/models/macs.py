"""Multiply-accumulate counts of a network's forward pass, without running it.

Counted with ``torch.utils.flop_counter.FlopCounterMode`` on a copy of the network moved to the
``meta`` device, so no arithmetic is done and no memory is allocated: counting full-size SGENet at
720x1280 takes about a second. FlopCounterMode counts 2 FLOPs per multiply-add of convolutions and
matrix products (and nothing for element-wise ops), so MACs = FLOPs / 2, the convention of fvcore
and of the papers' "MACs" / "GMACs" columns.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# The size the deblurring literature quotes MACs at (the released MIMO-UNet: 63.7 G at 256 x 256).
REFERENCE_SIZE: tuple[int, int] = (256, 256)


def count_macs(net: nn.Module, size: tuple[int, int] = REFERENCE_SIZE, batch: int = 1) -> int:
    """Multiply-accumulates of one ``net(x)`` with ``x`` of shape ``batch x 3 x H x W``.

    ``net`` itself is left untouched (a copy is counted on the meta device, in eval mode, so that
    training-only branches such as dropout do not change the count).
    """
    height, width = size
    if height <= 0 or width <= 0 or batch <= 0:
        raise ValueError(f"size and batch must be positive, got size={size}, batch={batch}")
    ghost = copy.deepcopy(net).to("meta").eval()
    x = torch.empty(batch, 3, height, width, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        ghost(x)
    return int(counter.get_total_flops()) // 2
