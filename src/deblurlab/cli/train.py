"""deblurlab-train: train (and by default test) one configuration; ``-m`` for sweeps.

    deblurlab-train experiment=quickstart
    deblurlab-train model=mimo_unet_plus data=gopro data.root=/data/GOPRO_Large trainer=gpu
    deblurlab-train -m experiment=ablation_table3 data.root=/data/GOPRO_Large debug=smoke
    deblurlab-train resume=experiments/runs/train/2026-01-01/12-00-00-000000_123

The work is :func:`deblurlab.tasks.train.train`; this module only composes the config.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from deblurlab.run.command_line import (
    CommandLine,
    check_command_line,
    check_group_choices,
    check_output_folder,
    check_run_dir_argument,
)
from deblurlab.run.config import CONFIG_PATH, register_resolvers
from deblurlab.run.resume import check_sweep_folder, resume_argv
from deblurlab.run.slurm import register_launcher
from deblurlab.run.task import run_task

register_resolvers()  # used by the run-folder names (also in multirun jobs started elsewhere)


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    from deblurlab.tasks.train import train  # imported here: --help does not load the task

    metrics = run_task(train, cfg)
    return metrics.get("val/psnr_best")


def _expand_resume(command_line: CommandLine) -> None:
    """``resume=<run dir>`` -> that run's overrides (see deblurlab.run.resume); Hydra, and
    Lightning when it starts the DDP ranks, read the rewritten ``sys.argv``."""
    sys.argv[1:] = resume_argv(list(command_line.argv))


def main() -> float | None:
    """Console entry point; returns val/psnr_best for sweepers (e.g. Optuna).

    ``resume=<run dir>`` is read before Hydra composes anything (see deblurlab.run.resume).
    """
    check_command_line(
        check_group_choices,
        check_run_dir_argument,
        check_sweep_folder,
        _expand_resume,
        check_output_folder,
    )
    register_launcher()  # launcher=slurm
    return _hydra_main()


if __name__ == "__main__":
    main()
