"""Every curated mutation of `make mutants` still applies, and names tests that exist.

`make mutants` is slow and runs outside `make test`, so a product change that moves an anchor would
otherwise go unnoticed until its next run (an anchor re-indented by an `up` change went unnoticed this
way). This checks each mutation the way tests/mutants/run.py applies it, on copies of its files, without
running its tests."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import REPO

_spec = importlib.util.spec_from_file_location("mutants_run", REPO / "tests" / "mutants" / "run.py")
run = sys.modules.setdefault("mutants_run", importlib.util.module_from_spec(_spec))  # dataclasses look it up
_spec.loader.exec_module(run)


@pytest.mark.parametrize("mutation", run.MUTATIONS, ids=lambda m: m.name)
def test_the_mutation_still_applies_and_names_tests_that_exist(mutation, tmp_path: Path) -> None:
    for file in {mutation.file, *(f for f, _, _ in mutation.also)}:
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / file, tmp_path / file)
    run.apply(mutation, tmp_path)  # raises NoLongerApplies: anchor gone, found twice, deeper, or not compiling
    assert all((tmp_path / f).read_text() != (REPO / f).read_text() for f in {mutation.file})
    for test in mutation.tests:
        path, _, name = test.partition("::")
        assert (REPO / path).is_file(), f"{mutation.name}: no test file {path}"
        if name:
            function = re.sub(r"\[.*\]$", "", name.split("::")[-1])
            assert re.search(rf"^\s*def {re.escape(function)}\(", (REPO / path).read_text(), re.M), \
                f"{mutation.name}: no test {function} in {path}"


def test_mutation_names_are_unique() -> None:
    names = [m.name for m in run.MUTATIONS]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_a_killed_mutation_leaves_no_pytest_temp_root_behind(tmp_path: Path) -> None:
    """A killed mutation is a failed pytest run, and conftest keeps a failed run's short temp root (TMPDIR/cg-*) for
    its logs: `make mutants` left one in the temp dir per mutation killed, its Redis data and actor logs in it (62 of
    them, 246 MB, in /tmp after 40 minutes of `--only` runs on the shared machine, 5 Dec 2026), never removed."""
    mutation = next(m for m in run.MUTATIONS if m.name == "gate_logs_a_redis_outage_per_batch")  # one using Redis
    root = tmp_path / "copy"  # copied here, not by run_one's `git ls-files`: this test runs in mutation copies too
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(".git", ".venv", ".pytest_cache", "__pycache__", "run"))
    run.apply(mutation, root)
    pattern = re.sub(r"\[.*\]$", "", mutation.tests[0].rpartition("::")[2])[:30] + "*"  # pytest's tmp_path name
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("cg-*"))
    rc, output = run.run_tests(root, mutation.tests, run.PER_MUTATION_TIMEOUT_S)
    assert rc == 1, output[-1500:]  # killed
    left = [str(found) for found in set(temp.glob("cg-*")) - before if any(found.glob(pattern))]
    for found in left:
        shutil.rmtree(found, ignore_errors=True)
    assert left == [], f"the killed mutation's pytest temp root is still there: {left}"
