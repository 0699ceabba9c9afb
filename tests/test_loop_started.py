"""clustergate_actor_loop_started_timestamp_seconds: 0 while the actor's setup runs, then when its main loop began.
`proof warm-restart` times p27_corr_ready from it (loadflaky); a scrape during setup must read 0, not a time."""

from __future__ import annotations

import threading
import time

from feed_helpers import metric
from helpers import ActorProcess, TcpProxy, demo_topology_data, retarget, wait_for, write_topology

LOOP_STARTED = "clustergate_actor_loop_started_timestamp_seconds"
STARTED = "clustergate_actor_started_timestamp_seconds"


class HeldRedis(TcpProxy):
    """A real TCP proxy in front of a real Redis that holds every reply until `release` is set."""

    def __init__(self, upstream_port: int):
        self.release = threading.Event()
        super().__init__(upstream_port)

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if not to_upstream:
            self.release.wait(60)
        return data


def test_the_loop_start_is_0_while_setup_waits_and_is_taken_after_setup_ends(tmp_path, redis_server) -> None:
    """revloadflaky: a real buffer whose setup reads its saved history from a real Redis whose replies a real proxy
    holds. While held, the buffer serves /metrics (its process start set) and its loop start reads 0; released, the
    loop start is at or after the release (by the same host clock). Setting it at the process start (never 0, before
    setup) passed the only test of it, which asked for a time after the process start."""
    proxy = HeldRedis(redis_server.port)
    data = retarget(demo_topology_data(), f"redis://127.0.0.1:{proxy.port}/0")
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer")}  # the feed not started
    data["redis"]["timeout_ms"] = 30000  # the held reply must not time out: setup waits for it
    path = write_topology(tmp_path / "topology.yaml", data)
    port = data["actors"]["buffer"]["metrics_port"]
    buffer = ActorProcess(path, "buffer").start()
    try:
        try:
            wait_for(lambda: proxy.accepted and metric(port, STARTED, actor="buffer") > 0, 20,
                     "the buffer serving /metrics, its setup waiting on Redis")
        except AssertionError:
            raise AssertionError(buffer.log()) from None
        assert metric(port, LOOP_STARTED, actor="buffer") == 0, buffer.log()
        assert "event=buffer_ready" not in buffer.log(), buffer.log()  # still in setup
        released = time.time()
        proxy.release.set()
        wait_for(lambda: metric(port, LOOP_STARTED, actor="buffer") > 0, 20, f"the buffer's loop\n{buffer.log()}")
        assert metric(port, LOOP_STARTED, actor="buffer") >= released, buffer.log()
    finally:
        proxy.release.set()
        buffer.terminate()
        proxy.close()
