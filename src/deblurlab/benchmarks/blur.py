"""How hard the built-in blur is to undo: the validation pairs' blurry PSNR next to that of the
best single linear filter (least squares, one ``k x k`` kernel for all images and channels). That
is what sharpening blind to each image's own motion reaches: the bar a network must clear."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from deblurlab.benchmarks import BenchOptions, Table
from deblurlab.data.synthetic import SyntheticBlurSource
from deblurlab.data.transforms import to_tensor
from deblurlab.metrics import psnr


def _patches(image: Tensor, k: int) -> Tensor:
    """Every k x k neighbourhood of every channel of a C x H x W image: (C * H' * W') x k*k."""
    cols = F.unfold(image.unsqueeze(1), k)  # C x k*k x H'*W'
    return cols.transpose(1, 2).reshape(-1, k * k)


def _interior(image: Tensor, k: int) -> Tensor:
    r = k // 2
    return image[:, r : image.shape[1] - r, r : image.shape[2] - r]


def fit_linear_filter(pairs, k: int) -> Tensor:
    """The least-squares k x k filter (a flat tensor of k*k taps) from blurry to sharp images,
    over ``pairs`` of (blurry, sharp) C x H x W tensors (normal equations, float64)."""
    gram = torch.zeros(k * k, k * k, dtype=torch.float64)
    cross = torch.zeros(k * k, dtype=torch.float64)
    for blurry, sharp in pairs:
        x = _patches(blurry, k)
        gram += x.T @ x
        cross += x.T @ _interior(sharp, k).reshape(-1)
    ridge = 1e-8 * torch.trace(gram) / (k * k)  # keeps the solve stable on flat images
    return torch.linalg.solve(gram + ridge * torch.eye(k * k, dtype=torch.float64), cross)


def apply_linear_filter(blurry: Tensor, taps: Tensor, k: int) -> Tensor:
    """The filter on every channel of a C x H x W image, clamped to [0, 1]: C x H' x W' (valid
    convolution, so the border of k // 2 pixels is dropped)."""
    out = F.conv2d(blurry.unsqueeze(1), taps.view(1, 1, k, k))
    return out.squeeze(1).clamp(0.0, 1.0)


def run(opts: BenchOptions) -> Table:
    """The built-in blur's PSNR before and after the best single linear filter."""
    k, train_pairs = (5, 40) if opts.quick else (11, 400)
    source = SyntheticBlurSource(train_size=(96, 96), train_samples=train_pairs)
    torch.manual_seed(0)  # the training pairs draw their seeds from torch's generator
    train, val = source.train_dataset(), source.val_dataset()
    # one call per item: every call of a training item draws a new pair
    pairs = (train[i] for i in range(len(train)))
    taps = fit_linear_filter(
        ((to_tensor(b).double(), to_tensor(s).double()) for b, s, _ in pairs), k
    )
    blurry_db, filtered_db = [], []
    for i in range(len(val)):
        blurry, sharp = (to_tensor(a).double() for a in val[i][:2])
        target = _interior(sharp, k)[None]
        blurry_db.append(float(psnr(_interior(blurry, k)[None], target)))
        filtered_db.append(float(psnr(apply_linear_filter(blurry, taps, k)[None], target)))
    before, after = float(np.mean(blurry_db)), float(np.mean(filtered_db))
    return Table(
        title="Built-in blur (data=synthetic): how much a single linear filter undoes",
        columns=["validation pairs", "blurry PSNR dB", f"best {k}x{k} linear filter dB", "gain dB"],
        rows=[[len(val), before, after, f"{after - before:+.2f}"]],
        note=(
            f"The filter is fitted by least squares on {train_pairs} training pairs (96 x 96) and "
            "scored on the fixed validation pairs (128 x 128, the quick start's), both without "
            f"their {k // 2}-pixel border; PSNR is the mean over images. A network has to beat "
            "this gain by adapting to each image's motion."
        ),
    )
