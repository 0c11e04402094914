"""A run's identity: display name from the overrides that change what is trained, group from the
experiment (or sweep), tags, and a W&B id that survives resume=."""

from __future__ import annotations

import dataclasses
import json

import pytest

from deblurlab.run.identity import (
    Launch,
    apply_identity,
    load_or_create_identity,
    new_identity,
    run_group,
    run_name,
    short_override,
    wandb_group,
)
from deblurlab.runfiles import RunIdentity
from fixtures.config import compose_config


@pytest.mark.parametrize(
    ("override", "short"),
    [
        ("model.net.fusion=concat", "fusion=concat"),
        ("+model.net.num_res=1", "num_res=1"),
        ("ablation/table4=mise_aff", "table4=mise_aff"),
        ("seed=3", "seed=3"),
        ("schedule.optimizer.lr=0.0002", "lr=0.0002"),
        ("experiment=ablation_table3", None),
        ("data.root=/data/GOPRO_Large", None),
        ("trainer.devices=2", None),
        ("logger=csv", None),
        ("debug=smoke", None),
        ("resume=/runs/x", None),
        # read as Hydra reads them: quotes are not part of the value, a deletion changes nothing
        ("model.net.fusion='sum'", "fusion=sum"),
        ("++model.net.num_res=2", "num_res=2"),
        ("~seed", None),
    ],
)
def test_overrides_shorten_to_what_changes_the_trained_model(override, short):
    assert short_override(override) == short


def test_run_names_are_the_model_then_the_overrides_and_stay_short():
    assert run_name("mimo_unet", ["experiment=x", "model.net.fusion=sum", "seed=2"]) == (
        "mimo_unet fusion=sum seed=2"
    )
    long = run_name("sgenet", [f"+k{i}=value{i}" for i in range(40)])
    assert len(long) == 120 and long.endswith("...")


def test_identity_names_the_experiment_as_group_and_is_applied_to_the_wandb_logger(tmp_path):
    cfg = compose_config(
        "train", ["experiment=ablation_table3", "ablation/table3=sum", "logger=wandb"], tmp_path
    )
    identity = load_or_create_identity(cfg, tmp_path, write=True)
    assert identity.name == "mimo_unet table3=sum"
    assert identity.group == "ablation_table3"
    assert identity.tags[:3] == ["paper", "table3", "ablation"]
    assert {"mimo_unet", "gopro"} <= set(identity.tags)
    apply_identity(cfg, identity)
    wandb = cfg.logger.wandb
    assert (wandb.name, wandb.group, wandb.id) == (
        identity.name,
        "ablation_table3",
        identity.wandb_id,
    )
    assert cfg.run_name == identity.name
    assert json.loads((tmp_path / "run.json").read_text()) == dataclasses.asdict(identity)


def test_a_resumed_run_keeps_its_identity_and_a_new_run_gets_a_new_id(tmp_path):
    cfg = compose_config("train", ["logger=wandb"], tmp_path)
    first = load_or_create_identity(cfg, tmp_path, write=True)
    assert load_or_create_identity(cfg, tmp_path, write=False).wandb_id != first.wandb_id
    resumed = compose_config("train", ["logger=wandb", f"resume={tmp_path}"], tmp_path)
    assert load_or_create_identity(resumed, tmp_path, write=False) == first


def test_an_explicit_run_name_is_kept(tmp_path):
    cfg = compose_config("train", ["run_name=baseline-v2", "seed=3"], tmp_path)
    assert load_or_create_identity(cfg, tmp_path, write=False).name == "baseline-v2"


def test_the_identity_comes_from_the_launch_it_is_given_not_from_hydras_global_state(tmp_path):
    cfg = compose_config("train", ["experiment=ablation_table3"], tmp_path)  # sets Hydra's state
    launch = Launch(
        overrides=("model.net.fusion=concat", "data.root=/x", "seed=4"),
        choices={"data": "synthetic", "debug": "smoke"},
        sweep_dir="/runs/multirun/2026-01-01/12-00-00",
    )
    identity = new_identity(cfg, launch)
    assert identity.name == "mimo_unet fusion=concat seed=4"
    assert identity.group == "sweep-12-00-00"  # no experiment in this launch: the sweep's folder
    assert identity.tags[-2:] == ["synthetic", "debug:smoke"]
    assert identity.wandb_group == "debug=smoke: sweep-12-00-00"


def test_a_run_without_group_gets_a_wandb_group_of_its_own():
    assert run_group(Launch()) is None
    assert run_group(Launch(choices={"hparams_search": "optuna_lr"})) == "optuna_lr"
    assert wandb_group(None, "mimo_unet", "abc123", None) == "mimo_unet (abc123)"


def test_resuming_a_folder_claimed_before_its_identity_was_written_makes_a_new_one(tmp_path):
    (tmp_path / "run.json").touch()  # what claiming the folder leaves
    cfg = compose_config("train", [f"resume={tmp_path}"], tmp_path)
    identity = load_or_create_identity(cfg, tmp_path, write=True, launch=Launch(("seed=9",)))
    assert identity.name == "mimo_unet seed=9"  # from the launch given, not Hydra's
    assert RunIdentity.read(tmp_path) == identity
