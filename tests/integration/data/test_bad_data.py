"""Bad data stops a run before training with one line naming the file(s); odd formats are handled."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deblurlab.data import DeblurDataModule, PairedFolderSource
from deblurlab.data.io import read_image_raw
from deblurlab.errors import DataError
from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import TINY, compose_config
from fixtures.datasets import fake_pair, make_folder, make_gopro, make_realblur, write_png


def setup_fit(root: Path, layout: str = "folder", crop: int = 32, **kwargs) -> DeblurDataModule:
    dm = DeblurDataModule(PairedFolderSource(str(root), layout, **kwargs), crop_size=crop)
    dm.setup("fit")
    return dm


@pytest.fixture
def root(tmp_path) -> Path:
    return make_folder(tmp_path / "pairs", num_train=6, num_test=2)


def blur_file(root: Path, i: int, split: str = "train") -> Path:
    return root / split / "blur" / f"img_{i:03d}.png"


def sharp_file(root: Path, i: int, split: str = "train") -> Path:
    return root / split / "sharp" / f"img_{i:03d}.png"


def test_the_generated_folder_is_clean(root):
    dm = setup_fit(root)
    assert len(dm.train_set) == 6 and len(dm.val_set) == 2


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=r"pairs[/\\]train[/\\]blur: folder not found"):
        setup_fit(tmp_path / "pairs")


def test_empty_folder(root):
    for f in (root / "train" / "blur").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=r"train[/\\]blur: no images here"):
        setup_fit(root)


def test_blurry_files_without_sharp_partner_name_the_first_few(root):
    for i in range(5):
        sharp_file(root, i).unlink()
    with pytest.raises(DataError) as err:
        setup_fit(root)
    message = str(err.value)
    assert message.startswith("5 blurry images in") and "without a sharp partner" in message
    assert "img_000.png, img_001.png, img_002.png (+2 more)" in message
    assert "\n" not in message


def test_sharp_files_without_blurry_partner(root):
    blur_file(root, 3).unlink()
    with pytest.raises(
        DataError, match=r"^1 sharp image in .* without a blurry partner .*: img_003\.png$"
    ):
        setup_fit(root)


def test_sizes_differ(root):
    write_png(sharp_file(root, 2), fake_pair(0, (40, 64))[1])
    with pytest.raises(DataError, match=r"img_002\.png is 64x48 but .*img_002\.png is 64x40"):
        setup_fit(root)


def test_not_an_image(root):
    blur_file(root, 1).write_text("this is not a PNG")
    with pytest.raises(DataError, match=r"blur[/\\]img_001\.png: not a readable image"):
        setup_fit(root)


def test_empty_file(root):
    sharp_file(root, 4).write_bytes(b"")
    with pytest.raises(DataError, match=r"sharp[/\\]img_004\.png: empty file"):
        setup_fit(root)


def test_truncated_png(root):
    path = blur_file(root, 0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"img_000\.png: truncated PNG"):
        setup_fit(root)


def test_truncated_jpeg(tmp_path):
    root = make_folder(tmp_path, num_train=2, num_test=1, suffix=".jpg")
    path = root / "test" / "sharp" / "img_000.jpg"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match=r"test[/\\]sharp[/\\]img_000\.jpg: truncated JPEG"):
        setup_fit(root)


def test_several_broken_files_are_listed_in_one_line(root):
    for i in (1, 2):
        blur_file(root, i).write_text("x")
    with pytest.raises(DataError, match=r"^2 unreadable images: .*img_001\.png.*img_002\.png"):
        setup_fit(root)


def test_image_smaller_than_the_crop(root):
    with pytest.raises(
        DataError,
        match=r"^6 training images smaller than data.crop_size=56: .*img_000\.png \(64x48\)",
    ):
        setup_fit(root, crop=56)
    dm = DeblurDataModule(PairedFolderSource(str(root), "folder"), crop_size=56)
    dm.setup("test")  # evaluation uses full frames: no crop, no error
    assert len(dm.test_set) == 2


def test_realblur_list_problems_name_the_list_file(tmp_path):
    root = make_realblur(tmp_path, variants=("J",))
    with pytest.raises(
        DataError, match=r"RealBlur_R_train_list\.txt: RealBlur list file not found"
    ):
        setup_fit(root, "realblur_r")
    listed = root / "RealBlur_J_train_list.txt"
    lines = listed.read_text().splitlines()
    missing = lines[1].split()[1]
    (root / missing).unlink()
    with pytest.raises(
        DataError, match=rf"^1 file listed in .*RealBlur_J_train_list\.txt not found: .*{missing}$"
    ):
        setup_fit(root, "realblur_j")
    listed.write_text(lines[0] + "\njust-one-path.png\n")
    with pytest.raises(
        DataError, match=r"RealBlur_J_train_list\.txt:2: expected '<gt path> <blur path>'"
    ):
        setup_fit(root, "realblur_j")


def test_gopro_sequence_without_sharp_folder(tmp_path):
    root = make_gopro(tmp_path)
    for f in (root / "train" / "GOPR0374_11_00" / "sharp").iterdir():
        f.unlink()
    (root / "train" / "GOPR0374_11_00" / "sharp").rmdir()
    with pytest.raises(DataError, match=r"GOPR0374_11_00[/\\]sharp: folder not found"):
        setup_fit(root, "gopro")


def test_a_corrupt_middle_is_found_by_the_full_check(root):
    path = blur_file(root, 5)
    data = bytearray(path.read_bytes())
    data[60:-20] = bytes(len(data) - 80)  # header and end marker intact, pixel data destroyed
    path.write_bytes(bytes(data))
    setup_fit(root)  # the quick header scan cannot see it ...
    with pytest.raises(DataError, match=r"img_005\.png: not a readable image"):
        setup_fit(root, full_check=True)  # ... decoding can (deblurlab-prepare always decodes)


def test_the_cli_reports_one_line_and_exits_2_before_training(root, tmp_path, capsys):
    sharp_file(root, 0).unlink()
    overrides = [o for o in TINY if not o.startswith("data.source.")]
    cfg = compose_config(
        "train", overrides + ["data=folder", f"data.root={root}", "debug=smoke"], tmp_path / "run"
    )
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: 1 blurry image in") and err[-1].endswith("img_000.png")
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


# -- handled instead of refused ---------------------------------------------------------------


def test_grayscale_rgba_16bit_and_jpeg_are_read_as_rgb(tmp_path):
    rgb = fake_pair(3)[1]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    deep = rgb.astype(np.uint16) * 257  # 16-bit: 255 -> 65535
    files = {
        "gray.png": gray,
        "rgba.png": rgba,
        "deep.png": deep,
        "photo.jpg": rgb,
        "photo.bmp": rgb,
        "photo.tif": rgb,
        "photo.webp": rgb,
    }
    for name, image in files.items():
        path = tmp_path / name
        if image.ndim == 3 and image.shape[2] == 4:
            ok, enc = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA))
            enc.tofile(str(path))
        else:
            write_png(path, image)
    gray_rgb = read_image_raw(tmp_path / "gray.png")
    assert gray_rgb.shape == (48, 64, 3) and (gray_rgb == gray[..., None]).all()
    np.testing.assert_array_equal(read_image_raw(tmp_path / "rgba.png"), rgb)
    loaded = read_image_raw(tmp_path / "deep.png")
    assert loaded.dtype == np.uint16 and loaded.max() == deep.max()
    for lossless in ("photo.bmp", "photo.tif"):
        np.testing.assert_array_equal(read_image_raw(tmp_path / lossless), rgb)
    assert read_image_raw(tmp_path / "photo.webp").shape == rgb.shape
    jpeg = read_image_raw(tmp_path / "photo.jpg").astype(int)
    assert jpeg.shape == rgb.shape and np.abs(jpeg - rgb).mean() < 8  # lossy, same picture


def test_mixed_formats_become_equal_float_images(tmp_path):
    root = make_folder(tmp_path, num_train=2, num_test=1)
    blurry, sharp = fake_pair(50_000)  # the generator's first test pair
    gray = cv2.cvtColor(blurry, cv2.COLOR_RGB2GRAY)
    write_png(blur_file(root, 0, "test"), gray)  # grayscale blurry
    write_png(sharp_file(root, 0, "test"), sharp.astype(np.uint16) * 257)  # 16-bit sharp
    write_png(sharp_file(root, 1), fake_pair(1)[1].astype(np.uint16) * 257)
    dm = DeblurDataModule(PairedFolderSource(str(root), "folder"), crop_size=32)
    dm.setup("test")
    item = dm.test_set[0]  # full frame
    assert item["blur"].dtype == item["sharp"].dtype == torch.float32
    for channel in item["blur"]:
        assert torch.equal(channel, torch.from_numpy(gray.astype(np.float32) / 255.0))
    # 16-bit 257 * v scales to exactly v / 255: the same floats as the 8-bit image
    assert torch.equal(item["sharp"], torch.from_numpy(sharp.transpose(2, 0, 1) / np.float32(255)))
    dm.setup("fit")
    batch = dm.train_set[1]  # an 8-bit blurry crop with its 16-bit partner
    assert batch["blur"].shape == batch["sharp"].shape == (3, 32, 32)
    assert float(batch["sharp"].min()) >= 0.0 and float(batch["sharp"].max()) <= 1.0
