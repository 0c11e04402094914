"""The end-of-run summary says whether the network's gain is more than the test set's noise: the
mean per-image gain with its 95% interval, how many images improved, and where to look."""

from __future__ import annotations

import csv
import re
import statistics
from pathlib import Path

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train

TWELVE_TEST_IMAGES = [
    "debug=smoke",
    "data.source.test_samples=12",
    "trainer.limit_test_batches=1.0",
]
GAIN = re.compile(
    r"gain \(final\) : ([-+]\d+\.\d+) \[([-+]\d+\.\d+), ([-+]\d+\.\d+)\] dB .* over (\d+) images, "
    r"(beyond|within) the test set's noise\); (\d+) of (\d+) images improved"
)


def test_the_summary_gives_the_gain_with_its_interval_and_the_images_improved(train_config, capsys):
    cfg = train_config(*TWELVE_TEST_IMAGES)
    run_task(train, cfg)
    out = capsys.readouterr().out
    found = GAIN.search(out)
    assert found, out
    mean, low, high, n, verdict, improved, total = found.groups()
    with open(Path(cfg.paths.output_dir) / "per_image.csv", newline="") as f:
        gains = [float(r["psnr"]) - float(r["input_psnr"]) for r in csv.DictReader(f)]
    assert int(n) == int(total) == len(gains) == 12
    assert float(mean) == round(statistics.fmean(gains), 2)
    assert float(low) <= float(mean) <= float(high) and float(low) < float(high)
    assert int(improved) == sum(g > 0 for g in gains)
    assert verdict == ("beyond" if float(low) > 0 or float(high) < 0 else "within")
    zoom = next(line for line in out.splitlines() if "zoomed in" in line).split(": ", 1)[1]
    assert Path(zoom).is_file()
