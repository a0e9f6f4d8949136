"""The house in wings (docs/architecture.md), checked from the code's own imports: every wing imports only
the wings below it, no library module imports a command, and no modules import each other in a circle."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tf_cyclegan"
# Each wing and the wings it may import (besides itself), bottom to top.
WINGS = {
    "core": set(),
    "models": {"core"},
    "data": {"core"},
    "runtime": {"core", "models", "data"},
    "exporting": {"core", "models", "data", "runtime"},
    "evaluation": {"core", "models", "data", "runtime"},
    "training": {"core", "models", "data", "runtime", "evaluation"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """The tf_cyclegan modules a module imports, at its top or inside a function."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: the package, less one part per level above the first
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    known = modules()
    return {module for module in found if module in known and module != name}


def wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in WINGS else None


GRAPH = {name: imports(path, name) for name, path in modules().items()}


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if wing(m)))
def test_a_wing_imports_only_the_wings_below_it_and_no_command(module):
    own = wing(module)
    for target in GRAPH[module]:
        if target in ("tf_cyclegan", "tf_cyclegan." + own) or wing(target) == own:
            continue
        assert wing(target) in WINGS[own], f"{module} imports {target}: {own} may import {sorted(WINGS[own])}"


def test_no_modules_import_each_other_in_a_circle():
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not circles, circles
