"""The registry: which names a checkpoint may build, how arguments are checked, and the two ways
a researcher's own class becomes buildable (an installed entry point, or ``trust=``)."""

from __future__ import annotations

import inspect
import logging
import sys
from importlib.metadata import EntryPoint

import pytest
import torch
from omegaconf import OmegaConf

import deblurlab.registry as registry
from deblurlab.errors import CheckpointError
from deblurlab.lit.build import warn_unregistered
from deblurlab.registry import build, check, is_registered, registered

PLUGIN = """
import pathlib

pathlib.Path(__file__).with_name("imported").touch()


class Net:
    def __init__(self, width: int = 4) -> None:
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width}")
        self.width = width
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An importable module ``h1plugin`` that leaves a file ``imported`` beside it when imported."""
    (tmp_path / "h1plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "imported"
    sys.modules.pop("h1plugin", None)


@pytest.fixture
def entry_point(monkeypatch, plugin):
    """``h1plugin.Net`` registered as an installed package would register it."""
    point = EntryPoint("mypkg.Net", "h1plugin:Net", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        registry, "entry_points", lambda group: [point] if group == point.group else []
    )
    registered.cache_clear()
    yield plugin
    registered.cache_clear()


def test_every_torch_optimizer_and_lr_schedule_is_registered():
    optimizers = [
        n
        for n, c in vars(torch.optim).items()
        if inspect.isclass(c)
        and issubclass(c, torch.optim.Optimizer)
        and c is not torch.optim.Optimizer
    ]
    assert {"Adam", "AdamW", "SGD", "RMSprop", "LBFGS"} <= set(optimizers)
    assert all(is_registered(f"torch.optim.{n}") for n in optimizers)
    for name in ("OneCycleLR", "SequentialLR", "LinearLR", "CosineAnnealingWarmRestarts",
                 "ChainedScheduler", "LambdaLR", "ReduceLROnPlateau", "PolynomialLR"):  # fmt: skip
        assert is_registered(f"torch.optim.lr_scheduler.{name}"), name
    assert not is_registered("torch.optim.Optimizer")  # the base is not a usable optimizer
    assert not is_registered("torch.load") and not is_registered("builtins.open")


def test_deblurlabs_own_classes_are_registered_under_both_spellings():
    for name in ("deblurlab.models.mimo_unet", "deblurlab.models.mimo_unet.mimo_unet",
                 "deblurlab.models.SGENet", "deblurlab.losses.MIMOLoss",
                 "deblurlab.losses.sgenet.SGENetLoss", "deblurlab.data.DeblurDataModule",
                 "deblurlab.data.synthetic.SyntheticBlurSource"):  # fmt: skip
        assert is_registered(name), name


def test_an_unregistered_name_is_refused_without_importing_it(plugin):
    with pytest.raises(CheckpointError) as info:
        build({"_target_": "h1plugin.Net"}, "model.net", "x.ckpt")
    assert str(info.value) == (
        "x.ckpt: embedded config model.net._target_: 'h1plugin.Net' is not registered with "
        "deblurlab, refusing to build it; allow it by installing a package that registers it "
        "(entry-point group 'deblurlab.registry') or by naming it on this command: "
        "trust=[h1plugin.Net]"
    )
    assert not plugin.exists() and "h1plugin" not in sys.modules


def test_trust_names_a_class_for_one_load(plugin):
    net = build({"_target_": "h1plugin.Net", "width": 3}, "model.net", "x.ckpt", ["h1plugin.Net"])
    assert net.width == 3 and plugin.exists()
    with pytest.raises(CheckpointError, match="not registered"):  # trusting one name only
        build({"_target_": "h1plugin.Other"}, "model.net", "x.ckpt", ["h1plugin.Net"])


def test_an_entry_point_registers_both_its_name_and_where_it_lives(entry_point):
    assert is_registered("mypkg.Net") and is_registered("h1plugin.Net")
    assert not entry_point.exists()  # listing the registered names imports nothing
    assert build({"_target_": "mypkg.Net", "width": 2}, "model.net", "x.ckpt").width == 2
    # the constructor checks the value: one line naming the file and the key
    with pytest.raises(CheckpointError, match=r"^x\.ckpt: embedded config model\.net: "
                       r"mypkg\.Net: width must be at least 1, got 0; refusing"):  # fmt: skip
        build({"_target_": "mypkg.Net", "width": 0}, "model.net", "x.ckpt")


def test_argument_names_are_bound_to_the_signature():
    # a factory taking **kwargs is checked against the class it returns
    with pytest.raises(CheckpointError, match="unexpected keyword argument 'widht'"):
        check({"_target_": "deblurlab.models.mimo_unet", "widht": 8}, "model.net", "x.ckpt")
    # a full node must bind completely; a partial one may leave arguments for deblurlab
    step = {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 2}
    with pytest.raises(CheckpointError, match="missing a required argument: 'optimizer'"):
        check(step, "schedule.scheduler", "x.ckpt")
    check({**step, "_partial_": True}, "schedule.scheduler", "x.ckpt")


def test_nested_partial_schedules_are_checked_and_built():
    node = {
        "_target_": "torch.optim.lr_scheduler.SequentialLR",
        "_partial_": True,
        "milestones": [2],
        "schedulers": [
            {"_target_": "torch.optim.lr_scheduler.LinearLR", "_partial_": True, "total_iters": 2},
            {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "_partial_": True,
             "T_max": 8},
        ],
    }  # fmt: skip
    factory = build(node, "schedule.scheduler", "x.ckpt")
    assert factory.func is torch.optim.lr_scheduler.SequentialLR
    assert [p.func.__name__ for p in factory.keywords["schedulers"]] == [
        "LinearLR",
        "CosineAnnealingLR",
    ]
    node["schedulers"][1]["T_maxx"] = 8
    with pytest.raises(CheckpointError, match=r"schedule\.scheduler\.schedulers\[1\]: .*T_maxx"):
        check(node, "schedule.scheduler", "x.ckpt")


def test_training_warns_once_per_unregistered_target(caplog):
    cfg = OmegaConf.create(
        {
            "model": {"net": {"_target_": "mypkg.nets.MyNet"}},
            "loss": {"_target_": "deblurlab.losses.MIMOLoss"},
            "schedule": {"optimizer": {"_target_": "torch.optim.Adam", "_partial_": True}},
            "trainer": {"_target_": "pytorch_lightning.Trainer"},  # never rebuilt from a checkpoint
        }
    )
    with caplog.at_level(logging.WARNING, logger="deblurlab"):
        lines = warn_unregistered(cfg)
    assert lines == [
        "model.net._target_=mypkg.nets.MyNet is not registered with deblurlab: loading this "
        "run's checkpoints will need trust=[mypkg.nets.MyNet] (or a package registering it in "
        "the entry-point group 'deblurlab.registry')"
    ]
    assert [r.getMessage() for r in caplog.records] == lines
