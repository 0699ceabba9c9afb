"""P2.7 end to end: real redis-server, real actor processes, real ZeroMQ; ticks and position
snapshots are driven from the test, so no price_feed or book is needed."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import zmq

from launcher import keys
from actors.wire import Tick, heartbeat_frames
from helpers import ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology

CADENCE_S = 0.5
P27_ACTORS = ("buffer", "correlator", "clusterer", "state_writer")
POSITIONS = {"BTCUSDT": 0.5, "ETHUSDT": 8.0}  # SOLUSDT is not held
# BTC's and ETH's own noise around the common factor (sd 0.01 a tick): they correlate 0.99. At 0.003 (0.92) a state
# from the fewest returns split them often enough to fail a run: 7.5% of 5-return windows fall below SPEC's 0.70, 4% of
# 7, 1.9% of 10; test_corr_becomes_ready_... reads one state after about 7 and asserts its stress is above 0 (about 0.5%
# of runs by a simulation of this feed). At 0.001: 0.17% of 5-return windows, 0.014% of 7, none of 10.
IDIO_SD = 0.001


class TickFeed:
    """Publishes correlated prices for the topology's symbols and keeps position snapshots fresh."""

    def __init__(self, endpoint: str, redis_client, interval_s: float = 0.05):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.redis = redis_client
        self.interval_s = interval_s
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.prices = {"BTCUSDT": 64000.0, "ETHUSDT": 3400.0, "SOLUSDT": 150.0}
        self.ticking = threading.Event()  # cleared: no more price ticks, snapshots kept fresh
        self.ticking.set()
        self.silenced: set[str] = set()  # symbols whose ticks stop while the others keep ticking
        self.ts_offset_s = 0.0  # added to every tick's timestamp: the feed host's clock off the buffer's

    def start(self) -> "TickFeed":
        self.thread.start()
        return self

    def run(self) -> None:
        rng = np.random.default_rng(11)
        seq = 0
        while not self.stop_event.is_set():
            market = rng.normal(0, 0.01)
            for symbol in self.prices:
                beta = 0.0 if symbol == "SOLUSDT" else 1.0
                self.prices[symbol] *= math.exp(beta * market + rng.normal(0, IDIO_SD if beta else 0.01))
                seq += 1
                if self.ticking.is_set() and symbol not in self.silenced:
                    self.sock.send_multipart(Tick(symbol, self.prices[symbol], time.time() + self.ts_offset_s,
                                                  seq).frames())
            self.sock.send_multipart([b"tick.BTCUSDT", b"not json"])        # counted, never used
            self.sock.send_multipart(Tick("DOGEUSDT", 0.1, time.time(), seq).frames())  # not in the allowlist
            self.sock.send_multipart(heartbeat_frames(time.time(), seq))
            now = int(time.time())
            for symbol, amt in POSITIONS.items():
                self.redis.hset(keys.position_snapshot(symbol), mapping={
                    "position_amt": amt, "mark_price": self.prices[symbol], "ts_epoch": now})
            self.stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def system(tmp_path: Path, redis_server):
    yield from p27_system(tmp_path, redis_server)


@pytest.fixture
def system_before_prices(tmp_path: Path, redis_server):
    """As `system`, but the feed sends no price ticks (snapshots kept fresh) until the test sets
    system["feed"].ticking: every window has too few symbols until then, however late each actor starts."""
    yield from p27_system(tmp_path, redis_server, ticking=False)


def p27_system(tmp_path: Path, redis_server, ticking: bool = True):
    data = retarget(demo_topology_data(), redis_server.url)
    data["clusters"].update({"cadence_s": CADENCE_S, "lookback_returns": 30, "min_returns": 5})
    topo_path = write_topology(tmp_path / "topology.yaml", data)
    feed = TickFeed(data["actors"]["price_feed"]["sockets"]["ticks"]["bind"], redis_server.client())
    if not ticking:
        feed.ticking.clear()
    feed.start()
    procs = {name: ActorProcess(topo_path, name).start() for name in P27_ACTORS}
    ports = {name: data["actors"][name]["metrics_port"] for name in P27_ACTORS}
    yield {"procs": procs, "ports": ports, "topo_path": topo_path, "redis": redis_server.client(), "data": data,
           "feed": feed}
    for proc in procs.values():
        proc.terminate()
    feed.stop()
    for name, proc in procs.items():
        if proc.proc is not None and proc.proc.returncode not in (0, None):
            print(f"--- {name} log ---\n{proc.log()}")


