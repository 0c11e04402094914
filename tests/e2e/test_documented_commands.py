"""Every ``deblurlab-*`` command shown in README.md and experiments/README.md runs.

The commands are read from the two files (code blocks and inline code), so a command added to them
later is covered without editing this test. Placeholders are replaced by fake data of the right
layout and by a checkpoint trained here; smoke overrides and a tiny network are appended; then each
command's config is composed exactly from its words and the library function behind the console
script runs it. ``-m`` sweeps run their first job (the sweep machinery itself is covered by
tests/cli/test_experiments.py and the recipes test).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from deblurlab.inference.loading import load_restorer_from_config
from deblurlab.run.task import run_task
from deblurlab.tasks.demo import deblur_photo
from deblurlab.tasks.evaluate import evaluate
from deblurlab.tasks.predict import predict
from deblurlab.report import report
from deblurlab.tasks.train import train
from fixtures.config import CONF_MODULE, run_cli, shrink
from fixtures.datasets import (
    fake_pair,
    make_folder,
    make_gopro,
    make_hide,
    make_realblur,
    write_png,
)

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "experiments" / "README.md"]


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) for every deblurlab-* command in the docs, continuation lines joined."""
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text()
        fenced = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)
        for block in fenced:
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].strip()
                if line.startswith("deblurlab-"):
                    found.append((str(doc.relative_to(REPO)), line))
        outside = re.sub(r"```.*?```", "", text, flags=re.S)
        found += [
            (doc.name, c)
            for c in re.findall(r"`(deblurlab-(?:train|eval|predict|report) [^`]+)`", outside)
        ]
    return found


COMMANDS = documented_commands()
pytestmark = pytest.mark.slow  # every command runs end to end (each a few seconds)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Fake datasets of every layout, photos, and a small trained checkpoint with its run folder."""
    base = tmp_path_factory.mktemp("docs")
    paths = {
        "gopro": make_gopro(base / "GOPRO_Large", num_train=2, num_test=2),
        "hide": make_hide(base / "HIDE", num_close=1, num_long=1),
        "realblur": make_realblur(base / "RealBlur", num_train=2, num_test=2),
        "folder": make_folder(base / "mypairs", num_train=2, num_test=2),
        "photos": base / "photos",
    }
    write_png(paths["photos"] / "a.png", fake_pair(1, (37, 45))[0])
    run = base / "trained"
    cfg = _compose("train", ["data=gopro", f"data.root={paths['gopro']}", "logger=csv"])
    # the files Hydra writes next to a run, which deblurlab-report reads
    (run / ".hydra").mkdir(parents=True)
    choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
    OmegaConf.save({"hydra": {"runtime": {"choices": choices}}}, run / ".hydra" / "hydra.yaml")
    _run("deblurlab-train", cfg, base / "cache", paths["gopro"], run)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    paths["ckpt"] = run / "checkpoints" / "best.ckpt"
    paths["runs"] = run.parent
    return paths


def _compose(name: str, overrides: list[str]):
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def _run(program: str, cfg, cache: Path, root: Path | None, out: Path):
    """Run a composed command: shrunk to smoke size when it trains."""
    with open_dict(cfg):
        del cfg.hydra
        if program == "deblurlab-train":
            shrink(cfg, root, out.parent)
            cfg.paths.output_dir = str(out)
            return run_task(train, cfg)
        cfg.paths.output_dir = str(out)
        return run_task(evaluate if program == "deblurlab-eval" else predict, cfg)


def _substitute(words: list[str], world: dict[str, Path], out: Path) -> list[str]:
    """Placeholders -> fake data, the trained checkpoint, CPU trainers."""
    table = {
        "/data/GOPRO_Large": world["gopro"],
        "/data/GOPRO": world["gopro"],
        "$GOPRO": world["gopro"],
        "/data/HIDE": world["hide"],
        "$HIDE": world["hide"],
        "$REALBLUR": world["realblur"],
        "/data/RealBlur": world["realblur"],
        "/data/mypairs": world["folder"],
        "photos/": world["photos"],
        "deblurred/": out / "deblurred",
    }
    result = []
    for word in words:
        key, _, value = word.partition("=")
        if key == "ckpt_path":
            value = str(world["ckpt"])
        elif value in table:
            value = str(table[value])
        elif key == "trainer" and value == "gpu" and not torch.cuda.is_available():
            value = "cpu"
        elif key in ("hydra.run.dir", "hydra.sweep.dir"):
            continue
        result.append(f"{key}={value}" if _ else word)
    return result


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_documented_command_runs(doc: str, command: str, world, tmp_path: Path) -> None:
    command = re.sub(r"<[^>]*>", "PLACEHOLDER", command)  # <MIMO-UNet+ run>, <date>, ...
    program, *words = shlex.split(command, posix=False)
    words = [w for w in words if w != "-m"]
    if program == "deblurlab-report":
        folders = [w for w in words if not w.startswith("--")]
        assert folders, command
        summary = report([world["runs"]], tmp_path / "report")
        assert summary["runs"] >= 1 and (tmp_path / "report" / "report.md").is_file()
        return
    words = _substitute(words, world, tmp_path)
    # a sweep's first job: the first value of every comma-separated list
    words = [w.split(",")[0] if "=" in w and "," in w and "[" not in w else w for w in words]
    if words == ["--help"]:
        result = run_cli(f"cli.{program.split('-')[1]}", "--help", root=tmp_path)
        assert result.returncode == 0 and "== Configuration groups ==" in result.stdout
        return
    if (
        program == "deblurlab-export"
    ):  # a real export of the trained checkpoint, checked by the command
        output = [w for w in words if not w.startswith("output=")] + [
            f"output={tmp_path / 'm.onnx'}"
        ]
        result = run_cli("cli.export", *output, root=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert (tmp_path / "m.onnx").is_file()
        return
    if program == "deblurlab-prepare":  # fake data never has the published counts: one-line refusal
        result = run_cli("cli.prepare", *words, root=tmp_path)
        assert result.returncode == 2 and "published" in result.stderr, result.stderr[-2000:]
        return
    if (
        program == "deblurlab-sync"
    ):  # the fake runs log to CSV only: nothing to upload, said in one line
        result = run_cli("cli.sync", str(world["runs"]), "--dry-run", root=tmp_path)
        assert result.returncode == 2 and "no offline W&B runs" in result.stderr, result.stderr
        return
    if program == "deblurlab-demo":  # the served page runs in tests/cli/test_demo.py
        cfg = _compose("demo", words)
        restorer, _ = load_restorer_from_config(cfg)
        photo = fake_pair(1, (37, 45))[0]
        assert deblur_photo(restorer, photo).shape == photo.shape
        return
    if program == "deblurlab-train" and not any(w.startswith("logger=") for w in words):
        words.append("logger=csv")  # W&B options run in tests/test_every_option_runs.py
    name = {"deblurlab-train": "train", "deblurlab-eval": "eval", "deblurlab-predict": "predict"}
    cfg = _compose(name[program], words)
    root = (
        Path(str(cfg.data.root)) if program == "deblurlab-train" and cfg.data.get("root") else None
    )
    result = _run(program, cfg, tmp_path / "cache", root, tmp_path / "run")
    if program == "deblurlab-train":
        assert max(result.get("val/num_images", 0), result.get("test/num_images", 0)) >= 1
    elif program == "deblurlab-eval":
        assert result["num_images"] >= 1 and result["protocol"]
