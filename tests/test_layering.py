"""The top-level packages import one another in one direction only: no cycle between folders.

Imports are read with `ast` (nothing is imported), function-level imports included, and so are
imports by a literal name (`importlib.import_module("actors.gate")`, `__import__("proofs.cli")`). A
bare name that is a module of tests/ (tests put tests/ on sys.path: `from helpers import ...`) counts
as tests. A name computed at run time is beyond `ast`: a fresh interpreter imports every launcher
module and builds the CLI, and must have loaded no actor, proof, bench or test module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "launcher", "proofs", "bench", "tests")
TEST_MODULES = {p.stem for p in (REPO / "tests").glob("*.py")}


DYNAMIC_IMPORTERS = {"import_module", "__import__"}  # importlib.import_module(NAME), __import__(NAME)


def imported_names(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if called in DYNAMIC_IMPORTERS:
                names.append(node.args[0].value)
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


def test_the_launcher_never_imports_a_proof_a_benchmark_or_a_test():
    edges = package_edges()
    assert not {target for (importer, target) in edges if importer == "launcher"} - {"launcher"}, \
        {k: v for k, v in edges.items() if k[0] == "launcher"}


def test_nothing_imports_the_tests():
    edges = package_edges()
    importers = {k: v for k, v in edges.items() if k[1] == "tests"}
    assert not importers, importers


def test_importing_every_launcher_module_and_building_the_cli_loads_no_actor_proof_bench_or_test_module():
    """Catches what the source scan cannot: a module name computed at run time."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import launcher\n"
        "for m in pkgutil.iter_modules(launcher.__path__):\n"
        "    if m.name != '__main__':\n"
        "        importlib.import_module('launcher.' + m.name)\n"
        "from launcher.cli import build_parser\n"
        "build_parser()\n"
        "tests = {p.stem for p in __import__('pathlib').Path('tests').glob('*.py')}\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in {'actors', 'proofs', 'bench', 'tests'} | tests))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


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


def test_the_import_scan_sees_imports_by_a_literal_name(tmp_path: Path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "launcher" / "a.py").write_text(
        "import importlib\n"
        "def f():\n"
        "    return importlib.import_module('actors.gate')\n"
        "def g():\n"
        "    return __import__('proofs.cli')\n")
    (tmp_path / "proofs" / "b.py").write_text("from importlib import import_module\nh = import_module('helpers')\n")
    assert sorted(package_edges(tmp_path)) == [("launcher", "actors"), ("launcher", "proofs"), ("proofs", "tests")]
