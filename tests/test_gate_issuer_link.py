"""The gate says, before any proposal comes, whether a permit issuer is connected: gate_permit_issuers_connected,
from a ZeroMQ socket monitor on its `permits` socket, read in its poll loop. A stopped or SIGSTOPped issuer (whose
connection the ZMTP heartbeats drop) is 0 within the heartbeat timeout, the issuer back is 1 again; a re-created
permits socket (after a permit_timeout_ms expiry) gets a monitor of its own, neither a stale count nor a leaked
socket. Real gate and issuer processes, real redis-server, real ZeroMQ."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from actors.gate import ISSUER_GONE_LOG_S
from helpers import DEADLINE_SCALE, RedisServer, TcpProxy, free_port, scrape, stopped, wait_for, write_topology
from test_gate_service import P26, new_plan, running_p26

CONNECTED = "gate_permit_issuers_connected"
# permit_timeout_ms for the tests whose gate must time out on its stopped issuer and then, once it is resumed, get the
# issuer's answer in time: 300 ms x DEADLINE_SCALE. The issuer refuses an item after half of it (issuer_deadline_s):
# with 300 ms, a resumed issuer a loaded machine starved past 150 ms answered the proposal after it `expired`.
SHORT_PERMIT_TIMEOUT_MS = int(300 * DEADLINE_SCALE)
NONE_SINCE = "gate_permit_issuers_none_since_timestamp_seconds"


def heartbeat_limit_s() -> float:
    """How long the gate may take to drop a connection to an issuer that answers nothing, plus slack (wait_for
    scales it by DEADLINE_SCALE)."""
    from actors.runtime import HEARTBEAT_IVL_MS, HEARTBEAT_TIMEOUT_MS
    return (HEARTBEAT_IVL_MS + HEARTBEAT_TIMEOUT_MS) / 1000 + 5


def connected(p26) -> float | None:
    return p26.metrics().get(CONNECTED)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_gate_whose_issuer_is_sigstopped_or_stopped_reports_none_connected_and_one_again_when_it_is_back(
        tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        with running_p26(tmp_path, server) as p26:
            wait_for(lambda: connected(p26) == 1, 10, "the gate to count its issuer connected")
            metrics = p26.metrics()
            assert 0 < metrics[NONE_SINCE] <= time.time()  # exported from the start: the gate's start
            # SIGSTOP: no FIN, the connection stays open until the gate's heartbeat gives up on it. No proposal is
            # sent meanwhile, so the permits socket is not re-created: the monitor's DISCONNECTED alone says so.
            with stopped(p26.issuer.proc.pid):
                started = time.monotonic()
                wait_for(lambda: connected(p26) == 0, heartbeat_limit_s(), "the gate to see its issuer gone")
                print(f"SIGSTOPped issuer seen gone after {time.monotonic() - started:.1f} s")
                lost_at = p26.metrics()[NONE_SINCE]
                assert time.time() - 60 < lost_at <= time.time()
            wait_for(lambda: connected(p26) == 1, 10, "the gate to count its issuer again after SIGCONT")
            # Stopped for good (SIGTERM): the connection closes at once, then a new issuer process.
            p26.issuer.terminate()
            started = time.monotonic()
            wait_for(lambda: connected(p26) == 0, 10, "the gate to see its stopped issuer gone")
            print(f"stopped issuer seen gone after {time.monotonic() - started:.1f} s")
            p26.issuer.start()
            wait_for(lambda: connected(p26) == 1, 20, "the gate to count the restarted issuer")
    finally:
        server.stop()


def test_the_count_stays_right_and_no_socket_leaks_across_re_created_permits_sockets(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        with running_p26(tmp_path, server, gate_settings={"permit_timeout_ms": SHORT_PERMIT_TIMEOUT_MS}) as p26:
            gate_pid = p26.gate.proc.pid
            wait_for(lambda: connected(p26) == 1, 10, "the gate to count its issuer connected")
            fds_before = open_fds(gate_pid)
            with stopped(p26.issuer.proc.pid):
                for _ in range(10):  # each times out and re-creates the permits socket (and its monitor)
                    reply = p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan())
                    assert reply["decision"]["gate_reason"] == "permit_unavailable", reply
                # The first re-creation came before the heartbeat could drop the connection: the old socket's count
                # of 1 must not survive it. Each new socket reaches the stopped issuer's port, but no handshake.
                wait_for(lambda: connected(p26) == 0, heartbeat_limit_s(), "no issuer counted while it is stopped")
                assert open_fds(gate_pid) <= fds_before + 4, (fds_before, open_fds(gate_pid))
                lost_at = p26.metrics()[NONE_SINCE]
                assert time.time() - 60 < lost_at <= time.time()
            wait_for(lambda: connected(p26) == 1, 10, "the re-created socket's monitor to count the issuer back")
            reply = p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan())
            assert reply["decision"]["gate_reason"] != "permit_unavailable", reply
            assert open_fds(gate_pid) <= fds_before + 4, (fds_before, open_fds(gate_pid))
            assert "permit_issuer_disconnected" in p26.gate.log()
    finally:
        server.stop()


@contextmanager
def bound_p26(workdir: Path, **settings: dict) -> Iterator[P26]:
    """A started P26 on its own Redis (the demo book written) with the link reversed: the gate's `permits` binds,
    the issuer's `requests` connects to it; yielded once the gate counts the issuer, stopped on exit."""
    from test_security import write_book
    server = RedisServer(workdir / "redis").start()
    try:
        write_book(server.client())
        port = free_port()
        system = P26(workdir, server.url, **settings)
        system.data["actors"]["gate"]["sockets"]["permits"] = {"bind": f"tcp://127.0.0.1:{port}"}
        system.data["actors"]["permit_issuer"]["sockets"]["requests"] = {"connect": f"tcp://127.0.0.1:{port}"}
        write_topology(system.topology, system.data)
        system.permits_port = port
        system.start()
        try:
            wait_for(lambda: connected(system) == 1, 10, "the gate to count the issuer that connected to it")
            yield system
        finally:
            system.stop()
    finally:
        server.stop()


