"""Which dataset folders a data config reads, checked before a command builds anything heavy.

A task calls :func:`check_data_roots` on its ``data`` config before the trainer, the loggers or the
run folder's contents exist, so a mistyped or unmounted dataset folder is one line naming the key
(``data.root``) rather than an error from the DataModule's setup after the run has started.
The DataModules themselves still check their folders when they read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deblurlab.data.layouts import LAYOUT_SPLITS
from deblurlab.errors import ConfigError

# Constructor arguments of the data sources that name a folder they read from. A source with an
# on-disk ``layout`` (PairedFolderSource) cannot work without its ``root``; the others
# (SyntheticBlurSource's ``image_dir``) use built-in data when the folder is not set.
FOLDER_ARGUMENTS: tuple[str, ...] = ("root", "image_dir")


def data_roots(data: Mapping[str, Any]) -> list[tuple[str, Any, bool]]:
    """``(key, value, required)`` for every dataset folder ``data`` (the ``data`` config
    section) reads. The key is ``data.root`` when the source takes its folder from there (the
    shipped configs interpolate it), else the source's own key (``data.source.root``)."""
    source = data.get("source")
    if not isinstance(source, Mapping):
        return []
    layout = source.get("layout")
    roots: list[tuple[str, Any, bool]] = []
    for argument in FOLDER_ARGUMENTS:
        if argument not in source:
            continue
        value = source.get(argument)
        same = value == data.get("root") and "root" in data
        key = "data.root" if same else f"data.source.{argument}"
        roots.append((key, value, argument == "root" and layout in LAYOUT_SPLITS))
    return roots


def check_data_roots(data: Mapping[str, Any] | None, origin: str = "") -> None:
    """One-line ConfigError naming the key when a dataset folder of ``data`` is not set (and
    needed) or does not exist. ``origin`` is added to the message (e.g. where the config came
    from)."""
    if not data:
        return
    source = data.get("source")
    layout = source.get("layout") if isinstance(source, Mapping) else None
    for key, value, required in data_roots(data):
        if value in (None, ""):
            if required:
                raise ConfigError(
                    f"{key} is not set{origin}: pass {key}=/path/to/your {layout} dataset "
                    "(or try the command on the built-in data first: data=synthetic)"
                )
            continue
        if not Path(str(value)).expanduser().is_dir():
            expected = f" (the {layout} dataset's folder)" if required else ""
            raise ConfigError(f"{value}: {key} is not a folder{expected}{origin}")
