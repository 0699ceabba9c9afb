"""csrev2 review of csrev's two fixes (the state writer's own state stamped ahead, status naming a gate's clock): each
finding reproduced first against real processes (redis-server, the gate)."""

from __future__ import annotations

import socket
import threading
import time

from actors import keys
from helpers import ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology


def write_book(r, now: float) -> None:
    for symbol, (amt, price) in {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0)}.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": int(now)})


def write_cluster_state(r, stamp: float) -> None:
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": int(stamp), "updated_ts_ms": int(stamp * 1000),
                                        "cluster_stress": 0.5, "clusters_count": 1})


def demo_with_a_stale_state(tmp_path, redis_server):
    """(topology data, topology, Redis client): the demo on redis_server, a fresh book and a cluster state 30 s old
    (window 3 s), so a gate takes K from the proxy."""
    from launcher.topology import load_topology

    data = retarget(demo_topology_data(), redis_server.url)
    topo = load_topology(write_topology(tmp_path / "t.yaml", data))
    r = redis_server.client()
    now = time.time()
    write_book(r, now)
    write_cluster_state(r, now - 30)
    return data, topo, r


def test_status_does_not_blame_the_clock_of_a_gate_that_read_before_a_state_written_while_status_waited(
        tmp_path, redis_server, monkeypatch):
    """A gate with a right clock on the proxy (the cluster state stale), and a cluster state written again just after
    status scraped the gate, while status waited its 1 s scrape deadline on a hung actor (a host down, a SIGSTOPped
    program): status estimated the gate's clock from its last state read against the time after every scrape, 1 s
    later, found the new state stamped after that read, and said the gate's clock runs 1.0 s behind and to put it right
    (NTP), a false alarm (csrev's gate_clock_explains_proxy). A gate read that came before the state was written says
    nothing of the gate's clock."""
    import launcher.overview as overview
    from launcher.overview import collect_overview, proxy_fallback, render_overview

    data, topo, r = demo_with_a_stale_state(tmp_path, redis_server)
    path = tmp_path / "t.yaml"
    hung = socket.socket()  # the buffer's metrics port answers nothing: status waits its scrape deadline there
    hung.bind(("127.0.0.1", data["actors"]["buffer"]["metrics_port"]))
    hung.listen(8)
    gate = ActorProcess(path, "gate").start()
    port = data["actors"]["gate"]["metrics_port"]
    real_scrape = overview.scrape_actor
    gate_scraped = threading.Event()

    def scrape_with_the_cluster_side_back_meanwhile(topo_, name):
        if name == "gate":  # early in a second (status runs at any phase: at this one the alarm shows every time)
            wait_for(lambda: time.time() % 1 < 0.3, 5, "early in a second")
            sample = real_scrape(topo_, name)
            gate_scraped.set()
            return sample
        sample = real_scrape(topo_, name)
        if name == "buffer":  # hung: 1 s; then the cluster side writes a fresh state, in the next whole second
            assert gate_scraped.wait(10)
            next_second = int(time.time()) + 1
            wait_for(lambda: time.time() >= next_second + 0.05, 5, "the next second")
            write_cluster_state(r, time.time())
        return sample

    try:
        gate.wait_serving(port)
        wait_for(lambda: (scrape(port) or {}).get("p26_symbols_with_snapshot") == 2
                 and (scrape(port) or {}).get("p26_cluster_stress_used") == 0, 20, f"the gate on the proxy\n{gate.log()}")
        monkeypatch.setattr(overview, "scrape_actor", scrape_with_the_cluster_side_back_meanwhile)
        ov = collect_overview(topo)
    finally:
        gate.terminate()
        hung.close()
    assert ov["gates"][0]["k_source"] == "proxy" and 0 <= ov["cluster_state_age_s"] <= 3, ov
    assert not ov["gates"][0]["clock_off"], ov["gates"]
    assert "clock" not in render_overview(topo, ov), render_overview(topo, ov)
    assert "clock" not in (proxy_fallback(topo, ov) or ""), proxy_fallback(topo, ov)



def test_a_newer_state_from_a_writer_without_updated_ts_ms_stays_guarded_beside_the_ms_this_writer_left(redis_server):
    """csrev's own-state rule knew its own last state by updated_ts_ms alone. A writer that writes no updated_ts_ms (the
    earlier stack's P2.7, an older clustergate beside it in a deploy) HSETs updated_ts over this writer's state and
    leaves its updated_ts_ms behind: the stored state is that writer's, 2 s newer and ahead of this writer's clock, and
    this writer's older state was written over it (the guard csrev kept for another writer's state, undone). Its own last
    state is its updated_ts and updated_ts_ms both."""
    import pytest

    from actors.state_writer import StateSuperseded, state_stamps, write_state
    from test_clusters_end_to_end import state_with

    r = redis_server.client()
    now = time.time()
    mine = state_with([["BTCUSDT", "ETHUSDT"]], now - 1.0)
    write_state(r, mine, set(), 1000)
    other_updated_ts = int(now) + 2  # the other writer's newer state, stamped ahead of this writer's clock
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": other_updated_ts, "cluster_stress": 0.9})
    with pytest.raises(StateSuperseded):
        write_state(r, state_with([["BTCUSDT", "SOLUSDT"]], now - 0.01), set(), 1000,
                    own_last_ms=state_stamps(mine["ts"])[1], now=now)
    assert r.hget(keys.CLUSTER_STATE, "updated_ts") == str(other_updated_ts)


def test_status_json_gives_every_gate_the_same_clock_fields_null_when_unknown(tmp_path, redis_server):
    """status --json's gates (docs/operating.md: each with clock_offset_s and clock_off, null for one that did not
    answer): csrev left clock_offset_s out of a gate that did not answer, and added cluster_state_age_by_its_clock_s to
    a gate only when its clock was judged, so the same field was missing or present from one run to the next."""
    from launcher.overview import collect_overview

    data, topo, r = demo_with_a_stale_state(tmp_path, redis_server)
    path = tmp_path / "t.yaml"
    port = data["actors"]["gate"]["metrics_port"]
    silent = collect_overview(topo)["gates"][0]  # no gate running
    gate = ActorProcess(path, "gate").start()
    try:
        gate.wait_serving(port)
        wait_for(lambda: (scrape(port) or {}).get("p26_cluster_stress_used") == 0, 20, f"the gate on the proxy\n{gate.log()}")
        answering = collect_overview(topo)["gates"][0]
    finally:
        gate.terminate()
    assert silent["answered"] is False and answering["answered"] is True
    for field in ("clock_offset_s", "clock_off", "cluster_state_age_by_its_clock_s"):
        assert field in silent and field in answering, (field, silent, answering)
    assert silent["clock_offset_s"] is None and silent["clock_off"] is False
