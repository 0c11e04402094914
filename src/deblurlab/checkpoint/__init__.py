"""Checkpoint and weight files: reading (``weights_only=True``), atomic writing and digests
(:mod:`.files`); a network's weights in any of the formats and the one check that they fit
(:mod:`.weights`); the run config a deblurlab checkpoint carries, checked against the registry
before anything in it is built (:mod:`.config`)."""

from deblurlab.checkpoint.config import BUILT_SECTIONS, CONFIG_KEY, embedded_config, rebuild
from deblurlab.checkpoint.files import (
    file_digest,
    is_lightning_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from deblurlab.checkpoint.weights import (
    WeightsMismatchError,
    check_fit,
    load_state,
    load_weights,
    network_state,
    read_state_dict,
)

__all__ = [
    "BUILT_SECTIONS",
    "CONFIG_KEY",
    "WeightsMismatchError",
    "check_fit",
    "embedded_config",
    "file_digest",
    "is_lightning_checkpoint",
    "load_state",
    "load_weights",
    "network_state",
    "read_checkpoint",
    "read_state_dict",
    "rebuild",
    "write_checkpoint",
]
