"""What an operator wants to see at a glance: warm-up per symbol, corr readiness, ClusterStress,
where the gate's K comes from and how old the cluster state is. Read from the metrics endpoints
and Redis; used by `clustergate status` and the proofs."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from launcher import keys
from launcher.keys import wrong_type
from launcher.redis_conn import connect
from launcher.topology import Topology

BAR_WIDTH = 20
# The cluster state's fields the gate reads for K (actors.policy.cluster_k); clusters_count is not one.
K_FIELDS = ("updated_ts", "cluster_stress")


def scrape_actor(topo: Topology, name: str) -> dict[str, float] | None:
    from launcher.supervise import scrape
    spec = topo.actors[name]
    try:
        return scrape(spec.host, spec.metrics_port)
    except OSError:
        return None


def labelled(sample: dict[str, float], name: str, label: str) -> dict[str, float]:
    """{label value: sample value} for every series of `name` carrying `label`."""
    out: dict[str, float] = {}
    prefix = name + "{"
    for key, value in sample.items():
        if not key.startswith(prefix):
            continue
        for part in key[len(prefix):-1].split(","):
            k, _, v = part.partition("=")
            if k == label:
                out[v.strip('"')] = value
    return out


def first(sample: dict[str, float] | None, name: str) -> float | None:
    if not sample:
        return None
    for key, value in sample.items():
        if key == name or key.startswith(name + "{"):
            return value
    return None


def first_answering(topo: Topology, kind: str, out: dict[str, Any]) -> dict[str, float] | None:
    """The metrics of the first actor of `kind` whose endpoint answers (a topology with a standby of the kind on
    another host: its first may be on a host that is down), or None. Those that did not answer go in
    out["silent"][kind], the one read, when not the first, in out["read_from"][kind]."""
    names = topo.actors_of_kind(kind)
    for i, name in enumerate(names):
        sample = scrape_actor(topo, name)
        if sample is not None:
            if i:
                out.setdefault("read_from", {})[kind] = name
            return sample
        out.setdefault("silent", {}).setdefault(kind, []).append(name)
    return None


def gate_overview(topo: Topology, name: str) -> dict[str, Any]:
    """Where one gate takes K from and its fallbacks so far, from its metrics (answered False: they did not answer)."""
    sample = scrape_actor(topo, name)
    spec = topo.actors[name]
    if sample is None:
        return {"name": name, "answered": False, "metrics": f"{spec.host}:{spec.metrics_port}"}
    used = first(sample, "p26_cluster_stress_used")
    return {"name": name, "answered": True, "k_source": None if used is None else ("cluster" if used == 1 else "proxy"),
            "cluster_fallbacks": first(sample, "p26_cluster_fallback_total"), "gate_stress": first(sample, "p26_stress")}


def collect_overview(topo: Topology) -> dict[str, Any]:
    needed = topo.clusters.min_returns + 1
    out: dict[str, Any] = {"points_needed": needed, "points_max": topo.clusters.lookback_returns + 1}
    points: dict[str, float] = {}
    if topo.actors_of_kind("buffer"):
        sample = first_answering(topo, "buffer", out)
        points = labelled(sample or {}, "p27_points_per_symbol", "symbol")
        accepted = [t for t in labelled(sample or {}, "p27_buffer_last_accepted_tick_timestamp_seconds",
                                        "symbol").values() if t > 0]
        out["newest_tick_age_s"] = time.time() - max(accepted) if accepted else None
    out["points_per_symbol"] = {s: int(points[s]) if s in points else None for s in topo.symbols}
    if topo.actors_of_kind("correlator"):
        sample = first_answering(topo, "correlator", out)
        out["corr_ready"] = first(sample, "p27_corr_ready")
        out["symbols_in_matrix"] = first(sample, "p27_symbols_in_matrix")
        out["shrinkage_intensity"] = first(sample, "p27_shrinkage_intensity")
        out["in_matrix"] = labelled(sample or {}, "p27_symbol_in_matrix", "symbol")
    if topo.actors_of_kind("clusterer"):
        out["held_price_stale"] = labelled(first_answering(topo, "clusterer", out) or {}, "p27_held_price_stale", "symbol")
    gates = topo.actors_of_kind("gate")
    if gates:
        # Each gate: with two (one per execution host), the first may be on a host that is down while the other
        # decides, and the two may take K from different places (each judges the state's age by its own window).
        out["gates"] = [gate_overview(topo, name) for name in gates]
        shown = next((g for g in out["gates"] if g["answered"]), out["gates"][0])
        out["k_source"] = shown.get("k_source")
        out["cluster_fallbacks"] = shown.get("cluster_fallbacks")
        out["gate_stress"] = shown.get("gate_stress")
    try:
        client = connect(topo.redis)
        state, clusters, out["cluster_state_problem"] = read_cluster_state(client)
        client.close()
        out["redis"] = "ok"
    except Exception as exc:  # status must still print when Redis is down
        state, clusters = {}, {}
        out["redis"] = f"unavailable ({type(exc).__name__})"
    out.update(cluster_state_summary(state, clusters, time.time()))
    return out


def cluster_state_summary(state: dict[str, str], clusters: dict[str, str], now: float) -> dict[str, Any]:
    """What status shows of the cluster state hash: its age, stress, cluster count and clusters, or what is wrong
    with its fields, missing or no number (a hand edit: the gate takes such a state for none; the writer's next
    state replaces it)."""
    if not state:
        return {"cluster_state_age_s": None}
    fields = ("updated_ts", "cluster_stress", "clusters_count")
    missing = [name for name in fields if name not in state]  # a half-written hash: not 0, the gate finds none
    numbers = {name: _finite(state[name]) for name in fields if name in state}
    not_numbers = {name: state[name] for name, value in numbers.items() if value is None}
    if missing or not_numbers:
        # The gate reads updated_ts and cluster_stress alone: a bad clusters_count leaves it taking K from the state.
        k_unreadable = any(name in missing or name in not_numbers for name in K_FIELDS)
        return {"cluster_state_age_s": None, "cluster_state_k_unreadable": k_unreadable,
                "cluster_state_fields_problem": f"{keys.CLUSTER_STATE} fields missing: {missing}" if missing else
                f"{keys.CLUSTER_STATE} fields that are no number: {not_numbers}"}
    from actors.freshness import cluster_state_age_s  # I/O-free; not loaded while the CLI is built
    age_s = cluster_state_age_s(numbers["updated_ts"], state.get("updated_ts_ms"), now)  # the gate's, to the ms
    return {"cluster_state_age_s": age_s, "cluster_stress": numbers["cluster_stress"],
            "clusters_count": int(numbers["clusters_count"]), "clusters": clusters}


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_cluster_state(client: Any) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(the cluster state hash, the clusters hash, what is wrong with them or None). A key of another type (a
    string where a hash belongs; the state stream too: no state is written) is named, not taken for Redis
    failing; any other error reply is raised."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.CLUSTER_STATE)
    pipe.hgetall(keys.CLUSTERS)
    pipe.type(keys.CLUSTER_STATE_STREAM)
    replies = pipe.execute(raise_on_error=False)
    problems = []
    for key, reply in zip((keys.CLUSTER_STATE, keys.CLUSTERS), replies):
        if wrong_type(reply):
            problems.append(f"{key} holds a {client.type(key)}, not a hash")
        elif isinstance(reply, Exception):
            raise reply
    if replies[2] not in ("stream", "none"):
        problems.append(f"{keys.CLUSTER_STATE_STREAM} holds a {replies[2]}, not a stream")
    if problems:
        return {}, {}, "; ".join(problems)
    return replies[0], replies[1], None


def bar(value: int | None, needed: int) -> str:
    if value is None:
        return "[" + "?" * BAR_WIDTH + "]"
    filled = min(BAR_WIDTH, round(BAR_WIDTH * value / needed)) if needed else BAR_WIDTH
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def shown_age(age_s: float, verdict: Callable[[float], bool]) -> str:
    """age_s to 0.1 s, or to as many more decimals as it takes for the number shown to get the same verdict as
    age_s: 120.04 s past a 120 s window reads 120.04, never 120.0 beside STALE."""
    for decimals in range(1, 7):
        text = f"{age_s:.{decimals}f}"
        if verdict(float(text)) == verdict(age_s):
            return text
    return repr(age_s)


def render_overview(topo: Topology, ov: dict[str, Any]) -> str:
    lines = [f"warm-up (points per symbol, {ov['points_needed']} needed to enter the matrix):"]
    in_matrix = ov.get("in_matrix") or {}
    held_price_stale = ov.get("held_price_stale") or {}
    for symbol, value in ov["points_per_symbol"].items():
        shown = "?" if value is None else str(value)
        status = "ready" if value is not None and value >= ov["points_needed"] else "warming"
        if held_price_stale.get(symbol) == 1:  # the clusterer's verdict: this one stops the whole state
            status = ("HELD with no price newer than max_price_age_s: no cluster state is written (held_prices_stale) "
                      "and the gate takes K from the proxy until it ticks")
        elif status == "ready" and in_matrix.get(symbol) == 0:  # the correlator's verdict, not the point count's
            status = (f"not in the matrix (fewer than {ov['points_needed'] - 1} valid returns: a return needs two "
                      f"consecutive points; or a price older than max_price_age_s)")
        lines.append(f"  {symbol:<12}{bar(value, ov['points_needed'])} {shown:>4}/{ov['points_needed']}  {status}")
    corr = ov.get("corr_ready")
    lines.append(f"corr_ready: {'?' if corr is None else int(corr)}   symbols in matrix: "
                 f"{'?' if ov.get('symbols_in_matrix') is None else int(ov['symbols_in_matrix'])}   "
                 f"shrinkage intensity: {'?' if ov.get('shrinkage_intensity') is None else format(ov['shrinkage_intensity'], '.3f')}")
    if "newest_tick_age_s" in ov:
        tick_age = ov["newest_tick_age_s"]
        def price_stale(age_s: float) -> bool:
            return age_s > topo.max_price_age_s
        lines.append("newest price accepted by the buffer: " + ("none yet" if tick_age is None else
                     f"{shown_age(tick_age, price_stale)} s ago ({'STALE' if price_stale(tick_age) else 'fresh'}; "
                     f"max_price_age_s {topo.max_price_age_s:g})"))
    age = ov.get("cluster_state_age_s")
    freshness = topo.strictest_gate_freshness_s  # stale for one gate is a fallback on its decisions
    if ov.get("cluster_state_problem"):
        lines.append(f"cluster state: UNREADABLE, {ov['cluster_state_problem']} (not written by clustergate): no state "
                     f"is written and the gate takes K from the proxy until it is deleted (DEL the key)")
    elif ov.get("cluster_state_fields_problem"):
        k_side = ("the gate takes K from the proxy" if ov.get("cluster_state_k_unreadable", True) else
                  "the gate still takes K from it while fresh (it reads updated_ts and cluster_stress alone)")
        lines.append(f"cluster state: UNREADABLE, {ov['cluster_state_fields_problem']} (not written by clustergate): "
                     f"{k_side} until the state writer's next state replaces it")
    elif age is None:
        # ov["redis"] is "ok" or "unavailable (...)": "none in Redis (ok)" read as if no state were fine.
        lines.append("cluster state: none in Redis (Redis answers; the gate takes K from the proxy)" if ov["redis"] == "ok"
                     else f"cluster state: unknown, Redis {ov['redis']}")
    else:
        def state_fresh(age_s: float) -> bool:
            return 0 <= age_s <= freshness  # actors.policy.state_is_fresh's window, on the gate's age
        lines.append(f"cluster state: ClusterStress {ov['cluster_stress']:.3f}, {ov['clusters_count']} clusters, "
                     f"updated {shown_age(age, state_fresh)} s ago ({'fresh' if state_fresh(age) else 'STALE'}; "
                     f"window {freshness:g} s)")
        for cid, members in sorted(ov.get("clusters", {}).items()):
            lines.append(f"  {cid}: {members}")
    gates = ov.get("gates")
    if gates and len(gates) > 1:
        lines.append("gate K from, each gate:")
        width = max(len(g["name"]) for g in gates)
        lines.extend(f"  {g['name']:<{width}}  {gate_k_line(g)}" for g in gates)
    elif gates:
        lines.append(f"gate K from: {gate_k_line(gates[0])}")
    elif "k_source" in ov:  # collected by an earlier clustergate
        lines.append(f"gate K from: {ov['k_source'] or '?'}   fallbacks so far: "
                     f"{'?' if ov.get('cluster_fallbacks') is None else int(ov['cluster_fallbacks'])}")
    silent, read_from = ov.get("silent") or {}, ov.get("read_from") or {}
    for kind in ("buffer", "correlator", "clusterer"):
        if kind in read_from:
            lines.append(f"{kind} figures above are {read_from[kind]}'s: the metrics of {', '.join(silent[kind])} "
                         f"did not answer")
        elif kind in silent:
            lines.append(f"{kind} figures above are unknown (?): the metrics of {', '.join(silent[kind])} did not answer")
    return "\n".join(lines)


def gate_k_line(gate: dict[str, Any]) -> str:
    """One gate's K source and fallbacks so far, or that its metrics did not answer."""
    if not gate.get("answered", True):
        return f"?   its metrics at {gate['metrics']} did not answer"
    fallbacks = gate.get("cluster_fallbacks")
    return f"{gate.get('k_source') or '?'}   fallbacks so far: {'?' if fallbacks is None else int(fallbacks)}"
