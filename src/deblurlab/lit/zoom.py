"""The place where a network changed its input most, enlarged so a person can see it.

At the quick start's scale a whole-frame grid hides a gain of a few tenths of a dB; a small window
chosen where the output is closest to the sharp image relative to the blurry one, enlarged with
nearest-neighbour (every pixel a block, nothing smoothed), shows what the network does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def best_window(rows: list[list[torch.Tensor]], window: int) -> tuple[int, int, int, float]:
    """``(row, top, left, gain_db)``: the ``window`` x ``window`` box (over every blurry |
    output | sharp row) where the output's squared error falls most below the blurry input's,
    and the PSNR gain inside it."""
    best = (0, 0, 0, float("-inf"), 0.0)
    for r, (blur, pred, sharp) in enumerate(rows):
        blur, pred, sharp = (t.detach().float().cpu().clamp(0, 1) for t in (blur, pred, sharp))
        side = min(window, sharp.shape[1], sharp.shape[2])
        err_in = ((blur - sharp) ** 2).mean(0, keepdim=True)
        err_out = ((pred - sharp) ** 2).mean(0, keepdim=True)
        # mean squared errors of every window position, input and output
        mse_in = F.avg_pool2d(err_in[None], side, stride=1)[0, 0]
        mse_out = F.avg_pool2d(err_out[None], side, stride=1)[0, 0]
        drop = mse_in - mse_out
        flat = int(torch.argmax(drop))
        top, left = divmod(flat, drop.shape[1])
        if float(drop.view(-1)[flat]) > best[3]:
            eps = 1e-12
            gain = 10 * torch.log10((mse_in[top, left] + eps) / (mse_out[top, left] + eps))
            best = (r, top, left, float(drop.view(-1)[flat]), float(gain))
    return best[0], best[1], best[2], best[4]


def zoom_rows(
    rows: list[list[torch.Tensor]], window: int = 32, scale: int = 6
) -> tuple[list[list[torch.Tensor]], str]:
    """One row blurry | output | sharp of the best window (:func:`best_window`), each enlarged
    ``scale`` times by pixel repetition, and a caption saying where it is and what it gained."""
    r, top, left, gain = best_window(rows, window)
    side = min(window, rows[r][2].shape[1], rows[r][2].shape[2])
    crops = [
        img[:, top : top + side, left : left + side]
        .detach()
        .float()
        .cpu()
        .repeat_interleave(scale, 1)
        .repeat_interleave(scale, 2)
        for img in rows[r]
    ]
    caption = (
        f"blurry | output | sharp, image {r} at (y={top}, x={left}), {side} px enlarged "
        f"{scale}x: {gain:+.2f} dB in this window"
    )
    return [crops], caption
