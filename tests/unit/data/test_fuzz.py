"""Arbitrary bytes and file names into the image reader, the pair discovery and the checkpoint
reader: the only failures are deblurlab's own errors, each one line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deblurlab.checkpoint import read_checkpoint
from deblurlab.data.io import decode_image, read_image
from deblurlab.data.layouts import find_pairs
from deblurlab.errors import DataError, DeblurlabError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# file names a file system accepts: no "/", no NUL, not "." or ".."
NAMES = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
).filter(lambda n: n not in (".", "..") and len(n.encode()) < 200)
# a few real image headers followed by garbage, so decoders get past their first check
HEADERS = st.sampled_from(
    [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBP", b"II*\x00"]
)


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, DeblurlabError), f"{type(exc).__name__}: {exc}"
    assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(header=HEADERS, body=st.binary(max_size=2000))
def test_the_image_reader_fails_only_with_one_line_data_errors(header, body):
    try:
        image = decode_image(header + body, "fuzz.png")
    except Exception as exc:  # noqa: BLE001 - the point: which exceptions come out
        _one_line(exc)
    else:
        assert image.ndim == 3 and image.shape[2] == 3


@FUZZ
@given(name=NAMES, body=st.binary(max_size=600))
def test_the_checkpoint_reader_fails_only_with_one_line_errors(name, body):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        try:
            path.write_bytes(body)
        except OSError:
            return  # a name this file system refuses
        try:
            read_checkpoint(path)
        except Exception as exc:  # noqa: BLE001
            _one_line(exc)


@FUZZ
@given(
    layout=st.sampled_from(["folder", "gopro", "hide", "realblur_j"]),
    files=st.lists(
        st.tuples(st.sampled_from(["train/blur", "train/sharp", "test/blur", "test/sharp", "GT",
                                    "test", "train/seq/blur", "train/seq/sharp", ""]),
                  NAMES, st.binary(max_size=64)),
        max_size=8,
    ),
)  # fmt: skip
def test_pair_discovery_fails_only_with_one_line_errors(layout, files):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder, name, body in files:
            try:
                (root / folder).mkdir(parents=True, exist_ok=True)
                (root / folder / name).write_bytes(body)
            except OSError:
                continue
        for split in ("train", "test"):
            try:
                pairs = find_pairs(root, layout, split)
            except Exception as exc:  # noqa: BLE001
                _one_line(exc)
            else:
                for pair in pairs:  # every pair found can be read, or fails in one line
                    for path in (pair.blurry, pair.sharp):
                        try:
                            read_image(path)
                        except Exception as exc:  # noqa: BLE001
                            _one_line(exc)


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_a_symlink_loop_or_broken_link_is_reported_not_skipped(tmp_path, kind):
    for split in ("train", "test"):
        for side in ("blur", "sharp"):
            (tmp_path / split / side).mkdir(parents=True)
    image = np.zeros((4, 4, 3), np.uint8)
    from deblurlab.data.io import write_image

    for side in ("blur", "sharp"):
        write_image(tmp_path / "train" / side / "a.png", image)
    link = tmp_path / "train" / "blur" / "b.png"
    if kind == "loop":
        os.symlink(tmp_path / "train" / "blur" / "c.png", link)
        os.symlink(link, tmp_path / "train" / "blur" / "c.png")
    else:
        os.symlink(tmp_path / "gone.png", link)
    expected = "symbolic link loop" if kind == "loop" else "broken symbolic link"
    with pytest.raises(DataError, match=expected) as info:
        find_pairs(tmp_path, "folder", "train")
    _one_line(info.value)
