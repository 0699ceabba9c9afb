"""`make mutants`: break the product on purpose, one curated mutation at a time, and check that the
tests meant to catch each break fail.

Each mutation is a search/replace on a small anchor in one product file, applied in a scratch copy
of the worktree (a temp dir; the worktree itself is never touched). Only the tests named for the
mutation run, with pytest -x. A mutation is killed when they fail, survives when they pass; an
anchor that is no longer in the file fails loudly ("mutation no longer applies"), since the
product code moves. The table (mutation, tests that killed it, time) is printed as Markdown, and
the run exits 1 when any mutation survived or no longer applies.

    .venv/bin/python tests/mutants/run.py [--only NAME[,NAME]] [--baseline] [--keep]

--baseline first runs every named test on the unmutated copy: a mutation 'killed' by a test that
fails anyway would prove nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from mutations import MUTATIONS, Mutation  # noqa: E402

PER_MUTATION_TIMEOUT_S = 600


class NoLongerApplies(Exception):
    """The mutation's anchor is not (exactly once) in its file: the product changed under it."""


@dataclass
class Result:
    mutation: Mutation
    verdict: str  # killed, SURVIVED, NO LONGER APPLIES, TIMEOUT
    killed_by: list[str]
    seconds: float
    detail: str = ""


def scratch_copy(dest: Path) -> Path:
    """The worktree's tracked and untracked (not ignored) files, as they are now, copied to dest."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the worktree but still in the index
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def apply(mutation: Mutation, root: Path) -> None:
    for file, anchor, replacement in ((mutation.file, mutation.anchor, mutation.replacement), *mutation.also):
        path = root / file
        if not path.exists():
            raise NoLongerApplies(f"{file} does not exist")
        text = path.read_text()
        found = text.count(anchor)
        if found != 1:
            raise NoLongerApplies(f"anchor found {found} times in {file}: {anchor.strip()[:80]!r}")
        at = text.index(anchor)
        if anchor[:1] in (" ", "\t") and at and text[at - 1] != "\n" and text[:at].rsplit("\n", 1)[-1].isspace():
            # An indented anchor inside a line indented deeper (the code moved into a block): the
            # replacement's lines would land at the old depth and the "killed" would be a SyntaxError.
            raise NoLongerApplies(f"anchor is indented deeper now in {file}: {anchor.strip()[:80]!r}")
        text = text.replace(anchor, replacement)
        if file.endswith(".py"):
            try:
                compile(text, file, "exec")
            except SyntaxError as exc:
                raise NoLongerApplies(f"{file} does not compile mutated ({exc.msg}, line {exc.lineno})") from None
        path.write_text(text)


def run_tests(root: Path, tests: tuple[str, ...], timeout_s: float, keep: bool = False) -> tuple[int | None, str]:
    """pytest -x on the copy, importing the copy's code (PYTHONPATH first, cwd the copy): (rc, output). Its temp root
    (TMPDIR/cg-*, short for supervisord's socket path, as conftest's) is removed afterwards unless keep: conftest keeps
    a failed run's for its logs, and a killed mutation is a failed run (one left per mutation killed, never removed)."""
    basetemp = tempfile.mkdtemp(prefix="cg-")
    try:
        return _pytest(root, tests, timeout_s, basetemp)
    finally:
        if keep:
            print(f"    pytest temp root kept: {basetemp}", flush=True)
        else:
            shutil.rmtree(basetemp, ignore_errors=True)


def _pytest(root: Path, tests: tuple[str, ...], timeout_s: float, basetemp: str) -> tuple[int | None, str]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rfE", f"--basetemp={basetemp}", *tests]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        return None, out
    except KeyboardInterrupt:
        # pytest runs in its own session, so a Ctrl-C here never reached it: it went on (or, killed, left its
        # fixtures' redis-servers and actors running for good). An interrupt tears its fixtures down.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, out


