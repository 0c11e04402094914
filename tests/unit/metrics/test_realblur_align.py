"""RealBlur alignment: recovers a known homography and gain; masked scores match scikit-image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity

from deblurlab.metrics import align_to_target, evaluate_pair
from deblurlab.metrics.realblur_align import intensity_gain

# Maps target pixel coordinates to where the moved copy holds that content (sub-pixel shift,
# shear, small perspective): moved(x) = target(G x), so the alignment must find inverse(G).
G = np.array([[1.0, 0.01, 1.5], [-0.008, 1.0, -0.75], [1e-4, -5e-5, 1.0]])
GAIN = 0.8


@pytest.fixture(scope="module")
def target() -> np.ndarray:
    """A fixed 64 x 64 float32 crop of scikit-image's astronaut."""
    small = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small[32:96, 32:96]).astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def moved(target) -> np.ndarray:
    """The target warped by G and darkened by GAIN, stored as 8 bits."""
    warped = cv2.warpPerspective(
        target,
        G.astype(np.float32),
        (64, 64),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    return np.clip(np.floor(warped * GAIN * 255 + 0.5), 0, 255).astype(np.uint8)


def _apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.c_[points, np.ones(len(points))] @ h.T
    return p[:, :2] / p[:, 2:]


def test_alignment_recovers_the_homography(target, moved):
    a = align_to_target(moved.astype(np.float32) / 255.0, target)
    assert a.converged
    # where the found warp sends the image's corners vs where inverse(G) sends them
    corners = np.array([[0, 0], [63, 0], [0, 63], [63, 63], [32, 32]], dtype=np.float64)
    error = np.linalg.norm(_apply(a.warp, corners) - _apply(np.linalg.inv(G), corners), axis=1)
    assert error.max() < 0.25


def test_alignment_recovers_the_gain_of_an_aligned_copy(target):
    darker = np.floor(target * GAIN * 255 + 0.5) / 255
    a = align_to_target(darker.astype(np.float32), target)
    assert a.gain == pytest.approx(1 / GAIN, rel=0.005)
    assert np.abs(a.output - target)[5:-5, 5:-5].max() < 2 / 255


def test_aligned_psnr_of_a_shifted_rescaled_copy_is_far_higher(target, moved):
    target8 = np.floor(target * 255 + 0.5).astype(np.uint8)
    aligned = evaluate_pair(moved, target8, "realblur")
    plain = evaluate_pair(moved, target8, "gopro")
    assert aligned["psnr"] > plain["psnr"] + 10
    assert aligned["ssim"] > 0.95 > plain["ssim"]


def test_mask_marks_what_a_pure_shift_brings_in_from_outside(target):
    # content moved 3 px to the right: the first 3 columns of the aligned output come from outside
    shifted = np.zeros_like(target)
    shifted[:, 3:] = target[:, :-3]
    shifted[:, :3] = target[:, :3]
    a = align_to_target(shifted, target)
    assert a.warp[0, 2] == pytest.approx(3.0, abs=0.1)
    assert a.mask.shape == target.shape
    assert set(np.unique(a.mask)) <= {0.0, 1.0}
    assert np.all(a.mask[:, -3:] == 0) and np.all(a.mask[:, 5:-5] == 1)
    assert np.all(a.output[a.mask == 0] == 0) and np.all(a.target[a.mask == 0] == 0)


def _reference_scores(a) -> tuple[float, float]:
    """The protocol written out with numpy and scikit-image's full SSIM map."""
    err = np.sum((a.target.astype(np.float64) - a.output) ** 2) / np.sum(a.mask)
    _, full = structural_similarity(
        a.target,
        a.output,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=-1,
        data_range=1.0,
        full=True,
    )
    m = a.mask[5:-5, 5:-5]
    return 10 * np.log10(1.0 / err), np.mean((full[5:-5, 5:-5] * m).sum((0, 1)) / m.sum((0, 1)))


def test_masked_scores_match_scikit_image_and_the_protocol_definition(target, moved):
    """PSNR: masked squared error / mask sum; SSIM: skimage's full Gaussian map, times the mask,
    5 px border dropped, masked mean per channel, mean over channels."""
    target8 = np.floor(target * 255 + 0.5).astype(np.uint8)
    a = align_to_target(moved.astype(np.float32) / 255.0, target8.astype(np.float32) / 255.0)
    assert 0.5 < a.mask.mean() < 1.0  # the mask matters here
    expected_psnr, expected_ssim = _reference_scores(a)
    scores = evaluate_pair(moved, target8, "realblur")
    assert scores["psnr"] == pytest.approx(expected_psnr, abs=1e-6)
    assert scores["ssim"] == pytest.approx(expected_ssim, abs=1e-6)


def test_intensity_gain_is_the_least_squares_scale():
    rng = np.random.default_rng(0)
    out = rng.random((8, 8, 3)).astype(np.float32)
    assert intensity_gain(out, 0.7 * out) == pytest.approx(0.7, rel=1e-6)
    target = rng.random((8, 8, 3))
    gains = np.linspace(0.5, 1.5, 201)
    best = gains[np.argmin([np.sum((target - g * out) ** 2) for g in gains])]
    assert intensity_gain(out, target) == pytest.approx(best, abs=0.005)
    assert intensity_gain(np.zeros_like(out), target) == 1.0


def test_flat_images_fall_back_to_no_alignment_instead_of_crashing():
    flat = np.full((32, 32, 3), 128, np.uint8)
    a = align_to_target(flat.astype(np.float32) / 255, flat.astype(np.float32) / 255)
    assert not a.converged and np.array_equal(a.warp, np.eye(3, dtype=np.float32))
    darker = np.full((32, 32, 3), 100, np.uint8)
    scores = evaluate_pair(darker, flat, "realblur")
    assert scores["psnr"] > 40  # the gain alone matches a flat image
