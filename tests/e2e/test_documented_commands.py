"""Every ``deblurlab-*`` command that the documentation shows runs.

The commands are read from README.md, experiments/README.md and every docs/*.md: each line of a
```bash (or ```sh) code block that starts with ``deblurlab-``, and each inline code span that names
a command with at least one argument (```text blocks show output and are not read; every code block
must say what it holds). A command added to the docs is covered without editing this test; a command
shown in several places runs once.

Each command runs as written, in a folder holding the files the docs name (``photos/``,
``photo.jpg``, ``best.ckpt``, ...), on fake data of the right layout, at smoke size, except where
:data:`RULES` says otherwise: every rewrite is listed there with its reason, and nothing is skipped.
The Hydra commands (train, eval, predict, export, prepare, demo) compose their config from the
command's own words and run the library function behind the console script in this process (a new
process per command would cost more than most of the runs); the rest (``--help``, ``--cfg``,
``resume=``, report, sync, bench) run as processes.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from deblurlab.run.task import run_task
from fixtures.config import CONF_MODULE, TINY_NET, run_cli, shrink, tiny
from fixtures.datasets import (
    fake_pair,
    make_folder,
    make_gopro,
    make_hide,
    make_realblur,
    write_photos,
    write_png,
)

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "experiments" / "README.md", *sorted(REPO.glob("docs/*.md"))]
GPU = torch.cuda.is_available()

# How a documented command is run here where it cannot run as written, and why. Every other word
# runs as written.
RULES: dict[str, str] = {
    "data.root=<any>": "the fake dataset of the layout the composed config reads (data=... or the "
    "experiment's), so /data/GOPRO_Large, $GOPRO, ... need no real dataset",
    "ckpt_path=<any>": "the checkpoint of a tiny run trained by the fixture; with model=... on the "
    "command line, a tiny weight file in the released format ({'model': state_dict})",
    "model=<name>": "plus that network's tiny widths (fixtures.config.TINY_NET), to fit the tiny "
    "files; model=<name> itself (a placeholder) is model=mimo_unet",
    "pretrained=official, model.pretrained=official": "$DEBLURLAB_CACHE is a folder holding tiny "
    "files in the released format under the released names, as if downloaded before (the "
    "download itself runs against a local server in tests/e2e/cli/test_official_weights.py)",
    "deblurlab-train": "tiny network and crops, one batch per stage, one epoch "
    "(fixtures.config.shrink)",
    "deblurlab-train without a logger choice": "logger=csv (a resume keeps its run's): W&B runs "
    "are read back in tests/e2e/cli/test_wandb.py; logger=wandb on the command line runs offline",
    "logger=wandb_online": "logger=wandb (offline): no network here",
    "trainer=gpu": "trainer=cpu where no GPU is present",
    "trainer=ddp, trainer.devices, trainer.num_nodes": "trainer=cpu on one device: DDP itself runs "
    "in tests/e2e/cli/test_ddp.py (trainer=ddp_cpu)",
    "launcher=slurm, hydra.launcher.*": "composed (so the keys are checked); the job then runs "
    "here, as no SLURM is present",
    "-m": "the sweep's first job: the first value of each comma-separated list and of each "
    "hydra.sweeper.params entry (the sweep machinery runs in tests/e2e/cli/test_sweep.py and "
    "tests/e2e/test_recipes.py)",
    "hydra.run.dir, hydra.sweep.dir": "dropped: every command writes under its test's folder",
    "resume=<run dir>": "a copy of the fixture's run",
    "sweep=<multirun dir>": "a folder holding a copy of the fixture's run as its job 0",
    "schedule.max_epochs=<n> with resume=": "one epoch more than the run did (smoke size)",
    "deblurlab-report <folders>": "a copy of the folder holding the fixture's run",
    "deblurlab-sync <folders>": "the fixture's run (it logged to W&B offline), with --dry-run: "
    "uploading needs the network and an account",
    "deblurlab-demo": "the page is not served (serving blocks; tests/e2e/cli/test_demo.py serves "
    "it to a browser): the command's restorer deblurs a photo and the example it names",
    "deblurlab-prepare verify=true": "fake data never has the published counts: the command's "
    "one-line refusal naming them is the expected result",
    "_target_:mypkg...": "a class of the docs' example package mypkg: the command's config is "
    "composed (keys and overrides checked) but not run, as mypkg is not installed; "
    "tests/e2e/test_own_network.py follows that recipe end to end with a real throw-away package",
    "deblurlab-bench": "parsed by the bench's own command-line parser (options, sections, "
    "networks), not run: every section runs at --quick size in tests/e2e/benchmarks/test_bench.py, "
    "and the documented sizes take minutes to an hour",
    "deblurlab-prepare": "data.crop_size=32, the smoke crop: the fake images are smaller than the "
    "papers' 256 px crops that the scan checks them against",
}

HYDRA = {
    "deblurlab-train": "train",
    "deblurlab-eval": "eval",
    "deblurlab-predict": "predict",
    "deblurlab-export": "export",
    "deblurlab-prepare": "prepare",
    "deblurlab-demo": "demo",
}
DATASET = "FAKE_DATASET"  # tokens of the rewritten commands, filled in by the fixture
TRAINED = "TRAINED_CKPT"
RELEASE = "RELEASE_WEIGHTS"
RUN = "RUN_COPY"
RUNS = "RUNS_COPY"
SWEEP = "SWEEP_COPY"
ONE_MORE_EPOCH = "ONE_MORE_EPOCH"


def shown_commands() -> dict[str, list[str]]:
    """Every deblurlab-* command in the docs -> the files that show it (whitespace normalised)."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        text = doc.read_text()
        name = str(doc.relative_to(REPO))
        lines = []
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                lines.append(line.split("  #")[0].split(" # ")[0])
        outside = re.sub(r"```.*?```", "", text, flags=re.S)
        spans = re.findall(r"`([^`]*)`", outside)  # inline code, taken pair by pair
        lines += [s for s in spans if re.match(r"deblurlab-[a-z]+\s+\S", s)]
        for line in lines:
            line = " ".join(line.split())
            if line.startswith("deblurlab-"):
                found.setdefault(line, []).append(name)
    return found


