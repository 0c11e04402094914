"""Paired blurry/sharp data: sources (synthetic, folder layouts), paired transforms, the DataModule."""

from deblurlab.data.cache import DecodedCache
from deblurlab.data.datamodule import DeblurDataModule
from deblurlab.data.layouts import Pair, find_pairs
from deblurlab.data.paired import PairDataset, PairedFolderSource
from deblurlab.data.synthetic import SyntheticBlurSource

__all__ = [
    "DecodedCache",
    "DeblurDataModule",
    "Pair",
    "PairDataset",
    "PairedFolderSource",
    "SyntheticBlurSource",
    "find_pairs",
]
