"""ReduceLROnPlateau as the LR schedule: it follows the validation PSNR (mode=max), steps only
after a validation (epochs without one do not fail the run), and a setting that cannot work is
one line naming its key."""

from __future__ import annotations

import pytest
import torch

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train

LR = 1.0e-3
# every validation after the first counts as no improvement (an improvement would have to
# exceed the best by 1e9 dB), and the patience is 0: each such validation halves the rate
PLATEAU = [
    "schedule.scheduler._target_=torch.optim.lr_scheduler.ReduceLROnPlateau",
    "~schedule.scheduler.T_max",
    "~schedule.scheduler.eta_min",
    "+schedule.scheduler.mode=max",
    "+schedule.scheduler.factor=0.5",
    "+schedule.scheduler.patience=0",
    "+schedule.scheduler.threshold=1e9",
    "+schedule.scheduler.threshold_mode=abs",
    f"schedule.optimizer.lr={LR}",
    "schedule=quickstart",
    "debug=smoke",
    "test=false",
]


def test_the_rate_halves_at_each_validation_without_improvement_and_waits_between(train_config):
    # six epochs, validated after the second, fourth and sixth: the first validation sets the
    # best, the second and third halve the rate; the epochs in between have no fresh score (the
    # last one logged is still there) and must not count as epochs without improvement
    cfg = train_config(*PLATEAU, "schedule.max_epochs=6", "trainer.check_val_every_n_epoch=2")
    run_task(train, cfg)
    checkpoint = torch.load(
        f"{cfg.paths.output_dir}/checkpoints/last.ckpt", map_location="cpu", weights_only=True
    )
    assert checkpoint["epoch"] == 6
    assert checkpoint["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(LR / 4)
    scheduler = checkpoint["lr_schedulers"][0]
    assert scheduler["mode"] == "max" and scheduler["best"] > 0  # a PSNR was followed


def _key(override: str) -> str:
    return override.lstrip("+~").split("=")[0]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+schedule.scheduler.mode=min", "schedule.scheduler.mode"),
        ("schedule.interval=step", "schedule.interval"),
    ],
)
def test_a_plateau_schedule_that_cannot_follow_the_psnr_is_one_line(
    train_config, capsys, override, key
):
    keep = [o for o in PLATEAU if _key(o) != _key(override)]  # the override replaces it
    cfg = train_config(*keep, override)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    # the last line (a stale logging handler of an earlier test in this process may print
    # before it); the command line's one-line errors are checked through the CLI elsewhere
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: {key}:"), err
    assert [line for line in err if line.startswith("error:")] == err[-1:]