def rewrite(command: str) -> tuple[str, ...]:
    """The command as it runs here (see RULES), with tokens where the fixture's files go."""
    command = re.sub(r"<[^>]*>", "PLACEHOLDER", command)  # <MIMO-UNet+ run>, <date>, ...
    program, *words = shlex.split(command)
    if program in ("deblurlab-report", "deblurlab-sync"):
        folders = [
            w for i, w in enumerate(words) if w[:2] != "--" and words[i - 1 : i] != ["--out"]
        ]
        assert folders, f"{command}: no folder"
        if program == "deblurlab-sync":
            return (program, RUN, "--dry-run")
        rest = [f"OUT/{w}" if words[i - 1 : i] == ["--out"] else w for i, w in enumerate(words)]
        return (program, RUNS, *(w for w in rest if w not in folders))
    if program not in HYDRA or words[:1] in (["--help"], ["--cfg"]):
        return (program, *words)
    keys = {w.partition("=")[0] for w in words}
    dropped = {"hydra.run.dir", "hydra.sweep.dir"}
    if "trainer=ddp" in words:
        dropped |= {"trainer.devices", "trainer.num_nodes"}
    result = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            result.append(word)
            continue
        if key == "ckpt_path":
            value = RELEASE if "model" in keys else TRAINED
        elif key == "data.root":
            value = DATASET
        elif key == "resume":
            value = RUN
        elif key == "sweep":
            value = SWEEP
        elif key == "model" and value == "PLACEHOLDER":
            value = "mimo_unet"
        elif key == "schedule.max_epochs" and "resume" in keys:
            value = ONE_MORE_EPOCH
        elif key == "trainer" and (value == "ddp" or (value == "gpu" and not GPU)):
            value = "cpu"
        elif key == "logger" and value == "wandb_online":
            value = "wandb"
        elif key in dropped:
            continue
        elif "-m" in words and "," in value and "[" not in value:
            value = value.split(",")[0]
        result.append(f"{key}={value}")
    if "model" in keys:
        model = next(w.partition("=")[2] for w in result if w.startswith("model="))
        result += TINY_NET[model]
    chooses_logger = any(k == "logger" or k.startswith("logger.") for k in keys)
    if program == "deblurlab-train" and not chooses_logger and "resume" not in keys:
        result.append("logger=csv")
    return (program, *result)


