"""The actors' redis-py client (launcher.redis_conn): one attempt per call, so an outage costs one timeout."""

from __future__ import annotations

import socket
import threading

import pytest
import redis

from launcher.redis_conn import connect
from launcher.topology import RedisConfig


def _silent_server() -> tuple[socket.socket, list[socket.socket]]:
    """A TCP listener on loopback that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return listener, accepted


def test_an_actors_redis_call_to_a_silent_server_is_tried_once_not_retried() -> None:
    listener, accepted = _silent_server()
    port = listener.getsockname()[1]
    try:
        client = connect(RedisConfig(url=f"redis://127.0.0.1:{port}/0", timeout_ms=100))
        with pytest.raises((redis.TimeoutError, redis.ConnectionError)):
            client.ping()
        client.close()
        assert len(accepted) == 1, f"{len(accepted)} connections for one call: redis-py retried it"
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
