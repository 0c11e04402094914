"""Inference helpers that wrap any deblurlab network."""

from .ensemble import SelfEnsemble  # noqa: F401
from .loading import (  # noqa: F401
    LoadedRun,
    load_network,
    load_restorer,
    load_restorer_from_config,
    make_restorer,
    pick_device,
)
from .restorer import ENSEMBLES, PRECISIONS, Restorer  # noqa: F401
from .tiling import blend_weights, tile_starts, tiled_apply  # noqa: F401
