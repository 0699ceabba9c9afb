"""Hostile review of clustergate backtest (btrev): a run stopped part way (SIGTERM, SIGHUP, Ctrl-C) and a sweep
whose worker process was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_backtest import REPO, T0, backtest, price_paths, topo, write_long_csv  # noqa: F401 (fixture)

RESULTS = ("clusters.csv", "states.csv", "decisions.csv", "summary.json", "report.png", "report.html")


def start_cli(*argv: object, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`clustergate backtest ARGV` as a user runs it, SIGINT not ignored (a test run in the background has it so)."""
    return subprocess.Popen([sys.executable, "-m", "launcher", "backtest", *map(str, argv)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {deadline_s} s"
        time.sleep(0.01)


def children(pid: int) -> list[int]:
    return [p for p, pp in parent_pids().items() if pp == pid]


def parent_pids() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


def stop_all(proc: subprocess.Popen) -> None:
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_run_stopped_part_way_leaves_no_mix_of_its_files_and_an_older_runs(tmp_path: Path, topo: Path, signum):
    """A run writes clusters.csv and decisions.csv as it goes, then states.csv, summary.json and the report. Stopped
    in between, the new clusters.csv and decisions.csv sat beside an older run's summary.json and report (other
    settings), passing for one run's results, and the copy of --proposals stayed in $TMPDIR. Now the run says it was
    stopped, removes the results, and exits 128 + the signal. (states.csv is a FIFO here: the run waits there,
    after writing clusters.csv and decisions.csv, until it is stopped.)"""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(300))
    proposals = tmp_path / "proposals.csv"
    proposals.write_text(f"ts,plan_id,symbol,action_proposed,kill_score\n{T0 + 5000},p1,BTCUSDT,PARTIAL_50,0\n")
    out = tmp_path / "out"
    assert backtest(topo, "--prices", prices, "--out", out, "--set", "corr_threshold=0.9") == 0
    (out / "states.csv").unlink()
    os.mkfifo(out / "states.csv")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = start_cli(topo, "--prices", prices, "--proposals", proposals, "--out", out,
                     env={**os.environ, "TMPDIR": str(tmp)})
    try:
        def wrote_decisions() -> bool:
            try:
                return ",p1,BTCUSDT," in (out / "decisions.csv").read_text()  # the older run's has no p1
            except FileNotFoundError:
                return False
        wait_for(wrote_decisions, 120, "decisions.csv from the second run")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        stop_all(proc)
    assert proc.returncode == 128 + signum, (proc.returncode, err[-1500:])
    assert err == (f"clustergate backtest: stopped by {signum.name} while writing the results in {out}; "
                   f"the results there were removed (no run's whole set was left)\n"), err[-1500:]
    assert not [name for name in RESULTS if os.path.lexists(out / name)]
    assert list(tmp.iterdir()) == []  # the private copy of --proposals


def test_a_sweep_whose_worker_process_is_killed_ends_naming_it_not_hangs(tmp_path: Path, topo: Path):
    """multiprocessing.Pool replaces a worker killed mid-task (the OOM killer's SIGKILL, say) and waits for its
    task's result for ever: the sweep hung, printing nothing. Now it ends, exit 1, naming the combination and the
    signal, and an older run's results stay as they were."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(60000), step_s=60)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.csv").write_text("older\n")
    proc = start_cli(topo, "--prices", prices, "--out", out, "--sweep", "corr_threshold=0.5,0.6,0.7,0.8")
    try:
        wait_for(lambda: len(descendants(proc.pid)) >= 3, 120, "sweep worker")  # the backtest and its workers
        (backtest_pid,) = children(proc.pid)
        os.kill(children(backtest_pid)[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        stop_all(proc)
    assert proc.returncode == 1, (proc.returncode, err[-1500:])
    assert err.startswith("clustergate backtest: sweep corr_threshold=0.") and \
        "its worker process was killed by SIGKILL; nothing was written" in err and len(err.splitlines()) == 1, err
    assert (out / "sweep.csv").read_text() == "older\n"


@pytest.mark.parametrize("extra, expected", [
    (["--sweep", "stress_riskoff=0.75,0.99", "--sweep", "riskoff_stress=0.8,0.9"],
     "--sweep riskoff_stress: given twice (as stress_riskoff too)"),
    (["--set", "corr_threshold=0.5", "--sweep", "corr_threshold=0.6,0.7"],
     "--sweep corr_threshold: also given in --set corr_threshold (the swept values would replace it)"),
    (["--set", "kill_score_limit=0.9", "--sweep", "kill_score_hard=0.8,0.85"],
     "--sweep kill_score_hard: also given in --set kill_score_limit (the swept values would replace it)"),
], ids=["swept under its alias too", "set and swept", "set under its alias and swept"])
def test_a_setting_swept_under_two_names_or_also_set_is_refused_not_overridden(tmp_path: Path, topo: Path, extra,
                                                                                 expected):
    """`--sweep stress_riskoff=0.75,0.99 --sweep riskoff_stress=0.8,0.9` ran 4 combinations of 2 settings: the
    alias's values were replaced by the other's without a word, sweep.csv showing stress_riskoff 0.99 beside the
    counts of 0.8 (rows 1 and 3 the same), and a heat map of 2 x 2 cells for 2 runs. A value --set and swept was
    replaced as silently. Now one line, exit 2, nothing written."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(50))
    proc = subprocess.run([sys.executable, "-m", "launcher", "backtest", str(topo), "--prices", str(prices),
                           "--out", str(tmp_path / "out"), *extra], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr == f"clustergate backtest: {expected}\n", proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_setting_set_twice_under_two_names_takes_the_last_given(tmp_path: Path, topo: Path) -> None:
    """--set, like any repeated option, takes the last value given; under an alias and its name too (the dict of
    values kept the first name's place, so `--set riskoff_stress=0.8 --set stress_riskoff=0.85 --set
    riskoff_stress=0.9` ran with 0.85)."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(50))
    assert backtest(topo, "--prices", prices, "--out", tmp_path / "out", "--set", "riskoff_stress=0.8",
                    "--set", "stress_riskoff=0.85", "--set", "riskoff_stress=0.9") == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]["riskoff_stress"] == 0.9


@pytest.mark.parametrize("sweep", [[], ["--sweep", "corr_threshold=0.5,0.9"]], ids=["run", "sweep"])
def test_a_reader_of_the_printed_line_gone_leaves_the_results_whole(tmp_path: Path, topo: Path, sweep):
    """The line printed once the results are written is not a result: a stdout whose reader went away (`| head -0`,
    a log pipe closed) raised BrokenPipeError, an OSError, read as a disk refusing the results, so every result file
    of a whole run was removed, exit 1 with `cannot write the results in OUT: Broken pipe`. Now the results stay and
    the backtest exits as a Unix tool does on SIGPIPE (141), saying nothing more, as `clustergate status | head` does."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "launcher", "backtest", str(topo), "--prices", str(prices),
                               "--out", str(out), *sweep], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, timeout=120)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (128 + signal.SIGPIPE, ""), (proc.returncode, proc.stderr[-1500:])
    names = ("sweep.csv", "sweep.json") if sweep else RESULTS
    assert all((out / name).stat().st_size > 0 for name in names), sorted(p.name for p in out.iterdir())


