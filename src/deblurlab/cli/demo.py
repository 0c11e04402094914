"""deblurlab-demo: a local web page to drop a photo on and see it deblurred (needs the demo extra).

    deblurlab-demo ckpt_path=best.ckpt                    # http://127.0.0.1:7860/
    deblurlab-demo ckpt_path=best.ckpt port=8080 tile=512
    deblurlab-demo ckpt_path=MIMO-UNet.pkl model=mimo_unet example=photo.jpg

The work is :func:`deblurlab.tasks.demo.demo`; this module only composes the config.
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


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="demo")
def _hydra_main(cfg: DictConfig) -> None:
    from deblurlab.tasks.demo import demo  # torch and gradio load only when the page is served

    OmegaConf.set_struct(cfg, False)
    run_task(demo, cfg)


def main() -> None:
    """Console entry point: a group option that does not exist, or a run folder that
    cannot be written, is one line before Hydra runs."""
    check_command_line(check_group_choices, check_output_folder)
    _hydra_main()


if __name__ == "__main__":
    main()
