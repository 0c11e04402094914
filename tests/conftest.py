"""Test-wide settings, the tier markers, and the ``train_config`` fixture.

The tiers are folders: ``tests/unit`` (no Trainer, no subprocess), ``tests/integration`` (the real
Trainer on tiny data, in this process) and ``tests/e2e`` (the commands as subprocesses, recipes, DDP,
the browser, the wheel). Each test is marked with its folder's name, so ``-m unit`` works too.
Shared helpers live in ``tests/fixtures/`` and are imported from there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from deblurlab.run.config import register_resolvers
from fixtures.config import TINY, compose_config

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_DISABLE_GIT", "true")
# tiny test networks gain nothing from threads, and oversubscribed cores slow them 10-100x
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")
register_resolvers()

TIERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).resolve().parent


def _tier(item: pytest.Item) -> str | None:
    parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
    return parts[0] if parts and parts[0] in TIERS else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier (its top folder).

    Under pytest-xdist (``-n auto --dist loadgroup``) the tests that share a module- or
    class-scoped fixture (a trained run, a built dataset) stay on one worker, so that fixture is
    built once; every other test is spread over the workers. Files holding ``slow`` tests run
    first (each file's tests together, in their order), so the workers end on short tests and
    finish together instead of one waiting on a long tail."""
    for item in items:
        tier = _tier(item)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
    slow_files = {i.nodeid.split("::")[0] for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow_files)
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        # a group a test file names itself (the SLURM tests share one cluster) is kept
        if item.get_closest_marker("xdist_group") is None and any(
            d.scope in ("module", "class") for chain in defs for d in chain
        ):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture
def train_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """``train_config(*overrides)`` -> a tiny, CPU-sized training config writing under tmp_path."""

    def make(*overrides: str, tiny: bool = True) -> DictConfig:
        return compose_config("train", (TINY if tiny else []) + list(overrides), tmp_path / "run")

    return make
