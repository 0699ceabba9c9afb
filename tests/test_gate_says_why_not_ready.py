"""A gate that cannot read Redis is not ready, and its log says so, naming the Redis it tried.
Found by an operator review (rev-operator): `clustergate up` with an unreachable Redis failed with
"not ready after 60 s: ... gate (not ready)" and printed the gate's log, which held only `starting`."""

from __future__ import annotations

from pathlib import Path

from helpers import ActorProcess, RedisServer, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology

READY = 'clustergate_actor_ready{actor="gate",kind="gate"}'


def test_a_gate_without_redis_logs_once_that_redis_is_unavailable_naming_it_and_once_that_it_is_back(tmp_path: Path) -> None:
    redis_port = free_port()
    data = retarget(demo_topology_data(), f"redis://127.0.0.1:{redis_port}/0")
    gate = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "gate").start()
    redis = RedisServer(tmp_path / "redis", port=redis_port)
    metrics_port = data["actors"]["gate"]["metrics_port"]
    try:
        wait_for(lambda: "event=redis_unavailable" in gate.log(), 20, f"the gate to log why it is not ready\n{gate.log()}")
        line = next(line for line in gate.log().splitlines() if "event=redis_unavailable" in line)
        assert f"redis=127.0.0.1:{redis_port}" in line, line
        assert scrape(metrics_port)[READY] == 0
        redis.start()
        wait_for(lambda: scrape(metrics_port)[READY] == 1, 20, f"the gate ready once Redis answers\n{gate.log()}")
        log = gate.log()
        assert log.count("event=redis_unavailable") == 1, log  # once per outage, not once per retry
        assert log.count("event=redis_available") == 1, log
    finally:
        gate.terminate()
        redis.stop()
