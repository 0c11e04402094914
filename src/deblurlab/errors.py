"""Errors that deblurlab reports to users as one line (no traceback) before exiting non-zero."""


class DeblurlabError(Exception):
    """Base class: a problem with the user's input that the user can fix."""


class ConfigError(DeblurlabError):
    """A configuration value is missing or invalid; the message names the config key."""


class DataError(DeblurlabError):
    """A dataset file or folder is missing, unreadable or inconsistent; the message names the path."""


class CheckpointError(DataError):
    """A checkpoint or weight file is missing, unreadable, or not what was expected; the message
    names the file."""


class DivergenceError(DeblurlabError):
    """Training stopped because its losses stayed non-finite; the message names the step and the
    batch's files."""


class ExportError(DeblurlabError):
    """An exported model file failed its check against the Restorer; the message names the file."""
