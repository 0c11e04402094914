"""The decoded cache holds exactly the decoded pixels; loading crops aligned pairs from either path."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deblurlab.data import DeblurDataModule, DecodedCache, PairedFolderSource
from deblurlab.data.cache import is_mapped, load_cached
from deblurlab.data.io import read_image, read_image_raw
from deblurlab.data.transforms import to_tensor
from deblurlab.errors import DataError
from fixtures.datasets import fake_pair, make_folder, write_png


def module(root: Path, crop: int = 32, **kwargs) -> DeblurDataModule:
    augment = {k: kwargs.pop(k) for k in ("hflip", "vflip", "rot90") if k in kwargs}
    return DeblurDataModule(
        PairedFolderSource(str(root), "folder", **kwargs), crop_size=crop, **augment
    )


def build_cache(root: Path, splits=("train", "test")) -> DecodedCache:
    src = PairedFolderSource(str(root), "folder")
    cache = src.cache()
    for split in splits:
        cache.add([p for pair in src.pairs(split) for p in (pair.blurry, pair.sharp)])
    return cache


def test_cache_returns_exactly_the_decoded_pixels_of_every_format(tmp_path):
    rgb = fake_pair(7, (37, 53))[1]
    images = {
        "rgb.png": rgb,
        "gray.png": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        "deep.png": rgb.astype(np.uint16) * 251,
        "photo.jpg": rgb,
    }
    paths = [write_png(tmp_path / "img" / name, image) for name, image in images.items()]
    cache = DecodedCache(tmp_path / "img", tmp_path / "cache")
    assert cache.add(paths) == 4
    found = DecodedCache(tmp_path / "img", tmp_path / "cache").lookup(paths)  # a fresh reader
    assert set(found) == set(paths)
    for path in paths:
        npy, (h, w) = found[path]
        cached, decoded = load_cached(npy), read_image_raw(path)
        assert is_mapped(cached) and (h, w) == decoded.shape[:2]
        assert cached.dtype == decoded.dtype and cached.shape == decoded.shape
        np.testing.assert_array_equal(cached, decoded)
        # and the floats the network sees are the same as read_image's
        np.testing.assert_array_equal(
            to_tensor(cached).numpy(), read_image(path).transpose(2, 0, 1)
        )


def test_cache_is_built_once_and_stale_entries_are_ignored(tmp_path):
    root = make_folder(tmp_path, num_train=3, num_test=1)
    cache = build_cache(root)
    paths = [p for p in root.rglob("*.png") if "deblurlab_cache" not in p.parts]
    assert cache.add(paths) == 0  # everything is up to date
    changed = root / "train" / "sharp" / "img_001.png"
    write_png(changed, fake_pair(99)[1])
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    fresh = DecodedCache(root).lookup(paths)
    assert changed not in fresh and len(fresh) == len(paths) - 1
    dm = module(root)
    dm.setup("fit")
    index = [p[2] for p in (dm.train_set.pairs[i] for i in range(3))].index("img_001")
    np.testing.assert_array_equal(dm.train_set.pairs[index][1], fake_pair(99)[1])  # the new file
    assert "5 of 6 images from the decoded cache" in dm.train_set.pairs.describe()


def test_datamodule_says_when_it_uses_the_cache(tmp_path, caplog):
    root = make_folder(tmp_path, num_train=2, num_test=2)
    with caplog.at_level(logging.INFO):
        module(root).setup("test")
    assert "test: 2 pairs, decoded from image files (run deblurlab-prepare" in caplog.text
    build_cache(root, ["test"])
    caplog.clear()
    with caplog.at_level(logging.INFO):
        dm = module(root)
        dm.setup("test")
    assert "test: 2 pairs, from the decoded cache" in caplog.text
    assert is_mapped(dm.test_set.pairs[0][0])
    plain = module(root, use_cache=False)
    plain.setup("test")
    assert not is_mapped(plain.test_set.pairs[0][0])


def test_cached_and_decoded_batches_are_identical(tmp_path):
    root = make_folder(tmp_path, num_train=3, num_test=2)
    decoded = module(root, hflip=0.5, vflip=0.5, rot90=0.5)
    decoded.setup("fit")
    decoded.setup("test")
    build_cache(root)
    cached = module(root, hflip=0.5, vflip=0.5, rot90=0.5)
    cached.setup("fit")
    cached.setup("test")
    assert is_mapped(cached.train_set.pairs[0][0])
    for a, b in zip(decoded.test_set, cached.test_set, strict=True):  # full frames
        assert torch.equal(a["blur"], b["blur"]) and torch.equal(a["sharp"], b["sharp"])
    torch.manual_seed(5)
    crops_a = [decoded.train_set[i] for i in range(3)]
    torch.manual_seed(5)
    crops_b = [cached.train_set[i] for i in range(3)]
    for a, b in zip(crops_a, crops_b, strict=True):  # the same random crops and flips
        assert torch.equal(a["blur"], b["blur"]) and torch.equal(a["sharp"], b["sharp"])


@pytest.mark.parametrize("use_cache", [False, True])
def test_identical_pairs_stay_identical_under_crops_and_flips(tmp_path, use_cache):
    root = make_folder(tmp_path, num_train=3, num_test=1)
    for blurry in (root / "train" / "blur").iterdir():  # blurry := sharp
        shutil.copyfile(root / "train" / "sharp" / blurry.name, blurry)
    if use_cache:
        build_cache(root, ["train"])
    dm = module(root, crop=24, hflip=0.5, vflip=0.5, rot90=0.5)
    dm.setup("fit")
    seen = set()
    for _ in range(8):
        for batch in DataLoader(dm.train_set, batch_size=3):
            assert batch["blur"].shape == (3, 3, 24, 24)
            assert torch.equal(batch["blur"], batch["sharp"])
            seen.add(float(batch["blur"][0, 0, 0, 0]))
    assert len(seen) > 1  # crops do move


def test_loader_workers_draw_different_crops(tmp_path):
    root = make_folder(tmp_path, num_train=1, num_test=1, size=(64, 64))
    dm = module(root, crop=8, hflip=0)
    dm.setup("fit")
    sampler = [0] * 8  # the same image eight times, four per worker
    loader = DataLoader(dm.train_set, batch_size=1, sampler=sampler, num_workers=2)
    corners = [tuple(b["blur"][0, :, 0, 0].tolist()) for b in loader]
    # items asked for by index alone draw from the transform's own generator: without reseeding
    # per process, both workers replay the same crops and items 2k and 2k+1 coincide
    assert any(corners[2 * k] != corners[2 * k + 1] for k in range(4))


def test_a_broken_file_is_reported_and_the_good_ones_stay_cached(tmp_path):
    root = make_folder(tmp_path, num_train=2, num_test=1)
    bad = root / "train" / "blur" / "img_001.png"
    bad.write_bytes(bad.read_bytes()[:100])
    src = PairedFolderSource(str(root), "folder")
    paths = [p for pair in src.pairs("train") for p in (pair.blurry, pair.sharp)]
    with pytest.raises(DataError, match=r"img_001\.png: not a readable image"):
        src.cache().add(paths)
    assert len(src.cache().lookup(paths)) == 3


def test_cached_images_keep_their_maps_open_per_process_and_notice_a_new_file(tmp_path):
    from deblurlab.data.cache import OpenMaps

    npy = tmp_path / "a.npy"
    np.save(npy, np.zeros((4, 5, 3), np.uint8))
    maps = OpenMaps(limit=2)
    first = maps.get(npy)
    assert maps.get(npy) is first  # the same open map: no second open/mmap
    with open(tmp_path / "b.npy.partial", "wb") as f:
        np.save(f, np.ones((4, 5, 3), np.uint8))
    os.replace(tmp_path / "b.npy.partial", npy)  # what deblurlab-prepare does to a changed image
    assert maps.get(npy).max() == 1  # the new file, not the old map
    for name in ("c", "d"):
        np.save(tmp_path / f"{name}.npy", np.zeros((2, 2, 3), np.uint8))
        maps.get(tmp_path / f"{name}.npy")
    assert list(maps.maps) == [tmp_path / "c.npy", tmp_path / "d.npy"]  # at most `limit` open
    maps.pid = -1  # as seen from a forked loader worker: it opens its own maps
    assert maps.get(npy) is not first and list(maps.maps) == [npy]
