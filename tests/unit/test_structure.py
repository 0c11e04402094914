"""The package's floors: who may import whom (read from the source, so a new import is checked too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "deblurlab"
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
    # the report reads run folders only: it can run where no torch is installed
    "report": {
        "cli",
        "tasks",
        "run",
        "lit",
        "inference",
        "models",
        "losses",
        "data",
        "metrics",
        "benchmarks",
        "checkpoint",
    },
}
# single modules and packages anyone may use (the registry imports the classes it names only when
# a config asks for one, through importlib)
BOTTOM = {
    "errors",
    "quantize",
    "timing",
    "resample",
    "checkpoint",
    "registry",
    "atomic",
    "hardware",
    "runfiles",
}


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
    return sorted(PACKAGE.rglob("*.py"))


def _dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _run_time_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it runs: at module level and inside functions alike (a
    deferred import that closes a circle is still a circle), not in ``if TYPE_CHECKING:``."""
    module = _dotted(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.With | ast.For
            ):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)

    visit(ast.parse(path.read_text()).body)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_floor_above_its_own(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    imported = _imported_packages(path) - {own}
    if own in BOTTOM:  # bottom modules import only other bottom modules
        assert imported <= BOTTOM, f"{path.name} imports {sorted(imported - BOTTOM)}"
    bad = imported & FORBIDDEN.get(own, set())
    assert not bad, f"{path.relative_to(PACKAGE)} imports deblurlab.{sorted(bad)}"


def _import_graph() -> dict[str, set[str]]:
    modules = {_dotted(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in _run_time_imports(path) if t in modules and t != name}
        # importing a.b.c loads the packages a.b and a first
        for target in list(targets):
            parts = target.split(".")
            targets.update(
                ".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) != name
            )
        graph[name] = {t for t in targets if t in modules and not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), as sorted names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_no_import_circle():
    # two modules that need each other are one module in two files (or one loads half-built)
    assert _cycles(_import_graph()) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


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


def _test_files(tier: str) -> list[Path]:
    return sorted((REPO / "tests" / tier).rglob("test_*.py"))


def _names(path: Path) -> set[str]:
    """Every name, attribute and imported module or name used in ``path``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("tier", ["unit", "integration"])
def test_unit_and_integration_tests_start_no_process(tier):
    # what starts a process belongs to tests/e2e, which `make test` leaves out
    starting = {"subprocess", "run_cli", "multiprocessing", "Popen"}
    offenders = [str(p.relative_to(REPO)) for p in _test_files(tier) if starting & _names(p)]
    assert offenders == []


def test_unit_tests_build_no_trainer():
    # a Trainer (or a task that builds one) belongs to tests/integration
    training = {"Trainer", "run_task", "deblurlab.tasks.train", "deblurlab.tasks.evaluate"}
    offenders = [str(p.relative_to(REPO)) for p in _test_files("unit") if training & _names(p)]
    assert offenders == []


def test_test_folders_mirror_the_package():
    # inside each tier, a folder is named for the package it tests
    allowed = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    allowed.add("conf")  # the configs: conf/ at the top level
    allowed.add("slurm")  # e2e: a real SLURM controller (start.sh) for launcher=slurm and requeue
    for tier in ("unit", "integration", "e2e"):
        folders = {p.name for p in (REPO / "tests" / tier).iterdir() if p.is_dir()}
        folders -= {"__pycache__"}
        assert folders <= allowed, (
            f"tests/{tier}: {sorted(folders - allowed)} mirror nothing in src"
        )


def test_docs_and_code_cite_nothing_outside_the_repository():
    texts = [p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".yaml", ".md")]
    texts += [p for p in (REPO / "conf").rglob("*") if p.suffix in (".py", ".yaml", ".md")]
    texts += list((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
    texts += list((REPO / "experiments").rglob("*.md")) + list((REPO / "experiments").rglob("*.sh"))
    citing = [str(p.relative_to(REPO)) for p in texts if "shared/" in p.read_text()]
    assert citing == []
