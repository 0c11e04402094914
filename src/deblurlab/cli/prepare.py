"""deblurlab-prepare: scan a dataset, report problems, build the decoded cache.

    deblurlab-prepare data=gopro data.root=/data/GOPRO_Large
    deblurlab-prepare data=realblur_j data.root=/data/RealBlur splits=[test]
    deblurlab-prepare data=folder data.root=DIR cache=false     # only check every image

The work is :func:`deblurlab.tasks.prepare.prepare`; this module only composes the config.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from deblurlab.run.command_line import (
    check_command_line,
    check_group_choices,
    check_output_folder,
)
from deblurlab.run.config import CONFIG_PATH, register_resolvers
from deblurlab.run.task import run_task

register_resolvers()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="prepare")
def _hydra_main(cfg: DictConfig) -> None:
    from deblurlab.tasks.prepare import prepare  # imported here: --help loads no torch

    run_task(prepare, cfg)


def main() -> None:
    """Console entry point: a group option that does not exist, or a run folder that
    cannot be written, is one line before Hydra runs."""
    check_command_line(check_group_choices, check_output_folder)
    _hydra_main()


if __name__ == "__main__":
    main()
