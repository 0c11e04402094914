"""GoPro-like synthetic motion blur over real photographs, with no download.

GoPro's blurry frames are the average of M consecutive sharp frames of a moving camera (the
MIMO-UNet paper's Eq. 1), with the middle frame as the ground truth. Here a random smooth camera
path (translation plus a small in-plane rotation) is sampled, the photograph is rendered at each
pose along it, and the frames are averaged, optionally in linear light. The middle of the path is
the identity pose, so the sharp target is an exact crop of the photograph.

A second mode, ``kernel``, makes camera-shake blur the classic way: a random shaky trajectory is
rasterised into a point-spread function (PSF) that sums to 1 and whose centroid is its centre
pixel, and the photograph is convolved with it in linear light (gamma 2.2 by default). Both modes
can add Gaussian sensor noise to the blurry image.

Every validation and test sample is a pure function of ``(seed, index)``, so those sets are
fixed. A training item draws its blur from the item's stream that the DataModule hands to
:meth:`SyntheticPairs.draw` (:mod:`deblurlab.data.resumable`): the photograph's window, the
number of frames, the path length, the camera path or shake trajectory and the noise come first
in that stream, the crop and flips after them, so every epoch sees new samples, each a pure
function of ``(seed, epoch, index)``. Asked for by index alone, a training item draws a fresh seed
from torch's RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from deblurlab.data.io import is_image_file, read_image
from deblurlab.data.photos import load_builtin_photos
from deblurlab.errors import ConfigError, DataError
from deblurlab.quantize import to_uint8

BLUR_MODES: tuple[str, ...] = ("frames", "kernel")
DEFAULT_GAMMA: dict[str, float] = {"frames": 1.0, "kernel": 2.2}


@dataclass(frozen=True)
class BlurModel:
    """How the blur is made.

    ``mode="frames"`` averages ``num_frames`` views along a smooth camera path (rotation up to
    ``max_rotation_deg``); ``mode="kernel"`` convolves with a camera-shake PSF. ``motion_px`` is
    the path length in both; ``gamma`` the power applied before averaging / convolving (1: sRGB
    values, 2.2: approximately linear light); ``noise_std`` the standard deviation of Gaussian
    noise added to the blurry image (in [0, 1] units).
    """

    num_frames: tuple[int, int] = (7, 13)
    motion_px: tuple[float, float] = (6.0, 22.0)
    max_rotation_deg: float = 1.0
    gamma: float = 1.0
    quantize: bool = True
    mode: str = "frames"
    noise_std: float = 0.0


def random_camera_path(
    rng: np.random.Generator, num_frames: int, motion_px: float, max_rotation_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a smooth camera path over normalised time t in [-1, 1].

    Returns ``(shifts, angles)``: ``num_frames x 2`` pixel offsets and ``num_frames`` angles in
    degrees. The path is a random quadratic plus a gentle oscillation (hand shake), scaled so its
    largest excursion from the start is ``motion_px``; it passes through the identity pose at t = 0.
    """
    t = np.linspace(-1.0, 1.0, num_frames)
    velocity = rng.normal(size=2)
    acceleration = rng.normal(size=2) * 0.6
    shake_amp = rng.normal(size=2) * 0.25
    shake_freq = rng.uniform(1.0, 3.0)
    shake_phase = rng.uniform(0, 2 * np.pi, size=2)
    path = (
        velocity[None] * t[:, None]
        + acceleration[None] * t[:, None] ** 2
        + shake_amp[None]
        * (np.sin(np.pi * shake_freq * t[:, None] + shake_phase) - np.sin(shake_phase))
    )
    extent = np.max(np.linalg.norm(path - path[0], axis=1))
    shifts = path * (motion_px / max(extent, 1e-6))
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg) * t
    return shifts, angles


def random_shake_trajectory(
    rng: np.random.Generator, length_px: float, num_points: int | None = None
) -> np.ndarray:
    """A hand-shake trajectory: ``num_points x 2`` positions in pixels.

    A random walk with inertia: the velocity keeps its direction, drifts with small Gaussian
    perturbations, is pulled gently back towards the start (the hand corrects itself), and now and
    then receives an abrupt jerk. The result is scaled so its largest excursion from the start is
    ``length_px``.
    """
    n = num_points or max(32, int(np.ceil(6 * length_px)))
    velocity = rng.normal(size=2)
    velocity /= max(np.linalg.norm(velocity), 1e-6)
    position = np.zeros(2)
    points = np.empty((n, 2))
    for i in range(n):
        points[i] = position
        velocity = velocity + rng.normal(scale=0.3, size=2) - 0.05 * position / max(length_px, 1)
        if rng.random() < 0.03:  # an abrupt jerk of the hand
            velocity = velocity + rng.normal(scale=1.5, size=2)
        position = position + velocity / max(np.linalg.norm(velocity), 1e-6)
    extent = np.max(np.linalg.norm(points - points[0], axis=1))
    return points * (length_px / max(extent, 1e-6))


