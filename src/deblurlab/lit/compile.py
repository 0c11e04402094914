"""Training with a compiled network (``model.compile=true``), validation and test eager.

``nn.Module.compile`` compiles the network's call in place: its parameters, names and
``state_dict`` stay those of the eager network, so checkpoints load anywhere. Training crops all
have one size, so the compiled graph is built once; ``drop_last`` keeps a smaller last batch from
compiling a second one. Validation and test frames differ in size from image to image and run
eager (a compiled call per size would cost more than it saves).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


class CompileTraining(pl.Callback):
    """Compile ``pl_module.net`` for training steps; run it eager in validation and test.

    Args:
        options: keyword arguments of :func:`torch.compile` (e.g. ``mode="max-autotune"``).
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._compiled: Any = None  # the compiled call, kept while validation runs eager

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "drop_last"):
            datamodule.drop_last = True  # one batch shape per epoch: a single compiled graph
        pl_module.net.compile(**self.options)
        self._compiled = pl_module.net._compiled_call_impl

    def _eager(self, pl_module: pl.LightningModule) -> None:
        pl_module.net._compiled_call_impl = None

    def _compiled_again(self, pl_module: pl.LightningModule) -> None:
        pl_module.net._compiled_call_impl = self._compiled

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._compiled_again(pl_module)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._eager(pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._compiled_again(pl_module)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._eager(pl_module)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._eager(pl_module)
