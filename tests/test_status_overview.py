"""What `clustergate status` prints about the cluster state, from the values it collected."""

from __future__ import annotations

from helpers import demo_topology_data, retarget, write_topology
from launcher.overview import render_overview
from launcher.topology import load_topology


def overview(redis: str) -> dict:
    return {"points_needed": 11, "points_per_symbol": {"BTCUSDT": 3}, "corr_ready": 0, "redis": redis,
            "cluster_state_age_s": None}


def test_status_says_whether_no_cluster_state_means_redis_has_none_or_redis_is_down(tmp_path) -> None:
    # rev-operator: with no cluster state, status printed "cluster state: none in Redis (ok)", an "ok" an operator
    # read as the state being fine, and "none in Redis (unavailable (ConnectionError))" when Redis was down.
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    answered = render_overview(topo, overview("ok"))
    assert "cluster state: none in Redis (Redis answers; the gate takes K from the proxy)" in answered, answered
    down = render_overview(topo, overview("unavailable (ConnectionError)"))
    assert "cluster state: unknown, Redis unavailable (ConnectionError)" in down, down


def test_status_judges_the_cluster_states_age_by_the_strictest_gates_window(tmp_path) -> None:
    # rev-operator: with two gates, status judged by the last gate's freshness_s in the file: a state 2.5 s old
    # was "fresh; window 3 s" while gate (window 1.5 s) was refusing it and deciding on the proxy.
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["settings"] = {"freshness_s": 1.5}
    gate_b = {**data["actors"]["gate"], "kind": "gate", "settings": {"freshness_s": 3.0}, "metrics_port": 1,
              "sockets": {**data["actors"]["gate"]["sockets"], "proposals": {"bind": "tcp://127.0.0.1:2"}}}
    data["actors"]["gate_b"] = gate_b
    topo = load_topology(write_topology(tmp_path / "t.yaml", data))
    state = {**overview("ok"), "cluster_state_age_s": 2.5, "cluster_stress": 0.4, "clusters_count": 1}
    shown = render_overview(topo, state)
    assert "updated 2.5 s ago (STALE; window 1.5 s)" in shown, shown
    assert "(fresh" in render_overview(topo, {**state, "cluster_state_age_s": 1.0})
