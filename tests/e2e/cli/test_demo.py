"""deblurlab-demo: the page serves the Restorer's output for a real photo through its API, listens on
127.0.0.1 only, and renders in headless Chromium (screenshot); without gradio, one line and exit 2."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblurlab.data.io import read_image_raw, write_image
from deblurlab.data.photos import load_builtin_photo
from deblurlab.inference.loading import load_restorer
from deblurlab.run.task import run_task
from deblurlab.tasks.demo import INSTALL_HINT, deblur_photo, demo
from fixtures.browser import find_chromium, run_chromium
from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import compose_config

# tile=64 with overlap=16 makes the 160 x 240 photo run in tiles, as a large photo would
SETTINGS = ["tile=64", "overlap=16", "ensemble=none", "precision=fp32", "device=cpu"]


def blurry_photo(path: Path) -> np.ndarray:
    """A real photograph (scikit-image's cat), blurred by a horizontal 9-pixel motion, saved as PNG."""
    sharp = load_builtin_photo("chelsea")[60:220, 100:340]
    kernel = np.full((1, 9), 1 / 9, np.float32)
    blurry = cv2.filter2D(sharp, -1, kernel, borderType=cv2.BORDER_REFLECT)
    write_image(path, blurry)
    return blurry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel lists them) of the TCP sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).is_file():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, int, Path, Path, str]]:
    """A running ``deblurlab-demo`` (its own process group, killed at teardown)."""
    pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
    ckpt = tiny_checkpoint(tmp_path, "mimo_unet")
    photo = tmp_path / "blurry.png"
    blurry_photo(photo)
    port = free_port()
    env = {
        **os.environ,
        "DEBLURLAB_ROOT": str(tmp_path),
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
        "OMP_NUM_THREADS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    args = [f"ckpt_path={ckpt}", f"port={port}", "host=127.0.0.1", f"example={photo}", *SETTINGS]
    process = subprocess.Popen(
        [sys.executable, "-m", "deblurlab.cli.demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    url = None
    try:
        while url is None:
            line = lines.get(timeout=120)
            if line is None:
                pytest.fail(f"the demo exited ({process.wait()}):\n{''.join(seen)[-3000:]}")
            seen.append(line)
            if "Running on local URL:" in line:
                url = line.split("URL:", 1)[1].strip()
        yield url, port, ckpt, photo, "".join(seen)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.mark.slow  # a server process, an API call and a browser: about 20 s on an idle machine
def test_demo_serves_the_restorers_output_on_localhost_and_renders(server, tmp_path):
    from gradio_client import Client, handle_file

    url, port, ckpt, photo, log = server
    assert url == f"http://127.0.0.1:{port}"
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, no other interface

    client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
    result = Path(client.predict(handle_file(str(photo)), api_name="/deblur"))
    got = read_image_raw(result)
    blurry = read_image_raw(photo)
    assert result.suffix == ".png" and got.dtype == np.uint8
    assert got.shape == blurry.shape == (160, 240, 3)

    restorer, _ = load_restorer(ckpt, tile=64, overlap=16, ensemble="none", device="cpu")
    assert "tile=64, overlap=16" in log  # the served Restorer has the command's settings
    expected = deblur_photo(restorer, blurry)
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1  # the Restorer's output, up to one 8-bit level
    assert np.abs(got.astype(int) - blurry.astype(int)).max() > 2  # not the input sent back

    chromium = find_chromium()
    shot = tmp_path / "demo.png"
    run_chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1200,560",
        "--virtual-time-budget=15000",
        url,
    )
    page = read_image_raw(shot)
    assert page.shape[:2] == (560, 1200)
    # the page rendered with the example photo and its output (a blank or error page has a few
    # dozen colours; two photographs have thousands)
    colours = len(np.unique(page.reshape(-1, 3), axis=0))
    assert colours > 5000, f"the page looks empty ({colours} colours)"
    if os.environ.get("DEBLURLAB_SCREENSHOTS"):  # refresh docs/images/demo.png
        shutil.copy(shot, Path(os.environ["DEBLURLAB_SCREENSHOTS"]) / "demo.png")


def test_demo_without_gradio_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    cfg = compose_config("demo", ["ckpt_path=missing.ckpt"], tmp_path)
    with pytest.raises(SystemExit) as stopped:
        run_task(demo, cfg)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {INSTALL_HINT}"]


def test_demo_refuses_a_port_in_use_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("deblurlab.tasks.demo.require_gradio", lambda: None)  # no 7 s import
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = compose_config("demo", ["ckpt_path=missing.ckpt", f"port={port}"], tmp_path)
        with pytest.raises(SystemExit) as stopped:
            run_task(demo, cfg)
    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: port={port} host=127.0.0.1: cannot listen there (")
