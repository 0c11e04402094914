"""The paired bootstrap: on per-image tables of known difference its interval covers the truth and
leaves out 0; identical runs give a narrow interval around 0; its width falls as 1/sqrt(images);
it pairs images by name and is seeded. Blur-strength bins are quartiles by the input's PSNR."""

from __future__ import annotations

import numpy as np
import pytest

from deblurlab.report.stats import blur_bins, bootstrap_mean, paired_bootstrap


def _tables(n: int, shift: float, noise: float, seed: int = 1) -> tuple[dict, dict]:
    """Two runs on ``n`` images whose scores spread over 8 dB (image difficulty) and differ by
    ``shift`` dB plus independent per-image noise of ``noise`` dB."""
    rng = np.random.default_rng(seed)
    names = [f"GOPR{i:04d}.png" for i in range(n)]
    base = rng.uniform(24.0, 32.0, n)
    a = dict(zip(names, base + rng.normal(0.0, noise, n), strict=True))
    b = dict(zip(names, base + shift + rng.normal(0.0, noise, n), strict=True))
    return a, b


def test_a_known_difference_is_covered_and_told_apart_from_zero():
    a, b = _tables(200, shift=0.10, noise=0.05)
    interval = paired_bootstrap(a, b)
    assert interval is not None and interval.n == 200
    assert interval.covers(0.10) and interval.clear and interval.low > 0.05
    # paired: the 8 dB spread between images cancels, only the 0.05 dB noise is left
    assert interval.width < 0.04
    assert interval.improved > 0.85
    reverse = paired_bootstrap(b, a)  # b - a: the sign says which run is better
    assert reverse is not None and reverse.covers(-0.10) and reverse.high < 0


def test_identical_runs_give_an_interval_around_zero():
    a, _ = _tables(100, shift=0.0, noise=0.3)
    interval = paired_bootstrap(a, dict(a))
    assert interval is not None
    assert interval.covers(0.0) and not interval.clear
    assert interval.width < 1e-12 and interval.improved == 0.0


def test_no_difference_beyond_noise_contains_zero():
    a, b = _tables(100, shift=0.0, noise=0.2, seed=3)
    interval = paired_bootstrap(a, b)
    assert interval is not None and interval.covers(0.0) and interval.width < 0.15


def test_the_width_falls_as_one_over_the_square_root_of_the_images():
    widths = []
    for n in (50, 200, 800):
        a, b = _tables(n, shift=0.05, noise=0.2, seed=n)
        interval = paired_bootstrap(a, b)
        assert interval is not None
        widths.append(interval.width)
    assert widths[0] > widths[1] > widths[2] > 0
    # 16 x the images: a quarter of the width (2 x 1.96 x 0.28 / sqrt(n) in theory)
    assert 3.0 < widths[0] / widths[2] < 5.5
    assert widths[2] == pytest.approx(2 * 1.96 * 0.2 * np.sqrt(2) / np.sqrt(800), rel=0.2)


def test_images_are_paired_by_name_not_by_order():
    a, b = _tables(60, shift=0.10, noise=0.02)
    shuffled = dict(reversed(list(b.items())))
    shuffled["only_in_b.png"] = 99.0
    interval = paired_bootstrap(a, shuffled)
    assert interval is not None and interval.n == 60
    assert interval.covers(0.10) and interval.width < 0.02
    assert paired_bootstrap(a, {"other.png": 1.0}) is None


def test_the_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    covered = 0
    trials = 200
    for trial in range(trials):
        d = rng.normal(0.1, 0.3, 40)
        covered += bootstrap_mean(d, resamples=1000, seed=trial).covers(0.1)
    assert 0.88 <= covered / trials <= 0.99


def test_the_interval_is_seeded():
    a, b = _tables(80, shift=0.05, noise=0.2)
    assert paired_bootstrap(a, b, seed=5) == paired_bootstrap(a, b, seed=5)
    assert paired_bootstrap(a, b, seed=5) != paired_bootstrap(a, b, seed=6)


@pytest.mark.parametrize(
    "bad", [[], [[1.0, 2.0]], [1.0, float("nan")]], ids=["empty", "2-D", "nan"]
)
def test_bad_differences_are_refused(bad):
    with pytest.raises(ValueError):
        bootstrap_mean(bad)


def test_blur_bins_are_quartiles_by_the_inputs_psnr_most_blurred_first():
    inputs = {f"img{i}": value for i, value in enumerate([30, 21, 25, 22, 28, 24, 26, 20])}
    bins = blur_bins(inputs)
    assert [b.names for b in bins] == [
        ("img7", "img1"),
        ("img3", "img5"),
        ("img2", "img6"),
        ("img4", "img0"),
    ]
    assert (bins[0].low, bins[0].high, bins[-1].high) == (20, 21, 30)
    assert bins[0].label == "20.0–21.0 dB"
    tied = blur_bins({f"t{i}": 25.0 for i in range(6)})
    assert [len(b.names) for b in tied] == [2, 2, 1, 1]
    few = blur_bins({"a": 1.0, "b": 2.0})
    assert [b.names for b in few] == [("a",), ("b",), (), ()]


def test_an_interval_on_too_few_images_is_never_called_clear():
    one = bootstrap_mean([0.5])
    assert (one.low, one.high, one.width) == (0.5, 0.5, 0.0)
    assert not one.clear and one.text() == "+0.50 [+0.50, +0.50] (too few images)"
    nine, ten = bootstrap_mean([0.5] * 9), bootstrap_mean([0.5] * 10)
    assert not nine.clear and ten.clear and ten.text() == "+0.50 [+0.50, +0.50]"
