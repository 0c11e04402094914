"""Every script in experiments/recipes/ runs end to end at smoke size (DEBLURLAB_SMOKE=1) on fake
dataset layouts, with a tiny network passed as extra overrides, as a user would start it. The two
ablation grids run inside smoke_cpu.sh (it calls them), so they are not run a second time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.config import TINY_NET
from fixtures.datasets import make_gopro, make_hide, make_realblur

RECIPES = Path(__file__).resolve().parents[2] / "experiments" / "recipes"
# the recipes may set these keys themselves, so they are forced (++) rather than added (+)
TINY_MIMO = ["+" + o for o in TINY_NET["mimo_unet"]]
TINY_SGENET = ["+" + o for o in TINY_NET["sgenet"]]
FAST = ["data.eval_batch_size=1", "data.num_workers=0"]
# recipe -> (extra overrides, the report folders it must leave)
CASES = {
    "table1_gopro.sh": (TINY_MIMO, ["table1"]),
    "table2_realblur.sh": (TINY_MIMO, ["table2"]),
    "sgenet_gopro_hide.sh": (TINY_SGENET, ["sgenet"]),
    "smoke_cpu.sh": (TINY_MIMO, ["table3", "table4"]),
}
# recipes run by another recipe of CASES (which checks their reports)
CALLED = {"table3_fusion.sh": "smoke_cpu.sh", "table4_components.sh": "smoke_cpu.sh"}


def test_every_recipe_is_covered():
    assert sorted(p.name for p in RECIPES.glob("*.sh")) == sorted([*CASES, *CALLED])
    for called, caller in CALLED.items():
        assert f'"$HERE/{called}"' in (RECIPES / caller).read_text(), (caller, called)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", sorted(CASES))
def test_recipe_runs_at_smoke_size(recipe: str, tmp_path: Path) -> None:
    extra, reports = CASES[recipe]
    runs = tmp_path / "runs"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "DEBLURLAB_SMOKE": "1",
        "DEBLURLAB_ROOT": str(tmp_path),
        "RUNS": str(runs),
        "GOPRO": str(make_gopro(tmp_path / "gopro", num_train=2, num_test=2)),
        "HIDE": str(make_hide(tmp_path / "hide", num_close=1, num_long=1)),
        "REALBLUR": str(make_realblur(tmp_path / "realblur", num_train=2, num_test=2)),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
    }
    if recipe == "smoke_cpu.sh":
        del env["GOPRO"]  # it makes its own fake GoPro folder
    result = subprocess.run(
        ["bash", str(RECIPES / recipe), *extra, *FAST],
        capture_output=True,
        text=True,
        env=env,
        cwd=RECIPES.parents[1],  # the repository root, where users start the scripts
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    for name in reports:
        assert (runs / name / "report.md").is_file(), name
    assert "Protocol mismatch" not in "".join(
        (runs / name / "report.md").read_text() for name in reports
    )
