"""The layering of docs/developing.md ("Which way imports go"), checked module by module.

- The actors' I/O-free modules (IO_FREE_ACTOR_MODULES: the maths and policy the live actors and the backtest
  share) import no socket, Redis, clock or file I/O module, open no file, print nothing, and import from the
  repository only one another and the topology model (launcher.topology, for the settings types they take).
- The launcher imports from actors/ only those modules (the backtest command, launcher/backtest.py, is the
  one that does); it starts every actor as a process. It imports no proof, benchmark or test; nothing
  imports tests/.
- No import cycle between modules: none at all among the imports a module makes when it loads, and none,
  function-level imports included, outside KNOWN_DEFERRED_CYCLE (launcher commands that call one another
  from inside functions, which no load-time import closes).
- A fresh interpreter that builds the CLI loads no actor, proof, benchmark or test module (the backtest runs
  as its own process); one that imports every launcher module loads no actor module but the I/O-free ones.

Imports are read with `ast` (nothing is imported), function-level imports included, and so are imports by a
literal name (`importlib.import_module("actors.gate")`, `__import__("proofs.cli")`); `from actors import
clusterer` is an import of actors.clusterer. A bare name that is a module of tests/ (tests put tests/ on
sys.path: `from helpers import ...`) is that test module. A name computed at run time is beyond `ast`: the
fresh interpreters catch it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "launcher", "proofs", "bench", "tests")
TEST_MODULES = {p.stem for p in (REPO / "tests").glob("*.py")}

IO_FREE_ACTOR_MODULES = ("actors.clustering", "actors.correlation", "actors.grid", "actors.jumps", "actors.policy",
                         "actors.slot_prices", "actors.snapshots", "actors.freshness", "actors.state_message",
                         "actors.window_message", "actors.frozen_prices", "actors.message_checks")
# What the I/O-free modules may import from launcher/: the topology model, for the settings types they take.
IO_FREE_MAY_IMPORT = {"launcher.topology"}
# Top-level names of modules for sockets, Redis, clocks, files, processes, logging or metrics.
IO_MODULES = {"zmq", "redis", "hiredis", "socket", "ssl", "select", "selectors", "asyncio", "http", "urllib",
              "time", "datetime", "uuid", "os", "io", "pathlib", "shutil", "tempfile", "glob", "fcntl", "mmap",
              "subprocess", "threading", "multiprocessing", "concurrent", "signal", "logging",
              "prometheus_client", "yaml", "pyarrow", "matplotlib", "pandas"}
IO_BUILTINS = {"open", "print", "input"}
# Launcher modules that import one another inside functions (supervise's status calls the overview and
# hosts_status, which call back into supervise; topology loads curve and hosts when it checks a topology, ...):
# one group of cycles, each closed only by a function-level import, so never at load time. It may shrink; a module
# that joins it, or any other cycle, fails: break the cycle (the shared piece into a module both import) instead.
KNOWN_DEFERRED_CYCLE = {"launcher.curve", "launcher.deploy", "launcher.hosts", "launcher.hosts_status",
                        "launcher.monitor", "launcher.monitoring", "launcher.overview", "launcher.redis_conn",
                        "launcher.supervise", "launcher.topology"}

DYNAMIC_IMPORTERS = {"import_module", "__import__"}  # importlib.import_module(NAME), __import__(NAME)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _load_time_nodes(node: ast.AST):
    """The nodes that run when a module loads: not inside a function or an `if TYPE_CHECKING:` block."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or _is_type_checking(child):
            continue
        yield child
        yield from _load_time_nodes(child)


def imported_names(source: str, load_time_only: bool = False) -> list[str]:
    """Every name the source imports; `from a import b` gives a and a.b (the module, when b is one).
    load_time_only: only the imports made when the module loads (_load_time_nodes)."""
    tree = ast.parse(source)
    names = []
    for node in _load_time_nodes(tree) if load_time_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if called in DYNAMIC_IMPORTERS:
                names.append(node.args[0].value)
    return names


def repo_modules(repo: Path = REPO) -> dict[str, Path]:
    """Dotted name -> file of every module in the top-level packages (a package's __init__ is the package)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*.py")):
            parts = path.relative_to(repo).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def module_of(name: str, modules: dict[str, Path]) -> str | None:
    """The repository module an imported name loads (its longest prefix that is one), or None."""
    parts = name.split(".")
    if parts[0] in TEST_MODULES and parts[0] not in PACKAGES:
        parts = ["tests"] + parts
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def module_edges(repo: Path = REPO, load_time_only: bool = False) -> dict[str, dict[str, str]]:
    """importer module -> {imported module: the name that imports it} over the repository's own modules."""
    modules = repo_modules(repo)
    edges: dict[str, dict[str, str]] = {}
    for module, path in modules.items():
        for name in imported_names(path.read_text(), load_time_only):
            target = module_of(name, modules)
            if target is not None and target != module:
                edges.setdefault(module, {}).setdefault(target, name)
    return edges


def package_of(module: str) -> str:
    return module.split(".")[0]


