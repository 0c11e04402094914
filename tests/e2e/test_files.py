"""Files are written whole or not at all; links in an output folder are replaced, never followed;
non-finite values never reach best.ckpt, metrics.json or a restored image."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deblurlab.atomic import TEMP_MARK, atomic_write, remove_partial_files, write_json
from deblurlab.checkpoint import load_weights
from deblurlab.data.io import read_image_raw, write_image
from deblurlab.errors import CheckpointError
from deblurlab.lit.checkpointing import AtomicCheckpointIO
from deblurlab.models import mimo_unet
from fixtures.config import TINY, run_cli


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.ones(3)}, target)

    def half_then_fail(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert torch.equal(AtomicCheckpointIO().load_checkpoint(target)["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_write_killed_mid_way_leaves_the_old_file_and_the_next_start_cleans_up(tmp_path):
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.ones(3)}, target)
    code = (
        "import os, signal, sys\n"
        "from deblurlab.atomic import atomic_write\n"
        "def die(f):\n"
        "    f.write(b'x' * 100000); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        f"atomic_write({str(target)!r}, die)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]
    assert len(leftovers) == 1  # the killed write's temporary file, beside the target
    assert torch.equal(AtomicCheckpointIO().load_checkpoint(target)["w"], torch.ones(3))
    (tmp_path / "notes.txt").write_text("mine")
    assert remove_partial_files(tmp_path) == leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "notes.txt"]


def test_a_truncated_checkpoint_is_one_line_naming_the_file(tmp_path):
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.ones(1000)}, target)
    target.write_bytes(target.read_bytes()[:500])
    with pytest.raises(CheckpointError, match=f"^{target}: not a readable checkpoint") as info:
        AtomicCheckpointIO().load_checkpoint(target)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_writing_over_a_link_replaces_the_link_not_its_target(tmp_path, link):
    photo = tmp_path / "photo.png"
    write_image(photo, np.full((4, 4, 3), 7, np.uint8))
    before = photo.read_bytes()
    out = tmp_path / "out" / "photo.png"
    out.parent.mkdir()
    os.symlink(photo, out) if link == "symlink" else os.link(photo, out)
    write_image(out, np.full((4, 4, 3), 200, np.uint8))
    assert photo.read_bytes() == before  # the input is untouched
    assert not out.is_symlink() and read_image_raw(out)[0, 0, 0] == 200


def test_metrics_json_is_strict_json_with_null_for_non_finite_values(tmp_path):
    write_json(tmp_path / "m.json", {"psnr": float("nan"), "best": float("-inf"), "n": [1.0]})
    assert _strict((tmp_path / "m.json").read_text()) == {"psnr": None, "best": None, "n": [1.0]}


def test_non_finite_weights_are_refused_by_every_loader(tmp_path):
    net = mimo_unet(num_res=1, base_channels=8)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state[next(iter(state))][0] = float("nan")
    torch.save({"model": state}, tmp_path / "nan.pkl")
    with pytest.raises(CheckpointError, match="weight tensors hold NaN or inf"):
        load_weights(net, tmp_path / "nan.pkl")


@pytest.mark.slow
def test_non_finite_losses_are_skipped_then_stop_the_run_in_one_line(tmp_path):
    # an infinite loss weight makes every loss infinite: each step is skipped, three in a row stop
    run = tmp_path / "run"
    result = run_cli(
        "cli.train", *TINY, "debug=smoke", "test=false", "loss.msfr_weight=inf",
        "callbacks.nonfinite.max_in_a_row=3", "trainer.limit_train_batches=4",
        "trainer.gradient_clip_val=1.0", f"hydra.run.dir={run}", root=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: training stopped: 3 non-finite losses in a row, the last at step "
    )
    assert "(epoch 0, batch 2, files chelsea_" in last  # the batch's images, by name
    assert not (run / "checkpoints" / "best.ckpt").exists()  # nothing non-finite was saved


def _finite_checkpoints(folder) -> list[str]:
    """The checkpoints in ``folder``, each asserted to hold only finite network weights."""
    names = []
    for path in sorted(folder.glob("*.ckpt")):
        state = torch.load(path, weights_only=True)["state_dict"]
        bad = [k for k, v in state.items() if k.startswith("net.") and not v.isfinite().all()]
        assert not bad, f"{path.name} holds non-finite weights: {bad[:3]}"
        names.append(path.name)
    return names


@pytest.mark.slow
def test_a_diverging_learning_rate_stops_the_run_in_one_line(tmp_path):
    # lr=1e9: the first step leaves finite but huge weights, every output overflows to NaN.
    # stdout (progress bars) and stderr merged as a terminal shows them: the error comes last.
    run = tmp_path / "run"
    env = {**os.environ, "DEBLURLAB_ROOT": str(tmp_path), "WANDB_MODE": "disabled"}
    result = subprocess.run(
        [sys.executable, "-m", "deblurlab.cli.train", *TINY, "debug=smoke",
         "schedule.optimizer.lr=1e9", "callbacks.last_checkpoint.every_n_train_steps=1",
         f"hydra.run.dir={run}"],
        env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-3000:]
    assert result.stdout.strip().splitlines()[-1] == (
        "error: training stopped: the validation after step 2 (epoch 0) scored NaN (val/psnr, "
        "val/ssim, val/ssim_matlab): the network's outputs are not finite (1 non-finite training "
        "loss skipped so far); lower schedule.optimizer.lr or clip gradients "
        "(trainer.gradient_clip_val=1.0)"
    )
    assert "non-finite loss at step 2 (epoch 0, batch 1: " in result.stdout  # the skip, warned
    assert _finite_checkpoints(run / "checkpoints") == ["last.ckpt"]  # the step-1 state, no best
    assert not (run / "metrics.json").exists()


def test_non_finite_weights_stop_the_run_at_that_step(train_config, capsys):
    # lr=inf: the first step's loss is finite but the step leaves inf/NaN in the weights
    from deblurlab.run.task import run_task
    from deblurlab.tasks.train import train

    cfg = train_config(
        "debug=smoke",
        "schedule.optimizer.lr=inf",
        "callbacks.last_checkpoint.every_n_train_steps=1",
    )
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(
        "error: training stopped: the weights hold NaN or inf after step 1 (epoch 0, batch 0, "
        "files "
    ), last
    assert _finite_checkpoints(Path(cfg.paths.output_dir) / "checkpoints") == []
