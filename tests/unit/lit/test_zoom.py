"""The zoomed view shows the window where the output gained most over the blurry input, enlarged
by pixel repetition (every source pixel a block, nothing smoothed)."""

from __future__ import annotations

import torch

from deblurlab.lit.zoom import best_window, zoom_rows


def _rows() -> list[list[torch.Tensor]]:
    """Two images; in the second, the output equals the sharp image in the 8 x 8 box at (20, 12)
    and the blurry input elsewhere; in the first it is a little better everywhere."""
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(2):
        sharp = torch.rand(3, 40, 48, generator=g)
        blur = (sharp + 0.2 * torch.randn(3, 40, 48, generator=g)).clamp(0, 1)
        rows.append([blur, blur.clone(), sharp])
    rows[0][1] = (0.9 * rows[0][0] + 0.1 * rows[0][2]).clamp(0, 1)
    rows[1][1][:, 20:28, 12:20] = rows[1][2][:, 20:28, 12:20]
    return rows


def test_the_window_is_where_the_output_gained_most():
    row, top, left, gain = best_window(_rows(), window=8)
    assert (row, top, left) == (1, 20, 12)
    assert gain > 20  # output equals sharp there (up to the epsilon)


def test_the_panel_is_blurry_output_sharp_enlarged_by_repetition():
    rows = _rows()
    panel, caption = zoom_rows(rows, window=8, scale=3)
    blur, pred, sharp = panel[0]
    assert blur.shape == pred.shape == sharp.shape == (3, 24, 24)
    assert torch.equal(sharp[:, ::3, ::3], rows[1][2][:, 20:28, 12:20])
    assert torch.equal(blur[:, ::3, ::3], rows[1][0][:, 20:28, 12:20])
    # every 3 x 3 block is one source pixel
    blocks = sharp.reshape(3, 8, 3, 8, 3)
    assert torch.equal(blocks, blocks[:, :, :1, :, :1].expand_as(blocks))
    assert "image 1 at (y=20, x=12)" in caption and "enlarged 3x" in caption


def test_a_window_larger_than_the_image_shrinks_to_its_shorter_side():
    rows = [[torch.zeros(3, 6, 5), torch.full((3, 6, 5), 0.5), torch.full((3, 6, 5), 0.5)]]
    panel, _ = zoom_rows(rows, window=32, scale=2)
    assert panel[0][0].shape == (3, 10, 10)
