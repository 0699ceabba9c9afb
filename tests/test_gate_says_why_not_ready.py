"""A gate that cannot read Redis is not ready, and its log says so, naming the Redis it tried.
Found by an operator review (rev-operator): `clustergate up` with an unreachable Redis failed with
"not ready after 60 s: ... gate (not ready)" and printed the gate's log, which held only `starting`."""

from __future__ import annotations

import socket
from pathlib import Path

from helpers import ActorProcess, RedisServer, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from test_sentinel_failover import NotASentinel

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


class LoadingRedis(NotASentinel):
    """A server speaking RESP that answers every command as a redis-server does while it loads its data after a
    restart (an AOF of a few GB takes tens of seconds): the error LOADING, one per command of a pipeline."""

    def __init__(self) -> None:
        super().__init__(b"-LOADING Redis is loading the dataset in memory\r\n")
        self.port = self.listener.getsockname()[1]

    def _answer(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                commands, buffer = complete_commands(buffer + data)
                conn.sendall(self.reply * commands)


def complete_commands(buffer: bytes) -> tuple[int, bytes]:
    """(how many whole RESP commands `buffer` starts with, what follows them)."""
    count = 0
    while True:
        at = 0
        end = buffer.find(b"\r\n", at)
        if not buffer.startswith(b"*") or end < 0:
            return count, buffer
        args, at = int(buffer[1:end]), end + 2
        for _ in range(args):
            end = buffer.find(b"\r\n", at)
            if end < 0:
                return count, buffer
            at = end + 2 + int(buffer[at + 1:end]) + 2
            if at > len(buffer):
                return count, buffer
        count, buffer = count + 1, buffer[at:]


def test_a_redis_loading_its_data_after_a_restart_is_not_logged_as_keys_of_another_type_to_delete(tmp_path: Path) -> None:
    """Found by a soak (rev-soak): each of three restarts of the managed Redis under load logged `state_key_unreadable`,
    "a key the gate reads holds another type ...: delete it", for the cluster state and every position snapshot, while
    Redis was only loading its data (LOADING) and every key had its own type."""
    redis = LoadingRedis()
    data = retarget(demo_topology_data(), f"redis://127.0.0.1:{redis.port}/0")
    gate = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "gate").start()
    try:
        wait_for(lambda: "LOADING" in gate.log(), 20, f"the gate to log that Redis is loading\n{gate.log()}")
        log = gate.log()
        assert "event=state_key_unreadable" not in log, log
        assert "delete it" not in log, log
        assert scrape(data["actors"]["gate"]["metrics_port"])[READY] == 0, log
    finally:
        gate.terminate()
        redis.close()


def test_snapshot_ages_keep_growing_while_the_gate_cannot_read_redis(tmp_path: Path) -> None:
    """Redis down: p26_snapshot_age_seconds froze at its last value (1.8 s through a 16 s outage, reproduced with a
    SIGSTOPped Redis), so P26SnapshotsStale (max >= 300) could never fire however long the gate saw no snapshot. The
    ages of the snapshots the gate last read keep growing with the clock."""
    from test_gate_service import write_book

    redis = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), redis.url)
    gate = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "gate").start()
    metrics_port = data["actors"]["gate"]["metrics_port"]

    def oldest_age() -> float | None:
        ages = [v for k, v in scrape(metrics_port).items() if k.startswith("p26_snapshot_age_seconds{")]
        return max(ages) if ages else None

    try:
        write_book(redis.client())
        wait_for(lambda: oldest_age() is not None and scrape(metrics_port)[READY] == 1, 20, "the gate ready with ages")
        redis.stop()
        wait_for(lambda: scrape(metrics_port)[READY] == 0, 20, "the gate not ready without Redis")
        seen = oldest_age()
        assert seen is not None
        wait_for(lambda: (oldest_age() or 0) > seen + 2, 15, f"the snapshot ages to grow past {seen:.1f} + 2 s")
    finally:
        gate.terminate()
        redis.stop()


def test_the_gate_is_ready_again_soon_after_redis_finishes_loading_not_at_its_next_refresh_s_retry(tmp_path: Path) -> None:
    """A Redis answering LOADING answers at once: the gate, not ready while it loads, waited its whole refresh_s retry
    (for a Redis that does not answer: each try may wait out the timeout) before it read again, staying not ready that
    long after the load ended (1.4 s of 2 s by default; here refresh_s is 3600). Reproduced with a real redis-server
    loading a full sync from another as its replica (slowed by key-load-delay)."""
    source = RedisServer(tmp_path / "source").start()
    redis = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), redis.url)
    data["actors"]["gate"]["settings"] = {**(data["actors"]["gate"].get("settings") or {}), "refresh_s": 3600}
    gate = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "gate").start()
    metrics_port = data["actors"]["gate"]["metrics_port"]
    try:
        wait_for(lambda: scrape(metrics_port).get(READY) == 1, 20, f"the gate ready\n{gate.log()}")
        pipe = source.client().pipeline(transaction=False)
        for i in range(20_000):
            pipe.set(f"filler:{i}", "x")
        pipe.execute()
        r = redis.client()
        r.config_set("repl-diskless-load", "disabled")
        r.config_set("key-load-delay", "200")  # microseconds per key: a load of about 4 s
        r.config_set("loading-process-events-interval-bytes", "1024")  # ... answering LOADING meanwhile
        r.replicaof("127.0.0.1", source.port)
        wait_for(lambda: "LOADING" in gate.log(), 30, f"the gate to see Redis loading\n{gate.log()}")
        assert scrape(metrics_port)[READY] == 0
        wait_for(lambda: r.info("replication").get("master_link_status") == "up", 60, "the load to end")
        wait_for(lambda: scrape(metrics_port).get(READY) == 1, 10, f"the gate ready again\n{gate.log()}")
    finally:
        gate.terminate()
        redis.stop()
        source.stop()


