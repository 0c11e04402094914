"""deblurlab-predict: deblur real photos (files, folders or globs) with a checkpoint.

    deblurlab-predict ckpt_path=best.ckpt input=photo.jpg output=restored/
    deblurlab-predict ckpt_path=best.ckpt input=photos/ output=restored/ tile=512 precision=bf16
    deblurlab-predict ckpt_path=MIMO-UNetPlus.pkl model=mimo_unet_pp input='shots/*.png' output=out/

The work is :func:`deblurlab.tasks.predict.predict`; this module only composes the config.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from deblurlab.run.command_line import (
    check_command_line,
    check_group_choices,
    check_output_folder,
)
from deblurlab.run.config import CONFIG_PATH, register_resolvers
from deblurlab.run.task import run_task

register_resolvers()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="predict")
def _hydra_main(cfg: DictConfig) -> None:
    from deblurlab.tasks.predict import predict  # imported here: --help loads no torch

    OmegaConf.set_struct(cfg, False)
    run_task(predict, cfg)


def main() -> None:
    """Console entry point: a group option that does not exist, or a run folder that
    cannot be written, is one line before Hydra runs."""
    check_command_line(check_group_choices, check_output_folder)
    _hydra_main()


if __name__ == "__main__":
    main()
