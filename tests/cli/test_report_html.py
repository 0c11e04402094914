"""report.html: the table, the plot and every training run's image strip; opened in headless
Chromium, every image on the page must load."""

from __future__ import annotations

import numpy as np
import pytest
from test_report import train_metrics, write_run

from deblurlab.cli.report import main
from deblurlab.data.io import write_image
from deblurlab.data.photos import load_builtin_photo
from fixtures.browser import count_loaded_images, find_chromium, run_chromium


@pytest.fixture(scope="session")
def chromium() -> str:
    return find_chromium()


def _sweep(tmp_path):
    photo = load_builtin_photo("astronaut")[100:164, 150:214]
    for job, (fusion, psnr) in enumerate([("fam", 30.5), ("concat", 30.1)]):
        run = write_run(
            tmp_path / "sweep" / str(job),
            metrics=train_metrics(psnr, "sweep-x", f"mimo_unet fusion={fusion}"),
            config={"seed": 1},
        )
        blurry = (photo * 0.8).astype(np.uint8)
        strip = np.concatenate([blurry, photo // 2 + 60 * job, photo], axis=1)
        write_image(run / "images" / "val_latest.png", strip)
    return tmp_path / "sweep"


def test_report_html_shows_every_runs_images_and_they_load_in_a_browser(tmp_path, chromium):
    sweep = _sweep(tmp_path)
    main([str(sweep), "--out", str(tmp_path / "out")])
    page = tmp_path / "out" / "report.html"
    text = page.read_text()
    assert "<td>mimo_unet fusion=fam</td>" in text and "<td>30.50</td>" in text
    assert text.count("data:image/png;base64,") == 3  # the plot and two strips
    assert "mimo_unet fusion=concat, seed 1: blurry | output | sharp" in text
    loaded, total = count_loaded_images(chromium, page, tmp_path)
    assert (loaded, total) == (3, 3)
    shot = tmp_path / "report.png"
    run_chromium(
        chromium,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1000,900",
        page.as_uri(),
    )
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_the_browser_check_sees_a_broken_image(tmp_path, chromium):
    # the probe itself must be able to fail: one real PNG, one missing file
    write_image(tmp_path / "ok.png", load_builtin_photo("coffee")[:32, :32])
    page = tmp_path / "broken.html"
    page.write_text('<html><body><img src="ok.png"><img src="missing.png"></body></html>')
    assert count_loaded_images(chromium, page, tmp_path) == (1, 2)
