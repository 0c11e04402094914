"""A CPU run whose plan exceeds the threshold says so in one line after its first batches, with
the commands that move or shorten it, and goes on; a short plan says nothing. Timed with a fake
clock through the real Trainer (no sleeping)."""

from __future__ import annotations

import logging

import pytest
import pytorch_lightning as pl
from hydra.utils import instantiate

from deblurlab.lit.build import build_module
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.lit.plan_warning import PlanWarning
from deblurlab.run.task import run_task
from deblurlab.tasks.train import train


class FakeClock(pl.Callback):
    """A clock that moves ``step`` seconds per training batch and stands still otherwise (placed
    before the PlanWarning among the callbacks, so each batch has ended when it is read)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.now += self.step


class StopAfter(pl.Callback):
    """Stops the fit after ``steps`` optimizer steps (``max_steps`` would shorten the plan)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.steps:
            trainer.should_stop = True


def _fit(train_config, callback: PlanWarning, stop: int = 10**9, **trainer_args) -> pl.Trainer:
    cfg = train_config("debug=smoke")
    trainer = pl.Trainer(
        accelerator="cpu",
        callbacks=[callback.clock, callback, StopAfter(stop)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
        **trainer_args,
    )
    trainer.fit(build_module(cfg, DeblurLitModule), datamodule=instantiate(cfg.data))
    return trainer


def test_a_long_cpu_plan_is_named_in_one_line_and_the_run_goes_on(train_config, caplog) -> None:
    # 3000 epochs x 3 batches at 1 s a batch (the fake clock): about 2.5 hours
    callback = PlanWarning(threshold_hours=1.0, timed_batches=2, clock=FakeClock(1.0))
    with caplog.at_level(logging.WARNING, logger="deblurlab"):
        trainer = _fit(train_config, callback, max_epochs=3000, limit_train_batches=3, stop=9)
    assert trainer.global_step == 9  # not stopped by the warning
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("plan:")]
    assert line == callback.warned and "\n" not in line
    assert "2.5 hours" in line and "8,997 batches" in line and "1 s each" in line
    assert "trainer=gpu" in line and "debug=smoke" in line


def test_a_short_plan_or_a_max_time_limit_says_nothing(train_config) -> None:
    short = PlanWarning(threshold_hours=1.0, timed_batches=2, clock=FakeClock(1.0))
    _fit(train_config, short, max_epochs=3, limit_train_batches=3)
    assert short.warned is None
    capped = PlanWarning(threshold_hours=1.0, timed_batches=2, clock=FakeClock(1.0))
    # 3000 epochs would take 2.5 hours, but max_time stops the run after 30 minutes
    _fit(
        train_config, capped, max_epochs=3000, limit_train_batches=3, stop=4, max_time="00:00:30:00"
    )
    assert capped.warned is None


def test_the_first_epoch_shorter_than_the_timing_still_gives_an_estimate(train_config) -> None:
    callback = PlanWarning(threshold_hours=0.5, timed_batches=5, clock=FakeClock(100.0))
    _fit(train_config, callback, max_epochs=100, limit_train_batches=2, stop=3)
    assert callback.warned is not None and "100 s each" in callback.warned


def test_the_default_callbacks_warn_through_deblurlab_train(train_config) -> None:
    # a zero threshold: any plan exceeds it, timed with the real clock
    cfg = train_config("debug=smoke", "callbacks.plan_warning.threshold_hours=0")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("deblurlab").addHandler(handler)
    try:
        run_task(train, cfg)
    finally:
        logging.getLogger("deblurlab").removeHandler(handler)
    assert [line for line in lines if line.startswith("plan: about")], lines


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ValueError, match="callbacks.plan_warning"):
        PlanWarning(threshold_hours=-1)


def test_a_cadence_beyond_the_last_epoch_is_named(train_config) -> None:
    callback = PlanWarning(clock=FakeClock(0.0))
    _fit(train_config, callback, max_epochs=2, limit_train_batches=1, check_val_every_n_epoch=5)
    line = callback.warned_validation
    assert line is not None and "trainer.check_val_every_n_epoch=5 > schedule.max_epochs=2" in line
    validated = PlanWarning(clock=FakeClock(0.0))
    _fit(train_config, validated, max_epochs=2, limit_train_batches=1, check_val_every_n_epoch=2)
    assert validated.warned_validation is None