def corr_ready(port: int) -> bool:
    return scrape(port).get("p27_corr_ready") == 1.0


def fresh_state(r, after_ts: int = -1) -> dict | None:
    """The cluster state when its updated_ts is within the freshness window (and later than after_ts)."""
    state = r.hgetall(keys.CLUSTER_STATE)
    updated = int(state["updated_ts"]) if state else None
    if updated is not None and after_ts < updated and 0 <= time.time() - updated <= 2 * CADENCE_S + 1:
        return state
    return None


def fresh_realized_vol(r, after_ts: int = -1) -> dict | None:
    """The realized-vol hash without its updated_ts (and updated_ts_ms), when that is within the freshness
    window (and later than after_ts)."""
    vol = r.hgetall(keys.REALIZED_VOL)
    updated = vol.pop(keys.REALIZED_VOL_UPDATED_TS, None)
    vol.pop(keys.REALIZED_VOL_UPDATED_TS_MS, None)
    if updated is not None and 0 <= time.time() - int(updated) <= 2 * CADENCE_S + 1 and int(updated) > after_ts:
        return vol
    return None


def assert_state_consistent(r) -> None:
    """The clusters hash and the per-cluster hashes agree, with no stale ids (one MULTI/EXEC)."""
    with r.pipeline(transaction=True) as pipe:
        pipe.hgetall(keys.CLUSTER_STATE)
        pipe.hgetall(keys.CLUSTERS)
        pipe.keys(keys.cluster_state_pattern())
        state, clusters, per_cluster_keys = pipe.execute()
    ids = set(clusters)
    assert int(state["clusters_count"]) == len(ids)
    assert {k[len(keys.cluster_state_of("")):] for k in per_cluster_keys} == ids
    total = 0.0
    for cid, symbols_json in clusters.items():
        row = r.hgetall(keys.cluster_state_of(cid))
        assert json.loads(row["symbols"]) == json.loads(symbols_json)
        total += float(row["stress"])
    assert float(state["cluster_stress"]) == pytest.approx(min(total, 1.0), abs=1e-9)


def test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent(system):
    sw_port, r = system["ports"]["state_writer"], system["redis"]
    wait_for(lambda: corr_ready(sw_port), 30, "p27_corr_ready 1 on the state writer")
    first = wait_for(lambda: fresh_state(r), 10, "fresh quantum:portfolio:cluster_state")
    wait_for(lambda: scrape(sw_port).get("p27_updates_total", 0) >= 3, 10, "three state updates")
    assert_state_consistent(r)
    # BTC and ETH move together and are both long: once a few returns exist, one cluster holds them.
    wait_for(lambda: any({"BTCUSDT", "ETHUSDT"} <= set(json.loads(m)) for m in r.hgetall(keys.CLUSTERS).values()),
             10, "BTCUSDT and ETHUSDT in one cluster")
    # Polled: a state read just before the next write (updated_ts in whole seconds, a late write on a loaded
    # box) can be older than the window; the writer keeps it fresh, so a fresh one comes within the deadline.
    # Later than the first one seen, and so is the realized vol's: both are renewed, not stamped once.
    after_ts = int(first["updated_ts"])
    state = wait_for(lambda: fresh_state(r, after_ts), 10, "a fresh cluster state written after the first")
    assert int(state["clusters_count"]) >= 1
    assert 0 < float(state["cluster_stress"]) <= 1
    assert 0 <= float(state["price_age_s"]) <= 2 * CADENCE_S + 1  # the age of its newest input price
    vol = wait_for(lambda: fresh_realized_vol(r, after_ts), 10, "fresh realized vol written after the first state")
    assert set(vol) >= {"BTCUSDT", "ETHUSDT"} and all(float(v) > 0 for v in vol.values())
    assert r.xlen(keys.CLUSTER_STATE_STREAM) >= 1
    metrics = scrape(sw_port)
    assert metrics["p27_symbols_in_matrix"] == 3
    # Every p27_* series SPEC names, on the state writer (8048 in production).
    for name in ("p27_clusters_count", "p27_cluster_stress_sum", "p27_cluster_stress_max",
                 'p27_points_per_symbol{symbol="SOLUSDT"}'):
        assert name in metrics, name
    assert metrics["p27_clusters_count"] >= 1 and 0 < metrics["p27_cluster_stress_sum"] <= 1
    assert metrics["p27_min_points_per_symbol"] > 0
    assert metrics['p27_fail_closed_total{reason="redis_unavailable"}'] == 0
    buffer_metrics = scrape(system["ports"]["buffer"])
    assert buffer_metrics['p27_buffer_rejected_ticks_total{reason="bad_frame"}'] > 0
    assert buffer_metrics['p27_buffer_rejected_ticks_total{reason="unknown_symbol"}'] > 0
    assert buffer_metrics["p27_buffer_min_points_per_symbol"] > 0
    # While the matrix stays ready, p27_corr_ready_since_timestamp_seconds is the time it went ready (the warm-restart
    # proof times readiness by it), not the latest window's; p27_last_update_timestamp_seconds is each write's.
    corr_port = system["ports"]["correlator"]
    since = scrape(corr_port)["p27_corr_ready_since_timestamp_seconds"]
    updates, last_write = metrics["p27_updates_total"], metrics["p27_last_update_timestamp_seconds"]
    wait_for(lambda: scrape(sw_port)["p27_updates_total"] >= updates + 4, 10, "four more state updates (2 s)")
    corr_later = scrape(corr_port)
    assert corr_later["p27_corr_ready"] == 1 and 0 < since == corr_later["p27_corr_ready_since_timestamp_seconds"], (
        since, corr_later["p27_corr_ready_since_timestamp_seconds"])
    assert scrape(sw_port)["p27_last_update_timestamp_seconds"] > last_write > 0


