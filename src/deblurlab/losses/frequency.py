"""Frequency-domain losses."""

from __future__ import annotations

import torch
from torch import Tensor


def fft_l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """L1 between the 2-D spectra of ``pred`` and ``target`` (MIMO-UNet's MSFR term, one scale).

    Full two-sided, unnormalised ``fft2`` over the last two dims; real and imaginary parts are
    compared as separate values (not the complex modulus); mean over ``B*C*H*W*2`` elements. This is
    what the release computed with the legacy ``torch.rfft(x, 2, onesided=False)``. By linearity
    the spectrum of the difference is taken (one FFT instead of two), in float32 so that it also
    works under half-precision autocast.
    """
    diff = (pred - target).float()
    return torch.view_as_real(torch.fft.fft2(diff)).abs().mean()
