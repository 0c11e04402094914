"""A Hydra multirun as a user starts it: the Table-3 fusion ablation as three jobs, then its report."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from deblurlab.report import report
from fixtures.config import TINY_NET, run_cli
from fixtures.datasets import make_gopro

TINY_MIMO = TINY_NET["mimo_unet"]


@pytest.mark.slow
def test_ablation_table3_runs_as_a_three_job_multirun_and_the_report_shows_it(tmp_path):
    command = ["-m", "experiment=ablation_table3"]
    command += ["debug=smoke", "logger=csv", "trainer.limit_train_batches=1"]
    command += ["schedule.max_epochs=1", f"data.root={make_gopro(tmp_path / 'gopro')}", *TINY_MIMO]
    result = run_cli("cli.train", *command, root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    (sweep_dir,) = (tmp_path / "experiments" / "runs" / "train" / "multirun").glob("*/*")
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1", "2"]
    fusions = [OmegaConf.load(j / ".hydra" / "config.yaml").model.net.fusion for j in jobs]
    assert fusions == ["concat", "sum", "fam"]

    summary = report([sweep_dir])
    assert summary["runs"] == summary["rows"] == summary["points"] == 3
    markdown = (sweep_dir / "report.md").read_text()
    assert "## ablation_table3: Table 3" in markdown
    for job, (label, paper_psnr) in zip(
        jobs, [("Concat.", "31.66"), ("Element-wise sum", "31.60"), ("FAM", "31.73")], strict=True
    ):
        metrics = json.loads((job / "metrics.json").read_text())
        line = next(row for row in markdown.splitlines() if row.startswith(f"| {label} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == "gopro: gopro (test)"  # data: protocol (split)
        assert cells[2] == f"{metrics['test/psnr_last']:.2f}" and cells[3] == paper_psnr
        assert cells[5] == f"{metrics['test/psnr_best']:.2f}"  # the best-by-val model beside
        assert cells[6] == f"{metrics['test/ssim_matlab_last']:.4f}"  # the papers' SSIM
        assert cells[11] == f"{metrics['test_macs'] / 1e9:.1f}"
    # each column against Concat. with a paired interval, and the gains by blur strength
    assert "### Each row against the baseline (Concat.)" in markdown
    assert "### Gain over the blurry input by blur strength" in markdown
    png = sweep_dir / "psnr_vs_runtime.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
