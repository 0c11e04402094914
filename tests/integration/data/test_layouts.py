"""Dataset layouts on tiny generated folders: discovery, pairing, splits, counts, configs, training."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from deblurlab.data import DeblurDataModule, PairedFolderSource
from deblurlab.data.layouts import KNOWN_COUNTS
from deblurlab.errors import ConfigError, DataError
from deblurlab.tasks.train import train
from fixtures.config import compose_config, tiny
from fixtures.datasets import fake_pair, make_folder, make_gopro, make_hide, make_realblur

# image layouts have no synthetic-source keys
TINY_IMAGES = tiny(source=False)


def source(root: Path, layout: str, **kwargs) -> PairedFolderSource:
    return PairedFolderSource(root=str(root), layout=layout, **kwargs)


def first_item(src: PairedFolderSource, split: str):
    src.preflight([split])
    return getattr(src, f"{split}_dataset")()[0]


def test_gopro_original_layout_pairs_frames_by_sequence(tmp_path):
    src = source(make_gopro(tmp_path, num_train=4, num_test=3), "gopro")
    train = src.pairs("train")
    assert [p.name for p in train] == [
        "GOPR0372_07_00_000001",
        "GOPR0372_07_00_000002",
        "GOPR0374_11_00_000001",
        "GOPR0378_13_00_000001",
    ]
    assert len(src.pairs("test")) == 3
    for pair in train:
        assert pair.blurry.parent.name == "blur" and pair.sharp.parent.name == "sharp"
        assert pair.blurry.parent.parent == pair.sharp.parent.parent
    blurry, sharp, name = first_item(src, "train")
    expected_blurry, expected_sharp = fake_pair(0)  # the generator's pair 0 is frame 1 of GOPR0372
    np.testing.assert_array_equal(blurry, expected_blurry)
    np.testing.assert_array_equal(sharp, expected_sharp)
    assert blurry.dtype == np.uint8 and name == "GOPR0372_07_00_000001"


def test_gopro_flattened_layout_gives_the_same_names_and_pixels(tmp_path):
    original = source(make_gopro(tmp_path / "a"), "gopro")
    flat = source(make_gopro(tmp_path / "b", original_layout=False), "gopro")
    for split in ("train", "test"):
        assert [p.name for p in original.pairs(split)] == [p.name for p in flat.pairs(split)]
    a, b = first_item(original, "test"), first_item(flat, "test")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_gopro_variant_selects_blur_gamma_and_root_may_contain_gopro_large(tmp_path):
    make_gopro(tmp_path / "GOPRO_Large")
    gamma = source(tmp_path, "gopro", variant="blur_gamma")  # the parent of GOPRO_Large
    blurry, sharp, _ = first_item(gamma, "train")
    expected_gamma = fake_pair(0, gamma=True)[0]
    np.testing.assert_array_equal(blurry, expected_gamma)
    assert not np.array_equal(blurry, fake_pair(0)[0])
    np.testing.assert_array_equal(sharp, fake_pair(0)[1])
    assert all(p.blurry.parent.name == "blur_gamma" for p in gamma.pairs("train"))
    assert "blur_gamma" in gamma.describe()


def test_flattened_gopro_without_blur_gamma_names_the_missing_folder(tmp_path):
    root = make_gopro(tmp_path, original_layout=False)
    with pytest.raises(DataError, match=r"train[/\\]blur_gamma: folder not found"):
        source(root, "gopro", variant="blur_gamma").pairs("train")


@pytest.mark.parametrize("variant", ["J", "R"])
def test_realblur_reads_its_list_files_ground_truth_first(tmp_path, variant):
    root = make_realblur(tmp_path, num_train=4, num_test=3)
    src = source(root, f"realblur_{variant.lower()}")
    assert len(src.pairs("train")) == 4 and len(src.pairs("test")) == 3
    first = src.pairs("train")[0]
    assert first.name == "scene001_blur_blur_1"
    assert f"RealBlur-{variant}_" in str(first.blurry) and first.sharp.name == "gt_1.png"
    blurry, sharp, _ = first_item(src, "train")
    offset = 0 if variant == "J" else 10_000
    expected_blurry, expected_sharp = fake_pair(offset, (45, 61))
    np.testing.assert_array_equal(blurry, expected_blurry)  # not swapped with the ground truth
    np.testing.assert_array_equal(sharp, expected_sharp)
    sizes = {first_item(src, "test")[0].shape, src.test_dataset()[1][0].shape}
    assert len(sizes) == 2  # RealBlur sizes vary from pair to pair


def test_hide_pairs_every_test_image_with_gt_and_refuses_training(tmp_path):
    src = source(make_hide(tmp_path, num_close=2, num_long=3, num_train=2), "hide")
    test = src.pairs("test")
    assert len(test) == 5  # GT/ also holds the training images' partners: not required here
    assert {p.blurry.parent.name for p in test} == {"test-close-ups", "test-long-shot"}
    assert all(p.sharp.parent.name == "GT" and p.sharp.name == p.blurry.name for p in test)
    assert [p.name for p in src.pairs("val")] == [p.name for p in test]
    np.testing.assert_array_equal(first_item(src, "test")[1], fake_pair(1000)[1])
    with pytest.raises(ConfigError, match="data=hide has no training split"):
        DeblurDataModule(src, crop_size=32).setup("fit")


def test_folder_layout_uses_val_folder_when_present_else_the_test_set(tmp_path):
    root = make_folder(tmp_path, num_train=3, num_test=4)
    src = source(root, "folder")
    assert [p.name for p in src.pairs("val")] == [p.name for p in src.pairs("test")]
    make_folder(tmp_path / "v", num_train=2, num_test=0)
    (tmp_path / "v" / "train").rename(root / "val")
    with_val = source(root, "folder")
    assert len(with_val.pairs("val")) == 2
    assert all(p.blurry.parts[-3] == "val" for p in with_val.pairs("val"))


def test_folder_pairs_match_by_name_across_formats(tmp_path):
    root = make_folder(tmp_path, num_train=2, num_test=1, suffix=".jpg")
    for sharp in (root / "train" / "sharp").iterdir():  # sharp as PNG, blurry as JPEG
        from fixtures.datasets import write_png

        write_png(sharp.with_suffix(".png"), fake_pair(0)[1])
        sharp.unlink()
    pairs = source(root, "folder").pairs("train")
    assert [(p.blurry.suffix, p.sharp.suffix) for p in pairs] == [(".jpg", ".png")] * 2


def test_non_image_and_hidden_files_are_ignored(tmp_path):
    root = make_folder(tmp_path, num_train=2, num_test=1)
    (root / "train" / "blur" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "train" / "blur" / "._img_000.png").write_bytes(b"resource fork")
    (root / "train" / "sharp" / "notes.txt").write_text("shot on a tripod")
    src = source(root, "folder")
    src.preflight(["train"])
    assert [p.name for p in src.pairs("train")] == ["img_000", "img_001"]


def test_val_limit_takes_test_pairs_evenly_spread(tmp_path):
    src = source(make_gopro(tmp_path, num_train=1, num_test=9), "gopro", val_limit=3)
    test = [p.name for p in src.pairs("test")]
    assert [p.name for p in src.pairs("val")] == [test[0], test[4], test[8]]


def test_pair_counts_are_compared_with_the_published_ones(tmp_path, caplog, monkeypatch):
    src = source(make_gopro(tmp_path, num_train=4), "gopro")
    with caplog.at_level(logging.INFO):
        src.pairs("train")
    assert "found 4 train pairs" in caplog.text and "has 2103" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    caplog.clear()
    monkeypatch.setitem(KNOWN_COUNTS, ("gopro", "train"), 4)
    with caplog.at_level(logging.INFO):
        source(tmp_path, "gopro").pairs("train")
    assert "found 4 train pairs" in caplog.text
    assert not any(r.levelno == logging.WARNING for r in caplog.records)


def test_building_touches_no_disk_and_setup_names_the_problem(tmp_path):
    missing = tmp_path / "nowhere"
    dm = DeblurDataModule(source(missing, "folder"), crop_size=32)  # nothing is read here
    with pytest.raises(DataError, match=r"nowhere[/\\]train[/\\]blur: folder not found"):
        dm.setup("fit")
    with pytest.raises(ConfigError, match="data.root is not set"):
        DeblurDataModule(PairedFolderSource(root=None, layout="gopro")).setup("test")


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"layout": "gopr"}, "data.source.layout"),
        ({"layout": "gopro", "variant": "sharp"}, "data.source.variant"),
        ({"layout": "hide", "variant": "blur_gamma"}, "data.source.variant"),
        ({"layout": "folder", "val_limit": 0}, "data.source.val_limit"),
    ],
)
def test_bad_source_settings_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        PairedFolderSource(root="x", **kwargs)


@pytest.mark.parametrize("name", ["gopro", "realblur_j", "realblur_r", "hide", "folder"])
def test_data_configs_pass_data_root_to_their_source(name, tmp_path):
    cfg = compose_config("train", [f"data={name}", f"data.root={tmp_path}"], tmp_path / "run")
    dm = instantiate(cfg.data)
    assert isinstance(dm.source, PairedFolderSource)
    assert dm.source.layout == name and dm.source.root == str(tmp_path) == dm.root
    if name != "folder":  # the paper datasets follow the MIMO-UNet recipe
        assert (dm.crop_size, dm.batch_size) == (256, 4)
        assert dm.augment == {"hflip": 0.5, "vflip": 0.0, "rot90": 0.0}


# One smoke training per trainable layout (RealBlur-R shares RealBlur-J's code path).
@pytest.mark.parametrize(
    ("name", "make"),
    [("gopro", make_gopro), ("realblur_j", make_realblur), ("folder", make_folder)],
)
def test_each_trainable_layout_smoke_trains(name, make, tmp_path):
    root = make(tmp_path / "data")
    out = tmp_path / "run"
    cfg = compose_config(
        "train", TINY_IMAGES + [f"data={name}", f"data.root={root}", "debug=smoke"], out
    )
    metrics = train(cfg)
    assert math.isfinite(metrics["val/psnr"]) and math.isfinite(metrics["test/psnr_last"])
    assert json.loads((out / "metrics.json").read_text())["protocol"] == cfg.protocol
    ckpt = torch.load(metrics["best_ckpt"], map_location="cpu", weights_only=True)
    recorded = ckpt["deblurlab_config"]["data"]
    assert recorded["root"] == str(root) and recorded["source"]["root"] == str(root)
    assert recorded["source"]["layout"] == name and recorded["source"]["variant"] == "blur"
