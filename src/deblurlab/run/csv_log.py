"""The CSV log of a run: keep earlier sessions' logs on resume, and survive spawned trainer calls."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, open_dict
from pytorch_lightning.loggers import CSVLogger


def keep_earlier_csv_log(cfg: DictConfig, run_dir: Path) -> None:
    """On resume, point the CSV logger at a new ``csv/resume-<n>`` folder.

    Lightning's CSVLogger deletes an existing ``metrics.csv`` in its folder; the log of the
    earlier session(s) must survive.
    """
    csv_cfg = (cfg.get("logger") or {}).get("csv")
    if not csv_cfg or not (run_dir / str(csv_cfg.get("name") or "")).is_dir():
        return
    n = 1
    while (run_dir / str(csv_cfg.name) / f"resume-{n}").exists():
        n += 1
    with open_dict(cfg):
        csv_cfg.version = f"resume-{n}"


def remember_csv_columns(trainer: pl.Trainer) -> None:
    """Give the CSV logger the columns already in its file before the next trainer call.

    With a spawning strategy (trainer=ddp_cpu) each trainer call runs in new processes that get
    this process's logger, which never saw the columns the previous call wrote; Lightning's CSV
    writer would then rewrite the file with the new columns only and fail on the old rows.
    """
    if not trainer.is_global_zero:
        return  # only rank 0 writes the log; the others' experiment is Lightning's stand-in
    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger) and logger.experiment is not None:
            writer = logger.experiment
            if os.path.isfile(writer.metrics_file_path):
                with open(writer.metrics_file_path, newline="") as f:
                    header = next(csv.reader(f), [])
                writer.metrics_keys = sorted(set(writer.metrics_keys) | set(header))
