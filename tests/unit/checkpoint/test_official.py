"""The authors' released weights, one word away: fetched from their source (here a local server
standing in for it) into the cache, resumed after an interrupted transfer, placed atomically,
digest recorded on the first download and checked on every later use."""

from __future__ import annotations

import hashlib

import pytest

from deblurlab.checkpoint.download import DownloadError, download
from deblurlab.checkpoint.official import OFFICIAL, official_weights, resolve_pretrained
from deblurlab.errors import CheckpointError, ConfigError
from fixtures.weights_server import closed_port_url, weights_server

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, every byte position distinguishable


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBLURLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_an_interrupted_transfer_is_resumed_from_where_it_stopped(tmp_path):
    dest = tmp_path / "w.pkl"
    with weights_server({"w.pkl": PAYLOAD}, cut_after=300_000) as served:
        with pytest.raises(DownloadError, match="run again to resume"):
            download(f"{served.url}/w.pkl", dest, progress=False)
        assert not dest.exists()  # never a partial file under the final name
        assert (tmp_path / "w.pkl.part").stat().st_size == 300_000
        download(f"{served.url}/w.pkl", dest, progress=False)
    assert served.ranges == [None, "bytes=300000-"]  # the second request asked only for the rest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "w.pkl.part").exists()


def test_a_download_whose_digest_differs_is_refused_and_not_placed(tmp_path):
    dest = tmp_path / "w.pkl"
    with weights_server({"w.pkl": PAYLOAD}) as served:
        with pytest.raises(DownloadError, match="SHA-256 of the download is"):
            download(f"{served.url}/w.pkl", dest, sha256="0" * 64, progress=False)
        assert not dest.exists() and not (tmp_path / "w.pkl.part").exists()
        right = hashlib.sha256(PAYLOAD).hexdigest()
        assert download(f"{served.url}/w.pkl", dest, sha256=right, progress=False) == dest


def test_a_web_page_instead_of_the_file_is_refused(tmp_path):
    with (
        weights_server({}, page_instead=True) as served,
        pytest.raises(DownloadError, match="sent a web page"),
    ):
        download(f"{served.url}/w.pkl", tmp_path / "w.pkl", progress=False)
    assert not (tmp_path / "w.pkl").exists()


def test_official_is_fetched_once_into_the_cache_with_its_digest_recorded(
    cache, monkeypatch, capsys
):
    name = OFFICIAL["mimo_unet"].filename
    with weights_server({name: PAYLOAD}) as served:
        monkeypatch.setenv("DEBLURLAB_WEIGHTS_MIRROR", served.url)
        path = official_weights("mimo_unet", progress=False)
        assert resolve_pretrained("official", "mimo_unet") == path  # second use: no request
    assert len(served.ranges) == 1
    assert path == cache / name and path.read_bytes() == PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert (cache / f"{name}.sha256").read_text().split()[0] == digest
    assert digest in capsys.readouterr().out  # printed, so the user can record it


def test_a_cached_file_changed_on_disk_is_refused(cache, monkeypatch):
    name = OFFICIAL["mimo_unet_plus"].filename
    with weights_server({name: PAYLOAD}) as served:
        monkeypatch.setenv("DEBLURLAB_WEIGHTS_MIRROR", served.url)
        path = official_weights("mimo_unet_pp", progress=False)  # ++ is +'s file
    damaged = bytearray(PAYLOAD)
    damaged[1000] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="differs from the recorded"):
        official_weights("mimo_unet_plus", progress=False)


def test_no_server_is_one_line_naming_the_url_and_the_manual_way(cache, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv("DEBLURLAB_WEIGHTS_MIRROR", url)
    with pytest.raises(DownloadError) as info:
        official_weights("mimo_unet", progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert f"{url}/MIMO-UNet.pkl: cannot connect" in message
    assert "github.com/chosj95/MIMO-UNet" in message and "model.pretrained=<path>" in message
    assert not (cache / "MIMO-UNet.pkl").exists()


def test_a_network_without_released_weights_is_named():
    with pytest.raises(ConfigError, match="no released weights for model=sgenet"):
        official_weights("sgenet", progress=False)


def test_a_path_is_taken_as_is(tmp_path):
    assert resolve_pretrained(str(tmp_path / "x.pkl"), "mimo_unet") == tmp_path / "x.pkl"
