"""Paper experiments: each pins the paper's recipe and numbers, and smoke-runs on tiny fake data;
the ablation grids sweep exactly the paper's rows, end to end through the real command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import CONF_DIR, CONF_MODULE, TINY_NET, compose_config
from fixtures.datasets import make_gopro, make_hide, make_realblur

EXPERIMENTS = sorted(
    p.stem for p in (CONF_DIR / "experiment").glob("*.yaml") if p.stem != "quickstart"
)
PAPER_ROWS = [e for e in EXPERIMENTS if not e.startswith("ablation_")]
TINY_MIMO, TINY_SGENET = TINY_NET["mimo_unet"], TINY_NET["sgenet"]

# The recipes of the papers (MIMO-UNet: Sec. 4.1; SGENet: Sec. 4.1 and docs/models.md).
MIMO_GOPRO = dict(
    crop_size=256, batch_size=4, hflip=0.5, vflip=0.0, lr=1e-4, gamma=0.5, epochs=3000,
    milestones=[500, 1000, 1500, 2000, 2500], protocol="gopro", loss="MIMOLoss",
)  # fmt: skip
MIMO_REALBLUR = {**MIMO_GOPRO, "epochs": 1000, "milestones": [200, 400, 600, 800]}
RECIPES = {
    "mimo_unet_gopro": {**MIMO_GOPRO, "model": "mimo_unet", "ensemble": None},
    "mimo_unet_plus_gopro": {**MIMO_GOPRO, "model": "mimo_unet_plus", "ensemble": None},
    "mimo_unet_pp_gopro": {**MIMO_GOPRO, "model": "mimo_unet_pp", "ensemble": "rot4"},
    "mimo_unet_plus_realblur_j": {
        **MIMO_REALBLUR, "model": "mimo_unet_plus", "ensemble": None, "protocol": "realblur",
    },
    "mimo_unet_plus_realblur_r": {
        **MIMO_REALBLUR, "model": "mimo_unet_plus", "ensemble": None, "protocol": "realblur",
    },
    "sgenet_gopro": dict(
        model="sgenet", ensemble=None, crop_size=256, batch_size=16, hflip=0.5, vflip=0.5,
        lr=2e-4, eta_min=1e-7, epochs=3000, protocol="gopro", loss="SGENetLoss",
    ),
}  # fmt: skip
# Table 4 of the MIMO-UNet paper: (MISE, MOSD, AFF, MSFR) of its nine rows.
TABLE4_ROWS = {
    (False, False, False, False),
    (True, False, False, False),
    (False, True, False, False),
    (False, False, True, False),
    (True, True, False, False),
    (False, True, True, False),
    (True, False, True, False),
    (True, True, True, False),
    (True, True, True, True),
}


def sweep_params(experiment: str) -> dict[str, str]:
    """``hydra.sweeper.params`` of an experiment, as ``-m experiment=<name>`` would read them."""
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose("train", [f"experiment={experiment}"], return_hydra_config=True)
    return dict(cfg.hydra.sweeper.params or {})


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("datasets")
    realblur = make_realblur(root / "realblur")
    return {
        "gopro": make_gopro(root / "gopro"),
        "realblur_j": realblur,
        "realblur_r": realblur,
        "hide": make_hide(root / "hide"),
    }


def tiny_overrides(experiment: str, datasets: dict[str, Path]) -> list[str]:
    """Tiny widths for the experiment's network, and the fake dataset of its layout."""
    cfg = compose_config("train", [f"experiment={experiment}"])
    net = TINY_SGENET if cfg.model.name == "sgenet" else TINY_MIMO
    return net + [f"data.root={datasets[cfg.data.source.layout]}"]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_trains_validates_and_tests_one_step_with_debug_smoke(
    experiment, datasets, tmp_path
):
    overrides = [f"experiment={experiment}", "debug=smoke", "logger=csv"]
    overrides += ["schedule.max_epochs=1", "trainer.limit_train_batches=1"]
    cfg = compose_config("train", overrides + tiny_overrides(experiment, datasets), tmp_path)
    metrics = run_task(train, cfg)
    assert math.isfinite(metrics["train/loss"])
    assert math.isfinite(metrics["val/psnr"]) and math.isfinite(metrics["test/psnr_last"])
    assert metrics["group"] == experiment  # the W&B group
    assert metrics["protocol"] == cfg.protocol
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test_macs"] >= written["macs"] > 0 and written["test/runtime_s"] > 0


