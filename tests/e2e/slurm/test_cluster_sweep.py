"""The Table-3 sweep through a real SLURM controller, as a user submits it, with the three ways a
cluster interrupts a job, each on its own sweep point:

- job 0 runs through;
- job 1 is preempted (``scontrol requeue``: SIGTERM, SLURM requeues it) at step 2, and in its
  second attempt warned of its time limit (SIGUSR1, as ``--signal=USR1@<s>`` sends it; the job
  requeues itself) at step 5: two chained requeues;
- job 2 dies by SIGKILL at step 3, before any handler runs, and fails; requeued (as SLURM
  requeues the jobs of a lost node), its next attempt has only the last.ckpt of step 2.

Every job ends in its own run folder with the final weights of the same sweep run locally
(Hydra's basic launcher, no interruption) to 1e-6, the same config and scores, the number of
requeues in metrics.json, and the report of the sweep folder equals the local sweep's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from deblurlab.report import report
from fixtures.config import tiny

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]

SWEEP = [
    "-m",
    "experiment=ablation_table3",
    "debug=smoke",
    "data=synthetic",
    *tiny(logger=False),
    "logger=wandb",  # offline: each attempt's W&B run folder names the run it logs to
    "trainer.limit_train_batches=4",  # 4 steps an epoch, 8 in all
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "callbacks.last_checkpoint.every_n_minutes=0",
    "+callbacks.interrupt._target_=slurm_interrupts.Interrupt",
    '+callbacks.interrupt.plan="1:requeue@2 1:usr1@5 2:kill@3"',
]
# a CPU job on the test node: one CPU, 1 GB, inside the partition's time limit, warned a minute
# before it
SLURM = [
    "launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=5",
    "hydra.launcher.signal_delay_s=60",
    "hydra.launcher.partition=debug",
]
REQUEUES = [0, 2, 1]
W_B = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
NOT_SCORES = {"test/runtime_s", "best_ckpt", "requeues"}


def weights(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return ckpt["state_dict"] | {"global_step": torch.tensor(ckpt["global_step"])}


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def table_rows(sweep: Path) -> list[list[str]]:
    """The report's table rows without the runtime column (a timing, not a result)."""
    lines = (sweep / "report.md").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| ") and "PSNR" in line)
    names = [c.strip() for c in lines[header].strip("|").split("|")]
    keep = [i for i, name in enumerate(names) if "untime" not in name]
    rows = []
    for line in lines[header:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append([cells[i] for i in keep if i < len(cells)])
    return rows


@pytest.fixture(scope="module")
def sweeps(slurm_cluster, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweeps")
    slurm, local = root / "slurm", root / "local"
    with slurm_cluster.releasing_requeued(root):
        result = slurm_cluster.train(*SWEEP, *SLURM, f"hydra.sweep.dir={slurm}", root=root, env=W_B)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    result = slurm_cluster.train(*SWEEP, f"hydra.sweep.dir={local}", root=root, env=W_B)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"slurm": slurm, "local": local}


def check_each_job_ends_with_the_weights_of_the_uninterrupted_local_run(sweeps):
    for job in ("0", "1", "2"):
        slurm, local = weights(sweeps["slurm"] / job), weights(sweeps["local"] / job)
        assert int(slurm["global_step"]) == int(local["global_step"]) == 8
        assert max_diff(slurm, local) <= 1e-6, f"job {job}"


def check_the_requeues_are_recorded_in_the_run_and_it_stays_one_run(sweeps):
    for job, requeues in zip(("0", "1", "2"), REQUEUES, strict=True):
        run = sweeps["slurm"] / job
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["requeues"] == requeues, f"job {job}"
        assert "requeues" not in json.loads((sweeps["local"] / job / "metrics.json").read_text())
        # every attempt logged to the run's one W&B run
        wandb_id = json.loads((run / "run.json").read_text())["wandb_id"]
        attempts = sorted((run / "wandb").glob("offline-run-*"))
        assert len(attempts) == requeues + 1, f"job {job}: {attempts}"
        assert all(p.name.endswith(f"-{wandb_id}") for p in attempts), f"job {job}: {attempts}"
    # the requeued attempts wrote into their own folders: no other run folder appeared
    assert sorted(p.name for p in sweeps["slurm"].iterdir() if p.is_dir()) == [
        ".submitit",
        "0",
        "1",
        "2",
    ]
    logs = {p.name: p.read_text() for p in (sweeps["slurm"] / ".submitit").rglob("*_log.out")}
    text = "\n".join(logs.values())
    assert "stopped by SIGTERM" in text and "stopped by SIGUSR1" in text
    assert "requeued SLURM job" in text  # the time-limit warning: the job requeued itself


def check_the_jobs_were_submitted_for_a_cpu_with_the_time_limit_warning(sweeps):
    scripts = list((sweeps["slurm"] / ".submitit").rglob("*_submission.sh"))
    assert scripts
    text = scripts[0].read_text()
    assert re.search(r"#SBATCH --signal=USR1@\d+", text)
    assert "gpus" not in text  # trainer.accelerator=cpu asks for no GPU
    assert "#SBATCH --partition=debug" in text and "#SBATCH --time=5" in text


def check_configs_scores_and_report_equal_the_local_sweeps(sweeps):
    for job in ("0", "1", "2"):
        configs = [(sweeps[k] / job / ".hydra" / "config.yaml").read_text() for k in sweeps]
        assert configs[0] == configs[1], f"job {job}"
        slurm, local = (json.loads((sweeps[k] / job / "metrics.json").read_text()) for k in sweeps)
        numbers = {k for k, v in local.items() if isinstance(v, float) and k not in NOT_SCORES}
        assert numbers >= {"test/psnr_last", "test/psnr_best", "val/psnr_best", "train/loss"}
        # every score; the learning rate is logged at an epoch's start, which a job resumed
        # inside its last epoch does not see again
        scores = {k for k in numbers if k.split("/")[0] in ("val", "test", "input")}
        assert scores <= slurm.keys(), f"job {job}: {sorted(scores - slurm.keys())}"
        for key in numbers & slurm.keys():
            assert abs(slurm[key] - local[key]) <= 1e-6, f"job {job}: {key}"
    summaries = [report([sweeps[k]]) for k in sweeps]
    assert summaries[0]["rows"] == summaries[1]["rows"] == 3
    assert table_rows(sweeps["slurm"]) == table_rows(sweeps["local"])


def check_the_completion_log_shows_each_attempt(sweeps, slurm_cluster):
    # the array's task folders are named <array id>_<task>; .submitit holds other entries too
    # (submitit's .submission_file_<uuid>.sh), in an order that depends on the file system
    folders = (p.name for p in (sweeps["slurm"] / ".submitit").iterdir() if p.is_dir())
    arrays = {m.group(1) for name in folders if (m := re.fullmatch(r"(\d+)_\d+", name))}
    assert len(arrays) == 1, arrays
    array = arrays.pop()
    lines = [ln for ln in slurm_cluster.jobcomp() if f"ArrayJobId={array} " in ln]
    states: dict[str, list[str]] = {}
    for line in lines:
        task = re.search(r"ArrayTaskId=(\d+)", line).group(1)
        states.setdefault(task, []).append(re.search(r"JobState=(\w+)", line).group(1))
    # a requeued attempt is logged in the state it was requeued from (PENDING); job 2's kill
    # leaves a FAILED attempt, and requeueing the failed job adds its own PENDING line
    assert states == {
        "0": ["COMPLETED"],
        "1": ["PENDING", "PENDING", "COMPLETED"],
        "2": ["FAILED", "PENDING", "COMPLETED"],
    }


def test_a_sweep_through_slurm_survives_preemption_and_equals_the_local_sweep(
    sweeps, slurm_cluster
):
    """One test, so that the sweeps are made once: split over two pytest workers, the module's
    fixture ran twice at once on the one-node cluster, and the two sweeps got in each other's way."""
    check_each_job_ends_with_the_weights_of_the_uninterrupted_local_run(sweeps)
    check_the_requeues_are_recorded_in_the_run_and_it_stays_one_run(sweeps)
    check_the_jobs_were_submitted_for_a_cpu_with_the_time_limit_warning(sweeps)
    check_configs_scores_and_report_equal_the_local_sweeps(sweeps)
    check_the_completion_log_shows_each_attempt(sweeps, slurm_cluster)