@contextmanager
def second_peer(system: P26) -> Iterator[None]:
    """A second peer of the gate's REQ (what a second issuer is to it) connected for the block: counted once it
    connects, and counted gone once it closes."""
    import zmq
    ctx = zmq.Context()
    second = ctx.socket(zmq.REP)
    second.setsockopt(zmq.LINGER, 0)
    try:
        before = connected(system)
        second.connect(f"tcp://127.0.0.1:{system.permits_port}")
        wait_for(lambda: connected(system) == before + 1, 10, "the gate to count a second peer")
        yield
        second.close()
        wait_for(lambda: connected(system) == before, 10, "the gate to count the second peer gone")
    finally:
        second.close()
        ctx.term()


def test_a_gate_whose_permits_socket_binds_counts_each_issuer_that_connects(tmp_path: Path) -> None:
    with bound_p26(tmp_path) as system:
        with second_peer(system):
            pass
        system.issuer.terminate()
        wait_for(lambda: connected(system) == 0, 10, "the gate to count no issuer")


def test_a_peer_that_fails_its_handshake_is_never_counted(tmp_path: Path) -> None:
    """A TCP connection that never greets (a port scanner, a half-dead process) is no issuer: neither its connect
    nor its drop changes the count (libzmq reports its DISCONNECTED too, after HANDSHAKE_FAILED)."""
    import socket
    with bound_p26(tmp_path) as system:
        for _ in range(3):
            socket.create_connection(("127.0.0.1", system.permits_port), timeout=5).close()
        # The monitor's events come in order: once the peer connected after them is counted as the second, the
        # failed handshakes' have been read too, and counted nothing.
        with second_peer(system):
            assert connected(system) == 2
        system.issuer.terminate()
        wait_for(lambda: connected(system) == 0, 10, "the gate to count no issuer")


