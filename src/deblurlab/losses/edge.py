"""Laplacian edge loss (MPRNet's construction): Charbonnier between Laplacian-pyramid residuals."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .charbonnier import charbonnier

GAUSS_TAPS = (0.05, 0.25, 0.4, 0.25, 0.05)


def gaussian_kernel() -> Tensor:
    """The 1 x 1 x 5 x 5 kernel ``g g^T`` of the 5-tap binomial-like filter (sums to 1)."""
    g = torch.tensor(GAUSS_TAPS, dtype=torch.float64)
    return torch.outer(g, g)[None, None].to(torch.float32)


def gauss_blur(x: Tensor, kernel: Tensor) -> Tensor:
    """Replicate-pad by 2 on every side, then the 5x5 kernel depthwise on every channel."""
    channels = x.shape[1]
    weight = kernel.to(device=x.device, dtype=x.dtype).expand(channels, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), weight, groups=channels)


def laplacian_residual(x: Tensor, kernel: Tensor | None = None) -> Tensor:
    """One Laplacian-pyramid level: ``x - blur(up(down(blur(x))))``.

    ``down`` keeps the even rows and columns; ``up`` inserts zeros and scales the kept samples
    by 4 (the kernel's gain lost to zero insertion). Exactly MPRNet's construction, including a
    quirk: the zero-inserted image is replicate-padded, so the residual of a constant image is
    zero only away from the 2-pixel border (on the border it is not).
    """
    if kernel is None:
        kernel = gaussian_kernel()
    blurred = gauss_blur(x, kernel)
    upsampled = torch.zeros_like(blurred)
    upsampled[:, :, ::2, ::2] = 4 * blurred[:, :, ::2, ::2]
    return x - gauss_blur(upsampled, kernel)


class LaplacianEdgeLoss(nn.Module):
    """``charbonnier(lap(pred), lap(target), eps)`` with :func:`laplacian_residual`.

    The kernel is a non-persistent buffer (kept out of checkpoints); it is cast to the input's
    device and dtype on every call, so the loss works wherever its inputs are.
    """

    kernel: Tensor

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = float(eps)
        self.register_buffer("kernel", gaussian_kernel(), persistent=False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return charbonnier(
            laplacian_residual(pred, self.kernel), laplacian_residual(target, self.kernel), self.eps
        )

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