def test_a_gate_that_cannot_read_redis_does_not_say_it_takes_k_from_the_cluster(tmp_path: Path) -> None:
    """Redis stopped under a running demo (rev-fallback): p26_cluster_stress_used stayed 1 through the outage, so
    `clustergate status` printed `cluster state: unknown, Redis unavailable` above `gate K from: cluster`, while every
    decision was a fault HOLD whose reply said k_source proxy. With no read of the cluster state, K comes from no
    fresh cluster state: the gauge reads 0, and 1 again once the gate reads a fresh state."""
    from test_gate_service import write_book, write_cluster_state

    redis = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), redis.url)
    data["actors"]["gate"]["settings"] = {**(data["actors"]["gate"].get("settings") or {}), "freshness_s": 3600}
    gate = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "gate").start()
    metrics_port = data["actors"]["gate"]["metrics_port"]
    used = "p26_cluster_stress_used"
    try:
        write_book(redis.client())
        write_cluster_state(redis.client(), 0.5)
        wait_for(lambda: scrape(metrics_port).get(used) == 1 and scrape(metrics_port)[READY] == 1, 20,
                 "the gate ready, taking K from the cluster")
        redis.stop()
        wait_for(lambda: scrape(metrics_port)[READY] == 0, 20, "the gate not ready without Redis")
        wait_for(lambda: scrape(metrics_port).get(used) == 0, 10, f"{used} 0 while the gate cannot read Redis")
        redis.start()
        write_book(redis.client())
        write_cluster_state(redis.client(), 0.5)
        wait_for(lambda: scrape(metrics_port).get(used) == 1 and scrape(metrics_port)[READY] == 1, 20,
                 f"{used} 1 again once the gate reads a fresh state")
    finally:
        gate.terminate()
        redis.stop()


def test_a_fault_hold_made_without_a_read_of_the_state_claims_no_k_source_and_no_metrics(tmp_path: Path) -> None:
    """Redis down (rev-fallback): the gate answered HOLD redis_unavailable with stress 0.0, heat 0.0, K 0.0 and
    k_source "proxy", numbers it never computed and a side it never took K from (docs/proposal-api.md: a metric that
    cannot be computed is null). Nothing was read, so each is null."""
    from launcher.client import GateClient

    data = retarget(demo_topology_data(), f"redis://127.0.0.1:{free_port()}/0")
    gate = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "gate").start()
    client = GateClient(data["actors"]["gate"]["sockets"]["proposals"]["bind"], timeout_ms=3000, retries=3)
    try:
        gate.wait_serving(data["actors"]["gate"]["metrics_port"])
        decision = client.propose("ETHUSDT", "PARTIAL_50", plan_id="fault-hold-1")["decision"]
        assert (decision["final_action"], decision["gate_reason"], decision["recorded"]) == (
            "HOLD", "redis_unavailable", False), decision
        assert {name: decision[name] for name in ("stress", "heat", "concentration", "corr_proxy", "K", "k_source")} == {
            "stress": None, "heat": None, "concentration": None, "corr_proxy": None, "K": None, "k_source": None}, decision
    finally:
        client.close()
        gate.terminate()


def test_status_says_a_gate_that_cannot_read_redis_takes_k_from_nowhere_not_from_the_proxy(tmp_path: Path) -> None:
    """opday: Redis stopped under a running demo (`supervisorctl stop redis`), `clustergate status` showed the gate
    READY no above `gate K from: proxy   fallbacks so far: 0`, while every decision was the fault HOLD
    redis_unavailable with K and k_source null: the gate took K from nowhere (its gauge reads 0 without a state read)."""
    from launcher.overview import collect_overview, render_overview
    from launcher.topology import load_topology

    data = retarget(demo_topology_data(), f"redis://127.0.0.1:{free_port()}/0")
    path = write_topology(tmp_path / "topology.yaml", data)
    gate = ActorProcess(path, "gate").start()
    try:
        gate.wait_serving(data["actors"]["gate"]["metrics_port"])
        topo = load_topology(path)
        wait_for(lambda: (collect_overview(topo).get("gates") or [{}])[0].get("ready") is False, 20,
                 "the gate not ready without Redis")
        shown = render_overview(topo, collect_overview(topo))
    finally:
        gate.terminate()
    assert "gate K from: proxy" not in shown, shown
    assert "gate K from: none (gate not ready)   fallbacks so far: 0" in shown, shown
