"""The package's structure: its import graph read from the source (ast), so that a change that
breaks the layering fails here rather than in a reader's head.

The layers, top to bottom (DESIGN.md): cli, gui → live, separation, evaluation → engine,
models → presets → base. Nothing points up; the only imports between packages of one layer
are evaluation → separation (it scores what separation makes) and cli → gui (``livesep
gui`` opens the app). Training (models) never imports separation or the engine. No module
imports a private name of a module in another package, and only gui imports Qt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "livesep"

BASE = {"errors", "checks", "audio", "spectral", "resampling", "files", "progress", "bundled",
        "threads", "version", "_core"}
LAYERS = {"base": 0, "presets": 1, "engine": 2, "models": 2,
          "separation": 3, "live": 3, "evaluation": 3, "scale": 3, "cli": 4, "gui": 4}
ACROSS_A_LAYER = {("evaluation", "separation"), ("cli", "gui")}
FORBIDDEN = {("models", "engine"), ("engine", "models")}
QT = ("PyQt6", "pyqtgraph")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module by name; the compiled engine by its stub."""
    found = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    return {**found, "livesep._core": PACKAGE / "_core.pyi"}


def is_package(name: str, known: dict[str, Path]) -> bool:
    return name in known and known[name].name == "__init__.py"


def imports(name: str, path: Path, known: dict[str, Path]
            ) -> Iterator[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import in the module,
    function-level ones included."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package(name, known):
                    anchor = anchor[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known:
                    yield submodule, None, node.lineno
                else:
                    yield base, alias.name, node.lineno


def edges() -> list[tuple[str, str, str | None, int]]:
    known = modules()
    found = []
    for name, path in known.items():
        for target, imported, line in imports(name, path, known):
            if target == "livesep" or target.startswith("livesep."):
                found.append((name, target, imported, line))
    return found


def top(name: str) -> str:
    """The package a module belongs to (``livesep.live.host`` → ``live``), ``base`` for the
    base modules, ``livesep`` for the public face."""
    parts = name.split(".")
    if len(parts) == 1:
        return "livesep"
    return "base" if parts[1] in BASE else parts[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node, or with a self-loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    found = edges()
    assert ("livesep.live.host", "livesep.live.monitor", "Monitor") in [e[:3] for e in found]
    assert len(modules()) > 50 and len(found) > 200


def test_no_module_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for source, target, _, _ in edges():
        if target != source:
            graph.setdefault(source, set()).add(target)
    assert cycles(graph) == []


def test_no_package_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for source, target, _, _ in edges():
        if top(source) != top(target) and "livesep" not in (top(source), top(target)):
            graph.setdefault(top(source), set()).add(top(target))
    assert cycles(graph) == []


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for source, target, imported, line in edges():
        a, b = top(source), top(target)
        if a == b:
            continue
        if a == "livesep":  # the public face imports from everywhere
            continue
        if b == "livesep":
            wrong.append(f"{source}:{line} imports {imported} from the package root")
            continue
        rank_a, rank_b = LAYERS[a], LAYERS[b]
        if rank_b > rank_a or (rank_b == rank_a and (a, b) not in ACROSS_A_LAYER) \
                or (a, b) in FORBIDDEN:
            wrong.append(f"{source}:{line} ({a}) imports {target} ({b})")
    assert wrong == []


def test_no_private_names_across_packages() -> None:
    known = modules()
    wrong = []
    for source, target, imported, line in edges():
        if top(source) == top(target):
            continue
        private_module = any(part.startswith("_") and part != "_core"
                             for part in target.split(".")[1:])
        if private_module or (imported is not None and imported.startswith("_")
                              and not imported.startswith("__")):
            wrong.append(f"{source}:{line} uses {target}{'.' + imported if imported else ''}")
    for name, path in known.items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text())
        aliases = {alias.asname or alias.name: f"{node.module}.{alias.name}"
                   for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith("livesep")
                   for alias in node.names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id in aliases):
                module = aliases[node.value.id]
                if module in known and top(module) != top(name) or (
                        module in known and module != name and node.attr != "_internal"
                        and module.rsplit(".", 1)[0] != name.rsplit(".", 1)[0]):
                    wrong.append(f"{name}:{node.lineno} uses {module}.{node.attr}")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(name for name, path in modules().items()
                                         if path.suffix == ".py"))
def test_only_the_gui_imports_qt(name: str) -> None:
    if top(name) == "gui":
        return
    known = modules()
    qt = [target for target, _, _ in imports(name, known[name], known)
          if target.split(".")[0] in QT]
    assert qt == []


def test_modules_and_folders_stay_readable() -> None:
    long = {module_name(path): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 420}
    assert long == {}
    crowded = {str(folder.relative_to(PACKAGE)): n for folder in [PACKAGE, *PACKAGE.rglob("*")]
               if folder.is_dir() and (n := len(list(folder.glob("*.py")))) > 13}
    assert crowded == {}
