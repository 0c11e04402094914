"""deblurlab-eval under every protocol and inference option, on odd-sized built-in data, from a
deblurlab checkpoint and from an official-format weight file."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from deblurlab.inference import Restorer
from deblurlab.metrics import SSIM_VARIANTS, evaluate_pair
from deblurlab.quantize import to_uint8
from deblurlab.run.task import run_task
from deblurlab.tasks.evaluate import evaluate
from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import TINY, TINY_NET, compose_config

ODD_DATA = ["data.source.eval_size=[37,45]", "data.source.test_samples=2"]
TINY_MIMO = TINY_NET["mimo_unet"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A deblurlab .ckpt (embedded config: tiny MIMO-UNet, odd-sized synthetic test images) and
    the same weights as an official release file (``{"model": state_dict}``)."""
    out = tmp_path_factory.mktemp("ckpt")
    cfg = compose_config("train", TINY + ODD_DATA, out)
    torch.manual_seed(0)
    net = instantiate(cfg.model.net)
    state = net.state_dict()
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in state.items()},
            "pytorch-lightning_version": "2.6.0",
            "deblurlab_config": OmegaConf.to_container(cfg, resolve=True),
        },
        out / "tiny.ckpt",
    )
    torch.save({"model": state}, out / "MIMO-UNet-tiny.pkl")
    return {"ckpt": out / "tiny.ckpt", "official": out / "MIMO-UNet-tiny.pkl"}


def _eval(tmp_path: Path, *overrides: str) -> dict:
    return run_task(evaluate, compose_config("eval", list(overrides), tmp_path))


CASES = [
    ("gopro", []),
    ("float", ["tile=16", "overlap=8"]),
    ("realblur", ["ensemble=x8"]),
    ("gopro", ["ensemble=rot4", "tile=24", "overlap=8"]),
    ("gopro", ["precision=bf16"]),
]


@pytest.mark.parametrize(("protocol", "options"), CASES, ids=[f"{p}-{o}" for p, o in CASES])
def test_eval_writes_per_image_scores_and_a_summary_naming_protocol_and_settings(
    checkpoints, tmp_path, protocol, options
):
    summary = _eval(tmp_path, f"ckpt_path={checkpoints['ckpt']}", f"protocol={protocol}", *options)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written == pytest.approx(summary)
    settings = dict(o.split("=") for o in options)
    assert written["protocol"] == protocol and written["ssim_variant"] == SSIM_VARIANTS[protocol]
    assert written["model"] == "mimo_unet" and written["num_images"] == 2
    assert written["ensemble"] == settings.get("ensemble")
    assert written["tile"] == (int(settings["tile"]) if "tile" in settings else None)
    assert written["overlap"] == (int(settings["overlap"]) if "tile" in settings else None)
    assert written["precision"] == settings.get("precision", "fp32")
    digest = hashlib.sha256(checkpoints["ckpt"].read_bytes()).hexdigest()
    assert written["checkpoint_sha256"] == digest[: len(written["checkpoint_sha256"])]
    rows = list(csv.DictReader((tmp_path / "per_image.csv").open()))
    assert len({r["name"] for r in rows}) == 2
    keys = ["psnr", "ssim", "ssim_matlab"] if protocol == "gopro" else ["psnr", "ssim"]
    assert len(rows) == 2
    assert list(rows[0]) == ["name", *keys, *[f"input_{k}" for k in keys], "seconds"]
    assert ("ssim_matlab" in written) == (protocol == "gopro")
    for key in ("psnr", "ssim", "input_psnr", "median_seconds"):
        assert math.isfinite(written[key]) and written[key] > 0, key
    assert written["psnr"] == pytest.approx(sum(float(r["psnr"]) for r in rows) / 2)


def test_per_image_scores_are_evaluate_pair_of_the_restored_8bit_image(checkpoints, tmp_path):
    """eval scores exactly what evaluate_pair gives for the restored image saved as 8-bit PNG."""
    from deblurlab.models import load_weights

    for protocol in ("gopro", "realblur"):
        out = tmp_path / protocol
        _eval(
            out, f"ckpt_path={checkpoints['ckpt']}", f"protocol={protocol}", "tile=16", "overlap=8"
        )
        rows = list(csv.DictReader((out / "per_image.csv").open()))
        cfg = compose_config("train", TINY + ODD_DATA, tmp_path)
        datamodule = instantiate(cfg.data)
        datamodule.setup("test")
        sample = datamodule.test_set[0]
        net = load_weights(instantiate(cfg.model.net), checkpoints["ckpt"])
        restored = Restorer(net, tile=16, overlap=8)(sample["blur"][None])[0]
        expected = evaluate_pair(
            to_uint8(restored.permute(1, 2, 0).numpy()),
            to_uint8(sample["sharp"].permute(1, 2, 0).numpy()),
            protocol,
        )
        assert rows[0]["name"] == sample["name"]
        assert float(rows[0]["psnr"]) == pytest.approx(expected["psnr"], abs=1e-6)
        assert float(rows[0]["ssim"]) == pytest.approx(expected["ssim"], abs=1e-6)


