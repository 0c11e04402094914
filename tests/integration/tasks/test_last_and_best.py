"""The end of training tests two models: the final one (the headline, what the papers' code
reports) and the best-by-validation checkpoint, each scored as deblurlab-eval would score it."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from deblurlab.run.task import run_task
from deblurlab.runfiles import TrainMetrics
from deblurlab.tasks.evaluate import evaluate
from deblurlab.tasks.train import train
from fixtures.config import TINY, compose_config

# three epochs, validation after the second only: the best checkpoint is the second epoch's
# weights and the final model has trained one more epoch, so the two differ; every test image
# is scored, so that deblurlab-eval of a checkpoint sees the same images
DIFFER = [
    "debug=smoke",
    "schedule.max_epochs=3",
    "trainer.check_val_every_n_epoch=2",
    "trainer.limit_test_batches=1.0",
]


@pytest.fixture(scope="module")
def differing_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("last_best")
    return out, run_task(train, compose_config("train", TINY + DIFFER, out))


def _mean_psnr(path: Path) -> float:
    with open(path, newline="") as f:
        return statistics.fmean(float(row["psnr"]) for row in csv.DictReader(f))


def _eval(checkpoint: Path, out: Path) -> dict:
    return evaluate(compose_config("eval", [f"ckpt_path={checkpoint}"], out))


def test_final_and_best_models_are_both_tested_and_the_final_one_is_the_headline(
    differing_run, tmp_path
):
    out, metrics = differing_run
    written = json.loads((out / "metrics.json").read_text())
    last, best = written["test/psnr_last"], written["test/psnr_best"]
    assert last != pytest.approx(best, abs=1e-6)  # two different models
    # each is the score deblurlab-eval gives that model's checkpoint (last.ckpt: the final weights)
    assert last == pytest.approx(
        _eval(out / "checkpoints/last.ckpt", tmp_path / "l")["psnr"], abs=1e-4
    )
    assert best == pytest.approx(
        _eval(out / "checkpoints/best.ckpt", tmp_path / "b")["psnr"], abs=1e-4
    )
    for metric in ("ssim", "ssim_matlab"):
        assert written[f"test/{metric}_last"] != written[f"test/{metric}_best"]
    assert "test/psnr" not in written  # one name per model, none ambiguous
    # per_image.csv is the headline's, per_image_best.csv the best one's
    assert _mean_psnr(out / "per_image.csv") == pytest.approx(last, abs=1e-6)
    assert _mean_psnr(out / "per_image_best.csv") == pytest.approx(best, abs=1e-6)
    read = TrainMetrics.read(out)
    assert (read.test_score("psnr"), read.test_score("psnr", "best")) == (last, best)
    # chosen at the only validation: after epoch 2 of 3 (2 batches each), on the val split
    assert (
        read.best_selected_on
        == f"val/psnr={written['val/psnr_best']:.2f} at epoch 2 (step 4) on val"
    )
    assert metrics == written


def test_the_printed_summary_leads_with_the_final_model(train_config, capsys):
    metrics = run_task(train, train_config(*DIFFER))
    lines = capsys.readouterr().out.splitlines()
    final = next(line for line in lines if "final model" in line)
    best = next(line for line in lines if "best model" in line)
    assert f"PSNR {metrics['test/psnr_last']:.2f} dB" in final and "headline" in final
    assert f"PSNR {metrics['test/psnr_best']:.2f} dB" in best
    assert metrics["best_selected_on"] in best
    assert lines.index(final) < lines.index(best)


def test_selection_on_images_held_out_of_training_is_named(train_config):
    metrics = run_task(train, train_config(*DIFFER, "data.val_from_train=2"))
    assert metrics["selected_on"] == "train_holdout"
    assert metrics["best_selected_on"].endswith(" on train_holdout")
    assert metrics["test/psnr_last"] != pytest.approx(metrics["test/psnr_best"], abs=1e-6)


def test_without_a_best_checkpoint_only_the_final_model_is_tested_and_the_summary_says_so(
    train_config, capsys
):
    # no validation ever runs (every 5th epoch of 2): no checkpoint is chosen
    cfg = train_config("debug=smoke", "trainer.check_val_every_n_epoch=5")
    metrics = run_task(train, cfg)
    assert "test/psnr_last" in metrics and metrics["best_selected_on"] is None
    assert not any(key.endswith("_best") and key.startswith("test/") for key in metrics)
    out = Path(cfg.paths.output_dir)
    assert (out / "per_image.csv").is_file() and not (out / "per_image_best.csv").exists()
    assert "best model   : none (no checkpoint was chosen" in capsys.readouterr().out


def test_train_false_tests_the_checkpoint_given_and_has_no_best(differing_run, train_config):
    out, metrics = differing_run
    cfg = train_config(*DIFFER, "train=false", f"ckpt_path={out}/checkpoints/best.ckpt")
    tested = run_task(train, cfg)
    assert tested["test/psnr_last"] == pytest.approx(metrics["test/psnr_best"], abs=1e-6)
    assert tested["best_selected_on"] is None and "test/psnr_best" not in tested