def test_an_issuer_that_refuses_the_gates_curve_key_is_never_counted_while_both_read_ready(tmp_path: Path) -> None:
    """The link broken while both processes run and answer their metrics: only this count (and status's line) says
    that every proposal will get a fault HOLD."""
    import shutil

    from helpers import ActorProcess, scrape
    from launcher.curve import generate_keypair
    from test_security import p26_topology
    server = RedisServer(tmp_path / "redis").start()
    try:
        data = p26_topology(tmp_path, server.url)
        issuer_topology = write_topology(tmp_path / "issuer.yaml", data)
        # The gate's key rotated, the issuer's allow list not: each topology file validates on its own.
        shutil.copytree(tmp_path / "keys", tmp_path / "rotated")
        for suffix in (".key", ".key_secret"):
            (tmp_path / "rotated" / f"gate{suffix}").unlink()
        generate_keypair(tmp_path / "rotated", "gate")
        data["security"]["curve"]["keys_dir"] = "rotated"
        gate_topology = write_topology(tmp_path / "gate.yaml", data)
        issuer = ActorProcess(issuer_topology, "permit_issuer", log_dir=tmp_path).start()
        gate = ActorProcess(gate_topology, "gate", log_dir=tmp_path).start()
        gate_port, issuer_port = (data["actors"][n]["metrics_port"] for n in ("gate", "permit_issuer"))
        try:
            denied = 'clustergate_curve_denied_total{actor="permit_issuer",socket="requests"}'
            wait_for(lambda: scrape(issuer_port).get(denied, 0) >= 1, 20, "the issuer to refuse the gate's key")
            ready = 'clustergate_actor_ready{actor="gate",kind="gate"}'
            wait_for(lambda: scrape(gate_port).get(ready) == 1, 20, "the gate ready")
            metrics = scrape(gate_port)
            assert metrics[CONNECTED] == 0 and metrics[NONE_SINCE] > 0, metrics
        finally:
            gate.terminate()
            issuer.terminate()
    finally:
        server.stop()


# --------------------------------------------------------------------------- status, from given scrape samples

ENDPOINT = "tcp://127.0.0.1:5557"


def gate_sample(connected: int, none_since: float) -> dict[str, float]:
    return {'clustergate_actor_ready{actor="gate",kind="gate"}': 1.0, CONNECTED: float(connected),
            NONE_SINCE: none_since}


def test_status_reads_a_gate_with_an_issuer_connected_as_ok_and_says_nothing_of_it() -> None:
    from launcher.overview import permit_issuers, permit_issuers_line
    now = time.time()
    link = permit_issuers(gate_sample(1, now - 100), ENDPOINT, now)
    assert link == {"connected": 1, "endpoint": ENDPOINT, "ok": True}
    assert permit_issuers_line("gate", link) is None
    # An older gate without the gauge, or metrics that did not answer: nothing claimed either way.
    assert permit_issuers({'clustergate_actor_ready{actor="gate",kind="gate"}': 1.0}, ENDPOINT, now) is None
    assert permit_issuers(None, ENDPOINT, now) is None


