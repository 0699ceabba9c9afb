"""The CLI's standard streams attacked as an operator's shell leaves them (opcli review): closed (`>&-`), refusing
every write (`> /dev/full`, a full disk) or read by a reader that goes away (`| head -1`), against real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from helpers import PYTHON, REPO, demo_topology_data, retarget, write_topology

# `clustergate ARGS` with the shell's redirection REDIRECT applied, e.g. `>&-`: the operator's exact command line.
SHELL = 'redirect="$1"; shift; eval "exec $redirect"; exec "$@"'


def clustergate(*args: str, redirect: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    command = [PYTHON, "-m", "launcher", *args]
    if redirect is not None:
        command = ["sh", "-c", SHELL, "sh", redirect, *command]
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def up_with_stdout_closed(tmp_path_factory):
    """One demo system for the module, started by an `up` whose standard output is closed; the proofs leave it as
    they found it."""
    tmp = tmp_path_factory.mktemp("opcli")
    home = tmp / "home"
    topology = write_topology(tmp / "demo.yaml", retarget(demo_topology_data()))
    up = clustergate("up", str(topology), "--home", str(home), redirect=">&-")
    try:
        yield home, up
    finally:
        clustergate("down", "--home", str(home))


def test_an_up_with_stdout_closed_starts_the_system_and_exits_0_without_a_traceback(up_with_stdout_closed) -> None:
    # It started every program, then failed on its last flush of the closed stdout: AttributeError traceback, exit 1,
    # so `clustergate up FILE >&- || roll back` rolled back a system that was up.
    home, up = up_with_stdout_closed
    assert up.returncode == 0 and "Traceback" not in up.stderr, up.stderr
    status = clustergate("status", "--home", str(home))
    assert status.returncode == 0, status.stdout + status.stderr


def test_status_and_propose_with_stdout_closed_exit_with_their_own_codes(up_with_stdout_closed) -> None:
    home, _ = up_with_stdout_closed
    status = clustergate("status", "--home", str(home), redirect=">&-")
    assert status.returncode == 0 and status.stderr == "", status.stderr
    # A decided proposal exited 1 (the code of a refusal) with a traceback after its decision was recorded.
    propose = clustergate("propose", "--home", str(home), "--symbol", "ETHUSDT", "--action", "HOLD", redirect=">&-")
    assert propose.returncode == 0 and "Traceback" not in propose.stderr, propose.stderr
    assert re.fullmatch(r"plan_id [0-9a-f]{32}\n", propose.stderr), propose.stderr
    nothing_there = clustergate("status", "--home", str(home.parent / "nothing-here"), redirect=">&- 2>&-")
    assert nothing_there.returncode == 1
    # What the command starts gets the same /dev/null, not a closed stdout of its own: the help of `backtest` (run as
    # a process) went to stderr, and a proof (one too) printed nothing whatever it wrote.
    helped = clustergate("backtest", "--help", redirect=">&-")
    assert helped.returncode == 0 and helped.stderr == "", helped.stderr
    proof = clustergate("proof", "readiness", "--home", str(home), redirect=">&-")
    assert proof.returncode == 0 and proof.stderr == "", proof.stderr


def test_commands_whose_stdout_refuses_their_lines_say_so_in_one_line_and_exit_1(up_with_stdout_closed) -> None:
    # `> /dev/full` (a full disk) ended each in an OSError traceback.
    home, _ = up_with_stdout_closed
    topology = str(home / "run" / "topology.yaml")
    for args in (["validate", topology], ["schema"], ["render", topology, "--home", str(home)],
                 ["status", "--home", str(home)], ["status", "--json", "--home", str(home)],
                 ["positions", "list", "--home", str(home)], ["prometheus-config", topology],
                 ["deploy", "--history", "--home", str(home)]):
        result = clustergate(*args, redirect="> /dev/full")
        said = result.stderr.splitlines()
        assert result.returncode == 1 and len(said) == 1, (args, result.stderr)
        assert said[0] == f"clustergate {args[0]}: cannot write to standard output: No space left on device", said


def reports(home: Path, name: str) -> list[Path]:
    return sorted((home / "run" / "proofs").glob(f"{name}-*.json"))


def every_program_running(home: Path) -> bool:
    from launcher.supervise import Home, Supervisor
    return all(p["statename"] == "RUNNING" for p in Supervisor(Home(home)).processes())


def test_a_proof_whose_reader_goes_away_runs_to_the_end_writes_its_report_and_exits_as_on_sigpipe(
        up_with_stdout_closed) -> None:
    # `clustergate proof fallback | head -1`: the next PASS line raised BrokenPipeError in the proof, its own FAIL line
    # about it raised again: a traceback, exit 1, and no report of the run.
    home, _ = up_with_stdout_closed
    before = reports(home, "fallback")
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    proof = subprocess.Popen([PYTHON, "-m", "launcher", "proof", "fallback", "--home", str(home)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first = proof.stdout.readline()
        proof.stdout.close()  # head -1 has its line and exits
        _, err = proof.communicate(timeout=180)
    finally:
        if proof.poll() is None:
            proof.kill()
            proof.wait(10)
    assert first.startswith(b"proof fallback against "), first
    assert proof.returncode == 128 + signal.SIGPIPE and b"Traceback" not in err, err.decode(errors="replace")
    after = reports(home, "fallback")
    assert len(after) == len(before) + 1, after
    assert every_program_running(home)


def test_a_proof_whose_stdout_refuses_its_lines_says_where_its_report_is_and_exits_1(up_with_stdout_closed) -> None:
    home, _ = up_with_stdout_closed
    before = reports(home, "readiness")
    result = clustergate("proof", "readiness", "--home", str(home), redirect="> /dev/full")
    after = reports(home, "readiness")
    assert len(after) == len(before) + 1, after
    said = result.stderr.splitlines()
    assert result.returncode == 1 and len(said) == 1, result.stderr
    assert said[0] == (f"clustergate proof: cannot write to standard output: No space left on device; the proof "
                       f"PASSED: report {after[-1].with_suffix('.txt')} and .json"), said
