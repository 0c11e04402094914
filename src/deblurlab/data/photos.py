"""Real photographs that ship inside scikit-image, used as sharp scenes for the built-in synthetic data."""

from __future__ import annotations

import numpy as np

# Only real photographs of scenes (no rendered logos, colour wheels, microscopy or telescope images).
BUILTIN_PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket", "stereo_motorcycle")


def load_builtin_photo(name: str) -> np.ndarray:
    """Return the scikit-image photograph ``name`` as an H x W x 3 uint8 RGB array."""
    import skimage.data

    if name not in BUILTIN_PHOTOS:
        raise ValueError(
            f"unknown built-in photo {name!r}; choose from {', '.join(BUILTIN_PHOTOS)}"
        )
    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle returns (left, right, disparity)
        image = image[0]
    return np.ascontiguousarray(image[..., :3])


def load_builtin_photos() -> list[tuple[str, np.ndarray]]:
    """Return every built-in photograph as ``(name, H x W x 3 uint8)``."""
    return [(name, load_builtin_photo(name)) for name in BUILTIN_PHOTOS]
