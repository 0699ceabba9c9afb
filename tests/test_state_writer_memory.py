"""A state write keeps nothing: the writer's RSS climbs only while CPython's tuple free lists fill (docs/operating.md,
"Actors' memory"), which a full collection empties, so what tracemalloc still holds after one is what the writes
keep. Counted in updates against a real redis-server, never timed."""

from __future__ import annotations

import gc
import time
import tracemalloc

from actors.state_writer import write_state

WARM_UPDATES = 200  # the pool's connections and their reply buffers are made by the first
MEASURED_UPDATES = 2000
RETAINED_BYTES_PER_UPDATE = 16  # a state message kept per update would be about 1,000


def demo_state(ts: float) -> dict:
    """A ready state message shaped as the demo clusterer's: two clusters, gauges, realized vol."""
    clusters = [{"id": "c1", "symbols": ["BTCUSDT", "ETHUSDT"], "notional": 64000.0, "weight": 0.8,
                 "concentration": 0.8, "correlation": 0.86, "stress": 0.41},
                {"id": "c2", "symbols": ["SOLUSDT"], "notional": -6000.0, "weight": 0.2, "concentration": 0.2,
                 "correlation": 1.0, "stress": 0.05}]
    return {"v": 1, "ready": True, "reason": None, "ts": ts, "cluster_stress": 0.46, "newest_price_ts": ts - 0.2,
            "price_age_s": 0.2, "clusters": clusters,
            "realized_vol": {"BTCUSDT": 0.021, "ETHUSDT": 0.028, "SOLUSDT": 0.037},
            "gauges": {"corr_ready": 1, "symbols_in_matrix": 3, "clusters_count": 2}}


def write_updates(client, count: int) -> None:
    known: set[str] = set()
    for _ in range(count):
        message = demo_state(time.time())
        write_state(client, message, known, 1000)
        known = {c["id"] for c in message["clusters"]}


def test_a_state_write_keeps_no_memory_once_written(redis_server):
    client = redis_server.client()
    write_updates(client, WARM_UPDATES)
    gc.collect()
    tracemalloc.start()
    try:
        write_updates(client, MEASURED_UPDATES)
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert retained <= MEASURED_UPDATES * RETAINED_BYTES_PER_UPDATE, (
        f"{retained} bytes kept over {MEASURED_UPDATES} state writes after {WARM_UPDATES} "
        f"({retained / MEASURED_UPDATES:.0f} B an update)")
