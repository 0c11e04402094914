"""The best single linear filter: a yardstick for what a network learned.

A fixed k x k convolution (one kernel shared by the three colour channels, plus a constant) is
fitted by least squares to map blurry training pixels to their sharp values. Any deblurring that a
single linear filter can do (sharpening, a fixed inverse of an average blur) it does; a network's
gain above this one's on the same images is what no fixed filter can give.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F


class LinearFilterFit:
    """Accumulates the least-squares normal equations over pairs, then solves for the filter.

    Args:
        size: the kernel's side (odd).
        ridge: a small multiple of the identity added before solving, for stability.
    """

    def __init__(self, size: int = 15, ridge: float = 1e-6) -> None:
        if size < 1 or size % 2 == 0:
            raise ValueError(f"linear filter size must be odd and positive, got {size}")
        self.size, self.ridge = size, ridge
        n = size * size + 1
        self.gram = torch.zeros(n, n, dtype=torch.float64)
        self.rhs = torch.zeros(n, dtype=torch.float64)
        self.pixels = 0

    def add(self, blur: torch.Tensor, sharp: torch.Tensor) -> None:
        """Add a batch (B x C x H x W floats in [0, 1]); border pixels whose window leaves the
        image are left out, so nothing depends on a padding rule."""
        k, r = self.size, self.size // 2
        b, c, h, w = blur.shape
        if h < k or w < k:
            return
        cols = F.unfold(blur.double().reshape(b * c, 1, h, w), k)  # (B*C, k*k, L)
        rows = cols.permute(0, 2, 1).reshape(-1, k * k)
        rows = torch.cat([rows, torch.ones(len(rows), 1, dtype=rows.dtype)], 1)
        target = sharp.double()[..., r : h - r, r : w - r].reshape(-1)
        self.gram += rows.T @ rows
        self.rhs += rows.T @ target
        self.pixels += len(target)

    def solve(self) -> LinearFilter:
        """The filter that minimises the squared error over every pixel added."""
        if self.pixels == 0:
            raise ValueError("no pixels to fit a linear filter to")
        eye = torch.eye(len(self.gram), dtype=self.gram.dtype)
        scale = float(self.gram.diagonal().mean())
        weights = torch.linalg.solve(self.gram + self.ridge * scale * eye, self.rhs)
        kernel = weights[:-1].reshape(self.size, self.size).float()
        return LinearFilter(kernel, float(weights[-1]))


class LinearFilter:
    """A k x k kernel and a constant applied to every colour channel alike."""

    def __init__(self, kernel: torch.Tensor, bias: float) -> None:
        self.kernel, self.bias = kernel, bias

    def __call__(self, blur: torch.Tensor) -> torch.Tensor:
        """Filter a batch (B x C x H x W); borders are reflected so the output keeps its size."""
        r = self.kernel.shape[0] // 2
        b, c, h, w = blur.shape
        flat = blur.float().reshape(b * c, 1, h, w)
        mode = "reflect" if min(h, w) > r else "replicate"
        padded = F.pad(flat, (r, r, r, r), mode=mode)
        weight = self.kernel.to(blur.device)[None, None]
        return (F.conv2d(padded, weight) + self.bias).reshape(b, c, h, w).clamp(0, 1)


def fit_linear_filter(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], size: int = 15
) -> LinearFilter:
    """Least-squares filter over ``(blur, sharp)`` batches."""
    fit = LinearFilterFit(size)
    for blur, sharp in pairs:
        fit.add(blur, sharp)
    return fit.solve()
