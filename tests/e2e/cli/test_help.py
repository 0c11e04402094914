"""Every command's ``--help`` says what the command does, shows each of its own keys with an example
and lists only the config groups it uses (never Hydra's generic text with every group)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra._internal.hydra import Hydra
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from fixtures.config import CONF_DIR, CONF_MODULE

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "src" / "deblurlab" / "cli"
# console scripts from pyproject.toml: module under deblurlab.cli -> command name
PROGRAM = {
    module: name
    for name, module in re.findall(
        r'^(deblurlab-[\w-]+) = "deblurlab\.cli\.(\w+):main"',
        (REPO / "pyproject.toml").read_text(),
        flags=re.M,
    )
}
HYDRA_COMMANDS = sorted(p.stem for p in CLI.glob("*.py") if "@hydra.main" in p.read_text())
ARGPARSE_COMMANDS = sorted(
    p.stem for p in CLI.glob("*.py") if p.stem != "__init__" and p.stem not in HYDRA_COMMANDS
)
EVERY_GROUP = "<every config group of the search path>"
# the groups each command uses, as its --help lists them (every other group must be absent)
USED_GROUPS = {
    "train": {
        "model",
        "data",
        "loss",
        "schedule",
        "trainer",
        "callbacks",
        "logger",
        "launcher",
        "experiment",
        "hparams_search",
        "debug",
        "ablation/table3",
        "ablation/table4",
    },
    "evaluate": {"data", "model", "logger"},
    "predict": {"model"},
    "prepare": {"data"},
    "export": {"model"},
    "demo": {"model"},
}
ALL_GROUPS = {
    str(p.parent.relative_to(CONF_DIR))
    for p in CONF_DIR.rglob("*.yaml")
    if p.parent != CONF_DIR and p.parts[len(CONF_DIR.parts)] != "hydra"
}


def config_name(command: str) -> str:
    return re.search(r'config_name="(\w+)"', (CLI / f"{command}.py").read_text()).group(1)


def own_keys(name: str) -> list[str]:
    """The keys the command's primary config sets itself (nested ones dotted)."""
    cfg = OmegaConf.load(CONF_DIR / f"{name}.yaml")

    def leaves(node: DictConfig, prefix: str) -> list[str]:
        out = []
        for key in node:
            value = node._get_node(key)
            full = f"{prefix}{key}"
            out += leaves(value, f"{full}.") if isinstance(value, DictConfig) else [full]
        return out

    return [k for k in leaves(cfg, "") if k not in ("defaults", "task_name")]


def composed_groups(name: str) -> set[str]:
    """The groups the command's config composes (chosen or optional), from Hydra itself."""
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose(name, return_hydra_config=True)
    return {g for g in cfg.hydra.runtime.choices if not g.startswith("hydra")}


def listed_groups(text: str) -> set[str]:
    section = text.split("== Configuration groups ==", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\s+([\w/]+): ", section, flags=re.M)}


@pytest.mark.parametrize("command", HYDRA_COMMANDS)
def test_hydra_command_help_is_its_own(command, monkeypatch, capsys):
    module = __import__(f"deblurlab.cli.{command}", fromlist=["main"])
    monkeypatch.setattr(sys, "argv", [PROGRAM[command], "--help"])
    # Hydra lists every group of the search path for its generic help whether the template uses
    # it or not (3 s); a marker instead, which must not show up in our texts
    monkeypatch.setattr(Hydra, "format_config_groups", lambda *args, **kwargs: EVERY_GROUP)
    try:
        with pytest.raises(SystemExit) as stopped:
            module.main()
    finally:
        GlobalHydra.instance().clear()
    assert stopped.value.code in (0, None)
    text = capsys.readouterr().out
    assert text.startswith(f"{PROGRAM[command]}: ")  # what it does, first
    assert "Powered by Hydra" not in text and "== Config ==" not in text  # not the generic help
    assert EVERY_GROUP not in text
    for key in own_keys(config_name(command)):
        assert re.search(rf"^  {re.escape(key)}=\S", text, flags=re.M), f"{key} has no example"
    listed = listed_groups(text)
    assert listed == USED_GROUPS[command], f"listed {sorted(listed)}"
    assert not listed & (ALL_GROUPS - USED_GROUPS[command])
    # and the command really composes every group it lists (the ablation groups: via experiments)
    assert listed - {"ablation/table3", "ablation/table4"} <= composed_groups(config_name(command))
    for group in listed:  # the options are the group's files
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        assert f"  {group}: {', '.join(options)}" in text


@pytest.mark.parametrize("command", ARGPARSE_COMMANDS)
def test_argparse_command_help_says_what_it_does(command, capsys):
    module = __import__(f"deblurlab.cli.{command}", fromlist=["main"])
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {PROGRAM[command]} ")
    assert f"{PROGRAM[command]}: " in text


def test_help_loads_no_torch():
    # --help exits before the task: the library behind the command is not imported (train's
    # pre-Hydra checks included); one process checks two commands
    code = (
        "import runpy, sys\n"
        "for prog, module in [('deblurlab-eval', 'evaluate'), ('deblurlab-train', 'train')]:\n"
        "    sys.argv = [prog, '--help']\n"
        "    try:\n        runpy.run_module(f'deblurlab.cli.{module}', run_name='__main__')\n"
        "    except SystemExit:\n        pass\n"
        "print('torch loaded:', 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "deblurlab-eval: score a checkpoint" in done.stdout
    assert "deblurlab-train: train one configuration" in done.stdout
    assert done.stdout.strip().endswith("torch loaded: False")
