"""``DeblurLitModule.load_from_checkpoint`` takes Lightning's ``weights_only`` argument: True (or
unset) loads the file as data, False is refused in one line, as a file read that way could run
code stored in it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from deblurlab.checkpoint import CONFIG_KEY, write_checkpoint
from deblurlab.errors import CheckpointError
from deblurlab.lit.build import build_module
from deblurlab.lit.deblur_module import DeblurLitModule
from fixtures.config import TINY, compose_config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, DeblurLitModule]:
    """A tiny checkpoint as training writes it (state and embedded run config), and its module."""
    folder = tmp_path_factory.mktemp("ckpt")
    config = OmegaConf.to_container(compose_config("train", TINY, folder), resolve=True)
    torch.manual_seed(0)
    module = build_module(OmegaConf.create(config), DeblurLitModule)
    path = folder / "run.ckpt"
    state = {"state_dict": module.state_dict(), "pytorch-lightning_version": "2.6.0"}
    write_checkpoint({**state, CONFIG_KEY: config}, path)
    return path, module


@pytest.mark.parametrize("weights_only", [True, None])
def test_weights_only_true_loads_the_checkpoint(checkpoint, weights_only) -> None:
    path, module = checkpoint
    loaded = DeblurLitModule.load_from_checkpoint(path, weights_only=weights_only)
    for name, value in module.net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[name], value), name


def test_weights_only_false_is_refused_in_one_line(checkpoint) -> None:
    path, _ = checkpoint
    with pytest.raises(CheckpointError) as error:
        DeblurLitModule.load_from_checkpoint(path, weights_only=False)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "weights_only=True" in message