pytestmark = pytest.mark.slow  # one tiny training run, then a few dozen commands

SHOWN = shown_commands()
COMMANDS: dict[tuple[str, ...], list[str]] = {}
for _command, _docs in SHOWN.items():
    COMMANDS.setdefault(rewrite(_command), []).extend(f"{d}: {_command}" for d in _docs)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Fake datasets of every layout, the files the docs name, and one tiny trained run (W&B
    offline) of the real deblurlab-train command."""
    base = tmp_path_factory.mktemp("docs")
    gopro = make_gopro(base / "GOPRO_Large", num_train=2, num_test=2)
    world = {
        "gopro": gopro,
        "hide": make_hide(base / "HIDE_dataset", num_close=1, num_long=1),
        "realblur": make_realblur(base / "RealBlur", num_train=2, num_test=2),
        "folder": make_folder(base / "mypairs", num_train=2, num_test=2),
        "files": base / "files",  # what a user's current folder holds in the docs' commands
    }
    write_photos(world["files"] / "photos")
    for name in ("photo.jpg", "photo.png", "shots/a/a1.jpg", "shots/b/b1.jpg"):
        write_png(world["files"] / name, fake_pair(1, (37, 45))[0])
    result = run_cli(
        "cli.train",
        "data=gopro",
        f"data.root={gopro}",
        "debug=smoke",
        *tiny(source=False, logger=False),
        "logger=wandb",
        f"data.source.cache_dir={base / 'cache'}",
        root=base / "home",
        env={"WANDB_MODE": "offline"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (metrics,) = (base / "home").rglob("metrics.json")
    world["run"] = metrics.parent
    world["ckpt"] = world["run"] / "checkpoints" / "best.ckpt"
    return world


def _release_file(world: dict[str, Path], model: str) -> Path:
    """A tiny ``model`` saved as the released weight files are: ``{"model": state_dict}``."""
    path = world["files"].parent / "release" / f"{model}.pkl"
    if not path.is_file():
        with initialize_config_module(CONF_MODULE, version_base="1.3"):
            cfg = compose("eval", [f"model={model}", *TINY_NET[model]])
        path.parent.mkdir(exist_ok=True)
        torch.save({"model": instantiate(cfg.model.net).state_dict()}, path)
    return path


def _dataset(world: dict[str, Path], layout: str) -> Path:
    return world["realblur" if layout.startswith("realblur") else layout]


def _fill(words: tuple[str, ...], world: dict[str, Path], tmp: Path) -> list[str]:
    """Tokens -> the fixture's files (copies where the command writes into them)."""
    filled = []
    for word in words:
        key, eq, value = word.partition("=")
        if value == TRAINED or word == TRAINED:
            word = f"{key}={world['ckpt']}" if eq else str(world["ckpt"])
        elif value == RELEASE:
            model = next(w.partition("=")[2] for w in words if w.startswith("model="))
            word = f"{key}={_release_file(world, 'mimo_unet' if 'mimo' in model else model)}"
        elif value == RUN or word == RUN:
            copy = tmp / "resumed" / world["run"].name
            if not copy.exists():
                shutil.copytree(world["run"], copy)
            word = f"{key}={copy}" if eq else str(copy)
        elif value == SWEEP:
            shutil.copytree(world["run"], tmp / "sweep" / "0")
            word = f"{key}={tmp / 'sweep'}"
        elif word == RUNS:
            word = str(tmp / "runs")
            shutil.copytree(world["run"], tmp / "runs" / world["run"].name)
        elif value == ONE_MORE_EPOCH:
            done = OmegaConf.load(world["run"] / ".hydra" / "config.yaml").schedule.max_epochs
            word = f"{key}={done + 1}"
        elif word.startswith("OUT/"):
            word = str(tmp / word[4:])
        filled.append(word)
    return filled