def test_each_p27_contract_series_has_one_meaning(system_before_prices):
    system = system_before_prices
    ports = system["ports"]
    reason = 'p27_fail_closed_total{reason="%s"}'
    # Not-ready matrices made by the test, not left to start-up: the actors start one after another, seconds
    # apart on a loaded machine (CI), and a correlator started once the buffer held min_returns points got
    # ready windows only (its first is the buffer's snapshot), as did a state writer that subscribed after the
    # last not-ready state: neither counted one. Without prices every window has too few symbols, until the
    # state writer, subscribed last in the chain, has been sent a not-ready state.
    wait_for(lambda: scrape(ports["state_writer"]).get(reason % "upstream_not_ready", 0) >= 1, 30,
             "a not-ready state (no prices yet) to reach the state writer")
    assert not system["redis"].exists(keys.CLUSTER_STATE, keys.CLUSTERS, keys.CLUSTER_STATE_STREAM)  # nothing written
    system["feed"].ticking.set()
    wait_for(lambda: corr_ready(ports["state_writer"]), 30, "p27_corr_ready 1 on the state writer")
    scraped = {name: scrape(port) for name, port in ports.items()}
    # SPEC's p27_min_points_per_symbol (held or in the matrix) comes from the state writer alone.
    assert {name for name, m in scraped.items() if "p27_min_points_per_symbol" in m} == {"state_writer"}
    # The not-ready matrices: the correlator counts the cause, the state writer the updates it did not
    # write; the clusterer in between does not count them again.
    assert scraped["correlator"][reason % "too_few_symbols"] >= 1
    assert scraped["state_writer"][reason % "upstream_not_ready"] >= 1
    assert all(reason % "upstream_not_ready" not in scraped[name] for name in ("buffer", "correlator", "clusterer"))


def test_stale_cluster_ids_are_deleted_when_membership_changes(system):
    r, sw_port = system["redis"], system["ports"]["state_writer"]
    wait_for(lambda: corr_ready(sw_port) and fresh_state(r), 30, "ready and fresh state")
    r.hset(keys.CLUSTERS, "cdeadbeef00", json.dumps(["XUSDT"]))
    r.hset(keys.cluster_state_of("cdeadbeef00"), mapping={"stress": 1})
    wait_for(lambda: not r.exists(keys.cluster_state_of("cdeadbeef00")), 10, "stale id removed")
    assert_state_consistent(r)


