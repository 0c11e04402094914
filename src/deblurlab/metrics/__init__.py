"""Image-quality metrics and the named evaluation protocols."""

from deblurlab.metrics.image_quality import masked_psnr, masked_ssim, psnr, ssim
from deblurlab.metrics.protocol import (
    PROTOCOLS,
    SSIM_VARIANTS,
    batch_scores,
    check_protocol,
    evaluate_pair,
    per_image_records,
)
from deblurlab.metrics.realblur_align import Alignment, align_to_target
from deblurlab.quantize import quantize_8bit

__all__ = [
    "PROTOCOLS",
    "SSIM_VARIANTS",
    "Alignment",
    "align_to_target",
    "batch_scores",
    "check_protocol",
    "evaluate_pair",
    "masked_psnr",
    "masked_ssim",
    "per_image_records",
    "psnr",
    "quantize_8bit",
    "ssim",
]
