"""deblurlab-eval: score a checkpoint (or an official weight file) on a dataset under a protocol.

    deblurlab-eval ckpt_path=experiments/runs/train/.../checkpoints/best.ckpt
    deblurlab-eval ckpt_path=best.ckpt data=hide data.root=/data/HIDE protocol=gopro
    deblurlab-eval ckpt_path=best.ckpt data=realblur_j data.root=/data/RealBlur protocol=realblur
    deblurlab-eval ckpt_path=MIMO-UNetPlus.pkl model=mimo_unet_pp data=gopro data.root=/data/GOPRO
    deblurlab-eval ckpt_path=best.ckpt tile=512 overlap=64 precision=bf16 ensemble=x8

The work is :func:`deblurlab.tasks.evaluate.evaluate`; this module only composes the config.
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


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    from deblurlab.tasks.evaluate import evaluate  # imported here: --help loads no torch

    OmegaConf.set_struct(cfg, False)
    run_task(evaluate, cfg)


def main() -> None:
    """Console entry point: a group option that does not exist, or a run folder that
    cannot be written, is one line before Hydra runs."""
    check_command_line(check_group_choices, check_output_folder)
    _hydra_main()


if __name__ == "__main__":
    main()
