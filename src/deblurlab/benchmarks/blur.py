"""How hard the built-in blur is to undo: the validation pairs' blurry PSNR next to that of the
best single linear filter (:mod:`deblurlab.metrics.linear_filter`: least squares, one ``k x k``
kernel and a constant for all images and channels). That is what sharpening blind to each image's
own motion reaches: the bar a network must clear."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from deblurlab.benchmarks import BenchOptions, Table
from deblurlab.data.synthetic import SyntheticBlurSource
from deblurlab.data.transforms import to_tensor
from deblurlab.metrics import psnr
from deblurlab.metrics.linear_filter import fit_linear_filter


def _interior(image: Tensor, k: int) -> Tensor:
    r = k // 2
    return image[..., r : image.shape[-2] - r, r : image.shape[-1] - r]


def run(opts: BenchOptions) -> Table:
    """The built-in blur's PSNR before and after the best single linear filter."""
    k, train_pairs = (5, 40) if opts.quick else (11, 400)
    source = SyntheticBlurSource(train_size=(96, 96), train_samples=train_pairs)
    torch.manual_seed(0)  # the training pairs draw their seeds from torch's generator
    train, val = source.train_dataset(), source.val_dataset()
    # one call per item: every call of a training item draws a new pair
    pairs = (train[i] for i in range(len(train)))
    best = fit_linear_filter(((to_tensor(b)[None], to_tensor(s)[None]) for b, s, _ in pairs), k)
    blurry_db, filtered_db = [], []
    for i in range(len(val)):
        blurry, sharp = (to_tensor(a)[None] for a in val[i][:2])
        target = _interior(sharp, k)
        blurry_db.append(float(psnr(_interior(blurry, k), target)))
        filtered_db.append(float(psnr(_interior(best(blurry), k), target)))
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
