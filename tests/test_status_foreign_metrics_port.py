"""`clustergate status` and `up` read each actor's metrics port: whatever answers there must not crash them."""

from __future__ import annotations

import socket
import threading

import pytest

from helpers import demo_topology_data, retarget, write_topology
from launcher.overview import collect_overview
from launcher.supervise import actor_ready
from launcher.topology import load_topology


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.0 200 OK\r\n\r\n\xff\xfe not UTF-8\n"])
def test_a_metrics_port_answered_by_something_else_reads_as_no_metrics_not_a_traceback(tmp_path, answer) -> None:
    """An actor that died and whose metrics port another service took (a banner, not HTTP): `clustergate status`
    crashed with http.client.BadStatusLine (or UnicodeDecodeError) and printed no table; the actor reads as
    READY ? (no metrics), as for a port nobody answers."""
    data = retarget(demo_topology_data(), "redis://127.0.0.1:1/0")
    server = socket.create_server(("127.0.0.1", data["actors"]["gate"]["metrics_port"]))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        topo = load_topology(write_topology(tmp_path / "t.yaml", data))
        assert actor_ready(topo, "gate") is None
        assert collect_overview(topo)["k_source"] is None
    finally:
        server.close()


def test_another_actors_metrics_on_an_actors_port_are_not_taken_for_its_readiness(tmp_path, redis_server) -> None:
    """`up` and `status` read an actor's readiness from whatever answered on its metrics port: another clustergate
    actor there (left running by another home or topology) made a gate that never started read ready (`up` would end
    "all ready"). A real permit issuer, ready, on the port this topology gives its gate: the gate reads no metrics."""
    from helpers import ActorProcess, scrape, wait_for
    data = retarget(demo_topology_data(), redis_server.url)
    issuer_path = write_topology(tmp_path / "issuer.yaml", data)
    issuer = ActorProcess(issuer_path, "permit_issuer", kind="permit_issuer", log_dir=tmp_path)
    port = data["actors"]["permit_issuer"]["metrics_port"]
    try:
        issuer.start()
        wait_for(lambda: scrape(port).get('clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}') == 1.0,
                 20, "the permit issuer ready")
        elsewhere = retarget(demo_topology_data(), redis_server.url)
        elsewhere["actors"]["gate"]["metrics_port"] = port  # this topology's gate, never started, on the issuer's port
        topo = load_topology(write_topology(tmp_path / "gate.yaml", elsewhere))
        assert actor_ready(topo, "gate") is None
        assert actor_ready(load_topology(issuer_path), "permit_issuer") is True
    finally:
        issuer.terminate()
