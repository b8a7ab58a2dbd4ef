"""The import graph of core/ and kiosk/, read with `ast` (nothing is imported to check it).

- no import cycles between modules (a cycle means neither module can be read, tested or
  replaced without the other);
- nothing in core/ imports kiosk/: the engine runs headless, without pygame;
- no module imports another module's private (underscore) names, nor reaches them through an
  imported module: a name with an underscore may change without notice, so a module that needs
  it needs a public function instead.

Imports inside functions count (they run too); imports under `if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "kiosk")


@dataclass(frozen=True)
class Import:
    source: str      # the importing module
    target: str      # the imported module
    names: tuple[str, ...]  # names taken from it (`from target import a, b`); () for `import target`
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_runtime(tree: ast.AST):
    """Every node that runs, leaving out `if TYPE_CHECKING:` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> tuple[list[Import], ast.AST]:
    """The project modules that `name` imports; `from pkg import mod` counts as importing pkg.mod."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    found.append(Import(name, alias.name, (), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] not in PACKAGES:
                continue
            plain = []
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:  # a submodule, not a name inside `base`
                    found.append(Import(name, f"{base}.{alias.name}", (), node.lineno))
                else:
                    plain.append(alias.name)
            if plain:
                found.append(Import(name, base, tuple(plain), node.lineno))
    return found, tree


def graph() -> tuple[dict[str, set[str]], list[Import], dict[str, ast.AST]]:
    modules = project_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    every: list[Import] = []
    trees = {}
    for name, path in modules.items():
        found, trees[name] = imports_of(name, path, modules)
        every += found
        edges[name] |= {i.target for i in found if i.target in modules and i.target != name}
    return edges, every, trees


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_the_checks_see_the_real_graph() -> None:
    """The reader finds known edges, so an empty answer below means something."""
    edges, every, _ = graph()
    assert "core.pipeline" in edges and "kiosk.cli" in edges
    assert "core.landmarker" in edges["core.pipeline"]
    assert "core.offline.model_tools" in edges["kiosk.cli"], "imports inside functions count"
    assert any(i.names for i in every), "names taken with `from x import y` are seen"
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    found = list(cycles(graph()[0]))
    assert not found, "modules that import each other: " + "; ".join(" <-> ".join(c) for c in found)


def test_core_never_imports_kiosk() -> None:
    _, every, _ = graph()
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in every
           if i.source.split(".")[0] == "core" and i.target.split(".")[0] == "kiosk"]
    assert not bad, bad


def test_no_module_uses_another_modules_private_names() -> None:
    modules = project_modules()
    _, every, trees = graph()
    bad = [f"{i.source}:{i.line} imports {i.target}.{n}" for i in every for n in i.names
           if _private(n) and i.target != i.source]
    for name, tree in trees.items():
        # names this module bound to another project module: `import core.x as x`, `from core import x`
        bound: dict[str, str] = {}
        for node in _walk_runtime(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in modules:
                        bound[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in modules:
                        bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in _walk_runtime(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and bound.get(node.value.id, name) != name):
                bad.append(f"{name}:{node.lineno} uses {bound[node.value.id]}.{node.attr}")
    assert not bad, bad