def failed_tests(output: str) -> list[str]:
    """Test ids pytest's -rfE summary names as FAILED or ERROR (a parametrized id may hold spaces)."""
    names = re.findall(r"^(?:FAILED|ERROR) (\S+?(?:\[.*?\])?)(?: - |$)", output, flags=re.M)
    return [n.split("::", 1)[-1] if "::" in n else n for n in names]


def first_error(output: str) -> str:
    """The first assertion line pytest printed (`E   ...`): why the tests failed."""
    for line in output.splitlines():
        if line.startswith("E "):
            return line[1:].strip()[:200]
    return ""


def run_one(mutation: Mutation, workdir: Path, keep: bool) -> Result:
    root = workdir / mutation.name
    started = time.monotonic()
    try:
        scratch_copy(root)
        try:
            apply(mutation, root)
        except NoLongerApplies as exc:
            return Result(mutation, "NO LONGER APPLIES", [], time.monotonic() - started, str(exc))
        rc, output = run_tests(root, mutation.tests, PER_MUTATION_TIMEOUT_S, keep)
        seconds = time.monotonic() - started
        if rc is None:
            return Result(mutation, "TIMEOUT", [], seconds, output[-1500:])
        if rc == 0:
            return Result(mutation, "SURVIVED", [], seconds, output[-1500:])
        if rc not in (1,):  # 2: interrupted/usage, 3: internal error, 4: bad arguments, 5: no tests
            return Result(mutation, f"ERROR (pytest exit {rc})", [], seconds, output[-1500:])
        return Result(mutation, "killed", failed_tests(output) or ["(no test named)"], seconds, first_error(output))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def baseline(workdir: Path, mutations: list[Mutation]) -> tuple[bool, float, str]:
    tests = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
    root = scratch_copy(workdir / "baseline")
    started = time.monotonic()
    rc, output = run_tests(root, tests, PER_MUTATION_TIMEOUT_S * 2)
    shutil.rmtree(root, ignore_errors=True)
    return rc == 0, time.monotonic() - started, output[-3000:]


def table(results: list[Result]) -> str:
    lines = ["| mutation | promise | killed by | verdict | time |", "| --- | --- | --- | --- | ---: |"]
    for r in results:
        killers = ", ".join(f"`{k}`" for k in r.killed_by) or "-"
        lines.append(f"| {r.mutation.name} | {r.mutation.promise} | {killers} | {r.verdict} | {r.seconds:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated mutation names (default all)")
    parser.add_argument("--baseline", action="store_true", help="first run the named tests on the unmutated copy")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies and their pytest temp roots (printed paths)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args(argv)
    chosen = MUTATIONS
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in {m.name for m in MUTATIONS}]
        if unknown:
            parser.error(f"unknown mutations {unknown}; known: {', '.join(m.name for m in MUTATIONS)}")
        chosen = [m for m in MUTATIONS if m.name in names]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.promise} ({m.file}) -> {' '.join(m.tests)}")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="clustergate-mutants-"))
    print(f"scratch copies under {workdir}", flush=True)
    started = time.monotonic()
    try:
        if args.baseline:
            ok, seconds, output = baseline(workdir, chosen)
            print(f"baseline (unmutated) {'passed' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
            if not ok:
                print(output)
                return 1
        results = []
        for m in chosen:
            print(f"{m.name} ...", end=" ", flush=True)
            r = run_one(m, workdir, args.keep)
            print(f"{r.verdict} in {r.seconds:.0f} s" + (f" by {', '.join(r.killed_by)}" if r.killed_by else ""),
                  flush=True)
            if r.detail:
                print("    " + r.detail.replace("\n", "\n    "), flush=True)
            results.append(r)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.monotonic() - started
    print()
    print(table(results))
    bad = [r for r in results if r.verdict != "killed"]
    print(f"\n{len(results) - len(bad)} of {len(results)} mutations killed; took {total:.0f} s"
          + (f"; NOT killed: {', '.join(r.mutation.name for r in bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
