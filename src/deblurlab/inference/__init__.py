"""Inference helpers that wrap any deblurlab network."""

from .ensemble import SelfEnsemble  # noqa: F401
from .restorer import ENSEMBLES, PRECISIONS, Restorer  # noqa: F401
from .tiling import blend_weights, tile_starts, tiled_apply  # noqa: F401
