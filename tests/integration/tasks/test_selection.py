"""Where the best checkpoint is chosen: the test set (GoPro has no validation split, as in the
papers' code) unless data.val_from_train=<n> holds training pairs out; recorded as selected_on."""

from __future__ import annotations

import json

from hydra.utils import instantiate

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import TINY_LOGGER, TINY_NET, compose_config
from fixtures.datasets import make_gopro

TINY_MODEL = TINY_LOGGER + TINY_NET["mimo_unet"]
GOPRO = ["data=gopro", "debug=smoke", "data.eval_batch_size=1", "trainer.limit_val_batches=1.0"]


def test_val_from_train_holds_training_pairs_out_and_is_recorded(tmp_path):
    root = make_gopro(tmp_path / "gopro", num_train=6, num_test=3)
    data = [*GOPRO, f"data.root={root}", f"data.source.cache_dir={tmp_path / 'cache'}"]

    held = compose_config("train", [*TINY_MODEL, *data, "data.val_from_train=2"], tmp_path / "a")
    dm = instantiate(held.data)
    dm.setup("fit")
    train_names = {dm.train_set.pairs[i][2] for i in range(len(dm.train_set.pairs))}
    val_names = {dm.val_set.pairs[i][2] for i in range(len(dm.val_set.pairs))}
    assert (len(train_names), len(val_names)) == (4, 2) and not train_names & val_names
    metrics = run_task(train, held)
    assert metrics["selected_on"] == "train_holdout" and metrics["val/num_images"] == 2

    plain = run_task(train, compose_config("train", [*TINY_MODEL, *data], tmp_path / "b"))
    assert plain["selected_on"] == "test" and plain["val/num_images"] == 3
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["selected_on"] == "test"
