"""A REQ socket that binds (the gate's `permits`, the correlator's `snapshot`, with the server side
connecting to it) has no peer while that server is down, and a blocking send on it waits for one.
Found by an operator review (rev-operator): with the permit issuer stopped, the gate answered no
proposal at all and took supervisord's SIGKILL on stop; the correlator hung likewise at start."""

from __future__ import annotations

import signal
import threading
import uuid
from pathlib import Path

from helpers import SHUTDOWN_BOUND_S, ActorProcess, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
import zmq

from actors.runtime import REBIND_WAIT_S, _bind
from launcher.client import GateClient, GateUnavailable


def reversed_link_topology(tmp_path: Path, redis_url: str, client: tuple[str, str], server: tuple[str, str]) -> tuple[Path, dict]:
    """The demo with the REQ socket client=(actor, role) binding and server=(actor, role) connecting to it."""
    data = retarget(demo_topology_data(), redis_url)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    data["actors"][client[0]]["sockets"][client[1]] = {"bind": endpoint}
    data["actors"][server[0]]["sockets"][server[1]] = {"connect": endpoint}
    return write_topology(tmp_path / "topology.yaml", data), data


def gate_and_issuer_deciding(path: Path, endpoint: str) -> tuple[ActorProcess, ActorProcess]:
    """The gate and its permit issuer of the topology at path, started, once a proposal to the gate is recorded."""
    gate = ActorProcess(path, "gate").start()
    issuer = ActorProcess(path, "permit_issuer").start()
    try:
        wait_for(lambda: propose(endpoint, uuid.uuid4().hex)["decision"]["recorded"], 20,
                 f"a recorded decision\n{gate.log()}\n{issuer.log()}")
    except BaseException:
        gate.terminate()
        issuer.terminate()
        raise
    return gate, issuer


def propose(endpoint: str, plan_id: str) -> dict:
    with GateClient(endpoint, timeout_ms=3000, retries=0) as gate:
        return gate.propose("ETHUSDT", "PARTIAL_50", plan_id=plan_id)


def test_a_gate_whose_bound_permits_socket_has_no_issuer_answers_hold_nothing_recorded_and_stops_on_sigterm(
        redis_server, tmp_path: Path) -> None:
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("gate", "permits"), ("permit_issuer", "requests"))
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    gate = ActorProcess(path, "gate").start()
    issuer = ActorProcess(path, "permit_issuer")
    try:
        wait_for(lambda: scrape(data["actors"]["gate"]["metrics_port"]), 20, f"the gate's metrics\n{gate.log()}")
        for attempt in ("no issuer yet", "issuer stopped"):
            plan = uuid.uuid4().hex
            try:
                reply = propose(endpoint, plan)
            except GateUnavailable:
                raise AssertionError(f"{attempt}: the gate did not answer\n{gate.log()}") from None
            decision = reply["decision"]
            assert (decision["final_action"], decision["gate_reason"], decision["recorded"], decision["permit"]) == (
                "HOLD", "permit_unavailable", False, False), (attempt, reply)
            assert "nothing was recorded" in decision["detail"], (attempt, reply)
            if attempt == "no issuer yet":
                issuer.start()
                wait_for(lambda: propose(endpoint, uuid.uuid4().hex)["decision"]["recorded"], 20,
                         f"a recorded decision once the issuer connects\n{issuer.log()}")
                issuer.terminate()
        gate.proc.send_signal(signal.SIGTERM)
        assert gate.proc.wait(timeout=SHUTDOWN_BOUND_S) == 0, gate.log()
    finally:
        gate.terminate()
        issuer.terminate()


def test_a_correlator_whose_bound_snapshot_socket_has_no_buffer_keeps_running_and_stops_on_sigterm(
        redis_server, tmp_path: Path) -> None:
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("correlator", "snapshot"), ("buffer", "snapshot"))
    port = data["actors"]["correlator"]["metrics_port"]
    correlator = ActorProcess(path, "correlator").start()
    try:
        wait_for(lambda: scrape(port).get('p27_fail_closed_total{reason="snapshot_timeout"}', 0) >= 1, 20,
                 f"the correlator to give up a snapshot request no buffer can receive\n{correlator.log()}")
        correlator.proc.send_signal(signal.SIGTERM)
        assert correlator.proc.wait(timeout=SHUTDOWN_BOUND_S) == 0, correlator.log()
    finally:
        correlator.terminate()


