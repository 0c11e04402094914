"""`pretrained=official` as a user types it: deblurlab-eval and deblurlab-train fetch the released
file (from a local server standing in for the authors' host) into the cache once and score or start
from it; no server is one line naming the URL and the manual way."""

from __future__ import annotations

import io
import json

import torch
from hydra.utils import instantiate

from fixtures.config import TINY, TINY_NET, compose_config, run_cli
from fixtures.weights_server import closed_port_url, weights_server

TINY_DATA = ["data=synthetic", *[o for o in TINY if o.startswith("data.")]]


def _release_bytes(tmp_path) -> bytes:
    """A file in the authors' release format ({"model": state_dict}) of the tiny MIMO-UNet."""
    cfg = compose_config("train", TINY, tmp_path / "compose")
    torch.manual_seed(3)
    buffer = io.BytesIO()
    torch.save({"model": instantiate(cfg.model.net).state_dict()}, buffer)
    return buffer.getvalue()


def test_eval_with_pretrained_official_downloads_once_and_scores(tmp_path):
    env = {"DEBLURLAB_CACHE": str(tmp_path / "cache")}
    args = ["model=mimo_unet", *TINY_NET["mimo_unet"], *TINY_DATA, "pretrained=official"]
    with weights_server({"MIMO-UNet.pkl": _release_bytes(tmp_path)}) as served:
        env["DEBLURLAB_WEIGHTS_MIRROR"] = served.url
        first = run_cli(
            "cli.evaluate", *args, f"hydra.run.dir={tmp_path / 'a'}", root=tmp_path, env=env
        )
        assert first.returncode == 0, first.stderr[-2000:]
        second = run_cli(
            "cli.evaluate", *args, f"hydra.run.dir={tmp_path / 'b'}", root=tmp_path, env=env
        )
        assert second.returncode == 0, second.stderr[-2000:]
    assert len(served.ranges) == 1  # the second run used the cached file
    assert "sha256" in first.stdout and "downloaded" not in second.stdout
    scores = [json.loads((tmp_path / r / "summary.json").read_text()) for r in ("a", "b")]
    assert scores[0]["checkpoint"] == str(tmp_path / "cache" / "MIMO-UNet.pkl")
    assert scores[0]["psnr"] == scores[1]["psnr"]


def test_train_with_model_pretrained_official_starts_from_the_release(tmp_path):
    env = {"DEBLURLAB_CACHE": str(tmp_path / "cache")}
    with weights_server({"MIMO-UNet.pkl": _release_bytes(tmp_path)}) as served:
        env["DEBLURLAB_WEIGHTS_MIRROR"] = served.url
        result = run_cli(
            "cli.train",
            *TINY,
            "debug=smoke",
            "test=false",
            "model.pretrained=official",
            f"hydra.run.dir={tmp_path / 'run'}",
            root=tmp_path,
            env=env,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        f"loaded weights from {tmp_path / 'cache' / 'MIMO-UNet.pkl'}"
        in result.stdout + result.stderr
    )


def test_no_server_is_one_line_and_exit_2(tmp_path):
    url = closed_port_url()
    env = {"DEBLURLAB_CACHE": str(tmp_path / "cache"), "DEBLURLAB_WEIGHTS_MIRROR": url}
    result = run_cli(
        "cli.evaluate",
        "model=mimo_unet",
        *TINY_DATA,
        "pretrained=official",
        f"hydra.run.dir={tmp_path / 'run'}",
        root=tmp_path,
        env=env,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "cannot connect" in line]
    assert len(lines) == 1 and f"{url}/MIMO-UNet.pkl" in lines[0]
    assert "model.pretrained=<path>" in lines[0]
    assert "Traceback" not in result.stderr


def test_pretrained_without_a_model_is_named(tmp_path):
    result = run_cli(
        "cli.evaluate",
        *TINY_DATA,
        "pretrained=official",
        f"hydra.run.dir={tmp_path / 'r'}",
        root=tmp_path,
    )
    assert result.returncode == 2 and "pretrained=official needs model=<name>" in result.stderr
