"""rev-ops: the cluster side and the launcher as an operator meets them, each defect reproduced first against real
processes (redis-server, actors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology
from test_clusters_end_to_end import TickFeed

AHEAD_S = 30.0


@pytest.fixture
def buffer_fed(tmp_path: Path, redis_server):
    """A real buffer (1 s cadence, so max_price_age_s 5 s) fed by a test feed whose tick timestamps the test shifts."""
    data = retarget(demo_topology_data(), redis_server.url)
    data["clusters"].update({"cadence_s": 1, "lookback_returns": 30, "min_returns": 5})
    topo_path = write_topology(tmp_path / "topology.yaml", data)
    feed = TickFeed(data["actors"]["price_feed"]["sockets"]["ticks"]["bind"], redis_server.client()).start()
    buffer = ActorProcess(topo_path, "buffer").start()
    yield {"topo_path": topo_path, "feed": feed, "buffer": buffer, "port": data["actors"]["buffer"]["metrics_port"]}
    buffer.terminate()
    feed.stop()


def status_text(topo_path: Path) -> tuple[str, dict]:
    from launcher.overview import collect_overview, render_overview
    from launcher.topology import load_topology

    topo = load_topology(topo_path)
    ov = collect_overview(topo)
    return render_overview(topo, ov), ov


def test_a_feed_whose_ticks_the_buffer_refuses_as_from_the_future_is_named_by_status_and_the_buffers_log(buffer_fed):
    """rev-ops: the price feed's clock 30 s ahead of the buffer's (a feed host's NTP step, or a feed restarted on a
    skewed host): every tick was refused (future_ts), the cluster state stopped and the gate fell back to the proxy,
    and `clustergate status` said each symbol was HELD with no newer price "until it ticks" and the newest price
    STALE, while the feed, RUNNING, published four ticks a second; the buffer logged nothing. Only the counter
    p27_buffer_rejected_ticks_total{reason="future_ts"} rose."""
    feed, buffer, port = buffer_fed["feed"], buffer_fed["buffer"], buffer_fed["port"]
    wait_for(lambda: (scrape(port).get('p27_buffer_last_accepted_tick_timestamp_seconds{symbol="BTCUSDT"}') or 0) > 0,
             30, f"the buffer to accept a tick\n{buffer.log()}")
    text, _ = status_text(buffer_fed["topo_path"])
    assert "refuses" not in text, text
    feed.ts_offset_s = AHEAD_S
    wait_for(lambda: "STALE" in status_text(buffer_fed["topo_path"])[0], 30, "the newest accepted price to go stale")
    text, ov = status_text(buffer_fed["topo_path"])
    line = next((x for x in text.splitlines() if "refuses" in x), None)
    assert line is not None, text
    assert "future_ts" in line and f"{AHEAD_S:.0f}" in line and "ahead of the buffer's clock" in line, line
    assert ov["ticks_refused"]["future_ts"]["offset_s"] == pytest.approx(AHEAD_S, abs=1.0), ov["ticks_refused"]
    logged = [x for x in buffer.log().splitlines() if "event=tick_refused " in x]
    assert logged and "reason=future_ts" in logged[0] and "ahead_s=" in logged[0], buffer.log()
    feed.ts_offset_s = 0.0
    wait_for(lambda: "fresh" in next(x for x in status_text(buffer_fed["topo_path"])[0].splitlines()
                                     if x.startswith("newest price accepted")), 30, "the newest price fresh again")
    text, _ = status_text(buffer_fed["topo_path"])
    assert "refuses" not in text, text


def clustergate(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def up_demo(tmp_path: Path) -> tuple[Path, dict, Path, subprocess.CompletedProcess]:
    """`clustergate up` of the demo on free ports, its home tmp_path/home: (home, the topology's data, its file, up's
    result). The caller runs `down` when done."""
    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    return home, data, topo_path, clustergate("up", str(topo_path), "--home", str(home))


def test_status_names_a_running_copy_edited_by_hand_that_a_restarted_program_would_read(tmp_path: Path) -> None:
    """rev-ops: an operator edited run/topology.yaml (min_returns 10 -> 20) and ran `supervisorctl restart correlator`:
    the correlator ran the edit, which no `up` had validated or applied, status read it too (21 points needed) and
    exited 0 saying nothing, and the next `up` of the real file left that correlator running, its hash in
    run/programs.d unchanged. `up` now ends run/programs.d with the copy's SHA-256, and status says when the copy is not
    that text, and exits 1."""
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    up = clustergate("up", str(topo_path), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 60, "status to exit 0")
        copy = home / "run" / "topology.yaml"
        applied = copy.read_text()
        copy.write_text(applied.replace("min_returns: 10", "min_returns: 20", 1))
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        line = next((x for x in status.stdout.splitlines() if x.startswith("EDITED: ")), None)
        assert line is not None and str(copy) in line and "restarted now" in line, status.stdout
        said = json.loads(clustergate("status", "--home", str(home), "--json").stdout)
        assert said["running_copy_edited"] is True, said.get("running_copy_edited")
        copy.write_text(applied)
        status = clustergate("status", "--home", str(home))
        assert "EDITED: " not in status.stdout and status.returncode == 0, status.stdout
    finally:
        clustergate("down", "--home", str(home))


def test_an_up_that_changes_the_cadence_says_the_buffers_history_is_discarded_and_the_warm_up_it_costs(
        tmp_path: Path) -> None:
    """rev-ops: `up` of the demo with clusters.cadence_s 1 -> 2 said only `restarted [...]`; the buffer discarded its
    saved history (a grid of the old cadence: one warning in its own log), so the cluster side warmed up again for
    min_returns cadences with the gate on the proxy (10 minutes at a production cadence of 60 s) and nothing the
    operator saw said so."""
    home, data, topo_path, up = up_demo(tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "history" not in up.stdout, up.stdout
        buffer_port = data["actors"]["buffer"]["metrics_port"]
        wait_for(lambda: (scrape(buffer_port).get("p27_buffer_min_points_per_symbol") or 0) >= 2, 30,
                 "the buffer to hold points of the 1 s grid")
        data["clusters"]["cadence_s"] = 2
        write_topology(topo_path, data)
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        assert ("clusters.cadence_s changed from 1 s to 2 s: the buffer's saved history (a grid of the old cadence) is "
                "discarded") in up.stdout, up.stdout
        assert "min_returns (10) cadences" in up.stdout, up.stdout
        log = (home / "run" / "logs" / "buffer.log").read_text()
        assert "event=history_discarded reason=cadence_changed" in log, log[-3000:]
    finally:
        clustergate("down", "--home", str(home))


def test_a_feed_whose_ticks_are_stamped_behind_the_buffers_clock_is_named_by_status(buffer_fed):
    """rev-ops: the price feed's clock 30 s behind the buffer's: its ticks were accepted into grid slots 30 s back
    (or refused superseded), no price was fresh, the cluster state stopped and the gate fell back, and status said
    only that the newest price was STALE and each held symbol HELD "until it ticks", while the feed ticked."""
    feed, buffer, port = buffer_fed["feed"], buffer_fed["buffer"], buffer_fed["port"]
    wait_for(lambda: (scrape(port).get('p27_buffer_last_accepted_tick_timestamp_seconds{symbol="BTCUSDT"}') or 0) > 0,
             30, f"the buffer to accept a tick\n{buffer.log()}")
    feed.ts_offset_s = -AHEAD_S
    wait_for(lambda: "STALE" in status_text(buffer_fed["topo_path"])[0], 30, "the newest accepted price to go stale")
    text, ov = status_text(buffer_fed["topo_path"])
    line = next((x for x in text.splitlines() if "stamped" in x and "behind the buffer's clock" in x), None)
    assert line is not None and f"{AHEAD_S:.1f} s behind" in line, text
    assert ov["newest_tick_received"]["offset_s"] == pytest.approx(-AHEAD_S, abs=1.0), ov["newest_tick_received"]
    feed.ts_offset_s = 0.0
    wait_for(lambda: "behind the buffer's clock" not in status_text(buffer_fed["topo_path"])[0], 30,
             "status to stop naming the feed's clock once its ticks are on time")



def long_backtest(tmp_path: Path) -> subprocess.Popen:
    """`clustergate backtest` of many seconds (20,000 rows at the demo's 1 s cadence), in a session of its own: no
    terminal."""
    import math
    rows, t0 = ["ts,BTCUSDT,ETHUSDT,SOLUSDT"], 1_700_000_000
    for i in range(20_000):
        rows.append(f"{t0 + 60 * i},{60000 * math.exp(i % 7 / 1000):.2f},{3000 * math.exp(i % 5 / 1000):.2f},150")
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    return subprocess.Popen(
        [sys.executable, "-m", "launcher", "backtest", str(REPO / "configs" / "demo.yaml"), "--prices",
         str(tmp_path / "prices.csv"), "--out", str(tmp_path / "out")], cwd=REPO, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def test_a_sigint_to_clustergate_from_a_program_reaches_the_process_it_runs(tmp_path: Path) -> None:
    """rev2: `clustergate backtest` (and `proof`) run their command as a child process and ignore a SIGINT themselves,
    waiting for the child, which the terminal's Ctrl-C reaches too. A SIGINT sent to clustergate alone (a parent
    program, a CI runner's cancel; no terminal) reached no one: the backtest ran to its end and clustergate exited 0.
    With no terminal that could have sent the child the same SIGINT, clustergate passes it on."""
    import signal
    import time
    launcher = long_backtest(tmp_path)
    try:
        wait_for(lambda: children(launcher.pid), 10, "clustergate to start the backtest")
        time.sleep(0.5)  # (whether the child is still starting or already running, a SIGINT ends it)
        launcher.send_signal(signal.SIGINT)
        out, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 128 + signal.SIGINT, out[-1000:]
        assert "decisions" not in out, out[-1000:]
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(10)


def test_a_sigterm_to_clustergate_as_it_starts_its_child_reaches_the_child(tmp_path: Path) -> None:
    """rev2: clustergate set its SIGTERM and SIGHUP handlers only once Popen had returned (the child exec'd): a SIGTERM
    sent as the child appeared ended clustergate alone (-15, 40 times out of 40) and left the backtest running on its
    own. A signal that comes before the child is started is now passed to it as soon as it is."""
    import os
    import signal
    import time
    launcher = long_backtest(tmp_path)
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while not kids and time.monotonic() < deadline:  # no sleep: the signal must come within the fork's first ms
            kids.extend(children(launcher.pid))
        assert kids, "clustergate started no child"
        launcher.send_signal(signal.SIGTERM)
        out, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 128 + signal.SIGTERM, out[-1000:]
        assert not os.path.exists(f"/proc/{kids[0]}"), f"the child {kids[0]} outlived clustergate"
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(10)
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass


EXIT_SIGINT_SCRIPT = '''
import os, signal, sys, threading, time
from launcher.cli import main
# A thread the interpreter's shutdown waits for sends the SIGINT once the main thread has ended (the command answered,
# Python exiting): a Ctrl-C pressed again just after a command answered. Not after a fixed time: on a loaded machine
# the command may not have answered yet (then 130 from the command's own KeyboardInterrupt, which is not this case).
def press_at_exit():
    while threading.main_thread().is_alive():
        time.sleep(0.005)
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=press_at_exit).start()
main(["validate", sys.argv[1]])
'''


def test_a_ctrl_c_while_clustergate_exits_after_its_answer_ends_it_as_sigint_with_no_traceback() -> None:
    """CI: `up` answered a Ctrl-C ("interrupted (SIGINT): the change was applied ..."), and the next press, landing in
    Python's shutdown, printed "Exception ignored in: <module 'threading'> ... Traceback ... KeyboardInterrupt" (and a
    command's exit status then read 0). Once clustergate has answered, a SIGINT ends the process as SIGINT does."""
    done = subprocess.run([sys.executable, "-c", EXIT_SIGINT_SCRIPT, str(REPO / "configs" / "demo.yaml")], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.returncode == -2, (done.returncode, done.stdout, done.stderr)  # killed by SIGINT: a shell shows 130


def test_a_second_sigint_while_clustergate_passes_the_first_on_still_waits_for_its_child(monkeypatch) -> None:
    """A second SIGINT (two Ctrl-C, a CI runner's cancel resent) arriving while clustergate handled the first (asking
    whether the terminal sent it, passing it on) raised its KeyboardInterrupt out of that handling: clustergate exited
    130 at once, its child left running its clean-up on its own, unwaited. Reproduced in this process with real
    signals: a thread sends the first once the child is up, a profile hook the second as clustergate handles the
    first."""
    import os
    import threading
    import time
    import signal
    import subprocess
    import sys
    from launcher import cli
    child = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('up', flush=True); time.sleep(1)"
    monkeypatch.setattr(cli, "module_command", lambda module, *argv: [sys.executable, "-c", child + "; exit(7)"])
    sent: list[str] = []
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def keep(*args, **kwargs):
        process = real_popen(*args, stdout=subprocess.PIPE, **kwargs)
        assert process.stdout.readline() == b"up\n"  # its SIGINT ignored from here on
        started.append(process)
        return process
    monkeypatch.setattr(subprocess, "Popen", keep)

    def signals_at_the_worst_moments(frame, event, _arg):
        if event != "call":
            return
        if frame.f_code is cli._interrupt_may_be_the_terminals.__code__ and len(sent) == 1:
            sent.append("second")
            os.kill(os.getpid(), signal.SIGINT)

    def first_once_the_child_is_up():  # from a thread: a hook that raises is unset
        deadline = time.monotonic() + 20
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        sent.append("first")
        os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    sender = threading.Thread(target=first_once_the_child_is_up)
    sender.start()
    try:
        sys.setprofile(signals_at_the_worst_moments)
        try:
            code = cli.run_as_process("unused", [])
        except KeyboardInterrupt:  # (pytest would take it for its own and stop the run)
            code = "KeyboardInterrupt raised out of run_as_process"
        finally:
            sys.setprofile(None)
    finally:
        sender.join(30)
        signal.signal(signal.SIGINT, before)
        for each in started:
            if each.poll() is None:
                each.kill()
                each.wait(10)
            each.stdout.close()
    assert sent == ["first", "second"], sent
    assert code == 7
    assert signal.getsignal(signal.SIGINT) is before
