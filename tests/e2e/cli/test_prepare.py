"""deblurlab-prepare verify=true as a user starts it: pair counts against the published ones."""

from __future__ import annotations

import pytest

import deblurlab.tasks.prepare as prepare_task
from deblurlab.errors import ConfigError
from deblurlab.tasks.prepare import prepare
from fixtures.config import compose_config, run_cli
from fixtures.datasets import make_folder, make_gopro


def config(tmp_path, *overrides: str):
    return compose_config("prepare", list(overrides), tmp_path / "run")


def test_verify_counts_pairs_against_the_published_counts(tmp_path, monkeypatch, capsys):
    root = make_gopro(tmp_path / "gopro", num_train=3, num_test=2)
    # a partial download: 3 and 2 pairs where 2103 and 1111 are published -> one line, exit 2
    result = run_cli("cli.prepare", "data=gopro", f"data.root={root}", "verify=true", root=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {root}: train has 3 pairs, published 2103; test has 2 pairs, published 1111 "
        "(incomplete download?)"
    )
    assert "train: 3 pairs, published 2103: MISMATCH" in result.stdout
    assert not (root / "deblurlab_cache").exists()  # verify decodes and caches nothing
    # the same folder passes when the published counts are what is on disk
    monkeypatch.setitem(prepare_task.KNOWN_COUNTS, ("gopro", "train"), 3)
    monkeypatch.setitem(prepare_task.KNOWN_COUNTS, ("gopro", "test"), 2)
    summary = prepare(config(tmp_path, "data=gopro", f"data.root={root}", "verify=true"))
    assert summary["train"] == {"pairs": 3, "published": 3}
    assert "test : 2 pairs, published 2: ok" in capsys.readouterr().out
    folder = make_folder(tmp_path / "folder", num_train=2, num_test=1)
    with pytest.raises(ConfigError, match="no published pair counts"):
        prepare(config(tmp_path, "data=folder", f"data.root={folder}", "verify=true"))
