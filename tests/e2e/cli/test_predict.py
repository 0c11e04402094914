"""deblurlab-predict as a user starts it: progress, skipped files, and where the results went."""

from __future__ import annotations

from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import run_cli
from fixtures.datasets import write_photos


def test_command_line_shows_progress_and_where_the_results_went(tmp_path):
    result = run_cli(
        "cli.predict",
        f"ckpt_path={tiny_checkpoint(tmp_path)}",
        f"input={write_photos(tmp_path / 'in')}",
        "tile=16",
        "overlap=8",
        "precision=bf16",
        f"hydra.run.dir={tmp_path / 'run'}",
        root=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "run" / "restored"  # the default output folder
    assert f"restored 4 of 5 images (1 skipped) -> {out}" in result.stdout
    assert "predict: 100%" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
