"""The one 8-bit rounding rule of deblurlab: clamp to [0, 1], then round half up.

``floor(x * 255 + 0.5)`` is what the GoPro/HIDE evaluation scripts' saved PNGs hold (MATLAB's
``im2uint8`` and ``uint8(x * 255)`` round half away from zero, which for non-negative values is
half up). numpy's ``np.round`` and ``torch.round`` round half to even and are never used for this.
Every path that turns floats into 8-bit levels (protocol scoring, written images, image grids,
the built-in synthetic data) goes through these two functions.
"""

from __future__ import annotations

import numpy as np
import torch


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """Float tensor -> the same tensor on the 256 levels ``k / 255`` (clamped, half up)."""
    return torch.floor(x.clamp(0.0, 1.0) * 255.0 + 0.5) / 255.0


def to_uint8(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A float image in [0, 1] (numpy array or tensor, any layout) -> uint8 levels, half up.

    Tensors are detached and moved to the CPU; the layout is kept (callers permute).
    """
    if isinstance(image, torch.Tensor):
        levels = torch.floor(image.detach().float().clamp(0.0, 1.0) * 255.0 + 0.5)
        return levels.to(torch.uint8).cpu().numpy()
    array = np.asarray(image, dtype=np.float64)
    return np.clip(np.floor(array * 255.0 + 0.5), 0, 255).astype(np.uint8)