def test_warm_restart_of_buffer_then_of_every_actor_keeps_points_and_readiness(system):
    procs, ports = system["procs"], system["ports"]
    sw_port = ports["state_writer"]
    wait_for(lambda: corr_ready(sw_port), 30, "p27_corr_ready 1")
    wait_for(lambda: scrape(sw_port).get("p27_min_points_per_symbol", 0) >= 16, 15, "16 points per held symbol")
    # A restart may lose the slots the buffer was down for (once its window is full, each rolls an old point
    # out) and no other: the allowance is the measured downtime in cadences, + 1 for the slot it stopped
    # in, + 1 for a slot the test's own feed may have left empty on a loaded box. A buffer that kept no
    # history has only the points of its own uptime, far fewer than `before` (a full window is 31).
    before = scrape(ports["buffer"])["p27_buffer_min_points_per_symbol"]
    down_since = time.monotonic()
    procs["buffer"].terminate()
    procs["buffer"].start()
    wait_for(lambda: scrape(ports["buffer"]).get('clustergate_actor_ready{actor="buffer",kind="buffer"}') == 1,
             10, "buffer serving again")
    lost_allowed = slots_down(time.monotonic() - down_since)
    # History kept, not rebuilt: the restarted buffer reports the old point counts at once.
    after = scrape(ports["buffer"])["p27_buffer_min_points_per_symbol"]
    print(f"\nbuffer restart: {before:.0f} points before, {after:.0f} after, {lost_allowed} allowed to be lost")
    assert after >= before - lost_allowed
    wait_for(lambda: corr_ready(ports["correlator"]), 4 * CADENCE_S + 5, "corr ready after buffer restart")

    down_since = time.monotonic()
    for name in P27_ACTORS:
        procs[name].terminate()
    for name in P27_ACTORS:
        procs[name].start()
    wait_for(lambda: scrape(ports["buffer"]).get('clustergate_actor_ready{actor="buffer",kind="buffer"}') == 1,
             10, "buffer serving again after restarting every P2.7 actor")
    lost_allowed += slots_down(time.monotonic() - down_since)
    wait_for(lambda: corr_ready(sw_port), 4 * CADENCE_S + 8, "corr ready after restarting every P2.7 actor")
    after = scrape(ports["buffer"])["p27_buffer_min_points_per_symbol"], scrape(sw_port)["p27_min_points_per_symbol"]
    print(f"every actor restarted: {before:.0f} points before, {after} after (buffer, state writer), "
          f"{lost_allowed} allowed to be lost")
    assert min(after) >= before - lost_allowed
    log = procs["buffer"].log()
    assert "history_loaded" in log
    # The restarted correlator got its window from the buffer: the snapshot it asked for, or, on a loaded box,
    # a live window first (CI: the snapshot's reply then came after it, or after snapshot_timeout_ms).
    restarted = procs["correlator"].log().split("event=starting")[-1]
    assert "event=snapshot_received" in restarted or "have_window=true" in restarted, restarted


def slots_down(seconds: float) -> int:
    """The most cadence slots a buffer down for `seconds` (measured from before its SIGTERM to its readiness
    seen) can have missed: those within the downtime, the one it stopped in, and one for a feed stall."""
    return math.ceil(seconds / CADENCE_S) + 2


def state_writer_reports_no_fresh_state(port: int, expect_not_ready: bool) -> bool:
    m = scrape(port)
    ready = m.get('clustergate_actor_ready{actor="state_writer",kind="state_writer"}')
    return (m.get("p27_corr_ready") == 0 and m.get("p27_clusters_count") == 0
            and m.get("p27_cluster_stress_sum") == 0 and m.get("p27_symbols_in_matrix") == 0
            and (ready == 0 or not expect_not_ready))


