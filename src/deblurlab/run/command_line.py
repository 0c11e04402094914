"""Checks of a command's arguments before Hydra composes anything, read the way Hydra reads them.

Hydra's own argument parser separates its flags (``-m``, ``--config-dir``, ...) from the overrides,
and its override grammar reads each override (quotes, ``+key=``, ``++key=``, ``~key``, sweeps
``a,b`` and ``choice(a,b)``, lists ``key=[a,b]``), so a check sees exactly what the composed config
will. Each check fails in one line naming the key (exit 2):

- :func:`check_group_choices`: every ``group=option`` names an option that exists;
- :func:`check_run_dir_argument`: an explicit ``hydra.run.dir`` does not hold a run already;
- :func:`check_output_folder`: the folder the run folder goes in can be created and written.

Nothing here imports torch: the commands run these checks on ``--help`` too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override
from hydra.errors import OverrideParseException

from deblurlab.errors import ConfigError, DeblurlabError
from deblurlab.run.config import config_groups, config_root
from deblurlab.run.preflight import holds_run, run_folder_taken
from deblurlab.run.task import EXIT_USER_ERROR


@dataclass(frozen=True)
class CommandLine:
    """A command's arguments (without the program name) as Hydra reads them."""

    argv: tuple[str, ...]
    multirun: bool
    config_path: str | None
    config_dir: str | None
    overrides: tuple[Override, ...]

    def find(self, key: str) -> Override | None:
        """The override Hydra applies last to ``key`` (``key=``, ``+key=``, ``++key=``, ``~key``;
        any ``@package``), else None."""
        return next((o for o in reversed(self.overrides) if o.key_or_group == key), None)

    def value(self, key: str) -> Any:
        """The value ``key`` is set to: a plain value, a list, a sweep (``a,b``, ``range(...)``,
        ``glob(...)``), or None (not set on the command line, set to ``null``, or deleted with
        ``~key``)."""
        found = self.find(key)
        return None if found is None or found.is_delete() else found.value()

    def text(self, key: str) -> str | None:
        """``key``'s single value as text (``'a b'`` -> ``a b``); None when unset, null or empty."""
        found = self.find(key)
        if found is None or found.is_delete():
            return None
        value = found.value()
        if found.is_sweep_override() or isinstance(value, list | dict):
            raise ConfigError(f"{key}: one value expected, got {found.input_line}")
        return None if value is None or value == "" else str(value)


