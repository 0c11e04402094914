"""What survives of a checkpoint's embedded config: the sections a command builds are checked
against the registry; the others are kept only when they would pass the same check."""

from __future__ import annotations

import pytest

from deblurlab.checkpoint import CONFIG_KEY, embedded_config
from deblurlab.errors import CheckpointError

NET = {"_target_": "deblurlab.models.mimo_unet", "num_res": 1, "base_channels": 8}
LOSS = {"_target_": "deblurlab.losses.MIMOLoss"}
HOSTILE = {"_target_": "os.system", "command": "touch /tmp/pwned"}


def _checkpoint(**sections) -> dict:
    return {CONFIG_KEY: {"model": {"name": "mimo_unet", "net": NET}, "seed": 1, **sections}}


def test_a_registered_section_the_command_does_not_build_is_kept():
    cfg = embedded_config(_checkpoint(loss=LOSS), "x.ckpt", sections=("model",))
    assert cfg.loss._target_ == LOSS["_target_"] and cfg.seed == 1


@pytest.mark.parametrize("section", ["loss", "data", "schedule"])
def test_an_unregistered_section_the_command_does_not_build_is_dropped(section):
    node = {"optimizer": HOSTILE} if section == "schedule" else HOSTILE
    cfg = embedded_config(_checkpoint(**{section: node}), "x.ckpt", sections=("model",))
    assert section not in cfg and cfg.model.net.num_res == 1


def test_an_unregistered_section_the_command_builds_is_refused_in_one_line():
    with pytest.raises(CheckpointError, match="x.ckpt: embedded config loss._target_") as error:
        embedded_config(_checkpoint(loss=HOSTILE), "x.ckpt", sections=("model", "loss"))
    assert "\n" not in str(error.value)


def test_any_other_section_naming_something_to_build_is_dropped():
    cfg = embedded_config(_checkpoint(trainer={"_target_": "builtins.open"}), "x.ckpt")
    assert "trainer" not in cfg