def rasterize_psf(points: np.ndarray) -> np.ndarray:
    """Splat trajectory points bilinearly into an odd-sized PSF that sums to 1.

    The points are first centred on their mean; bilinear splatting keeps that first moment, so
    the PSF's centroid is exactly its centre pixel and the blurry image does not shift against
    the sharp one on average.
    """
    pts = np.asarray(points, dtype=np.float64) - np.mean(points, axis=0)
    radius = int(np.ceil(np.max(np.abs(pts)))) + 1
    size = 2 * radius + 1
    psf = np.zeros((size, size), dtype=np.float64)
    x, y = pts[:, 0] + radius, pts[:, 1] + radius
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dy, dx, weight in (
        (0, 0, (1 - fx) * (1 - fy)),
        (0, 1, fx * (1 - fy)),
        (1, 0, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(psf, (y0 + dy, x0 + dx), weight)
    return (psf / psf.sum()).astype(np.float32)


def convolve(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """True convolution of an H x W x C image with ``psf`` (OpenCV correlates: flip the kernel)."""
    return cv2.filter2D(image, -1, psf[::-1, ::-1].copy(), borderType=cv2.BORDER_REFLECT_101)


def render_view(
    image: np.ndarray, center: tuple[float, float], size: tuple[int, int], shift, angle_deg: float
) -> np.ndarray:
    """Render an ``size = (h, w)`` view of ``image`` centred at ``center = (x, y)`` for one camera pose.

    The pose moves the sampling window by ``shift = (dx, dy)`` pixels and rotates it by
    ``angle_deg`` about its centre. The identity pose with an integer centre copies pixels exactly.
    """
    h, w = size
    a = np.deg2rad(angle_deg)
    cos, sin = np.cos(a), np.sin(a)
    out_c = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    src_c = np.asarray(center, dtype=np.float64) + np.asarray(shift, dtype=np.float64)
    rot = np.array([[cos, -sin], [sin, cos]])
    # dst -> src map: src = R (dst - out_c) + src_c
    matrix = np.hstack([rot, (src_c - rot @ out_c)[:, None]])
    return cv2.warpAffine(
        image,
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def synthesize_pair(
    image: np.ndarray,
    region: tuple[int, int, int, int],
    size: tuple[int, int],
    rng: np.random.Generator,
    blur: BlurModel,
) -> tuple[np.ndarray, np.ndarray]:
    """Make one ``(blurry, sharp)`` pair of ``size`` from ``image`` (float32 RGB in [0, 1]).

    The view centre is drawn inside ``region = (top, left, bottom, right)`` so that validation
    crops never come from the training part of a photograph.
    """
    if blur.mode == "kernel":
        blurry, sharp = _kernel_pair(image, region, size, rng, blur)
    else:
        blurry, sharp = _frames_pair(image, region, size, rng, blur)
    if blur.noise_std > 0:
        blurry = blurry + rng.normal(scale=blur.noise_std, size=blurry.shape).astype(np.float32)
        blurry = np.clip(blurry, 0.0, 1.0)
    if blur.quantize:  # GoPro frames are 8-bit PNGs
        blurry = to_uint8(blurry).astype(np.float32) / np.float32(255.0)
        sharp = to_uint8(sharp).astype(np.float32) / np.float32(255.0)
    return blurry.astype(np.float32), sharp.astype(np.float32)


def _frames_pair(image, region, size, rng, blur: BlurModel) -> tuple[np.ndarray, np.ndarray]:
    """GoPro-like: the mean of views along a smooth camera path, the middle view is sharp."""
    h, w = size
    top, left, bottom, right = region
    # integer centre (pixel-exact sharp frame); keep the window inside the region when it fits
    cy = _draw_center(rng, top, bottom, h)
    cx = _draw_center(rng, left, right, w)
    center = (cx, cy)
    n = int(rng.integers(blur.num_frames[0], blur.num_frames[1] + 1))
    length = float(rng.uniform(*blur.motion_px))
    shifts, angles = random_camera_path(rng, n, length, blur.max_rotation_deg)
    sharp = render_view(image, center, size, (0.0, 0.0), 0.0)
    frames = np.stack(
        [render_view(image, center, size, s, a) for s, a in zip(shifts, angles, strict=True)]
    )
    if blur.gamma != 1.0:
        blurry = np.mean(frames**blur.gamma, axis=0) ** (1.0 / blur.gamma)
    else:
        blurry = frames.mean(axis=0)
    return blurry.astype(np.float32), sharp


def _kernel_pair(image, region, size, rng, blur: BlurModel) -> tuple[np.ndarray, np.ndarray]:
    """Camera shake: convolve a view (with a margin of real scene) by a random PSF."""
    h, w = size
    top, left, bottom, right = region
    length = float(rng.uniform(*blur.motion_px))
    psf = rasterize_psf(random_shake_trajectory(rng, length))
    r = psf.shape[0] // 2
    # the margin feeds the blur at the borders; keep it inside the region too when it fits
    cy = _draw_center(rng, top, bottom, h + 2 * r)
    cx = _draw_center(rng, left, right, w + 2 * r)
    view = render_view(image, (cx, cy), (h + 2 * r, w + 2 * r), (0.0, 0.0), 0.0)
    # large kernels are applied through the DFT by OpenCV: clamp its tiny negative round-off
    blurry = np.maximum(convolve(view**blur.gamma, psf), 0.0) ** (1.0 / blur.gamma)
    return blurry[r : r + h, r : r + w].astype(np.float32), view[r : r + h, r : r + w]


def _draw_center(rng: np.random.Generator, lo: int, hi: int, size: int) -> float:
    """An integer-aligned window centre in [lo, hi) such that the window stays inside when possible."""
    half = (size - 1) / 2.0
    first, last = lo + half, hi - 1 - half
    if last < first:  # window larger than the region: centre it
        return (lo + hi - 1) / 2.0
    start = int(rng.integers(0, int(last - first) + 1))
    return first + start


class SyntheticPairs(Dataset):
    """Pairs rendered on the fly from photographs; ``seed=None`` draws a fresh seed per item."""

    def __init__(
        self,
        photos: Sequence[tuple[str, np.ndarray, tuple[int, int, int, int]]],
        size: tuple[int, int],
        length: int,
        blur: BlurModel,
        seed: int | None,
        as_uint8: bool = False,
    ) -> None:
        self.photos = photos
        self.size = size
        self.length = length
        self.blur = blur
        self.seed = seed
        # 8-bit pairs as uint8 (the same values; 4x less to send from loader workers)
        self.as_uint8 = as_uint8 and blur.quantize

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        seed = self.seed if self.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
        return self.draw(index, np.random.default_rng([seed, index]))

    def draw(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        """Item ``index`` with every random parameter of its blur drawn from ``rng``, in
        sequence (the caller may go on drawing from ``rng`` for the item's crop and flips)."""
        if not 0 <= index < self.length:
            raise IndexError(index)
        name, image, region = self.photos[index % len(self.photos)]
        blurry, sharp = synthesize_pair(image, region, self.size, rng, self.blur)
        if self.as_uint8:
            blurry, sharp = to_uint8(blurry), to_uint8(sharp)
        return blurry, sharp, f"{name}_{index:04d}"


class SyntheticBlurSource:
    """The built-in dataset: GoPro-like blur over real photographs (or over ``image_dir``).

    Each photograph is split along its longer side: the first ``1 - holdout`` is used for training,
    the rest for the fixed validation and test sets, so the validation score is measured on scene
    content the network never trained on.

    Args:
        image_dir: folder of sharp images to use instead of the built-in photographs.
        train_size: (h, w) of rendered training pairs (the DataModule crops from them).
        eval_size: (h, w) of the fixed validation/test pairs.
        train_samples, val_samples, test_samples: items per epoch / in the fixed sets.
        holdout: fraction of each photograph reserved for validation and test.
        seed: seed of the fixed validation (``seed``) and test (``seed + 1``) sets.
        num_frames, motion_px: inclusive ranges for frames per exposure and path length in pixels.
        max_rotation_deg: largest in-plane rotation over the exposure.
        gamma: 1.0 averages sRGB values like GoPro's ``blur``; 2.2 averages in linear light
            like ``blur_gamma``; None: 1.0 for ``frames``, 2.2 for ``kernel``.
        quantize: round both images to 8 bits, as stored PNG frames are.
        mode: ``frames`` (GoPro-like frame averaging) or ``kernel`` (camera-shake PSF).
        noise_std: Gaussian noise added to the blurry image (0: none).
    """

    def __init__(
        self,
        image_dir: str | None = None,
        train_size: Sequence[int] = (160, 160),
        eval_size: Sequence[int] = (128, 128),
        train_samples: int = 256,
        val_samples: int = 10,
        test_samples: int = 10,
        holdout: float = 0.3,
        seed: int = 0,
        num_frames: Sequence[int] = (7, 13),
        motion_px: Sequence[float] = (6.0, 22.0),
        max_rotation_deg: float = 1.0,
        gamma: float | None = None,
        quantize: bool = True,
        mode: str = "frames",
        noise_std: float = 0.0,
    ) -> None:
        if not 0.0 < holdout < 1.0:
            raise ValueError(f"data.source.holdout must be in (0, 1), got {holdout}")
        if mode not in BLUR_MODES:
            raise ConfigError(
                f"data.source.mode must be one of {', '.join(BLUR_MODES)}, got {mode!r}"
            )
        if noise_std < 0:
            raise ConfigError(f"data.source.noise_std must be >= 0, got {noise_std}")
        self.image_dir = image_dir
        self.train_size = _pair(train_size, "data.source.train_size")
        self.eval_size = _pair(eval_size, "data.source.eval_size")
        self.train_samples = train_samples
        self.val_samples = val_samples
        self.test_samples = test_samples
        self.holdout = holdout
        self.seed = seed
        self.blur = BlurModel(
            num_frames=_pair(num_frames, "data.source.num_frames"),
            motion_px=(float(motion_px[0]), float(motion_px[1])),
            max_rotation_deg=float(max_rotation_deg),
            gamma=float(DEFAULT_GAMMA[mode] if gamma is None else gamma),
            quantize=bool(quantize),
            mode=mode,
            noise_std=float(noise_std),
        )
        self._photos: list[tuple[str, np.ndarray]] | None = None

    def describe(self) -> str:
        """One line for the log: where the scenes come from and how many samples each split has."""
        where = self.image_dir or "built-in scikit-image photographs"
        how = "frame averaging" if self.blur.mode == "frames" else "camera-shake kernels"
        return (
            f"synthetic blur ({how}) over {where}: {self.train_samples} train samples/epoch, "
            f"{self.val_samples} val, {self.test_samples} test"
        )

    def photos(self) -> list[tuple[str, np.ndarray]]:
        """The sharp scenes as float32 RGB arrays (loaded once)."""
        if self._photos is None:
            if self.image_dir is None:
                self._photos = [(n, p.astype(np.float32) / 255.0) for n, p in load_builtin_photos()]
            else:
                folder = Path(self.image_dir)
                if not folder.is_dir():
                    raise DataError(f"{folder}: data.source.image_dir is not a folder")
                files = sorted(p for p in folder.iterdir() if is_image_file(p))
                if not files:
                    raise DataError(f"{folder}: data.source.image_dir contains no images")
                self._photos = [(p.stem, read_image(p)) for p in files]
        return self._photos

    def _split(self, train: bool) -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
        out = []
        for name, image in self.photos():
            h, w = image.shape[:2]
            if w >= h:
                cut = int(round(w * (1.0 - self.holdout)))
                region = (0, 0, h, cut) if train else (0, cut, h, w)
            else:
                cut = int(round(h * (1.0 - self.holdout)))
                region = (0, 0, cut, w) if train else (cut, 0, h, w)
            out.append((name, image, region))
        return out

    def train_dataset(self) -> Dataset:
        """Fresh random pairs every epoch (uint8 when quantized: loader workers ship bytes)."""
        return SyntheticPairs(
            self._split(True),
            self.train_size,
            self.train_samples,
            self.blur,
            seed=None,
            as_uint8=True,
        )

    def val_dataset(self) -> Dataset:
        """A fixed set of pairs from the held-out part of each photograph."""
        return SyntheticPairs(
            self._split(False), self.eval_size, self.val_samples, self.blur, seed=self.seed
        )

    def test_dataset(self) -> Dataset:
        """Another fixed set from the held-out parts (a different seed from validation)."""
        return SyntheticPairs(
            self._split(False), self.eval_size, self.test_samples, self.blur, seed=self.seed + 1
        )


def _pair(value: Sequence[int] | int, key: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    values = tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{key} must be one number or two, got {list(value)}")
    return values[0], values[1]
