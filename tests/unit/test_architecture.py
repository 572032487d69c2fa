"""The shape of the code: which area may import which, no cycles, no borrowed private names.

The areas and their allowed imports are the table in ``docs/architecture.md`` (between the
``areas:`` markers); this test reads it, so the document and the code cannot drift apart.  A
module belongs to the area whose listed module prefix is the longest that matches it.  Imports
under ``if TYPE_CHECKING:`` name a type, not a dependency, and are not counted.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "callcenter"
DOC = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"


def area_table() -> dict[str, tuple[list[str], set[str]]]:
    """area -> (module prefixes, areas it may import), from the table in docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8")
    body = text.split("<!-- areas:begin -->", 1)[1].split("<!-- areas:end -->", 1)[0]
    table: dict[str, tuple[list[str], set[str]]] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        area = cells[0].strip("`")
        table[area] = (re.findall(r"`([\w.]+)`", cells[1]), set(re.findall(r"`([\w.-]+)`", cells[2])))
    return table


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the package: dotted name and file."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> Iterator[ast.Import | ast.ImportFrom]:
    """The module's import statements, those under ``if TYPE_CHECKING:`` left out."""
    def walk(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    yield from walk(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            yield from walk(child)
    yield from walk(ast.parse(path.read_text(encoding="utf-8")))


KNOWN = {name for name, _ in modules()}


def targets(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The callcenter modules an import statement loads."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name.split(".")[0] == "callcenter")
        return
    if node.level or not node.module or node.module.split(".")[0] != "callcenter":
        return
    for alias in node.names:
        sub = f"{node.module}.{alias.name}"
        yield sub if sub in KNOWN else node.module


def area_of(module: str, table: dict[str, tuple[list[str], set[str]]]) -> str | None:
    best, length = None, -1
    for area, (prefixes, _) in table.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = area, len(prefix)
    return best


def area_edges(table: dict[str, tuple[list[str], set[str]]]) -> dict[tuple[str, str], list[str]]:
    """(area, area it imports) -> the imports that make the edge (``module -> module``)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for name, path in modules():
        source = area_of(name, table)
        for node in imports(path):
            for target in targets(node):
                dest = area_of(target, table)
                if source and dest and dest != source:
                    edges.setdefault((source, dest), []).append(f"{name} -> {target}")
    return edges


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_belongs_to_one_area_and_every_listed_prefix_exists():
    table = area_table()
    assert len(table) >= 10, "the areas table of docs/architecture.md was not found"
    assert [name for name, _ in modules() if area_of(name, table) is None] == []
    missing = [p for prefixes, _ in table.values() for p in prefixes
               if not any(m == p or m.startswith(p + ".") for m in KNOWN)]
    assert missing == [], "modules the table lists but the tree does not have"
    unknown = {a for _, allowed in table.values() for a in allowed} - set(table)
    assert unknown == set(), "areas named in 'may import' but not defined"


def test_areas_import_only_what_the_table_allows():
    table = area_table()
    refused = {f"{src} -> {dst}": why for (src, dst), why in area_edges(table).items() if dst not in table[src][1]}
    assert refused == {}


def test_no_cycle_between_areas_nor_in_the_table():
    table = area_table()
    actual: dict[str, set[str]] = {}
    for src, dst in area_edges(table):
        actual.setdefault(src, set()).add(dst)
    assert cycle(actual) is None
    assert cycle({area: allowed for area, (_, allowed) in table.items()}) is None


def test_no_package_imports_another_packages_private_names():
    def package(module: str) -> str:
        first = ".".join(module.split(".")[:2])
        return first if first in PACKAGES else "callcenter"

    borrowed = []
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module.split(".")[0] != "callcenter" or package(node.module) == package(name):
                continue
            borrowed += [f"{name}: from {node.module} import {a.name}" for a in node.names
                         if a.name.startswith("_") and not a.name.startswith("__")]
            if any(part.startswith("_") and not part.startswith("__") for part in node.module.split(".")):
                borrowed.append(f"{name}: from {node.module} import ...")
    assert borrowed == []


PACKAGES = {f"callcenter.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}


def test_readme_layout_and_architecture_doc_list_exactly_the_packages_in_the_tree():
    tree = {p.removeprefix("callcenter.") for p in PACKAGES}
    readme = README.read_text(encoding="utf-8")
    layout = readme.split("| path | what it holds |", 1)[1].split("\n\n", 1)[0]
    in_readme = set(re.findall(r"`callcenter/(\w+)/", layout))
    assert in_readme == tree
    in_doc = {p.split(".")[1] for prefixes, _ in area_table().values() for p in prefixes
              if p.count(".") >= 1 and f"callcenter.{p.split('.')[1]}" in PACKAGES}
    assert in_doc == tree
    doc = DOC.read_text(encoding="utf-8")
    assert {name for name in tree if f"`callcenter/{name}/`" not in doc} == set()
