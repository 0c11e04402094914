"""Every mistake is one line naming the key or file, exit code 2, before any training starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from deblurlab.cli.train import main
from fixtures.config import TINY, compose_config

BASE = [*TINY, "debug=smoke", "test=false", "trainer.max_epochs=1"]


def _files(tmp: Path) -> dict[str, Path]:
    (tmp / "random.ckpt").write_bytes(bytes(range(256)) * 8)
    torch.save({"model": {"w": torch.zeros(2)}}, tmp / "weights.pkl")
    (tmp / "old" / "checkpoints").mkdir(parents=True)
    return {"tmp": tmp}


CASES = {
    "missing ckpt_path": (["ckpt_path={tmp}/none.ckpt"], "{tmp}/none.ckpt: checkpoint not found"),
    "random ckpt_path": (["ckpt_path={tmp}/random.ckpt"], "{tmp}/random.ckpt: not a readable"),
    "foreign ckpt_path": (
        ["ckpt_path={tmp}/weights.pkl"],
        "{tmp}/weights.pkl: not a deblurlab training checkpoint",
    ),
    "missing pretrained": (
        ["model.pretrained={tmp}/none.pkl"],
        "{tmp}/none.pkl: checkpoint not found",
    ),
    "lr=abc": (["schedule.optimizer.lr=abc"], "schedule.optimizer.lr must be a number, got 'abc'"),
    "constructor ValueError": (
        ["data.source.holdout=1.5"],
        "data.source: data.source.holdout must be in (0, 1), got 1.5",
    ),
    "fraction": (["data.vflip=-0.5"], "data.vflip is a probability in [0, 1], got -0.5"),
    "unknown option": (
        ["model=mimo_unet_xl"],
        "model=mimo_unet_xl: no such option; choices: mimo_unet, mimo_unet_plus, mimo_unet_pp, "
        "sgenet",
    ),
    "missing dataset root": (["data=gopro"], "data.root is not set"),
    "missing folder of own images": (
        ["data.root={tmp}/nowhere"],
        "{tmp}/nowhere: data.root is not a folder",
    ),
    "run folder holds a run": (
        ["hydra.run.dir={tmp}/old"],
        "{tmp}/old already holds a run; continue it with resume={tmp}/old",
    ),
    "gpu without a GPU": (["trainer=gpu"], "trainer: No supported gpu backend found!"),
}


def _run(argv: list[str], monkeypatch, capsys) -> tuple[int, list[str]]:
    monkeypatch.setattr(sys, "argv", ["deblurlab-train", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capsys):
    if case == "gpu without a GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    files = _files(tmp_path)
    monkeypatch.setenv("DEBLURLAB_ROOT", str(tmp_path))
    overrides, expected = CASES[case]
    argv = [o.format(**files) for o in overrides]
    if case == "missing dataset root":
        argv += [o for o in BASE if not o.startswith("data.source")]
    else:
        argv += BASE
    code, err = _run(argv, monkeypatch, capsys)
    assert code == 2
    assert len(err) >= 1 and err[-1].startswith("error: " + expected.format(**files)), err[-3:]
    assert not (tmp_path / "old" / ".hydra").exists()  # a refused folder is not written into


def test_a_network_too_wide_for_memory_is_one_line_naming_its_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEBLURLAB_ROOT", str(tmp_path))
    # 2 million channels: one 3 x 3 convolution would take 134,110 GiB, refused at once
    argv = [o for o in BASE if "base_channels" not in o] + ["+model.net.base_channels=2000000"]
    code, err = _run(argv, monkeypatch, capsys)
    assert code == 2
    assert err[-1] == (
        "error: model.net: out of memory on the CPU: tried to allocate 134,110.5 GiB; "
        "the network's weights alone do not fit: use a narrower network"
    )


def test_a_corrupt_last_checkpoint_on_resume_is_one_line(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    cfg = compose_config("train", BASE, run)
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 truncated")
    code, err = _run([f"resume={run}"], monkeypatch, capsys)
    assert code == 2
    assert err[-1].startswith(f"error: {run}/checkpoints/last.ckpt: not a readable checkpoint")


# Root ignores permission bits (CAP_DAC_OVERRIDE): as root, the command runs with that capability
# (and CAP_DAC_READ_SEARCH) removed, so the kernel really refuses writes into a mode-555 folder.
NO_OVERRIDE = ["--bounding-set=-dac_override,-dac_read_search"]
NO_OVERRIDE += ["--inh-caps=-dac_override,-dac_read_search"]


def _as_a_user_without_override() -> list[str]:
    """A command prefix under which permission bits apply to the command (skip if none)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None or subprocess.run([setpriv, *NO_OVERRIDE, "true"]).returncode != 0:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE here")
    return [setpriv, *NO_OVERRIDE]


