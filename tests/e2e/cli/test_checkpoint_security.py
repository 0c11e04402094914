"""A checkpoint is data, never code: neither a pickle payload nor a hostile embedded config runs.

Both attacks are tried through the commands users run (deblurlab-eval, deblurlab-predict) and
through every library path that reads such files; each test proves that the file the attack
would create does not exist afterwards.
"""

from __future__ import annotations

import copy
import pathlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deblurlab.checkpoint import embedded_config, read_checkpoint
from deblurlab.checkpoint_config import check_embedded_config
from deblurlab.data.io import write_image
from deblurlab.errors import CheckpointError
from deblurlab.inference.loading import load_restorer
from deblurlab.lit.atomic_checkpoint import AtomicCheckpointIO
from deblurlab.models.weights import load_weights
from fixtures.config import TINY, compose_config, run_cli


class Payload:
    """Unpickling this calls ``Path.touch(marker)``: code chosen by the file's author."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    """A well-formed deblurlab checkpoint (tiny MIMO-UNet, random weights, embedded config)."""
    out = tmp_path_factory.mktemp("clean")
    cfg = compose_config("train", TINY, out)
    torch.manual_seed(0)
    net = instantiate(cfg.model.net)
    return {
        "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
        "pytorch-lightning_version": "2.6.0",
        "deblurlab_config": OmegaConf.to_container(cfg, resolve=True),
    }


def _pickle_payload(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned-by-pickle"
    path = tmp_path / "payload.ckpt"
    torch.save({"state_dict": {}, "evil": Payload(marker)}, path)
    return path, marker


def _hostile(clean: dict, tmp_path: Path, where: str) -> tuple[Path, Path]:
    """Clean weights whose embedded config names ``builtins.open`` (creates a file) or
    ``torch.load`` of a second, pickled file with ``weights_only=False``."""
    marker = tmp_path / f"pwned-by-{where}"
    checkpoint = copy.deepcopy(clean)
    config = checkpoint["deblurlab_config"]
    if where == "net":
        config["model"]["net"] = {"_target_": "builtins.open", "file": str(marker), "mode": "w"}
    else:
        second, _ = _pickle_payload(tmp_path)
        torch.save({"evil": Payload(marker)}, second)
        config["data"]["source"] = {
            "_target_": "torch.load",
            "f": str(second),
            "weights_only": False,
        }
    path = tmp_path / f"hostile-{where}.ckpt"
    torch.save(checkpoint, path)
    return path, marker


def test_the_attacks_would_work_without_the_guards(clean, tmp_path):
    # the crafted files really are attacks: loaded naively, each creates its marker file
    path, marker = _pickle_payload(tmp_path)
    torch.load(path, weights_only=False)
    assert marker.exists()
    path, marker = _hostile(clean, tmp_path, "net")
    instantiate(torch.load(path, weights_only=True)["deblurlab_config"]["model"]["net"]).close()
    assert marker.exists()
    path, marker = _hostile(clean, tmp_path, "data")
    instantiate(torch.load(path, weights_only=True)["deblurlab_config"]["data"]["source"])
    assert marker.exists()


def test_eval_refuses_a_pickle_payload_even_with_torch_default_switched_off(tmp_path):
    path, marker = _pickle_payload(tmp_path)
    result = run_cli(
        "cli.evaluate", f"ckpt_path={path}", "data=synthetic", root=tmp_path,
        env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {path}: not a readable")
    assert not marker.exists()


def test_predict_refuses_a_hostile_embedded_config(clean, tmp_path):
    path, marker = _hostile(clean, tmp_path, "net")
    photo = tmp_path / "in" / "a.png"
    write_image(photo, np.zeros((8, 8, 3), np.uint8))
    result = run_cli(
        "cli.predict", f"ckpt_path={path}", f"input={photo}", f"output={tmp_path / 'out'}",
        root=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "embedded config model.net._target_: 'builtins.open' is not one of" in last
    assert not marker.exists()


@pytest.mark.parametrize("where", ["net", "data"])
def test_every_reader_refuses_both_attacks(clean, tmp_path, monkeypatch, where):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    payload, pickle_marker = _pickle_payload(tmp_path)
    hostile, config_marker = _hostile(clean, tmp_path, where)
    net = instantiate(OmegaConf.create(clean["deblurlab_config"]["model"]["net"]))
    readers = {
        "read_checkpoint": read_checkpoint,
        "model.pretrained / load_weights": lambda p: load_weights(net, p),
        "eval, predict, bench, export, demo": load_restorer,
        "ckpt_path, resume (Lightning)": AtomicCheckpointIO().load_checkpoint,
    }
    for reader in readers.values():
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            reader(payload)
    with pytest.raises(CheckpointError, match="embedded config (model.net|data.source)"):
        load_restorer(hostile)
    with pytest.raises(CheckpointError, match="refusing to build it"):
        embedded_config(read_checkpoint(hostile), hostile)
    assert not pickle_marker.exists() and not config_marker.exists()


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("net", "_target_", "os.system", "is not one of deblurlab's net classes"),
        ("net", "command", "touch x", "takes no argument 'command'"),
        ("net", "num_res", "8; rm -rf /", "is not a valid value"),
        ("net", "_args_", ["x"], "Hydra instantiation keys are not accepted"),
        ("net", "fusion", "${oc.env:HOME}", "interpolations are not accepted"),
        ("net", "base_channels", {"_target_": "builtins.open"}, "is not a valid value"),
        ("model", "ensemble", "rot5", "is not one of none, rot4, x8"),
        ("model", "extra", {"_target_": "builtins.exec"}, "unexpected buildable entry"),
        ("loss", "_target_", "builtins.eval", "is not one of deblurlab's loss classes"),
        ("data", "_target_", "subprocess.run", "is not one of deblurlab's data classes"),
        ("optimizer", "_target_", "torch.load", "is not one of deblurlab's optimizer classes"),
        ("optimizer", "params", [1.0], "is filled in by deblurlab, not the checkpoint"),
        ("scheduler", "_target_", "torch.optim.lr_scheduler.LambdaLR", "scheduler classes"),
    ],
)
def test_the_embedded_config_allows_only_deblurlabs_own_targets(
    clean, section, key, value, message
):
    config = copy.deepcopy(clean["deblurlab_config"])
    nodes = {"net": config["model"]["net"], "model": config["model"], "loss": config["loss"]}
    nodes.update(config["schedule"])  # optimizer, scheduler
    node = nodes.get(section, config.get(section))
    node[key] = value
    with pytest.raises(CheckpointError, match=message) as info:
        check_embedded_config(config, "x.ckpt")
    assert "\n" not in str(info.value) and str(info.value).startswith("x.ckpt: ")


def test_a_clean_config_passes_and_only_plain_sections_survive(clean):
    check_embedded_config(clean["deblurlab_config"], "x.ckpt")  # the shipped config is accepted
    safe = embedded_config(clean, "x.ckpt")
    assert safe.model.net._target_ == "deblurlab.models.mimo_unet"
    assert safe.schedule.optimizer._target_ == "torch.optim.Adam"  # load_from_checkpoint needs it
    assert "trainer" not in safe and "callbacks" not in safe and "logger" not in safe
    assert safe.protocol == clean["deblurlab_config"]["protocol"]
