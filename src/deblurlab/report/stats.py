"""Differences between runs that a reader can weigh: paired bootstrap intervals over test images,
and blur-strength bins. numpy only (the report runs where no torch is installed).

Two runs scored on the same test images are compared image by image: the per-image differences
``d_i = b_i - a_i`` share whatever makes an image easy or hard, so their spread is far smaller
than that of either run's scores. The interval resamples *images* (the same resampled images for
both runs, which is what makes it paired) and says how much the mean difference would move on
another test set drawn like this one. It does not cover seed-to-seed training noise: that needs
seed repeats (rows with ``n`` > 1 average their seeds per image before they are compared).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 4000
SEED = 0
LEVEL = 0.95
# Below this many images a percentile bootstrap covers far less often than it claims (one image:
# an interval of width 0), so no difference is called clear on fewer.
MIN_IMAGES = 10
# the resampled index matrix is built this many numbers at a time (bounded memory on big test sets)
_CHUNK = 1 << 22


@dataclass(frozen=True)
class Interval:
    """The mean of per-image differences with its bootstrap interval, over ``n`` images."""

    mean: float
    low: float
    high: float
    improved: float  # fraction of images with a positive difference
    n: int

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def clear(self) -> bool:
        """Whether the interval leaves out 0 (the difference is larger than the test set's
        noise), on at least :data:`MIN_IMAGES` images."""
        return self.n >= MIN_IMAGES and (self.low > 0 or self.high < 0)

    def text(self, digits: int = 2) -> str:
        """``+0.07 [+0.02, +0.12]``; ``(too few images)`` after it below :data:`MIN_IMAGES`."""
        text = f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"
        return text if self.n >= MIN_IMAGES else f"{text} (too few images)"


def bootstrap_mean(
    differences: Sequence[float] | np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval:
    """The mean of ``differences`` (one per image, ``b_i - a_i``) and its percentile bootstrap
    interval at ``level``: ``resamples`` draws of the images with replacement, seeded, so the
    same inputs give the same interval."""
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of differences, got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("differences must be finite")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    n = d.size
    means = np.empty(resamples)
    step = max(1, _CHUNK // n)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = d[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return Interval(float(d.mean()), float(low), float(high), float(np.mean(d > 0)), n)


def paired_bootstrap(
    a: dict[str, float],
    b: dict[str, float],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval | None:
    """``b - a`` over the images both score (matched by name), or None when they share none."""
    names = sorted(a.keys() & b.keys())
    if not names:
        return None
    d = np.array([b[name] - a[name] for name in names])
    return bootstrap_mean(d, resamples=resamples, seed=seed, level=level)


@dataclass(frozen=True)
class Bin:
    """Images whose blurry input scored between ``low`` and ``high`` dB (both included)."""

    names: tuple[str, ...]
    low: float
    high: float

    @property
    def label(self) -> str:
        return f"{self.low:.1f}–{self.high:.1f} dB"


def blur_bins(input_psnr: dict[str, float], bins: int = 4) -> list[Bin]:
    """The images split into ``bins`` groups of (nearly) equal size by the PSNR of their blurry
    input, most blurred (lowest input PSNR) first: quartiles of the test set for ``bins=4``.
    Split by rank (ties broken by name), so every group is as full as the test set allows even
    when scores repeat; fewer images than ``bins`` leaves the last groups empty."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    ranked = sorted(input_psnr, key=lambda name: (input_psnr[name], name))
    if not ranked:
        return []
    found = []
    for part in np.array_split(np.arange(len(ranked)), bins):
        names = tuple(ranked[i] for i in part)
        values = [input_psnr[name] for name in names]
        found.append(
            Bin(names, min(values), max(values)) if names else Bin((), float("nan"), float("nan"))
        )
    return found
