"""`make install` on a machine whose python3 cannot make a virtual environment (Debian's python3 without the
python3-venv package): the Makefile runs .ci/install-venv first, which installs the package for Debian's own
interpreter as root, and otherwise stops with one message naming the interpreter and the package, before any .venv
is made. Here the interpreter is a stand-in outside /usr/bin that lacks ensurepip, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def python_without_ensurepip(tmp_path: Path) -> Path:
    """A python3 whose `import ensurepip` fails and whose `-m venv` fails as Debian's does; anything else runs."""
    fake = tmp_path / "bin" / "python3"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
case "$*" in
  *ensurepip*) echo "ModuleNotFoundError: No module named 'ensurepip'" >&2; exit 1 ;;
  "-m venv"*) mkdir -p "$3"; echo "The virtual environment was not created successfully because ensurepip is not available." >&2; exit 1 ;;
esac
exec {sys.executable} "$@"
""")
    fake.chmod(0o755)
    return fake


def test_the_venv_check_passes_quietly_for_a_python_that_can_make_a_venv():
    done = subprocess.run(["bash", str(REPO / ".ci" / "install-venv"), sys.executable], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done


def test_a_python_without_ensurepip_is_named_with_the_package_to_install(tmp_path: Path):
    fake = python_without_ensurepip(tmp_path)
    done = subprocess.run(["bash", str(REPO / ".ci" / "install-venv"), str(fake)], capture_output=True, text=True,
                          timeout=60)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert done.returncode == 1, done
    assert str(fake) in done.stderr and "venv or ensurepip module is missing" in done.stderr, done.stderr
    assert f"python3-venv python{version}-venv" in done.stderr and "PYTHON=" in done.stderr, done.stderr
    assert "installing" not in done.stderr  # not Debian's interpreter: apt-get would not give it ensurepip


def test_make_install_stops_before_making_a_venv_with_a_python_that_cannot(tmp_path: Path):
    """Without the check, `python3 -m venv` left a half-made .venv and said only that ensurepip is not available."""
    if shutil.which("make") is None:
        raise AssertionError("make is not on PATH: `make test` itself needs it")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, checkout / name)
    shutil.copytree(REPO / ".ci", checkout / ".ci")
    fake = python_without_ensurepip(tmp_path)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["make", "install", f"PYTHON={fake}"], cwd=checkout, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode != 0, done
    assert "install-venv:" in done.stderr and "python3-venv" in done.stderr, done.stderr
    assert not (checkout / ".venv").exists(), sorted(p.name for p in checkout.iterdir())


def test_make_keeps_the_test_modules_rewritten_asserts_for_the_workers_under_pythondontwritebytecode(tmp_path: Path):
    """testspeed: with PYTHONDONTWRITEBYTECODE set (our machines), pytest kept no rewritten test module, so each of
    make test's workers, each collecting every file, rewrote the asserts of all of them: about 5 s of CPU a worker.
    `make rewritten-tests` (run by `make test` before the run) keeps them in tests/__pycache__ for the workers."""
    if shutil.which("make") is None:
        raise AssertionError("make is not on PATH: `make test` itself needs it")
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, checkout / name)
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)  # this venv (a mutants' copy has no .venv)
    (checkout / "tests" / "test_sample.py").write_text("def test_sample():\n    assert 1 + 1 == 2\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(["make", "rewritten-tests"], cwd=checkout, capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = sorted(p.name for p in (checkout / "tests" / "__pycache__").glob("test_sample.*-pytest-*.pyc"))
    assert len(kept) == 1, (done.stdout + done.stderr, kept)
    planned = subprocess.run(["make", "-n", "test"], cwd=checkout, capture_output=True, text=True, timeout=120,
                             env=env).stdout.splitlines()  # -n: printed, not run
    keeps = [i for i, line in enumerate(planned) if "--collect-only" in line]
    runs = [i for i, line in enumerate(planned) if " -n 8 " in line]
    assert keeps and runs and keeps[0] < runs[0], planned


def test_make_rewritten_tests_leaves_no_temp_root_when_a_test_module_fails_to_import(tmp_path: Path):
    """revtestspeed: tests/conftest.py makes a short temp root (/tmp/cg-*) for each pytest run and removes it after a
    run that passed; `make rewritten-tests`' collection, whose failures the run after it reports, left one behind,
    empty, at each `make test` whose collection failed (a test module that does not import)."""
    if shutil.which("make") is None:
        raise AssertionError("make is not on PATH: `make test` itself needs it")
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "tests/conftest.py", "tests/helpers.py"):
        shutil.copy(REPO / name, checkout / name)
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)  # this venv (a mutants' copy has no .venv)
    (checkout / "tests" / "test_sample.py").write_text("def test_sample():\n    assert 1 + 1 == 2\n")
    (checkout / "tests" / "test_broken.py").write_text("import no_such_module_anywhere\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(temp), "PYTHONPATH": str(REPO)}
    done = subprocess.run(["make", "rewritten-tests"], cwd=checkout, capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0 and "(ignored)" in done.stderr, done.stdout + done.stderr  # the collection failed
    assert sorted(p.name for p in (checkout / "tests" / "__pycache__").glob("test_sample.*-pytest-*.pyc")), done
    assert sorted(temp.iterdir()) == [], done.stdout + done.stderr


def test_make_test_hands_out_the_files_longest_first_by_file_seconds_and_a_file_it_does_not_name_first(tmp_path: Path):
    """testtime: tests/conftest.py's order of nine names with the rest by number of tests had gone stale (the two
    longest files, 564 s and 511 s, handed out 18th and 16th); the order now follows tests/file_seconds.txt, and a file
    it does not name (added since) goes before the others. Collected in a checkout of conftest, its helpers and four
    files; a file's tests keep their order."""
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    for name in ("tests/conftest.py", "tests/helpers.py"):
        shutil.copy(REPO / name, checkout / name)
    for name, tests in {"test_many": 5, "test_long": 1, "test_middle": 2, "test_new": 1}.items():
        (checkout / "tests" / f"{name}.py").write_text("".join(f"def test_{i}():\n    pass\n" for i in range(tests)))
    (checkout / "tests" / "file_seconds.txt").write_text(
        "# make test of 2026-12-07: 8 tests in 100 s (tests/file_seconds.py)\ntest_long.py 90\ntest_middle.py 9\n"
        "test_many.py 1\ntest_gone.py 50\n")
    collected = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
                                "tests"], cwd=checkout, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert ids == ["tests/test_new.py::test_0", "tests/test_long.py::test_0", "tests/test_middle.py::test_0",
                   "tests/test_middle.py::test_1", *(f"tests/test_many.py::test_{i}" for i in range(5))], ids
