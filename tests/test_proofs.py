"""The proofs against a live demo system (real supervisord, Redis and actors), passing and failing."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Iterator

import pytest
import redis
import yaml

from helpers import REPO, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher.overview import first
from launcher.supervise import Home, Supervisor
from proofs.readiness import STARTING_GRACE_S


def clustergate(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


@pytest.fixture(scope="module")
def demo_system(tmp_path_factory):
    """One demo system for the module: the proofs leave it as they found it."""
    tmp = tmp_path_factory.mktemp("proofs")
    home = tmp / "home"
    topo_path = write_topology(tmp / "demo.yaml", retarget(demo_topology_data()))
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    yield home
    clustergate("down", "--home", str(home))


def run_proof(home: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    return clustergate("proof", name, "--home", str(home), *args)


def supervisorctl(home: Path, *args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c", str(home / "supervisord.conf"), *args],
                   check=True, capture_output=True, timeout=30)


def latest_report(home: Path, name: str) -> dict:
    reports = sorted((home / "run" / "proofs").glob(f"{name}-*.json"))
    assert reports, f"no {name} report written"
    return json.loads(reports[-1].read_text())


def report_base(result: subprocess.CompletedProcess) -> Path:
    """The report a proof run wrote, as it printed it: `report DIR/NAME-STAMP.txt and .json`."""
    found = re.search(r"report (\S+)\.txt and \.json", result.stdout)
    assert found, f"no report path printed\n{result.stdout}"
    return Path(found.group(1))


@pytest.mark.parametrize("name", ["readiness", "fallback", "warm-restart", "readiness"])
def test_proof_passes_on_the_demo_and_writes_its_report(demo_system: Path, name: str) -> None:
    result = run_proof(demo_system, name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    base = report_base(result)
    assert base.parent == (demo_system / "run" / "proofs").resolve() and base.name.startswith(f"{name}-")
    report = json.loads(Path(f"{base}.json").read_text())
    assert report["proof"] == name and report["passed"] is True and report["checks"]
    assert all(check["ok"] for check in report["checks"])
    text = Path(f"{base}.txt").read_text().splitlines()
    assert text[0].startswith(f"proof {name} on ") and "PASSED" in text[0]
    assert any(line.startswith("PASS  ") for line in text) and not any(line.startswith("FAIL  ") for line in text)



def test_readiness_proof_decides_on_a_symbol_the_desk_does_not_hold_when_there_is_one(demo_system: Path) -> None:
    """opday: the readiness proof's real FULL_CLOSE_PROPOSED went to the first symbol with a position snapshot, so its
    permit set that held symbol's cooldown: the desk's own FULL_CLOSE_PROPOSED of BTCUSDT a moment after the proof (a
    deploy runs it), at stress 0.976, was cut to PARTIAL_75 `cooldown_downgrade`. A flat symbol of the allowlist takes
    that cooldown at no cost to the desk."""
    from launcher import keys

    topo_path = demo_system.parent / "demo.yaml"  # the fixture's file: `up` of it from its own directory
    original = topo_path.read_text()
    data = yaml.safe_load(original)
    data["actors"]["book"]["settings"]["positions"]["SOLUSDT"] = 0.0  # the desk closed SOLUSDT out
    r = redis.Redis(port=data["redis"]["port"], decode_responses=True)
    try:
        write_topology(topo_path, data)
        up = clustergate("up", str(topo_path), "--home", str(demo_system))
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: r.hget(keys.position_snapshot("SOLUSDT"), "position_amt") in ("0", "0.0"), 20,
                 "the book to write SOLUSDT flat")
        result = run_proof(demo_system, "readiness")
        assert result.returncode == 0, result.stdout + result.stderr
        proof_records = [f for _, f in r.xrevrange(keys.GATE_STREAM, count=200)
                         if f["plan_id"].startswith("proof-readiness-") and f["action_proposed"] == "FULL_CLOSE_PROPOSED"]
        assert proof_records and proof_records[0]["symbol"] == "SOLUSDT", proof_records[:1]
    finally:
        topo_path.write_text(original)
        clustergate("up", str(topo_path), "--home", str(demo_system))


def test_a_proof_of_a_home_with_nothing_running_names_that_home_in_the_up_to_run(tmp_path: Path) -> None:
    """opday: after `down --home DIR`, `proof readiness --home DIR` said "start the system with `clustergate up FILE`",
    which starts the repository root's system, not DIR's (every other such hint names --home)."""
    home = tmp_path / "my home"
    (home / "run").mkdir(parents=True)
    write_topology(home / "run" / "topology.yaml", retarget(demo_topology_data()))
    result = run_proof(home, "readiness")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"(start the system with `clustergate up FILE --home '{home}'`)" in result.stdout, result.stdout

def test_a_proof_of_a_home_where_nothing_was_started_names_that_home_in_the_up_to_run(tmp_path: Path) -> None:
    """docrev: with no running copy in DIR, `proof readiness --home DIR` said "`clustergate up FILE`", which starts the
    repository root's system, not DIR's (the supervisord-not-running hint names --home since opday)."""
    home = tmp_path / "my home"
    result = run_proof(home, "readiness")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"`clustergate up FILE --home '{home}'`" in result.stdout, result.stdout


def test_the_readiness_proof_counts_a_snapshot_it_cannot_read_as_held(redis_server) -> None:
    """opday2: desk_holds counts an unreadable snapshot as held, so the proof's cooldown stays off a symbol the desk may
    hold; a hash without position_amt (notional_usd 5000 beside it) read as flat, as a symbol with no snapshot does."""
    from types import SimpleNamespace

    from launcher import keys
    from proofs.readiness import desk_holds

    client = redis_server.client()
    topo = SimpleNamespace(positions=SimpleNamespace(key_pattern="quantum:position:snapshot:{symbol}"))
    p = SimpleNamespace(redis=client, topo=topo)
    amounts = {"0": False, "0.0": False, "-0": False, "1e-12": True, "nan": True, "abc": True}
    for amount, held in amounts.items():
        client.hset(keys.position_snapshot("BTCUSDT"), mapping={"position_amt": amount, "mark_price": 1, "ts_epoch": 1})
        assert desk_holds(p, "BTCUSDT") is held, amount
    client.delete(keys.position_snapshot("BTCUSDT"))
    assert desk_holds(p, "BTCUSDT") is False
    client.hset(keys.position_snapshot("BTCUSDT"), mapping={"notional_usd": 5000, "mark_price": 1, "ts_epoch": 1})
    assert desk_holds(p, "BTCUSDT") is True


def test_the_readiness_proof_fails_on_a_snapshot_read_an_acl_refuses_naming_the_key(redis_server, monkeypatch) -> None:
    """opsauth: desk_holds took an ACL's NOPERM on the position snapshot read (a proof user whose key patterns leave the
    snapshots out) as `held`, silently, and the proof went on to decide on a read it was refused. The refusal ends the
    proof as every refusal does (`Redis accepts the proof's credentials`, auth_refusal's words), naming the key; a
    WRONGTYPE snapshot is still held (test above)."""
    from types import SimpleNamespace

    from launcher import keys
    from launcher.redis_conn import auth_refusal, connect
    from launcher.topology import RedisConfig
    from proofs.common import REFUSALS
    from proofs.readiness import desk_holds

    admin = redis_server.client()
    admin.hset(keys.position_snapshot("BTCUSDT"), mapping={"position_amt": 0, "mark_price": 1, "ts_epoch": 1})
    admin.execute_command("ACL", "SETUSER", "proof", "on", ">opsauth-acl-pw", "~quantum:portfolio:*", "+@all")
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "opsauth-acl-pw")
    cfg = RedisConfig(url=f"redis://proof@127.0.0.1:{redis_server.port}/0", timeout_ms=1000)
    client = connect(cfg)
    topo = SimpleNamespace(redis=cfg, positions=SimpleNamespace(key_pattern="quantum:position:snapshot:{symbol}"))
    try:
        with pytest.raises(REFUSALS) as refused:
            desk_holds(SimpleNamespace(redis=client, topo=topo), "BTCUSDT")
    finally:
        client.close()
    said = auth_refusal(cfg, refused.value)
    assert said.startswith(f"Redis at redis://proof@127.0.0.1:{redis_server.port}/0 refuses its user proof a key "), said
    assert keys.position_snapshot("BTCUSDT") in said and "opsauth-acl-pw" not in said, said


def test_warm_restart_of_every_program_keeps_points_and_readiness(demo_system: Path) -> None:
    result = clustergate("proof", "warm-restart", "--all-programs", "--home", str(demo_system))
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in latest_report(demo_system, "warm-restart")["checks"]}
    assert "redis" in checks["programs stopped"]["value"]
    assert checks["point counts kept"]["ok"] and checks["p27_corr_ready back to 1 in time"]["ok"]


def full_window_points(data: dict) -> bool:
    """Every symbol's buffer window is full: the buffer's p27_points_per_symbol (what `status` shows as
    points_per_symbol) at lookback_returns + 1 (its points_max), read from the buffer's metrics: a `clustergate status`
    process a poll (57 over the two waits below, with what each asked of supervisord and every actor) took 9.8 of the
    test's 20.6 s of CPU (7 Dec 2026)."""
    points = scrape(data["actors"]["buffer"]["metrics_port"])
    counts = [points.get(f'p27_points_per_symbol{{symbol="{symbol}"}}', 0) for symbol in data["symbols"]]
    return all(c >= data["clusters"]["lookback_returns"] + 1 for c in counts)


def test_warm_restart_of_every_program_keeps_a_full_window_and_fails_when_the_buffer_keeps_no_history(
        tmp_path: Path) -> None:
    # rev-operator: on a demo up for longer than its window (lookback_returns cadences), `proof warm-restart
    # --all-programs` failed "point counts kept" (361 -> 355): the outage's slots push the oldest points out of
    # the full window and get no price. A small window (41 points at 0.5 s) is full within 21 s and keeps
    # the outage's gap for longer than the proof takes (every program: 18 slots measured, load average 3).
    # A buffer without history is ready again at min_returns + 1 points (3 here, not SPEC's 11), far below what
    # the proof requires after the restart of the buffer and the correlator (41 - 14 slots measured - 2).
    data = retarget(demo_topology_data())
    data["clusters"].update(cadence_s=0.5, lookback_returns=40, min_returns=2)
    home, topo_path = tmp_path / "home", write_topology(tmp_path / "demo.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: full_window_points(data), 60, "a full buffer window", interval_s=0.5)
        result = clustergate("proof", "warm-restart", "--all-programs", "--home", str(home))
        checks = {c["name"]: c for c in latest_report(home, "warm-restart")["checks"]}
        assert checks["point counts kept"]["ok"], result.stdout
        # The check still means something: a buffer that keeps no history starts again from nothing.
        data["actors"]["buffer"]["settings"] = {"persist": False}
        up = clustergate("up", str(write_topology(topo_path, data)), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: full_window_points(data), 60, "a full buffer window", interval_s=0.5)
        result = clustergate("proof", "warm-restart", "--home", str(home))
        checks = {c["name"]: c for c in latest_report(home, "warm-restart")["checks"]}
        assert result.returncode == 1 and not checks["point counts kept"]["ok"], result.stdout
    finally:
        clustergate("down", "--home", str(home))


def supervised(home: Path) -> dict[str, tuple[int, str, int]]:
    """program -> (pid, state, start time) as supervisord has them: what a proof stopped or started shows here."""
    return {p["name"]: (p["pid"], p["statename"], p["start"]) for p in Supervisor(Home(home)).processes()}


def start_if_stopped(home: Path, name: str) -> bool:
    """Start the program unless supervisord is at it (STARTING, BACKOFF); True once it is RUNNING."""
    state = supervised(home)[name][1]
    if state in ("STOPPED", "EXITED", "FATAL"):
        supervisorctl(home, "start", name)
    return state == "RUNNING"


def test_warm_restart_proof_refuses_to_restart_a_buffer_holding_its_history_after_a_clock_step(
        demo_system: Path, tmp_path: Path) -> None:
    """wrp: a VM froze for 12 s and its wall clock stepped ahead; the buffer logged `event=clock_fault direction=ahead`
    and held its saved history (p27_buffer_history_save_held 1: nothing it gathers is saved, a restart is a cold
    warm-up; the runbook says not to restart it then). `proof warm-restart` restarted it anyway and failed only
    "point counts kept", naming no cause. It now fails before stopping anything, naming the hold and what to do."""
    port = running_topology(demo_system)["actors"]["buffer"]["metrics_port"]
    clock_file, log_path = tmp_path / "clock_offset_s", tmp_path / "buffer.log"
    clock_file.write_text("0")
    supervisorctl(demo_system, "stop", "buffer")
    buffer = None
    try:
        with open(log_path, "ab") as log:  # the demo's buffer, its wall clock stepped through the file
            buffer = subprocess.Popen(
                [sys.executable, str(REPO / "tests" / "clock_shim.py"), "actors.buffer", "--topology",
                 str(demo_system / "run" / "topology.yaml"), "--name", "buffer"], cwd=REPO, stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "CLUSTERGATE_TEST_CLOCK_FILE": str(clock_file)})
        wait_for(lambda: scrape(port).get("p27_buffer_history_save_held") == 0.0, 30, "the stepped buffer serving")
        clock_file.write_text("12")  # past the 5 s skew + one cadence a forward step may take
        wait_for(lambda: scrape(port).get("p27_buffer_history_save_held") == 1.0, 10, "the buffer holding its history")
        assert "event=clock_fault direction=ahead" in log_path.read_text()
        started = first(scrape(port), "clustergate_actor_started_timestamp_seconds")
        before = supervised(demo_system)
        result = run_proof(demo_system, "warm-restart")
        assert result.returncode == 1, result.stdout + result.stderr
        held = [line for line in result.stdout.splitlines()
                if line.startswith("FAIL  before: the buffer saves its history")]
        assert held and "p27_buffer_history_save_held" in held[0] and "clock" in held[0], result.stdout
        assert "event=clock_fault" in held[0], result.stdout
        assert "programs stopped" not in result.stdout, result.stdout
        # Nothing stopped or started: this buffer still runs, and supervisord's programs are as they were.
        assert buffer.poll() is None and first(scrape(port), "clustergate_actor_started_timestamp_seconds") == started
        assert supervised(demo_system) == before and before["buffer"][1] == "STOPPED"
        checks = latest_report(demo_system, "warm-restart")["checks"]
        assert [c["name"] for c in checks if not c["ok"]] == ["before: the buffer saves its history"], checks
    finally:
        if buffer is not None:
            buffer.terminate()
            buffer.wait(30)
        wait_for(lambda: start_if_stopped(demo_system, "buffer"), 60, "supervisord's buffer RUNNING again")
        wait_for(lambda: scrape(running_topology(demo_system)["actors"]["correlator"]["metrics_port"]).get(
            "p27_corr_ready") == 1.0, 60, "the correlator ready again")


def test_warm_restart_proof_takes_a_buffer_without_the_hold_gauge_as_not_held_and_says_so(monkeypatch) -> None:
    """wrp: a buffer older than p27_buffer_history_save_held cannot say it holds its history: the proof goes on, and
    its check says why it did; a second buffer's hold (restarted with --all-programs) is named on its own."""
    from types import SimpleNamespace

    from proofs.common import Proof, ProofFailed
    from proofs.warm_restart import require_history_saved

    samples = {"buffer": {'p27_points_per_symbol{symbol="BTCUSDT"}': 30.0},
               "buffer_b": {"p27_buffer_history_save_held": 1.0, 'p27_buffer_clock_faults_total{direction="ahead"}': 1.0,
                            'p27_buffer_clock_faults_total{direction="back"}': 0.0}}
    p = Proof.__new__(Proof)  # the check alone: no live system
    p.checks, p.metrics = [], samples.__getitem__
    from launcher.topology import ClustersConfig
    p.topo = SimpleNamespace(clusters=ClustersConfig(lookback_returns=360, cadence_s=1.0))
    require_history_saved(p, ["buffer"])
    assert p.checks[-1].ok and p.checks[-1].value == {"buffer": None}
    assert "buffer exports no p27_buffer_history_save_held (an older buffer): taken as not held" in p.checks[-1].detail
    with pytest.raises(ProofFailed):
        require_history_saved(p, ["buffer", "buffer_b"])
    assert not p.checks[-1].ok and "ahead 1, back 0) holds buffer_b from saving" in p.checks[-1].detail
    assert "one window (362 s)" in p.checks[-1].detail and "older buffer" in p.checks[-1].detail

    def refused(name: str) -> dict:
        raise ConnectionRefusedError(f"{name}: connection refused")

    p.checks, p.metrics = [], refused  # a buffer whose metrics do not answer: unknown, so nothing is stopped
    monkeypatch.setattr("proofs.warm_restart.SERVING_TIMEOUT_S", 0.3)
    with pytest.raises(ProofFailed):
        require_history_saved(p, ["buffer"])
    assert len(p.checks) == 1 and not p.checks[0].ok, p.checks
    assert "buffer's metrics did not answer within 0.3 s (error: ConnectionRefusedError" in p.checks[0].detail


def test_readiness_proof_fails_when_the_state_writer_is_down(demo_system: Path) -> None:
    supervisorctl(demo_system, "stop", "state_writer")
    try:
        result = run_proof(demo_system, "readiness")
    finally:
        supervisorctl(demo_system, "start", "state_writer")
    assert result.returncode == 1
    assert "FAIL  every program RUNNING" in result.stdout
    assert latest_report(demo_system, "readiness")["passed"] is False


def test_fallback_proof_with_the_price_feed_stopped_fails_at_once_naming_it_and_stops_nothing(demo_system: Path) -> None:
    """rev-ops: with the price feed stopped (by hand, or FATAL), the fallback proof still found K from the cluster
    (the state not yet stale), stopped the clusterer and state writer, saw the fallback, started them again and
    then failed "recovered: K taken from the cluster again: proxy" after its whole wait, nothing naming the stopped
    feed that kept the cluster side from ever recovering. It now requires every program RUNNING first."""
    supervisorctl(demo_system, "stop", "price_feed")
    try:
        result = run_proof(demo_system, "fallback")
    finally:
        supervisorctl(demo_system, "start", "price_feed")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  before: every program RUNNING" in result.stdout and "price_feed" in result.stdout, result.stdout
    assert "cluster side stopped" not in result.stdout, result.stdout  # the cluster side was never touched


def test_readiness_proof_does_not_wait_out_its_warm_up_timeout_for_gates_while_a_program_is_stopped(
        demo_system: Path) -> None:
    """Reproduced on the merged code: with the state writer stopped, the proof waited its whole warm-up timeout for
    every gate to take K from the cluster (which it cannot) before saying the state writer is stopped (48 s of a
    40 s timeout; 15 minutes with the --warm-up-timeout-s 900 a 60 s cadence needs). A stopped program ends the wait:
    with an hour's timeout the proof still reports it and fails (the subprocess bound is the test's deadline)."""
    supervisorctl(demo_system, "stop", "state_writer")
    try:
        result = clustergate("proof", "readiness", "--home", str(demo_system), "--warm-up-timeout-s", "3600",
                             timeout=150)
    finally:
        supervisorctl(demo_system, "start", "state_writer")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  every program RUNNING" in result.stdout and "state_writer" in result.stdout, result.stdout


def test_readiness_proof_waits_for_a_metrics_endpoint_that_answers_within_the_start_grace(demo_system: Path) -> None:
    # Right after `supervisorctl restart all`, supervisord calls the programs RUNNING (one second after each
    # start) before some serve their metrics: the proof failed "every metrics endpoint answers" (connection
    # refused) on a system that was coming up fine. Here the clusterer's endpoint does not answer until the
    # proof has been waiting on it for a second: the fault starts when the proof reaches the endpoint, not when
    # the test starts the proof (on a loaded machine the proof's own start outlasted a 3 s fault timed from
    # here, and the check passed at its first try: CI on 4 Dec 2026). The book is stalled, not the clusterer: a
    # stopped clusterer lets the cluster state go stale, and the proof sends no proposal until every gate takes K
    # from the cluster again (freshstart), so it reached the endpoint only after its warm-up timeout.
    import psutil

    pid = next(p["pid"] for p in Supervisor(Home(demo_system)).processes() if p["name"] == "book")
    port = running_topology(demo_system)["actors"]["book"]["metrics_port"]

    def proof_connected() -> bool:  # the kernel takes the connection for the stopped process (its listen backlog)
        return any(c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
                   for c in psutil.net_connections("tcp"))

    os.kill(pid, signal.SIGSTOP)
    proof = subprocess.Popen([sys.executable, "-m", "launcher", "proof", "readiness", "--home", str(demo_system)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        wait_for(lambda: proof_connected() or proof.poll() is not None, 120, "the proof to reach the book's metrics")
        stopped_until = time.monotonic() + 1.0  # the fault's length from there, not a wait for a condition
        while time.monotonic() < stopped_until and proof.poll() is None:
            time.sleep(0.05)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        stdout, stderr = proof.communicate(timeout=180)
    finally:
        proof.kill()
    assert proof.returncode == 0, stdout + stderr
    assert re.search(r"PASS  every metrics endpoint answers: \d+ endpoints  \(after \d", stdout), stdout


# --------------------------------------------------------------------------- each check fails on the break it guards
# A proof check that cannot fail passes on every healthy demo above. Each test below breaks the live demo the
# way one group of checks guards against, runs the proof, and puts the demo back as it found it.


def proof_here(name: str, home: Path, *args: str) -> tuple[int, str]:
    """`clustergate proof NAME --home HOME ARGS` (proofs.cli, which the launcher runs as its own process) run in
    this process, saving two interpreters' start: its exit code and what it printed."""
    from proofs.cli import main
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main([name, "--home", str(home), *args])
    return code, printed.getvalue()


def failed_checks(home: Path, name: str) -> set[str]:
    return {c["name"] for c in latest_report(home, name)["checks"] if not c["ok"]}


def serving(home: Path, actors: list[str] | None = None) -> bool:
    """Each actor's (every actor's by default) metrics endpoint answers: its process has read run/topology.yaml,
    which names the port (supervisord calls a program RUNNING one second after it starts, perhaps before)."""
    ports = {name: spec["metrics_port"] for name, spec in running_topology(home)["actors"].items()}
    try:
        return all(scrape(ports[name]) for name in actors or ports)
    except OSError:
        return False


def restart_together(home: Path, programs: list[str]) -> None:
    """Stop the programs, then start them all at once (not one start window after another); return once
    supervisord has them RUNNING and each new process serves its metrics."""
    sup = Supervisor(Home(home))
    stopped = ("STOPPED", "EXITED", "FATAL")

    def states() -> dict[str, str]:
        return {p["name"]: p["statename"] for p in sup.processes() if p["name"] in programs}

    for name, state in states().items():
        if state not in stopped:
            sup.api.stopProcess(name, False)
    wait_for(lambda: all(s in stopped for s in states().values()), 30, f"{', '.join(programs)} stopped")
    for name in programs:
        sup.api.startProcess(name, False)
    wait_for(lambda: set(states().values()) == {"RUNNING"} and serving(home, programs), 30,
             f"{', '.join(programs)} RUNNING and serving again")


def running_topology(home: Path) -> dict:
    return yaml.safe_load((home / "run" / "topology.yaml").read_text())


@contextmanager
def programs_started_meanwhile_use_redis_database(home: Path, db: int) -> Iterator[Path]:
    """While open, a program that starts (an actor reads run/topology.yaml as it starts) reads and writes
    database `db` of the system's Redis, emptied first; yields a copy of the topology as it was, for a proof.
    Opens once every actor serves (none is still starting); the file is put back on closing; the caller
    restarts what started meanwhile and empties `db` again."""
    wait_for(lambda: serving(home), 30, "every actor serving (none still starting)")
    running = home / "run" / "topology.yaml"
    as_it_was = running.read_text()
    data = yaml.safe_load(as_it_was)
    empty_redis_database(home, db)
    data["redis"] = {"url": f"redis://127.0.0.1:{data['redis']['port']}/{db}"}
    copy = home.parent / "topology-as-it-was.yaml"
    copy.write_text(as_it_was)
    running.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        yield copy
    finally:
        running.write_text(as_it_was)
        copy.unlink()


def empty_redis_database(home: Path, db: int) -> None:
    with redis.Redis(port=running_topology(home)["redis"]["port"], db=db, socket_timeout=5) as r:
        r.flushdb()


def test_fallback_proof_fails_when_the_gate_keeps_k_from_a_state_stale_by_the_topologys_window(
        demo_system: Path, tmp_path: Path) -> None:
    # The topology the proof is given says the gate's window is 1 s; the gate runs with the 3 s it was started
    # with. Once the state is 1 s old it is stale, and the gate still takes K from it for 2 s more.
    data = running_topology(demo_system)
    data["actors"]["gate"]["settings"]["freshness_s"] = 1
    code, printed = proof_here("fallback", demo_system, "--topology", str(write_topology(tmp_path / "1-s.yaml", data)))
    assert code == 1, printed
    assert "cluster_state goes stale" not in failed_checks(demo_system, "fallback"), printed
    assert {"stale: K taken from the proxy", "p26_cluster_fallback_total has risen",
            "p26_cluster_stress_used is 0"} <= failed_checks(demo_system, "fallback"), printed


def test_fallback_proof_fails_when_the_cluster_side_comes_back_writing_to_another_redis_database(
        demo_system: Path) -> None:
    # The clusterer and the state writer the proof starts again read database 1: the gate falls back as it
    # should, and never sees a fresh state again.
    try:
        with programs_started_meanwhile_use_redis_database(demo_system, 1) as as_it_was:
            code, printed = proof_here("fallback", demo_system, "--topology", str(as_it_was))
    finally:
        restart_together(demo_system, ["clusterer", "state_writer"])
        empty_redis_database(demo_system, 1)
    assert code == 1, printed
    assert failed_checks(demo_system, "fallback") == {"recovered: K taken from the cluster again",
                                                       "p26_cluster_stress_used is 1 again"}, printed


def test_readiness_proof_fails_when_the_book_gate_and_issuer_run_on_another_redis_database(demo_system: Path) -> None:
    # Restarted on database 1, the gate decides from the book's positions there but sees no cluster state, and
    # the issuer writes permits and records where neither the proof nor the execution layer looks.
    # The gate there never takes K from the cluster, so the proof's first wait (for every gate to) runs out its whole
    # warm-up timeout, and every later wait gets one look (what is left of the timeout: nothing), whatever the timeout:
    # 10 s, not the default 40, with restart_together having waited for each restarted program to serve.
    execution_side = ["book", "gate", "permit_issuer"]
    try:
        with programs_started_meanwhile_use_redis_database(demo_system, 1):
            restart_together(demo_system, execution_side)
        code, printed = proof_here("readiness", demo_system, "--warm-up-timeout-s", "10")
    finally:
        restart_together(demo_system, execution_side)
        empty_redis_database(demo_system, 1)
    assert code == 1, printed
    assert failed_checks(demo_system, "readiness") == {
        "the gate sees the cluster state", "K taken from the cluster", "p26_cluster_stress_used is 1",
        "permit present with TTL <= 60 s", "decision recorded on the stream"}, printed


def test_readiness_proof_says_the_gate_decided_nothing_when_its_answer_is_a_fault_hold(demo_system: Path, monkeypatch) -> None:
    # proofs helper: a fault HOLD (nothing recorded: here Redis takes no writes while the proof proposes) was passed
    # as "the gate decides a proposal", then failed "K taken from the cluster" on the fault's default values
    # ({"k_source": "proxy", "K": 0.0}), sending the operator to the cluster side.
    from proofs.common import Proof
    propose = Proof.propose

    def propose_while_redis_takes_no_writes(self, action="HOLD", symbol=None, kill_score=0.0):
        if action != "HOLD":
            self.redis.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
        return propose(self, action, symbol, kill_score)

    monkeypatch.setattr(Proof, "propose", propose_while_redis_takes_no_writes)
    try:
        code, printed = proof_here("readiness", demo_system)
    finally:
        with redis.Redis(port=running_topology(demo_system)["redis"]["port"], socket_timeout=5) as r:
            r.execute_command("CLIENT", "UNPAUSE")
    assert code == 1, printed
    assert failed_checks(demo_system, "readiness") == {"the gate decides a proposal"}, printed
    assert '"recorded": false' in printed, printed



def test_fallback_proof_says_redis_did_not_answer_when_it_cannot_read_the_cluster_state(demo_system: Path,
                                                                                      monkeypatch) -> None:
    """opday: Redis stopped while the fallback proof waited for the state to go stale printed `FAIL  cluster_state
    goes stale: null  (age in seconds, window 4 s)`, the error it met dropped: read as a state that was never
    written. The readiness proof's own state check shows it."""
    from proofs.common import Proof
    stop_programs = Proof.stop_programs

    def stop_redis_too(self, names):
        stop_programs(self, names)
        supervisorctl(demo_system, "stop", "redis")

    monkeypatch.setattr(Proof, "stop_programs", stop_redis_too)
    try:
        code, printed = proof_here("fallback", demo_system)
    finally:
        supervisorctl(demo_system, "start", "redis")
        wait_for(lambda: serving(demo_system), 60, "the demo serving again")
    assert code == 1, printed
    line = next((line for line in printed.splitlines() if line.startswith("FAIL  cluster_state goes stale")), "")
    assert "error: ConnectionError" in line, printed


@pytest.mark.parametrize("redis_password, proof_password, said", [
    (None, "opsfix-not-this-one", "has no password, but this command gave one from $CLUSTERGATE_REDIS_PASSWORD"),
    ("opsfix-the-right-one", "opsfix-not-this-one",
     "refuses the password this command took from $CLUSTERGATE_REDIS_PASSWORD"),
    ("opsfix-the-right-one", None, "refuses this command, which gave no password: set $CLUSTERGATE_REDIS_PASSWORD")])
def test_a_proof_whose_password_redis_refuses_fails_at_once_naming_the_variable_not_the_password(
        demo_system: Path, monkeypatch, redis_password: str | None, proof_password: str | None, said: str) -> None:
    """opsfix: a proof given a wrong password (or one to a Redis that has none, or none to a Redis that needs one)
    retried the refused AUTH until its warm-up timeout, 30 s and more, then `FAIL  cluster_state is fresh: "error:
    AuthenticationError: ..."`: no retry fixes a refusal. It fails at once, its one failed check saying what is wrong
    and the variable as `clustergate positions` does, never the password."""
    admin = redis.Redis(port=running_topology(demo_system)["redis"]["port"], socket_timeout=5)
    monkeypatch.delenv("CLUSTERGATE_REDIS_PASSWORD", raising=False)
    if proof_password:
        monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", proof_password)
    if redis_password:
        admin.config_set("requirepass", redis_password)  # the actors' connections, and this one, stay signed in
    try:
        code, printed = proof_here("readiness", demo_system)
    finally:
        if redis_password:
            admin.config_set("requirepass", "")
        admin.close()
    assert code == 1, printed
    assert failed_checks(demo_system, "readiness") == {"Redis accepts the proof's credentials"}, printed
    line = next(line for line in printed.splitlines() if line.startswith("FAIL  "))
    assert line.startswith("FAIL  Redis accepts the proof's credentials: Redis at redis://127.0.0.1:"), printed
    assert said in line, printed
    written = printed + report_base(subprocess.CompletedProcess([], code, printed)).with_suffix(".txt").read_text()
    assert "opsfix-not-this-one" not in written and "opsfix-the-right-one" not in written, written


def test_a_fallback_proof_whose_password_redis_refuses_fails_before_it_stops_the_cluster_side(
        demo_system: Path, monkeypatch) -> None:
    """revopsfix: the fallback proof given a password Redis refuses stopped the clusterer and the state writer (a
    restart of the live cluster side), and only then, at its first Redis read, failed on the refusal and started them
    again. No retry fixes a refusal: it fails before it stops anything, the programs' processes the ones it found."""
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "revopsfix-not-this-one")  # the demo's Redis has none
    pids = {p["name"]: p["pid"] for p in Supervisor(Home(demo_system)).processes()}
    code, printed = proof_here("fallback", demo_system)
    assert code == 1, printed
    assert failed_checks(demo_system, "fallback") == {"Redis accepts the proof's credentials"}, printed
    assert "cluster side stopped" not in printed and "revopsfix-not-this-one" not in printed, printed
    after = {p["name"]: (p["pid"], p["statename"]) for p in Supervisor(Home(demo_system)).processes()}
    assert after == {name: (pid, "RUNNING") for name, pid in pids.items()}, (after, printed)


def test_proofs_run_as_plain_scripts(demo_system: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / "proofs" / "readiness.py"), "--home", str(demo_system)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- issue 18: home and Curve keys


@pytest.fixture(scope="module")
def curve_demo_system(tmp_path_factory):
    """The demo with CurveZMQ on the gate's proposals socket; the proofs' client key named in the topology."""
    from launcher.curve import generate_keypair
    tmp = tmp_path_factory.mktemp("curve-proofs")
    for name in ("gate", "prover", "desk"):
        generate_keypair(tmp / "keys", name)
    data = retarget(demo_topology_data())
    data["security"] = {"curve": {"keys_dir": "keys", "client_key": "prover"}}
    data["actors"]["gate"]["sockets"]["proposals"]["curve"] = {"allow": ["desk", "prover"]}
    home = tmp / "home"
    topo_path = write_topology(tmp / "curve-demo.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    yield home
    clustergate("down", "--home", str(home))


def test_proofs_and_positions_find_the_system_through_clustergate_home(curve_demo_system: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CLUSTERGATE_HOME": str(curve_demo_system)}
    proof = subprocess.run([sys.executable, "-m", "launcher", "proof", "readiness"], capture_output=True, text=True,
                           cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, timeout=180)
    assert proof.returncode == 0, proof.stdout + proof.stderr
    assert report_base(proof).parent == (curve_demo_system / "run" / "proofs").resolve()
    positions = subprocess.run([sys.executable, "-m", "launcher", "positions", "list", "--json"], capture_output=True,
                               text=True, cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, timeout=60)
    assert positions.returncode == 0, positions.stdout + positions.stderr
    assert any(row["amount"] is not None for row in json.loads(positions.stdout))


def test_the_readiness_proof_passes_on_a_curve_gate_with_the_client_key_named_in_the_topology(curve_demo_system: Path) -> None:
    result = run_proof(curve_demo_system, "readiness")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gate_unavailable" not in result.stdout


# --------------------------------------------------------------------------- issue 12: several active gates


@pytest.fixture(scope="module")
def two_gate_demo_system(tmp_path_factory):
    """The demo with a second gate + permit_issuer pair (gate_b, permit_issuer_b), all under one supervisord.
    gate_b's freshness window is a second longer than gate's: gates may judge the state each by its own."""
    from ha_helpers import with_second_gate_pair
    tmp = tmp_path_factory.mktemp("two-gate-proofs")
    home = tmp / "home"
    data = with_second_gate_pair(retarget(demo_topology_data()))
    data["actors"]["gate_b"]["settings"]["freshness_s"] = data["actors"]["gate"]["settings"]["freshness_s"] + 1
    topo_path = write_topology(tmp / "two-gates.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    yield home
    clustergate("down", "--home", str(home))


def test_with_two_gates_readiness_and_fallback_ask_each_gate_on_its_own(two_gate_demo_system: Path) -> None:
    result = run_proof(two_gate_demo_system, "readiness")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS  every gate answers: 2 gates: gate, gate_b" in result.stdout
    assert "PASS  every gate sees the cluster state" in result.stdout
    assert "PASS  p26_cluster_stress_used is 1 on every gate" in result.stdout
    # The fallback proof waited for the state to be stale by the first gate's window only, and failed on this
    # healthy system: gate_b, its window a second longer, still (rightly) took K from the cluster.
    result = run_proof(two_gate_demo_system, "fallback")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("stale: every gate takes K from the proxy", "p26_cluster_fallback_total has risen on every gate",
                  "recovered: every gate takes K from the cluster again"):
        assert f"PASS  {check}" in result.stdout, result.stdout


def test_with_one_of_two_gates_stopped_readiness_fails_naming_that_gate(two_gate_demo_system: Path) -> None:
    supervisorctl(two_gate_demo_system, "stop", "gate_b")
    try:  # the wait for every gate to answer runs out (gate_b never will): 5 s of it, not the default 10 s grace
        result = run_proof(two_gate_demo_system, "readiness", "--warm-up-timeout-s", "5")
    finally:
        supervisorctl(two_gate_demo_system, "start", "gate_b")
    assert result.returncode == 1
    line = next(l for l in result.stdout.splitlines() if "every gate answers" in l)
    assert line.startswith("FAIL  every gate answers") and '"gate_b":' in line and '"gate":' not in line, line
    assert latest_report(two_gate_demo_system, "readiness")["passed"] is False


@pytest.mark.parametrize("proof_name,stopped_line,stopped,signum", [
    ("fallback", "cluster side stopped", ["clusterer", "state_writer"], signal.SIGTERM),
    ("fallback", "cluster side stopped", ["clusterer", "state_writer"], signal.SIGHUP),
    ("warm-restart", "programs stopped", ["buffer", "correlator"], signal.SIGTERM),
], ids=["fallback-SIGTERM", "fallback-SIGHUP", "warm-restart-SIGTERM"])
def test_a_proof_killed_or_hung_up_part_way_starts_the_programs_it_stopped(demo_system: Path, proof_name: str,
                                                                           stopped_line: str, stopped: list[str],
                                                                           signum: int) -> None:
    # The fallback proof starts the cluster side again in a `finally`, which Ctrl-C reached but SIGTERM (`kill`,
    # `timeout`) and SIGHUP (the terminal or ssh session gone) did not: the proof died with clusterer and
    # state_writer STOPPED, which supervisord never starts by itself, and the gate took K from the proxy until
    # someone noticed. The warm-restart proof started its programs in a daemon thread, cut off when the proof ended.
    api = Supervisor(Home(demo_system)).api
    proof = subprocess.Popen([sys.executable, "-m", "proofs.cli", proof_name, "--home", str(demo_system)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proof.stdout is not None
        seen = []
        for line in proof.stdout:  # bounded: the proof ends by itself within its own deadlines
            seen.append(line)
            if stopped_line in line:
                break
        assert stopped_line in seen[-1], "".join(seen)
        proof.send_signal(signum)
        out, _ = proof.communicate(timeout=60)
        assert proof.returncode == 128 + signum, "".join(seen) + out
        assert f"interrupted ({signal.Signals(signum).name})" in out, out
        wait_for(lambda: all(api.getProcessInfo(n)["statename"] == "RUNNING" for n in stopped), 20,
                 f"{stopped} running again")
    finally:
        if proof.poll() is None:
            proof.kill()
            proof.wait(10)
        for name in stopped:  # the module's system, whole again for the next test whatever happened here
            if api.getProcessInfo(name)["statename"] == "STOPPED":
                api.startProcess(name, True)


def test_clustergate_proof_killed_part_way_passes_the_signal_to_its_proof_and_leaves_no_proof_running(
        demo_system: Path) -> None:
    """rev-ops: `clustergate proof fallback` runs the proof as a child process; a SIGTERM to clustergate (`kill PID`)
    ended clustergate at once, exit 143, and left the proof running on its own: it went on stopping and starting the
    cluster side, printed PASSED after the shell had its prompt back, and a proof started again meanwhile raced it."""
    api = Supervisor(Home(demo_system)).api
    launcher = subprocess.Popen([sys.executable, "-m", "launcher", "proof", "fallback", "--home", str(demo_system)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = _until_the_cluster_side_stopped(launcher)
        launcher.send_signal(signal.SIGTERM)
        out, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 128 + signal.SIGTERM, "".join(seen) + out
        assert "interrupted (SIGTERM)" in out and "PASSED" not in out, out
        running = [p for p in Path("/proc").iterdir() if p.name.isdigit() and b"proofs.cli" in _cmdline(p)
                   and str(demo_system).encode() in _cmdline(p)]
        assert running == [], running
        wait_for(lambda: all(api.getProcessInfo(n)["statename"] == "RUNNING" for n in ("clusterer", "state_writer")),
                 20, "the cluster side running again")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(10)
        for name in ("clusterer", "state_writer"):
            if api.getProcessInfo(name)["statename"] == "STOPPED":
                api.startProcess(name, True)



def test_clustergate_proof_interrupted_by_a_group_sigint_without_a_terminal_starts_what_it_stopped(
        demo_system: Path) -> None:
    """rev2: a SIGINT to the process group of `clustergate proof fallback` with no terminal (`timeout -s INT`, a CI
    runner's cancel) reaches the proof, and clustergate, which passes a SIGINT on when no terminal can have sent it
    (rev2): a second interruption of the proof, during the `finally` that starts the cluster side again. The proof
    takes SIGINT as it takes SIGTERM and SIGHUP: interrupted, and every later one ignored until it has cleaned up."""
    api = Supervisor(Home(demo_system)).api
    with fallback_proof_in_its_own_group(demo_system) as launcher:
        seen = _until_the_cluster_side_stopped(launcher)
        os.killpg(launcher.pid, signal.SIGINT)  # the whole group, as `timeout -s INT` does
        out, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 128 + signal.SIGINT, "".join(seen) + out
        assert "interrupted (SIGINT)" in out and "PASSED" not in out, out
        wait_for(lambda: all(api.getProcessInfo(n)["statename"] == "RUNNING" for n in ("clusterer", "state_writer")),
                 20, "the cluster side running again")


def _until_the_cluster_side_stopped(launcher: subprocess.Popen) -> list[str]:
    """The lines `clustergate proof fallback` printed until it said the cluster side stopped."""
    assert launcher.stdout is not None
    seen = []
    for line in launcher.stdout:  # bounded: the proof ends by itself within its own deadlines
        seen.append(line)
        if "PASS  cluster side stopped" in line:
            break
    assert "cluster side stopped" in seen[-1], "".join(seen)
    return seen

@contextmanager
def fallback_proof_in_its_own_group(home: Path) -> Iterator[subprocess.Popen]:
    """`clustergate proof fallback` in a process group of its own, with no terminal; on leaving, the group is killed if
    it still runs and the cluster side is started again, whatever happened."""
    api = Supervisor(Home(home)).api
    launcher = subprocess.Popen([sys.executable, "-m", "launcher", "proof", "fallback", "--home", str(home)],
                                cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    try:
        yield launcher
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait(10)
        for name in ("clusterer", "state_writer"):
            if api.getProcessInfo(name)["statename"] == "STOPPED":
                api.startProcess(name, True)


def sigkill_after_the_cluster_side_stopped(launcher: subprocess.Popen) -> None:
    """SIGKILL to the proof's process group (a CI job cancelled, a systemd unit stopped) once it stopped the cluster
    side."""
    _until_the_cluster_side_stopped(launcher)
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.communicate(timeout=30)


def test_a_fallback_proof_killed_with_sigkill_is_named_by_status_and_the_next_proof_starts_what_it_left_stopped(
        demo_system: Path) -> None:
    """SIGKILL reaches no `finally`: `clustergate proof fallback` killed so after it stopped the cluster side left
    clusterer and state_writer STOPPED, which supervisord never starts by itself; status said only STOPPED, and the
    next fallback proof failed at once on `before: every program RUNNING`. The proof records in the home what it
    stops before it stops it: status names those programs and the proof that left them, and the next proof starts them
    again first."""
    api = Supervisor(Home(demo_system)).api
    with fallback_proof_in_its_own_group(demo_system) as launcher:
        sigkill_after_the_cluster_side_stopped(launcher)
        assert [api.getProcessInfo(n)["statename"] for n in ("clusterer", "state_writer")] == ["STOPPED"] * 2
        status = clustergate("status", "--home", str(demo_system))
        assert status.returncode == 1, status.stdout
        line = next((x for x in status.stdout.splitlines() if x.startswith("STOPPED BY A PROOF: ")), None)
        assert line is not None and "clusterer, state_writer" in line and "fallback proof" in line, status.stdout
        said = json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)
        left = said.get("left_stopped_by_proof") or {}
        assert (left.get("proof"), left.get("programs")) == ("fallback", ["clusterer", "state_writer"]), left
        again = run_proof(demo_system, "fallback")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "PASS  programs a killed proof left stopped started again" in again.stdout, again.stdout
        after = clustergate("status", "--home", str(demo_system), "--json")
        assert json.loads(after.stdout).get("left_stopped_by_proof") is None, after.stdout


def test_a_proof_started_while_another_runs_on_the_home_is_refused_and_the_first_ones_record_is_kept(
        demo_system: Path) -> None:
    """Two proofs at once on one home: a warm-restart proof run while a fallback proof held the cluster side stopped
    wrote its own record over the fallback proof's (proof_stops.record kept only its own pid's programs) and removed it
    once done; the fallback proof then SIGKILLed left clusterer and state_writer STOPPED with nothing naming them. A
    proof now refuses to start while another runs on the home (exit 1, naming it), and the first one's record stays."""
    with fallback_proof_in_its_own_group(demo_system) as launcher:
        _until_the_cluster_side_stopped(launcher)
        os.killpg(launcher.pid, signal.SIGSTOP)  # still running, not killed: it holds the cluster side stopped
        try:
            second = run_proof(demo_system, "warm-restart")
        finally:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.communicate(timeout=30)
        api = Supervisor(Home(demo_system)).api
        assert [api.getProcessInfo(n)["statename"] for n in ("clusterer", "state_writer")] == ["STOPPED"] * 2
        said = json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)
        left = said.get("left_stopped_by_proof") or {}
        assert (left.get("proof"), left.get("programs")) == ("fallback", ["clusterer", "state_writer"]), said
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"the fallback proof (pid " in second.stdout and "runs on this home" in second.stdout, second.stdout


def test_a_proof_record_naming_programs_the_home_does_not_run_and_control_characters_is_shown_printable_and_short(
        demo_system: Path) -> None:
    """run/proof-stopped.json is read by `status` and every proof: one written by no proof of this home (copied from
    another, hand-edited, hostile) named, in the STOPPED BY A PROOF line, programs supervisord does not run, raw
    (escape sequences reached the terminal) and at any length. status names only this home's programs that are not
    RUNNING, and the proof printable and short."""
    api = Supervisor(Home(demo_system)).api
    dead = subprocess.Popen(["true"])
    dead.wait()
    record = demo_system / "run" / "proof-stopped.json"
    record.write_text(json.dumps({"proof": "fallback\x1b]0;owned\x07" + "P" * 5000, "pid": dead.pid, "started": "1",
                                  "programs": ["\x1b[2J" + "x" * 5000, "not-a-program", "state_writer"]}))
    api.stopProcess("state_writer", True)
    try:
        status = clustergate("status", "--home", str(demo_system))
        line = next((x for x in status.stdout.splitlines() if x.startswith("STOPPED BY A PROOF: ")), "")
        assert line.startswith("STOPPED BY A PROOF: state_writer stopped by the fallback?]0;owned?"), status.stdout
        assert "\x1b" not in status.stdout and "\x07" not in status.stdout and len(line) < 400, line
        said = json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)
        assert said["left_stopped_by_proof"]["programs"] == ["state_writer"], said["left_stopped_by_proof"]
    finally:
        record.unlink(missing_ok=True)
        api.startProcess("state_writer", True)


def test_a_program_started_by_hand_since_a_killed_proof_stopped_it_is_no_longer_that_proofs_to_name_or_start(
        demo_system: Path) -> None:
    """After a fallback proof killed part-way, the operator started what it left stopped by hand (supervisorctl, not
    `up`, which forgets the record) and later stopped clusterer on purpose: status still named clusterer STOPPED BY A
    PROOF, and the next proof started it again against that stop. A program started since the proof recorded it is
    no longer that proof's: status does not name it, and the next proof leaves it stopped (and says so by failing)."""
    api = Supervisor(Home(demo_system)).api
    with fallback_proof_in_its_own_group(demo_system) as launcher:
        sigkill_after_the_cluster_side_stopped(launcher)
        time.sleep(1.1)  # supervisord's start times are whole seconds: the start by hand is a later one
        supervisorctl(demo_system, "start", "clusterer", "state_writer")
        api.stopProcess("clusterer", True)  # on purpose, by hand
        try:
            said = json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)
            assert said["left_stopped_by_proof"] is None, said["left_stopped_by_proof"]
            again = run_proof(demo_system, "fallback")
            assert "programs a killed proof left stopped started again" not in again.stdout, again.stdout
            assert api.getProcessInfo("clusterer")["statename"] == "STOPPED", again.stdout
        finally:
            api.startProcess("clusterer", True)


def test_up_starts_what_a_killed_fallback_proof_left_stopped_and_status_no_longer_names_it(demo_system: Path) -> None:
    """`up` starts every program stopped by hand, those a killed proof left stopped too, and forgets that proof's
    record: status no longer names them (a record kept would name, later, a program an operator stopped)."""
    api = Supervisor(Home(demo_system)).api
    with fallback_proof_in_its_own_group(demo_system) as launcher:
        sigkill_after_the_cluster_side_stopped(launcher)
        assert json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)["left_stopped_by_proof"]
        up = clustergate("up", str(demo_system.parent / "demo.yaml"), "--home", str(demo_system))
        assert up.returncode == 0, up.stdout + up.stderr
        assert [api.getProcessInfo(n)["statename"] for n in ("clusterer", "state_writer")] == ["RUNNING"] * 2
        api.stopProcess("clusterer", True)  # by hand now: no proof's doing
        try:
            said = json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)
            assert said["left_stopped_by_proof"] is None, said["left_stopped_by_proof"]
        finally:
            api.startProcess("clusterer", True)


def test_a_proof_record_naming_a_live_pid_but_no_start_time_is_an_ended_proofs_and_up_forgets_it(
        demo_system: Path) -> None:
    """A record naming a live pid (here this test's) but no start time passed for a running proof for ever: `up` never
    removed it and status never named what it left stopped. A pid alone cannot prove the proof still runs (pids are
    used again), and every proof records its own start time: a record without one is an ended proof's."""
    api = Supervisor(Home(demo_system)).api
    record = demo_system / "run" / "proof-stopped.json"
    record.write_text(json.dumps({"proof": "fallback", "pid": os.getpid(), "programs": ["state_writer"]}))
    api.stopProcess("state_writer", True)
    try:
        said = json.loads(clustergate("status", "--home", str(demo_system), "--json").stdout)
        assert (said["left_stopped_by_proof"] or {}).get("programs") == ["state_writer"], said["left_stopped_by_proof"]
        up = clustergate("up", str(demo_system.parent / "demo.yaml"), "--home", str(demo_system))
        assert up.returncode == 0, up.stdout + up.stderr
        assert not record.exists() and api.getProcessInfo("state_writer")["statename"] == "RUNNING"
    finally:
        record.unlink(missing_ok=True)
        if api.getProcessInfo("state_writer")["statename"] != "RUNNING":
            api.startProcess("state_writer", True)


def test_readiness_with_a_short_timeout_and_a_gate_down_ends_within_it_and_names_the_wait_that_ran_out(
        demo_system: Path) -> None:
    """`deploy --proof-timeout 2` (readiness's --warm-up-timeout-s 2) with a gate down still waited the proof's own
    start-up graces, 10 s for the gates to answer then 5 s for every program RUNNING, whatever the timeout said. Every
    wait is cut to what is left of the timeout, and the failure says the proof's timeout ran out in that wait."""
    api = Supervisor(Home(demo_system)).api
    api.stopProcess("gate", True)
    try:
        result = run_proof(demo_system, "readiness", "--warm-up-timeout-s", "2")
    finally:
        api.startProcess("gate", True)
    assert result.returncode == 1, result.stdout + result.stderr
    # Each wait says which bound ended it and how long it waited (the test times nothing itself): before, the gates'
    # wait ran its own grace (STARTING_GRACE_S + 5 s) and the programs' its own 5 s, whatever the timeout said.
    for check, grace_s in (("every gate answers", STARTING_GRACE_S + 5), ("every program RUNNING", STARTING_GRACE_S)):
        failed = next(x for x in result.stdout.splitlines() if x.startswith(f"FAIL  {check}"))
        said = re.search(r"the proof's timeout \(2 s\) ran out in this wait, after ([0-9.]+) s", failed)
        assert said, result.stdout
        # What was left of the 2 s and one probe of the gate begun within them (its retries: 3 s), not the grace.
        assert float(said.group(1)) < grace_s, result.stdout


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_a_proof_starting_programs_another_start_has_begun_takes_them_as_started(demo_system: Path) -> None:
    # CI (session 21): warm-restart's `finally` started the programs its starter thread had begun starting (SIGTERM
    # came as the thread began): supervisord answered Fault ALREADY_STARTED, which replaced the interruption, and the
    # proof exited 1 instead of 128+15. Starting a program that is already starting is what start_programs wants done.
    from proofs.common import Proof
    p = Proof("warm-restart", Home(demo_system))
    try:
        p.stop_programs(["buffer"])
        p.sup.api.startProcess("buffer", False)  # STARTING: another start has begun
        p.start_programs(["buffer"])
        assert p.program_states()["buffer"] == "RUNNING"
    finally:
        p.start_programs(["buffer"])
        p.close()


def test_a_proof_record_larger_than_any_proof_writes_is_not_read(tmp_path: Path) -> None:
    """status and every proof read run/proof-stopped.json: one of a million program names (no proof's: a proof
    records a few) was read whole and every name printed. Past proof_stops.MAX_BYTES it is not read."""
    from launcher import proof_stops
    names = [f"p{i}" for i in range(proof_stops.MAX_BYTES // 4)]
    (tmp_path / proof_stops.FILE).write_text(json.dumps({"proof": "fallback", "pid": 1, "started": "1",
                                                         "programs": names}))
    assert proof_stops.read(tmp_path) is None
    (tmp_path / proof_stops.FILE).write_text(json.dumps({"proof": "fallback", "pid": 1, "started": "1",
                                                         "programs": names[:3]}))
    assert proof_stops.read(tmp_path).programs == ("p0", "p1", "p2")


def test_an_up_that_cannot_mark_its_record_failed_leaves_it_as_it_was_without_raising(tmp_path: Path) -> None:
    """revup: a failing `up` marks its record failed (proof_stops.fail) in its error path, after it put its files
    back: a record it could no longer write (disk full) raised OSError there, a traceback in place of its "FAILED: ...;
    the previous files are back" line. The record stays as it was (naming the programs, as a killed `up`'s)."""
    from launcher import proof_stops
    proof_stops.record(tmp_path, "up", ["gate"], proof_stops.UP_FILE)
    (tmp_path / f".{proof_stops.UP_FILE}.{os.getpid()}").mkdir()  # where the record is written first: unwritable
    proof_stops.fail(tmp_path, proof_stops.UP_FILE)
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None and held.programs == ("gate",) and not held.failed, held


def test_a_failed_ups_record_stays_failed_when_another_releases_a_program_from_it(tmp_path: Path) -> None:
    """revup: the `up` after a failed one releases from that one's record each program it runs again (before it
    records a stop of its own); the record was written again without its mark, and the failed `up` was then named as
    killed part-way (STOPPED BY AN INTERRUPTED UP) for the rest."""
    import json

    from launcher import proof_stops
    (tmp_path / proof_stops.UP_FILE).write_text(json.dumps({"proof": "up", "pid": 1, "started": "1", "at": 1.0,
                                                            "programs": ["gate", "permit_issuer"], "failed": True}))
    proof_stops.release(tmp_path, ["gate"], proof_stops.UP_FILE)
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held == proof_stops.ProofStops("up", 1, "1", ("permit_issuer",), 1.0, True), held


def test_a_program_started_and_stopped_by_hand_after_an_up_recorded_it_is_not_named_for_a_later_record(
        tmp_path: Path) -> None:
    """revup: an `up` writes its record again for each program it stops, and each write moved the record's time (the
    one status compares a program's last start with): the gate it recorded first (one a killed `up` left stopped),
    started by hand and stopped again before its next stop, was named as left stopped by it, not as the operator's
    stop. Each program is compared with the time it was recorded."""
    import json

    from launcher import proof_stops
    (tmp_path / proof_stops.UP_FILE).write_text(json.dumps({"proof": "up", "pid": os.getpid(),  # this process's
                                                            "started": proof_stops._start_ticks(os.getpid()),
                                                            "at": 100.0, "programs": ["gate"],
                                                            "since": {"gate": 100.0}}))
    proof_stops.record(tmp_path, "up", ["permit_issuer"], proof_stops.UP_FILE)  # now, long after 100
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None and held.programs == ("gate", "permit_issuer"), held
    infos = [{"name": "gate", "statename": "STOPPED", "start": 150},  # started by hand at 150, stopped since
             {"name": "permit_issuer", "statename": "STOPPED", "start": 150}]
    assert proof_stops.still_stopped(held, infos) == ["permit_issuer"]


def test_a_record_an_up_takes_over_names_each_program_by_the_process_that_stopped_it(tmp_path: Path) -> None:
    """upowner: an `up` that takes over a killed `up`'s record (what it left stopped) wrote every program as its own:
    failed after its own first stop, it was named, failed, for the programs the killed one stopped. Each keeps its
    owner; a record of the older shape (no owners) names the record's process for each, as before."""
    from launcher import proof_stops
    (tmp_path / proof_stops.UP_FILE).write_text(json.dumps({"proof": "up", "pid": 1, "started": "1", "at": 1.0,
                                                            "programs": ["gate"]}))  # older shape: no owners
    killed = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert killed is not None and killed.owner("gate") == ("up", 1, False), killed
    proof_stops.record(tmp_path, "up", ["gate", "permit_issuer"], proof_stops.UP_FILE, {"gate": ("up", 1, False)})
    proof_stops.fail(tmp_path, proof_stops.UP_FILE)
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None and held.programs == ("gate", "permit_issuer") and held.failed, held
    assert held.owner("gate") == ("up", 1, False) and held.owner("permit_issuer") == ("up", os.getpid(), True), held
    assert proof_stops.by_owner(held, ["gate", "permit_issuer"]) == [
        {"proof": "up", "pid": 1, "failed": False, "programs": ["gate"]},
        {"proof": "up", "pid": os.getpid(), "failed": True, "programs": ["permit_issuer"]}]
    proof_stops.release(tmp_path, ["permit_issuer"], proof_stops.UP_FILE)
    assert proof_stops.read(tmp_path, proof_stops.UP_FILE).owner("gate") == ("up", 1, False)


def test_a_records_temp_file_left_by_an_ended_process_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    """upowner: a record is written to .FILE.PID, then renamed over FILE: a process killed (or out of disk space)
    between the two left the temp file in run/, and nothing removed it. A read or write of the record removes those
    of pids that no longer run, never one of a live pid (it may be writing)."""
    from launcher import proof_stops
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for file in (proof_stops.UP_FILE, proof_stops.FILE):
            left, writing = tmp_path / f".{file}.{ended.pid}", tmp_path / f".{file}.{live.pid}"
            left.write_text("{")
            writing.write_text("{")
            assert proof_stops.read(tmp_path, file) is None
            assert not left.exists() and writing.exists()
            left.write_text("{")
            proof_stops.record(tmp_path, "up", ["gate"], file)
            assert not left.exists() and writing.exists() and proof_stops.read(tmp_path, file) is not None
    finally:
        live.kill()
        live.wait()


def test_a_record_with_malformed_owners_is_read_with_its_own_process_for_those_programs(tmp_path: Path) -> None:
    """revowner: one owner of the record that is not {proof, pid: an integer} (a string, a pid "7", true, missing)
    made the whole record unreadable: status no longer named the programs the killed `up` left stopped, and the next
    `up` started them as stopped by hand. An entry that is not an owner is left out: its program is named by the
    record's own process, as in a record of the older shape; owners not a mapping, the same for all."""
    from launcher import proof_stops
    path = tmp_path / proof_stops.UP_FILE
    base = {"proof": "up", "pid": 1, "started": "1", "at": 1.0,
            "programs": ["gate", "permit_issuer", "ledger", "pricer", "audit"]}
    path.write_text(json.dumps({**base, "owners": {"gate": "x", "permit_issuer": {"proof": "up", "pid": "7"},
                                                    "ledger": {"proof": "up", "pid": True}, "pricer": {"pid": 8},
                                                    "audit": {"proof": "down", "pid": 9}, "gone": {"proof": "up",
                                                                                                   "pid": 10}}}))
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None, "a malformed owner lost the whole record"
    assert [held.owner(name) for name in base["programs"]] == [("up", 1, False)] * 4 + [("down", 9, False)], held
    for owners in ([{"proof": "up", "pid": 7}], "gate", 3):
        path.write_text(json.dumps({**base, "owners": owners}))
        held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
        assert held is not None and held.owner("gate") == ("up", 1, False), (owners, held)


def test_a_record_naming_a_program_twice_names_it_once(tmp_path: Path) -> None:
    """revowner: a record naming gate twice was read with both: status said "gate, gate stopped by", and the next
    `up`, which starts from the record's list, kept the second in its own after starting the first, writing it back
    into its record with a new time (a gate stopped by hand later then named as left stopped by that `up`)."""
    from launcher import proof_stops
    (tmp_path / proof_stops.UP_FILE).write_text(json.dumps({"proof": "up", "pid": 1, "started": "1", "at": 1.0,
                                                            "programs": ["gate", "permit_issuer", "gate"]}))
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None and held.programs == ("gate", "permit_issuer"), held
    infos = [{"name": name, "statename": "STOPPED", "start": 0} for name in ("gate", "permit_issuer")]
    assert proof_stops.still_stopped(held, infos) == ["gate", "permit_issuer"]


def test_a_record_or_temp_file_past_what_a_pid_can_be_is_no_record_not_a_traceback(tmp_path: Path) -> None:
    """revowner: a pid of 1e400 (read as infinity) raised OverflowError out of read(), and a temp file named
    .up-stopping.json.² (a digit to str.isdigit, not to int) a ValueError: `status` and `up` ended in a traceback. The
    first is no record; the second no temp file of ours, left as it is."""
    from launcher import proof_stops
    for file in (proof_stops.UP_FILE, proof_stops.FILE):
        (tmp_path / file).write_text('{"proof": "up", "pid": 1e400, "started": "1", "at": 1.0, "programs": ["gate"]}')
        assert proof_stops.read(tmp_path, file) is None
        (tmp_path / file).write_text('{"proof": "up", "pid": 1, "started": "1", "at": 1.0, "programs": ["gate"], '
                                     '"owners": {"gate": {"proof": "up", "pid": 1e400}}}')
        held = proof_stops.read(tmp_path, file)
        assert held is not None and held.owner("gate") == ("up", 1, False), held
        odd = tmp_path / f".{file}.\u00b2"
        odd.write_text("{")
        assert proof_stops.read(tmp_path, file) is not None and odd.exists()


def test_a_proof_that_cannot_take_its_homes_proof_lock_fails_naming_it_without_a_traceback(tmp_path: Path) -> None:
    """A proof takes run/proof.lock before anything else (one proof at a time on a home); one it cannot open (here a
    directory in its place; a home it may not write) is a FAIL line naming it, not a traceback."""
    run = tmp_path / "home" / "run"
    run.mkdir(parents=True)
    (run / "topology.yaml").write_text((REPO / "configs" / "demo.yaml").read_text())
    (run / "proof.lock").mkdir()
    result = run_proof(tmp_path / "home", "readiness")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL  proof: cannot take the proof lock in {run}" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_a_record_with_a_malformed_since_is_read_with_the_records_time_for_those_programs(tmp_path: Path) -> None:
    """recordfix: one program's time in the record's `since` that was no time (a string) made the whole record
    unreadable, and one that was NaN, negative, 1e400 or true was read as such (NaN and negative: the program never
    named, 1e400: named though started since). An entry that is no time since the epoch is left out: its program is
    compared with the record's `at`, as in a record of the older shape; `since` not a mapping, the same for all; an
    `at` that is no time is no time (each program is then named)."""
    from launcher import proof_stops
    path = tmp_path / proof_stops.UP_FILE
    base = {"proof": "up", "pid": 1, "started": "1", "at": 100.0,
            "programs": ["gate", "permit_issuer", "ledger", "pricer", "audit", "book"]}
    started_at_50 = [{"name": name, "statename": "STOPPED", "start": 50} for name in base["programs"]]
    path.write_text(json.dumps({**base, "since": {"gate": "x", "permit_issuer": float("nan"), "ledger": -1.0,
                                                  "pricer": True, "audit": 20.0, "gone": 5.0}})
                    .replace('"audit": 20.0', '"audit": 20.0, "book": 1e400'))  # NaN as json.dumps writes it
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None, "a malformed since lost the whole record"
    assert dict(held.since) == {"audit": 20.0, "gone": 5.0}, held
    assert proof_stops.still_stopped(held, started_at_50) == ["gate", "permit_issuer", "ledger", "pricer", "book"]
    for since in (["gate"], "gate", 3, None):
        path.write_text(json.dumps({**base, "since": since}))
        held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
        assert held is not None and held.since == (), (since, held)
        assert proof_stops.still_stopped(held, started_at_50) == base["programs"], since
    for at in ("x", [1], float("nan"), -5.0, True):
        path.write_text(json.dumps({**base, "at": at, "since": {"gate": 100.0}}))
        held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
        assert held is not None and held.at is None and held.since == (("gate", 100.0),), (at, held)


def test_a_record_left_by_an_ended_process_that_had_this_ones_pid_is_not_taken_as_its_own(tmp_path: Path) -> None:
    """recordfix: record and fail took a record as this process's own by its pid alone: one left by a killed `up` whose
    pid this process has now (pid reuse: after a reboot, in a container whose `up` is always pid 1) was extended as
    this one's, and this one, failed, marked it all failed: status then named this one (FAILED UP) for the programs
    the killed one left stopped. A record is this process's own only at its start time too."""
    from launcher import proof_stops
    path = tmp_path / proof_stops.UP_FILE
    path.write_text(json.dumps({"proof": "up", "pid": os.getpid(), "started": "1", "at": 1.0, "programs": ["gate"],
                                "since": {"gate": 1.0}}))
    ended = proof_stops.left_by_ended_proof(tmp_path, proof_stops.UP_FILE)
    assert ended is not None, "a record of this pid at another start time is an ended process's"
    proof_stops.fail(tmp_path, proof_stops.UP_FILE)
    assert not proof_stops.read(tmp_path, proof_stops.UP_FILE).failed, "fail marked the killed `up`'s record"
    proof_stops.record(tmp_path, "up", ["gate", "permit_issuer"], proof_stops.UP_FILE, {"gate": ("up", os.getpid(), False)})
    proof_stops.fail(tmp_path, proof_stops.UP_FILE)
    held = proof_stops.read(tmp_path, proof_stops.UP_FILE)
    assert held is not None and held.programs == ("gate", "permit_issuer") and held.failed, held
    assert held.owner("gate") == ("up", os.getpid(), False), held  # the killed one's, not this failed one's
    assert held.owner("permit_issuer") == ("up", os.getpid(), True), held
    assert dict(held.since)["gate"] > 1.0, held  # recorded again by this one, which stops it now


def _namespaces_unavailable(why: str) -> None:
    """Skip a namespace test where it cannot run, naming why; under CI (CLUSTERGATE_REQUIRE_NETNS=1 or CI=true: root,
    unshare there) fail instead, as the network-namespace tests do (tests/conftest.py): a check skipped in CI is none."""
    from launcher import netns
    if netns.requires_netns(os.environ):
        pytest.fail(f"{why} (required here: CLUSTERGATE_REQUIRE_NETNS=1 or CI=true)", pytrace=False)
    pytest.skip(why)


def _writer_held_before_its_rename(run: Path, file: str) -> subprocess.Popen:
    """A process writing the record in `run` (proof_stops.record), held between its write of .FILE.PID and its
    rename (os.replace waits for a line on its stdin); returned once the temp file is written."""
    code = ("import os, sys\nfrom pathlib import Path\nfrom launcher import proof_stops\nreal = os.replace\n"
            "def held(src, dst):\n    print('written', flush=True)\n    sys.stdin.readline()\n    real(src, dst)\n"
            f"os.replace = held\nproof_stops.record(Path({str(run)!r}), 'up', ['gate'], {file!r})\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert writer.stdout.readline().strip() == "written"
    except BaseException:
        writer.kill()
        writer.wait()
        raise
    return writer


def test_a_records_temp_file_written_by_a_process_of_another_pid_namespace_is_kept(tmp_path: Path) -> None:
    """recordfix: the temp-file cleanup removed .FILE.PID when it saw no process PID: from another pid namespace (a
    container sharing the home) the writer's pid names no process, and its temp file was removed under it as it
    wrote (its rename then failed: the record not written). The writer holds a lock on its temp file until it has
    renamed it; a locked one is left as it is. The read runs in a pid namespace of its own (unshare -p, its /proc)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        _namespaces_unavailable("needs root and unshare (util-linux) for a pid namespace")
    from launcher import proof_stops
    for file in (proof_stops.UP_FILE, proof_stops.FILE):
        writer = _writer_held_before_its_rename(tmp_path, file)
        try:
            temp = tmp_path / f".{file}.{writer.pid}"
            assert temp.exists()
            read = subprocess.run(["unshare", "-p", "-f", "--kill-child", "--mount-proc", sys.executable, "-c",
                                   f"import os\nfrom pathlib import Path\nfrom launcher import proof_stops\n"
                                   f"assert not os.path.exists('/proc/{writer.pid}/stat') or os.getpid() == {writer.pid}\n"
                                   f"print(proof_stops.read(Path({str(tmp_path)!r}), {file!r}))"],
                                  capture_output=True, text=True, cwd=REPO, timeout=60,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
            assert read.returncode == 0, read.stdout + read.stderr
            assert temp.exists(), "a live writer's temp file was removed from another pid namespace"
            writer.stdin.write("\n")
            writer.stdin.flush()
            assert writer.wait(timeout=60) == 0
            assert not temp.exists() and proof_stops.read(tmp_path, file).programs == ("gate",)
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.wait()


def test_a_records_temp_file_of_a_live_pid_whose_proc_entry_cannot_be_read_is_kept() -> None:
    """recordfix: the temp-file cleanup took a pid whose /proc/PID/stat it could not read for an ended one: under a
    /proc mounted hidepid=1 (the entry there, unreadable: PermissionError) or hidepid=2 (no entry, the process another
    user's), another user's live writer's temp file was removed. A pid is ended only when the kernel says no such
    process (kill 0: ESRCH); unknown is left as it is. Read as the user nobody, in a mount namespace of its own with
    such a /proc (unshare -m: gone with the read)."""
    import tempfile

    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        _namespaces_unavailable("needs root, unshare and setpriv (util-linux) for a hidepid /proc read as another user")
    from launcher import proof_stops
    run = Path(tempfile.mkdtemp(prefix="cg-recordfix-", dir="/tmp"))  # tmp_path's parents: root's alone
    live = ended = None
    try:
        run.chmod(0o777)
        code = run / "code" / "launcher"  # what the read imports, where nobody may read it (the checkout: maybe not)
        code.mkdir(parents=True)
        for module in ("__init__.py", "proof_stops.py", "terminal_text.py"):
            shutil.copy(REPO / "launcher" / module, code / module)
        os.chmod(run / "code", 0o755)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"]
        probe = subprocess.run([*as_nobody, "import launcher.proof_stops"], capture_output=True, text=True,
                               cwd=run / "code", timeout=60, env={**os.environ, "PYTHONPATH": str(run / "code")})
        if probe.returncode != 0:
            _namespaces_unavailable(f"needs a Python the user nobody may run (/usr/bin/python3): {probe.stderr[-300:]}")
        live = subprocess.Popen(["sleep", "600"])  # root's: its /proc entry hidden from nobody
        ended = subprocess.Popen(["true"])
        ended.wait()
        for hidepid in (1, 2):
            for file in (proof_stops.UP_FILE, proof_stops.FILE):
                writing, left = run / f".{file}.{live.pid}", run / f".{file}.{ended.pid}"
                for temp in (writing, left):
                    temp.write_text("{")
                    temp.chmod(0o666)
                script = (f"from pathlib import Path\nfrom launcher import proof_stops\n"
                          f"print(proof_stops.read(Path({str(run)!r}), {file!r}))")
                read = subprocess.run(
                    ["unshare", "-m", "--propagation", "private", "sh", "-c",
                     f"mount -t proc -o hidepid={hidepid} proc /proc && exec setpriv --reuid=65534 --regid=65534 "
                     f"--clear-groups /usr/bin/python3 -c \"$0\"", script],
                    capture_output=True, text=True, cwd=run / "code", timeout=60,
                    env={**os.environ, "PYTHONPATH": str(run / "code")})
                assert read.returncode == 0, read.stdout + read.stderr
                assert writing.exists(), f"hidepid={hidepid}: a live pid's temp file was removed"
                assert not left.exists(), f"hidepid={hidepid}: an ended pid's temp file was kept"
    finally:
        if live is not None:
            live.kill()
            live.wait()
        shutil.rmtree(run)


def test_a_record_whose_temp_file_another_process_keeps_locked_is_not_written_and_the_writer_does_not_hang(
        tmp_path: Path) -> None:
    """recordfix: the writer locks its temp file (.FILE.PID) until its rename, and waits for a cleaner that holds it a
    moment; one held for good (here by another open file of this process, as another process would hold it) is an
    OSError after a bounded wait (an `up` says it could not write the record), not a hang; released, it is written."""
    import fcntl

    from launcher import proof_stops
    temp = tmp_path / f".{proof_stops.UP_FILE}.{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(OSError):
            proof_stops.record(tmp_path, "up", ["gate"], proof_stops.UP_FILE)
        assert proof_stops.read(tmp_path, proof_stops.UP_FILE) is None
    finally:
        os.close(fd)
    proof_stops.record(tmp_path, "up", ["gate"], proof_stops.UP_FILE)
    assert proof_stops.read(tmp_path, proof_stops.UP_FILE).programs == ("gate",) and not temp.exists()


NFS_FLOCK_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
/* flock(2) as an NFS client gives it (flock(2), NOTES): a whole-file fcntl lock, so an exclusive lock needs the file
   open for writing, else EBADF. */
int flock(int fd, int op) {
  static int (*real)(int, int);
  if (!real) real = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
  int mode = fcntl(fd, F_GETFL);
  if ((op & LOCK_EX) && mode != -1 && (mode & O_ACCMODE) == O_RDONLY) { errno = EBADF; return -1; }
  return real(fd, op);
}
"""


def test_a_records_temp_file_left_by_an_ended_process_is_removed_where_flock_is_an_nfs_clients(tmp_path: Path) -> None:
    """revrec: recordfix's cleanup locks a temp file (.FILE.PID) before it removes it, on a file it opened read-only:
    where flock is an NFS client's (a whole-file fcntl lock: an exclusive one on a read-only file is EBADF; a home on
    NFS, where up's and the proof's own locks, opened for writing, work), that lock always failed and no temp file left
    by a killed `up` or proof was removed any more (upowner's cleanup undone). The read runs in a process whose flock
    behaves so (LD_PRELOAD of NFS_FLOCK_C, built with cc as the deadline tests' clock shim is)."""
    from launcher import proof_stops
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (cc) builds the NFS-like flock of this test"
    (tmp_path / "nfs_flock.c").write_text(NFS_FLOCK_C)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "nfs_flock.so"), str(tmp_path / "nfs_flock.c"),
                    "-ldl"], check=True, timeout=120)
    run = tmp_path / "run"
    run.mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()
    for file in (proof_stops.UP_FILE, proof_stops.FILE):
        left = run / f".{file}.{ended.pid}"
        left.write_text("{")
        read = subprocess.run([sys.executable, "-c", f"from pathlib import Path\nfrom launcher import proof_stops\n"
                               f"print(proof_stops.read(Path({str(run)!r}), {file!r}))"],
                              capture_output=True, text=True, cwd=REPO, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(REPO), "LD_PRELOAD": str(tmp_path / "nfs_flock.so")})
        assert read.returncode == 0 and read.stdout.strip() == "None", read.stdout + read.stderr
        assert not left.exists(), f"{left.name}: a temp file of an ended pid kept where flock is an NFS client's"


def test_warm_restart_times_a_negative_readiness_as_not_in_time_and_says_the_clock_stepped() -> None:
    """Readiness and the program's start are read off the host's wall clock by two processes: a step back between
    them made the time negative, which passed as within the cadence (session 42's review, left; session 43)."""
    from proofs.warm_restart import in_time, took_text

    assert in_time(0.4, 1.0) and in_time(0.0, 1.0) and in_time(1.0, 1.0)
    assert not in_time(None, 1.0) and not in_time(1.01, 1.0)
    assert not in_time(-0.5, 1.0)
    assert "stepped back" in took_text(-0.5) and took_text(0.5) == "0.50 s" and took_text(None) == "never"


def test_a_second_signal_nested_in_the_first_ones_proof_handler_is_the_first_ones_stop():
    """Two stop signals sent at once (a terminal's SIGHUP, a supervisor's SIGTERM): the second can arrive while the
    first's handler runs, before it ignored the others, and the interpreter runs its handler there, nested: its
    Interrupted replaced the first's (the proof said interrupted by the second, exit 128 + its number). Reproduced in
    this process with real signals: a profile hook sends SIGHUP as SIGTERM's handler starts."""
    import signal
    from helpers import nested_stop_signals
    from proofs.common import INTERRUPTIONS, Interrupted, _held, _raise_interrupted
    previous = {signum: signal.getsignal(signum) for signum in INTERRUPTIONS}
    try:
        interrupted = nested_stop_signals(_raise_interrupted, signal.SIGTERM, signal.SIGHUP)
        sigint = signal.getsignal(signal.SIGINT)  # (the helper puts back the two it sent)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert isinstance(interrupted, Interrupted) and interrupted.signum == signal.SIGTERM, repr(interrupted)
    assert sigint is _held  # the first's handler held the others


HELD_UNTIL_REPORTED_SCRIPT = '''
import os, signal, sys, types
import proofs.common as common

class Check:
    def __init__(self, ok):
        self.ok = ok

class FakeProof:  # the run's own steps only: a stop while the body runs, a second as the report is written
    def __init__(self, name, home, topology_path):
        self.topo = types.SimpleNamespace(name="demo", hosts=["here"])
        self.topology_path = topology_path
        self.checks = []
    def start_what_a_killed_proof_left_stopped(self):
        pass
    def check(self, name, ok, detail=""):
        self.checks.append(Check(ok))
    def write_report(self):
        os.kill(os.getpid(), signal.SIGTERM)  # the supervisor's stop resent as the report is written
        print("report written", flush=True)
        return "the-report"
    def close(self):
        pass

def body(proof, args):
    os.kill(os.getpid(), signal.SIGHUP)  # the first stop, while the proof runs
    for _ in range(1000):
        pass

common.Proof = FakeProof
code = common._run_proof_held("demo", body, None, None, "topology.yaml")
print(f"returned {code}", flush=True)
'''


def test_a_second_stop_signal_as_an_interrupted_proof_writes_its_report_is_ignored() -> None:
    """An interrupted proof put its stop handlers back before it wrote its report: a second SIGTERM then (a supervisor
    resending its stop, `timeout -s TERM` twice) killed it there, no report written or named, exit -15. The others stay
    ignored until the report is written and named. The proof's own steps faked in a process of its own, real
    signals."""
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-c", HELD_UNTIL_REPORTED_SCRIPT], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, (run.returncode, run.stdout, run.stderr)
    assert "report written" in run.stdout and "report the-report.txt" in run.stdout, run.stdout
    assert "returned 129" in run.stdout, run.stdout


def test_a_proof_sent_two_stop_signals_at_once_stops_once_without_a_traceback() -> None:
    """SIGTERM and SIGHUP pending at once (a supervisor's stop as the terminal closes): the interpreter takes them in
    number order, the second once the first's handler has held the others; held by SIG_IGN, it wrote "Traceback ...
    OSError: Signal 15 ignored due to race condition". Real signals, blocked then let through together."""
    import subprocess
    import sys
    script = HELD_UNTIL_REPORTED_SCRIPT.replace(
        "os.kill(os.getpid(), signal.SIGHUP)  # the first stop, while the proof runs",
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP}); "
        "os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGHUP); "
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGHUP})").replace(
        "os.kill(os.getpid(), signal.SIGTERM)  # the supervisor's stop resent as the report is written", "pass")
    assert "pthread_sigmask" in script and "pass\n" in script
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "returned 129" in run.stdout, (run.returncode, run.stdout, run.stderr)
    assert "interrupted (SIGHUP)" in run.stdout and "report the-report.txt" in run.stdout, run.stdout
    assert "Traceback" not in run.stderr, run.stderr
