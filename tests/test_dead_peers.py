"""A peer whose host crashed or was cut off sends no FIN: without ZMTP heartbeats its connection to an actor stayed
open for ever (a descriptor and a queue per vanished client, in the gate until it restarted). The actors send a PING
every HEARTBEAT_IVL_MS and drop a connection that answers nothing for HEARTBEAT_TIMEOUT_MS; a live idle client, whose
libzmq answers the PINGs, is kept."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path

import pytest
import zmq

from helpers import DEADLINE_SCALE, wait_for
from test_gate_service import new_plan, proposal_body, running_p26
from helpers import RedisServer


def zmtp_greeting() -> bytes:
    """ZMTP 3.1 (RFC 37) greeting, NULL mechanism, not as-server: 64 bytes."""
    return b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, 1]) + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31


def zmtp_ready(socket_type: bytes) -> bytes:
    """The READY command of a peer of socket_type, as a short command frame."""
    body = b"\x05READY" + bytes([len(b"Socket-Type")]) + b"Socket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    return bytes([0x04, len(body)]) + body


def vanished_dealer(endpoint: str) -> socket.socket:
    """A TCP connection that completes a DEALER's handshake with the gate, then says nothing more, ever, and answers
    no PING: what the gate sees of a client whose host crashed."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    conn = socket.create_connection((host, int(port)), timeout=5)
    conn.sendall(zmtp_greeting())
    got = b""
    while len(got) < 64:  # the gate's greeting
        chunk = conn.recv(64 - len(got))
        assert chunk, "the gate closed the connection during the greeting"
        got += chunk
    conn.sendall(zmtp_ready(b"DEALER"))
    conn.settimeout(0.2)
    return conn


def closed_by_peer(conn: socket.socket) -> bool:
    try:
        while True:
            chunk = conn.recv(4096)  # the gate's READY, then its PINGs: read and never answered
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def test_a_client_that_vanished_without_a_fin_is_dropped_and_an_idle_live_client_is_kept(tmp_path: Path):
    """The proposals socket drops a silent client after its own heartbeat timeout, the gate's longest turn +
    HEARTBEAT_TIMEOUT_MS (revstatus: the wait allowed was HEARTBEAT_TIMEOUT_MS's, 13 s + the slack, short of the
    demo gate's 21 s + 3 s since statusfix lengthened its longest turn: it failed with CLUSTERGATE_DEADLINE_SCALE=1)."""
    from types import SimpleNamespace
    from actors.gate import Gate
    from actors.runtime import HEARTBEAT_IVL_MS
    from launcher.topology import load_topology
    server = RedisServer(tmp_path / "redis").start()
    try:
        with running_p26(tmp_path, server) as p26:
            topo = load_topology(str(p26.topology))
            timeout_ms = Gate.heartbeat_timeout_ms(SimpleNamespace(topology=topo, name="gate"), "proposals")
            idle = zmq.Context.instance().socket(zmq.DEALER)
            idle.setsockopt(zmq.LINGER, 0)
            events = idle.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            idle.connect(p26.endpoint)
            vanished = vanished_dealer(p26.endpoint)
            try:
                started = time.monotonic()
                limit_s = (HEARTBEAT_IVL_MS + timeout_ms) / 1000 + 10 * DEADLINE_SCALE
                wait_for(lambda: closed_by_peer(vanished), limit_s,
                         "the gate to drop a connection that answers no PING")
                waited = time.monotonic() - started
                assert waited >= timeout_ms / 1000 - 1, f"dropped after {waited:.1f} s, before its {timeout_ms} ms"
                # The live client, idle all that time, was connected once and never dropped, and is answered.
                from zmq.utils.monitor import recv_monitor_message
                seen = []
                while events.poll(0):
                    seen.append(recv_monitor_message(events)["event"])
                assert seen == [zmq.EVENT_CONNECTED], seen
                plan = new_plan()
                idle.send_multipart([b"", proposal_body(plan, "ETHUSDT", "PARTIAL_50")])
                assert idle.poll(10000 * DEADLINE_SCALE), "the idle live client got no answer"
                reply = json.loads(idle.recv_multipart()[-1])
                assert reply["status"] == "ok" and reply["decision"]["plan_id"] == plan, reply
            finally:
                vanished.close()
                idle.disable_monitor()
                events.close(linger=0)
                idle.close(linger=0)
    finally:
        server.stop()


