"""``make install`` picks the torch wheel for the machine: PyTorch's CPU index where no NVIDIA GPU
answers ``nvidia-smi``, pip's default index (the CUDA build) where one does, any index with
``TORCH_INDEX=...``; an index whose host name does not resolve is skipped at once with one line;
and it installs the torch version pyproject.toml pins. Read from ``make -n`` (the commands it would
run) with stand-ins for ``nvidia-smi`` and ``getent`` (the name lookup) on PATH."""

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


def _install_commands(
    tmp_path: Path, gpu: bool, *args: str, resolves: bool = True, output: list | None = None
) -> list[str]:
    """The pip commands ``make install`` would run on a machine with (or without) an NVIDIA GPU
    and (or without) name resolution; ``output`` receives make's whole stdout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, status in (("nvidia-smi", 0 if gpu else 9), ("getent", 0 if resolves else 2)):
        fake = bin_dir / name
        fake.write_text(f"#!/bin/sh\nexit {status}\n")
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
    if output is not None:
        output.append(result.stdout)
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


def test_an_index_whose_host_does_not_resolve_is_skipped_with_one_line(tmp_path) -> None:
    printed: list[str] = []
    commands = _install_commands(tmp_path, gpu=False, resolves=False, output=printed)
    torch_line = next(c for c in commands if "torch==" in c)
    assert f"'{_pinned_torch()}'" in torch_line and "--index-url" not in torch_line
    (line,) = [ln for ln in printed[0].splitlines() if "resolve" in ln]
    assert line == (
        "make install: download.pytorch.org does not resolve; "
        "torch from pip's configured sources instead"
    )


def test_an_index_without_a_host_name_is_used_as_it_is(tmp_path) -> None:
    local = "file:///srv/wheels/simple"
    commands = _install_commands(tmp_path, False, f"TORCH_INDEX={local}", resolves=False)
    assert any(f"--index-url {local}" in c for c in commands), commands