def test_a_second_stop_signal_during_the_clean_up_does_not_leave_the_mix(tmp_path: Path, topo: Path):
    """Two stop signals at once (a closed terminal's SIGHUP and a supervisor's SIGTERM): the first raised Stopped, and
    the interpreter ran the second's handler in the clean-up's first signal.signal call (it checks pending signals
    there), before it could set SIG_IGN: that Stopped escaped main(), a traceback, exit 1, the run's new clusters.csv
    and decisions.csv left beside the older run's summary.json and report. Now the second is the same stop. (The run
    waits on a FIFO states.csv; one BLAS thread, so that the kernel hands both signals to the main thread, which the
    open() of the FIFO returns to with EINTR: an idle BLAS thread can take them and leave it waiting for ever.)"""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(300))
    out = tmp_path / "out"
    assert backtest(topo, "--prices", prices, "--out", out, "--set", "corr_threshold=0.9") == 0
    older_summary = (out / "summary.json").read_text()
    (out / "states.csv").unlink()
    os.mkfifo(out / "states.csv")
    proc = subprocess.Popen([sys.executable, "-m", "launcher.backtest", str(topo), "--prices", str(prices),
                             "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                 "MKL_NUM_THREADS": "1"})
    try:
        def waits_on_states() -> bool:  # decisions.csv written, blocked opening the FIFO for writing
            try:
                return (out / "summary.json").read_text() == older_summary and \
                    Path(f"/proc/{proc.pid}/wchan").read_text() == "wait_for_partner"
            except OSError:
                return False
        wait_for(waits_on_states, 120, "the run waiting on states.csv")
        os.kill(proc.pid, signal.SIGHUP)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        stop_all(proc)
    assert proc.returncode == 128 + signal.SIGHUP, (proc.returncode, err[-1500:])
    assert err == (f"clustergate backtest: stopped by SIGHUP while writing the results in {out}; "
                   f"the results there were removed (no run's whole set was left)\n"), err[-1500:]
    assert not [name for name in RESULTS if os.path.lexists(out / name)]


@pytest.mark.parametrize("sweep", [[], ["--sweep", "corr_threshold=0.5,0.9"]], ids=["run", "sweep"])
def test_a_stdout_that_cannot_take_the_printed_line_leaves_the_results_whole(tmp_path: Path, topo: Path, sweep):
    """The printed line is not a result: a stdout on a full disk (`> /dev/full`, a log file on a full /var) raised
    OSError ENOSPC, read as the disk of OUT refusing the results: every result file of a whole run was removed and the
    command said `cannot write the results in OUT: No space left on device`, of a disk with room. Now the results
    stay, and one line on stderr says the line could not be printed, exit 1."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "launcher", "backtest", str(topo), "--prices", str(prices),
                               "--out", str(out), *sweep], stdout=full, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, timeout=120)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-1500:])
    assert proc.stderr == (f"clustergate backtest: the results in {out} are written, but the line saying so could not "
                           f"be printed: No space left on device\n"), proc.stderr[-1500:]
    names = ("sweep.csv", "sweep.json") if sweep else RESULTS
    assert all((out / name).stat().st_size > 0 for name in names), sorted(p.name for p in out.iterdir())


AT_FIRST_FORK_SIGTERM = """
import os, runpy, signal, sys
fired = []
def at_fork():  # a stop signal that comes while the sweep forks its first worker
    if not fired:
        fired.append(os.kill(os.getpid(), signal.SIGTERM))
os.register_at_fork(after_in_parent=at_fork)
sys.argv[0] = "launcher.backtest"
runpy.run_module("launcher.backtest", run_name="__main__")
"""


def test_a_stop_signal_while_a_sweep_forks_a_worker_stops_it(tmp_path: Path, topo: Path):
    """The stop handler ran where the interpreter was, and a signal that came while a sweep forked a worker ran it in
    the interpreter's at-fork hooks, which print the exception (`Exception ignored in`) and go on: the sweep ran to
    the end, exit 0, its results written over an older run's, the SIGTERM ignored. Now it stops the sweep as
    anywhere else. (The signal is sent from an at-fork hook of the backtest's own process: the instant it is
    otherwise a race to hit.)"""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.csv").write_text("older\n")
    proc = subprocess.run([sys.executable, "-c", AT_FIRST_FORK_SIGTERM, str(topo), "--prices", str(prices),
                           "--out", str(out), "--sweep", "corr_threshold=0.5,0.6,0.7"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (
        128 + signal.SIGTERM, f"clustergate backtest: stopped by SIGTERM; nothing was written in {out}\n"), \
        (proc.returncode, proc.stderr[-1500:])
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv"] and (out / "sweep.csv").read_text() == "older\n"


SIGTERM_ONCE_MAIN_RETURNED = """
import os, signal, sys
from launcher import backtest
code = backtest.main(sys.argv[1:])
os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM, once main() had stopped and restored the handlers
sys.exit(code)
"""


@pytest.mark.parametrize("stop", [False, True], ids=["finished", "stopped"])
def test_no_signal_after_the_backtest_returned_leaves_the_copy_of_proposals(tmp_path: Path, topo: Path, stop):
    """A sweep's copy of --proposals was held to the interpreter's exit (its inputs are module state for the
    workers), its removal a finalizer run at exit. main() restores SIGTERM's default on its way out, so a second
    SIGTERM 10 ms after the first (a supervisor's, repeated) killed the process in between, the copy left in $TMPDIR.
    Now main() removes it before restoring the handlers."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(100))
    proposals = tmp_path / "proposals.csv"
    proposals.write_text(f"ts,plan_id,symbol,action_proposed,kill_score\n{T0 + 1000},p1,BTCUSDT,PARTIAL_50,0\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = (AT_FIRST_FORK_SIGTERM.replace('sys.argv[0] = "launcher.backtest"\nrunpy.run_module(', '#')
              if stop else "") + SIGTERM_ONCE_MAIN_RETURNED
    proc = subprocess.run([sys.executable, "-c", script, str(topo), "--prices", str(prices), "--proposals",
                           str(proposals), "--out", str(tmp_path / "out"), "--sweep", "corr_threshold=0.5,0.6"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp)})
    assert proc.returncode == -signal.SIGTERM, (proc.returncode, proc.stderr[-1500:])
    assert list(tmp.iterdir()) == []


def test_sweep_workers_do_not_outlive_a_killed_sweep(tmp_path: Path, topo: Path):
    """A sweep SIGKILLed (the OOM killer picks the biggest process, the parent) left its workers running their
    combinations to the end with no one to take the result: CPU on every core for as long as a combination takes
    (minutes for a year of slots). Now each worker dies with the sweep (PR_SET_PDEATHSIG). The workers are stopped
    (SIGSTOP) before the sweep is killed: one that outlived it stays stopped, where a killed one is gone."""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(60000), step_s=60)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "launcher.backtest", str(topo), "--prices", str(prices),
                             "--out", str(out), "--sweep", "corr_threshold=0.5,0.6,0.7,0.8"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        wait_for(lambda: len(children(proc.pid)) >= 2, 120, "sweep workers")
        workers = children(proc.pid)
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        proc.kill()
        proc.communicate(timeout=60)

        def gone(pid: int) -> bool:
            try:
                return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
            except OSError:
                return True
        wait_for(lambda: all(gone(pid) for pid in workers), 30, "the workers' end")
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stop_all(proc)
    assert list(out.iterdir()) == []  # nothing written: the directory alone, made to hold --out's lock


def test_a_second_backtest_into_the_same_out_is_refused_while_the_first_writes(tmp_path: Path, topo: Path):
    """Two backtests with other settings writing into one --out at once (revbt): each truncated and wrote the other's
    files, both exited 0, and OUT held clusters.csv matching neither run (started together) or run A's report.png
    beside run B's summary.json (B started 0.3 s later). Now the second is refused, exit 2, naming OUT, and writes
    nothing there. (states.csv is a FIFO: the first run waits there, holding OUT, until it is killed.)"""
    prices = write_long_csv(tmp_path / "prices.csv", price_paths(300))
    proposals = tmp_path / "proposals.csv"
    proposals.write_text(f"ts,plan_id,symbol,action_proposed,kill_score\n{T0 + 5000},p1,BTCUSDT,PARTIAL_50,0\n")
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "states.csv")
    first = start_cli(topo, "--prices", prices, "--proposals", proposals, "--out", out)
    second = None
    try:
        def wrote_decisions() -> bool:
            try:
                return ",p1,BTCUSDT," in (out / "decisions.csv").read_text()
            except FileNotFoundError:
                return False
        wait_for(wrote_decisions, 120, "decisions.csv from the first run")
        written = {name: (out / name).read_bytes() for name in ("clusters.csv", "decisions.csv")}
        second = start_cli(topo, "--prices", prices, "--out", out, "--set", "corr_threshold=0.9")
        try:
            _, err = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the second backtest wrote into the first's --out (it waits on its states.csv FIFO)")
        assert second.returncode == 2, (second.returncode, err[-1500:])
        assert err == (f"clustergate backtest: --out {out}: another backtest is writing its results there; "
                       f"wait for it to end, or give another --out\n"), err[-1500:]
        assert {name: (out / name).read_bytes() for name in written} == written
    finally:
        if second is not None:
            stop_all(second)
        stop_all(first)


