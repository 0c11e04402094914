"""deblurlab-report compares rows image by image (per_image.csv): each ablation row against its
baseline with a paired interval, Table 4's main effect of each component, the gain by blur
strength, and every pair of rows on the same images; markdown and report.html show the same.

The run folders are written by hand with per-image scores of known differences, so the cells
follow from the numbers; the Table-4 runs carry the real composed configs of the nine rows."""

from __future__ import annotations

import re

import numpy as np
import pytest
from omegaconf import OmegaConf

from deblurlab.report import report
from fixtures.config import compose_config
from fixtures.runs import train_metrics, write_image_scores, write_run

TABLE3 = {"concat": "Concat.", "sum": "Element-wise sum", "fam": "FAM"}
PAPER3 = {"Concat.": 31.66, "Element-wise sum": 31.60, "FAM": 31.73}
NAMES = [f"GOPR{i:04d}_{j:06d}.png" for i in range(4) for j in range(12)]  # 48 test images


def _base(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR of the baseline (spread over 8 dB: easy and hard images) and of the blurry
    inputs (5 dB below)."""
    base = np.random.default_rng(seed).uniform(24.0, 32.0, len(NAMES))
    return base, base - 5.0


def _scores(values: np.ndarray) -> dict[str, float]:
    return dict(zip(NAMES, map(float, values), strict=True))


def _section(markdown: str, title: str) -> list[list[str]]:
    """The cells of each line of the table under the heading ``title`` (each as many as the
    header's)."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(f" {title}"))
    header, rows = lines[start + 2].count("|"), []
    for line in lines[start + 4 :]:  # heading, blank line, header, rule
        if not line.startswith("|"):
            break
        assert line.count("|") == header, line
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _interval(cell: str) -> tuple[float, float, float, bool]:
    """(mean, low, high, bold) of ``+0.20 [+0.18, +0.22]``."""
    m = re.fullmatch(r"(\*\*)?([+-]\d+\.\d+) \[([+-]\d+\.\d+), ([+-]\d+\.\d+)\](\*\*)?", cell)
    assert m, cell
    return float(m[2]), float(m[3]), float(m[4]), bool(m[1])


def _table3(tmp_path, gains: dict[str, list[np.ndarray]]):
    """A Table-3 sweep: one run per (column, seed), ``gains[column][seed]`` dB over the baseline
    per image."""
    base, inputs = _base()
    job = 0
    for column, per_seed in gains.items():
        row = TABLE3[column]
        paper = {"source": "Cho et al.", "table": "Table 3", "row": row, "psnr": PAPER3[row]}
        paper |= {"data": "gopro", "baseline": "Concat."}
        for seed, gain in enumerate(per_seed, start=1):
            run = write_run(
                tmp_path / "sweep" / str(job),
                metrics=train_metrics(
                    float(np.mean(base + gain)), "ablation_table3", f"mimo_unet {column}"
                ),
                config={"seed": seed, "paper": paper},
                choices={"data": "gopro"},
            )
            write_image_scores(run, _scores(base + gain), _scores(inputs))
            job += 1
    return base, inputs


def test_each_table3_column_is_set_against_concat_with_a_paired_interval(tmp_path):
    rng = np.random.default_rng(1)
    n = len(NAMES)
    _table3(
        tmp_path,
        {
            "concat": [np.zeros(n)],
            "sum": [rng.normal(0.0, 0.03, n)],
            # two seeds, +0.1 and +0.3 dB: the row averages them per image (+0.2)
            "fam": [0.1 + rng.normal(0.0, 0.03, n), 0.3 + rng.normal(0.0, 0.03, n)],
        },
    )
    summary = report([tmp_path / "sweep"], tmp_path / "out")
    assert summary["rows"] == 3
    markdown = (tmp_path / "out" / "report.md").read_text()
    rows = {r[0]: r for r in _section(markdown, "Each row against the baseline (Concat.)")}
    assert set(rows) == {"Element-wise sum", "FAM"}  # the baseline is not set against itself

    mean, low, high, bold = _interval(rows["FAM"][1])
    assert low <= 0.2 <= high and low > 0.15 and bold and mean == pytest.approx(0.2, abs=0.02)
    assert rows["FAM"][2:] == ["100%", "48", "+0.07"]  # improved, images, the paper's Δ

    mean, low, high, bold = _interval(rows["Element-wise sum"][1])
    assert low <= 0.0 <= high and high - low < 0.03 and not bold
    assert rows["Element-wise sum"][4] == "-0.06"

    pairs = {
        r[0]: r
        for r in _section(markdown, "Paired differences between rows scored on the same images")
    }
    assert set(pairs) == {
        "Element-wise sum − Concat.",
        "FAM − Concat.",
        "FAM − Element-wise sum",
    }
    assert pairs["FAM − Concat."][1] == "gopro: gopro (test)"
    assert _interval(pairs["FAM − Concat."][2])[:3] == _interval(rows["FAM"][1])[:3]

    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h3>Each row against the baseline (Concat.)</h3>" in page
    assert f"<td><b>{rows['FAM'][1].strip('*')}</b></td>" in page
    assert "<h2>Paired differences between rows scored on the same images</h2>" in page
    assert "95% paired bootstrap interval (4000 resamples of the images, seed 0)" in page


def test_the_blur_strength_split_shows_where_a_column_helps(tmp_path):
    """FAM gains 0.4 dB on the most blurred quarter of the images and nothing elsewhere."""
    base, inputs = _base()
    most_blurred = inputs <= np.quantile(inputs, 0.25)
    assert most_blurred.sum() == 12
    _table3(
        tmp_path,
        {"concat": [np.zeros(len(NAMES))], "fam": [np.where(most_blurred, 0.4, 0.0)]},
    )
    report([tmp_path / "sweep"], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()

    gains = {r[0]: r for r in _section(markdown, "Gain over the blurry input by blur strength")}
    assert gains["Concat."][1:5] == ["+5.00 (n=12)"] * 4  # every input is 5 dB below
    assert gains["FAM"][1:5] == ["+5.40 (n=12)"] + ["+5.00 (n=12)"] * 3
    quartiles = np.sort(inputs).reshape(4, 12)
    head = next(line for line in markdown.splitlines() if line.startswith("| configuration | Q1"))
    ranges = [f"({q[0]:.1f}–{q[-1]:.1f} dB)" for q in quartiles]  # one test set: in the heads
    heads = ["Q1 most blurred", "Q2", "Q3", "Q4 least blurred"]
    assert [c.strip() for c in head.strip("|").split("|")[1:]] == [
        f"{q} {r}" for q, r in zip(heads, ranges, strict=True)
    ]

    (fam,) = _section(markdown, "Δ PSNR vs Concat. by blur strength [95% CI]")
    assert fam[0] == "FAM"
    assert _interval(fam[1]) == (0.4, 0.4, 0.4, True)
    assert [_interval(cell) for cell in fam[2:]] == [(0.0, 0.0, 0.0, False)] * 3
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h3>Δ PSNR vs Concat. by blur strength [95% CI]</h3>" in page
    assert "<td><b>+0.40 [+0.40, +0.40]</b></td>" in page


TABLE4 = [
    "baseline",
    "mise",
    "mosd",
    "aff",
    "mise_mosd",
    "mosd_aff",
    "mise_aff",
    "mise_mosd_aff",
    "mise_mosd_aff_msfr",
]


def test_table4_gives_each_components_main_effect_over_the_grid(tmp_path):
    """Only MISE matters here (+0.3 dB on every image). Its main effect is exactly +0.3; the
    others' are what the paper's unbalanced grid makes of MISE: rows with MOSD or AFF on have
    MISE on in 3 of 5, rows with them off in 2 of 4 (+0.03); MSFR's one row has it on, its eight
    off rows in 4 of 8 (+0.15)."""
    base, inputs = _base()
    papers = {}
    for job, row in enumerate(TABLE4):
        cfg = compose_config("train", ["experiment=ablation_table4", f"ablation/table4={row}"])
        config = OmegaConf.to_container(cfg, resolve=False)
        config = {k: config[k] for k in ("seed", "paper", "model", "loss")}
        mise = bool(cfg.model.net.mise)
        papers[row] = (cfg.paper.psnr, cfg.model.net, cfg.loss.msfr_weight)
        run = write_run(
            tmp_path / "sweep" / str(job),
            metrics=train_metrics(float(np.mean(base)), "ablation_table4", f"mimo_unet {row}"),
            config=config,
            choices={"data": "gopro", "experiment": "ablation_table4"},
        )
        write_image_scores(run, _scores(base + 0.3 * mise), _scores(inputs))
    report([tmp_path / "sweep"], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()

    effects = {
        r[0]: r for r in _section(markdown, "Main effect of each component (gopro: gopro (test))")
    }
    assert list(effects) == ["MISE", "MOSD", "AFF", "MSFR"]
    assert _interval(effects["MISE"][1]) == (0.3, 0.3, 0.3, True)
    assert effects["MISE"][2:5] == ["100%", "48", "5 / 4"]
    assert _interval(effects["MOSD"][1])[:3] == (0.03, 0.03, 0.03)
    assert _interval(effects["AFF"][1])[:3] == (0.03, 0.03, 0.03)
    assert _interval(effects["MSFR"][1])[:3] == (0.15, 0.15, 0.15)
    assert effects["MSFR"][4] == "1 / 8"
    # rows that differ in one component alone: MISE's +0.3, nothing for the others
    assert _interval(effects["MISE"][5]) == (0.3, 0.3, 0.3, True)
    assert [effects[c][6] for c in effects] == ["4", "4", "4", "1"]
    for component in ("MOSD", "AFF", "MSFR"):
        assert _interval(effects[component][5]) == (0.0, 0.0, 0.0, False)
    on = [p for p, net, _ in papers.values() if net.mise]
    off = [p for p, net, _ in papers.values() if not net.mise]
    assert effects["MISE"][7] == f"{np.mean(on) - np.mean(off):+.2f}"

    rows = {r[0]: r for r in _section(markdown, "Each row against the baseline (baseline (none))")}
    assert len(rows) == 8
    assert _interval(rows["MISE"][1])[:3] == (0.3, 0.3, 0.3)
    assert _interval(rows["MOSD"][1])[:3] == (0.0, 0.0, 0.0)
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h3>Main effect of each component (gopro: gopro (test))</h3>" in page


def test_rows_without_per_image_scores_are_named_and_get_no_interval(tmp_path):
    _table3(tmp_path, {"concat": [np.zeros(len(NAMES))], "fam": [np.full(len(NAMES), 0.1)]})
    write_run(
        tmp_path / "sweep" / "9",
        metrics=train_metrics(30.0, "ablation_table3", "mimo_unet sum", old=True),
        config={"seed": 1, "paper": {"row": "Element-wise sum", "baseline": "Concat."}},
        choices={"data": "gopro"},
    )
    report([tmp_path / "sweep"], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    rows = _section(markdown, "Each row against the baseline (Concat.)")
    assert [r[0] for r in rows] == ["FAM", "Element-wise sum"]
    assert rows[1][1:4] == ["–", "–", "–"]
    assert "No per-image scores (per_image.csv) for Element-wise sum" in markdown


def test_a_sweep_rescored_on_other_data_keeps_its_columns_apart_and_their_baseline(tmp_path):
    """``deblurlab-eval sweep=... data=hide``: each column's evaluation is its own row (named
    with what changed), set against the baseline's evaluation on the same images, never
    against a run on other data."""
    base, inputs = _base()
    _table3(tmp_path, {"concat": [np.zeros(len(NAMES))], "fam": [np.full(len(NAMES), 0.1)]})
    for job, gain in ((0, 0.0), (1, 0.25)):
        ckpt = tmp_path / "sweep" / str(job) / "checkpoints" / "last.ckpt"
        summary = {"protocol": "gopro", "model": "mimo_unet", "checkpoint": str(ckpt)}
        summary |= {"split": "test", "psnr": 29.0 + gain, "ssim": 0.9, "ensemble": None}
        run = write_run(tmp_path / "hide" / str(job), summary=summary, choices={"data": "hide"})
        # the same file names as GoPro's (names alone do not tell data sets apart)
        write_image_scores(run, _scores(base + gain - 1), _scores(inputs))
    report([tmp_path / "sweep", tmp_path / "hide"], tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    title = "Each row against the baseline (Concat. / Concat. hide)"
    rows = {r[0]: r for r in _section(markdown, title)}
    assert set(rows) == {"FAM", "FAM hide"}
    assert _interval(rows["FAM"][1])[:3] == (0.1, 0.1, 0.1)
    assert _interval(rows["FAM hide"][1])[:3] == (0.25, 0.25, 0.25)
    assert "Evaluations (deblurlab-eval) score the checkpoint they name: `last.ckpt`" in markdown
    pairs = [
        r[0]
        for r in _section(markdown, "Paired differences between rows scored on the same images")
    ]
    assert pairs == ["FAM − Concat.", "FAM hide − Concat. hide"]


def test_the_command_line_sets_the_bootstrap_and_refuses_no_resamples(tmp_path, capsys):
    from deblurlab.cli.report import main

    rng = np.random.default_rng(2)
    _table3(tmp_path, {"concat": [np.zeros(len(NAMES))], "fam": [rng.normal(0.1, 0.2, 48)]})

    def fam(*options: str) -> str:
        main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), *options])
        markdown = (tmp_path / "out" / "report.md").read_text()
        return _section(markdown, "Each row against the baseline (Concat.)")[0][1]

    default = fam()
    assert fam("--seed", "0", "--resamples", "4000") == default  # reproducible
    few = fam("--resamples", "20")  # few resamples: the seed shows at two decimals
    assert few != default and fam("--resamples", "20", "--seed", "2") != few
    assert "(20 resamples of the images, seed 2)" in (tmp_path / "out" / "report.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "sweep"), "--resamples", "0"])
    assert exit_info.value.code == 2
    assert "--resamples must be >= 1, got 0" in capsys.readouterr().err
