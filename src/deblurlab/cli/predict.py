"""deblurlab-predict: deblur real photos (files, folders or globs) with a checkpoint.

    deblurlab-predict ckpt_path=best.ckpt input=photo.jpg output=restored/
    deblurlab-predict ckpt_path=best.ckpt input=photos/ output=restored/ tile=512 precision=bf16
    deblurlab-predict ckpt_path=MIMO-UNetPlus.pkl model=mimo_unet_pp input='shots/*.png' output=out/

The work is :func:`deblurlab.tasks.predict.predict`; this module only composes the config.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from deblurlab.run.config import CONFIG_PATH, register_resolvers
from deblurlab.run.task import run_task

register_resolvers()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="predict")
def main(cfg: DictConfig) -> None:
    """Console entry point."""
    from deblurlab.tasks.predict import predict  # imported here: --help loads no torch

    OmegaConf.set_struct(cfg, False)
    run_task(predict, cfg)


if __name__ == "__main__":
    main()