def test_a_second_stop_signal_in_a_clean_ups_own_except_is_the_same_stop():
    """The second of two stop signals sent at once runs its handler wherever the first's Stopped has got to: in a
    clean-up's own `except OSError` (a finally removing a file that is gone, say) sys.exc_info() is that OSError, the
    Stopped only its __context__. Read as no stop, the handler raised a Stopped of its own in place of the first's,
    and the run said it was stopped by the second signal (session 44's clean-clone CI run: SIGHUP then SIGTERM, exit
    143 where the test above wants 129). The handler is called as the interpreter calls it there."""
    from launcher.backtest import Stopped, _stop
    with pytest.raises(Stopped) as stopped:
        try:
            raise Stopped(signal.SIGHUP)
        finally:
            try:
                raise FileNotFoundError("gone")
            except FileNotFoundError:
                _stop(signal.SIGTERM, None)
    assert stopped.value.signum == signal.SIGHUP
    with pytest.raises(Stopped) as first:  # no stop being handled: the signal stops the run
        _stop(signal.SIGTERM, None)
    assert first.value.signum == signal.SIGTERM


def test_a_second_stop_signal_that_interrupts_the_first_ones_handler_is_the_same_stop():
    """The second of two signals sent at once can arrive while the first's handler runs, before it raised: the
    interpreter runs the second's handler there, nested, with no Stopped handled yet, and its Stopped replaced the
    first's (the likely cause of session 44's clean-clone CI failure of the test above: SIGHUP then SIGTERM, exit 143).
    Reproduced in this process with real signals: a profile hook sends SIGUSR2 as SIGUSR1's handler starts."""
    from helpers import nested_stop_signals
    from launcher.backtest import Stopped, _stop
    stopped = nested_stop_signals(_stop, signal.SIGUSR1, signal.SIGUSR2)
    assert isinstance(stopped, Stopped) and stopped.signum == signal.SIGUSR1, repr(stopped)
