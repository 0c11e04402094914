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
