"""The run folder's files: each one written and read back through the same class, in the layout
the report, the docs and older runs expect (tests/e2e/test_runfiles.py: without torch)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from deblurlab.errors import DataError
from deblurlab.runfiles import (
    CROP_KINDS,
    CropEntry,
    CropIndex,
    EvalSummary,
    ImageScores,
    RunFolder,
    RunIdentity,
    SweepEvaluation,
    TrainMetrics,
    read_per_image,
    write_per_image,
)


def test_the_layout_of_a_run_folder():
    folder = RunFolder(Path("/runs/a"))
    assert [
        p.relative_to("/runs/a").as_posix()
        for p in (
            folder.run_json,
            folder.metrics_json,
            folder.summary_json,
            folder.per_image_csv,
            folder.crops_index,
            folder.hydra_config,
        )
    ] == [
        "run.json",
        "metrics.json",
        "summary.json",
        "per_image.csv",
        "images/test_crops/crops.json",
        ".hydra/config.yaml",
    ]
    assert RunFolder.of_checkpoint("/runs/a/checkpoints/best.ckpt") == folder


def test_run_identity_round_trips_and_a_claimed_empty_file_is_no_identity(tmp_path):
    assert RunIdentity.read(tmp_path) is None
    (tmp_path / "run.json").touch()  # a folder claimed by a run that has not named itself yet
    assert RunIdentity.read(tmp_path) is None
    identity = RunIdentity("mimo_unet seed=2", None, ["paper", "gopro"], "0123abcd4567", "g")
    identity.write(tmp_path)
    assert json.loads((tmp_path / "run.json").read_text()) == {
        "name": "mimo_unet seed=2",
        "group": None,
        "tags": ["paper", "gopro"],
        "wandb_id": "0123abcd4567",
        "wandb_group": "g",
    }
    assert RunIdentity.read(tmp_path) == identity


def test_train_metrics_are_one_flat_object_and_unknown_metrics_survive(tmp_path):
    metrics = TrainMetrics(
        scores={"val/psnr": 30.5, "test/psnr": math.nan, "test/device": "cpu", "my/metric": 7.0},
        protocol="realblur",
        model="mimo_unet",
        name="mimo_unet lr=0.001",
        group="sweep-x",
        num_params=123,
        macs_size=[256, 256],
    )
    metrics.write(tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["val/psnr"] == 30.5 and written["my/metric"] == 7.0
    assert written["test/psnr"] is None  # strict JSON
    assert (written["protocol"], written["model"], written["num_params"]) == (
        "realblur",
        "mimo_unet",
        123,
    )
    assert "scores" not in written
    read = TrainMetrics.read(tmp_path)
    assert read.scores == {**metrics.scores, "test/psnr": None}
    assert read.to_dict() == written
    assert (read.score("val/psnr"), read.score("test/psnr"), read.score("test/device")) == (
        30.5,
        None,
        None,
    )
    assert read.macs_size == [256, 256] and read.selected_on is None


def test_the_final_and_best_models_test_scores_and_an_older_runs_single_one():
    both = TrainMetrics(
        scores={"test/psnr_last": 30.0, "test/psnr_best": 30.4, "test/ssim_last": 0.9},
        protocol="gopro",
        model="m",
        best_selected_on="val/psnr=30.10 at epoch 3 (step 12) on test",
    )
    assert (both.test_score("psnr"), both.test_score("psnr", "best")) == (30.0, 30.4)
    assert both.test_score("ssim", "best") is None and both.tested
    read = TrainMetrics.from_dict(both.to_dict())
    assert read.best_selected_on == both.best_selected_on and "best_selected_on" not in read.scores
    # written before both were tested: its one test/psnr is of the best checkpoint
    older = TrainMetrics(scores={"test/psnr": 29.0}, protocol="gopro", model="m")
    assert (older.test_score("psnr", "best"), older.test_score("psnr")) == (29.0, None)
    assert older.tested and not TrainMetrics(protocol="gopro", model="m").tested
    with pytest.raises(ValueError, match="'last' or 'best'"):
        both.test_score("psnr", "final")


def test_a_sweep_evaluation_record_round_trips(tmp_path):
    record = SweepEvaluation(
        sweep="/runs/multirun/x", checkpoint="last.ckpt", scored=["/ev/0"], refused={"/r/1": "why"}
    )
    record.write(tmp_path)
    assert json.loads((tmp_path / "sweep.json").read_text())["refused"] == {"/r/1": "why"}
    assert SweepEvaluation.read(tmp_path) == record


def test_a_named_field_wins_over_a_kept_key_of_the_same_name():
    metrics = TrainMetrics(scores={"protocol": "stale"}, protocol="gopro", model="m")
    assert metrics.to_dict()["protocol"] == "gopro"
    summary = EvalSummary(protocol="gopro", checkpoint="c", split="test", psnr=1.0, ssim=1.0)
    summary.extra["protocol"] = "stale"
    assert summary.to_dict()["protocol"] == "gopro"


@pytest.mark.parametrize(
    ("cls", "name", "data", "missing"),
    [
        (TrainMetrics, "metrics.json", {"model": "m", "val/psnr": 1.0}, "protocol"),
        (EvalSummary, "summary.json", {"protocol": "gopro", "psnr": 1, "ssim": 1}, "checkpoint"),
    ],
)
def test_a_file_without_a_required_key_is_one_line_naming_file_and_key(
    tmp_path, cls, name, data, missing
):
    (tmp_path / name).write_text(json.dumps(data))
    with pytest.raises(DataError, match=rf"{name}: missing .*{missing}"):
        cls.read(tmp_path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_an_unreadable_file_is_one_line_naming_it(tmp_path, text):
    (tmp_path / "summary.json").write_text(text)
    with pytest.raises(DataError, match="summary.json"):
        EvalSummary.read(tmp_path)


def _summary(**changes) -> EvalSummary:
    values = dict(
        protocol="gopro",
        model="mimo_unet",
        checkpoint="/runs/a/checkpoints/best.ckpt",
        split="test",
        ensemble="rot4",
        num_images=2,
        psnr=30.0,
        ssim=0.9,
        median_seconds=0.25,
    )
    return EvalSummary(**{**values, **changes})


def test_eval_summary_round_trips_and_writes_matlab_ssim_only_when_measured(tmp_path):
    plain = _summary()
    plain.write(tmp_path)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert {"ssim_matlab", "input_ssim_matlab", "ssim_matlab_variant", "extra"}.isdisjoint(written)
    assert written["tile"] is None and written["ensemble"] == "rot4"
    assert EvalSummary.read(tmp_path) == plain

    matlab = _summary(ssim_matlab=0.91, input_ssim_matlab=0.8, ssim_matlab_variant="2D")
    matlab.write(tmp_path)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert (written["ssim_matlab"], written["ssim_matlab_variant"]) == (0.91, "2D")
    assert EvalSummary.read(tmp_path) == matlab


def test_eval_summary_keeps_keys_it_does_not_know(tmp_path):
    (tmp_path / "summary.json").write_text(
        json.dumps({**_summary().to_dict(), "written_by": "a later version"})
    )
    read = EvalSummary.read(tmp_path)
    assert read.extra == {"written_by": "a later version"}
    assert read.to_dict()["written_by"] == "a later version"


def test_per_image_scores_round_trip_exactly_and_leave_out_empty_columns(tmp_path):
    rows = [
        ImageScores(
            name="GOPR0384_11_00/000001.png",
            psnr=30.123456789012345,
            ssim=0.9,
            input_psnr=25.0,
            input_ssim=0.8,
            seconds=0.1,
        ),
        ImageScores(
            name="b.png", psnr=31.0, ssim=0.91, input_psnr=26.0, input_ssim=0.7, seconds=0.2
        ),
    ]
    write_per_image(tmp_path, rows)
    lines = (tmp_path / "per_image.csv").read_text().splitlines()
    assert lines[0] == "name,psnr,ssim,input_psnr,input_ssim,seconds"
    assert read_per_image(tmp_path) == rows

    with_matlab = [
        ImageScores(**{**vars(r), "ssim_matlab": 0.5, "input_ssim_matlab": 0.4}) for r in rows
    ]
    write_per_image(tmp_path, with_matlab)
    header = (tmp_path / "per_image.csv").read_text().splitlines()[0]
    assert header == "name,psnr,ssim,ssim_matlab,input_psnr,input_ssim,input_ssim_matlab,seconds"
    assert read_per_image(tmp_path) == with_matlab
    # a training run's best-by-validation model: its own file beside the final model's
    write_per_image(tmp_path, rows, best=True)
    assert RunFolder(tmp_path).per_image_best_csv == tmp_path / "per_image_best.csv"
    assert read_per_image(tmp_path, best=True) == rows
    assert read_per_image(tmp_path) == with_matlab


def test_crop_files_are_named_by_position_and_a_safe_form_of_the_image_name(tmp_path):
    entry = CropEntry.named(1, "GOPR0384 11/000001.png", (4, 8, 32, 40))
    assert [entry.file(kind) for kind in CROP_KINDS] == [
        f"1_GOPR0384_11_000001_{kind}.png" for kind in ("blurry", "output", "sharp")
    ]
    index = CropIndex(256, [entry, CropEntry.named(2, "b.png", (0, 0, 10, 10))])
    index.write(tmp_path)
    written = json.loads((tmp_path / "images" / "test_crops" / "crops.json").read_text())
    assert written["size"] == 256
    assert written["crops"][0] == {
        "name": "GOPR0384 11/000001.png",
        "box": [4, 8, 32, 40],
        "blurry": "1_GOPR0384_11_000001_blurry.png",
        "output": "1_GOPR0384_11_000001_output.png",
        "sharp": "1_GOPR0384_11_000001_sharp.png",
    }
    assert CropIndex.read(tmp_path) == index


def test_a_run_without_crops_has_no_index_and_a_broken_index_is_an_error(tmp_path):
    assert CropIndex.read(tmp_path) is None
    path = tmp_path / "images" / "test_crops" / "crops.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"size": 8, "crops": [{"name": "a.png"}]}))
    with pytest.raises(DataError, match="crops.json: not a test-crop index"):
        CropIndex.read(tmp_path)
