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
