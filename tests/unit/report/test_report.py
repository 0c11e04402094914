"""deblurlab-report reads run folders (metrics.json / summary.json + .hydra/) and writes the table
with the paper's numbers beside ours, one line per run in runs.csv, and the PSNR-vs-runtime plot.

The folders here are written by hand in the layout deblurlab-train and deblurlab-eval leave, so the
expected cells follow from known numbers (test_experiments.py runs the real thing end to end)."""

from __future__ import annotations

import csv

import pytest

from deblurlab.cli.report import main
from deblurlab.report import report
from fixtures.runs import train_metrics, write_run

PLUS_PAPER = {
    "source": "Cho et al., ICCV 2021",
    "table": "Table 1 (GoPro test)",
    "row": "MIMO-UNet+",
    "psnr": 32.45,
    "ssim": 0.957,
    "params_m": 16.1,
    "runtime_s": 0.017,
    "data": "gopro",
    "evaluations": {
        "rot4": {"row": "MIMO-UNet++", "psnr": 32.68, "ssim": 0.959, "runtime_s": 0.040},
        "hide": {"row": "MIMO-UNet+ on HIDE", "psnr": 29.99, "ssim": 0.930},
    },
}


def table_line(markdown: str, label: str) -> list[str]:
    line = next(row for row in markdown.splitlines() if row.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_seed_repeats_are_one_row_with_mean_and_standard_deviation(tmp_path):
    paper = {"source": "Cho et al.", "table": "Table 3", "row": "FAM", "psnr": 31.73}
    for job, (seed, psnr) in enumerate([(1, 30.0), (2, 31.0), (3, 32.0)]):
        write_run(
            tmp_path / str(job),
            metrics=train_metrics(psnr, "ablation_table3", f"mimo_unet table3=fam seed={seed}"),
            config={"seed": seed, "paper": paper},
        )
    other = {**paper, "row": "Concat.", "psnr": 31.66}
    write_run(
        tmp_path / "3",
        metrics=train_metrics(29.5, "ablation_table3", "mimo_unet table3=concat"),
        config={"seed": 1, "paper": other},
    )
    summary = report([tmp_path], tmp_path / "out")
    assert (summary["runs"], summary["rows"]) == (4, 2)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## ablation_table3: Table 3" in markdown
    fam = table_line(markdown, "FAM")
    assert fam[2:6] == ["31.00 ± 1.00", "31.73", "-0.73", "31.10 ± 1.00"]
    assert fam[9] == "6.81" and fam[11] == "63.7" and fam[-1] == "3"
    assert table_line(markdown, "Concat.")[2:5] == ["29.50", "31.66", "-2.16"]
    rows = list(csv.DictReader((tmp_path / "out" / "runs.csv").read_text().splitlines()))
    assert len(rows) == 4 and {r["paper_row"] for r in rows} == {"FAM", "Concat."}
    assert (tmp_path / "out" / "psnr_vs_runtime.png").stat().st_size > 1000


def test_runs_without_a_paper_row_are_named_by_model_and_overrides_without_the_seed(tmp_path):
    for job, seed in enumerate([1, 2]):
        write_run(
            tmp_path / str(job),
            metrics=train_metrics(30.0 + job, "sweep-x", f"mimo_unet lr=0.001 seed={seed}"),
            config={"seed": seed},
        )
    report([tmp_path])
    cells = table_line((tmp_path / "report.md").read_text(), "mimo_unet lr=0.001")
    assert cells[2] == "30.50 ± 0.71" and cells[3] == "–" and cells[-1] == "2"


def test_evaluations_of_a_trained_run_take_the_papers_numbers_for_what_they_changed(tmp_path):
    train_dir = write_run(
        tmp_path / "train" / "run",
        metrics=train_metrics(32.0, "mimo_unet_plus_gopro", "mimo_unet_plus"),
        config={"seed": 42, "paper": PLUS_PAPER, "model": {"ensemble": None}},
        choices={"data": "gopro", "experiment": "mimo_unet_plus_gopro"},
    )
    ckpt = str(train_dir / "checkpoints" / "best.ckpt")
    evaluation = {"protocol": "gopro", "model": "mimo_unet_plus", "checkpoint": ckpt}
    evaluation |= {"split": "test", "psnr": 29.0, "ssim": 0.91, "median_seconds": 0.7}
    write_run(
        tmp_path / "eval" / "hide",
        summary={**evaluation, "ensemble": None},
        choices={"data": "hide"},
    )
    write_run(
        tmp_path / "eval" / "rot4",
        summary={**evaluation, "ensemble": "rot4", "psnr": 32.2},
        choices={"data": None},
    )
    summary = report([tmp_path], tmp_path / "out")
    assert (summary["runs"], summary["rows"]) == (3, 3)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert markdown.count("## mimo_unet_plus_gopro") == 1  # evaluations join their run's table
    assert table_line(markdown, "MIMO-UNet+")[2:5] == ["32.00", "32.45", "-0.45"]
    hide = table_line(markdown, "MIMO-UNet+ on HIDE")
    assert hide[2:5] == ["29.00", "29.99", "-0.99"] and hide[11] == "63.7"
    ensemble = table_line(markdown, "MIMO-UNet++")
    assert ensemble[2:5] == ["32.20", "32.68", "-0.48"]
    assert ensemble[11] == f"{4 * 63.732842496:.1f}"  # four forward passes
    assert ensemble[12:14] == ["0.7000", "0.040"]


def test_unfinished_runs_are_listed_and_left_out(tmp_path):
    write_run(tmp_path / "0", metrics=train_metrics(30.0, "g", "mimo_unet"), config={})
    write_run(tmp_path / "1", config={})  # crashed before metrics.json
    report([tmp_path])
    markdown = (tmp_path / "report.md").read_text()
    assert "Unfinished runs (no metrics.json or summary.json), left out: 1" in markdown
    assert f"- {tmp_path / '1'}" in markdown


def test_the_folder_of_an_eval_sweep_is_not_an_unfinished_run(tmp_path):
    # deblurlab-eval sweep=: its own folder holds Hydra's record and sweep.json, its runs below
    write_run(tmp_path, config={})
    (tmp_path / "sweep.json").write_text("{}")
    write_run(tmp_path / "0", metrics=train_metrics(30.0, "g", "mimo_unet"), config={})
    report([tmp_path])
    assert "Unfinished" not in (tmp_path / "report.md").read_text()


def test_multirun_jobs_keep_their_numeric_order(tmp_path):
    for job in (2, 10, 1):
        write_run(
            tmp_path / str(job),
            metrics=train_metrics(30.0 + job, "g", f"mimo_unet job={job}"),
            config={},
        )
    report([tmp_path])
    labels = [
        line.split("|")[1].strip()
        for line in (tmp_path / "report.md").read_text().splitlines()
        if line.startswith("| mimo_unet")
    ]
    assert labels == ["mimo_unet job=1", "mimo_unet job=2", "mimo_unet job=10"]


@pytest.mark.parametrize("make", [lambda p: p.mkdir(), lambda p: None], ids=["empty", "missing"])
def test_the_command_line_reports_a_folder_without_runs_in_one_line(tmp_path, capsys, make):
    folder = tmp_path / "runs"
    make(folder)
    with pytest.raises(SystemExit) as exit_info:
        main([str(folder)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {folder}")


def test_a_number_scored_under_another_protocol_is_not_set_beside_the_papers(tmp_path):
    """The RealBlur-J rot4 row: scored under gopro, the paper's 32.05 is realblur's."""
    realblur_paper = {
        "protocol": "realblur",
        "source": "Cho et al.",
        "row": "MIMO-UNet+",
        "psnr": 31.92,
        "ssim": 0.919,
        "evaluations": {"rot4": {"row": "MIMO-UNet++", "psnr": 32.05, "ssim": 0.921}},
    }
    train_dir = write_run(
        tmp_path / "train" / "run",
        metrics={**train_metrics(31.5, "rbj", "mimo_unet_plus", old=True), "protocol": "realblur"}
        | {"selected_on": "test"},
        config={"seed": 42, "paper": realblur_paper, "model": {"ensemble": None}},
        choices={"data": "realblur_j", "experiment": "mimo_unet_plus_realblur_j"},
    )
    ckpt = str(train_dir / "checkpoints" / "best.ckpt")
    for protocol in ("gopro", "realblur"):
        write_run(
            tmp_path / "eval" / protocol,
            summary={"protocol": protocol, "model": "mimo_unet_plus", "checkpoint": ckpt}
            | {"split": "test", "psnr": 30.0, "ssim": 0.9, "ensemble": "rot4"},
            choices={"data": None},
        )
    report([tmp_path], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    lines = [line for line in markdown.splitlines() if line.startswith("| MIMO-UNet++ ")]
    gopro = next(line for line in lines if ": gopro (" in line).split(" | ")
    realblur = next(line for line in lines if ": realblur (" in line).split(" | ")
    assert realblur[3:5] == ["32.05", "-2.05"]
    assert gopro[3] == "**not comparable: paper used realblur**" and gopro[4] == "–"
    assert "**Protocol mismatch**: MIMO-UNet++ was scored under `gopro`" in markdown
    assert table_line(markdown, "MIMO-UNet+")[2:5] == ["31.50†", "31.92", "-0.42†"]
    assert "Best checkpoint selected on: test (test: the test set itself" in markdown


def test_a_paper_experiment_run_on_other_data_is_not_set_beside_the_papers(tmp_path):
    """``make sweep`` runs the Table-3 experiment on the built-in synthetic data: its numbers are
    not GoPro's, so the paper's column and the difference stay empty, and a note says why."""
    for job, (data, psnr) in enumerate([("synthetic", 24.0), ("gopro", 31.0)]):
        write_run(
            tmp_path / data,
            metrics=train_metrics(psnr, f"on {data}", f"mimo_unet_plus {data}"),
            config={"seed": job, "paper": PLUS_PAPER},
            choices={"data": data},
        )
    report([tmp_path], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    synthetic, gopro = (
        next(line for line in markdown.splitlines() if f"| {data}: gopro (test) |" in line)
        for data in ("synthetic", "gopro")
    )
    assert synthetic.split(" | ")[3:5] == ["**not comparable: paper used data=gopro**", "–"]
    assert gopro.split(" | ")[3:5] == ["32.45", "-1.45"]
    assert "**Data mismatch**: MIMO-UNet+ was scored on `data=synthetic`" in markdown
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<b>not comparable: paper used data=gopro</b>" in page and "**" not in page


def test_the_final_model_is_the_headline_the_best_is_beside_it_and_older_runs_are_marked(
    tmp_path,
):
    """A run that tested both models shows the final one beside the paper (as the papers report)
    and the best-by-validation one beside it; an older run (one ``test/psnr``, of its best
    checkpoint) is marked. Under gopro the SSIM beside the paper's is MATLAB's."""
    for name, old in (("new", False), ("old", True)):
        write_run(
            tmp_path / name,
            metrics=train_metrics(
                31.0 if name == "new" else 30.0, "g", name, old=old, selected_on="val"
            ),
            config={"seed": 1, "paper": {**PLUS_PAPER, "row": f"MIMO-UNet+ {name}"}},
            choices={"data": "gopro"},
        )
    write_run(
        tmp_path / "realblur",
        metrics={**train_metrics(29.0, "r", "rb"), "protocol": "realblur"},
        config={"seed": 1},
        choices={"data": "realblur_j"},
    )
    report([tmp_path], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    new = table_line(markdown, "MIMO-UNet+ new")
    # PSNR, paper, Δ, best, SSIM (MATLAB's), SSIM paper, SSIM per-channel
    assert new[2:9] == ["31.00", "32.45", "-1.45", "31.10", "0.9100", "0.957", "0.9000"]
    old = table_line(markdown, "MIMO-UNet+ old")
    assert old[2:9] == ["30.00†", "32.45", "-2.45†", "30.00", "–", "0.957", "0.9000"]
    assert "data.val_from_train): MIMO-UNet+ new: val/psnr=31.00 at epoch 3." in markdown
    assert "Best checkpoint selected on: val (" not in markdown  # said once, by the note above
    assert "† an older run that tested one checkpoint only (`test/psnr`), its best" in markdown
    assert "**SSIM** (beside the paper's) under `gopro`: MATLAB's 3-D SSIM" in markdown
    realblur = table_line(markdown, "rb")
    assert realblur[6] == "0.9000"  # realblur's own SSIM, not a MATLAB one
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<td>31.10</td><td>0.9100</td><td>0.957</td><td>0.9000</td>" in page
    assert "<th>PSNR best-by-val</th>" in page and "<th>SSIM per-channel</th>" in page
    rows = {
        r["path"].rsplit("/", 1)[-1]: r
        for r in csv.DictReader((tmp_path / "out" / "runs.csv").read_text().splitlines())
    }
    assert (rows["new"]["tested"], rows["old"]["tested"]) == ("last", "tested")
    assert rows["new"]["ssim_matlab"] == "0.91" and rows["new"]["psnr_best"] == "31.1"