def test_status_names_the_gate_and_its_endpoint_with_no_issuer_connected_past_the_grace_and_exits_1() -> None:
    from launcher.hosts_status import hosts_ok
    from launcher.overview import ISSUER_GRACE_S, permit_issuers, permit_issuers_lines
    from launcher.supervise import status_ok
    now = time.time()
    link = permit_issuers(gate_sample(0, now - 14.2), ENDPOINT, now)
    assert link["ok"] is False and link["connected"] == 0 and 14 <= link["none_for_s"] <= 15
    rows = [{"name": "permit_issuer", "state": "RUNNING", "ready": True, "kind": "permit_issuer"},
            {"name": "gate", "state": "RUNNING", "ready": True, "kind": "gate", "permit_issuers": link}]
    assert permit_issuers_lines(rows) == [
        f"gate: no permit issuer connected ({ENDPOINT}) for 14 s: every proposal gets a fault HOLD (permit_unavailable)"]
    status = {"supervisord": "running", "leftovers": [], "programs": rows}
    assert status_ok(status) is False
    assert hosts_ok({"exec": {"programs": rows}, "iss": {"programs": rows[:1]}}, None) is False
    # Within the grace (a gate just started, a permits socket just re-created): said, but not a fault.
    rows[1]["permit_issuers"] = permit_issuers(gate_sample(0, now - ISSUER_GRACE_S / 2), ENDPOINT, now)
    line, = permit_issuers_lines(rows)
    assert line.startswith(f"gate: no permit issuer connected ({ENDPOINT})") and "grace" in line
    assert status_ok(status) is True and hosts_ok({"exec": {"programs": rows}}, None) is True
    # Connected again: no line, exit 0.
    rows[1]["permit_issuers"] = permit_issuers(gate_sample(1, now - 3), ENDPOINT, now)
    assert permit_issuers_lines(rows) == [] and status_ok(status) is True


# --------------------------------------------------------------------------- status of a system under supervisord


