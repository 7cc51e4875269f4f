"""The package's shape, read from its source (nothing is imported): no import circle, small modules and
functions, and imports at the top of modules except where deferring a heavy dependency is the point."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "staa"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80
SIZE_EXEMPT: tuple[str, ...] = ()
# Imported inside functions on purpose: slow or optional imports, loaded only when used.
DEFERRABLE = {"torch", "transformers", "scipy", "matplotlib", "pesq", "pystoi"}


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in sorted(PACKAGE.rglob("*.py"))}  # fmt: skip


def _imported(module: str, path: Path, node: ast.AST) -> list[str]:
    """Absolute names an import statement refers to (relative imports resolved against ``module``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (a name is cut back to the module that defines it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            for name in _imported(module, path, node):
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    graph[module].add(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, a package importing its own children aside."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            root = min(component)
            if len(component) > 1 and not all(c == root or c.startswith(root + ".") for c in component):
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    assert _cycles(_import_graph()) == []


def test_the_circle_check_finds_a_circle():
    graph = {"staa.a": {"staa.b"}, "staa.b": {"staa.c"}, "staa.c": {"staa.a"}, "staa.d": {"staa.a"}}
    assert _cycles(graph) == [["staa.a", "staa.b", "staa.c"]]
    assert _cycles({"staa.p": {"staa.p.x"}, "staa.p.x": {"staa.p"}}) == []  # a package re-exporting its child


def _sized(path: Path) -> bool:
    return not any(part in path.relative_to(PACKAGE).as_posix() for part in SIZE_EXEMPT)


@pytest.mark.parametrize(
    "path", [p for p in _modules().values() if _sized(p)], ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_modules_and_functions_are_small(path: Path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]  # fmt: skip
    assert long == []


def test_imports_inside_functions_only_defer_heavy_dependencies():
    """Elsewhere an import belongs at the top; the CLI alone imports the library inside its commands,
    so that ``--help`` loads no torch (tests/cli/test_cli_help.py)."""
    misplaced = []
    for module, path in _modules().items():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                for name in _imported(module, path, node)[:1]:
                    lazy_cli = module.startswith("staa.cli") and name.split(".")[0] == "staa"
                    if name.split(".")[0] not in DEFERRABLE and not lazy_cli:
                        misplaced.append(f"{module}.{function.name}: {name}")
    assert misplaced == []


def test_the_file_and_runtime_helpers_depend_on_no_floor_above_them():
    """io/ and runtime/ are imported by every floor; importing a floor back would make a circle waiting to happen."""
    allowed = {"staa", "staa.errors", "staa.validation", "staa.defaults"}
    graph = _import_graph()
    for module, imported in graph.items():
        if module.startswith(("staa.io", "staa.runtime")):
            above = {m for m in imported if m not in allowed and not m.startswith(("staa.io", "staa.runtime"))}
            assert not above, (module, above)
