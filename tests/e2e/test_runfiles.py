"""Run folders are read without torch, Lightning or Hydra (the report and the commands' --help
must not pay for them): checked in a fresh interpreter, whose modules are only its own."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "pytorch_lightning", "lightning", "hydra")


def _loaded_heavy_modules(module: str) -> list[str]:
    code = (
        f"import sys, {module}\n"
        f"print(*sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_run_files_load_no_torch_lightning_or_hydra():
    assert _loaded_heavy_modules("deblurlab.runfiles") == []


def test_the_report_loads_no_torch_lightning_or_hydra():
    assert _loaded_heavy_modules("deblurlab.report") == []


def test_the_check_sees_a_heavy_import():
    assert "torch" in _loaded_heavy_modules("deblurlab.data.crops")
