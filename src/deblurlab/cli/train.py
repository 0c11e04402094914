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

from deblurlab.errors import DeblurlabError
from deblurlab.run.config import CONFIG_PATH, register_resolvers
from deblurlab.run.guards import check_group_choices, check_run_dir_argument
from deblurlab.run.resume import resume_argv
from deblurlab.run.task import EXIT_USER_ERROR, run_task

register_resolvers()  # used by the run-folder names (also in multirun jobs started elsewhere)


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    from deblurlab.tasks.train import train  # imported here: --help loads no Lightning

    metrics = run_task(train, cfg)
    return metrics.get("val/psnr_best")


def main() -> float | None:
    """Console entry point; returns val/psnr_best for sweepers (e.g. Optuna).

    ``resume=<run dir>`` is read before Hydra composes anything (see deblurlab.run.resume).
    """
    try:
        check_group_choices(sys.argv[1:])
        check_run_dir_argument(sys.argv[1:])
        sys.argv[1:] = resume_argv(sys.argv[1:])
    except DeblurlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    return _hydra_main()


if __name__ == "__main__":
    main()
