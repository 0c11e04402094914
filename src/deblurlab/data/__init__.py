"""Paired blurry/sharp data: sources (synthetic, folder layouts), paired transforms, the DataModule."""

from deblurlab.data.datamodule import DeblurDataModule
from deblurlab.data.synthetic import SyntheticBlurSource

__all__ = ["DeblurDataModule", "SyntheticBlurSource"]
