"""Image-quality metrics and the named evaluation protocols."""

from deblurlab.metrics.image_quality import masked_psnr, masked_ssim, psnr, ssim
from deblurlab.metrics.protocol import (
    MATLAB_SSIM_PROTOCOLS,
    PROTOCOLS,
    SSIM_MATLAB,
    SSIM_VARIANTS,
    batch_scores,
    check_protocol,
    evaluate_pair,
    per_image_records,
)
from deblurlab.metrics.realblur_align import Alignment, align_to_target
from deblurlab.metrics.ssim_matlab import ssim_matlab
from deblurlab.quantize import quantize_8bit

__all__ = [
    "MATLAB_SSIM_PROTOCOLS",
    "PROTOCOLS",
    "SSIM_MATLAB",
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
    "ssim_matlab",
]
