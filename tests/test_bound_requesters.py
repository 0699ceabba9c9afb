"""A REQ socket that binds (the gate's `permits`, the correlator's `snapshot`, with the server side
connecting to it) has no peer while that server is down, and a blocking send on it waits for one.
Found by an operator review (rev-operator): with the permit issuer stopped, the gate answered no
proposal at all and took supervisord's SIGKILL on stop; the correlator hung likewise at start."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

from helpers import SHUTDOWN_BOUND_S, ActorProcess, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable


def reversed_link_topology(tmp_path: Path, redis_url: str, client: tuple[str, str], server: tuple[str, str]) -> tuple[Path, dict]:
    """The demo with the REQ socket client=(actor, role) binding and server=(actor, role) connecting to it."""
    data = retarget(demo_topology_data(), redis_url)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    data["actors"][client[0]]["sockets"][client[1]] = {"bind": endpoint}
    data["actors"][server[0]]["sockets"][server[1]] = {"connect": endpoint}
    return write_topology(tmp_path / "topology.yaml", data), data


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
