"""``callbacks=none`` writes no checkpoint: Lightning's own ModelCheckpoint (which it adds when no
checkpoint callback is configured) is switched off too."""

from __future__ import annotations

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train


def test_callbacks_none_leaves_no_checkpoint_anywhere(train_config, tmp_path) -> None:
    cfg = train_config("debug=smoke", "callbacks=none")
    metrics = run_task(train, cfg)
    assert "test/psnr_last" in metrics  # the run trained, validated and tested
    assert list(tmp_path.rglob("*.ckpt")) == []