def cycle_groups(edges: dict[str, dict[str, str]]) -> list[set[str]]:
    """The strongly connected groups of two or more modules (each module of a group reaches every other)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan; module graphs are shallow enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return sorted(groups, key=min)


def cycle_through(group: set[str], edges: dict[str, dict[str, str]]) -> list[str]:
    """The shortest cycle from the group's first module back to it, as [m0, m1, ..., m0]."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w == start:
                return paths[v] + [start]
            if w in group and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"no cycle through {sorted(group)}")


def cycles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle through each cycle group."""
    return [cycle_through(group, edges) for group in cycle_groups(edges)]


def explain(cycle: list[str], edges: dict[str, dict[str, str]]) -> str:
    return " -> ".join(f"{a} (imports {edges[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def io_free_problems(module: str, repo: Path = REPO) -> list[str]:
    """Why `module` is not I/O-free: an I/O, clock or socket module imported, a call of open/print/input, or a
    repository module imported that is neither an I/O-free actor module nor in IO_FREE_MAY_IMPORT."""
    modules = repo_modules(repo)
    source = modules[module].read_text()
    problems = []
    for name in imported_names(source):
        target = module_of(name, modules)
        if target is None and name.split(".")[0] in IO_MODULES:
            problems.append(f"imports {name.split('.')[0]}")
        elif target is not None and target != package_of(target) and target not in IO_FREE_ACTOR_MODULES \
                and target not in IO_FREE_MAY_IMPORT:
            problems.append(f"imports {target}")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            problems.append(f"calls {node.func.id}() on line {node.lineno}")
    return sorted(set(problems))


# --------------------------------------------------------------------------- the rules


def test_the_actors_io_free_modules_import_no_socket_redis_clock_or_file_module_and_no_actor_shell():
    modules = repo_modules()
    assert set(IO_FREE_ACTOR_MODULES) <= set(modules), set(IO_FREE_ACTOR_MODULES) - set(modules)
    problems = {m: p for m in IO_FREE_ACTOR_MODULES if (p := io_free_problems(m))}
    assert not problems, problems


def test_the_launcher_imports_only_the_actors_io_free_modules():
    edges = module_edges()
    wrong = {f"{importer} imports {name}" for importer, targets in edges.items() if package_of(importer) == "launcher"
             for target, name in targets.items()
             if package_of(target) == "actors" and target != "actors" and target not in IO_FREE_ACTOR_MODULES}
    assert not wrong, sorted(wrong)


def test_no_import_cycle_between_modules_at_load_time():
    edges = module_edges(load_time_only=True)
    found = cycles(edges)
    assert not found, " || ".join(explain(c, edges) for c in found)


def test_every_import_cycle_with_function_level_imports_is_the_launchers_known_deferred_one():
    edges = module_edges()
    found = [group for group in cycle_groups(edges) if not group <= KNOWN_DEFERRED_CYCLE]
    assert not found, " || ".join(f"{sorted(group - KNOWN_DEFERRED_CYCLE)} in a cycle: "
                                  f"{explain(cycle_through(group, edges), edges)}" for group in found)
    assert all(package_of(m) == "launcher" for m in KNOWN_DEFERRED_CYCLE)


def test_the_launcher_never_imports_a_proof_a_benchmark_or_a_test():
    edges = module_edges()
    wrong = {f"{importer} imports {name}" for importer, targets in edges.items() if package_of(importer) == "launcher"
             for target, name in targets.items() if package_of(target) in ("proofs", "bench", "tests")}
    assert not wrong, sorted(wrong)


def test_nothing_imports_the_tests():
    edges = module_edges()
    wrong = {f"{importer} imports {name}" for importer, targets in edges.items() if package_of(importer) != "tests"
             for target, name in targets.items() if package_of(target) == "tests"}
    assert not wrong, sorted(wrong)


LOADED = ("tests = {p.stem for p in __import__('pathlib').Path('tests').glob('*.py')}\n"
          "print(sorted(n for n in sys.modules\n"
          "             if n.split('.')[0] in {'actors', 'proofs', 'bench', 'tests'} | tests))\n")


def loaded_in_a_fresh_interpreter(script: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", "import sys\n" + script + LOADED], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_building_the_cli_loads_no_actor_proof_bench_or_test_module():
    """The backtest and the proofs run as their own processes: every other command starts without them."""
    assert loaded_in_a_fresh_interpreter("from launcher.cli import build_parser\nbuild_parser()\n") == []


def test_importing_every_launcher_module_loads_no_actor_module_but_the_io_free_ones_and_no_proof_bench_or_test():
    """Catches what the source scan cannot: a module name computed at run time."""
    loaded = loaded_in_a_fresh_interpreter(
        "import importlib, pkgutil\n"
        "import launcher\n"
        "for m in pkgutil.iter_modules(launcher.__path__):\n"
        "    if m.name != '__main__':\n"
        "        importlib.import_module('launcher.' + m.name)\n"
        "from launcher.cli import build_parser\n"
        "build_parser()\n")
    assert set(loaded) <= {"actors", *IO_FREE_ACTOR_MODULES}, loaded
    assert "actors.policy" in loaded  # launcher.backtest was imported: the check saw it


def test_every_cli_command_module_is_a_launcher_module():
    """launcher/cli.py imports its COMMAND_MODULES by name (importlib), which the import scan cannot see."""
    tree = ast.parse((REPO / "launcher" / "cli.py").read_text())
    modules = [ast.literal_eval(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and any(isinstance(target, ast.Name) and target.id == "COMMAND_MODULES" for target in node.targets)]
    assert modules and all(name.startswith("launcher.") for name in modules[0]), modules


def test_the_commands_run_as_processes_are_the_launchers_backtest_and_the_proofs():
    """`clustergate backtest` and `clustergate proof` run `python -m MODULE`, a name the import scan cannot see."""
    from launcher.cli import PROCESS_COMMANDS

    assert PROCESS_COMMANDS == {"proof": "proofs.cli", "backtest": "launcher.backtest"}


# --------------------------------------------------------------------------- the checks can fail


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import_and_the_load_time_one_does_not(tmp_path: Path):
    repo = write_repo(tmp_path, {"actors/a.py": "from launcher.b import x\n",
                                 "launcher/b.py": "def f():\n    from actors import a\n"})
    edges = module_edges(repo)
    assert cycles(edges) == [["actors.a", "launcher.b", "actors.a"]]
    assert explain(cycles(edges)[0], edges) == \
        "actors.a (imports launcher.b) -> launcher.b (imports actors.a) -> actors.a"
    assert cycles(module_edges(repo, load_time_only=True)) == []


def test_the_load_time_cycle_finder_sees_imports_under_if_and_try_but_not_type_checking(tmp_path: Path):
    repo = write_repo(tmp_path, {
        "launcher/a.py": "try:\n    import launcher.b\nexcept ImportError:\n    pass\n",
        "launcher/b.py": "import sys\nif sys.version_info > (3,):\n    from launcher import a\n",
        "launcher/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from launcher import a\n"
                         "import launcher.a\n"})
    assert cycles(module_edges(repo, load_time_only=True)) == [["launcher.a", "launcher.b", "launcher.a"]]
    (repo / "launcher/b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from launcher import a\n")
    assert cycles(module_edges(repo, load_time_only=True)) == []
    assert cycles(module_edges(repo)) == [["launcher.a", "launcher.b", "launcher.a"]]


def test_the_import_scan_sees_imports_by_a_literal_name_and_from_a_package_import_a_module(tmp_path: Path):
    repo = write_repo(tmp_path, {
        "launcher/a.py": "import importlib\n"
                         "def f():\n"
                         "    return importlib.import_module('actors.gate')\n"
                         "def g():\n"
                         "    return __import__('proofs.cli')\n",
        "launcher/b.py": "from actors import clusterer\n",
        "proofs/cli.py": "from importlib import import_module\nh = import_module('helpers')\n",
        "actors/gate.py": "", "actors/clusterer.py": "", "tests/helpers.py": ""})
    edges = module_edges(repo)
    assert {m: sorted(t) for m, t in edges.items()} == {
        "launcher.a": ["actors.gate", "proofs.cli"], "launcher.b": ["actors.clusterer"],
        "proofs.cli": ["tests.helpers"]}


def test_the_io_free_check_names_a_clock_a_socket_a_file_and_an_actor_shell(tmp_path: Path):
    repo = write_repo(tmp_path, {
        "actors/policy.py": "import math\nimport time\nfrom zmq import Context\nfrom launcher.topology import X\n"
                            "from actors import gate\n"
                            "def f(path):\n    import redis\n    with open(path) as fh:\n        return fh.read()\n",
        "actors/gate.py": "", "launcher/topology.py": ""})
    assert io_free_problems("actors.policy", repo) == ["calls open() on line 8", "imports actors.gate", "imports redis",
                                                       "imports time", "imports zmq"]


# --------------------------------------------------------------------------- the code a child process runs


DECOY = "raise SystemExit('DECOY: the {package} package of the working directory ran, not this checkout')\n"


def test_proof_and_backtest_run_this_checkouts_code_from_a_directory_holding_another_proofs_and_launcher(
        tmp_path: Path):
    """`clustergate proof` and `clustergate backtest` run their module in a child process: from a directory that
    holds other `proofs` and `launcher` packages (another checkout), the child still runs this checkout's."""
    import os

    from launcher.own_code import own_env

    for package in ("proofs", "launcher"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(DECOY.format(package=package))
    env = own_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    for command in ("proof", "backtest"):
        # -P and own_env: the launcher itself is this checkout's too, as the installed `clustergate` is.
        result = subprocess.run([sys.executable, "-P", "-m", "launcher", command, "--help"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert "DECOY" not in result.stdout + result.stderr, (command, result.stderr)
        assert result.returncode == 0 and result.stdout.startswith("usage:"), (command, result.stdout, result.stderr)
