"""Lightning glue: the LightningModule and callbacks."""

from deblurlab.lit.deblur_module import DeblurLitModule

__all__ = ["DeblurLitModule"]
