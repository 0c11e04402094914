"""The wheel stands alone: configs ship inside it, and its commands work from an empty directory.

Builds the wheel, installs it (without dependencies) into a fresh virtual environment that borrows
the test environment's third-party packages, and runs a smoke training and an evaluation from a
directory that holds nothing of the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from fixtures.config import TINY

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{command[:3]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # build from a copy of what a source distribution holds, so nothing is written into the checkout
    src = tmp_path_factory.mktemp("build") / "deblurlab"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "local")
    shutil.copytree(REPO / "src", src / "src", ignore=ignore)
    shutil.copytree(REPO / "conf", src / "conf", ignore=ignore)
    # one machine's own settings in conf/local (git-ignored): they must stay out of the wheel
    (src / "conf" / "local").mkdir()
    (src / "conf" / "local" / "default.yaml").write_text("data: {root: /home/me/GOPRO_Large}\n")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, src / name)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(src)],
        REPO,
    )  # fmt: skip
    (found,) = out.glob("deblurlab-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel; third-party packages come from the test environment."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], REPO)
    site = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )  # fmt: skip
    # a plain path entry: the test environment's editable deblurlab hook is not executed from it
    (site / "_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
          "--quiet", "--no-deps", str(wheel)], REPO)  # fmt: skip
    return venv


def test_the_wheel_carries_every_config(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("deblurlab/conf/", 1)[1] for n in names if "deblurlab/conf/" in n}
    in_repo = {
        str(p.relative_to(REPO / "conf"))
        for p in (REPO / "conf").rglob("*.yaml")
        if "local" not in p.parts
    }
    assert in_repo and in_repo <= shipped
    assert not [name for name in shipped if name.startswith("local/")]
    assert "train.yaml" in shipped and "model/mimo_unet.yaml" in shipped


def test_installed_wheel_trains_and_evaluates_from_an_empty_directory(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DEBLURLAB_ROOT")}
    env.update(WANDB_MODE="disabled", OMP_NUM_THREADS="1")
    python, bin_dir = str(installed / "bin" / "python"), installed / "bin"
    where = _run([python, "-c", "import deblurlab; print(deblurlab.__file__)"], work, env)
    assert str(installed) in where, f"deblurlab was imported from elsewhere: {where}"

    _run([str(bin_dir / "deblurlab-train"), "debug=smoke", "test=false", *TINY], work, env)
    (run_dir,) = (work / "experiments" / "runs" / "train").glob("*/*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == "mimo_unet" and metrics["val/psnr"] > 0
    best = run_dir / "checkpoints" / "best.ckpt"
    assert best.is_file()

    out = _run([str(bin_dir / "deblurlab-eval"), f"ckpt_path={best}", "logger=none"], work, env)
    assert "PSNR" in out
    (eval_dir,) = (work / "experiments" / "runs" / "eval").glob("*/*")
    summary = json.loads((eval_dir / "summary.json").read_text())
    assert summary["num_images"] > 0 and summary["psnr"] > 0
