"""Resampling shared by networks, losses and inference: pad to a size multiple, crop multi-scale
outputs back, and the bilinear x0.5 that SGENet builds its input pyramid (and its loss its target
pyramid) with. A bottom-floor module: it imports nothing from deblurlab, so ``losses/`` can use it
without importing ``models/``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x`` (``...xHxW``) at the bottom/right so that H and W divide by ``multiple``.

    Uses reflect padding, or replicate padding when reflection is impossible (a pad of at
    least the dimension's size, i.e. tiny inputs). When no padding is needed ``x`` itself is
    returned (no op at all, so the result is bit-identical to the unpadded path).

    Returns:
        The padded tensor and the original ``(H, W)``.
    """
    h, w = x.shape[-2:]
    pad_h = -h % multiple
    pad_w = -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (h, w)
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (h, w)


def crop_outputs(outputs: Sequence[Tensor], height: int, width: int) -> list[Tensor]:
    """Crop every output of a padded forward back to the original ``height`` x ``width``.

    The last output is full size; an output ``s`` times smaller is cropped to
    ``ceil(height / s) x ceil(width / s)``, the size of ``x[..., ::s, ::s]`` of the original
    input (the nearest-neighbour pyramid that MIMO-UNet's coarse outputs are residuals on).
    """
    full_h, full_w = outputs[-1].shape[-2:]
    cropped = []
    for out in outputs:
        h, w = out.shape[-2:]
        if full_h % h or full_w % w:
            raise ValueError(
                f"output of size {h}x{w} is not an integer downscale of the full size {full_h}x{full_w}"
            )
        sh, sw = full_h // h, full_w // w
        cropped.append(out[..., : -(-height // sh), : -(-width // sw)])
    return cropped


def downsample_half(x: Tensor) -> Tensor:
    """Bilinear x0.5, ``align_corners=False``, no antialias.

    On even sizes this is exactly a 2x2 average. SGENet builds its half-scale input with it and
    :class:`deblurlab.losses.SGENetLoss` builds the half-scale targets with the same function.
    """
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