def _parse_error(exc: OverrideParseException) -> ConfigError:
    """Hydra's several-line parse error as one line naming the override."""
    lines = [ln for ln in str(exc.message).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Error parsing override", "See https://"))]
    detail = lines[0] if lines else "cannot be read"
    if detail.startswith("LexerNoViableAltException"):
        detail = "a quote is not closed, or a character needs quoting"
    return ConfigError(
        f"{exc.override}: not a valid override ({detail}); quote a value that holds spaces "
        "or = , [ ] ( ) { }, e.g. key='a=b'"
    )


def read_overrides(overrides: Sequence[str]) -> list[Override]:
    """Parse ``key=value`` strings with Hydra's override grammar; a bad one is one ConfigError line."""
    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except OverrideParseException as exc:
        raise _parse_error(exc) from None


def read_command_line(argv: Sequence[str]) -> CommandLine:
    """Split ``argv`` with Hydra's own argument parser and parse its overrides.

    An unknown flag exits with argparse's usage message, exactly as Hydra itself would.
    """
    # Hydra's parser, not a copy of its flags: the commands accept exactly what @hydra.main accepts
    from hydra._internal.utils import get_args_parser

    args = get_args_parser().parse_args(list(argv))
    return CommandLine(
        argv=tuple(argv),
        multirun=bool(args.multirun),
        config_path=args.config_path,
        config_dir=args.config_dir,
        overrides=tuple(read_overrides(args.overrides)),
    )


def resume_folder(command_line: CommandLine) -> str | None:
    """The run folder that ``resume=DIR`` continues, else None (``resume=null`` too)."""
    return command_line.text("resume")


def check_group_choices(command_line: CommandLine) -> None:
    """Every ``group=option`` (also ``+group=``, sweeps ``group=a,b`` and lists ``group=[a,b]``)
    names an option of the shipped config group; one line listing the choices otherwise (Hydra
    would print several lines, and an ``optional`` group would ignore the typo). Skipped when the
    configs come from elsewhere (another config folder or search path, a resumed run's record)."""
    if command_line.config_dir or command_line.config_path or resume_folder(command_line):
        return
    if any(o.key_or_group.startswith("hydra.searchpath") for o in command_line.overrides):
        return
    groups = config_groups()
    for override in command_line.overrides:
        key = override.key_or_group
        if key not in groups or override.is_delete():
            continue
        value = override.value()
        if isinstance(value, ChoiceSweep):
            options = list(value.list)
        elif override.is_sweep_override():
            continue  # glob(...), range(...): Hydra expands them against the group's folder
        else:
            options = value if isinstance(value, list) else [value]
        for option in options:
            if option is None or option == "":
                continue
            if str(option) not in groups[key]:
                raise ConfigError(
                    f"{key}={option}: no such option; choices: {', '.join(groups[key])}"
                )


def check_run_dir_argument(command_line: CommandLine) -> None:
    """Before Hydra writes its record into an explicit ``hydra.run.dir=DIR``: refuse a DIR that
    holds a run it cannot continue (unless this is ``resume=DIR``, or a DDP rank > 0 joining its
    rank 0). A run with its ``run.json`` is the job's to skip, continue or refuse
    (:func:`deblurlab.run.resume.continue_in_place`): a requeued sbatch script finds it there."""
    if resume_folder(command_line):
        return
    try:
        value = command_line.text("hydra.run.dir")
    except ConfigError:  # a sweep: only a multirun takes one, and it writes into hydra.sweep.dir
        return
    if value is None:
        return
    # Lightning, for the rank, is imported only when a folder is named: --help stays light
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank != 0:
        return
    folder = Path(value).expanduser()
    if holds_run(folder) and not (folder / "run.json").is_file():
        raise run_folder_taken(folder)


def default_log_dir(command_line: CommandLine) -> Path:
    """``paths.log_dir`` as the command line will resolve it (the shipped paths config, with the
    command line's ``paths.root_dir`` / ``paths.log_dir`` and ``DEBLURLAB_ROOT``): run folders are
    made under it."""
    from omegaconf import OmegaConf

    paths = OmegaConf.load(config_root() / "paths" / "default.yaml")
    for key in ("root_dir", "log_dir"):
        value = command_line.text(f"paths.{key}")
        if value is not None:
            paths[key] = value
    return Path(str(OmegaConf.create({"paths": paths}).paths.log_dir)).expanduser()


def check_output_folder(command_line: CommandLine) -> None:
    """Before Hydra creates the run folder: the folder it goes in (``hydra.run.dir``, with
    ``-m`` ``hydra.sweep.dir``, else under ``paths.log_dir``) can be created and written.
    Otherwise one line naming the key and the first folder on the way that is not writable."""
    import os

    key = "hydra.sweep.dir" if command_line.multirun else "hydra.run.dir"
    try:
        value = command_line.text(key)
        if value is None:
            key, folder = "paths.log_dir", default_log_dir(command_line)
        else:
            folder = Path(value).expanduser()
    except Exception:  # a sweep or an interpolation only Hydra can resolve: Hydra reports on it
        return
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
        hint = "" if value is not None else " (set DEBLURLAB_ROOT=... or hydra.run.dir=...)"
        raise ConfigError(f"{key}={folder}: {existing} is not a writable folder{hint}")


def check_command_line(*checks: Callable[[CommandLine], None]) -> None:
    """Run ``checks`` in turn on this process's arguments, read afresh for each (a check may
    rewrite them: train's ``resume=``); a user error is one line on stderr, exit 2."""
    try:
        for check in checks:
            check(read_command_line(sys.argv[1:]))
    except DeblurlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
