"""The folders show the data flow, and the code keeps to it: dependencies point one way.

Built from the source with ast (every import, function-local ones included; imports
under ``if TYPE_CHECKING:`` are for type checkers only and are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "anagnorisisd"
# Lower layers never import higher ones. Same-layer imports are allowed within a package.
LAYERS = ["config", "events", "stage", "feature", "store", "ingest", "imaging", "ml", "pipeline",
          "search", "app", "http", "features", "cli", "builtin"]
MAX_LINES = 450


def module_name(path: Path) -> str:
    if path.is_relative_to(REPO / "plugins"):
        return "anagnorisisd.builtin." + path.stem
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(REPO / "plugins").glob("*.py")])


def runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("anagnorisisd"))
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("anagnorisisd"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in sources()}
    return {name: {m for m in runtime_imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def test_no_import_cycles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str, counter: list[int] = [0]) -> None:  # noqa: B006 - Tarjan's counter
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_dependencies_point_down_the_layers() -> None:
    wrong = [(src, dst) for src, dsts in graph().items() for dst in dsts
             if layer(src) >= 0 and layer(dst) >= 0 and layer(dst) > layer(src)]
    assert not wrong, f"imports that point up the layers {LAYERS}: {wrong}"


def test_every_module_is_small_enough_to_read_in_one_sitting() -> None:
    long = {str(p.relative_to(REPO)): n for p in sources()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_every_folder_is_a_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(LAYERS), folders - set(LAYERS)


def test_no_stage_imports_another_stage() -> None:
    """Stages meet only through the pipeline (requires, pixels, outputs), never by import:
    a third-party stage can take any built-in's place."""
    stages = {module_name(p) for p in (REPO / "plugins").glob("*_stage.py")}
    edges = graph()
    wrong = [(src, dst) for src in stages for dst in edges[src] if dst in stages]
    assert not wrong, wrong
    for path in (REPO / "plugins").glob("*.py"):
        assert "from ." not in path.read_text(), f"{path.name} imports a sibling module"


def test_only_the_composition_root_and_each_features_registration_subscribe() -> None:
    """Who hears what is said in one place per unit: the core's wiring, and each feature's
    `subscribe` hook (its feature.py)."""
    subscribers = sorted(str(p.relative_to(REPO)) for p in sources()
                         if ".subscribe(" in p.read_text())
    allowed = {"anagnorisisd/app/library.py", "anagnorisisd/app/features.py",
               "anagnorisisd/feature.py"}  # the contract, which documents the hook
    wrong = [s for s in subscribers if s not in allowed and not
             (s.startswith("anagnorisisd/features/") and s.endswith("/feature.py"))]
    assert not wrong, wrong


def feature_of_module(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "features" else None


def test_no_feature_imports_another_feature() -> None:
    """Features meet through the catalog, the store and the hub, never by import: one can
    be turned off, or replaced by a third party's, without touching the others."""
    wrong = [(src, dst) for src, dsts in graph().items() for dst in dsts
             if (a := feature_of_module(src)) and (b := feature_of_module(dst)) and a != b]
    assert not wrong, wrong


def test_the_core_never_imports_a_feature() -> None:
    """The core finds features through their entry points (app/features.py); the only
    modules outside a feature's package that import it are command-line commands that
    work on its data with no daemon running."""
    importers = sorted({(src, feature_of_module(dst)) for src, dsts in graph().items()
                        for dst in dsts if feature_of_module(dst)
                        and feature_of_module(src) is None})
    assert all(src.startswith("anagnorisisd.cli.") for src, _ in importers), importers
