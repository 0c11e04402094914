"""Deblurring networks: plain ``nn.Module``s returning a list of images, coarse to fine."""

from deblurlab.checkpoint.weights import load_weights  # noqa: F401

from .mimo_unet import MIMOUNet, mimo_unet, mimo_unet_plus, mimo_unet_pp  # noqa: F401
from .sgenet import SGENet, sgenet  # noqa: F401