@pytest.mark.parametrize("stopped", ["clusterer", "correlator", "buffer"])
def test_state_writer_gauges_expire_when_an_upstream_actor_stops(system, stopped):
    """Issue 17 #3: with the clusterer killed, port 8048 kept showing p27_corr_ready 1 and the stress.
    With the buffer stopped the clusterer still sends (not-ready) states, so the state writer stays
    ready while its corr_ready reads 0; with the clusterer or correlator stopped nothing arrives."""
    procs, sw_port, r = system["procs"], system["ports"]["state_writer"], system["redis"]
    wait_for(lambda: corr_ready(sw_port) and fresh_state(r), 30, "ready and fresh state")
    wait_for(lambda: scrape(sw_port).get("p27_clusters_count", 0) >= 1, 10, "a cluster on the state writer")
    procs[stopped].terminate()
    wait_for(lambda: state_writer_reports_no_fresh_state(sw_port, stopped != "buffer"), 6 * CADENCE_S + 10,
             f"the state writer's mirrored gauges and readiness at 0 with the {stopped} stopped")
    procs[stopped].start()
    wait_for(lambda: corr_ready(sw_port) and scrape(sw_port).get(
        'clustergate_actor_ready{actor="state_writer",kind="state_writer"}') == 1, 30,
             f"the state writer ready again once the {stopped} is back")


class SteppedClockProcess(ActorProcess):
    """An actor whose wall clock the test steps through a file (tests/clock_shim.py)."""

    def __init__(self, topology_path: Path, name: str, clock_file: Path):
        super().__init__(topology_path, name)
        self.clock_file = clock_file

    def start(self) -> "SteppedClockProcess":
        import os
        import subprocess
        import sys
        repo = Path(__file__).resolve().parent.parent
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(repo / "tests" / "clock_shim.py"), f"actors.{self.kind}", "--topology",
             str(self.topology_path), "--name", self.name], cwd=repo, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "CLUSTERGATE_TEST_CLOCK_FILE": str(self.clock_file)})
        return self


def buffer_points(port: int) -> float:
    return scrape(port).get("p27_buffer_min_points_per_symbol", 0)


def test_buffer_recovers_its_points_without_a_restart_after_a_forward_clock_step(system, tmp_path):
    """Issue 17 #1: +3600 s for 1.2 s at a 0.5 s cadence took the points from 20 to 0 for an hour
    (every real tick too_old), and the wiped grid was persisted, so only a cold restart recovered."""
    procs, ports = system["procs"], system["ports"]
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    procs["buffer"].terminate()
    procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: buffer_points(ports["buffer"]) >= 20, 40, "20 points per symbol in the buffer")
    wait_for(lambda: corr_ready(ports["correlator"]), 10, "corr ready")
    clock_file.write_text("3600")
    wait_for(lambda: buffer_points(ports["buffer"]) == 0, 10, "the clock step seen by the buffer")
    time.sleep(1.2)  # the step lasts 1.2 s (about two publishes), as in the run
    clock_file.write_text("0")
    wait_for(lambda: buffer_points(ports["buffer"]) >= 15, 4 * CADENCE_S + 5,
             "the buffer's points back from the saved history, without a restart")
    wait_for(lambda: corr_ready(ports["correlator"]), 4 * CADENCE_S + 5, "corr ready again")
    metrics = scrape(ports["buffer"])
    assert metrics['p27_buffer_clock_faults_total{direction="ahead"}'] >= 1
    assert metrics['p27_buffer_clock_faults_total{direction="back"}'] >= 1
    assert procs["buffer"].log().count("event=clock_fault ") <= 4  # logged once per step, not per tick


def state_with(cluster_symbols: list[list[str]], ts: float) -> dict:
    from actors.clustering import cluster_id
    clusters = [{"id": cluster_id(s), "symbols": sorted(s), "notional": 1.0, "weight": 1.0 / len(cluster_symbols),
                 "concentration": 1.0, "correlation": 0.8, "stress": 0.4} for s in cluster_symbols]
    return {"ready": True, "ts": ts, "cluster_stress": 0.4 * len(clusters), "clusters": clusters, "realized_vol": {}}


