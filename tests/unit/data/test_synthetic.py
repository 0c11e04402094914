"""The built-in synthetic data: GoPro-like frame averaging over real photographs, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblurlab.data.photos import BUILTIN_PHOTOS, load_builtin_photo
from deblurlab.data.synthetic import (
    BlurModel,
    SyntheticBlurSource,
    random_camera_path,
    render_view,
    synthesize_pair,
)


@pytest.fixture(scope="module")
def source() -> SyntheticBlurSource:
    return SyntheticBlurSource(
        train_size=(48, 48), eval_size=(40, 56), train_samples=6, val_samples=5, test_samples=5
    )


def test_builtin_photos_are_rgb_photographs():
    for name in BUILTIN_PHOTOS:
        image = load_builtin_photo(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert min(image.shape[:2]) >= 256


def test_camera_path_passes_through_identity_at_middle_and_has_requested_extent():
    rng = np.random.default_rng(3)
    shifts, angles = random_camera_path(rng, 9, motion_px=10.0, max_rotation_deg=1.0)
    assert shifts.shape == (9, 2) and angles.shape == (9,)
    np.testing.assert_allclose(shifts[4], 0.0, atol=1e-12)
    assert angles[4] == pytest.approx(0.0)
    extent = np.max(np.linalg.norm(shifts - shifts[0], axis=1))
    assert extent == pytest.approx(10.0)
    assert np.all(np.abs(angles) <= 1.0)


def test_identity_pose_copies_pixels_exactly():
    image = load_builtin_photo("coffee").astype(np.float32) / 255
    view = render_view(
        image, center=(100.0 + 15.5, 50.0 + 11.5), size=(24, 32), shift=(0, 0), angle_deg=0
    )
    np.testing.assert_array_equal(view, image[50:74, 100:132])


def test_blurry_is_the_mean_of_shifted_frames_and_differs_from_sharp():
    image = load_builtin_photo("astronaut").astype(np.float32) / 255
    blur = BlurModel(num_frames=(9, 9), motion_px=(12.0, 12.0), quantize=False)
    blurry, sharp = synthesize_pair(
        image, (0, 0, 512, 512), (64, 64), np.random.default_rng(0), blur
    )
    assert blurry.shape == sharp.shape == (64, 64, 3)
    mse = float(np.mean((blurry - sharp) ** 2))
    assert 15.0 < 10 * np.log10(1.0 / mse) < 40.0  # visibly blurred, still the same scene
    # blur removes high frequencies: the image gradient energy drops
    assert np.abs(np.diff(blurry, axis=1)).mean() < np.abs(np.diff(sharp, axis=1)).mean()


def test_gamma_averages_in_linear_light():
    image = load_builtin_photo("astronaut").astype(np.float32) / 255
    args = (image, (0, 0, 512, 512), (32, 32))
    lin = synthesize_pair(*args, np.random.default_rng(1), BlurModel(gamma=2.2, quantize=False))
    srgb = synthesize_pair(*args, np.random.default_rng(1), BlurModel(gamma=1.0, quantize=False))
    np.testing.assert_array_equal(lin[1], srgb[1])  # same sharp target
    assert lin[0].mean() > srgb[0].mean()  # the power mean exceeds the arithmetic mean


def test_validation_and_test_sets_are_fixed_and_differ(source):
    val_a = [source.val_dataset()[i] for i in range(5)]
    val_b = [source.val_dataset()[i] for i in range(5)]
    test = [source.test_dataset()[i] for i in range(5)]
    for (b1, s1, n1), (b2, s2, n2) in zip(val_a, val_b, strict=False):
        np.testing.assert_array_equal(b1, b2)
        np.testing.assert_array_equal(s1, s2)
        assert n1 == n2
    assert any(not np.array_equal(v[0], t[0]) for v, t in zip(val_a, test, strict=False))
    assert val_a[0][0].shape == (40, 56, 3) and val_a[0][0].dtype == np.float32


def test_training_samples_are_fresh_each_draw_and_reproducible_from_the_seed(source):
    train = source.train_dataset()
    torch.manual_seed(0)
    first = train[0][0]
    second = train[0][0]
    torch.manual_seed(0)
    again = train[0][0]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_validation_regions_do_not_overlap_training_regions(source):
    for (_, _, train_region), (_, _, val_region) in zip(
        source._split(True), source._split(False), strict=False
    ):
        t_top, t_left, t_bottom, t_right = train_region
        v_top, v_left, v_bottom, v_right = val_region
        overlap_h = min(t_bottom, v_bottom) - max(t_top, v_top)
        overlap_w = min(t_right, v_right) - max(t_left, v_left)
        assert overlap_h <= 0 or overlap_w <= 0


def test_image_dir_replaces_the_builtin_photographs(tmp_path):
    from deblurlab.data.io import write_image

    write_image(tmp_path / "a.png", load_builtin_photo("rocket")[:200, :300])
    src = SyntheticBlurSource(image_dir=str(tmp_path), eval_size=(32, 32), val_samples=1)
    assert [name for name, _ in src.photos()] == ["a"]
    assert src.val_dataset()[0][2] == "a_0000"


def test_missing_image_dir_names_the_folder(tmp_path):
    from deblurlab.errors import DataError

    with pytest.raises(DataError, match="nowhere"):
        SyntheticBlurSource(image_dir=str(tmp_path / "nowhere")).photos()


@pytest.mark.parametrize("experiment", [None, "quickstart"])
def test_builtin_validation_blur_is_calibrated_to_gopro(train_config, experiment):
    """The built-in blur is as strong as GoPro's: its validation set's blurry-vs-sharp PSNR
    (8-bit, per image, averaged) lies within 24.5-27 dB, where GoPro's test pairs lie."""
    from hydra.utils import instantiate

    from deblurlab.metrics import evaluate_pair
    from deblurlab.quantize import to_uint8

    overrides = [f"experiment={experiment}"] if experiment else []
    cfg = train_config(*overrides, tiny=False)
    source = instantiate(cfg.data.source)
    val = source.val_dataset()
    scores = [evaluate_pair(to_uint8(b), to_uint8(s), "gopro")["psnr"] for b, s, _ in val]
    assert len(scores) == cfg.data.source.val_samples >= 10
    assert 24.5 <= float(np.mean(scores)) <= 27.0, scores