def test_an_official_weight_file_with_model_gives_the_checkpoints_numbers(checkpoints, tmp_path):
    from_ckpt = _eval(tmp_path / "a", f"ckpt_path={checkpoints['ckpt']}")
    official = _eval(
        tmp_path / "b",
        f"ckpt_path={checkpoints['official']}",
        "model=mimo_unet",
        *TINY_MIMO,
        "data=synthetic",
        *[o for o in TINY if o.startswith("data.")],
        *ODD_DATA,
    )
    assert official["psnr"] == pytest.approx(from_ckpt["psnr"], abs=1e-9)
    assert official["ssim"] == pytest.approx(from_ckpt["ssim"], abs=1e-9)


def test_mimo_unet_pp_evaluates_with_rot4_unless_turned_off(checkpoints, tmp_path):
    common = [
        f"ckpt_path={checkpoints['official']}",
        "model=mimo_unet_pp",
        *TINY_MIMO,
        "data=synthetic",
        *ODD_DATA,
    ]
    assert _eval(tmp_path / "pp", *common)["ensemble"] == "rot4"
    assert _eval(tmp_path / "off", *common, "ensemble=none")["ensemble"] is None


def test_a_weight_file_without_model_is_refused_in_one_line(checkpoints, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _eval(tmp_path, f"ckpt_path={checkpoints['official']}", "data=synthetic")
    assert info.value.code == 2
    assert "pass model=<name>" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("protocol=matlab", "error: protocol must be one of gopro, float, realblur, got 'matlab'"),
        ("tile=0", "error: tile must be null or a positive integer, got 0"),
        ("precision=fp16", "error: precision must be one of fp32, bf16, auto, got 'fp16'"),
        ("split=train", "error: split must be 'test' or 'val', got 'train'"),
    ],
)
def test_bad_settings_exit_with_one_line_naming_the_key(
    checkpoints, tmp_path, capsys, override, message
):
    with pytest.raises(SystemExit) as info:
        _eval(tmp_path, f"ckpt_path={checkpoints['ckpt']}", override)
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message


def test_with_wandb_the_summary_and_a_table_of_sample_images_are_logged(
    checkpoints, tmp_path, monkeypatch
):
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    logged = []
    original = WandbLogger.log_table

    def spy(self, key, columns=None, data=None, **kwargs):
        logged.append((key, columns, data))
        return original(self, key, columns=columns, data=data, **kwargs)

    monkeypatch.setattr(WandbLogger, "log_table", spy)
    _eval(tmp_path, f"ckpt_path={checkpoints['ckpt']}", "logger=wandb", "log_images=2")
    assert wandb.run is None  # closed after the job
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    tables = list(runs[0].glob("files/media/table/eval/samples_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert table["columns"] == ["name", "psnr", "ssim", "blurry", "output", "sharp"]
    assert len(table["data"]) == 2
    metrics_csv = (tmp_path / "csv" / "metrics.csv").read_text()  # logger=wandb includes csv
    assert "eval/psnr" in metrics_csv and "eval/median_seconds" in metrics_csv
    [(key, _, rows)] = logged
    assert key == "eval/samples"
    for row in rows:  # blurry | output | sharp images at full size
        assert [type(x) for x in row[3:]] == [wandb.Image] * 3
        assert all(img.image.size == (45, 37) for img in row[3:])


@pytest.fixture(scope="module")
def realblur_checkpoint(tmp_path_factory) -> Path:
    """A tiny checkpoint whose run was trained and validated under the realblur protocol."""
    overrides = [*ODD_DATA, "protocol=realblur"]
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt_rb"), overrides=overrides)


def test_eval_takes_the_protocol_of_the_checkpoint_unless_the_command_line_names_one(
    realblur_checkpoint, tmp_path
):
    carried = _eval(tmp_path / "a", f"ckpt_path={realblur_checkpoint}")
    assert (carried["protocol"], carried["protocol_source"]) == ("realblur", "checkpoint")
    assert carried["ssim_variant"] == SSIM_VARIANTS["realblur"]
    assert carried["model"] == "mimo_unet" and carried["model_source"] == "checkpoint"
    override = _eval(tmp_path / "b", f"ckpt_path={realblur_checkpoint}", "protocol=gopro")
    assert (override["protocol"], override["protocol_source"]) == ("gopro", "command line")
    # the two protocols give different numbers on the same images: the choice is not cosmetic
    assert abs(carried["psnr"] - override["psnr"]) > 0.05


def test_eval_of_an_official_weight_file_defaults_to_gopro(checkpoints, tmp_path):
    official = f"ckpt_path={checkpoints['official']}"
    summary = _eval(tmp_path, official, "model=mimo_unet", "data=synthetic", *TINY_MIMO, *ODD_DATA)
    assert (summary["protocol"], summary["protocol_source"]) == ("gopro", "default")
