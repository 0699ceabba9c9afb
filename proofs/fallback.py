"""Fallback proof: when the cluster side stops, the gate falls back to the proxy and says so;
when it starts again, the gate returns to the cluster by itself.

The cluster side (clusterer and state writer) is stopped through supervisord and always started
again, also when a check fails half-way: the proof leaves the system as it found it. Probing
proposals are HOLD, so they issue no permit and set no cooldown.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proofs.common import Proof, run_proof  # noqa: E402

READY_TIMEOUT_S = 40.0
STARTUP_ALLOWANCE_S = 10.0  # process start (Python, numpy) before the first cadence can run
STARTING_GRACE_S = 5.0  # supervisord's startsecs and some: a program just started is STARTING that long


def k_source(p: Proof) -> tuple[str | None, dict]:
    reply = p.propose("HOLD")
    decision = reply.get("decision", {})
    return decision.get("k_source"), decision


def k_is_corr_proxy(decision: dict) -> bool:
    """Whether a decision's K is its corr_proxy (both as the reply rounds them): a gate may label K proxy and take
    another value (0, a stale cluster stress), which understates or misstates the risk it falls back on."""
    k, proxy = decision.get("K"), decision.get("corr_proxy")
    return (isinstance(k, (int, float)) and isinstance(proxy, (int, float)) and not isinstance(k, bool)
            and not isinstance(proxy, bool) and math.isclose(k, proxy, rel_tol=0.0, abs_tol=1e-6))


def k_source_of_each_gate(p: Proof) -> dict[str, str | None]:
    """gate -> the K source of its answer to a HOLD probe sent to it alone (None: no decision)."""
    return {g: r.get("decision", {}).get("k_source") for g, r in p.propose_to_each_gate("HOLD").items()}


def stale_for_every_gate_s(p: Proof) -> float:
    """The longest freshness window of the topology's gates: a state older than it is stale for each of them
    (gates may have windows of their own)."""
    return max(p.topo.gate_freshness_s(g) for g in p.topo.actors_of_kind("gate"))


def prove(p: Proof, args: argparse.Namespace) -> None:
    cluster_side = p.topo.actors_of_kind("clusterer") + p.topo.actors_of_kind("state_writer")
    p.require("topology has a cluster side", bool(cluster_side), cluster_side)
    # One read of the state first: a refused password (no retry fixes it) fails the proof before it stops anything.
    p.poll(p.cluster_state_age_s, lambda _: True, 0)
    if not p.topo.hosts:
        # A program already stopped (a price feed, a buffer) keeps the cluster side from recovering: the proof would
        # stop and start it, then fail on the recovery with nothing naming the cause. A program just (re)started is
        # STARTING for supervisord's startsecs: give it that long, no more.
        ok, missing, _ = p.poll(p.programs_not_running, lambda m: m == {}, STARTING_GRACE_S, 0.2)
        p.require("before: every program RUNNING", ok, missing or "every program RUNNING")
    ok, source, waited = p.poll(lambda: k_source(p)[0], lambda s: s == "cluster", READY_TIMEOUT_S, 0.25)
    p.require("before: K comes from the cluster", ok, source, f"after {waited:.1f} s")
    fallbacks_before = p.metric("gate", "p26_cluster_fallback_total") or 0.0
    several = len(p.gate_clients) > 1
    each_before = p.each_gate_metric("p26_cluster_fallback_total") if several else {}

    stopped = [n for n in cluster_side if p.program_states().get(n) == "RUNNING"]
    try:
        p.stop_programs(stopped)
        p.check("cluster side stopped", all(p.program_states().get(n) == "STOPPED" for n in stopped), stopped)
        freshness = stale_for_every_gate_s(p)
        ok, age, waited = p.poll(p.cluster_state_age_s, lambda a: a is not None and a > freshness,
                                 freshness + 2 * p.topo.clusters.cadence_s + 5)
        p.require("cluster_state goes stale", ok, round(age, 2) if isinstance(age, float) else age,  # or the error
                  f"age in seconds, window {freshness:g} s")
        source, decision = k_source(p)
        p.check("stale: K taken from the proxy", source == "proxy",
                {"k_source": source, "K": decision.get("K"), "corr_proxy": decision.get("corr_proxy")})
        p.check("stale: K is the decision's corr_proxy", k_is_corr_proxy(decision),  # not merely labelled proxy
                {"K": decision.get("K"), "corr_proxy": decision.get("corr_proxy")})
        fallbacks = p.metric("gate", "p26_cluster_fallback_total") or 0.0
        p.check("p26_cluster_fallback_total has risen", fallbacks > fallbacks_before,
                {"before": fallbacks_before, "after": fallbacks})
        used = p.metric("gate", "p26_cluster_stress_used")
        p.check("p26_cluster_stress_used is 0", used == 0.0, used)
        if several:  # the Freelance client above reached one gate: ask each one
            sources = k_source_of_each_gate(p)
            p.check("stale: every gate takes K from the proxy", set(sources.values()) == {"proxy"}, sources)
            each = p.each_gate_metric("p26_cluster_fallback_total")
            p.check("p26_cluster_fallback_total has risen on every gate",
                    all((each[g] or 0.0) > (each_before[g] or 0.0) for g in each), {"before": each_before, "after": each})
    finally:
        p.start_programs(stopped)
    p.check("cluster side started again", all(p.program_states().get(n) == "RUNNING" for n in stopped), stopped)
    limit = p.topo.clusters.cadence_s + stale_for_every_gate_s(p) + STARTUP_ALLOWANCE_S
    ok, source, waited = p.poll(lambda: k_source(p)[0], lambda s: s == "cluster", limit, 0.25)
    p.check("recovered: K taken from the cluster again", ok, source,
            f"after {waited:.1f} s; limit cadence + freshness + {STARTUP_ALLOWANCE_S:g} s start-up = {limit:g} s")
    used = p.metric("gate", "p26_cluster_stress_used")
    p.check("p26_cluster_stress_used is 1 again", used == 1.0, used)
    if several:
        ok, sources, waited = p.poll(lambda: k_source_of_each_gate(p), lambda s: set(s.values()) == {"cluster"}, limit, 0.25)
        p.check("recovered: every gate takes K from the cluster again", ok, sources, f"after {waited:.1f} s")


def main(argv: list[str] | None = None, args=None) -> int:
    return run_proof("fallback", prove, argv, args)


if __name__ == "__main__":
    sys.exit(main())
