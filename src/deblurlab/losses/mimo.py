"""MIMO-UNet's training loss: multi-scale L1 content loss + lambda * MSFR (paper Eqs. 7-9)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from .frequency import fft_l1_loss
from .pixel import l1_loss


def target_pyramid(target: Tensor, outputs: Sequence[Tensor]) -> list[Tensor]:
    """Bilinearly resize ``target`` to the size of each output (``align_corners=False``).

    On sizes divisible by 4 this equals the release's ``F.interpolate(target, scale_factor=0.5 or
    0.25, mode="bilinear")``; sizing by the output also covers the ceil-sized coarse outputs of
    inputs that do not divide by 4.
    """
    size = target.shape[-2:]
    return [
        target
        if out.shape[-2:] == size
        else F.interpolate(target, size=out.shape[-2:], mode="bilinear", align_corners=False)
        for out in outputs
    ]


class MIMOLoss(nn.Module):
    """``content + msfr_weight * MSFR`` summed over the outputs' scales.

    content = sum_k mean|out_k - target_k|; MSFR = sum_k mean|fft2(out_k) - fft2(target_k)| with
    real and imaginary parts as separate values; target_k is the bilinearly downscaled target at
    the size of out_k. Works with any number of outputs (a single full-size output when MOSD is
    off). Returns ``(total, {"content": ..., "msfr": ...})``; with ``msfr_weight=0`` the FFT is not
    computed and ``"msfr"`` is omitted from the parts (a logged 0 would read as a perfect score).
    """

    def __init__(self, msfr_weight: float = 0.1) -> None:
        super().__init__()
        self.msfr_weight = float(msfr_weight)

    def forward(
        self, outputs: Sequence[Tensor], target: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        targets = target_pyramid(target, outputs)
        content = sum(l1_loss(o, t) for o, t in zip(outputs, targets, strict=True))
        parts = {"content": content}
        total = content
        if self.msfr_weight:
            msfr = sum(fft_l1_loss(o, t) for o, t in zip(outputs, targets, strict=True))
            parts["msfr"] = msfr
            total = content + self.msfr_weight * msfr
        return total, parts

    def extra_repr(self) -> str:
        return f"msfr_weight={self.msfr_weight}"
