"""Inference helpers that wrap any deblurlab network."""

from .ensemble import SelfEnsemble  # noqa: F401
