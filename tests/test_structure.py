"""The package's floors: who may import whom (read from the source, so a new import is checked too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "deblurlab"
REPO = PACKAGE.parents[1]

# package (first component under deblurlab/) -> packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "models": {
        "losses",
        "metrics",
        "data",
        "lit",
        "inference",
        "run",
        "tasks",
        "cli",
        "benchmarks",
    },
    "losses": {
        "models",
        "metrics",
        "data",
        "lit",
        "inference",
        "run",
        "tasks",
        "cli",
        "benchmarks",
    },
    "metrics": {"models", "losses", "data", "lit", "inference", "run", "tasks", "cli"},
    "data": {"models", "losses", "lit", "inference", "run", "tasks", "cli"},
    "inference": {"lit", "run", "tasks", "cli", "data"},
    "lit": {"run", "tasks", "cli"},
    "run": {"tasks", "cli"},
    "tasks": {"cli"},
    "benchmarks": {"cli"},
}
# single modules anyone may use (checkpoint_config imports the classes it allows by name only)
BOTTOM = {"errors", "quantize", "timing", "resample", "checkpoint", "checkpoint_config", "atomic"}


def _imported_packages(path: Path, module: str | None = None) -> set[str]:
    """First components under ``deblurlab.`` of every import in ``path`` (relative ones resolved
    against ``module``, by default the module's own dotted name)."""
    module = module or ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            names = (
                [base] + [f"{base}.{a.name}" for a in node.names] if node.module is None else [base]
            )
        for name in names:
            parts = name.split(".")
            if parts[0] == "deblurlab" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "conf" not in p.relative_to(PACKAGE).parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_floor_above_its_own(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    imported = _imported_packages(path) - {own}
    if own in BOTTOM:  # bottom modules import only other bottom modules
        assert imported <= BOTTOM, f"{path.name} imports {sorted(imported - BOTTOM)}"
    bad = imported & FORBIDDEN.get(own, set())
    assert not bad, f"{path.relative_to(PACKAGE)} imports deblurlab.{sorted(bad)}"


def test_the_lightning_module_knows_no_file_format():
    imported = _imported_packages(PACKAGE / "lit" / "deblur_module.py")
    assert not imported & {"data", "checkpoint", "inference"}
    assert "cv2" not in (PACKAGE / "lit" / "deblur_module.py").read_text()


def test_only_cli_imports_cli():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.relative_to(PACKAGE).parts[0] != "cli" and "cli" in _imported_packages(p)
    ]
    assert offenders == []


def test_the_floor_check_sees_relative_imports(tmp_path):
    # the checker itself must notice a forbidden import written relatively
    fake = tmp_path / "probe.py"
    fake.write_text("from ..models import mimo_unet\nfrom . import edge\n")
    assert _imported_packages(fake, "deblurlab.losses.probe") == {"models", "losses"}


def test_docs_and_code_cite_nothing_outside_the_repository():
    texts = [p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".yaml", ".md")]
    texts += list((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
    texts += list((REPO / "experiments").rglob("*.md")) + list((REPO / "experiments").rglob("*.sh"))
    citing = [str(p.relative_to(REPO)) for p in texts if "shared/" in p.read_text()]
    assert citing == []
