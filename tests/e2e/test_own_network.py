"""The network recipe of docs/contributing.md, followed with a throw-away package.

A tiny network lives in its own package in a temporary folder, registered in the entry-point group
``deblurlab.registry`` and installed for real (``pip install --target``, never into the project's
environment). It trains with ``debug=smoke``; its checkpoint is evaluated, predicted with, exported
and reloaded. The same checkpoint, with the package importable but not installed (no entry point),
is refused in one line naming the class and the two ways to allow it, and loads with ``trust=``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from deblurlab.data.io import write_image
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.registry import registered
from fixtures.config import TINY_LOADER, TINY_LOGGER, TINY_SOURCE, run_cli

TARGET = "tinynet.nets.TinyNet"

NETWORK = '''
"""A network for deblurlab: images in [0, 1] in, a list of images (coarse to fine) out."""

import torch
from torch import nn


class TinyNet(nn.Module):
    size_multiple = 1

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, 3, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x + self.body(x)]
'''

PYPROJECT = f"""
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "tinynet"
version = "0.1"

[tool.setuptools]
packages = ["tinynet"]

[project.entry-points."deblurlab.registry"]
"{TARGET}" = "tinynet.nets:TinyNet"
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> dict[str, Path]:
    """Where the package is installed, and a folder where it is only importable (its code
    without the installed metadata, so without the entry point)."""
    root = tmp_path_factory.mktemp("tinynet")
    source = root / "source"
    (source / "tinynet").mkdir(parents=True)
    (source / "tinynet" / "__init__.py").write_text("")
    (source / "tinynet" / "nets.py").write_text(textwrap.dedent(NETWORK))
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    plain = root / "plain"
    shutil.copytree(source / "tinynet", plain / "tinynet")
    installed = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--no-compile", "--disable-pip-version-check", "--target", str(installed),
         str(source)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return {"plain": plain, "installed": installed}


def _cli(module: str, *args: str, root: Path, path: Path):
    return run_cli(module, *args, root=root, env={"PYTHONPATH": str(path)})


@pytest.fixture(scope="module")
def checkpoint(package, tmp_path_factory) -> Path:
    """best.ckpt of a smoke run of the registered TinyNet."""
    root = tmp_path_factory.mktemp("train")
    run = root / "run"
    result = _cli(
        "cli.train", "debug=smoke", *TINY_LOGGER, *TINY_SOURCE, *TINY_LOADER,
        "~model.net", f"+model.net={{_target_:{TARGET},channels:8}}", "model.name=tinynet",
        "trainer.limit_val_batches=1", "schedule.max_epochs=1", f"hydra.run.dir={run}",
        root=root, path=package["installed"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "is not registered with deblurlab" not in result.stderr  # registered: no warning
    return run / "checkpoints" / "best.ckpt"


def test_a_registered_network_trains_evaluates_predicts_exports_and_reloads(
    package, checkpoint, tmp_path, monkeypatch
):
    installed = package["installed"]
    result = _cli("cli.evaluate", f"ckpt_path={checkpoint}", root=tmp_path, path=installed)
    assert result.returncode == 0, result.stderr[-3000:]
    photo = tmp_path / "in" / "a.png"
    write_image(photo, np.full((20, 24, 3), 128, np.uint8))
    result = _cli(
        "cli.predict", f"ckpt_path={checkpoint}", f"input={photo}", f"output={tmp_path / 'out'}",
        root=tmp_path, path=installed,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "a.png").is_file()
    onnx = tmp_path / "tiny.onnx"
    result = _cli(
        "cli.export", f"ckpt_path={checkpoint}", f"output={onnx}", "check.size=[24,32]",
        "check.repeats=1", root=tmp_path, path=installed,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert onnx.is_file()
    # in Python, with the package installed on the path
    monkeypatch.syspath_prepend(str(installed))
    registered.cache_clear()  # the entry points are read again
    try:
        module = DeblurLitModule.load_from_checkpoint(checkpoint)
    finally:
        registered.cache_clear()
    assert (type(module.net).__module__, type(module.net).__name__) == ("tinynet.nets", "TinyNet")


def test_without_registration_the_checkpoint_is_refused_in_one_line_and_trust_allows_it(
    package, checkpoint, tmp_path
):
    source = package["plain"]  # importable, but no entry point: not registered
    result = _cli("cli.evaluate", f"ckpt_path={checkpoint}", root=tmp_path, path=source)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"error: {checkpoint}: embedded config model.net._target_: '{TARGET}' is not registered "
        "with deblurlab, refusing to build it; allow it by installing a package that registers it "
        f"(entry-point group 'deblurlab.registry') or by naming it on this command: "
        f"trust=[{TARGET}]"
    )
    result = _cli(
        "cli.evaluate", f"ckpt_path={checkpoint}", f"trust=[{TARGET}]", root=tmp_path, path=source
    )
    assert result.returncode == 0, result.stderr[-3000:]
