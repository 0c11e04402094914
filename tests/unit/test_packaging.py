"""The wheel's package list covers every folder of src/deblurlab and every config group folder
(setuptools warns about each data folder it is not told of), and the configs map to conf/."""

from __future__ import annotations

from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_in_src_and_every_config_group_is_listed_for_the_wheel():
    src, conf = REPO / "src", REPO / "conf"
    on_disk = {".".join(p.parent.relative_to(src).parts) for p in src.rglob("__init__.py")}
    groups = {
        ".".join(("deblurlab", "conf", *p.relative_to(conf).parts))
        for p in conf.rglob("*")
        if p.is_dir() and p.name != "__pycache__"
    } - {"deblurlab.conf.local"}  # one machine's own settings, not shipped
    assert set(_setuptools()["packages"]) == on_disk | {"deblurlab.conf"} | groups


def test_the_configs_ship_from_the_top_level_conf_folder():
    setuptools = _setuptools()
    assert setuptools["package-dir"]["deblurlab.conf"] == "conf"
    assert (REPO / "conf" / "__init__.py").is_file() and (REPO / "conf" / "train.yaml").is_file()
    assert not (REPO / "src" / "deblurlab" / "conf").exists()
    assert "*.yaml" in setuptools["package-data"]["deblurlab.conf"]
