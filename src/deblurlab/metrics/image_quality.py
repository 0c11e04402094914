"""Per-image PSNR and SSIM in torch (batched), the building blocks of every protocol.

SSIM is the per-channel Gaussian SSIM (sigma 1.5, 11 taps, K1 0.01, K2 0.03, population
covariance) averaged over channels, computed on the interior where the window fits: the same
numbers as ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, channel_axis=-1, data_range=...)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR of each image of a batch (B x C x H x W) -> B values (inf for identical images)."""
    diff = (pred.double() - target.double()).flatten(1)
    mse = diff.pow(2).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_kernel1d(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    """Normalised 1-D Gaussian taps with SciPy's radius rule ``int(truncate * sigma + 0.5)``."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter applied to every channel independently."""
    c = x.shape[1]
    kh = k.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    kw = k.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    return F.conv2d(F.conv2d(x, kh, groups=c), kw, groups=c)


def ssim_map(
    pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, sigma: float = 1.5
) -> torch.Tensor:
    """The SSIM map (B x C x h x w, interior only) in float64."""
    x, y = pred.double(), target.double()
    k = gaussian_kernel1d(sigma).to(x.device)
    if min(x.shape[-2:]) < k.numel():
        raise ValueError(f"SSIM needs images of at least {k.numel()} px, got {tuple(x.shape[-2:])}")
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx, my = _filter(x, k), _filter(y, k)
    vx = _filter(x * x, k) - mx * mx
    vy = _filter(y * y, k) - my * my
    cxy = _filter(x * y, k) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(
    pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, sigma: float = 1.5
) -> torch.Tensor:
    """Per-channel Gaussian SSIM averaged over channels, for each image of a batch -> B values."""
    return ssim_map(pred, target, data_range, sigma).mean(dim=(1, 2, 3))


def masked_psnr(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, data_range: float = 1.0
) -> torch.Tensor:
    """PSNR over the pixels where ``mask`` is 1, for each image of a batch -> B values.

    The squared error is summed over the masked elements (every channel) and divided by the sum of
    the mask (B x C x H x W, same shape as the images): RealBlur's masked PSNR.
    """
    m = mask.double()
    err = ((pred.double() - target.double()).pow(2) * m).flatten(1).sum(1) / m.flatten(1).sum(1)
    return 10.0 * torch.log10(data_range**2 / err)


def masked_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    data_range: float = 1.0,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean of the SSIM map over the pixels where ``mask`` is 1, per channel, then over channels.

    The map is the per-channel Gaussian SSIM map on the interior where the window fits, i.e. the
    full map with a border of the window radius (5 px for sigma 1.5) dropped; the mask is cropped
    the same way. This is RealBlur's masked SSIM when ``pred`` and ``target`` are the masked images.
    """
    smap = ssim_map(pred, target, data_range, sigma)
    r = (mask.shape[-1] - smap.shape[-1]) // 2
    m = mask[..., r : mask.shape[-2] - r, r : mask.shape[-1] - r].double()
    per_channel = (smap * m).sum(dim=(-2, -1)) / m.sum(dim=(-2, -1))
    return per_channel.mean(dim=1)
