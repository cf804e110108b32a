"""Imports follow the data flow: core < stage1 < … < stage6 < the top (operations, demo, cli, run,
definitions). A lower stage or core never imports a higher one, and no module imports itself round a circle.

Every import counts, at module level or inside a function: a lazy import still runs back up the flow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package at ``root``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports (``from a import b`` counts a.b when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m in known and m != name}


def level(name: str) -> int:
    """0 core, N stage N, 9 the top."""
    part = name.split(".")[1] if "." in name else ""
    if part == "core":
        return 0
    stage = re.match(r"stage(\d)", part)
    return int(stage.group(1)) if stage else 9


def graph(root: Path) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def back_up(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if level(b) > level(a))


def test_pipelines_have_no_import_cycle() -> None:
    assert cycles(graph(PIPELINES)) == []


def test_no_import_runs_back_up_the_data_flow() -> None:
    assert back_up(graph(PIPELINES)) == []


def test_the_check_finds_a_cycle_and_an_import_back_up(tmp_path: Path) -> None:
    """The two checks above would pass on an empty graph too: show that they see what they look for."""
    package = tmp_path / "pipelines"
    for folder in ("core", "stage2_x", "stage3_y"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "core" / "files.py").write_text("def f():\n    from pipelines.stage3_y import c\n")
    (package / "stage2_x" / "a.py").write_text("from pipelines.stage2_x.b import g\n")
    (package / "stage2_x" / "b.py").write_text("from . import a\nfrom ..core import files\n")
    (package / "stage3_y" / "c.py").write_text("import json\n")
    edges = graph(package)
    assert cycles(edges) == [{"pipelines.stage2_x.a", "pipelines.stage2_x.b"}]
    assert back_up(edges) == [  # the package and its module
        "pipelines.core.files -> pipelines.stage3_y",
        "pipelines.core.files -> pipelines.stage3_y.c",
    ]
    assert "pipelines.core.files" in edges["pipelines.stage2_x.b"]  # relative imports resolve
