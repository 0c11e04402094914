"""``make install`` picks the torch wheel for the machine: PyTorch's CPU index where no NVIDIA GPU
answers ``nvidia-smi``, pip's default index (the CUDA build) where one does, any index with
``TORCH_INDEX=...``; and it installs the torch version pyproject.toml pins. Read from ``make -n``
(the commands it would run) with a stand-in ``nvidia-smi`` on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _install_commands(tmp_path: Path, gpu: bool, *args: str) -> list[str]:
    """The pip commands ``make install`` would run on a machine with (or without) an NVIDIA GPU."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\nexit {0 if gpu else 9}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TORCH_INDEX", None)
    result = subprocess.run(
        ["make", "-n", "-B", "install", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if "pip install" in line]


def _pinned_torch() -> str:
    (pin,) = re.findall(r'"(torch==[^"]+)"', (REPO / "pyproject.toml").read_text())
    return pin


def test_no_nvidia_gpu_installs_the_cpu_wheel_first(tmp_path) -> None:
    commands = _install_commands(tmp_path, gpu=False)
    torch_line = next(c for c in commands if "torch==" in c)
    assert f"'{_pinned_torch()}'" in torch_line and f"--index-url {CPU_INDEX}" in torch_line
    assert commands.index(torch_line) < next(i for i, c in enumerate(commands) if "-e " in c)


def test_an_nvidia_gpu_keeps_pips_default_cuda_wheel(tmp_path) -> None:
    commands = _install_commands(tmp_path, gpu=True)
    assert not any("--index-url" in c for c in commands), commands


def test_torch_index_overrides_the_choice(tmp_path) -> None:
    cuda = "https://download.pytorch.org/whl/cu126"
    commands = _install_commands(tmp_path, False, f"TORCH_INDEX={cuda}")
    assert any(f"--index-url {cuda}" in c for c in commands), commands
    assert not any(CPU_INDEX in c for c in commands)