@pytest.mark.parametrize("experiment", sorted(RECIPES))
def test_paper_rows_pin_the_papers_recipe(experiment):
    recipe = RECIPES[experiment]
    cfg = compose_config("train", [f"experiment={experiment}"])
    assert cfg.model.name == recipe["model"] and cfg.model.ensemble == recipe["ensemble"]
    assert cfg.loss._target_.endswith(recipe["loss"]) and cfg.protocol == recipe["protocol"]
    data = cfg.data
    assert (data.crop_size, data.batch_size) == (recipe["crop_size"], recipe["batch_size"])
    assert (data.hflip, data.vflip, data.rot90) == (recipe["hflip"], recipe["vflip"], 0.0)
    schedule = cfg.schedule
    assert schedule.optimizer._target_ == "torch.optim.Adam"
    assert schedule.optimizer.lr == recipe["lr"] and schedule.max_epochs == recipe["epochs"]
    assert schedule.interval == "epoch"
    if "milestones" in recipe:
        assert list(schedule.scheduler.milestones) == recipe["milestones"]
        assert schedule.scheduler.gamma == recipe["gamma"]
    else:
        assert schedule.scheduler._target_.endswith("CosineAnnealingLR")
        assert schedule.scheduler.eta_min == recipe["eta_min"]
        assert schedule.scheduler.T_max == recipe["epochs"]


@pytest.mark.parametrize("experiment", PAPER_ROWS)
def test_paper_rows_record_the_papers_numbers_and_build_networks_of_the_papers_size(experiment):
    cfg = compose_config("train", [f"experiment={experiment}"])
    paper = OmegaConf.to_container(cfg.paper)
    assert {"source", "table", "row", "psnr", "ssim", "params_m"} <= set(paper)
    if paper["psnr"] is not None:  # RealBlur-R: not reported in the paper
        assert 25 < paper["psnr"] < 40 and 0.8 < paper["ssim"] < 1
    num_params = sum(p.numel() for p in instantiate(cfg.model.net).parameters())
    assert num_params / 1e6 == pytest.approx(paper["params_m"], abs=0.05)


def test_table3_sweeps_the_three_fusions_with_the_papers_numbers():
    assert sweep_params("ablation_table3") == {"ablation/table3": "concat,sum,fam"}
    seen = {}
    for option in ("concat", "sum", "fam"):
        cfg = compose_config("train", ["experiment=ablation_table3", f"ablation/table3={option}"])
        seen[cfg.model.net.fusion] = cfg.paper.psnr
        assert cfg.model.name == "mimo_unet" and cfg.loss.msfr_weight == 0.1
    assert seen == {"concat": 31.66, "sum": 31.60, "fam": 31.73}


def test_table4_sweeps_each_of_the_nine_paper_rows_once():
    rows = sweep_params("ablation_table4")["ablation/table4"].split(",")
    files = sorted(p.stem for p in (CONF_DIR / "ablation" / "table4").glob("*.yaml"))
    assert sorted(rows) == files and len(rows) == len(set(rows)) == 9
    switches = set()
    for row in rows:
        cfg = compose_config("train", ["experiment=ablation_table4", f"ablation/table4={row}"])
        net = cfg.model.net
        switches.add((net.mise, net.mosd, net.aff, cfg.loss.msfr_weight > 0))
        # the switches build what the paper counted (it truncates to 0.01 M)
        num_params = sum(p.numel() for p in instantiate(net).parameters())
        assert num_params / 1e6 == pytest.approx(cfg.paper.params_m, abs=0.02), row
    assert switches == TABLE4_ROWS


def test_the_optuna_example_composes_when_the_plugin_is_installed():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    with initialize_config_module(CONF_MODULE, version_base="1.3"):
        cfg = compose(
            "train",
            ["hparams_search=optuna_lr", "experiment=mimo_unet_gopro"],
            return_hydra_config=True,
        )
    assert cfg.hydra.sweeper.direction == "maximize"
    assert "schedule.optimizer.lr" in cfg.hydra.sweeper.params
