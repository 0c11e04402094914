"""The command-line checks read arguments the way Hydra does: quotes, prefixes, sweeps, lists."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deblurlab.errors import ConfigError
from deblurlab.run.command_line import (
    check_command_line,
    check_group_choices,
    check_output_folder,
    check_run_dir_argument,
    read_command_line,
    resume_folder,
)

MODELS = "mimo_unet, mimo_unet_plus, mimo_unet_pp, sgenet"


def group_error(*argv: str) -> str | None:
    """The message check_group_choices gives for ``argv``, None when it passes."""
    try:
        check_group_choices(read_command_line(argv))
    except ConfigError as exc:
        return str(exc)
    return None


def test_quoted_values_are_read_without_their_quotes_and_escapes():
    line = read_command_line(["hydra.run.dir='/runs/a b'", 'paths.root_dir="/it\'s"'])
    assert line.text("hydra.run.dir") == "/runs/a b"
    assert line.text("paths.root_dir") == "/it's"
    escaped = read_command_line([r"resume='/runs/it\'s'"])
    assert resume_folder(escaped) == "/runs/it's"


def test_flags_are_hydras_not_overrides():
    line = read_command_line(["-m", "--config-dir", "/extra", "seed=1"])
    assert (line.multirun, line.config_dir) == (True, "/extra")
    assert [o.key_or_group for o in line.overrides] == ["seed"]


@pytest.mark.parametrize("prefix", ["", "+", "++"])
def test_a_group_option_is_checked_with_any_add_prefix(prefix):
    assert group_error(f"{prefix}model=mimo_unet_xl") == (
        f"model=mimo_unet_xl: no such option; choices: {MODELS}"
    )
    assert group_error(f"{prefix}model=sgenet") is None


def test_a_deleted_group_is_not_an_option():
    assert group_error("~model") is None
    assert group_error("~model=mimo_unet_xl") is None


@pytest.mark.parametrize(
    "override",
    [
        "model=sgenet,mimo_unet_xl",
        "model=choice(sgenet,mimo_unet_xl)",
        "model=[sgenet,mimo_unet_xl]",
    ],
)
def test_every_option_of_a_sweep_or_list_is_checked(override):
    assert group_error("-m", override) == f"model=mimo_unet_xl: no such option; choices: {MODELS}"


def test_valid_sweeps_lists_nulls_and_packages_pass():
    assert group_error("-m", "model=sgenet,mimo_unet", "data=[gopro,hide]") is None
    assert group_error("-m", "model=glob(mimo*)", "logger=null", "data@extra=gopro") is None
    assert group_error("model=gopr0") is not None and group_error("data@x=gopr0") is not None


def test_group_choices_are_not_checked_against_other_configs():
    assert group_error("--config-dir=/mine", "model=my_net") is None
    assert group_error("resume=/runs/one", "model=my_net") is None
    assert group_error("hydra.searchpath=[file:///mine]", "model=my_net") is None
    assert group_error("resume=null", "model=my_net") is not None


@pytest.mark.parametrize(
    ("override", "detail"),
    [
        ("w=a=b", "mismatched input '='"),
        ("seed", "missing EQUAL"),
        ("k='open", "a quote is not closed"),
        ("k=[1,2", "no viable alternative"),
    ],
)
def test_a_bad_override_is_one_line_naming_it(override, detail):
    with pytest.raises(ConfigError) as error:
        read_command_line(["seed=1", override])
    message = str(error.value)
    assert message.startswith(f"{override}: not a valid override (") and detail in message
    assert "\n" not in message


def test_a_bad_override_stops_the_command_in_one_line_exit_2(monkeypatch, capsys):
    seen: list[object] = []
    monkeypatch.setattr(sys, "argv", ["deblurlab-train", "data.root=a=b"])
    with pytest.raises(SystemExit) as stopped:
        check_command_line(seen.append)
    assert stopped.value.code == 2 and seen == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: data.root=a=b: not a valid override")


def test_checks_read_the_arguments_a_previous_check_rewrote(monkeypatch):
    seen: list[tuple[str, ...]] = []
    monkeypatch.setattr(sys, "argv", ["deblurlab-train", "seed=1"])

    def rewrite(_line) -> None:
        sys.argv[1:] = ["seed=2"]

    check_command_line(rewrite, lambda line: seen.append(line.argv))
    assert seen == [("seed=2",)]


def test_the_last_override_of_a_key_wins_and_a_delete_unsets_it():
    line = read_command_line(["seed=1", "seed=2"])
    assert line.value("seed") == 2
    assert read_command_line(["seed=1", "~seed"]).value("seed") is None
    with pytest.raises(ConfigError, match="^resume: one value expected, got resume=a,b$"):
        resume_folder(read_command_line(["resume=a,b"]))


def _blocked(tmp_path: Path) -> Path:
    """A file where a folder would be needed: not even root can make a folder under it."""
    (tmp_path / "file").write_text("mine")
    return tmp_path / "file"


def test_an_unwritable_quoted_run_dir_is_named_unquoted(tmp_path):
    blocked = _blocked(tmp_path)
    with pytest.raises(ConfigError) as error:
        check_output_folder(read_command_line([f"hydra.run.dir='{blocked}/a b'"]))
    assert str(error.value) == f"hydra.run.dir={blocked}/a b: {blocked} is not a writable folder"


def test_a_multirun_checks_the_sweep_folder_not_the_run_folder(tmp_path):
    blocked = _blocked(tmp_path)
    sweep = [f"hydra.sweep.dir={blocked}/sweep", f"hydra.run.dir={tmp_path}/run"]
    check_output_folder(read_command_line(sweep))  # one run: its run folder is fine
    with pytest.raises(ConfigError, match=r"^hydra\.sweep\.dir="):
        check_output_folder(read_command_line(["-m", *sweep]))


def test_the_default_log_dir_follows_a_quoted_root_override(tmp_path, monkeypatch):
    blocked = _blocked(tmp_path)
    monkeypatch.setenv("DEBLURLAB_ROOT", str(tmp_path))
    check_output_folder(read_command_line([]))
    with pytest.raises(ConfigError) as error:
        check_output_folder(read_command_line([f"+paths.root_dir='{blocked}'"]))
    assert str(error.value) == (
        f"paths.log_dir={blocked}/experiments/runs: {blocked} is not a writable folder "
        "(set DEBLURLAB_ROOT=... or hydra.run.dir=...)"
    )
    check_output_folder(read_command_line(["-m", f"paths.root_dir={blocked},{tmp_path}"]))


def test_a_run_dir_that_holds_a_run_is_refused_unless_resumed(tmp_path):
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    argv = [f"hydra.run.dir='{tmp_path}/old'"]
    with pytest.raises(ConfigError, match="already holds a run; continue it with resume="):
        check_run_dir_argument(read_command_line(argv))
    check_run_dir_argument(read_command_line([*argv, f"resume={tmp_path}/old"]))
    check_run_dir_argument(read_command_line([f"hydra.run.dir={tmp_path}/new"]))


def test_a_run_dir_holding_a_run_with_its_identity_is_left_to_the_job(tmp_path):
    # the job skips, continues or refuses it (deblurlab.run.resume.continue_in_place)
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    (tmp_path / "old" / "run.json").write_text("{}")
    check_run_dir_argument(read_command_line([f"hydra.run.dir={tmp_path}/old"]))