def test_two_state_writers_racing_between_hkeys_and_exec_leave_no_stale_cluster_behind(redis_server):
    """Issue 17 #8: writer B committed between writer A's HKEYS and EXEC, and B's per-cluster hash
    was left behind (HKEYS read outside the transaction, no WATCH). Real redis-server, two clients."""
    from actors.state_writer import write_state
    a, b = redis_server.client(), redis_server.client()
    now = time.time()  # A is the newer state (B's a second older): else A is superseded, not raced
    state_a = state_with([["BTCUSDT", "ETHUSDT"]], now)
    state_b = state_with([["BTCUSDT", "SOLUSDT"]], now - 1.0)
    races = []

    def writer_b_commits_first() -> None:
        if not races:  # once: B wins the race, then A must notice and redo its read
            races.append(1)
            write_state(b, state_b, set(), 1000)

    write_state(a, state_a, set(), 1000, before_exec=writer_b_commits_first)
    assert races == [1]
    assert set(a.hkeys(keys.CLUSTERS)) == {state_a["clusters"][0]["id"]}
    assert_state_consistent(a)  # no per-cluster hash without its entry in the clusters hash


def test_the_cluster_state_stops_looking_fresh_soon_after_the_prices_stop(system):
    """Issue 17 #2: ClusterStress was 0.93 and fresh 300 cadences after the last tick (351 to not-ready)."""
    ports, r = system["ports"], system["redis"]
    wait_for(lambda: corr_ready(ports["state_writer"]) and fresh_state(r), 30, "ready and fresh state")
    system["feed"].ticking.clear()
    stopped_at = time.time()
    wait_for(lambda: scrape(ports["state_writer"]).get("p27_corr_ready") == 0, 30, "corr not ready on 8048")
    # Nothing is written while upstream is not ready, so the state in Redis goes stale (SPEC) and the gate falls back.
    wait_for(lambda: fresh_state(r) is None, 2 * CADENCE_S + 5, "the cluster state in Redis to go stale")
    print(f"\nprices stopped -> p27_corr_ready 0 on the state writer after {time.time() - stopped_at:.2f} s "
          f"({(time.time() - stopped_at) / CADENCE_S:.1f} cadences; max_price_age_s = 5 cadences)")
    metrics = scrape(ports["correlator"])
    assert metrics['p27_fail_closed_total{reason="prices_stale"}'] >= 1
    # The last state written carries the age of its newest price, at most max_price_age_s (5 cadences).
    state = r.hgetall(keys.CLUSTER_STATE)
    assert float(state["price_age_s"]) <= 5 * CADENCE_S + 0.5
    assert float(state["newest_price_ts"]) <= stopped_at + 0.5
    newest = scrape(ports["buffer"])
    assert max(v for k, v in newest.items() if k.startswith("p27_buffer_last_accepted_tick_timestamp_seconds")) <= stopped_at + 0.5
    system["feed"].ticking.set()
    wait_for(lambda: corr_ready(ports["state_writer"]) and fresh_state(r), 30, "ready again once prices return")


def test_one_state_write_puts_specs_keys_fields_and_types_in_redis_and_trims_its_stream(redis_server):
    """SPEC's writes, read back from a real redis-server: cluster_state (updated_ts an int epoch, cluster_stress,
    clusters_count), the clusters hash replaced whole, each per-cluster hash with SPEC's fields, ids that no longer
    exist deleted, the stream record's fields, and the stream trimmed with an approximate MAXLEN."""
    from actors.state_writer import write_state
    r = redis_server.client()
    now = time.time()
    write_state(r, state_with([["BTCUSDT", "ETHUSDT"], ["SOLUSDT"]], now - 2.5), set(), 1000)
    second = state_with([["BTCUSDT", "SOLUSDT"]], now - 1.5)
    write_state(r, second, set(), 1000)  # a fresh writer: the ids written before are found in Redis
    (cluster,) = second["clusters"]
    state = r.hgetall(keys.CLUSTER_STATE)
    assert state["updated_ts"] == str(int(now - 1.5))
    assert (float(state["cluster_stress"]), state["clusters_count"]) == (0.4, "1")
    assert r.hgetall(keys.CLUSTERS) == {cluster["id"]: json.dumps(["BTCUSDT", "SOLUSDT"])}
    assert r.keys(keys.cluster_state_pattern()) == [keys.cluster_state_of(cluster["id"])]
    row = r.hgetall(keys.cluster_state_of(cluster["id"]))
    assert set(row) == {"notional", "weight", "concentration", "correlation", "stress", "updated_ts", "symbols"}
    assert {k: float(row[k]) for k in ("notional", "weight", "concentration", "correlation", "stress")} == {
        k: cluster[k] for k in ("notional", "weight", "concentration", "correlation", "stress")}
    assert row["updated_ts"] == state["updated_ts"] and json.loads(row["symbols"]) == ["BTCUSDT", "SOLUSDT"]
    (_, record), = r.xrevrange(keys.CLUSTER_STATE_STREAM, count=1)
    assert set(record) == {"cluster_stress", "clusters_count", "clusters", "ts_epoch"}
    assert (record["ts_epoch"], record["clusters_count"], float(record["cluster_stress"])) == (state["updated_ts"], "1", 0.4)
    assert json.loads(record["clusters"]) == [{"id": cluster["id"], "symbols": ["BTCUSDT", "SOLUSDT"], "stress": 0.4}]
    for i in range(600):  # newer states, a ms apart, with a MAXLEN of 50
        write_state(r, state_with([["BTCUSDT", "SOLUSDT"]], now - 1.0 + i / 1000), set(), 50)
    assert 50 <= r.xlen(keys.CLUSTER_STATE_STREAM) < 300  # approximate: whole nodes (100 entries) are trimmed


