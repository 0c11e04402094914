"""deblurlab-predict: any format and size in, 8-bit PNGs with the same names out; inputs are safe."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from deblurlab.data.io import read_image
from deblurlab.inference import Restorer
from deblurlab.quantize import to_uint8
from deblurlab.run.task import run_task
from deblurlab.tasks.predict import predict
from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import TINY, compose_config
from fixtures.datasets import PHOTO_SIZES as SIZES
from fixtures.datasets import write_photos


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A deblurlab checkpoint of a tiny MIMO-UNet (random weights, embedded config)."""
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def photos(tmp_path) -> Path:
    """png (RGBA), jpg, webp and 16-bit grayscale tif of odd sizes, plus a broken file."""
    return write_photos(tmp_path / "in")


def _predict(tmp_path: Path, *overrides: str) -> dict:
    return run_task(predict, compose_config("predict", list(overrides), tmp_path / "run"))


def test_every_format_and_size_is_restored_to_a_same_size_png_and_bad_files_are_skipped(
    ckpt, photos, tmp_path, capsys
):
    result = _predict(
        tmp_path, f"ckpt_path={ckpt}", f"input={photos}", f"output={tmp_path / 'out'}"
    )
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
    ]
    for name, (h, w) in SIZES.items():
        written = cv2.imread(
            str(tmp_path / "out" / (Path(name).stem + ".png")), cv2.IMREAD_UNCHANGED
        )
        assert written.shape == (h, w, 3) and written.dtype == np.uint8, name
    skipped = [line for line in captured.err.splitlines() if "broken.png" in line]
    assert len(skipped) == 1 and skipped[0].startswith("skipped: ")
    assert result["skipped"] == [str(photos / "broken.png")]
    assert f"restored 4 of 5 images (1 skipped) -> {tmp_path / 'out'}" in captured.out


def test_outputs_are_the_restored_image_rounded_to_8_bits(ckpt, photos, tmp_path):
    from deblurlab.models import load_weights

    _predict(
        tmp_path,
        f"ckpt_path={ckpt}",
        f"input={photos / 'a.png'}",
        f"output={tmp_path / 'out'}",
        "tile=16",
        "overlap=8",
        "ensemble=rot4",
    )
    cfg = compose_config("train", TINY, tmp_path)
    net = load_weights(instantiate(cfg.model.net), ckpt)
    image = torch.from_numpy(read_image(photos / "a.png")).permute(2, 0, 1)[None]
    restored = Restorer(net, tile=16, overlap=8, ensemble="rot4")(image)[0]
    expected = to_uint8(restored.permute(1, 2, 0).numpy())
    written = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / "a.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(written, expected)


def test_a_glob_selects_files_across_folders(ckpt, photos, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    cv2.imwrite(str(more / "e.jpg"), np.full((12, 10, 3), 90, np.uint8))
    result = _predict(
        tmp_path, f"ckpt_path={ckpt}", f"input='{tmp_path}/*/[ae].*'", f"output={tmp_path / 'out'}"
    )
    assert sorted(Path(p).name for p in result["written"]) == ["a.png", "e.png"]
    # a second run into the same folder replaces the earlier results
    (tmp_path / "out" / "e.png").write_bytes(b"stale")
    _predict(tmp_path, f"ckpt_path={ckpt}", f"input={more}", f"output={tmp_path / 'out'}")
    assert read_image(tmp_path / "out" / "e.png").shape == (12, 10, 3)


def test_the_input_folder_is_refused_as_output_and_nothing_is_written(
    ckpt, photos, tmp_path, capsys
):
    before = {p: p.read_bytes() for p in photos.iterdir()}
    with pytest.raises(SystemExit) as info:
        _predict(tmp_path, f"ckpt_path={ckpt}", f"input={photos}", f"output={photos}")
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: output={photos} is the folder of input ")
    assert {p: p.read_bytes() for p in photos.iterdir()} == before


def test_two_inputs_with_one_output_name_are_refused(ckpt, photos, tmp_path, capsys):
    cv2.imwrite(str(photos / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SystemExit):
        _predict(tmp_path, f"ckpt_path={ckpt}", f"input={photos}", f"output={tmp_path / 'out'}")
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "a.jpg" in err and "a.png" in err and "would both be written to" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: d / "missing", "input not found"),
        (lambda d: d, "input folder contains no images"),
        (lambda d: d / "*.png", "input pattern matches no images"),
    ],
)
def test_missing_or_empty_inputs_exit_with_one_line(ckpt, tmp_path, capsys, make_input, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as info:
        _predict(
            tmp_path, f"ckpt_path={ckpt}", f"input={make_input(empty)}", f"output={tmp_path / 'o'}"
        )
    assert info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_only_unreadable_files_is_an_error(ckpt, tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(b"nope")
    with pytest.raises(SystemExit):
        _predict(tmp_path, f"ckpt_path={ckpt}", f"input={folder}", f"output={tmp_path / 'o'}")
    assert "no image could be read" in capsys.readouterr().err.strip().splitlines()[-1]
