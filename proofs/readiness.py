"""Readiness proof: the system is up and its data is right, end to end.

No proposal before every gate reports K from the cluster (its own p26_cluster_stress_used), so that a fresh start's
warm-up adds nothing to p26_cluster_fallback_total.
Every gate answers, each asked on its own (with several active gates, a client's failover would
hide a dead one: the check names each gate that does not answer); every program RUNNING (on a multi-host topology: ready on its host, asked through its metrics
endpoint, the managed Redis by PING); every metrics endpoint answers; p27_corr_ready 1; cluster_state fresh; a
proposal decided with K from the cluster, and every gate taking K from the cluster;
p26_cluster_stress_used 1 on every gate; its permit present with a TTL
of at most 60 s and its decision on the stream. The proposal (plan_id proof-readiness-...) is a
real decision: it sets the symbol's cooldown for the cooldown TTL, on a symbol the desk does not hold when one exists.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import redis

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher import keys  # noqa: E402
from launcher.supervise import redis_program_names  # noqa: E402
from proofs.common import Proof, run_proof  # noqa: E402

WARM_UP_TIMEOUT_S = 40.0
STARTING_GRACE_S = 5.0
CACHE_GRACE_S = 5.0


def desk_holds(p: Proof, symbol: str) -> bool:
    """Whether the execution layer holds symbol: a snapshot whose position_amt is not 0 (one unreadable counts as held).
    A read Redis refuses is no answer: it ends the proof (REFUSALS), an ACL's NOPERM naming the key."""
    key = keys.position_snapshot(symbol, p.topo.positions.key_pattern)
    try:
        amount = p.redis.hget(key, "position_amt")
        if amount is None:  # no snapshot (flat), or one without position_amt (unreadable)
            return bool(p.redis.exists(key))
        return float(amount) != 0
    except redis.exceptions.NoPermissionError as exc:  # (a ResponseError, but no word on the snapshot)
        raise type(exc)(f"{exc}: {key}") from None
    except (ValueError, redis.ResponseError):  # not a number; a key of another type (WRONGTYPE)
        return True


def silent_gates(p: Proof) -> dict[str, str]:
    """gate -> its endpoint and what it answered, for every gate that did not answer a HOLD probe with a decision."""
    endpoints = {g: c.endpoint for g, c in p.gate_clients.items()}
    return {gate: f"{endpoints[gate]}: {reply.get('reason') or reply.get('status')}"
            for gate, reply in p.propose_to_each_gate("HOLD").items() if reply.get("status") != "ok"}


def warming_gates(p: Proof) -> dict[str, float]:
    """gate -> its p26_cluster_stress_used, for every gate whose metrics answer and say it does not take K from the
    cluster: its own state reads set the gauge, with no decision."""
    return {gate: used for gate, used in p.each_gate_metric("p26_cluster_stress_used").items()
            if used is not None and used != 1.0}


def stopped_programs(p: Proof) -> dict[str, str]:
    """program -> its state, for the programs of this home that supervisord has stopped or given up on (not one
    still STARTING or in BACKOFF, which may come up)."""
    states = p.program_states()
    return {n: states[n] for n in list(p.topo.actors) + redis_program_names(p.topo)
            if states.get(n) in ("STOPPED", "EXITED", "FATAL")}


def warm_up_timeout_s(args: argparse.Namespace) -> float:
    """--warm-up-timeout-s as given, 0 included (no wait: `deploy --proof-timeout 0` waited the default 40 s), else
    WARM_UP_TIMEOUT_S."""
    given = getattr(args, "warm_up_timeout_s", None)
    return WARM_UP_TIMEOUT_S if given is None else given


