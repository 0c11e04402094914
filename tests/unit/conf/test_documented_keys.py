"""Every config key the documentation names exists.

The names are read from README.md, experiments/README.md and every docs/*.md: each word of a
```bash block and of an inline code span that looks like a dotted key (``data.batch_size=8``,
``+model.net.num_res=1``, ``schedule.optimizer.lr``, ``hydra.launcher.*``) and starts with a
config section (``data``, ``model``, ``trainer``, ...). Each must be a key (or a section) of a
config the commands compose: any app (train, eval, predict, export, prepare, demo) with any one
option of any config group, Hydra's own keys included, or a column of the W&B runs deblurlab
writes (the training config, and what an evaluation run adds under ``eval.``). A ``*`` stands for
any key below. Names that start like a section but are not config keys are listed in
:data:`NOT_KEYS` with the reason.
"""

from __future__ import annotations

import inspect
import re
from functools import cache
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import _locate
from omegaconf import OmegaConf, open_dict

from deblurlab.run.identity import apply_eval_identity
from deblurlab.runfiles import EvalSummary
from fixtures.config import CONF_DIR, CONF_MODULE

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "README.md", REPO / "experiments" / "README.md", *sorted(REPO.glob("docs/*.md"))]
APPS = ("train", "eval", "predict", "export", "prepare", "demo")
KEY = re.compile(r"^[+~]*([a-z_][a-z0-9_]*(?:\.(?:[a-z0-9_]+|\*))+)(?:=.*)?$")
FILE = re.compile(r"\.(?:py|md|yaml|json|csv|ckpt|pkl|png|jpg|html|sh|txt|onnx|pt|toml|yml)$")

# Dotted names in the docs that start like a config section but name something else.
NOT_KEYS: dict[str, str] = {
    "hydra.utils.instantiate": "Hydra's Python function, named where the docs say what builds objects",
    "model.net.fusin": "docs/testing.md's example of a misspelt key that a test must catch",
    "schedule.lr": "docs/testing.md's example of a key that does not exist (the test below)",
    "schedule.optimizer.fusd": "docs/testing.md's example of a misspelt argument (the test below)",
}


def _flat(node: object, prefix: str = "") -> set[str]:
    """Every key path of a nested dict (sections included); a ``_target_`` also as
    ``<path>._target_=<class>``, so that the arguments its class takes can be checked."""
    keys: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            keys.add(path)
            if key == "_target_" and isinstance(value, str):
                keys.add(f"{path}={value}")
            keys |= _flat(value, path + ".")
    return keys


def _options() -> dict[str, list[str]]:
    """Every config group (nested ones too) -> its options."""
    groups: dict[str, list[str]] = {}
    for path in sorted(CONF_DIR.rglob("*.yaml")):
        group = path.parent.relative_to(CONF_DIR).as_posix()
        if group not in (".", "hydra/help") and not group.startswith("local"):
            groups.setdefault(group, []).append(path.stem)
    return groups


def _roots() -> set[str]:
    """The config sections: the group folders and the top-level keys of the apps' files."""
    roots = {group.split("/")[0] for group in _options()}
    for path in [*(CONF_DIR / f"{app}.yaml" for app in APPS), *CONF_DIR.glob("experiment/*")]:
        roots |= {str(k) for k in OmegaConf.load(path)}
    return (roots | {"eval"}) - {"defaults"}  # eval: the W&B columns of an evaluation run


