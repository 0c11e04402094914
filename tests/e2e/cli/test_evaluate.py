"""deblurlab-eval as a user starts it: tiles, self-ensemble and the RealBlur protocol from the command
line, a progress bar, and where the summary went."""

from __future__ import annotations

import json

from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import run_cli


def test_command_line_runs_with_tiles_ensemble_and_realblur(tmp_path):
    result = run_cli(
        "cli.evaluate",
        f"ckpt_path={tiny_checkpoint(tmp_path)}",
        "protocol=realblur",
        "tile=16",
        "overlap=8",
        "ensemble=rot4",
        f"hydra.run.dir={tmp_path / 'run'}",
        root=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "realblur protocol" in result.stdout and str(tmp_path / "run") in result.stdout
    assert "eval (realblur)" in result.stderr  # the progress bar
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["num_images"] == 2
