"""An explicit ``run_name=...`` is honoured: kept as given for one run (train and eval alike), and
``<run_name>/<overrides>`` for each job of a sweep, so the jobs keep distinct names."""

from __future__ import annotations

import pytest

from deblurlab.run.identity import Launch, apply_eval_identity, new_identity
from deblurlab.runfiles import EvalSummary
from fixtures.config import compose_config

SWEEP = "/runs/multirun/2026-01-01/12-00-00"


def test_an_explicit_name_is_kept_for_one_run(tmp_path) -> None:
    cfg = compose_config("train", ["run_name=baseline", "seed=3"], tmp_path)
    identity = new_identity(cfg, Launch(overrides=("run_name=baseline", "seed=3")))
    assert identity.name == "baseline"


def test_sweep_jobs_with_an_explicit_name_get_distinct_names(tmp_path) -> None:
    names = []
    for seed in (1, 2):
        overrides = ("run_name=baseline", f"seed={seed}", "model.net.fusion=sum", "logger=csv")
        cfg = compose_config("train", list(overrides), tmp_path)
        names.append(new_identity(cfg, Launch(overrides=overrides, sweep_dir=SWEEP)).name)
    assert names == ["baseline/seed=1 fusion=sum", "baseline/seed=2 fusion=sum"]


def _summary() -> EvalSummary:
    return EvalSummary(
        protocol="gopro", checkpoint="/runs/a/best.ckpt", split="test", psnr=30.0, ssim=0.9
    )


def test_eval_keeps_an_explicit_name_in_wandb(tmp_path) -> None:
    overrides = ["ckpt_path=/runs/a/best.ckpt", "logger=wandb", "run_name=hide-rot4"]
    cfg = compose_config("eval", overrides, tmp_path)
    apply_eval_identity(cfg, None, _summary(), Launch(overrides=tuple(overrides)))
    assert cfg.logger.wandb.name == "hide-rot4"
    plain = compose_config("eval", overrides[:2], tmp_path)
    apply_eval_identity(plain, None, _summary(), Launch(overrides=tuple(overrides[:2])))
    assert plain.logger.wandb.name.startswith("eval best.ckpt on test")


def test_an_eval_sweep_names_each_job_after_the_explicit_name(tmp_path) -> None:
    import deblurlab.tasks.evaluate_sweep as sweeping
    from deblurlab.errors import DataError

    sweep = tmp_path / "multirun"
    for job in ("0", "1"):
        run = sweep / job
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "config.yaml").write_text("seed: 1\n")
        (run / "metrics.json").write_text("{}")
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.ckpt").touch()
    names: list[str] = []

    def evaluate(job_cfg) -> None:  # records the name, then refuses (nothing to score here)
        names.append(str(job_cfg.run_name))
        raise DataError("fake run")

    cfg = compose_config("eval", [f"sweep={sweep}", "run_name=base"], tmp_path / "out")
    with pytest.raises(DataError):  # every run refused
        sweeping.evaluate_sweep(cfg, evaluate)
    assert names == ["base/0", "base/1"]
