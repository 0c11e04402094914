"""Full GoPro frames are validated at the paper's cadence by default (every 100 epochs, the
authors' code), whatever the trainer; other data every epoch; debug=smoke every epoch."""

from __future__ import annotations

import pytest

from fixtures.config import compose_config


@pytest.mark.parametrize(
    ("overrides", "every"),
    [
        (["data=gopro"], 100),
        (["data=gopro", "trainer=gpu"], 100),
        (["data=gopro", "trainer=ddp"], 100),
        (["data=gopro", "debug=smoke"], 1),
        (["data=gopro", "data.val_every_n_epochs=10"], 10),
        ([], 1),
        (["data=folder"], 1),
    ],
)
def test_validation_cadence_follows_the_data(overrides, every, tmp_path) -> None:
    cfg = compose_config("train", overrides, tmp_path)
    assert cfg.trainer.check_val_every_n_epoch == every
