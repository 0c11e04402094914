"""deblurlab-export: write a checkpoint's network as ONNX (any image size) or TorchScript, checked.

    deblurlab-export ckpt_path=best.ckpt output=deblur.onnx
    deblurlab-export ckpt_path=best.ckpt output=deblur.pt
    deblurlab-export ckpt_path=MIMO-UNet.pkl model=mimo_unet output=mimo_unet.onnx

The work is :func:`deblurlab.tasks.export.export`; this module only composes the config.
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


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="export")
def _hydra_main(cfg: DictConfig) -> None:
    from deblurlab.tasks.export import export  # imported here: --help loads no torch

    OmegaConf.set_struct(cfg, False)
    run_task(export, cfg)


def main() -> None:
    """Console entry point: a group option that does not exist, or a run folder that
    cannot be written, is one line before Hydra runs."""
    check_command_line(check_group_choices, check_output_folder)
    _hydra_main()


if __name__ == "__main__":
    main()
