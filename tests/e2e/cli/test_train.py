"""deblurlab-train as a user starts it: a bad value is one line and exit status 2."""

from __future__ import annotations

from fixtures.config import run_cli


def test_command_line_reports_a_bad_config_key_in_one_line_and_exits_non_zero(tmp_path):
    result = run_cli("cli.train", "data.crop_size=-3", "logger=none", root=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: data.crop_size must be a positive integer, got -3"
    )
