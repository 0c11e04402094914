"""A sweep that cannot go to the cluster is refused before anything is submitted, in one line
naming what to change: an unreachable controller, a partition that does not exist, a time limit
above the partition's, a time-limit warning that would come before the job could start."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]

SWEEP = ["-m", "experiment=ablation_table3", "launcher=slurm", "debug=smoke", "data=synthetic"]
CPU = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]


def refused(result, sweep: Path) -> str:
    """The single error line of a refused sweep (exit status 2, no job submitted)."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not (sweep / ".submitit").exists()
    return lines[0]


def test_an_unreachable_controller_is_one_line(slurm_cluster, tmp_path):
    # the cluster's own config with the controller on a port where nothing listens
    conf = tmp_path / "slurm.conf"
    text = (slurm_cluster.dir / "slurm.conf").read_text()
    conf.write_text(
        "\n".join(
            "SlurmctldPort=6899" if line.startswith("SlurmctldPort=") else line
            for line in text.splitlines()
        )
    )
    sweep = tmp_path / "sweep"
    result = slurm_cluster.train(
        *SWEEP, *CPU, f"hydra.sweep.dir={sweep}", root=tmp_path, env={"SLURM_CONF": str(conf)}
    )
    line = refused(result, sweep)
    assert "launcher=slurm: the SLURM controller is unreachable" in line


def test_a_partition_that_does_not_exist_is_named(slurm_cluster, tmp_path):
    sweep = tmp_path / "sweep"
    result = slurm_cluster.train(
        *SWEEP, *CPU, "hydra.launcher.partition=gpu_a100", f"hydra.sweep.dir={sweep}", root=tmp_path
    )
    line = refused(result, sweep)
    assert "hydra.launcher.partition=gpu_a100: no such partition" in line
    assert "(partitions: debug, urgent)" in line


def test_a_time_limit_above_the_partitions_is_named(slurm_cluster, tmp_path):
    # the config's default (a day) is above the test partition's 10 minutes
    sweep = tmp_path / "sweep"
    result = slurm_cluster.train(*SWEEP, *CPU, f"hydra.sweep.dir={sweep}", root=tmp_path)
    line = refused(result, sweep)
    assert "hydra.launcher.timeout_min=1440: above the time limit of partition debug" in line


def test_a_warning_too_close_to_the_start_is_named(slurm_cluster, tmp_path):
    # SIGUSR1 180 s (the default) before a 5-minute limit: it would come while the job starts
    sweep = tmp_path / "sweep"
    result = slurm_cluster.train(
        *SWEEP, *CPU, "hydra.launcher.timeout_min=5", f"hydra.sweep.dir={sweep}", root=tmp_path
    )
    line = refused(result, sweep)
    assert "hydra.launcher.signal_delay_s=180: the time-limit warning would come" in line
