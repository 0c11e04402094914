"""The quick start scores the best single linear filter on its test images beside the network, so
its summary can tell a learned gain from one any fixed filter gives."""

from __future__ import annotations

import math

from deblurlab.run.task import run_task
from deblurlab.tasks.train import train
from fixtures.config import TINY, compose_config


def test_the_quickstart_logs_the_linear_filters_test_psnr_and_the_summary_compares(
    tmp_path, capsys
):
    overrides = [
        "experiment=quickstart",
        *TINY,
        "debug=smoke",
        "callbacks.linear_baseline.size=1",
        "callbacks.linear_baseline.fit_batches=4",
    ]
    metrics = run_task(train, compose_config("train", overrides, tmp_path))
    baseline, blurry = metrics["test/linear_filter_psnr"], metrics["test/input_psnr"]
    assert math.isfinite(baseline)
    # a 1 x 1 filter is a gain and an offset fitted to training pairs of the same brightness: near
    # "leave it as it is" (least squares lowers the squared error, not always the mean PSNR), scored
    # like the network's output on the same images; pixels read in the wrong units land far off
    assert abs(baseline - blurry) < 2.0
    assert baseline != blurry
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "linear filter" in ln)
    network_gain = metrics["test/psnr_last"] - blurry  # the mean of the per-image gains
    above = network_gain - (baseline - blurry)
    assert f"filter: {baseline - blurry:+.2f} dB" in line
    assert f"the network is {abs(above):.2f} dB {'above' if above >= 0 else 'below'} it" in line
