"""Every random choice of a training item is an independent draw, seen through the DataModule.

The training frame's pixels hold their own coordinates (red = row, green = column), so each crop
the DataModule serves tells where it was cut and which flips and rotation were applied. Over a
thousand-odd items, the crop's row and column must be uniform over their ranges (also among
flipped and among unflipped crops), each flip a fair coin in every half of the frame, and the
flips and the rotation independent of one another. The seeds are fixed, so every test is
deterministic; the significance level is small enough that the correct sampler passes with a
wide margin, while the draws tied to one another fail by hundreds of orders of magnitude.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy import stats
from torch.utils.data import Dataset

from deblurlab.data import DeblurDataModule
from deblurlab.data.synthetic import SyntheticBlurSource, synthesize_pair
from deblurlab.quantize import to_uint8

HEIGHT, WIDTH, CROP = 20, 28, 8
ROWS, COLS = HEIGHT - CROP + 1, WIDTH - CROP + 1  # 13 crop rows, 21 crop columns
ITEMS = 1260
ALPHA = 1e-4  # deterministic (fixed seeds); far below the p-values of fair draws here


def coordinate_frame(blue: int) -> np.ndarray:
    """H x W x 3 uint8: pixel (r, c) is (r, c, blue)."""
    rows, cols = np.meshgrid(np.arange(HEIGHT), np.arange(WIDTH), indexing="ij")
    return np.stack([rows, cols, np.full_like(rows, blue)], axis=-1).astype(np.uint8)


FRAME = coordinate_frame(0)


class Frames(Dataset):
    """``length`` copies of the coordinate frame; blurry and sharp differ only in blue."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.blurry, self.sharp = coordinate_frame(0), coordinate_frame(1)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        return self.blurry, self.sharp, f"frame_{index:05d}"


class CoordinateSource:
    """A :class:`~deblurlab.data.datamodule.PairSource` of coordinate frames."""

    def train_dataset(self) -> Dataset:
        return Frames(ITEMS)

    def val_dataset(self) -> Dataset:
        return Frames(1)

    def test_dataset(self) -> Dataset:
        return Frames(1)

    def describe(self) -> str:
        return "coordinate frames"


@dataclass(frozen=True)
class Draws:
    """What was drawn for one item: the crop's top-left corner, the flips, quarter turns."""

    row: int
    col: int
    hflip: int
    vflip: int
    k: int


def oriented(crop: np.ndarray, hflip: int, vflip: int, k: int) -> np.ndarray:
    """The crop after the documented order: horizontal flip, vertical flip, ``k`` quarter turns."""
    if hflip:
        crop = crop[:, ::-1]
    if vflip:
        crop = crop[::-1]
    return np.rot90(crop, k)


def decode(patch: np.ndarray, hflip: float, vflip: float, rot90: float) -> Draws:
    """Read the draws back from a served H x W x 2 (row, column) patch. Only the enabled
    operations are tried, and at most two of the three are enabled in any run, so the answer is
    unique (hflip + vflip equals two quarter turns)."""
    row, col = int(patch[..., 0].min()), int(patch[..., 1].min())
    crop = FRAME[row : row + CROP, col : col + CROP, :2]
    found = [
        Draws(row, col, h, v, k)
        for h in ((0, 1) if hflip else (0,))
        for v in ((0, 1) if vflip else (0,))
        for k in (range(4) if rot90 else (0,))
        if np.array_equal(oriented(crop, h, v, k), patch)
    ]
    assert len(found) == 1, f"patch at ({row}, {col}) matches {found}"
    return found[0]