def _compose(name: str, words: list[str], multirun: bool) -> DictConfig:
    """The command's config as Hydra composes it; for ``-m``, the sweep's first job."""
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose(name, overrides=words, return_hydra_config=True)
        params = cfg.hydra.sweeper.get("params") or {} if multirun else {}
        first = [f"{k}={str(v).split(',')[0]}" for k, v in params.items() if "(" not in str(v)]
        if first:
            cfg = compose(name, overrides=words + first, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def _run_hydra_command(program: str, words: list[str], world: dict[str, Path], tmp: Path, capsys):
    """Read the command line as Hydra does (flags such as -m come before the overrides), compose
    the command's config and run the function behind its console script."""
    args = get_args_parser().parse_args(words)
    cfg = _compose(HYDRA[program], args.overrides, args.multirun)
    if any("_target_:mypkg." in w for w in words):
        return  # composed; see RULES
    layout = cfg.hydra.runtime.choices.get("data")
    out = tmp / "run"
    with open_dict(cfg):
        del cfg.hydra
        if cfg.get("data") is not None and cfg.data.get("root") == DATASET:
            cfg.data.root = str(_dataset(world, layout))
        cfg.paths.output_dir = str(out)
    if program == "deblurlab-train":
        root = Path(cfg.data.root) if cfg.data.get("root") else None
        with open_dict(cfg):
            shrink(cfg, root, tmp)
        from deblurlab.tasks.train import train

        run_task(train, cfg)
        metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
        assert metrics.get("val/num_images", 0) >= 1 or metrics.get("test/num_images", 0) >= 1
    elif program == "deblurlab-eval":
        from deblurlab.tasks.evaluate import evaluate

        run_task(evaluate, cfg)
        if cfg.get("sweep"):  # every job scored into its own folder, the report beside them
            out = out / "0"
            assert (out.parent / "report.md").is_file()
        summary = json.loads((out / "summary.json").read_text())
        assert summary["num_images"] >= 1 and summary["protocol"]
    elif program == "deblurlab-predict":
        from deblurlab.tasks.predict import predict

        run_task(predict, cfg)
        written = Path(cfg.output) if cfg.get("output") else out / "restored"
        assert list(written.glob("*.png")) or list(written.glob(f"*.{cfg.get('format')}"))
    elif program == "deblurlab-export":
        from deblurlab.tasks.export import export

        run_task(export, cfg)
        assert Path(cfg.output).is_file()
    elif program == "deblurlab-prepare":
        from deblurlab.tasks.prepare import prepare

        with open_dict(cfg):
            cfg.data.source.cache_dir = str(tmp / "cache")
            cfg.data.crop_size = 32
        if cfg.get("verify"):
            with pytest.raises(SystemExit) as exit_:
                run_task(prepare, cfg)
            assert exit_.value.code == 2 and "published" in capsys.readouterr().err
        else:
            run_task(prepare, cfg)
            assert (tmp / "cache").is_dir()
    else:  # deblurlab-demo: everything but serving the page
        from deblurlab.inference.loading import load_restorer_from_config
        from deblurlab.tasks.demo import deblur_photo, read_example

        restorer, _ = load_restorer_from_config(cfg)
        example = read_example(cfg.example)
        for photo in [fake_pair(1, (37, 45))[0]] + ([] if example is None else [example]):
            assert deblur_photo(restorer, photo).shape == photo.shape


def _run_process(program: str, words: list[str], tmp: Path) -> None:
    """Run a command as a process, as a user would."""
    module = "cli." + program.removeprefix("deblurlab-").replace("eval", "evaluate")
    result = run_cli(module, *words, root=tmp / "home")
    assert result.returncode == 0, result.stderr[-3000:]
    if program == "deblurlab-report":
        out = words[words.index("--out") + 1] if "--out" in words else words[0]
        assert (Path(out) / "report.md").is_file()
    elif program == "deblurlab-sync":
        assert "offline-run-" in result.stdout, result.stdout
    elif program == "deblurlab-plan":
        assert "\ntotal " in result.stdout, result.stdout
    elif words[:1] == ["--help"]:
        assert "== Configuration groups ==" in result.stdout
    elif words[:1] == ["--cfg"]:
        assert "model:" in result.stdout


@pytest.mark.parametrize(
    "command", list(COMMANDS), ids=[" ".join(c).replace(" ", "_") for c in COMMANDS]
)
def test_documented_command_runs(
    command: tuple[str, ...], world, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The command runs (see RULES for what differs from a user's machine, and why)."""
    program, *words = command
    processes = ("deblurlab-report", "deblurlab-sync", "deblurlab-bench", "deblurlab-plan")
    assert program in (*HYDRA, *processes), f"{COMMANDS[command]}: no such command"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for entry in world["files"].iterdir():
        (cwd / entry.name).symlink_to(entry)
    monkeypatch.chdir(cwd)
    if program == "deblurlab-bench":
        from deblurlab.cli.bench import parse

        assert parse(words)[1], command
        return
    if any(w.endswith("pretrained=official") for w in words):
        from deblurlab.checkpoint.official import OFFICIAL

        cache = tmp_path / "weights"
        cache.mkdir()
        for entry in OFFICIAL.values():
            shutil.copy(_release_file(world, "mimo_unet"), cache / entry.filename)
        monkeypatch.setenv("DEBLURLAB_CACHE", str(cache))
    as_process = words[:1] in (["--help"], ["--cfg"]) or f"resume={RUN}" in words
    words = _fill(tuple(words), world, tmp_path)
    if program in HYDRA and not as_process:
        _run_hydra_command(program, words, world, tmp_path, capsys)
    else:
        _run_process(program, words, tmp_path)


def test_every_doc_is_read_and_shows_commands() -> None:
    """The docs are read (a broken reader would make the test above pass vacuously), and every
    code block says what it holds, so no command hides in a block this test does not read."""
    shown_in = {d.split(":")[0] for docs in COMMANDS.values() for d in docs}
    assert {"README.md", "experiments/README.md", "docs/evaluation.md", "docs/wandb.md"} <= shown_in
    assert len(COMMANDS) < len(SHOWN)  # duplicates run once
    unlabelled = [
        f"{doc.relative_to(REPO)}: {opening}"
        for doc in DOCS
        for opening in re.findall(r"^ *```.*$", doc.read_text(), flags=re.M)[::2]
        if opening.strip() == "```"
    ]
    assert unlabelled == [], "label each code block (```bash for commands, ```text for output)"


# Keys that say where a training run goes or that it is cut short (then it may leave out the
# trainer: the default CPU one serves it).
_PLACED = {
    "trainer",
    "launcher",
    "debug",
    "resume",
    "train",
    "schedule.max_epochs",
    "trainer.max_steps",
}


def test_full_schedule_training_commands_name_the_trainer_they_are_meant_for() -> None:
    """A documented ``deblurlab-train`` of a paper's full schedule (an experiment other than the
    quick start, or a dataset given with ``data.root``) names where it is meant to run
    (``trainer=gpu``, ``trainer=ddp``, ``launcher=slurm``) unless it is cut short (``debug=``,
    ``schedule.max_epochs=``, ...): on the default CPU trainer such a command runs for weeks."""
    unnamed = []
    for command, docs in SHOWN.items():
        program, *words = command.split()
        if program != "deblurlab-train" or any(w.startswith("--") for w in words):
            continue
        keys = {w.lstrip("+~").partition("=")[0] for w in words if w != "-m"}
        experiment = next((w.split("=", 1)[1] for w in words if w.startswith("experiment=")), None)
        full = experiment not in (None, "quickstart") or "data.root" in keys
        if full and not keys & _PLACED:
            unnamed.append(f"{docs[0]}: {command}")
    assert unnamed == [], "add trainer=gpu (or debug=smoke for a CPU try):\n" + "\n".join(unnamed)


def test_every_documented_make_target_exists() -> None:
    """``make <target>`` in the docs names a target of the Makefile (the targets themselves run in
    CI: ``make lint``, ``make test-all``; ``make install`` in tests/e2e/test_install.py)."""
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), flags=re.M))
    named = {}
    for doc in DOCS:
        text = doc.read_text()
        spans = re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S)
        spans += re.findall(r"`([^`]*)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for span in spans:
            for target in re.findall(r"(?:^|\s)make ([a-z][a-z-]*)", span):
                named.setdefault(target, str(doc.relative_to(REPO)))
    assert {"train", "test", "install", "sweep"} <= set(named)  # the reader reads
    missing = {t: doc for t, doc in named.items() if t not in targets}
    assert missing == {}, f"no such make target: {missing}"
