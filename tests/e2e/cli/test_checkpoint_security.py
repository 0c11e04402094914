"""A checkpoint is data, never code: neither a pickle payload nor a hostile embedded config runs.

Both attacks are tried through the commands users run (deblurlab-eval, deblurlab-predict) and
through every library path that reads such files; each test proves that the file the attack
would create does not exist afterwards.
"""

from __future__ import annotations

import copy
import pathlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deblurlab.checkpoint import CONFIG_KEY, embedded_config, load_weights, read_checkpoint, rebuild
from deblurlab.data.io import write_image
from deblurlab.errors import CheckpointError
from deblurlab.inference.loading import load_restorer
from deblurlab.lit.checkpointing import AtomicCheckpointIO
from deblurlab.lit.deblur_module import DeblurLitModule
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
    assert "embedded config model.net._target_: 'builtins.open' is not registered" in last
    assert "trust=[builtins.open]" in last
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
    refused = r"embedded config (model\.net|data\.source)\._target_: .* is not registered"
    # eval on the checkpoint's own data checks (and builds) its data section too
    with pytest.raises(CheckpointError, match=refused):
        load_restorer(hostile, sections=("model", "data"))
    with pytest.raises(CheckpointError, match=refused):
        embedded_config(read_checkpoint(hostile), hostile)
    if where == "net":
        with pytest.raises(CheckpointError, match=refused):
            DeblurLitModule.load_from_checkpoint(hostile)
    else:  # a section the command does not build is dropped, never built
        restorer, loaded = load_restorer(hostile)
        assert "data" not in loaded.run_cfg
    assert not pickle_marker.exists() and not config_marker.exists()


def test_a_refused_target_is_never_imported(clean, tmp_path, monkeypatch):
    # a module on the path that would leave a mark when imported: the refusal reads only the name
    marker = tmp_path / "pwned-by-import"
    (tmp_path / "evil_plugin.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nclass Net:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    checkpoint = copy.deepcopy(clean)
    checkpoint[CONFIG_KEY]["model"]["net"] = {"_target_": "evil_plugin.Net"}
    path = tmp_path / "plugin.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as info:
        load_restorer(path)
    message = str(info.value)
    assert message == (
        f"{path}: embedded config model.net._target_: 'evil_plugin.Net' is not registered with "
        "deblurlab, refusing to build it; allow it by installing a package that registers it "
        "(entry-point group 'deblurlab.registry') or by naming it on this command: "
        "trust=[evil_plugin.Net]"
    )
    assert not marker.exists()
    assert "evil_plugin" not in sys.modules


def _with(clean: dict, section: str, key: str, value) -> dict:
    """The clean checkpoint with ``section[key] = value`` in its embedded config."""
    checkpoint = copy.deepcopy(clean)
    config = checkpoint[CONFIG_KEY]
    nodes = {"net": config["model"]["net"], "model": config["model"], "loss": config["loss"]}
    nodes.update(config["schedule"])  # optimizer, scheduler
    node = nodes.get(section, config.get(section))
    node[key] = value
    return checkpoint


NOT_REGISTERED = "is not registered with deblurlab"


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("net", "_target_", "os.system", f"model.net._target_: 'os.system' {NOT_REGISTERED}"),
        ("net", "command", "touch x", "model.net: .*unexpected keyword argument 'command'"),
        ("net", "_args_", ["x"], "model.net._args_: Hydra instantiation keys are not accepted"),
        ("net", "fusion", "${oc.env:HOME}", "model.net.fusion: interpolations are not accepted"),
        (
            "net",
            "base_channels",
            {"_target_": "builtins.open"},
            f"'builtins.open' {NOT_REGISTERED}",
        ),
        ("model", "extra", {"_target_": "builtins.exec"}, f"'builtins.exec' {NOT_REGISTERED}"),
        ("loss", "_target_", "builtins.eval", f"loss._target_: 'builtins.eval' {NOT_REGISTERED}"),
        ("data", "_target_", "subprocess.run", f"'subprocess.run' {NOT_REGISTERED}"),
        ("optimizer", "_target_", "torch.load", f"'torch.load' {NOT_REGISTERED}"),
        ("optimizer", "lr_typo", 0.1, "schedule.optimizer: .*unexpected keyword argument"),
        ("scheduler", "_partial_", "yes", "schedule.scheduler._partial_: expected true or false"),
        (
            "scheduler",
            "schedulers",
            [{"_target_": "os.system", "_partial_": True}],
            f"schedule.scheduler.schedulers\\[0\\]._target_: 'os.system' {NOT_REGISTERED}",
        ),
    ],
)
def test_the_embedded_config_builds_only_registered_names_with_arguments_that_bind(
    clean, section, key, value, message
):
    checkpoint = _with(clean, section, key, value)
    with pytest.raises(CheckpointError, match=message) as info:
        embedded_config(checkpoint, "x.ckpt")
    assert "\n" not in str(info.value) and str(info.value).startswith("x.ckpt: ")


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("net", "num_res", "8; rm -rf /", "model.net: deblurlab.models.mimo_unet: "),
        ("net", "base_channels", 10**6, "model.net: deblurlab.models.mimo_unet: "),
        ("model", "ensemble", "rot5", "embedded config: mode must be 'rot4' or 'x8'"),
        ("optimizer", "lr", -1.0, "schedule.optimizer: Invalid learning rate"),
        ("scheduler", "T_max", "ten", "schedule.scheduler: "),
    ],
)
def test_values_are_checked_by_the_constructors_in_one_line(
    clean, tmp_path, section, key, value, message
):
    path = tmp_path / "odd.ckpt"
    torch.save(_with(clean, section, key, value), path)
    with pytest.raises(CheckpointError, match=message) as info:
        DeblurLitModule.load_from_checkpoint(path, strict=False)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{path}: embedded config")


def test_a_clean_config_passes_and_only_plain_sections_survive(clean):
    safe = embedded_config(clean, "x.ckpt")  # the shipped config is accepted
    assert safe.model.net._target_ == "deblurlab.models.mimo_unet"
    assert safe.schedule.optimizer._target_ == "torch.optim.Adam"  # load_from_checkpoint needs it
    assert "trainer" not in safe and "callbacks" not in safe and "logger" not in safe
    assert safe.protocol == clean[CONFIG_KEY]["protocol"]
    net = rebuild(safe.model.net, "model.net", "x.ckpt")
    assert type(net).__name__ == "MIMOUNet"
