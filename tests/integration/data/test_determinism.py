"""Same seed, same losses: the first training steps do not depend on the number of loader
workers (every item's randomness derives from the seed, the epoch and its index)."""

from __future__ import annotations

import csv

import pytest

from deblurlab.tasks.train import train


def _losses(cfg) -> list[float]:
    train(cfg)
    with open(f"{cfg.paths.output_dir}/csv/metrics.csv", newline="") as f:
        return [float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")]


@pytest.mark.slow
def test_same_seed_same_first_losses_with_0_and_2_workers(train_config, tmp_path):
    common = [
        "debug=smoke", "test=false", "schedule.max_epochs=1", "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=0", "callbacks=none", "trainer.log_every_n_steps=1",
    ]  # fmt: skip
    runs = {}
    for workers in (0, 2):
        cfg = train_config(*common, f"data.num_workers={workers}")
        cfg.paths.output_dir = str(tmp_path / f"w{workers}")
        runs[workers] = _losses(cfg)
    assert len(runs[0]) == 3
    assert runs[0] == runs[2]
    # and the losses do depend on the seed (the comparison above is not vacuous)
    cfg = train_config(*common, "data.num_workers=0", "seed=7")
    cfg.paths.output_dir = str(tmp_path / "seed7")
    assert _losses(cfg) != runs[0]