def test_a_gate_whose_bound_permits_socket_was_recreated_after_a_timeout_records_the_next_proposals(
        redis_server, tmp_path: Path) -> None:
    """Found by rev-merged: after one timed-out request the gate re-creates its REQ socket, which re-binds
    (Address already in use while libzmq still closes the old listener: internal_error from then on) and has
    no issuer until the issuer reconnects; every proposal meanwhile got HOLD "no permit issuer is connected"
    although the issuer was healthy. The gate now re-binds once the port is free and waits for the issuer
    (until the request's own deadline) before it says none is connected."""
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("gate", "permits"), ("permit_issuer", "requests"))
    data["actors"]["gate"]["settings"]["permit_timeout_ms"] = 2000  # the issuer's 100 ms reconnect, on a loaded box
    write_topology(path, data)
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    gate, issuer = gate_and_issuer_deciding(path, endpoint)
    try:
        for cycle in range(3):  # each cycle re-creates (re-binds) the gate's permits socket once
            issuer.proc.send_signal(signal.SIGSTOP)
            try:
                timed_out = propose(endpoint, uuid.uuid4().hex)["decision"]
            finally:
                issuer.proc.send_signal(signal.SIGCONT)
            assert (timed_out["gate_reason"], timed_out["recorded"]) == ("permit_unavailable", False), timed_out
            assert "outcome unknown" in timed_out["detail"], timed_out
            for n in range(5):
                reply = propose(endpoint, uuid.uuid4().hex)
                assert reply.get("status") == "ok" and reply["decision"]["recorded"], (
                    f"cycle {cycle}, proposal {n} after the timeout, the issuer running: {reply}\n{gate.log()[-3000:]}")
    finally:
        issuer.proc.send_signal(signal.SIGCONT)
        gate.terminate()
        issuer.terminate()


def test_a_correlator_whose_bound_snapshot_socket_gets_the_running_buffers_snapshot(redis_server, tmp_path: Path) -> None:
    """Found by rev-merged: the request was sent the instant the socket (re-)bound, before any buffer could
    connect, so every attempt went unsent and a correlator never got the snapshot a warm restart relies on."""
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("correlator", "snapshot"), ("buffer", "snapshot"))
    data["clusters"]["cadence_s"] = 60  # no window within the test: only the snapshot can reach the correlator
    data["actors"]["gate"]["settings"].pop("freshness_s")  # the demo's is shorter than this cadence
    write_topology(path, data)
    buffer = ActorProcess(path, "buffer").start()
    correlator = ActorProcess(path, "correlator").start()
    try:
        wait_for(lambda: "event=snapshot_received" in correlator.log(), 20,
                 f"the correlator to receive the buffer's snapshot\n{correlator.log()}\n{buffer.log()}")
        assert "handler_error" not in correlator.log(), correlator.log()
    finally:
        correlator.terminate()
        buffer.terminate()


def test_a_re_created_socket_binds_the_endpoint_its_closed_predecessor_still_holds_for_a_moment() -> None:
    """libzmq closes a listener in its I/O thread after close() returns, so the re-bind of a re-created
    REQ found the port in use (rev-merged): the gate answered internal_error to every proposal from then on."""
    ctx = zmq.Context()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    holder, successor = ctx.socket(zmq.REQ), ctx.socket(zmq.REQ)
    holder.bind(endpoint)
    release = threading.Timer(0.05, holder.close, kwargs={"linger": 0})  # the old socket lets go a moment later
    release.start()
    try:
        _bind("permits", successor, endpoint, REBIND_WAIT_S)
    finally:
        release.join()
        successor.close(linger=0)
        ctx.term()


