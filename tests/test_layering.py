"""The top-level packages import one another in one direction only: no cycle between folders.

Imports are read with `ast` (nothing is imported), function-level imports included. A bare name that
is a module of tests/ (tests put tests/ on sys.path: `from helpers import ...`) counts as tests."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "launcher", "proofs", "bench", "tests")
TEST_MODULES = {p.stem for p in (REPO / "tests").glob("*.py")}


def imported_names(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def package_of(name: str) -> str | None:
    top = name.split(".")[0]
    if top in PACKAGES:
        return top
    return "tests" if top in TEST_MODULES else None


def package_edges(repo: Path = REPO) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) package pairs, each with the files that make it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*.py")):
            for name in imported_names(path.read_text()):
                target = package_of(name)
                if target and target != package:
                    edges.setdefault((package, target), []).append(f"{path.relative_to(repo)} imports {name}")
    return edges


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Every elementary cycle's packages, found by a depth-first walk from each package."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    found: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.append(path + [start])
            elif nxt not in path and nxt > start:  # each cycle once, from its smallest package
                walk(start, nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def explain(cycle: list[str], edges: dict[tuple[str, str], list[str]]) -> str:
    steps = []
    for a, b in zip(cycle, cycle[1:]):
        steps.append(f"{a} -> {b} ({'; '.join(edges[(a, b)][:3])})")
    return " | ".join(steps)


def test_no_import_cycle_between_the_top_level_packages():
    edges = package_edges()
    found = cycles(edges)
    assert not found, "import cycles: " + " || ".join(explain(c, edges) for c in found)


def test_the_launcher_never_imports_an_actor_module():
    edges = package_edges()
    assert ("launcher", "actors") not in edges, edges.get(("launcher", "actors"))


def test_every_cli_command_module_is_a_launcher_module():
    """launcher/cli.py imports its COMMAND_MODULES by name (importlib), which the import scan cannot see."""
    tree = ast.parse((REPO / "launcher" / "cli.py").read_text())
    modules = [ast.literal_eval(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and any(isinstance(target, ast.Name) and target.id == "COMMAND_MODULES" for target in node.targets)]
    assert modules and all(name.startswith("launcher.") for name in modules[0]), modules


def test_the_cycle_finder_sees_a_cycle_between_two_folders(tmp_path: Path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "actors" / "a.py").write_text("from launcher.b import x\n")
    (tmp_path / "launcher" / "b.py").write_text("def f():\n    from actors import a\n")
    assert cycles(package_edges(tmp_path)) == [["actors", "launcher", "actors"]]
