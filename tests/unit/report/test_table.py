"""The report's table as data: a paper's number withheld is a flagged cell, decided once per row,
and the markdown and HTML pages both show the flag and the notes from the same data."""

from __future__ import annotations

from typing import Any

from deblurlab.report.html import render_html
from deblurlab.report.markdown import render_markdown
from deblurlab.report.runs import RunResult
from deblurlab.report.table import COLUMNS, Cell, Mismatch, build_tables, row_cells

PAPER = {"row": "MIMO-UNet", "psnr": 31.73, "ssim": 0.951, "protocol": "gopro", "data": "gopro"}


def _run(**changes: Any) -> RunResult:
    values: dict[str, Any] = dict(
        path="/runs/0",
        kind="train",
        group="g",
        label="MIMO-UNet",
        protocol="gopro",
        split="test",
        psnr=31.0,
        ssim=0.95,
        params=6_800_000,
        macs=None,
        runtime_s=0.5,
        device="cpu",
        seed=1,
        paper=PAPER,
        data="gopro",
    )
    return RunResult(**{**values, **changes})


def test_a_comparable_row_sets_the_papers_numbers_beside_ours():
    (table,) = build_tables([_run(), _run(psnr=32.0, seed=2)])
    (row,) = table.rows
    assert row.comparable and row.mismatches == []
    cells = row_cells(row)
    assert len(cells) == len(COLUMNS) and not any(c.refused for c in cells)
    assert [c.text for c in cells[2:5]] == ["31.50 ± 0.71", "31.73", "-0.23"]
    assert cells[-1] == Cell("2")


def test_a_row_scored_under_another_protocol_refuses_the_papers_psnr_and_ssim():
    (table,) = build_tables([_run(protocol="realblur")])
    (row,) = table.rows
    assert row.mismatches == [Mismatch("protocol", "realblur", "gopro")]
    cells = row_cells(row)
    refused = Cell("not comparable: paper used gopro", refused=True)
    assert (cells[3], cells[7]) == (refused, refused)
    assert cells[4] == Cell("–")  # no difference to a number withheld
    assert [c.refused for c in cells].count(True) == 2


def test_other_data_and_another_protocol_are_both_noted_and_the_cell_names_the_protocol():
    (table,) = build_tables([_run(protocol="realblur", data="synthetic")])
    assert [m.setting for m in table.rows[0].mismatches] == ["protocol", "data"]
    assert row_cells(table.rows[0])[3].text == "not comparable: paper used gopro"
    (other_data,) = build_tables([_run(data="synthetic")])
    assert row_cells(other_data.rows[0])[3].text == "not comparable: paper used data=gopro"
    notes = ["".join(s.text for s in note) for note in table.notes()]
    assert any(
        n.startswith("Protocol mismatch: MIMO-UNet was scored under realblur") for n in notes
    )
    assert any(n.startswith("Data mismatch: MIMO-UNet was scored on data=synthetic") for n in notes)


def test_a_paper_row_without_numbers_compares_with_nothing():
    (table,) = build_tables([_run(protocol="realblur", paper={"row": "x", "protocol": "gopro"})])
    assert table.rows[0].comparable


def test_markdown_and_html_both_show_a_refused_cell_and_its_note():
    tables = build_tables([_run(protocol="realblur", label="A"), _run(label="B", group="h")])
    markdown = render_markdown(tables, [])
    line = next(ln for ln in markdown.splitlines() if ln.startswith("| A |"))
    assert line.split(" | ")[3] == "**not comparable: paper used gopro**"
    assert "**Protocol mismatch**: A was scored under `realblur`" in markdown
    assert markdown.count("**not comparable") == 2  # PSNR and SSIM of row A only

    page = render_html(tables)
    assert page.count("<td><b>not comparable: paper used gopro</b></td>") == 2
    assert "<b>Protocol mismatch</b>: A was scored under <code>realblur</code>" in page
    assert "**" not in page and "`" not in page
    assert "<td>31.73</td>" in page  # row B keeps the paper's number


def test_html_escapes_what_runs_are_named():
    page = render_html(build_tables([_run(label="<script>x</script>")]))
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_the_report_sets_matlab_ssim_beside_the_paper_under_the_protocols_that_report_it():
    from deblurlab.metrics import MATLAB_SSIM_PROTOCOLS
    from deblurlab.report.table import MATLAB_SSIM_PROTOCOLS as REPORTED

    assert REPORTED == MATLAB_SSIM_PROTOCOLS  # the report cannot import the metrics (torch)
    (gopro,) = build_tables([_run(ssim_matlab=0.96)])
    assert [c.text for c in row_cells(gopro.rows[0])[6:9]] == ["0.9600", "0.951", "0.9500"]
    (realblur,) = build_tables([_run(protocol="realblur", paper={}, ssim_matlab=0.96)])
    assert row_cells(realblur.rows[0])[6].text == "0.9500"
