"""The machine's arithmetic ceiling: fp32 multiply-adds per second of a large matrix product.

Convolutions in oneDNN (and cuDNN) are matrix products in disguise, so a square fp32 matmul is
about the most any fp32 convolution path reaches on the machine (within a few percent either way). Printed at the
head of ``deblurlab-bench`` and set beside every inference time (``% of matmul``), it shows how
far each path is from the hardware, and whether a speed-up target is reachable at all without
doing less arithmetic.
"""

from __future__ import annotations

import torch

from deblurlab.timing import median_seconds


def matmul_gmacs(device: str = "cpu", n: int = 2048, repeats: int = 5) -> float:
    """Median fp32 GMAC/s of an ``n x n`` by ``n x n`` matrix product on ``device``."""
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=generator).to(device)
    b = torch.rand(n, n, generator=generator).to(device)
    seconds = median_seconds(lambda: a @ b, repeats=repeats, warmup=2, device=device)
    return n**3 / seconds / 1e9
