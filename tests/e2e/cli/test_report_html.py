"""report.html: the table, the plot and every run's strip of test crops; opened in headless
Chromium, every image on the page must load. The strips come from real deblurlab-eval runs of two
networks: the same crop of the same test images, so the blurry and sharp crops are identical and
only the outputs differ."""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from deblurlab.cli.report import main
from deblurlab.data.io import write_image
from deblurlab.data.photos import load_builtin_photo
from deblurlab.runfiles import CROP_KINDS, CropIndex, RunFolder
from deblurlab.tasks.evaluate import evaluate
from fixtures.browser import count_loaded_images, find_chromium, run_chromium
from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import TINY, compose_config
from fixtures.runs import train_metrics, write_run


@pytest.fixture(scope="session")
def chromium() -> str:
    return find_chromium()


def _sweep(tmp_path: Path) -> Path:
    """Two training runs of a sweep (fusion=fam / concat), each with its best checkpoint (tiny
    networks, different weights) scored by deblurlab-eval on the same test set."""
    sweep = tmp_path / "sweep"
    for job, (fusion, psnr) in enumerate([("fam", 30.5), ("concat", 30.1)]):
        run = write_run(
            sweep / str(job),
            metrics=train_metrics(psnr, "sweep-x", f"mimo_unet fusion={fusion}"),
            config={"seed": job + 1},
        )
        (run / "checkpoints").mkdir()
        ckpt = tiny_checkpoint(run / "checkpoints", seed=job)
        # three test images: the crops keep the two whose names sort first
        data = ["data=synthetic", *[o for o in TINY if o.startswith("data.")]]
        data = [o for o in data if "test_samples" not in o] + ["data.source.test_samples=3"]
        cfg = compose_config("eval", [f"ckpt_path={ckpt}", *data], sweep / "eval" / str(job))
        write_run(sweep / "eval" / str(job), config=OmegaConf.to_container(cfg))
        evaluate(cfg)
    return sweep


def _strips(text: str) -> list[list[tuple[str, str, bytes]]]:
    """Per figure of test crops: (kind, title, PNG bytes) of each image, in page order."""
    figures = re.findall(r'<figure>(<div class="crops">.*?)</figure>', text)
    found = re.compile(
        r'<img class="crop" src="data:image/png;base64,([^"]+)" alt="(\w+): ([^"]+)"'
    )
    return [
        [(kind, title, base64.b64decode(data)) for data, kind, title in found.findall(f)]
        for f in figures
    ]


def test_report_html_shows_every_runs_test_crops_and_they_load_in_a_browser(tmp_path, chromium):
    sweep = _sweep(tmp_path)
    main([str(sweep), "--out", str(tmp_path / "out")])
    page = tmp_path / "out" / "report.html"
    text = page.read_text()
    assert "<td>mimo_unet fusion=fam</td>" in text and "<td>30.50</td>" in text
    assert "mimo_unet, seed 2 (eval): blurry | output | sharp" in text
    assert "not comparable" not in text

    strips = _strips(text)
    assert len(strips) == 2  # one per evaluated run; the hand-written training runs saved none
    rows = (sweep / "eval" / "0" / "per_image.csv").read_text().split()[1:]
    names = sorted(row.split(",")[0] for row in rows)
    assert len(names) == 3  # three test images; the crops keep the two whose names sort first
    first = names[:2]
    for strip in strips:  # the first two test images by name, whole (40 x 52 < 256 px)
        assert [(kind, title) for kind, title, _ in strip] == [
            (kind, f"{name} [0:40, 0:52]") for name in first for kind in CROP_KINDS
        ]
    for (kind, _, one), (_, _, other) in zip(*strips, strict=True):
        assert (one == other) == (kind != "output"), kind  # same inputs, different networks
    evaluated = sweep / "eval" / "0"  # the files the evaluation saved
    saved = RunFolder(evaluated).crops_dir
    index = CropIndex.read(evaluated).crops
    files = [(saved / entry.file(kind)).read_bytes() for entry in index for kind in CROP_KINDS]
    assert [png for _, _, png in strips[0]] == files

    loaded, total = count_loaded_images(chromium, page, tmp_path)
    assert (loaded, total) == (13, 13)  # the plot and 2 runs x 2 images x 3 crops
    shot = tmp_path / "report.png"
    run_chromium(
        chromium,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1000,900",
        page.as_uri(),
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    if os.environ.get("DEBLURLAB_SCREENSHOTS"):  # refresh docs/images/report.png
        shutil.copy(shot, Path(os.environ["DEBLURLAB_SCREENSHOTS"]) / "report.png")


def test_the_browser_check_sees_a_broken_image(tmp_path, chromium):
    # the probe itself must be able to fail: one real PNG, one cut in half, one missing file
    write_image(tmp_path / "ok.png", load_builtin_photo("coffee")[:200, :200])
    whole = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "half.png").write_bytes(whole[: len(whole) // 2])
    page = tmp_path / "broken.html"
    images = "".join(f'<img src="{name}">' for name in ("ok.png", "half.png", "missing.png"))
    page.write_text(f"<html><body>{images}</body></html>")
    assert count_loaded_images(chromium, page, tmp_path) == (1, 3)
