"""RealBlur's alignment step, re-implemented on current OpenCV (see docs/evaluation.md).

RealBlur-J/R ground truths are not pixel-aligned with the blurry inputs, so the RealBlur authors
score a restored image only after (1) matching its intensity to the ground truth with a
least-squares gain, (2) registering it onto the ground truth with an ECC homography estimated on
grayscale versions, and (3) keeping the pixels that the warp maps inside the image. Published
RealBlur numbers were computed this way; plain PSNR reads 1-3 dB lower.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

# The RealBlur protocol's ECC settings.
ECC_ITERATIONS = 100
ECC_EPS = 0.0
ECC_GAUSS_FILTER = 5


@dataclass(frozen=True)
class Alignment:
    """An output registered onto its ground truth.

    Attributes:
        output: the gain-matched output warped onto the target, times ``mask`` (H x W x 3 float32).
        target: the target times ``mask`` (H x W x 3 float32).
        mask: 1 where the warped output has data, 0 where the warp looked outside (H x W x 3).
        warp: the 3 x 3 homography from ECC (target coordinates -> output coordinates).
        gain: the least-squares intensity gain applied to the output.
        converged: False when ECC failed and the identity warp was used instead.
    """

    output: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    warp: np.ndarray
    gain: float
    converged: bool


def intensity_gain(output: np.ndarray, target: np.ndarray) -> float:
    """The gain ``g`` minimising ``sum((target - g * output)^2)``: ``sum(t*o) / sum(o*o)``."""
    o = output.astype(np.float64)
    energy = float(np.sum(o * o))
    if energy == 0.0:  # an all-black output: nothing to scale
        return 1.0
    return float(np.sum(target.astype(np.float64) * o) / energy)


def estimate_homography(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, bool]:
    """ECC homography (100 iterations, eps 0, Gaussian filter 5) between grayscale versions.

    Both images are H x W x 3 float32 RGB. Returns ``(warp, converged)``; when OpenCV reports that
    ECC did not converge (e.g. a flat image), the identity is returned with ``converged=False``.
    """
    template = cv2.cvtColor(np.ascontiguousarray(target, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    moving = cv2.cvtColor(np.ascontiguousarray(output, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    warp = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, ECC_EPS)
    try:
        _, warp = cv2.findTransformECC(
            template, moving, warp, cv2.MOTION_HOMOGRAPHY, criteria, None, ECC_GAUSS_FILTER
        )
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1].split("error: ")[-1]
        log.warning("ECC alignment failed (%s); scoring without alignment", reason)
        return np.eye(3, dtype=np.float32), False
    return warp, True


def warp_onto(image: np.ndarray, warp: np.ndarray, interpolation: int, border: int) -> np.ndarray:
    """Resample ``image`` onto the target grid with ``warp`` (an inverse map, as ECC returns it)."""
    h, w = image.shape[:2]
    return cv2.warpPerspective(
        image,
        warp,
        (w, h),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=border,
        borderValue=0,
    )


def align_to_target(output: np.ndarray, target: np.ndarray) -> Alignment:
    """Register ``output`` onto ``target`` (H x W x 3 float32 in [0, 1]) as RealBlur does.

    Intensity matching, ECC homography on grayscale, bicubic warp of the scaled output with a
    reflected border, and a validity mask from a nearest-neighbour warp of ones with a zero border.
    """
    if output.shape != target.shape or output.ndim != 3 or output.shape[2] != 3:
        raise ValueError(f"need two H x W x 3 images, got {output.shape} and {target.shape}")
    output = np.asarray(output, dtype=np.float32)
    target = np.asarray(target, dtype=np.float32)
    gain = intensity_gain(output, target)
    scaled = (gain * output).astype(np.float32)
    warp, converged = estimate_homography(scaled, target)
    warped = warp_onto(scaled, warp, cv2.INTER_CUBIC, cv2.BORDER_REFLECT)
    mask = warp_onto(np.ones_like(scaled), warp, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
    return Alignment(
        output=warped * mask,
        target=target * mask,
        mask=mask,
        warp=warp,
        gain=gain,
        converged=converged,
    )
