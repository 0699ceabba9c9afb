"""Cluster-side review (revclus): defects found attacking the cluster side and its fallback, each reproduced
first against real processes (redis-server, actors) or on the pure functions."""

from __future__ import annotations

import time

import pytest
import redis

from launcher.redis_conn import connect
from launcher.topology import RedisConfig


def test_a_redis_that_stops_answering_a_state_write_is_redis_unavailable_not_another_writer(redis_server):
    """redis-py turns a timeout (or a dropped connection) while the transaction WATCHes into a WatchError. The state
    writer took it for another writer's change: on a running demo under `CLIENT PAUSE 6000 WRITE`, every state was
    logged `state_not_written reason="another writer changed the clusters hash every attempt"` with no other writer,
    counted write_conflict (redis_unavailable stayed 0), the writer stayed ready, and each state cost WRITE_ATTEMPTS
    timeouts (5 x 250 ms). A Redis that does not answer is redis_unavailable, after one timeout."""
    from actors.state_writer import write_state
    from test_clusters_end_to_end import state_with

    writer = connect(RedisConfig(url=redis_server.url, timeout_ms=200))
    control = redis_server.client()
    write_state(writer, state_with([["BTCUSDT", "ETHUSDT"]], 1_800_000_000.0), set(), 1000)
    control.execute_command("CLIENT", "PAUSE", 5000, "WRITE")  # reads answer, the EXEC waits past the timeout
    try:
        started = time.monotonic()
        with pytest.raises(redis.RedisError) as raised:
            write_state(writer, state_with([["BTCUSDT", "SOLUSDT"]], 1_800_000_060.0), set(), 1000)
        took_s = time.monotonic() - started
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
    assert not isinstance(raised.value, redis.WatchError), raised.value
    assert isinstance(raised.value, (redis.ConnectionError, redis.TimeoutError)), raised.value
    assert took_s < 2 * 0.2 + 0.3, f"{took_s:.2f} s: more than one timeout"
