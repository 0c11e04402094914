"""Named evaluation protocols: how outputs are prepared before PSNR/SSIM (see docs/evaluation.md).

``evaluate_pair`` is the one implementation of every protocol; ``batch_scores`` applies the same
steps to batches of torch images (validation, eval) and, for ``realblur``, hands each image to
``evaluate_pair``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from deblurlab.metrics.image_quality import masked_psnr, masked_ssim, psnr, ssim
from deblurlab.metrics.realblur_align import align_to_target
from deblurlab.metrics.ssim_matlab import ssim_matlab
from deblurlab.quantize import quantize_8bit, to_uint8

PROTOCOLS: dict[str, str] = {
    "gopro": "clamp, round to 8 bits, RGB PSNR per image (GoPro/HIDE tables)",
    "float": "clamped float output, RGB PSNR per image (the MIMO-UNet authors' script)",
    "realblur": (
        "8-bit images, least-squares gain, ECC homography alignment, masked RGB PSNR/SSIM "
        "(RealBlur tables)"
    ),
}

# What "ssim" means under each protocol. The gopro protocol also reports "ssim_matlab" (MATLAB's
# 3-D SSIM of the 8-bit RGB volume, the SSIM of the published GoPro/HIDE tables): SSIM_MATLAB.
SSIM_MATLAB = (
    "MATLAB ssim on the H x W x 3 volume: 3-D Gaussian (sigma 1.5, 11 taps per axis), replicate "
    "borders, mean over the whole map"
)
# Protocols that report ssim_matlab beside ssim.
MATLAB_SSIM_PROTOCOLS: tuple[str, ...] = ("gopro",)

SSIM_VARIANTS: dict[str, str] = {
    "gopro": "per-channel Gaussian SSIM (sigma 1.5, population covariance), mean over channels",
    "float": "per-channel Gaussian SSIM (sigma 1.5, population covariance), mean over channels",
    "realblur": (
        "per-channel Gaussian SSIM (sigma 1.5, population covariance), masked mean with a 5 px "
        "border dropped, mean over channels"
    ),
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
    if protocol == "realblur":
        # RealBlur scores the saved 8-bit images, one at a time (alignment is per image).
        rows = [
            evaluate_pair(_to_uint8(p), _to_uint8(t), "realblur")
            for p, t in zip(pred, target, strict=True)
        ]
        return {
            key: torch.tensor([r[key] for r in rows], dtype=torch.float64, device=pred.device)
            for key in ("psnr", "ssim")
        }
    if protocol == "gopro":
        pred, target = quantize_8bit(pred), quantize_8bit(target)
        return {
            "psnr": psnr(pred, target),
            "ssim": ssim(pred, target),
            "ssim_matlab": ssim_matlab(pred, target),
        }
    pred, target = pred.clamp(0.0, 1.0), target.clamp(0.0, 1.0)
    return {"psnr": psnr(pred, target), "ssim": ssim(pred, target)}


def evaluate_pair(
    output: np.ndarray, target: np.ndarray, protocol: str = "gopro"
) -> dict[str, float]:
    """Score one H x W x 3 RGB image pair (uint8, or float in [0, 1]) -> {"psnr": ..., "ssim": ...}.

    - ``gopro``: clamp, round to 8 bits (half up), PSNR over all RGB values, per-channel SSIM
      and (``ssim_matlab``) MATLAB's 3-D SSIM of the RGB volume.
    - ``float``: clamp only (no rounding), then the same PSNR and SSIM.
    - ``realblur``: 8-bit images (floats are rounded first) as float32 in [0, 1]; output scaled by
      the least-squares gain; ECC homography onto the target; masked PSNR and masked SSIM.
    """
    check_protocol(protocol)
    if output.shape != target.shape:
        raise ValueError(f"output {output.shape} and target {target.shape} differ in shape")
    if protocol == "realblur" and output.dtype == np.uint8 and target.dtype == np.uint8:
        return _realblur(output, target)
    # (for realblur, batch_scores rounds float images to 8 bits and comes back here)
    scores = batch_scores(*_tensors(output, target), protocol)
    return {k: float(v[0]) for k, v in scores.items()}


def _realblur(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """RealBlur's score of two uint8 images."""
    a = align_to_target(output.astype(np.float32) / 255.0, target.astype(np.float32) / 255.0)
    out, tgt, mask = _tensors(a.output, a.target, a.mask)
    return {
        "psnr": float(masked_psnr(out, tgt, mask)[0]),
        "ssim": float(masked_ssim(out, tgt, mask)[0]),
    }


def _as_tensor(a: np.ndarray) -> torch.Tensor:
    """H x W x 3 array as a 1 x 3 x H x W tensor: uint8 -> float64 / 255, floats keep their type
    (so 8-bit rounding decides levels exactly as it does on the same tensor in ``batch_scores``)."""
    a = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def _tensors(*arrays: np.ndarray) -> list[torch.Tensor]:
    """The arrays as tensors of one dtype (the widest float among them)."""
    tensors = [_as_tensor(a) for a in arrays]
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    return [t.to(dtype) for t in tensors]


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """3 x H x W float tensor -> H x W x 3 uint8 (the 8-bit PNG a protocol would read)."""
    return to_uint8(x.permute(1, 2, 0))


def per_image_records(
    names: list[str],
    scores: dict[str, torch.Tensor],
    inputs: dict[str, torch.Tensor],
    seconds: float,
) -> list[dict[str, float | str]]:
    """One row per image (``per_image.csv``): name, output and blurry-input scores (``ssim_matlab``
    too when the protocol reports it), and the batch's forward time shared equally among its
    images."""
    keys = [k for k in ("psnr", "ssim", "ssim_matlab") if k in scores]
    rows: list[dict[str, float | str]] = []
    for i, name in enumerate(names):
        row: dict[str, float | str] = {"name": name}
        row.update({k: float(scores[k][i]) for k in keys})
        row.update({f"input_{k}": float(inputs[k][i]) for k in keys})
        row["seconds"] = seconds / len(names)
        rows.append(row)
    return rows