def test_a_live_client_whose_queue_is_full_while_the_gate_waits_on_its_issuer_is_kept_and_answered(tmp_path: Path):
    """Found attacking the heartbeats: libzmq reads nothing from a connection whose queue to the gate is full, so a
    live client's PONGs went unread while the gate waited on a stopped issuer for a permit_timeout_ms over
    HEARTBEAT_TIMEOUT_MS (allowed up to 60 s), and the gate dropped it: 0 of 3,000 proposals answered (without
    heartbeats all were). The gate's proposals socket waits longer than the gate can spend on one turn."""
    import signal
    from actors.runtime import HEARTBEAT_TIMEOUT_MS
    from helpers import NO_SHEDDING
    from zmq.utils.monitor import recv_monitor_message
    server = RedisServer(tmp_path / "redis").start()
    permit_timeout_ms = HEARTBEAT_TIMEOUT_MS + 4000
    try:
        with running_p26(tmp_path, server, gate_settings={**NO_SHEDDING, "permit_timeout_ms": permit_timeout_ms}) as p26:
            client = zmq.Context.instance().socket(zmq.DEALER)
            client.setsockopt(zmq.LINGER, 0)
            client.setsockopt(zmq.SNDHWM, 0)
            events = client.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            client.connect(p26.endpoint)
            plans = [new_plan() for _ in range(500)]  # past the gate's hwm (100): its queue from this client is full
            p26.issuer.proc.send_signal(signal.SIGSTOP)
            try:
                for plan in plans:
                    client.send_multipart([b"", proposal_body(plan, "ETHUSDT", "HOLD")])
                # The first batch is answered once permit_timeout_ms has passed.
                assert client.poll((permit_timeout_ms + 20_000) * DEADLINE_SCALE), "no answer after the permit timeout"
            finally:
                p26.issuer.proc.send_signal(signal.SIGCONT)
            answered = set()
            while len(answered) < len(plans) and client.poll(10_000 * DEADLINE_SCALE):
                reply = json.loads(client.recv_multipart()[-1])
                answered.add(reply["decision"]["plan_id"])
            dropped = events.poll(0)
            client.disable_monitor()
            events.close(linger=0)
            client.close(linger=0)
            assert not dropped, "the gate dropped a live client while it waited on its issuer"
            assert answered == set(plans), f"{len(plans) - len(answered)} of {len(plans)} proposals got no answer"
    finally:
        server.stop()


def test_idle_tcp_connections_past_the_soft_descriptor_limit_leave_the_gate_answering_proposals(tmp_path: Path):
    """Each TCP connection to the proposals port holds a descriptor from accept, before any ZMTP handshake (so CurveZMQ
    does not bound them). With the gate's soft RLIMIT_NOFILE at 1024 (systemd's default soft limit, which
    supervisord's minfds leaves as it is), 1,100 idle connections from one process took every descriptor: an honest
    proposal got no reply, the metrics endpoint timed out, and libzmq's listener spun at 95% of a core on the accept it
    could not complete. The actors now raise their soft limit to the hard one at start."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low, connections = 256, 400
    assert hard == resource.RLIM_INFINITY or hard >= 4 * connections, f"hard limit {hard}: too low for this test"
    server = RedisServer(tmp_path / "redis").start()
    held: list[socket.socket] = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))  # inherited by the gate and its issuer
        try:
            p26 = running_p26(tmp_path / "p26", server)
            system = p26.__enter__()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        try:
            host, port = system.endpoint.removeprefix("tcp://").rsplit(":", 1)
            for _ in range(connections):
                try:
                    held.append(socket.create_connection((host, int(port)), timeout=2))
                except OSError:  # the listen backlog is full: the gate accepts no more (the fault itself)
                    break
            sock = zmq.Context.instance().socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(system.endpoint)
            try:
                plan = new_plan()
                sock.send(proposal_body(plan, "ETHUSDT", "HOLD"))
                assert sock.poll(int(10_000 * DEADLINE_SCALE)), (
                    f"no reply with {connections} idle connections held\n{system.gate.log()[-2000:]}")
                reply = json.loads(sock.recv())
                assert reply["status"] == "ok" and reply["decision"]["plan_id"] == plan, reply
            finally:
                sock.close(linger=0)
        finally:
            for conn in held:
                conn.close()
            p26.__exit__(None, None, None)
    finally:
        server.stop()


@pytest.mark.parametrize("permit_timeout_ms", [10, 500, 6000, 60000])
def test_the_gates_proposals_socket_keeps_a_silent_client_for_longer_than_its_longest_turn(permit_timeout_ms: int):
    """A turn serves up to four batches (the runtime's BATCHES_PER_TURN), each of which may wait permit_timeout_ms on
    a stopped issuer and re-open its socket: with a client's queue full meanwhile its PONGs go unread. The proposals
    socket's heartbeat timeout was 2 x permit_timeout_ms + HEARTBEAT_TIMEOUT_MS: a turn of four such waits at a
    permit_timeout_ms over 5 s outlasted it, and the gate dropped a live client with every proposal it had queued."""
    from types import SimpleNamespace
    from actors.gate import Gate
    from actors.runtime import HEARTBEAT_TIMEOUT_MS
    from helpers import demo_topology_data, retarget
    from launcher.topology import validate_data
    data = retarget(demo_topology_data())
    data["actors"]["gate"].setdefault("settings", {})["permit_timeout_ms"] = permit_timeout_ms
    topo, problems = validate_data(data)
    assert not problems, problems
    gate = SimpleNamespace(topology=topo, name="gate", settings=topo.actor("gate").settings)
    longest_ms = topo.longest_turn_s("gate") * 1000
    assert longest_ms >= 4 * permit_timeout_ms
    assert Gate.heartbeat_timeout_ms(gate, "proposals") >= longest_ms + HEARTBEAT_TIMEOUT_MS
