"""Named evaluation protocols: how outputs are prepared before PSNR/SSIM (see docs/evaluation.md)."""

from __future__ import annotations

import numpy as np
import torch

from deblurlab.metrics.image_quality import psnr, quantize_8bit, ssim

PROTOCOLS: dict[str, str] = {
    "gopro": "clamp, round to 8 bits, RGB PSNR per image; SSIM = per-channel Gaussian (sigma 1.5) mean",
    "float": "clamped float output, RGB PSNR per image (the MIMO-UNet authors' script); same SSIM",
}


def check_protocol(protocol: str) -> str:
    """Return ``protocol`` if known, else raise a ValueError listing the known ones."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    return protocol


def batch_scores(
    pred: torch.Tensor, target: torch.Tensor, protocol: str = "gopro"
) -> dict[str, torch.Tensor]:
    """PSNR and SSIM of each image of a batch (B x 3 x H x W floats in [0, 1]) under ``protocol``."""
    check_protocol(protocol)
    if protocol == "gopro":
        pred, target = quantize_8bit(pred), quantize_8bit(target)
    else:
        pred, target = pred.clamp(0.0, 1.0), target.clamp(0.0, 1.0)
    return {"psnr": psnr(pred, target), "ssim": ssim(pred, target)}


def evaluate_pair(output: np.ndarray, target: np.ndarray, protocol: str = "gopro") -> dict[str, float]:
    """Score one H x W x 3 image pair (uint8, or float in [0, 1]) -> {"psnr": ..., "ssim": ...}."""

    def as_tensor(a: np.ndarray) -> torch.Tensor:
        a = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]

    if output.shape != target.shape:
        raise ValueError(f"output {output.shape} and target {target.shape} differ in shape")
    scores = batch_scores(as_tensor(output), as_tensor(target), protocol)
    return {k: float(v[0]) for k, v in scores.items()}