def test_a_state_write_with_a_key_of_another_type_writes_nothing_and_names_the_key(redis_server):
    """A string where the state stream belongs: Redis ran the rest of the MULTI/EXEC when its XADD failed, so the
    cluster state was written (fresh for the gate) while the writer counted it as not written."""
    from actors.state_writer import KeysOfAnotherType, existing_cluster_ids, write_state
    r = redis_server.client()
    for key in (keys.CLUSTER_STATE_STREAM, keys.CLUSTER_STATE, keys.CLUSTERS):
        r.flushdb()
        r.set(key, "by hand")
        with pytest.raises(KeysOfAnotherType) as refused:
            write_state(r, state_with([["BTCUSDT", "ETHUSDT"]], time.time()), set(), 1000)
        assert refused.value.found == {key: "string"}
        assert r.keys("*") == [key], r.keys("*")  # nothing else written
    r.hset(keys.cluster_state_of("c1"), "stress", 0.1)  # a writer starting beside a clusters key of another type
    assert existing_cluster_ids(r) == {"c1"}


class Recorded:
    """A stand-in for a Prometheus gauge (and its labelled children) that keeps what was set."""

    def __init__(self):
        self.value = None
        self.children: dict = {}

    def set(self, value) -> None:
        self.value = value

    def labels(self, **labels) -> "Recorded":
        return self.children.setdefault(tuple(sorted(labels.items())), Recorded())


