"""Image-quality metrics and the named evaluation protocols."""

from deblurlab.metrics.image_quality import psnr, quantize_8bit, ssim
from deblurlab.metrics.protocol import PROTOCOLS, batch_scores, check_protocol, evaluate_pair

__all__ = [
    "PROTOCOLS",
    "batch_scores",
    "check_protocol",
    "evaluate_pair",
    "psnr",
    "quantize_8bit",
    "ssim",
]
