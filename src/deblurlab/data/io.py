"""Reading and writing images with OpenCV, with one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deblurlab.errors import DataError

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: Path) -> bool:
    """True when ``path`` has one of the image suffixes deblurlab reads."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as H x W x 3 float32 RGB in [0, 1].

    Grayscale is replicated to three channels, an alpha channel is dropped and 16-bit images are
    scaled by 65535, so every common format arrives in the same form.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise DataError(f"{path}: not a readable image (empty, truncated or not an image file)")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        raise DataError(f"{path}: unsupported number of channels ({image.shape[2]})")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype in (np.float32, np.float64):
        return np.clip(image, 0.0, 1.0).astype(np.float32)
    raise DataError(f"{path}: unsupported pixel type {image.dtype}")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round a float image in [0, 1] to uint8 (round half up after clamping, not truncation)."""
    return np.clip(np.floor(image * 255.0 + 0.5), 0, 255).astype(np.uint8)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an H x W x 3 RGB image (uint8, or float in [0, 1] rounded to 8 bits) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype != np.uint8:
        image = to_uint8(image)
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(f"{path}: could not encode image")
    encoded.tofile(str(path))
