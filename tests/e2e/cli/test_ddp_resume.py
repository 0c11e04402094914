"""Data parallel training at cluster scale, on two CPU processes (gloo over the loopback):

- a 2-process run (trainer=ddp_cpu) killed with SIGKILL mid-epoch, every rank at once, and
  continued with ``resume=<run dir>`` ends with the weights of the uninterrupted 2-process run;
- a 2-node x 1-process run (two ``torchrun --nnodes 2`` agents, a static rendezvous on
  127.0.0.1) trains and scores each test image once, and equals the 1-node 2-process run: same
  world size, same global batch, so the same weights, validation and test scores (to 1e-6).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fixtures.config import TINY_LOADER, TINY_LOGGER, TINY_NET

TESTS = Path(__file__).resolve().parents[2]
# 16 training frames, batch 2 per rank, 2 ranks: 4 steps per epoch; 2 epochs; last.ckpt every 2
# steps; killed at step 3 (mid-epoch 0, one step after the last checkpoint)
SOURCE = [
    "data.source.train_samples=16",
    "data.source.val_samples=3",
    "data.source.test_samples=3",
    "data.source.train_size=[48,48]",
    "data.source.eval_size=[40,52]",
]
RUN = [
    *TINY_LOGGER,
    *TINY_NET["mimo_unet"],
    *SOURCE,
    *TINY_LOADER,
    "debug=smoke",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=1.0",
    "trainer.limit_test_batches=1.0",
    "schedule.max_epochs=2",
    "callbacks.last_checkpoint.every_n_train_steps=2",
]
KILL = [
    "+callbacks.kill._target_=fixtures.killer.KillAtStep",
    "+callbacks.kill.step=3",
    "+callbacks.kill.group=true",
]

pytestmark = pytest.mark.slow


def environment(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DEBLURLAB_ROOT": str(root),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(TESTS),
    }


def train(*args: str, root: Path) -> subprocess.CompletedProcess:
    # a session of its own: the kill takes the job's whole process group, as SLURM would
    command = [sys.executable, "-m", "deblurlab.cli.train", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=environment(root),
        timeout=600,
        start_new_session=True,
    )


def last(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def max_diff(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in b)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    """The uninterrupted 1-node x 2-process run (trainer=ddp_cpu), tested."""
    root = tmp_path_factory.mktemp("ddp")
    result = train(*RUN, "trainer=ddp_cpu", f"hydra.run.dir={root / 'run'}", root=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run"


def test_ddp_killed_mid_epoch_then_resumed_ends_with_the_uninterrupted_weights(
    two_processes, tmp_path
):
    run = tmp_path / "run"
    killed = train(*RUN, *KILL, "trainer=ddp_cpu", f"hydra.run.dir={run}", root=tmp_path)
    assert killed.returncode == -9, killed.stderr[-3000:]  # every rank, no cleanup
    saved = last(run)
    assert (saved["global_step"], saved["epoch"]) == (2, 0)  # mid-epoch

    resumed = train(f"resume={run}", "~callbacks.kill", root=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final, reference = last(run), last(two_processes)
    assert final["global_step"] == reference["global_step"] == 8
    assert max_diff(final["state_dict"], reference["state_dict"]) <= 1e-6
    states = [c["optimizer_states"][0]["state"] for c in (final, reference)]
    for i, state in states[1].items():
        for key, value in state.items():
            if value.dim() > 0:
                assert (states[0][i][key] - value).abs().max().item() <= 1e-6
    metrics = json.loads((run / "metrics.json").read_text())
    expected = json.loads((two_processes / "metrics.json").read_text())
    assert metrics["val/psnr_best"] == pytest.approx(expected["val/psnr_best"], abs=1e-6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_of_one_process_train_and_score_like_one_node_of_two(two_processes, tmp_path):
    run = tmp_path / "run"
    port = free_port()
    nodes = []
    for node_rank in (0, 1):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2"]
        command += ["--nproc-per-node=1", f"--node-rank={node_rank}"]
        command += ["--master-addr=127.0.0.1", f"--master-port={port}"]
        command += ["-m", "deblurlab.cli.train", *RUN, f"hydra.run.dir={run}"]
        command += ["trainer=cpu", "+trainer.strategy=ddp", "trainer.num_nodes=2"]
        log = open(tmp_path / f"node{node_rank}.log", "w")  # noqa: SIM115
        nodes.append((subprocess.Popen(command, env=environment(tmp_path), stdout=log,
                                       stderr=subprocess.STDOUT), log))  # fmt: skip
    for process, log in nodes:
        code = process.wait(timeout=600)
        log.close()
        assert code == 0, (tmp_path / f"node{nodes.index((process, log))}.log").read_text()[-3000:]

    metrics = json.loads((run / "metrics.json").read_text())
    expected = json.loads((two_processes / "metrics.json").read_text())
    # each of the 3 test and validation images scored once (2 ranks pad the split to 4)
    assert metrics["test/num_images"] == metrics["val/num_images"] == 3
    final, reference = last(run), last(two_processes)
    assert final["global_step"] == reference["global_step"] == 8
    assert max_diff(final["state_dict"], reference["state_dict"]) <= 1e-6
    compared = [k for k in expected if k.startswith(("val/", "test/", "input/"))]
    compared = [k for k in compared if isinstance(expected[k], float) and "runtime" not in k]
    assert "test/psnr" in compared or "test/psnr_last" in compared
    for key in compared:
        assert metrics[key] == pytest.approx(expected[key], abs=1e-6), key