@cache
def known_keys() -> frozenset[str]:
    """Every key of the composed configs, plus the W&B columns of an evaluation run.

    Train is composed once per round, the round choosing the i-th option of every group at once
    (each option is chosen in some round); an experiment overrides groups, so the experiments are
    composed one by one; the other apps once each, eval with a model and data."""
    options = _options()
    single = ("experiment", "hparams_search")
    grouped = {g: o for g, o in options.items() if g not in single and "/" not in g}
    rounds = [
        [f"{g}={o[i % len(o)]}" for g, o in grouped.items()]
        for i in range(max(len(o) for o in grouped.values()))
    ]
    rounds += [[f"{g}={o}"] for g in single for o in options.get(g, [])]
    runs = [("train", r) for r in rounds] + [(app, []) for app in APPS[1:]]
    runs.append(("eval", ["model=mimo_unet", "data=gopro", "loss=mimo", "logger=wandb"]))
    keys: set[str] = set()
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        for app, overrides in runs:
            try:
                cfg = compose(app, overrides=overrides, return_hydra_config=True)
            except Exception:  # an optional plugin that is not installed (hparams_search)
                continue
            keys |= _flat(OmegaConf.to_container(cfg, resolve=False))
        train = compose("train", overrides=["logger=wandb"])
        evaluation = compose("eval", overrides=["logger=wandb"])
    with open_dict(train):
        train.wandb_run = {"id": "x", "name": "x", "group": "x", "log_model": True}
    summary = EvalSummary(protocol="gopro", checkpoint="a.ckpt", split="test", psnr=1.0, ssim=1.0)
    keys |= _flat(apply_eval_identity(evaluation, train, summary))
    return frozenset(keys)


def documented_keys() -> dict[str, list[str]]:
    """Dotted names of config sections in the docs -> the docs naming them."""
    roots = _roots()
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        text = doc.read_text()
        words = []
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
            words += block.split()
        for span in re.findall(r"`([^`]*)`", re.sub(r"```.*?```", "", text, flags=re.S)):
            words += span.split()
        for word in words:
            match = KEY.match(word.strip(",;:()'\""))
            if not match or FILE.search(match.group(1)):
                continue
            name = match.group(1)
            if name.split(".")[0] in roots:
                found.setdefault(name, []).append(str(doc.relative_to(REPO)))
    return found


def _takes(target: str, argument: str) -> bool:
    """Whether the class or function ``target`` has a parameter named ``argument``; a factory
    that passes ``**kwargs`` on to the class it returns (``deblurlab.models.mimo_unet`` ->
    ``MIMOUNet``) takes that class's parameters too."""
    try:
        signature = inspect.signature(_locate(target), eval_str=True)
    except (ImportError, ValueError, TypeError, NameError):
        return False
    if argument in signature.parameters:
        return True
    passes_on = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    made = signature.return_annotation
    return passes_on and inspect.isclass(made) and argument in inspect.signature(made).parameters


def exists(name: str, keys: frozenset[str]) -> bool:
    """``name`` is a key, a section whose keys ``*`` stands for, or an argument (added with
    ``+``) that the class built from its section takes by name (``schedule.optimizer.fused``:
    ``torch.optim.Adam(fused=...)``)."""
    if name.endswith(".*"):
        return name[:-2] in keys
    if name in keys:
        return True
    section, _, argument = name.rpartition(".")
    marker = f"{section}._target_="
    return any(k.startswith(marker) and _takes(k[len(marker) :], argument) for k in keys)


def test_the_docs_name_keys_of_every_main_section() -> None:
    # a broken reader would make the test below pass vacuously
    roots = {name.split(".")[0] for name in documented_keys()}
    assert {"data", "model", "trainer", "schedule", "callbacks", "logger", "hydra"} <= roots


@pytest.mark.parametrize("name", sorted(documented_keys()))
def test_documented_key_exists(name: str) -> None:
    if name in NOT_KEYS:
        return
    docs = sorted(set(documented_keys()[name]))
    assert exists(name, known_keys()), f"{', '.join(docs)}: `{name}` is no config key"


def test_a_factorys_arguments_are_those_of_the_class_it_builds() -> None:
    keys = known_keys()
    assert exists("model.net.base_channels", keys) and exists("model.net.num_res", keys)
    assert not exists("model.net.base_channel", keys)


def test_a_column_that_does_not_exist_is_caught() -> None:
    # docs/wandb.md once named a dashboard column schedule.lr; the key is schedule.optimizer.lr
    keys = known_keys()
    assert not exists("schedule.lr", keys) and exists("schedule.optimizer.lr", keys)
    assert exists("hydra.launcher.*", keys) and exists("eval.checkpoint_sha256", keys)
    # an argument the built class takes, added with +, but no misspelt one
    assert exists("schedule.optimizer.fused", keys) and not exists("schedule.optimizer.fusd", keys)
