"""The steady-state training step never waits for the device: over 20 iterations of the real
Trainer with the default callbacks (NonFiniteGuard, last/best checkpoints, progress bar, ...) and
the default loggers (W&B offline + CSV), no iteration that logs nothing runs ``.item()``,
``bool(tensor)`` or anything else that copies a device scalar to the host. Logging steps
(``trainer.log_every_n_steps``) may: the loggers and the progress bar read the logged values there.
"""

from __future__ import annotations

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import compose_config, tiny
from fixtures.syncs import COUNTS

RUN = [
    *tiny(logger=False),  # the default loggers
    "data.source.train_samples=64",  # 32 batches: the window lies inside the first epoch
    "data.num_workers=0",
    "schedule.max_epochs=1",
    "test=false",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.log_every_n_steps=10",  # logging steps 9 and 19 fall inside the window
    "+callbacks.syncs._target_=fixtures.syncs.CountSyncs",
    "+callbacks.syncs.first=5",
    "+callbacks.syncs.steps=20",
]


def test_no_host_sync_on_steps_that_log_nothing(tmp_path):
    run_task(train, compose_config("train", RUN, tmp_path / "run"))
    assert sorted(COUNTS) == list(range(5, 25))
    quiet = {step: c for step, c in COUNTS.items() if not c["logs"]}
    logging = sorted(step for step, c in COUNTS.items() if c["logs"])
    assert logging == [9, 19]
    assert {step: c["syncs"] for step, c in quiet.items()} == dict.fromkeys(quiet, 0), {
        step: c["ops"] for step, c in quiet.items() if c["syncs"]
    }