def test_the_state_writer_mirrors_each_p27_gauge_from_the_clusterers_state_into_its_own_series():
    """SPEC: p27_cluster_stress_sum is ClusterStress, p27_cluster_stress_max the largest cluster stress, and so on for
    every gauge the state writer mirrors on 8048. The live tests hold one cluster with notional, whose stress is both
    the sum and the largest, so they cannot tell the two apart."""
    from actors.state_writer import StateWriterActor
    names = ("corr_ready", "symbols_in_matrix", "clusters_count", "stress_sum", "stress_max", "min_points")
    writer = SimpleNamespace(m=SimpleNamespace(points=Recorded(), **{n: Recorded() for n in names}),
                             topology=SimpleNamespace(symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"]))
    StateWriterActor.mirror(writer, {"corr_ready": 1, "symbols_in_matrix": 3, "clusters_count": 2,
                                     "cluster_stress_sum": 0.9, "cluster_stress_max": 0.6, "min_points_per_symbol": 41,
                                     "points_per_symbol": {"BTCUSDT": 41, "ETHUSDT": 45}})
    assert {n: getattr(writer.m, n).value for n in names} == {
        "corr_ready": 1, "symbols_in_matrix": 3, "clusters_count": 2, "stress_sum": 0.9, "stress_max": 0.6,
        "min_points": 41}
    assert {dict(k)["symbol"]: g.value for k, g in writer.m.points.children.items()} == {
        "BTCUSDT": 41, "ETHUSDT": 45, "SOLUSDT": 0}


def test_a_per_cluster_hash_found_at_start_that_the_clusters_hash_does_not_list_is_deleted_at_the_first_write(
        redis_server):
    """A writer deletes every id it found at start (the per-cluster keys, by SCAN) and no longer has, not only the
    ids the clusters hash lists: a per-cluster hash left beside a clusters hash that lost its entry (deleted or
    replaced by hand) would otherwise stay, a cluster no state has, for good. Real redis-server."""
    from actors.state_writer import existing_cluster_ids, write_state
    r = redis_server.client()
    orphan = keys.cluster_state_of("c0rphan")
    r.hset(orphan, mapping={"stress": 0.9, "symbols": json.dumps(["BTCUSDT", "ETHUSDT"])})
    known = existing_cluster_ids(r)
    assert known == {"c0rphan"} and not r.exists(keys.CLUSTERS)
    state = state_with([["BTCUSDT", "SOLUSDT"]], time.time())
    write_state(r, state, known, 1000)
    assert r.keys(keys.cluster_state_pattern()) == [keys.cluster_state_of(state["clusters"][0]["id"])]


def test_the_clusterers_gauges_give_the_largest_cluster_stress_and_no_matrix_symbols_until_ready():
    """p27_cluster_stress_max is the largest single cluster's stress, not ClusterStress (two clusters tell them
    apart); p27_symbols_in_matrix is 0 while the correlator is not ready, whatever symbols its header lists."""
    from actors.clusterer import state_message
    from actors.clustering import ClusterMetrics
    clusters = [ClusterMetrics("ca", ["BTCUSDT", "ETHUSDT"], 60.0, 0.6, 1.0, 0.8, 0.48),
                ClusterMetrics("cb", ["SOLUSDT"], 40.0, 0.4, 1.0, 0.0, 0.0),
                ClusterMetrics("cc", ["XRPUSDT", "ADAUSDT"], 30.0, 0.3, 1.0, 0.7, 0.21)]
    header = {"ready": True, "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"], "points_per_symbol": {"BTCUSDT": 40}}
    gauges = state_message(header, clusters, 0.69, set(), 1_700_000_000.0, ready=True, reason=None)["gauges"]
    assert (gauges["cluster_stress_sum"], gauges["cluster_stress_max"]) == (0.69, 0.48)
    assert (gauges["corr_ready"], gauges["symbols_in_matrix"], gauges["clusters_count"]) == (1, 3, 3)
    not_ready = state_message({**header, "ready": False}, [], 0.0, set(), 1_700_000_000.0, ready=False,
                              reason="too_few_symbols")["gauges"]
    assert (not_ready["corr_ready"], not_ready["symbols_in_matrix"], not_ready["cluster_stress_max"]) == (0, 0, 0.0)


def clusterer_stress_gauges(port: int) -> tuple[float | None, float | None, float | None]:
    m = scrape(port)
    return m.get("p27_clusters_count"), m.get("p27_cluster_stress_sum"), m.get("p27_cluster_stress_max")


def test_the_clusterers_stress_gauges_expire_when_its_correlator_stops_and_return_with_it(system):
    """The clusterer exports SPEC's p27_clusters_count, p27_cluster_stress_sum and p27_cluster_stress_max too,
    and the dashboard takes max() over every job: with its correlator stopped they kept the last ClusterStress
    for ever (0.79 on a demo whose state writer read 0 and wrote nothing), so the dashboard showed a stress no
    state backed. With no matrix within the freshness window they read 0, as the state writer's mirror does."""
    procs, ports, r = system["procs"], system["ports"], system["redis"]
    wait_for(lambda: corr_ready(ports["state_writer"]) and fresh_state(r), 30, "ready and fresh state")
    wait_for(lambda: (clusterer_stress_gauges(ports["clusterer"])[0] or 0) >= 1, 10, "a cluster on the clusterer")
    procs["correlator"].terminate()
    wait_for(lambda: clusterer_stress_gauges(ports["clusterer"]) == (0, 0, 0), 6 * CADENCE_S + 10,
             "the clusterer's p27_clusters_count, p27_cluster_stress_sum and p27_cluster_stress_max at 0 with its "
             "correlator stopped")
    procs["correlator"].start()
    wait_for(lambda: (clusterer_stress_gauges(ports["clusterer"])[0] or 0) >= 1
             and (clusterer_stress_gauges(ports["clusterer"])[1] or 0) > 0, 30,
             "the clusterer's gauges back once its correlator is")
