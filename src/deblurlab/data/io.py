"""Reading and writing images with OpenCV, with one-line errors that name the file.

Two reading levels: :func:`read_image_raw` returns the stored integers (uint8 or uint16 RGB), which
is what the decoded cache keeps and what the training loader crops before converting; and
:func:`read_image` returns float32 RGB in [0, 1] (the raw integers divided by 255 or 65535).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deblurlab.atomic import atomic_write
from deblurlab.errors import DataError
from deblurlab.quantize import to_uint8

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: Path) -> bool:
    """True when ``path`` has one of the image suffixes deblurlab reads (hidden files excluded)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def decode_image(data: bytes | np.ndarray, name: str | Path) -> np.ndarray:
    """Decode encoded image bytes to H x W x 3 RGB as stored; ``name`` is used in errors.

    The result is uint8 or uint16 (float TIFFs: float32 clipped to [0, 1]). Grayscale is
    replicated to three channels and an alpha channel is dropped, so every common format arrives
    in the same form.
    """
    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        raise DataError(f"{name}: not a readable image (empty, truncated or not an image file)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        raise DataError(f"{name}: unsupported number of channels ({image.shape[2]})")
    if image.dtype in (np.float32, np.float64):  # e.g. float TIFF: assumed to be in [0, 1]
        return np.clip(image, 0.0, 1.0).astype(np.float32)
    if image.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{name}: unsupported pixel type {image.dtype}")
    return np.ascontiguousarray(image)


def read_image_raw(path: str | Path) -> np.ndarray:
    """Read an image as H x W x 3 RGB with its stored pixel type (see :func:`decode_image`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return decode_image(data, path)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 images -> float32 in [0, 1] (divided by 255 / 65535); floats pass through."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535.0)
    return np.asarray(image, dtype=np.float32)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as H x W x 3 float32 RGB in [0, 1].

    Grayscale is replicated to three channels, an alpha channel is dropped and 16-bit images are
    scaled by 65535, so every common format arrives in the same form.
    """
    return to_float(read_image_raw(path))


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an H x W x 3 RGB image (uint8; uint16 or float in [0, 1] rounded to 8 bits).

    The file is written whole or not at all (:func:`deblurlab.atomic.atomic_write`): a link at
    ``path`` is replaced by the new file, so whatever it pointed to is never overwritten.
    """
    path = Path(path)
    if image.dtype == np.uint16:
        image = image / 65535.0
    if image.dtype != np.uint8:
        image = to_uint8(image)
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(f"{path}: could not encode image")
    try:  # a temporary file renamed over the target: a link there is replaced, never followed
        atomic_write(path, lambda f: f.write(encoded.tobytes()))
    except OSError as exc:
        raise DataError(f"{path}: cannot be written ({exc.strerror or exc})") from None
