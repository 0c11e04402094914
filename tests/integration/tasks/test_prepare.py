"""deblurlab-prepare: scans, decodes every image once, builds the cache; one-line errors, exit 2."""

from __future__ import annotations

import pytest

from deblurlab.data import DecodedCache
from deblurlab.run.task import run_task
from deblurlab.tasks.prepare import prepare
from fixtures.config import compose_config
from fixtures.datasets import make_folder, make_gopro, make_hide


def config(tmp_path, *overrides: str):
    return compose_config("prepare", list(overrides), tmp_path / "out")


def test_prepare_builds_the_cache_then_has_nothing_left_to_do(tmp_path, capsys):
    root = make_gopro(tmp_path / "gopro", num_train=3, num_test=2)
    cfg = config(tmp_path, "data=gopro", f"data.root={root}", "data.crop_size=32")
    summary = prepare(cfg)
    assert summary["train"] == {"pairs": 3, "published": 2103, "decoded": 6}
    assert summary["test"]["decoded"] == 4
    out = capsys.readouterr().out
    assert "train: 3 pairs (published: 2103), all images readable" in out
    assert f"cache: {root / 'deblurlab_cache'}" in out
    paths = [p for p in root.rglob("*.png") if "blur_gamma" not in p.parts]
    assert len(DecodedCache(root).lookup(paths)) == 10
    assert prepare(cfg)["train"]["decoded"] == 0  # up to date: nothing decoded again


def test_prepare_hide_scans_only_its_test_split_into_a_chosen_cache_dir(tmp_path):
    root = make_hide(tmp_path / "hide", num_close=1, num_long=2)
    cache_dir = tmp_path / "elsewhere"
    summary = prepare(
        config(tmp_path, "data=hide", f"data.root={root}", f"data.source.cache_dir={cache_dir}")
    )
    assert "train" not in summary and summary["test"]["pairs"] == 3
    assert (cache_dir / "manifest.json").is_file() and not (root / "deblurlab_cache").exists()


def test_prepare_without_cache_still_decodes_everything(tmp_path):
    root = make_folder(tmp_path / "pairs", num_train=2, num_test=1)
    bad = root / "test" / "sharp" / "img_000.png"
    data = bytearray(bad.read_bytes())
    data[60:-20] = bytes(len(data) - 80)  # intact header and end marker: only decoding sees it
    bad.write_bytes(bytes(data))
    cfg = config(tmp_path, f"data.root={root}", "data.crop_size=32", "cache=false")
    with pytest.raises(Exception, match=r"img_000\.png: not a readable image"):
        prepare(cfg)
    assert not (root / "deblurlab_cache").exists()


def test_prepare_reports_bad_data_in_one_line_and_exits_2(tmp_path, capsys):
    root = make_folder(tmp_path / "pairs", num_train=2, num_test=1)
    (root / "train" / "sharp" / "img_001.png").unlink()
    with pytest.raises(SystemExit) as exit_info:
        run_task(prepare, config(tmp_path, f"data.root={root}", "data.crop_size=32"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: 1 blurry image in")
    assert err[0].endswith("img_001.png")


def test_prepare_refuses_the_synthetic_data(tmp_path):
    with pytest.raises(Exception, match="deblurlab-prepare works on image datasets"):
        prepare(config(tmp_path, "data=synthetic"))