@pytest.mark.parametrize("where", ["hydra.run.dir", "DEBLURLAB_ROOT"])
def test_a_read_only_run_folder_is_one_line(where, tmp_path):
    prefix = _as_a_user_without_override()
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    argv = [*BASE, f"hydra.run.dir={read_only}/run"] if where == "hydra.run.dir" else BASE
    env["DEBLURLAB_ROOT"] = str(read_only if where == "DEBLURLAB_ROOT" else tmp_path)
    command = [*prefix, sys.executable, "-m", "deblurlab.cli.train", *argv]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if where == "hydra.run.dir":
        expected = f"error: hydra.run.dir={read_only}/run: {read_only} is not a writable folder"
    else:
        expected = (
            f"error: paths.log_dir={read_only}/experiments/runs: {read_only} is not a writable "
            "folder (set DEBLURLAB_ROOT=... or hydra.run.dir=...)"
        )
    assert (result.returncode, result.stderr.strip().splitlines()[-1:]) == (2, [expected]), (
        result.stderr[-2000:]
    )
    assert not any(read_only.iterdir())


def test_two_runs_started_at_once_in_one_folder_cannot_both_claim_it(tmp_path):
    from deblurlab.errors import ConfigError
    from deblurlab.run.preflight import claim_run_folder

    claim_run_folder(tmp_path)  # the first run
    with pytest.raises(ConfigError, match="already holds a run; continue it with resume="):
        claim_run_folder(tmp_path)  # the second, before the first wrote anything else


# Every Hydra command checks its group options before Hydra composes (Hydra's own message is
# several lines, and an ``optional`` group such as eval's ``data`` silently ignores a typo).
COMMANDS = {
    "train": "model=mimo_unet_xl",
    "evaluate": "data=gopr0",
    "predict": "model=mimo_unet_xl",
    "export": "model=mimo_unet_xl",
    "prepare": "data=gopr0",
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unknown_option_is_one_line_in_every_command(command, tmp_path, monkeypatch, capsys):
    import importlib

    cli = importlib.import_module(f"deblurlab.cli.{command}")
    monkeypatch.setenv("DEBLURLAB_ROOT", str(tmp_path / "root"))
    option = COMMANDS[command]
    argv = [option, f"ckpt_path={tmp_path}/none.ckpt", f"input={tmp_path}", "output=out.onnx"]
    monkeypatch.setattr(sys, "argv", [f"deblurlab-{command}", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err.strip().splitlines()
    group, value = option.split("=")
    choices = {"model": "mimo_unet, mimo_unet_plus, mimo_unet_pp, sgenet"}.get(
        group, "folder, gopro, hide, realblur_j, realblur_r, synthetic"
    )
    assert exit_info.value.code == 2
    assert err == [f"error: {group}={value}: no such option; choices: {choices}"]
    assert not (tmp_path / "root").exists()  # stopped before Hydra made a run folder


MISSING_ROOT = {
    "train": ["data=gopro", "data.root={tmp}/nowhere", "hydra.run.dir={tmp}/run", *BASE[:1]],
    "evaluate": ["data=gopro", "data.root={tmp}/nowhere", "ckpt_path={tmp}/none.ckpt"],
}


@pytest.mark.parametrize("command", list(MISSING_ROOT))
def test_a_missing_dataset_root_is_one_line_before_anything_is_built(
    command, tmp_path, monkeypatch, capsys
):
    import importlib

    from deblurlab.run.preflight import holds_run

    cli = importlib.import_module(f"deblurlab.cli.{command}")
    monkeypatch.setenv("DEBLURLAB_ROOT", str(tmp_path))
    argv = [a.format(tmp=tmp_path) for a in MISSING_ROOT[command]]
    monkeypatch.setattr(sys, "argv", [f"deblurlab-{command}", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    # named before eval reads the (missing) checkpoint and before train builds the trainer
    expected = f"error: {tmp_path}/nowhere: data.root is not a folder (the gopro dataset's folder)"
    assert err[-1] == expected, err[-3:]
    if command == "train":  # Hydra's record only: the folder can still take a run
        assert not holds_run(tmp_path / "run")
        assert {p.name for p in (tmp_path / "run").iterdir()} <= {".hydra", "train.log"}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_run_folder_that_cannot_be_made_is_one_line_in_every_command(
    command, tmp_path, monkeypatch, capsys
):
    # DEBLURLAB_ROOT names a file: no run folder can be made under it, not even by root
    import importlib

    cli = importlib.import_module(f"deblurlab.cli.{command}")
    (tmp_path / "file").write_text("mine")
    monkeypatch.setenv("DEBLURLAB_ROOT", str(tmp_path / "file"))
    argv = [f"ckpt_path={tmp_path}/none.ckpt", f"input={tmp_path}", "output=out.onnx"]
    monkeypatch.setattr(sys, "argv", [f"deblurlab-{command}", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert err == [
        f"error: paths.log_dir={tmp_path}/file/experiments/runs: {tmp_path}/file is not a "
        "writable folder (set DEBLURLAB_ROOT=... or hydra.run.dir=...)"
    ]
    assert (tmp_path / "file").read_text() == "mine"


def test_a_sweep_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("mine")
    sweep = tmp_path / "file" / "sweep"
    code, err = _run(["-m", *BASE, f"hydra.sweep.dir={sweep}"], monkeypatch, capsys)
    assert code == 2
    assert err == [f"error: hydra.sweep.dir={sweep}: {tmp_path}/file is not a writable folder"]