def test_a_reply_to_a_request_the_gate_gave_up_on_is_not_taken_for_the_next_requests(redis_server, tmp_path: Path) -> None:
    """An issuer that connects to a `permits` socket that binds keeps its queue across the gate's re-bind, so
    its late reply to a request the gate gave up on can reach the re-opened socket while the gate waits for
    the reply to its next request; the gate took it for that reply (off by one from then on: a proposal told
    recorded by another's reply; reproduced by rev-merged with real processes). The peer here is a ROUTER
    standing where the issuer is, so the test says when each reply goes: the late one after the next request."""
    from actors.wire import decode_internal, encode_internal
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("gate", "permits"), ("permit_issuer", "requests"))
    data["actors"]["gate"]["settings"]["permit_timeout_ms"] = 500
    write_topology(path, data)
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    gate = ActorProcess(path, "gate").start()
    # Started before the first proposal is sent: the client gives up after 3 s, and a start took longer than that
    # under a load average of 15 ("the gate sent no request").
    wait_for(lambda: scrape(data["actors"]["gate"]["metrics_port"]), 20, f"the gate's metrics\n{gate.log()}")
    ctx = zmq.Context()
    issuer = ctx.socket(zmq.ROUTER)
    issuer.setsockopt(zmq.LINGER, 0)
    issuer.connect(data["actors"]["gate"]["sockets"]["permits"]["bind"])
    replies: dict[str, dict] = {}

    def ask(name: str) -> threading.Thread:
        thread = threading.Thread(target=lambda: replies.__setitem__(name, propose(endpoint, uuid.uuid4().hex)))
        thread.start()
        return thread

    def request() -> tuple[list[bytes], dict]:
        """The next request: (its envelope, routing id first, up to the empty frame; its body)."""
        assert issuer.poll(20_000), f"the gate sent no request\n{gate.log()}"
        frames = issuer.recv_multipart()
        return frames[:-1], decode_internal(frames[-1])

    try:
        first = ask("first")
        first_envelope, first_request = request()
        first.join(20)  # the gate gives up on it (permit_timeout_ms) and re-opens its socket
        assert replies["first"]["decision"]["recorded"] is False, replies["first"]
        second = ask("second")
        second_envelope, _ = request()  # the gate waits for this one's reply
        # The late reply to the first request, on the re-opened socket's connection (as a REP whose queue
        # outlived the reconnect sends it): every decision written, with a permit.
        issuer.send_multipart([second_envelope[0], *first_envelope[1:], encode_internal({"status": "ok", "results": [
            {"status": "ok", "written": True, "permit_issued": True} for _ in first_request["decisions"]]})])
        issuer.send_multipart([*second_envelope, encode_internal(
            {"status": "error", "reason": "bad_request", "detail": "refused by the test"})])
        second.join(20)
        decision = replies["second"]["decision"]
        assert decision["recorded"] is False and not decision["permit"] and "bad_request" in decision["detail"], (
            f"the second proposal was answered with the reply to the first request: {decision}")
    finally:
        issuer.close(linger=0)
        ctx.term()
        gate.terminate()


def test_a_gate_that_cannot_re_open_its_bound_permits_socket_holds_and_recovers_once_it_can(
        redis_server, tmp_path: Path) -> None:
    """After a timeout the gate re-creates its `permits` socket; when the re-bind fails (here: the ipc
    socket's directory is gone; in the field: another process took the port), it answered internal_error
    to that proposal and to every one after it, until restarted (rev-merged left it). Now each proposal
    meanwhile gets a HOLD that says nothing was recorded, the gate tries the socket again at the next one,
    and decides as before once the endpoint can be bound."""
    sock_dir = tmp_path / "permits"
    sock_dir.mkdir()
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("gate", "permits"), ("permit_issuer", "requests"))
    endpoint_ipc = f"ipc://{sock_dir}/permits.sock"
    data["actors"]["gate"]["sockets"]["permits"] = {"bind": endpoint_ipc}
    data["actors"]["permit_issuer"]["sockets"]["requests"] = {"connect": endpoint_ipc}
    data["actors"]["gate"]["settings"]["permit_timeout_ms"] = 500
    write_topology(path, data)
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    gate, issuer = gate_and_issuer_deciding(path, endpoint)
    try:
        (sock_dir / "permits.sock").unlink()
        sock_dir.rmdir()
        issuer.proc.send_signal(signal.SIGSTOP)
        try:
            timed_out = propose(endpoint, uuid.uuid4().hex)  # times out; the re-open finds no directory
        finally:
            issuer.proc.send_signal(signal.SIGCONT)
        assert timed_out.get("status") == "ok" and timed_out["decision"]["recorded"] is False, timed_out
        for _ in range(2):
            held = propose(endpoint, uuid.uuid4().hex)
            assert held.get("status") == "ok", f"{held}\n{gate.log()[-2000:]}"
            assert held["decision"]["recorded"] is False and "nothing was recorded" in held["decision"]["detail"], held
        assert "permit_socket_unavailable" in gate.log(), gate.log()[-2000:]
        sock_dir.mkdir()
        wait_for(lambda: propose(endpoint, uuid.uuid4().hex)["decision"]["recorded"], 20,
                 f"a recorded decision once the endpoint can be bound again\n{gate.log()[-2000:]}\n{issuer.log()[-2000:]}")
    finally:
        issuer.proc.send_signal(signal.SIGCONT)
        gate.terminate()
        issuer.terminate()