class Waits:
    """Every wait of the proof within its timeout: a wait's own grace is cut to what is left of it, and a wait that
    ran out says whether the timeout or its own grace did (`deploy --proof-timeout 2` waited graces of 10 s)."""

    def __init__(self, p: Proof, timeout_s: float):
        self.p, self.timeout_s, self.until = p, timeout_s, time.monotonic() + timeout_s

    def poll(self, get: Callable[[], Any], accept: Callable[[Any], bool], own_s: float,
             interval_s: float = 0.1) -> tuple[bool, Any, float, str]:
        """Proof.poll for at most own_s and what is left of the timeout; (accepted, last value, seconds waited, which
        wait ran out: "" when accepted)."""
        left_s = max(0.0, self.until - time.monotonic())
        ok, value, waited = self.p.poll(get, accept, min(own_s, left_s), interval_s)
        if ok:
            return ok, value, waited, ""
        if left_s < own_s:
            return ok, value, waited, f"the proof's timeout ({self.timeout_s:g} s) ran out in this wait, after {waited:.1f} s"
        return ok, value, waited, f"this wait's own {own_s:g} s ran out"


def prove(p: Proof, args: argparse.Namespace) -> None:
    warm_up_s = warm_up_timeout_s(args)
    waits = Waits(p, warm_up_s)
    # No proposal before every gate takes K from the cluster: one decided on the proxy during a fresh start's warm-up
    # counts in p26_cluster_fallback_total. Bounded by the warm-up timeout (shared with the checks below); a gate whose
    # metrics do not answer is not waited for, its probe below says whether it answers.
    # A program supervisord has stopped (one host) will not warm up: the wait ends, and its check below names it.
    p.poll(lambda: (warming_gates(p), {} if p.topo.hosts else stopped_programs(p)),
           lambda warming_stopped: warming_stopped[0] == {} or warming_stopped[1] != {}, warm_up_s, 0.2)
    # First, so that it is reported even when a host is unreachable and a later requirement stops the proof.
    gates = list(p.gate_clients)
    ok, silent, _, ran_out = waits.poll(lambda: silent_gates(p), lambda s: s == {}, STARTING_GRACE_S + 5, 0.3)
    p.check("every gate answers", ok, f"{len(gates)} gates: {', '.join(gates)}" if ok else {"not answering": silent},
            ran_out)
    if p.topo.hosts:
        # Several hosts, each its own supervisord: every program is asked where it runs, through its
        # metrics endpoint (the readiness gauge) or, for the managed Redis, a PING.
        from launcher.hosts_status import collect_all_hosts

        def not_ready_anywhere() -> dict[str, str]:
            return {f"{host}/{row['name']}": ("not reached" if not row["reached"] else "not ready")
                    for host, info in collect_all_hosts(p.topo).items() for row in info["programs"]
                    if not row["ready"]}

        ok, missing, _, ran_out = waits.poll(not_ready_anywhere, lambda m: m == {}, STARTING_GRACE_S + 5, 0.3)
        p.require("every program ready on its host", ok,
                  missing or f"{len(p.topo.actors) + len(redis_program_names(p.topo))} programs on {len(p.topo.hosts)} hosts",
                  ran_out)
    else:
        # A program just (re)started is STARTING for supervisord's startsecs; give it that long, no more.
        ok, missing, _, ran_out = waits.poll(p.programs_not_running, lambda m: m == {}, STARTING_GRACE_S, 0.2)
        p.require("every program RUNNING", ok,
                  missing or f"{len(p.topo.actors) + len(redis_program_names(p.topo))} programs RUNNING", ran_out)

    def unreachable() -> list[str]:
        out = []
        for actor in p.topo.actors:
            try:
                p.metrics(actor)
            except OSError as exc:
                out.append(f"{actor}: {exc}")
        return out

    # supervisord calls a program RUNNING one second after it starts, perhaps before the actor serves its metrics
    # (its imports take longer on a loaded machine): right after `supervisorctl restart all`, give it as long as a gate.
    ok, silent, waited, ran_out = waits.poll(unreachable, lambda u: u == [], STARTING_GRACE_S + 5, 0.3)
    p.require("every metrics endpoint answers", ok, silent or f"{len(p.topo.actors)} endpoints",
              ran_out or (f"after {waited:.1f} s" if waited >= 0.3 else ""))

    ok, value, waited, ran_out = waits.poll(lambda: p.metric("correlator", "p27_corr_ready"), lambda v: v == 1.0,
                                            warm_up_s)
    p.require("p27_corr_ready is 1", ok, value, ran_out or f"after {waited:.1f} s")

    freshness = p.freshness_s
    ok, age, _, ran_out = waits.poll(p.cluster_state_age_s, lambda a: a is not None and 0 <= a <= freshness, warm_up_s)
    p.require("cluster_state is fresh", ok, None if age is None else (round(age, 2) if isinstance(age, float) else age),
              f"age in seconds, window {freshness:g} s" + (f"; {ran_out}" if ran_out else ""))

    # The gate sees Redis through a cache refreshed every state_refresh_ms: a state that appeared a
    # moment ago may not be in it yet. HOLD probes (no permit, no cooldown) wait for that.
    def probe_k_source() -> str | None:
        return p.propose("HOLD").get("decision", {}).get("k_source")

    ok, source, waited, ran_out = waits.poll(probe_k_source, lambda v: v == "cluster", CACHE_GRACE_S, 0.05)
    p.check("the gate sees the cluster state", ok, source, f"HOLD probe after {waited:.2f} s" + (f"; {ran_out}" if ran_out else ""))
    if len(gates) > 1:
        def k_sources() -> dict[str, str | None]:
            return {g: r.get("decision", {}).get("k_source") for g, r in p.propose_to_each_gate("HOLD").items()}

        ok, sources, waited, ran_out = waits.poll(k_sources, lambda s: set(s.values()) == {"cluster"}, CACHE_GRACE_S,
                                                  0.05)
        p.check("every gate sees the cluster state", ok, sources,
                f"HOLD probe to each gate after {waited:.2f} s" + (f"; {ran_out}" if ran_out else ""))

    # Its permit sets the symbol's cooldown, which steps down the desk's own next exit of it: a symbol the desk does
    # not hold, when there is one, takes it at no cost (the first held one did: a deploy's proof cut the desk's
    # FULL_CLOSE_PROPOSED of BTCUSDT a moment later to PARTIAL_75).
    flat = [s for s in p.topo.symbols if not desk_holds(p, s)]
    symbol = flat[0] if flat else p.topo.symbols[0]
    reply = p.propose("FULL_CLOSE_PROPOSED", symbol)
    decision = reply.get("decision", {})
    shown = reply if reply.get("status") != "ok" else {k: decision.get(k) for k in ("plan_id", "final_action", "gate_reason", "stress")}
    fault = reply.get("status") == "ok" and decision.get("recorded") is False
    if fault:  # a fault HOLD (Redis or the issuer did not answer): nothing decided from the state, so K and the rest are defaults
        shown = {**shown, "recorded": False, "detail": decision.get("detail")}
    p.require("the gate decides a proposal", reply.get("status") == "ok" and not fault, shown)
    p.check("K taken from the cluster", decision.get("k_source") == "cluster",
            {"k_source": decision.get("k_source"), "K": decision.get("K")})
    if len(gates) > 1:
        used_each = p.each_gate_metric("p26_cluster_stress_used")
        p.check("p26_cluster_stress_used is 1 on every gate", set(used_each.values()) == {1.0}, used_each)
    else:
        used = p.metric("gate", "p26_cluster_stress_used")
        p.check("p26_cluster_stress_used is 1", used == 1.0, used)

    plan_id = decision.get("plan_id", "")
    if decision.get("final_action") == "HOLD":
        p.check("a non-HOLD decision to hold a permit", False, decision.get("gate_reason"))
    else:
        ttl = p.redis.ttl(keys.permit(plan_id))
        p.check("permit present with TTL <= 60 s", 0 < ttl <= 60, ttl, keys.permit(plan_id))
    record = p.decision_on_stream(plan_id)
    p.check("decision recorded on the stream", record is not None and record.get("final_action") == decision.get("final_action"),
            record or "missing", keys.GATE_STREAM)


def main(argv: list[str] | None = None, args=None) -> int:
    return run_proof("readiness", prove, argv, args)


if __name__ == "__main__":
    sys.exit(main())
