"""resume=DIR rewrites the command line so that Hydra reads back the run's own folder and checkpoint."""

from __future__ import annotations

import re

import pytest

from deblurlab.errors import ConfigError
from deblurlab.run.command_line import read_command_line
from deblurlab.run.resume import resume_argv


def _run_folder(parent, name: str):
    run = parent / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    return run


def test_a_quoted_folder_with_spaces_and_quotes_round_trips(tmp_path):
    run = _run_folder(tmp_path, "it's a run")
    argv = resume_argv([f'resume="{run}"', "data.root='/data/a b'", "-c", "job"])
    line = read_command_line(argv)
    assert line.text("resume") == str(run)
    assert line.text("hydra.run.dir") == str(run)
    assert line.text("ckpt_path") == str(run / "checkpoints" / "last.ckpt")
    assert argv[-3:] == ["data.root='/data/a b'", "-c", "job"]  # the rest kept as typed


@pytest.mark.parametrize("given", ["ckpt_path=/other.ckpt", "+ckpt_path='/other.ckpt'"])
def test_the_users_start_checkpoint_is_replaced_by_the_runs_last(tmp_path, given):
    run = _run_folder(tmp_path, "run")
    argv = resume_argv([f"resume={run}", given])
    assert given not in argv
    assert read_command_line(argv).text("ckpt_path") == str(run / "checkpoints" / "last.ckpt")


def test_resume_null_leaves_the_command_line_alone_and_a_sweep_is_refused(tmp_path):
    assert resume_argv(["resume=null", "seed=1"]) == ["resume=null", "seed=1"]
    with pytest.raises(ConfigError, match="drop -m"):
        resume_argv(["--multirun", f"resume={_run_folder(tmp_path, 'run')}"])


@pytest.mark.parametrize("given", ["logger=csv", "+model=sgenet", "debug=smoke"])
def test_a_group_choice_on_resume_is_one_line_naming_it(tmp_path, given):
    run = _run_folder(tmp_path, "run")
    with pytest.raises(ConfigError, match=re.escape(f"{given} chooses a config group")) as error:
        resume_argv([f"resume={run}", given])
    assert "\n" not in str(error.value)
    # keys inside a group still change the resumed run
    assert resume_argv([f"resume={run}", "logger.csv.name=x"])[-1] == "logger.csv.name=x"


# --- a job whose folder already holds a run ------------------------------------------------------


def _held_run(run, config: str = "seed: 1\nmodel:\n  name: mimo\n", last: bool = True):
    """A run folder as a training job leaves it: run.json, .hydra/config.yaml, maybe last.ckpt."""
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(config)
    (run / "run.json").write_text('{"name": "mimo", "wandb_id": "abc"}')
    if last:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    return run


def _job_config(text: str = "seed: 1\nmodel:\n  name: mimo\n"):
    from omegaconf import OmegaConf

    return OmegaConf.create(text + "resume: null\nckpt_path: null\n")


def test_hydra_writes_its_record_only_into_a_folder_that_holds_no_run(tmp_path):
    from deblurlab.run.config import record_subdir

    assert record_subdir(str(tmp_path / "new")) == ".hydra"
    assert record_subdir(str(_held_run(tmp_path / "run"))) is None


def test_config_differences_name_changed_added_and_removed_keys_but_not_how_it_started():
    from omegaconf import OmegaConf

    from deblurlab.run.resume import config_differences

    old = OmegaConf.create({"a": {"b": 1, "c": [1, 2]}, "d": "${a.b}", "resume": None, "x": 1})
    new = OmegaConf.create({"a": {"b": 1, "c": [1, 3]}, "d": "${a.b}", "resume": "/r", "y": 1})
    assert config_differences(old, new) == ["a.c", "x", "y"]
    assert config_differences(old, old) == []


def test_a_job_continues_the_interrupted_run_of_its_config_in_place(tmp_path, capsys):
    from deblurlab.run.resume import continue_in_place

    run = _held_run(tmp_path / "run")
    cfg = _job_config()
    assert continue_in_place(cfg, run).finished is None
    assert (cfg.resume, cfg.ckpt_path) == (str(run), str(run / "checkpoints" / "last.ckpt"))
    assert capsys.readouterr().out == f"resuming: {run} from {run}/checkpoints/last.ckpt\n"
    fresh = _job_config()
    assert continue_in_place(fresh, tmp_path / "new").restart is False
    assert fresh.resume is None  # no run there: a new run


def test_a_finished_run_is_skipped_and_a_run_without_checkpoint_restarts(tmp_path, capsys):
    from deblurlab.run.resume import continue_in_place

    done = _held_run(tmp_path / "done")
    (done / "metrics.json").write_text('{"model": "mimo", "protocol": "gopro", "test/psnr": 30.0}')
    cfg = _job_config()
    assert continue_in_place(cfg, done).finished["test/psnr"] == 30.0
    assert cfg.resume is None
    assert capsys.readouterr().out == f"skipped: {done} finished\n"
    early = _held_run(tmp_path / "early", last=False)
    assert continue_in_place(_job_config(), early, announce=False).restart is True
    assert capsys.readouterr().out == ""


def test_a_run_of_another_config_is_refused_naming_the_keys_even_when_finished(tmp_path):
    from deblurlab.run.resume import continue_in_place

    run = _held_run(tmp_path / "run")
    (run / "metrics.json").write_text('{"model": "mimo", "protocol": "gopro", "test/psnr": 30.0}')
    with pytest.raises(ConfigError) as info:
        continue_in_place(_job_config("seed: 2\nmodel:\n  name: other\n"), run)
    assert str(info.value) == (
        f"{run}: holds a run of another config (differs in model.name, seed); run the command "
        "that started it, or choose another folder"
    )


def _sweep_folder(folder, *overrides: str):
    from omegaconf import OmegaConf

    folder.mkdir(parents=True)
    OmegaConf.save({"hydra": {"overrides": {"task": list(overrides)}}}, folder / "multirun.yaml")
    return folder


def test_a_sweep_folder_takes_only_the_command_that_made_it(tmp_path):
    from deblurlab.run.resume import check_sweep_folder

    sweep = _sweep_folder(tmp_path / "s", "experiment=ablation_table3", "seed=1,2")

    def check(*argv: str) -> None:
        check_sweep_folder(read_command_line(["-m", *argv, f"hydra.sweep.dir={sweep}"]))

    check("experiment=ablation_table3", "seed=1,2")
    check("experiment=ablation_table3", "seed=1,2", "launcher=slurm")  # completed elsewhere
    with pytest.raises(ConfigError) as info:
        check("experiment=ablation_table3", "seed=1,2,3")
    assert str(info.value) == (
        f"hydra.sweep.dir={sweep}: holds a sweep of another command (experiment=ablation_table3 "
        "seed=1,2); re-run that command to complete it, or choose another folder"
    )
    check_sweep_folder(read_command_line(["-m", f"hydra.sweep.dir={tmp_path / 'new'}"]))
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("")
    with pytest.raises(ConfigError, match="no multirun.yaml"):
        check_sweep_folder(read_command_line(["-m", f"hydra.sweep.dir={tmp_path / 'files'}"]))