def clustergate(*args: str, timeout: float = 120) -> "subprocess.CompletedProcess":
    import subprocess
    import sys

    from helpers import REPO
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def test_status_names_the_gate_and_its_issuers_endpoint_while_its_issuer_is_sigstopped_then_is_green_again(
        tmp_path: Path) -> None:
    import json

    from helpers import demo_topology_data, retarget
    data = retarget(demo_topology_data())
    data["actors"] = {name: data["actors"][name] for name in ("permit_issuer", "gate")}
    topo_path = write_topology(tmp_path / "small.yaml", data)
    home = tmp_path / "home"
    endpoint = data["actors"]["gate"]["sockets"]["permits"]["connect"]
    up = clustergate("up", str(topo_path), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 0, status.stdout + status.stderr
        assert "no permit issuer connected" not in status.stdout
        rows = {r["name"]: r for r in json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        assert rows["gate"]["permit_issuers"] == {"connected": 1, "endpoint": endpoint, "ok": True}
        with stopped(rows["permit_issuer"]["pid"]):
            said = wait_for(lambda: (s := clustergate("status", "--home", str(home))).returncode == 1
                            and "every proposal gets a fault HOLD" in s.stdout and s, heartbeat_limit_s() + 10,
                            "status to say the gate has no permit issuer")
            assert f"gate: no permit issuer connected ({endpoint}) for " in said.stdout, said.stdout
            rows = {r["name"]: r for r in json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
            link = rows["gate"]["permit_issuers"]
            assert (link["connected"], link["endpoint"], link["ok"]) == (0, endpoint, False), link
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 20, "status green again")
        assert "no permit issuer connected" not in clustergate("status", "--home", str(home)).stdout
    finally:
        clustergate("down", "--home", str(home))


# --------------------------------------------------------------------------- a connection broken after its handshake


class CorruptingProxy(TcpProxy):
    """A real TCP proxy in front of the permit issuer's port that, once armed, flips the last byte of the next
    chunk the issuer sends through it (a faulty middlebox, a bit flipped on the wire): under CurveZMQ the gate
    cannot open that box, so libzmq drops a connection whose handshake had succeeded, reporting
    HANDSHAKE_FAILED_PROTOCOL then DISCONNECTED."""

    def __init__(self, upstream_port: int):
        import threading
        self._armed, self.corrupted = threading.Event(), threading.Event()
        super().__init__(upstream_port)

    def arm(self) -> None:
        self._armed.set()

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if not to_upstream and self._armed.is_set() and len(data) > 20:  # not a bare greeting byte
            self._armed.clear()
            self.corrupted.set()
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data


def test_a_curve_connection_broken_after_its_handshake_is_counted_gone_and_not_twice_when_it_is_back(
        tmp_path: Path) -> None:
    """libzmq reports a CurveZMQ message it cannot open (after the handshake succeeded) as HANDSHAKE_FAILED_PROTOCOL
    then DISCONNECTED, the events of a handshake that failed: counted as one, the connection that ended stayed
    counted, the gate's reconnection made it 2, and with no issuer reachable at all the gate still said 1."""
    from helpers import ActorProcess
    from test_security import p26_topology
    server = RedisServer(tmp_path / "redis").start()
    proxy = None
    try:
        data = p26_topology(tmp_path, server.url)
        issuer_port = int(data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"].rsplit(":", 1)[1])
        proxy = CorruptingProxy(issuer_port)
        issuer_topology = write_topology(tmp_path / "issuer.yaml", data)
        # The gate's file has the issuer behind the proxy: each file validates on its own.
        data["actors"]["gate"]["sockets"]["permits"]["connect"] = f"tcp://127.0.0.1:{proxy.port}"
        data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"] = f"tcp://127.0.0.1:{proxy.port}"
        gate_topology = write_topology(tmp_path / "gate.yaml", data)
        issuer = ActorProcess(issuer_topology, "permit_issuer", log_dir=tmp_path).start()
        gate = ActorProcess(gate_topology, "gate", log_dir=tmp_path)
        gate_port = data["actors"]["gate"]["metrics_port"]
        try:
            # Its socket bound before the gate connects: the proxy connects upstream once, when the gate connects to
            # it (a refused upstream ended its accept thread, and the gate never counted the issuer: CI, 5 Dec).
            issuer_ready = 'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}'
            wait_for(lambda: scrape(data["actors"]["permit_issuer"]["metrics_port"]).get(issuer_ready) == 1.0, 20,
                     "the issuer ready (its requests socket bound)")
            gate.start()

            def count() -> float | None:
                return scrape(gate_port).get(CONNECTED)
            wait_for(lambda: count() == 1 and proxy.accepted == 1, 20, "the gate to count its issuer (via the proxy)")
            proxy.arm()  # the issuer's next PONG to the gate's heartbeat PING
            wait_for(lambda: proxy.corrupted.is_set() and proxy.accepted >= 2, heartbeat_limit_s(),
                     "the gate to drop the corrupted connection and connect again")
            try:
                wait_for(lambda: count() == 1, 10, "one issuer counted after the reconnection")
            except AssertionError as exc:
                raise AssertionError(f"{exc} (counted: {count()})") from None
            samples = [count() for _ in range(10)]
            assert samples == [1.0] * 10, samples  # never the dropped connection and the new one
            proxy.close()  # no issuer reachable any more
            wait_for(lambda: count() == 0, heartbeat_limit_s(), "the gate to count no issuer")
        finally:
            gate.terminate()
            issuer.terminate()
    finally:
        if proxy is not None:
            proxy.close()
        server.stop()


def test_a_connection_flood_while_the_gate_waits_on_its_issuer_neither_hangs_the_gate_nor_loses_the_count(
        tmp_path: Path) -> None:
    """libzmq's I/O thread blocks on a monitor whose events are not read (about 2,000 pending: its PAIR's hwm), and
    with it every socket of the gate's context. The gate reads its monitor once per TICK_S, but not while it waits up
    to permit_timeout_ms on its issuer: TCP connections to a bound permits socket in that wait (a port scan) filled
    the monitor, the gate's proposals went unread, and at the wait's end its permits socket's re-creation stopped
    the monitor (zmq_socket_monitor, which waits for the blocked I/O thread, holding the GIL): the whole process hung
    for good, its metrics and SIGTERM included."""
    import socket
    import threading

    from test_security import proposal_decided
    with bound_p26(tmp_path, gate_settings={"permit_timeout_ms": 8000}) as system:
        with stopped(system.issuer.proc.pid):
            waiting = threading.Thread(target=proposal_decided, args=(system.client,), daemon=True)
            waiting.start()  # the gate waits up to 8 s on the stopped issuer, its monitor unread meanwhile
            made, flood_until = [0], time.monotonic() + 6

            def flood() -> None:
                while time.monotonic() < flood_until and made[0] < 2000:
                    try:
                        socket.create_connection(("127.0.0.1", system.permits_port), timeout=0.2).close()
                        made[0] += 1
                    except OSError:
                        pass
            floods = [threading.Thread(target=flood, daemon=True) for _ in range(4)]
            for thread in floods:
                thread.start()
            for thread in floods:
                thread.join()
            print(f"{made[0]} connections made to the permits socket while the gate waited")
            waiting.join()
        answered = wait_for(lambda: (r := proposal_decided(system.client))
                            and r["decision"]["gate_reason"] != "permit_unavailable" and r, 30,
                            "the gate to decide again with its issuer back")
        assert answered["status"] == "ok", answered
        wait_for(lambda: connected(system) == 1, 10, "the issuer counted, the flood's connections not")
        assert system.gate.terminate() == 0  # SIGTERM obeyed (-9: killed after 5 s)


def test_status_times_the_grace_on_the_gates_own_clock_not_on_two_hosts_wall_clocks(tmp_path: Path) -> None:
    """status --all-hosts (another machine) took the gate's none_since epoch from its own wall clock: a gate host
    10 minutes ahead (or a gate whose clock stepped back since) made a gate with no issuer at all read "for 0 s: not
    yet a fault", status exit 0, for 10 minutes. The grace is timed on the gate's monotonic clock."""
    from launcher.hosts_status import _ask_actor
    from launcher.topology import load_topology
    from test_clusters_end_to_end import SteppedClockProcess
    from test_security import p26_topology
    server = RedisServer(tmp_path / "redis").start()
    try:
        topology = write_topology(tmp_path / "topology.yaml", p26_topology(tmp_path, server.url, curve=False))
        clock = tmp_path / "gate_clock_offset_s"
        clock.write_text("600")
        gate = SteppedClockProcess(topology, "gate", clock).start()  # and no permit issuer
        try:
            topo = load_topology(topology)
            wait_for(lambda: _ask_actor(topo, "gate").get("permit_issuers"), 20, "the gate's metrics")
            link = wait_for(lambda: (row := _ask_actor(topo, "gate")["permit_issuers"])["ok"] is False and row, 20,
                            "status to call the gate without an issuer past the grace a fault")
            assert link["connected"] == 0 and link["none_for_s"] < 600, link
        finally:
            gate.terminate()
    finally:
        server.stop()


def test_a_slow_issuer_whose_socket_the_gate_re_creates_is_not_logged_gone(tmp_path: Path) -> None:
    """A live issuer that answers one request late: the gate times out and re-creates its permits socket, whose
    count is 0 until the issuer's handshake, about 100 ms. That is no lost issuer: no `permit_issuer_disconnected`
    warning (it says every proposal gets a fault HOLD), which an issuer really gone still gets (the test above)."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        with running_p26(tmp_path, server, gate_settings={"permit_timeout_ms": SHORT_PERMIT_TIMEOUT_MS}) as p26:
            wait_for(lambda: connected(p26) == 1, 10, "the gate to count its issuer connected")
            with stopped(p26.issuer.proc.pid):  # late, well inside the heartbeat timeout
                reply = p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan())
                assert reply["decision"]["gate_reason"] == "permit_unavailable", reply
            wait_for(lambda: "permit_issuer_unavailable" in p26.gate.log(), 10, "the gate to log the timeout")
            wait_for(lambda: connected(p26) == 1, 10, "the re-created socket to count the issuer")
            reply = p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan())
            assert reply["decision"]["gate_reason"] != "permit_unavailable", reply
            time.sleep(ISSUER_GONE_LOG_S + 0.5)  # past the delay after which a real loss is logged
            assert "permit_issuer_disconnected" not in p26.gate.log(), p26.gate.log()[-2000:]
    finally:
        server.stop()
