"""csrev review of the cluster side and the fallback switch: each defect reproduced first against real processes
(redis-server, the P2.7 actors, a wall clock stepped through tests/clock_shim.py)."""

from __future__ import annotations

import time

from actors import keys
from helpers import scrape, wait_for
from test_clusters_end_to_end import CADENCE_S, SteppedClockProcess, fresh_state, system  # noqa: F401 (the fixture)


def stored_state_time_s(r) -> float | None:
    """The stored cluster state's time to the ms (updated_ts_ms), None before the first write."""
    ms = r.hget(keys.CLUSTER_STATE, "updated_ts_ms")
    return None if ms is None else int(ms) / 1000


def test_a_state_from_a_clusterer_whose_clock_came_back_is_written_over_the_state_its_clock_stamped_ahead(
        system, tmp_path):
    """The clusterer's wall clock ran ahead (less than the freshness window), then came back: the state writer had
    stored states stamped in the future, which every gate refuses as stale, and refused each correct state after the
    clock came back as `superseded` (older than that future stamp) until real time passed it. The gate stayed on the
    proxy that much longer (up to 2 cadences, 120 s in production) and then took K from the state stamped ahead, as
    old as the step. A stored state from the future is no newer state: it is overwritten."""
    procs, ports, r = system["procs"], system["ports"], system["redis"]
    step_s = 1.8 * CADENCE_S  # within the writer's window (2 cadences), under max_price_age_s (the matrix stays fresh)
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    procs["clusterer"].terminate()
    procs["clusterer"] = SteppedClockProcess(system["topo_path"], "clusterer", clock_file).start()
    wait_for(lambda: fresh_state(r) is not None, 60, f"a fresh cluster state\n{procs['state_writer'].log()}")
    clock_file.write_text(str(step_s))
    wait_for(lambda: (stored_state_time_s(r) or 0) > time.time() + step_s / 2, 20,
             f"a state stamped ahead stored\n{procs['state_writer'].log()}")

    def superseded() -> float:
        return scrape(ports["state_writer"]).get('p27_fail_closed_total{reason="superseded"}', 0)

    refused_before = superseded()
    clock_file.write_text("0")
    came_back = time.time()
    # The clusterer reads the clock file every 20 ms: a state published from now on is stamped by the real clock.
    wait_for(lambda: (stored_state_time_s(r) or 0) > came_back + 0.05 and stored_state_time_s(r) <= time.time(),
             20, f"a state stamped after the clock came back stored\n{procs['state_writer'].log()}")
    assert superseded() == refused_before, procs["state_writer"].log()[-2000:]


def test_a_state_stamped_ahead_of_the_writers_clock_by_another_writer_stays_guarded(redis_server):
    """The guard the fix above narrows: a state stamped 0.6 s ahead of this writer's clock by another writer (a
    standby whose host clock is behind, a deploy overlap) still refuses this writer's older state; only the writer's
    own last state, stamped ahead of its clock, is replaced."""
    import pytest

    from actors.state_writer import StateSuperseded, state_stamps, write_state
    from test_clusters_end_to_end import state_with

    r = redis_server.client()
    now = time.time()
    ahead = state_with([["BTCUSDT", "ETHUSDT"]], now + 0.6)
    write_state(r, ahead, set(), 1000)  # another writer's
    with pytest.raises(StateSuperseded):
        write_state(r, state_with([["BTCUSDT", "SOLUSDT"]], now - 0.01), set(), 1000, own_last_ms=None, now=now)
    with pytest.raises(StateSuperseded):  # this writer's last state was another one
        write_state(r, state_with([["BTCUSDT", "SOLUSDT"]], now - 0.01), set(), 1000,
                    own_last_ms=state_stamps(now - 1.0)[1], now=now)
    write_state(r, state_with([["BTCUSDT", "SOLUSDT"]], now - 0.01), set(), 1000,
                own_last_ms=state_stamps(ahead["ts"])[1], now=now)
    assert stored_state_time_s(r) == state_stamps(now - 0.01)[1] / 1000


def test_status_names_a_gate_whose_clock_is_off_when_it_takes_k_from_the_proxy_beside_a_state_fresh_by_this_host(
        tmp_path, redis_server, monkeypatch):
    """A gate whose host clock runs 5 s ahead (window 3 s) judges every fresh state stale and takes K from the proxy:
    status said `cluster state: ... updated 0.1 s ago (fresh; window 3 s)`, `gate K from: proxy`, and DEGRADED "the
    cluster state line above and the P2.7 lines say why", which said nothing of it, and the gate logged nothing.
    Status now reads the gate's clock off its gate_state_read_timestamp_seconds (its clock at its last state read, every
    100 ms) and names it."""
    from pathlib import Path

    from helpers import ActorProcess, demo_topology_data, retarget, write_topology
    from launcher.overview import collect_overview, proxy_fallback, render_overview
    from launcher.topology import load_topology

    data = retarget(demo_topology_data(), redis_server.url)
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    assert topo.gate_freshness_s("gate") == 3
    r = redis_server.client()

    def write_book_and_fresh_state() -> float:
        now = time.time()
        for symbol, (amt, price) in {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0)}.items():
            r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price,
                                                            "ts_epoch": int(now)})
        r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": int(now), "updated_ts_ms": int(now * 1000),
                                            "cluster_stress": 0.5, "clusters_count": 1})
        return now

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent / "skewed_clock"))
    monkeypatch.setenv("CLUSTERGATE_TEST_CLOCK_OFFSET_S", "5")
    gate = ActorProcess(path, "gate").start()
    port = data["actors"]["gate"]["metrics_port"]
    try:
        gate.wait_serving(port)
        written = write_book_and_fresh_state()
        # a state read after the write (by the gate's clock, 5 s ahead), with fresh snapshots: K from the proxy
        wait_for(lambda: (scrape(port) or {}).get("gate_state_read_timestamp_seconds", 0) > written + 5.05
                 and (scrape(port) or {}).get("p26_symbols_with_snapshot") == 2, 20, f"a state read\n{gate.log()}")
        write_book_and_fresh_state()  # fresh by this host's clock however long the wait took; 5 s old by the gate's
        ov = collect_overview(topo)
    finally:
        gate.terminate()
    assert ov["gates"][0]["k_source"] == "proxy" and 0 <= ov["cluster_state_age_s"] <= 3, ov
    shown = render_overview(topo, ov)
    line = next((x for x in shown.splitlines() if "clock" in x), None)
    assert line is not None and "gate" in line and "ahead" in line, shown
    degraded = proxy_fallback(topo, ov)
    assert degraded is not None and "clock" in degraded, degraded
