"""The architecture as the folders show it, held by tests (the layer contracts themselves are
import-linter's, in pyproject.toml, run by `lint-imports` in CI)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from salesplay.engine.run.family import Command
from salesplay.rules import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {"grading", "follow_up", "warnings", "pool", "escalation", "incentives"}
SECTIONS |= {"scorecards", "goals"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("rules/**/*.py"), ROOT / "cli.py"]:
        name = ".".join(("salesplay", *path.relative_to(ROOT).with_suffix("").parts))
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every salesplay module this one imports, wherever the import statement stands (inside
    functions and under TYPE_CHECKING too), with the packages the import runs on the way."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in known else base)
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            if target not in known:
                continue
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                step = ".".join(parts[:i])
                # a package this module lives in is already being imported: no new edge
                if step in known and step != module and not module.startswith(step + "."):
                    out.add(step)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_not_even_inside_functions() -> None:
    modules = _modules()
    graph = {m: _imports(m, p, set(modules)) for m, p in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_engine_names_no_rule_family_and_no_section() -> None:
    sections = SECTIONS | {family.section for family in FAMILIES}
    named = []
    for path in sorted(ROOT.glob("engine/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and node.value in sections:
                named.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "salesplay.rules"
            ):
                named.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {node.module}")
    assert named == []


def test_the_engine_is_layer_packages_with_few_loose_modules() -> None:
    engine = ROOT / "engine"
    layers = sorted(p.name for p in engine.iterdir() if (p / "__init__.py").exists())
    loose = sorted(p.name for p in engine.glob("*.py") if p.name != "__init__.py")
    assert layers == ["delivery", "lang", "present", "project", "run", "schedule", "sql", "store"]
    assert loose == ["demo.py", "errors.py", "loader.py"]


def test_every_family_declares_what_the_engine_asks() -> None:
    sections = [family.section for family in FAMILIES]
    assert len(sections) == len(set(sections))
    for family in FAMILIES:
        assert family.schema["type"] == "object", family.section
        assert isinstance(family.settings_only, bool)
        assert all(hasattr(table, "__tablename__") for table in family.tables)
        assert all(isinstance(command, Command) for command in family.commands)
        assert all(callable(getattr(family, hook)) for hook in ("check", "run", "explain"))
    owned = [table.__tablename__ for family in FAMILIES for table in family.tables]
    assert sorted(owned) == [
        "grade_changes",
        "grade_overrides",
        "payout_closings",
        "payout_lines",
        "task_reassignments",
    ]
