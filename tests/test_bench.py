"""deblurlab-bench: every section runs (smoke-sized with --quick) and prints markdown tables."""

from __future__ import annotations

from deblurlab.benchmarks import Table
from deblurlab.cli.bench import SECTIONS, main


def test_table_renders_markdown_with_a_note():
    table = Table("T", ["name", "seconds"], [["a", 0.12345], ["b", 1234.5]], note="read the ratios")
    assert table.render().splitlines() == [
        "### T",
        "",
        "| name | seconds |",
        "|---|---|",
        "| a | 0.123 |",
        "| b | 1,234 |",
        "",
        "read the ratios",
    ]


def test_every_section_runs_quick_and_prints_its_tables(capsys):
    main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    assert "section not available" not in out
    for title in ("Forward pass", "Training step", "crops per second", "Tiled"):
        assert title.lower() in out.lower(), title
    assert len(SECTIONS) == 3
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 10
