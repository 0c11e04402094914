"""``resume=<run dir>``: continue a run in its own folder, with its config and last checkpoint.

Hydra composes a config before any task code runs, so the command line is rewritten first:
``deblurlab-train resume=DIR [key=value ...]`` becomes a Hydra command line that composes
``DIR/.hydra/config.yaml`` (the run's own config, not today's ``conf/``), writes into ``DIR``
(``hydra.run.dir``) and starts from ``DIR/checkpoints/last.ckpt``. Further ``key=value`` overrides
still apply (e.g. more epochs: ``schedule.max_epochs=4000``). The original ``DIR/.hydra`` record is
kept; the resumed job's own record goes to ``DIR/.hydra-resume`` (outside ``.hydra``: a folder
there would become a config group of the next resume and clash with ``resume=``).
"""

from __future__ import annotations

from pathlib import Path

from deblurlab.errors import ConfigError
from deblurlab.run.command_line import read_command_line, resume_folder
from deblurlab.run.config import config_groups
from deblurlab.runfiles import RunFolder

RESUME_RECORD = ".hydra-resume"
REPLACED = ("resume", "ckpt_path")  # set by the rewrite: the run's folder and its last.ckpt


def _quote(value: str) -> str:
    """A Hydra override value that stays one string whatever characters the path holds."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def last_checkpoint(run_dir: Path) -> Path:
    """``run_dir/checkpoints/last.ckpt``, with a one-line error when the run cannot be continued."""
    files = RunFolder(run_dir)
    if not files.hydra_config.is_file():
        raise ConfigError(f"resume={run_dir}: not a deblurlab run folder (no .hydra/config.yaml)")
    ckpt = files.checkpoints / "last.ckpt"
    if not ckpt.is_file():
        raise ConfigError(f"resume={run_dir}: no checkpoints/last.ckpt to continue from")
    return ckpt


def resume_argv(argv: list[str]) -> list[str]:
    """Rewrite ``argv`` (without the program name) for ``resume=<run dir>``; unchanged without it.

    Raises ConfigError for a folder that is not a finished-or-interrupted run, for a multirun
    (one run is continued at a time) and for a config-group choice (the run keeps its own).
    """
    command_line = read_command_line(argv)
    value = resume_folder(command_line)
    if value is None:
        return argv
    if command_line.multirun:
        raise ConfigError("resume=... continues one run; drop -m/--multirun")
    run_dir = Path(value).expanduser().resolve()
    ckpt = last_checkpoint(run_dir)
    groups = config_groups()
    for override in command_line.overrides:
        # the run's saved config is one flat file: a group choice there would replace a whole
        # section by the option's name instead of composing the option's file
        if override.key_or_group in groups and not override.is_delete():
            raise ConfigError(
                f"resume={run_dir}: {override.input_line} chooses a config group, but a resumed "
                f"run keeps the groups it started with; set its keys instead "
                f"({override.key_or_group}.<key>=...)"
            )
    replaced = {o.input_line for o in command_line.overrides if o.key_or_group in REPLACED}
    rest = [a for a in argv if a not in replaced]
    return [
        f"--config-path={run_dir / '.hydra'}",
        "--config-name=config",
        f"hydra.run.dir={_quote(str(run_dir))}",
        f"hydra.output_subdir={RESUME_RECORD}",
        f"resume={_quote(str(run_dir))}",
        f"ckpt_path={_quote(str(ckpt))}",
        *rest,
    ]