@functools.cache
def served_draws(seed: int, hflip: float, vflip: float, rot90: float) -> list[Draws]:
    """One epoch of training items from the real DataModule, read back into their draws (each
    setting served once per session: tests of the same setting share its items)."""
    dm = DeblurDataModule(
        CoordinateSource(), crop_size=CROP, batch_size=180, hflip=hflip, vflip=vflip, rot90=rot90
    )
    dm.setup("fit")
    torch.manual_seed(seed)  # the run's seed, as seed_everything sets it
    out = []
    for batch in dm.train_dataloader():
        batch = dm.on_after_batch_transfer(batch, 0)
        blurry = (batch["blur"] * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        sharp = (batch["sharp"] * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        # both images of a pair got the same window and orientation
        np.testing.assert_array_equal(blurry[..., :2], sharp[..., :2])
        out += [decode(p[..., :2].astype(int), hflip, vflip, rot90) for p in blurry]
    assert len(out) == ITEMS
    return out


def uniform_p(values: list[int], size: int) -> tuple[float, list[int]]:
    counts = np.bincount(values, minlength=size)
    assert len(counts) == size, f"values outside 0..{size - 1}: {sorted(set(values))}"
    return float(stats.chisquare(counts).pvalue), counts.tolist()


def fair_coin_p(flags: list[int]) -> float:
    return float(stats.binomtest(sum(flags), len(flags), 0.5).pvalue)


def independence_p(a: list[int], b: list[int]) -> tuple[float, list[list[int]]]:
    table = np.zeros((max(a) + 1, max(b) + 1), dtype=int)
    np.add.at(table, (a, b), 1)
    return float(stats.chi2_contingency(table).pvalue), table.tolist()


def quarter_turns_p(ks: list[int], rot90: float) -> tuple[float, list[int], list[float]]:
    """Turned with probability ``rot90``, then by k uniform over 0..3 quarter turns."""
    counts = np.bincount(ks, minlength=4)
    expected = len(ks) * np.array([1 - rot90 + rot90 / 4] + [rot90 / 4] * 3)
    p = float(stats.chisquare(counts, expected).pvalue)
    return p, counts.tolist(), expected.round(1).tolist()


def halves(draws: list[Draws]) -> dict[str, list[Draws]]:
    """The crops cut from the top, bottom, left and right half of the frame."""
    return {
        "top": [d for d in draws if 2 * d.row < ROWS - 1],
        "bottom": [d for d in draws if 2 * d.row > ROWS - 1],
        "left": [d for d in draws if 2 * d.col < COLS - 1],
        "right": [d for d in draws if 2 * d.col > COLS - 1],
    }


def assert_independent_of_the_crop(draws: list[Draws], choice: str) -> None:
    """``choice`` is independent of the crop's row and of its column (every value, not halves)."""
    for axis in ("row", "col"):
        p, table = independence_p(
            [getattr(d, axis) for d in draws], [getattr(d, choice) for d in draws]
        )
        assert p > ALPHA, f"{choice} depends on the crop {axis} (chi-square p={p:.3g}): {table}"


def test_crop_row_and_column_are_uniform_over_their_ranges():
    draws = served_draws(seed=11, hflip=0.5, vflip=0.5, rot90=0.0)
    groups = {
        "all crops": draws,
        "flipped crops": [d for d in draws if d.hflip],
        "unflipped crops": [d for d in draws if not d.hflip],
    }
    for group, items in groups.items():
        assert items, f"no {group}"
        for axis, size in (("row", ROWS), ("col", COLS)):
            p, counts = uniform_p([getattr(d, axis) for d in items], size)
            assert p > ALPHA, (
                f"{group}: crop {axis} not uniform over 0..{size - 1} "
                f"(chi-square p={p:.3g}): counts {counts}"
            )


@pytest.mark.parametrize("flip", ["hflip", "vflip"])
def test_each_flip_is_a_fair_coin_in_each_half_of_the_frame(flip):
    draws = served_draws(seed=11, hflip=0.5, vflip=0.5, rot90=0.0)
    for half, items in halves(draws).items():
        flags = [getattr(d, flip) for d in items]
        p = fair_coin_p(flags)
        assert p > ALPHA, (
            f"{flip} rate {np.mean(flags):.3f} over {len(flags)} crops from the {half} half "
            f"(binomial p={p:.3g})"
        )
    assert_independent_of_the_crop(draws, flip)


def test_rot90_turns_alike_in_each_half_of_the_frame():
    rot = 0.5
    draws = served_draws(seed=11, hflip=0.0, vflip=0.0, rot90=rot)
    for half, items in halves(draws).items():
        p, counts, expected = quarter_turns_p([d.k for d in items], rot)
        assert p > ALPHA, (
            f"quarter turns of crops from the {half} half: {counts}, expected {expected} "
            f"(chi-square p={p:.3g})"
        )
    assert_independent_of_the_crop(draws, "k")


@pytest.mark.parametrize(
    ("first", "second", "probabilities"),
    [
        ("hflip", "vflip", {"hflip": 0.5, "vflip": 0.5, "rot90": 0.0}),
        ("hflip", "k", {"hflip": 0.5, "vflip": 0.0, "rot90": 0.5}),
        ("vflip", "k", {"hflip": 0.0, "vflip": 0.5, "rot90": 0.5}),
    ],
)
def test_flips_and_rot90_are_pairwise_independent(first, second, probabilities):
    draws = served_draws(seed=11, **probabilities)
    a, b = [getattr(d, first) for d in draws], [getattr(d, second) for d in draws]
    p, table = independence_p(a, b)
    assert p > ALPHA, (
        f"{first} and {second} are dependent (chi-square p={p:.3g}): contingency table {table}"
    )
    if second == "k":
        p, counts, expected = quarter_turns_p(b, probabilities["rot90"])
        assert p > ALPHA, f"quarter turns {counts}, expected {expected} (chi-square p={p:.3g})"


def test_synthetic_blur_then_crop_and_flips_come_from_the_item_stream_in_sequence():
    """The documented guarantee, written out: item ``index`` of epoch ``e`` in a run of seed ``s``
    is the synthetic blur drawn from ``default_rng(SeedSequence([s, e, index]))``, then the crop
    row, column, hflip, vflip, turn and k drawn from the same generator after it."""
    source = SyntheticBlurSource(
        train_size=(40, 44), train_samples=6, val_samples=1, test_samples=1, mode="kernel"
    )
    dm = DeblurDataModule(source, crop_size=16, batch_size=6, hflip=0.5, vflip=0.5, rot90=0.5)
    dm.setup("fit")
    torch.manual_seed(5)
    batch = next(iter(dm.train_dataloader()))
    served_names = list(batch["name"])
    pairs, blur = source.train_dataset(), source.blur
    order = [index for index, _ in dm.train_sampler]
    for i, index in enumerate(order):
        rng = np.random.default_rng(np.random.SeedSequence([5, 0, index]).generate_state(1)[0])
        photo, image, region = pairs.photos[index % len(pairs.photos)]
        blurry, sharp = (to_uint8(x) for x in synthesize_pair(image, region, (40, 44), rng, blur))
        top, left = int(rng.integers(0, 40 - 16 + 1)), int(rng.integers(0, 44 - 16 + 1))
        hflip, vflip, turn = (bool(rng.random() < 0.5) for _ in range(3))
        k = int(rng.integers(0, 4)) if turn else 0
        for picture, key in ((blurry, "blur"), (sharp, "sharp")):
            expected = oriented(picture[top : top + 16, left : left + 16], hflip, vflip, k)
            served = batch[key][i].permute(1, 2, 0).numpy()
            np.testing.assert_array_equal(served, expected, err_msg=f"{key} of item {index}")
        assert served_names[i] == f"{photo}_{index:04d}"
