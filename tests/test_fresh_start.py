"""A fresh start is a warm-up, not a cluster fallback; a fault HOLD is no fallback either. Real gate, permit issuer,
redis-server (and, for the readiness proof, a whole demo under supervisord)."""

from __future__ import annotations

from pathlib import Path

from helpers import demo_topology_data, retarget, scrape, stopped, write_topology
from launcher.client import GateClient
from test_gate_service import decision_of, new_plan, running_p26, settle, write_cluster_state
from test_proofs import clustergate, running_topology

FALLBACKS = "p26_cluster_fallback_total"
WARM_UP_FALLBACKS = "p26_cluster_fallback_warm_up_total"


def test_a_fault_hold_on_a_stale_cluster_state_counts_as_fail_closed_not_as_a_cluster_fallback(tmp_path, redis_server):
    """A fault HOLD is decided by the fault, on no K (its k_source is null): p26_fail_closed_total counts it, and
    p26_cluster_fallback_total, which counts decisions whose K came from the proxy, does not. It did when the
    cluster state was stale at the gate's read: the issuer stopped (permit_unavailable) or Redis refusing writes
    (redis_unavailable) counted one fallback per HOLD, so P26ClusterFallbacks paged beside P26DecisionsFailClosed."""
    with running_p26(tmp_path, redis_server) as p26:  # no cluster state: K from the proxy
        d = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))
        assert (d["k_source"], d["recorded"]) == ("proxy", True), d
        before = p26.metrics()
        with GateClient(p26.endpoint, timeout_ms=3000, retries=0) as client:
            with stopped(p26.issuer.proc.pid):  # the issuer does not answer: HOLD permit_unavailable
                unanswered = decision_of(client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        assert (unanswered["gate_reason"], unanswered["recorded"], unanswered["k_source"]) == (
            "permit_unavailable", False, None), unanswered
        p26.redis.config_set("maxmemory", 1)  # noeviction: reads answer, every write is refused (OOM)
        try:
            refused = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        finally:
            p26.redis.config_set("maxmemory", 0)
        assert (refused["gate_reason"], refused["recorded"], refused["k_source"]) == (
            "redis_unavailable", False, None), refused
        after = p26.metrics()
        for reason in ("permit_unavailable", "redis_unavailable"):
            key = f'p26_fail_closed_total{{reason="{reason}"}}'
            assert after[key] == before[key] + 1, (reason, before[key], after[key])
        assert after[FALLBACKS] == before[FALLBACKS], (before[FALLBACKS], after[FALLBACKS])
        d = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))
        assert (d["k_source"], d["recorded"]) == ("proxy", True), d
        assert p26.metrics()[FALLBACKS] == before[FALLBACKS] + 1  # a decision on the proxy still counts


def test_fallbacks_before_the_gate_first_takes_k_from_the_cluster_are_its_warm_up_and_later_ones_are_not(
        tmp_path, redis_server):
    """p26_cluster_fallback_total counts every decision with K from the proxy (SPEC); p26_cluster_fallback_warm_up_total
    counts those of them made before the gate first took K from a fresh cluster state since its start, which
    P26ClusterFallbacks leaves out: a gate that never had cluster state is warming up, not falling back."""
    with running_p26(tmp_path, redis_server) as p26:  # no cluster state yet: a fresh start
        for _ in range(2):
            assert decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))["k_source"] == "proxy"
        m = p26.metrics()
        assert (m[FALLBACKS], m[WARM_UP_FALLBACKS]) == (2, 2), m
        settle(p26, write_cluster_state(p26.redis, 0.7))
        assert p26.metrics()["p26_cluster_stress_used"] == 1  # the gate's own read, no decision
        settle(p26, write_cluster_state(p26.redis, 0.7, updated_ts=0))  # stale: a fallback after fresh
        d = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))
        assert d["k_source"] == "proxy", d
        m = p26.metrics()
        assert (m[FALLBACKS], m[WARM_UP_FALLBACKS]) == (3, 2), m


def test_the_readiness_proof_right_after_a_fresh_up_makes_no_decision_on_the_proxy(tmp_path: Path) -> None:
    """make demo: `up` returns during the cluster side's warm-up and the readiness proof runs at once. Its first probe
    was decided with K from the proxy, so status said `fallbacks so far: 1` (3 on 5 Dec 2026, with the HOLD probes
    that met the gate's cache before the fresh state) on every fresh start. The proof now waits for every gate's own
    p26_cluster_stress_used before its first proposal."""
    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    data["clusters"]["min_returns"] = 25  # a warm-up of 26 cadences: `up` returns well inside it, however loaded
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        gate_port = running_topology(home)["actors"]["gate"]["metrics_port"]
        assert scrape(gate_port)["p26_cluster_stress_used"] == 0, "up returned after the warm-up: nothing to test"
        proof = clustergate("proof", "readiness", "--home", str(home), "--warm-up-timeout-s", "120")
        assert proof.returncode == 0, proof.stdout + proof.stderr
        assert scrape(gate_port)[FALLBACKS] == 0, proof.stdout
        status = clustergate("status", "--home", str(home))
        assert "fallbacks so far: 0" in status.stdout, status.stdout
    finally:
        clustergate("down", "--home", str(home))


def test_a_replayed_decision_and_a_plan_id_conflict_are_not_counted_as_cluster_fallbacks(tmp_path, redis_server):
    """A resent plan_id gets its first decision back, with that decision's K (here from the cluster), and a plan_id
    reused for another proposal gets an error envelope with no K: neither is a decision made now on the proxy.
    Reproduced on the merged code (real gate, issuer, redis-server): after the state went stale, three resends of a
    plan decided on the cluster, each answered k_source "cluster", and one plan_id_conflict refusal raised
    p26_cluster_fallback_total from 0 to 4."""
    with running_p26(tmp_path, redis_server) as p26:
        settle(p26, write_cluster_state(p26.redis, 0.7))
        plan = new_plan()
        assert decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=plan))["k_source"] == "cluster"
        settle(p26, write_cluster_state(p26.redis, 0.7, updated_ts=0))  # stale: the gate's K is the proxy's now
        before = p26.metrics()[FALLBACKS]
        for _ in range(3):
            replayed = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=plan))
            assert (replayed["replayed"], replayed["k_source"]) == (True, "cluster"), replayed
        conflict = p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan)
        assert conflict["reason"] == "plan_id_conflict", conflict
        assert p26.metrics()[FALLBACKS] == before
        assert decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))["k_source"] == "proxy"
        assert p26.metrics()[FALLBACKS] == before + 1  # a new decision on the proxy still counts
