"""environment.yml installs what pyproject.toml pins (dependencies and the dev and slurm extras,
same specifiers), and pyproject lists no package file that does not exist (such as a py.typed)."""

from __future__ import annotations

from pathlib import Path

import tomllib
import yaml

REPO = Path(__file__).resolve().parents[2]
EXTRAS = ("dev", "slurm")  # what a conda user of the repository needs: make test, launcher=slurm


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_environment_yml_pins_exactly_what_pyproject_pins() -> None:
    project = _pyproject()["project"]
    wanted = list(project["dependencies"])
    for extra in EXTRAS:
        wanted += project["optional-dependencies"][extra]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    listed = [p for p in pip if not p.startswith("-")]
    assert sorted(listed) == sorted(wanted)
    assert "-e ." in pip


def test_every_package_data_pattern_names_files_that_exist() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    folders = {"deblurlab.conf": REPO / "conf"}
    for package, patterns in setuptools.get("package-data", {}).items():
        folder = folders.get(package, REPO / "src" / package.replace(".", "/"))
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"package-data {package}: {pattern} matches nothing"
