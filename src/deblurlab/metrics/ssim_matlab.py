"""SSIM as MATLAB's ``ssim`` computes it on an H x W x 3 array: one 3-D volume, not 3 channels.

MATLAB's ``ssim(A, ref)`` on an RGB array (what the GoPro/HIDE evaluation scripts of the
MPRNet / MIMO-UNet lineage call on the 8-bit images) treats the array as a volume:

- a 3-D Gaussian window (sigma 1.5 along rows, columns *and* channels), ``2 * ceil(3 * sigma) + 1 = 11``
  taps per axis, normalised;
- replicate padding at every border (so the map has the full image size, channels included: the
  channel axis of length 3 is padded by repeating its first/last channel);
- constants ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with the dynamic range ``L`` (255 for uint8);
  population (filter-weighted) variances;
- the mean of the whole map.

Scaling images and ``L`` together leaves the value unchanged, so images in [0, 1] with ``L = 1``
give the same number as their 8-bit values with ``L = 255``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MATLAB_SIGMA = 1.5


def matlab_gaussian_kernel1d(sigma: float = MATLAB_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian taps of MATLAB's ssim window: radius ``ceil(3 sigma)``."""
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter3d(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable 3-D Gaussian filter of a B x 1 x C x H x W volume, replicate borders, same size."""
    r = (k.numel() - 1) // 2
    v = F.pad(v, (r, r, r, r, r, r), mode="replicate")
    v = F.conv3d(v, k.view(1, 1, -1, 1, 1))
    v = F.conv3d(v, k.view(1, 1, 1, -1, 1))
    return F.conv3d(v, k.view(1, 1, 1, 1, -1))


def ssim_matlab(
    pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, sigma: float = MATLAB_SIGMA
) -> torch.Tensor:
    """MATLAB-style 3-D SSIM of each image of a batch (B x C x H x W) -> B values (float64).

    The channel axis is part of the volume (see the module docstring); any image size works, since
    borders are replicated rather than cropped.
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"need two B x C x H x W batches, got {pred.shape} and {target.shape}")
    x, y = pred.double()[:, None], target.double()[:, None]
    k = matlab_gaussian_kernel1d(sigma).to(x.device)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx, my = _filter3d(x, k), _filter3d(y, k)
    vx = _filter3d(x * x, k) - mx * mx
    vy = _filter3d(y * y, k) - my * my
    cxy = _filter3d(x * y, k) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return smap.flatten(1).mean(dim=1)
