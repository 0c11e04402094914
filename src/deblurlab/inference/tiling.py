"""Tiled inference: run an image-to-image function on overlapping tiles and blend them back.

For images too large for memory in one pass. Every tile starts at a multiple of the network's
``size_multiple`` (so a strided network sees the same sampling grid as on the whole image), and the
tiles are blended with weights that ignore the outer quarter of every overlap and cross-fade
linearly over its middle half. Hence, for a network whose output at a pixel depends only on inputs
within ``r`` pixels (and that is translation-equivariant for shifts by its ``size_multiple``),
tiled inference equals whole-image inference whenever ``overlap // 4 >= r``; real networks have a
much larger receptive field, so the difference is small but not zero (docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``.

    Consecutive tiles overlap by at least ``min(overlap, tile - multiple)`` pixels: the stride
    ``tile - overlap`` is rounded down to a multiple of ``multiple`` (but is at least
    ``multiple``), and the last tile is flush with the end. If ``length`` and ``tile`` divide by ``multiple``, so does every start.
    """
    if tile >= length:
        return [0]
    stride = max(multiple, (tile - overlap) // multiple * multiple)
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def blend_weights(start: int, size: int, length: int, overlap: int) -> Tensor:
    """1-D blending weights of a tile ``[start, start + size)`` inside ``[0, length)``.

    At an edge shared with a neighbouring tile the weight is 0 on the first ``overlap // 4``
    pixels, then rises linearly over the next ``overlap - 2 * (overlap // 4)``; at an image edge
    it is 1 (no neighbour there to blend with).
    """
    margin = overlap // 4
    ramp = overlap - 2 * margin
    d = torch.arange(size, dtype=torch.float32)

    def rise(dist: Tensor) -> Tensor:
        return ((dist - margin + 1) / (ramp + 1)).clamp(0.0, 1.0)

    w = torch.ones(size)
    if start > 0:
        w = torch.minimum(w, rise(d))
    if start + size < length:
        w = torch.minimum(w, rise(size - 1 - d))
    return w


def tiled_apply(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    tile: int,
    overlap: int,
    multiple: int = 1,
) -> Tensor:
    """Apply ``fn`` (B x C x h x w -> B x C' x h x w) to ``x`` tile by tile and blend the results.

    Args:
        fn: an image-to-image function (same spatial size out as in); called once per tile.
        x: B x C x H x W input; H and W should divide by ``multiple`` (pad first otherwise).
        tile: tile side; rounded down to a multiple of ``multiple`` (at least ``multiple``), and
            capped at the image size.
        overlap: minimum overlap of neighbouring tiles in pixels.
        multiple: the network's ``size_multiple``.

    The blended output is accumulated on ``x``'s device in float32.
    """
    if tile <= 0 or overlap < 0:
        raise ValueError(f"need tile > 0 and overlap >= 0, got tile={tile}, overlap={overlap}")
    h, w = x.shape[-2:]
    tile = max(multiple, tile // multiple * multiple)
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap, multiple), tile_starts(w, tw, overlap, multiple)
    if len(ys) == 1 and len(xs) == 1:
        return fn(x).float()
    out: Tensor | None = None
    total = torch.zeros(1, 1, h, w, device=x.device)
    for y in ys:
        wy = blend_weights(y, th, h, overlap).to(x.device)
        for x0 in xs:
            wx = blend_weights(x0, tw, w, overlap).to(x.device)
            weight = wy[:, None] * wx[None, :]
            pred = fn(x[..., y : y + th, x0 : x0 + tw]).float().to(x.device)
            if out is None:
                out = torch.zeros(*pred.shape[:2], h, w, device=x.device)
            out[..., y : y + th, x0 : x0 + tw] += pred * weight
            total[..., y : y + th, x0 : x0 + tw] += weight
    assert out is not None
    return out / total
