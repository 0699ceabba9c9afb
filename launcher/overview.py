"""What an operator wants to see at a glance: warm-up per symbol, corr readiness, ClusterStress,
where the gate's K comes from and how old the cluster state is. Read from the metrics endpoints
and Redis; used by `clustergate status` and the proofs."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from launcher import keys
from launcher.keys import wrong_type
from launcher.resp import RedisUnavailable, ReplyError, RespClient, as_dict, password_refused
from launcher.sentinel import place_text
from launcher.topology import Topology

BAR_WIDTH = 20
# The cluster state's fields the gate reads for K (actors.policy.cluster_k); clusters_count is not one.
K_FIELDS = ("updated_ts", "cluster_stress")


def scrape_actor(topo: Topology, name: str) -> dict[str, float] | None:
    """The actor's metrics, or None when nothing answers at its endpoint or what answers is not this actor (another
    program on its port, as on a host back after a failover: no clustergate_actor_ready{actor=NAME} in it)."""
    from launcher.supervise import scrape
    spec = topo.actors[name]
    try:
        sample = scrape(spec.host, spec.metrics_port)
    except OSError:
        return None
    return sample if own_readiness(sample, name) is not None else None


def own_readiness(sample: dict[str, float], name: str) -> float | None:
    """The actor's own clustergate_actor_ready{actor=NAME} in what answered on its metrics port, or None: that
    answer is not this actor's (another program, or another actor left on the port)."""
    return labelled(sample, "clustergate_actor_ready", "actor").get(name)


def loop_liveness(sample: dict[str, float], name: str) -> dict[str, Any]:
    """What the actor's metrics say of its main loop: "loop_age_s" (seconds since it last completed a turn; None from
    an actor that does not export it) and, when that is past its stall limit, "not_ready_why" ("main loop stuck for
    42 s"): it answers nothing, whatever else it says (actors.runtime.loop_ready)."""
    age = labelled(sample, "clustergate_actor_loop_age_seconds", "actor").get(name)
    limit = labelled(sample, "clustergate_actor_loop_stall_limit_seconds", "actor").get(name)
    out: dict[str, Any] = {"loop_age_s": age}
    if age is not None and limit is not None and age > limit:
        out["not_ready_why"] = f"main loop stuck for {age:.0f} s (stall limit {limit:g} s)"
    return out


def redis_may_evict(sample: dict[str, float]) -> dict[str, Any]:
    """{"redis_may_evict": why} when the permit issuer's metrics say its Redis may evict keys (clustergate_redis_may_evict:
    a maxmemory and a maxmemory-policy other than noeviction), so it records no decision; {"redis_eviction_unchecked":
    why} when Redis refuses it INFO, so that is not checked; else {}."""
    series = labelled(sample, "clustergate_redis_may_evict", "policy")
    if "unchecked" in series:
        return {"redis_eviction_unchecked": "Redis refuses the permit issuer's INFO (its ACL user lacks +info, or has "
                                            "-@dangerous): whether Redis's maxmemory-policy may evict a plan_id's "
                                            "stored decision (decided twice) is not checked; allow that user +info"}
    policies = [p for p, v in series.items() if v == 1]
    if not policies:
        return {}
    limit = first(sample, "clustergate_redis_maxmemory_bytes")
    limit_said = f"maxmemory {limit:.0f} bytes" if limit is not None and math.isfinite(limit) else "a maxmemory"
    return {"redis_may_evict": f"Redis's maxmemory-policy is {policies[0]} with {limit_said}: once full it would "
                               f"evict a plan_id's stored decision, so the permit issuer writes nothing and every "
                               f"decision is HOLD redis_unavailable; set maxmemory-policy noeviction (or maxmemory 0) "
                               f"on Redis, with CONFIG SET and in its config file (seen within 5 s)"}


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


# How long a gate may have no permit issuer connected before status calls it a fault (exit 1): a gate just started
# (its issuer starting beside it, connected within its first reconnect interval) or one that re-created its permits
# socket after a permit_timeout_ms expiry (its issuer reconnects within 100 ms) is not. A SIGSTOPped or cut-off
# issuer is counted gone once the ZMTP heartbeat drops it (HEARTBEAT_IVL_MS + HEARTBEAT_TIMEOUT_MS, 13 s), a stopped
# one at once: status says so this much later.
ISSUER_GRACE_S = 5.0
ISSUERS_CONNECTED = "gate_permit_issuers_connected"
ISSUERS_NONE_SINCE = "gate_permit_issuers_none_since_timestamp_seconds"
ISSUERS_NONE_FOR = "gate_permit_issuers_none_for_seconds"


def permit_issuers(sample: dict[str, float] | None, endpoint: str, now: float) -> dict[str, Any] | None:
    """What a gate's metrics say of its link to its permit issuer: {"connected": n, "endpoint", "none_for_s" (while
    n is 0), "ok"}; ok is False once none has been connected for ISSUER_GRACE_S. None for a gate that does not
    export the count (an older one) or whose metrics did not answer."""
    count = first(sample, ISSUERS_CONNECTED)
    if count is None:
        return None
    link: dict[str, Any] = {"connected": int(count), "endpoint": endpoint, "ok": count > 0}
    if count <= 0:
        none_for = first(sample, ISSUERS_NONE_FOR)  # the gate's own monotonic clock
        if none_for is None:  # a gate without it: its wall clock against this host's
            since = first(sample, ISSUERS_NONE_SINCE)
            none_for = None if not since else max(0.0, now - since)
        link["none_for_s"] = none_for
        link["ok"] = link["none_for_s"] is not None and link["none_for_s"] < ISSUER_GRACE_S
    return link


def permit_issuers_line(gate: str, link: dict[str, Any] | None) -> str | None:
    """status's line under the table for a gate with no permit issuer connected, else None."""
    if not link or link["connected"] > 0:
        return None
    since = link.get("none_for_s")
    how_long = "" if since is None else f" for {since:.0f} s"
    if link["ok"]:
        return (f"{gate}: no permit issuer connected ({link['endpoint']}){how_long}: not yet a fault (the first "
                f"{ISSUER_GRACE_S:g} s are a grace for a start or a re-created permits socket)")
    return (f"{gate}: no permit issuer connected ({link['endpoint']}){how_long}: every proposal gets a fault HOLD "
            f"(permit_unavailable)")


def permit_issuers_lines(rows: list[dict[str, Any]]) -> list[str]:
    """status's lines for the gates among its rows (each with the "permit_issuers" that permit_issuers gave) that
    have no permit issuer connected."""
    return [line for row in rows if (line := permit_issuers_line(row["name"], row.get("permit_issuers")))]


def permit_issuers_ok(rows: list[dict[str, Any]]) -> bool:
    """No gate among status's rows has been without a permit issuer past the grace (ISSUER_GRACE_S)."""
    return all((row.get("permit_issuers") or {}).get("ok", True) for row in rows)


def gate_permit_issuers(topo: Topology, name: str, sample: dict[str, float] | None) -> dict[str, Any] | None:
    """permit_issuers for the actor `name` when it is a gate (its own metrics `sample`), else None."""
    spec = topo.actors[name]
    permits = spec.sockets.get("permits") if spec.kind == "gate" else None
    return None if permits is None else permit_issuers(sample, permits.endpoint, time.time())


def gate_positions(topo: Topology, name: str, sample: dict[str, float] | None) -> dict[str, Any] | None:
    """What a gate's metrics say of the position snapshots it decides on: {"fresh": p26_symbols_with_snapshot,
    "dated": symbols with a snapshot of any age (p26_snapshot_age_seconds), "oldest_age_s", "symbols",
    "total_abs_notional", "key_pattern", "stale_after_s", "ok"}. With no fresh snapshot, or notionals summing past a
    float's range, the gate fails closed (SPEC): every proposal is HOLD fail_closed_portfolio_state. ok is False when
    it does while snapshots exist (positions the desk cannot exit); with none at all (a flat desk whose execution layer
    deletes them, or a key_pattern it does not write) there may be nothing to exit, and status only says so.
    None for an actor that is no gate, a gate whose metrics did not answer, or one not ready (its Redis reads fail: its
    gauges hold no current read, a restarted gate's none at all, which read as no snapshot under the pattern)."""
    if topo.actors[name].kind != "gate" or own_readiness(sample or {}, name) != 1.0:
        return None
    fresh, total = first(sample, "p26_symbols_with_snapshot"), first(sample, "p26_total_abs_notional")
    if fresh is None or total is None:
        return None
    ages = labelled(sample or {}, "p26_snapshot_age_seconds", "symbol")
    undated = int(first(sample, "gate_position_snapshots_undated") or 0)  # absent from an older gate: none counted
    return {"fresh": int(fresh), "dated": len(ages), "undated": undated, "oldest_age_s": max(ages.values(), default=None),
            "symbols": len(topo.symbols), "key_pattern": topo.positions.key_pattern,
            # null past a float's range, or NaN with no fresh snapshot (no book known): status --json prints no
            # Infinity or NaN, which are not JSON
            "total_abs_notional": total if math.isfinite(total) else None,
            "stale_after_s": topo.positions.stale_after_s,
            # an undated snapshot is a position the gate leaves out of the book, also beside fresh ones (no alert sees it)
            "ok": math.isfinite(total) and not undated if fresh > 0 else not (ages or undated)}


def positions_line(gate: str, positions: dict[str, Any] | None,
                   list_command: str = "clustergate positions list") -> str | None:
    """status's line under the table for a gate that fails closed on the position snapshots, else None; list_command is
    the command that lists that system's snapshots (its --home or --topology)."""
    undated = positions.get("undated", 0) if positions else 0
    if not positions or (positions["fresh"] > 0 and positions["total_abs_notional"] is not None and not undated):
        return None
    if positions["fresh"] > 0 and positions["total_abs_notional"] is not None:
        return (f"{gate}: {undated} position snapshot{'s' if undated > 1 else ''} under {positions['key_pattern']} "
                f"without a usable ts_epoch (missing or not a number of epoch seconds): not held, left out of the book "
                f"the gate decides on (its other {positions['fresh']} fresh) until the execution layer dates "
                f"{'them' if undated > 1 else 'it'} (`{list_command}` shows each)")
    holds = "every proposal gets HOLD (fail_closed_portfolio_state)"
    if positions["fresh"] > 0:
        return (f"{gate}: the fresh position snapshots' notionals sum past a float's range (p26_total_abs_notional "
                f"not finite): {holds} (`{list_command}` shows each)")
    if positions["dated"] or undated:
        oldest = positions["oldest_age_s"]
        when = (f"the oldest {oldest:.0f} s old" if oldest >= 0 else  # every one dated ahead: no age to give
                f"each dated {-oldest:,.0f} s or more ahead of the gate's clock: the execution layer's clock runs ahead, "
                f"or it writes ts_epoch in milliseconds") if positions["dated"] else ""
        if undated:  # a snapshot the gate cannot date: not "no snapshot", which says a flat desk may have nothing to exit
            when = "; ".join(filter(None, (when, f"{undated} without a usable ts_epoch (missing or not a number of "
                                                  f"epoch seconds)")))
        return (f"{gate}: NO fresh position snapshot ({positions['dated'] + undated} of {positions['symbols']} symbols "
                f"have one under {positions['key_pattern']}, each older than {positions['stale_after_s']:g} s, dated ahead or "
                f"unusable; {when}): {holds} until the execution layer writes them (`{list_command}` shows "
                f"each)")
    return (f"{gate}: no position snapshot under {positions['key_pattern']} (0 of {positions['symbols']} symbols): "
            f"{holds}; nothing to exit if the desk is flat, else the execution layer writes its positions elsewhere "
            f"(positions.key_pattern) or not at all")


def positions_lines(rows: list[dict[str, Any]], list_command: str = "clustergate positions list") -> list[str]:
    """status's lines for the gates among its rows (each with the "positions" that gate_positions gave) that fail closed
    on the position snapshots."""
    return [line for row in rows if (line := positions_line(row["name"], row.get("positions"), list_command))]


def positions_ok(rows: list[dict[str, Any]]) -> bool:
    """No gate among status's rows fails closed on the position snapshots."""
    return all((row.get("positions") or {}).get("ok", True) for row in rows)


CHAIN_KINDS = ("buffer", "correlator", "clusterer")  # whose figures status shows
FED_BY = {"correlator": "buffer", "clusterer": "correlator", "state_writer": "clusterer"}


def cluster_chains(topo: Topology) -> list[dict[str, str]]:
    """The topology's cluster chains, the first buffer's first: each buffer with the correlator that connects to an
    endpoint it binds, the clusterer that connects to that correlator's and the state writer to that clusterer's (one
    that connects to none forms a chain of its own). configs/ha.yaml: buffer -> correlator -> clusterer ->
    state_writer, and the standby's buffer_b -> ... -> state_writer_b."""
    def feeder(name: str, kind: str) -> str | None:
        spec = topo.actors[name]
        wanted = {s.connect for s in spec.sockets.values() if s.connect}
        found = [up for up in topo.actors_of_kind(kind)
                 if wanted & {s.bind for s in topo.actors[up].sockets.values() if s.bind}]
        # a loopback endpoint is bound once per host: the one on the same host feeds it
        return next((up for up in found if topo.actors[up].host == spec.host), found[0] if found else None)

    chains: list[dict[str, str]] = [{"buffer": name} for name in topo.actors_of_kind("buffer")]
    for kind, up_kind in FED_BY.items():
        for name in topo.actors_of_kind(kind):
            up = feeder(name, up_kind)
            chain = next((c for c in chains if up is not None and c.get(up_kind) == up and kind not in c), None)
            if chain is None:
                chains.append({kind: name})
            else:
                chain[kind] = name
    return chains


def read_cluster_side(topo: Topology, samples: dict[str, dict[str, float] | None], out: dict[str, Any]
                      ) -> dict[str, dict[str, float] | None]:
    """{kind: the metrics shown for it} from one chain: the one whose state writer holds the write lease (the state
    the gates read is its), else the first with the most members whose metrics answer (a standby chain's when the
    first's host is down). One chain's warm-up beside another's corr_ready and matrix, fed by another buffer's
    history, would say nothing true, and a chain whose feed is dead beside the standby's fresh state would hide the
    failover. out gets "cluster_chain" (kind -> the actor read; its state writer too), "cluster_chain_holds_lease",
    "read_from" (kind -> the actor read, when not the first of its kind) and "silent" (kind -> those of the kind whose
    metrics did not answer)."""
    chains = cluster_chains(topo)

    def holds_lease(chain: dict[str, str]) -> bool:
        writer = samples.get(chain.get("state_writer", "")) or {}
        return writer.get("p27_state_writer_lease_held") == 1

    def rank(chain: dict[str, str]) -> tuple[bool, int]:
        return holds_lease(chain), sum(samples.get(n) is not None for k, n in chain.items() if k in CHAIN_KINDS)

    chosen = max(chains, key=rank) if chains else {}
    if "state_writer" in chosen:
        out.setdefault("cluster_chain", {})["state_writer"] = chosen["state_writer"]
        out["cluster_chain_holds_lease"] = holds_lease(chosen)
    shown: dict[str, dict[str, float] | None] = {}
    for kind in CHAIN_KINDS:
        names = topo.actors_of_kind(kind)
        if not names:
            continue
        silent = [n for n in names if samples.get(n) is None]
        if silent:
            out.setdefault("silent", {})[kind] = silent
        name = chosen.get(kind) or next((n for n in names if samples.get(n) is not None), names[0])
        out.setdefault("cluster_chain", {})[kind] = name
        if name != names[0] and samples.get(name) is not None:
            out.setdefault("read_from", {})[kind] = name
        shown[kind] = samples.get(name)
    return shown


def scrape_all(topo: Topology, names: list[str],
               scraped_at: dict[str, float] | None = None) -> dict[str, dict[str, float] | None]:
    """Every named actor's metrics (scrape_actor), asked at once: with a host down or hung, status waits one
    scrape's deadline, not one per actor on it. scraped_at, when given, gets this host's clock as each answer came."""
    from launcher.supervise import each_at_once

    def ask(name: str) -> dict[str, float] | None:
        sample = scrape_actor(topo, name)
        if scraped_at is not None:
            scraped_at[name] = time.time()
        return sample
    return each_at_once(names, ask)


def feed_overview(name: str, sample: dict[str, float] | None, now: float) -> dict[str, Any]:
    """What one price feed's metrics say of its output: how long ago it published its newest tick (None: none yet) and
    its replay (loop: false) finished (None: not finished, or not a replay); answered False: they did not answer."""
    if sample is None:
        return {"name": name, "answered": False}
    ticks = [t for t in labelled(sample, "price_feed_last_tick_timestamp_seconds", "symbol").values() if t > 0]
    finished = first(sample, "price_feed_replay_finished_timestamp_seconds")
    return {"name": name, "answered": True, "last_tick_age_s": now - max(ticks) if ticks else None,
            "replay_finished_age_s": now - finished if finished else None}


def feed_lines(feeds: list[dict[str, Any]], max_price_age_s: float) -> list[str]:
    """Why no price is fresh, from the feeds' side: each feed that answers and published no tick within
    max_price_age_s, and whether its replay has finished (a feed with `loop: false` then publishes heartbeats alone)."""
    lines = []
    for feed in feeds:
        age = feed.get("last_tick_age_s")
        if not feed.get("answered") or (age is not None and age <= max_price_age_s):
            continue
        published = "no tick yet" if age is None else f"its last tick {age:.1f} s ago"
        finished = feed.get("replay_finished_age_s")
        if finished is not None:
            lines.append(f"  {feed['name']}: its replay (loop: false) finished {finished:.0f} s ago with the file's last "
                         f"row ({published}): it publishes heartbeats alone, and no price comes until it is restarted, "
                         f"which replays the file from its first row")
        else:
            lines.append(f"  {feed['name']}: publishes no price ({published}; heartbeats alone): its log, "
                         f"price_feed_rejected_prices_total and price_feed_snapshots_skipped_total say why")
    return lines


def gate_overview(topo: Topology, name: str, sample: dict[str, float] | None,
                  scraped_at: float | None = None) -> dict[str, Any]:
    """Where one gate takes K from and its fallbacks so far, from its metrics (answered False: they did not answer),
    scraped at scraped_at (this host's clock; default now)."""
    spec = topo.actors[name]
    if sample is None:
        return {"name": name, "answered": False, "metrics": place_text((spec.host, spec.metrics_port)),
                "k_source": None, "cluster_fallbacks": None, "gate_stress": None, "clock_offset_s": None}
    used, stress = first(sample, "p26_cluster_stress_used"), first(sample, "p26_stress")
    read_at = _finite(first(sample, "gate_state_read_timestamp_seconds"))  # the gate's clock at its last state read
    return {"name": name, "answered": True, "ready": own_readiness(sample, name) == 1,
            "k_source": None if used is None else ("cluster" if used == 1 else "proxy"),
            "cluster_fallbacks": first(sample, "p26_cluster_fallback_total"),
            # against when its metrics were read: status's clock after every scrape (a hung one's deadline later) made a
            # gate that had not yet read a state written meanwhile look behind
            "clock_offset_s": (read_at - (time.time() if scraped_at is None else scraped_at)
                               if read_at else None),
            # NaN (notionals past a float's range): null, as status --json prints no NaN, which is not JSON
            "gate_stress": stress if stress is not None and math.isfinite(stress) else None}


# A gate clock this far off this host's (as gate_state_read_timestamp_seconds shows it) may be named as the cause of its
# fallback; the estimate is also allowed the gate's read interval, by which a healthy gate's last read lags.
GATE_CLOCK_OFF_S = 0.5
SCRAPE_ALLOWANCE_S = 0.1


def gate_read_interval_s(settings: Any) -> float:
    """How often a gate reads the state (stamping gate_state_read_timestamp_seconds): state_refresh_ms, or refresh_s
    with no cache."""
    return settings.state_refresh_ms / 1000 if settings.state_refresh_ms > 0 else settings.refresh_s


def gate_clock_explains_proxy(gate: dict[str, Any], ov: dict[str, Any], state_read: tuple[dict[str, str], float],
                              freshness_s: float, read_interval_s: float) -> bool:
    """Whether a gate on the proxy judges by its own clock (clock_offset_s off this host's, or up to read_interval_s more
    ahead: its last read lags) the cluster state (the hash and this host's clock when it was read) stale, at every
    offset in that range, while it is fresh by this host's clock within the gate's window freshness_s: the two hosts'
    clocks disagree, the cluster side is fine."""
    offset, age = gate.get("clock_offset_s"), ov.get("cluster_state_age_s")
    gate["cluster_state_age_by_its_clock_s"] = None  # status --json: every gate has the field, null when not judged
    if (gate.get("k_source") != "proxy" or gate.get("ready") is False or offset is None or age is None
            or abs(offset) < GATE_CLOCK_OFF_S or not 0 <= age <= freshness_s):
        return False
    from actors.freshness import cluster_state_age_s  # I/O-free; not loaded while the CLI is built
    state, read_at = state_read
    updated, updated_ms = float(state["updated_ts"]), state.get("updated_ts_ms")
    oldest = cluster_state_age_s(updated, updated_ms, read_at + offset + read_interval_s + SCRAPE_ALLOWANCE_S)
    by_its_clock = cluster_state_age_s(updated, updated_ms, read_at + offset)
    gate["cluster_state_age_by_its_clock_s"] = by_its_clock
    return by_its_clock > freshness_s or oldest < 0


def gate_clock_lines(ov: dict[str, Any]) -> list[str]:
    """A line for each gate whose own clock explains why it takes K from the proxy (gate_clock_explains_proxy)."""
    lines = []
    for gate in ov.get("gates") or []:
        if not gate.get("clock_off"):
            continue
        offset, age = gate["clock_offset_s"], gate["cluster_state_age_by_its_clock_s"]
        judged = f"{age:.1f} s old" if age >= 0 else f"stamped {-age:.1f} s in its future"
        lines.append(f"  {gate['name']}'s clock runs {abs(offset):.1f} s {'ahead of' if offset > 0 else 'behind'} this "
                     f"host's (its gate_state_read_timestamp_seconds): by it the cluster state is {judged}, stale, so it "
                     f"takes K from the proxy; put right the clock that is wrong (NTP)")
    return lines


def gates_summary(gates: list[dict[str, Any]]) -> dict[str, Any]:
    """status --json's flat k_source, cluster_fallbacks and gate_stress over the gates that answered: "proxy" when any
    of them takes K from the proxy (a check on it must not stay green while one gate falls back), "cluster" when all
    take it from the cluster, else None; the fallbacks summed; the stress of the first that answered."""
    answered = [g for g in gates if g["answered"]]
    sources = {g["k_source"] for g in answered}
    fallbacks = [g["cluster_fallbacks"] for g in answered]
    return {"k_source": "proxy" if "proxy" in sources else ("cluster" if sources == {"cluster"} else None),
            "cluster_fallbacks": None if not fallbacks or None in fallbacks else sum(fallbacks),
            "gate_stress": answered[0]["gate_stress"] if answered else None}


def cluster_side_warming_up(topo: Topology, ov: dict[str, Any]) -> bool:
    """Whether a gate's K from the proxy is the cluster side's warm-up, not a fault: the buffer still fills its window
    (prices fresh for 2 symbols or more, fewer than 2 past the points the matrix needs: a symbol at exactly that many got
    its last point within a cadence, and the correlator's next window makes it ready), or the first state is on its way (the
    correlator ready, or a cluster-side actor or a feed started, within the last 3 cadences). An age from the future
    more than that (the host's clock stepped back since) is no warm-up: every age would read as one for the step."""
    grace_s = 3 * topo.clusters.cadence_s

    def recent(age_s: float | None, within_s: float) -> bool:
        return age_s is not None and -within_s < age_s <= within_s

    ready_age, started_age = ov.get("corr_ready_since_age_s"), ov.get("cluster_side_started_age_s")
    if ov.get("corr_ready") == 1 and recent(ready_age, grace_s) or recent(started_age, grace_s):
        return True
    prices_fresh = recent(ov.get("newest_tick_age_s"), topo.max_price_age_s)
    if ov.get("corr_ready") == 1 or ov.get("buffer_answered") is not True or not prices_fresh:
        return False
    past = [p for p in ov.get("points_per_symbol", {}).values() if p is not None and p > ov["points_needed"]]
    # Only a symbol whose prices are fresh fills: with fewer than 2, no wait makes the matrix ready (one symbol
    # priced alone read as a window filling, at exit 0, for good).
    fresh = [s for s, age_s in (ov.get("tick_ages_s") or {}).items() if recent(age_s, topo.max_price_age_s)]
    return len(past) < 2 and ("tick_ages_s" not in ov or len(fresh) >= 2)


def proxy_fallback(topo: Topology, ov: dict[str, Any], standalone: bool = False) -> str | None:
    """Why `status` exits 3 (DEGRADED): a gate that answered takes K from the proxy while the topology has a cluster
    side to take it from, past that side's warm-up (cluster_side_warming_up); None when none does. A gate not ready
    (it cannot read Redis) takes K from nowhere: every decision is a fault HOLD, and status exits 1 for it.
    standalone (--json): no line above to point at, so the text names the fields of the overview that say why."""
    proxied = [g["name"] for g in ov.get("gates") or []
               if g.get("answered") and g.get("ready") is not False and g.get("k_source") == "proxy"]
    if not proxied or not topo.actors_of_kind("state_writer") or cluster_side_warming_up(topo, ov):
        return None
    clock_off = {g["name"] for g in ov.get("gates") or [] if g.get("clock_off")}
    if standalone:
        why = ("its host's clock and this host's disagree: by its clock the cluster state, fresh by this host's, is "
               "stale (overview.gates: clock_offset_s, clock_off)" if clock_off >= set(proxied) else
               "the cluster state is stale, missing or unreadable, or no fresh price reaches the cluster side "
               "(overview: cluster_state_age_s, cluster_state_problem, newest_tick_age_s, feeds)")
    else:
        why = ("its clock line above says why: its host's clock and this host's disagree, the cluster state is fresh"
               if clock_off >= set(proxied)
               else "the cluster state line above and the P2.7 lines say why")
    return (f"{', '.join(proxied)} takes K from the proxy, not the cluster state, past the cluster side's warm-up: "
            f"every decision falls back (P26ClusterStressNotUsed); {why}")


def collect_overview(topo: Topology, crashed: frozenset[str] = frozenset(),
                     elsewhere: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What status shows under its table. crashed: the programs that exited unexpectedly within status's window, whose
    starts are no warm-up (a clusterer in a crash loop kept a gate on the proxy at exit 0, each start the first state
    on its way); elsewhere: the programs another host's supervisord runs, whose exits this status cannot read, so
    neither their starts nor the correlator's going ready among them are a warm-up either."""
    no_warm_up = crashed | elsewhere
    needed = topo.clusters.min_returns + 1
    out: dict[str, Any] = {"points_needed": needed, "points_max": topo.clusters.window_points}
    gates = topo.actors_of_kind("gate")
    scraped_at: dict[str, float] = {}
    samples = scrape_all(topo, [n for kind in ("price_feed", *CHAIN_KINDS, "state_writer", "gate")
                                for n in topo.actors_of_kind(kind)], scraped_at)
    out["feeds"] = [feed_overview(name, samples[name], time.time()) for name in topo.actors_of_kind("price_feed")]
    side = read_cluster_side(topo, samples, out)
    writers = topo.actors_of_kind("state_writer")
    if len(writers) > 1:  # a standby chain: which writer writes the state the gates read (None: did not answer)
        out["state_writers_lease_held"] = {n: None if samples[n] is None else
                                           samples[n].get("p27_state_writer_lease_held") == 1 for n in writers}
    points: dict[str, float] = {}
    if "buffer" in side:
        sample = side["buffer"]
        out["buffer_answered"] = sample is not None  # else its newest tick is unknown, not "none yet"
        points = labelled(sample or {}, "p27_points_per_symbol", "symbol")
        accepted = {s: t for s, t in labelled(sample or {}, "p27_buffer_last_accepted_tick_timestamp_seconds",
                                              "symbol").items() if t > 0}
        out["newest_tick_age_s"] = time.time() - max(accepted.values()) if accepted else None
        out["tick_ages_s"] = {s: time.time() - t for s, t in accepted.items()}
        received = first(sample, "p27_buffer_last_received_tick_timestamp_seconds")
        out["newest_tick_received"] = None if not received else {
            "age_s": time.time() - received, "offset_s": first(sample, "p27_buffer_last_received_tick_offset_seconds")}
        offsets = labelled(sample or {}, "p27_buffer_last_refused_tick_offset_seconds", "reason")
        out["ticks_refused"] = {reason: {"age_s": time.time() - at, "offset_s": offsets.get(reason)} for reason, at in
                                labelled(sample or {}, "p27_buffer_last_refused_tick_timestamp_seconds", "reason").items()
                                if at > 0}
    out["points_per_symbol"] = {s: int(points[s]) if s in points else None for s in topo.symbols}
    if "correlator" in side:
        sample = side["correlator"]
        out["corr_ready"] = first(sample, "p27_corr_ready")
        out["symbols_in_matrix"] = first(sample, "p27_symbols_in_matrix")
        out["shrinkage_intensity"] = _finite(first(sample, "p27_shrinkage_intensity"))  # NaN with no matrix: null
        out["in_matrix"] = labelled(sample or {}, "p27_symbol_in_matrix", "symbol")
        ready_since = first(sample, "p27_corr_ready_since_timestamp_seconds")
        known = out["cluster_chain"]["correlator"] not in no_warm_up  # a crash loop's lives each go ready anew
        out["corr_ready_since_age_s"] = time.time() - ready_since if ready_since and known else None
    if "clusterer" in side:
        out["held_price_stale"] = labelled(side["clusterer"] or {}, "p27_held_price_stale", "symbol")
        out["held_price_stale_weight"] = first(side["clusterer"], "p27_held_price_stale_weight")
        out["max_stale_held_weight"] = topo.settings_of(out["cluster_chain"]["clusterer"]).max_stale_held_weight
    # A gate's start warms nothing up: it reads the state at its first refresh (a gate restarted alone kept a stale
    # state's DEGRADED at 0 for 3 cadences); nor does a crashed program's, started again by supervisord.
    started = [first(samples[n], "clustergate_actor_started_timestamp_seconds") for n in samples
               if n not in gates and n not in no_warm_up]
    started = [t for t in started if t]
    out["cluster_side_started_age_s"] = time.time() - max(started) if started else None
    if gates:
        # Each gate: with two (one per execution host), the first may be on a host that is down while the other
        # decides, and the two may take K from different places (each judges the state's age by its own window).
        out["gates"] = [gate_overview(topo, name, samples[name], scraped_at.get(name)) for name in gates]
        out.update(gates_summary(out["gates"]))
    try:
        client = redis_client(topo.redis)
        try:
            state, clusters, out["cluster_state_problem"] = read_cluster_state(client)
        finally:
            client.close()
            client.close_watch()
        out["redis"] = "ok"
    except Exception as exc:  # status must still print when Redis is down
        state, clusters = {}, {}
        out["redis"] = f"unavailable ({redis_problem(exc, topo.redis.password_env)})"
    read_at = time.time()
    out.update(cluster_state_summary(state, clusters, read_at))
    for gate in out.get("gates") or []:
        gate["clock_off"] = gate_clock_explains_proxy(gate, out, (state, read_at), topo.gate_freshness_s(gate["name"]),
                                                      gate_read_interval_s(topo.settings_of(gate["name"])))
    return out


def redis_client(cfg: Any) -> RespClient:
    """A client of the topology's Redis (cfg: its RedisConfig) for status's reads: launcher.resp's, not redis-py, whose
    import cost each `status` 0.1 s of CPU."""
    return RespClient.from_config(cfg)


def redis_problem(exc: Exception, password_env: str) -> str:
    """Why status could not read Redis: what Redis or the connection said (a refused or missing password naming the
    variable to set: NOAUTH alone read "ReplyError"), else the error's class."""
    if not isinstance(exc, (RedisUnavailable, ReplyError)):
        return type(exc).__name__
    text = str(exc)
    if f"${password_env}" in text:  # A refused password named already (RespClient's hint, about 80 characters more)
        return text if len(text) <= 240 else f"{text[:200]}...; set ${password_env}"
    return f"{text[:120]}; set ${password_env}" if password_refused(exc) else text[:120]


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


def read_cluster_state(client: RespClient) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(the cluster state hash, the clusters hash, what is wrong with them or None). A key of another type (a
    string where a hash belongs; the state stream too: no state is written) is named, not taken for Redis
    failing; any other error reply is raised."""
    replies = client.pipeline([("HGETALL", keys.CLUSTER_STATE), ("HGETALL", keys.CLUSTERS),
                               ("TYPE", keys.CLUSTER_STATE_STREAM)])
    problems = []
    for key, reply in zip((keys.CLUSTER_STATE, keys.CLUSTERS), replies):
        if wrong_type(reply):
            problems.append(f"{key} holds a {client.call('TYPE', key)}, not a hash")
        elif isinstance(reply, Exception):
            raise reply
    if isinstance(replies[2], Exception):
        raise replies[2]
    if replies[2] not in ("stream", "none"):
        problems.append(f"{keys.CLUSTER_STATE_STREAM} holds a {replies[2]}, not a stream")
    if problems:
        return {}, {}, "; ".join(problems)
    return as_dict(replies[0]), as_dict(replies[1]), None


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


def stale_held_tolerated(ov: dict[str, Any]) -> bool:
    """The clusterer's held symbols with a stale price weigh at most its max_stale_held_weight, so the state is still
    written (clustering.stale_held_stops_state; a limit of 0 tolerates none); False when its weight is not known."""
    weight, limit = ov.get("held_price_stale_weight"), ov.get("max_stale_held_weight")
    return weight is not None and limit is not None and limit > 0 and weight <= limit


def render_overview(topo: Topology, ov: dict[str, Any]) -> str:
    lines = [f"warm-up (points per symbol, {ov['points_needed']} needed to enter the matrix):"]
    in_matrix = ov.get("in_matrix") or {}
    held_price_stale = ov.get("held_price_stale") or {}
    for symbol, value in ov["points_per_symbol"].items():
        shown = "?" if value is None else str(value)
        status = "?" if value is None else "ready" if value >= ov["points_needed"] else "warming"
        if held_price_stale.get(symbol) == 1 and stale_held_tolerated(ov):
            status = (f"HELD with no price newer than max_price_age_s, in no cluster: the held symbols so stale weigh "
                      f"{ov['held_price_stale_weight']:.2g} of the book, within the clusterer's max_stale_held_weight "
                      f"{ov['max_stale_held_weight']:g}, so the cluster state is still written without them")
        elif held_price_stale.get(symbol) == 1:  # the clusterer's verdict: this one stops the whole state
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
        buffer = (ov.get("cluster_chain") or {}).get("buffer", "the buffer")
        lines.append("newest price accepted by the buffer: " + (
                     f"? (the metrics of {buffer} did not answer)" if ov.get("buffer_answered") is False else
                     "none yet" if tick_age is None else
                     f"{shown_age(tick_age, price_stale)} s ago ({'STALE' if price_stale(tick_age) else 'fresh'}; "
                     f"max_price_age_s {topo.max_price_age_s:g})"))
        if tick_age is None or price_stale(tick_age):
            lines.extend(feed_lines(ov.get("feeds") or [], topo.max_price_age_s))
            lines.extend(refused_tick_lines(ov.get("ticks_refused") or {}, topo.max_price_age_s))
            lines.extend(behind_tick_lines(ov.get("newest_tick_received"), topo))
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
    lines.extend(gate_clock_lines(ov))
    lines.extend(writer_lines(ov.get("state_writers_lease_held") or {}))
    lines.extend(cluster_side_lines(topo, ov))
    return "\n".join(lines)


def refused_tick_lines(refused: dict[str, dict[str, Any]], max_price_age_s: float) -> list[str]:
    """Why no price is accepted while ticks arrive: each reason the buffer refused one for within max_price_age_s
    (a feed whose clock is off the buffer's has every tick refused, and looked silent)."""
    from actors.grid import TICK_FUTURE_SKEW_S  # I/O-free; not loaded while the CLI is built
    lines = []
    for reason, seen in sorted(refused.items()):
        if seen["age_s"] > max_price_age_s:
            continue
        offset = seen.get("offset_s") or 0.0
        why = (f"stamped {offset:.1f} s ahead of the buffer's clock, past the {TICK_FUTURE_SKEW_S:g} s allowed: the "
               f"price feed's clock is ahead of the buffer's, or the buffer's behind" if reason == "future_ts" else
               f"stamped {-offset:.1f} s behind the buffer's clock, before its window: the price feed's clock is "
               f"behind the buffer's, or the buffer's ahead" if reason == "too_old" else
               f"stamped {-offset:.1f} s behind the buffer's clock, in a grid slot the buffer has already published, "
               f"past the {TICK_FUTURE_SKEW_S:g} s allowed: the price feed's clock is behind the buffer's, or the "
               f"buffer's ahead" if reason == "late" else
               f"p27_buffer_rejected_ticks_total{{reason=\"{reason}\"}}")
        lines.append(f"  the buffer refuses the ticks it receives: {reason}, the last {max(seen['age_s'], 0):.1f} s ago "
                     f"({why})")
    return lines


def behind_tick_lines(received: dict[str, Any] | None, topo: Topology) -> list[str]:
    """Why no price is fresh while ticks arrive stamped in the past: a feed whose clock is behind the buffer's has its
    ticks refused late (slots already published) or superseded, or used in a past slot not yet published, never the
    current one."""
    if not received or received["age_s"] > topo.max_price_age_s:
        return []
    offset = received.get("offset_s") or 0.0
    if offset > -topo.max_price_age_s:
        return []
    return [f"  the buffer receives ticks (the last {max(received['age_s'], 0):.1f} s ago) stamped {-offset:.1f} s "
            f"behind the buffer's clock: the price feed's clock is behind the buffer's, or the buffer's ahead; they "
            f"belong to past grid slots, so no price is fresh"]


def writer_lines(held: dict[str, bool | None]) -> list[str]:
    """With several state writers, the one that holds the write lease and the standbys, or that none holds it."""
    holders = [n for n, h in held.items() if h]
    if holders:
        standby = ", ".join(n + ("" if h is False else " (its metrics did not answer)") for n, h in held.items()
                            if not h)
        holds = "holds the write lease" if len(holders) == 1 else (
            "each says it holds the write lease: a writer paused past its lease, whose writes the newer fencing "
            "token refuses")
        return [f"cluster state writer: {', '.join(holders)} ({holds}); standby: {standby or 'none'}"]
    if held:
        why = "; ".join(f"{n}: {'does not' if h is False else 'its metrics did not answer'}" for n, h in held.items())
        return [f"cluster state writer: NONE holds the write lease ({why})"]
    return []


def gate_k_line(gate: dict[str, Any]) -> str:
    """One gate's K source and fallbacks so far, or that its metrics did not answer."""
    if not gate.get("answered", True):
        return f"?   its metrics at {gate['metrics']} did not answer"
    fallbacks = gate.get("cluster_fallbacks")
    # Not ready (Redis down: no state read; a stuck loop), its gauge reads 0, yet no decision takes K from the proxy.
    source = "none (gate not ready)" if gate.get("ready") is False else gate.get("k_source")
    return f"{source or '?'}   fallbacks so far: {'?' if fallbacks is None else int(fallbacks)}"


def cluster_side_lines(topo: Topology, ov: dict[str, Any]) -> list[str]:
    """Whose figures the warm-up, corr_ready and held-price lines are, when not the first buffer's, correlator's and
    clusterer's, and which are unknown."""
    silent, read_from = ov.get("silent") or {}, ov.get("read_from") or {}
    chain = ov.get("cluster_chain") or {}  # absent: collected by an earlier clustergate
    lines = []
    chains = cluster_chains(topo)
    by_lease = bool(ov.get("cluster_chain_holds_lease")) and chains and chain.get("state_writer") != chains[0].get(
        "state_writer")
    if by_lease:
        lines.append(f"cluster side figures above are of the chain whose state writer holds the lease: "
                     f"{', '.join(chain.values())} (not the first chain, {', '.join(chains[0].values())})")
    for kind in CHAIN_KINDS:
        names = topo.actors_of_kind(kind)
        shown = read_from.get(kind) or chain.get(kind)
        if kind in read_from and names and names[0] not in silent.get(kind, []) and by_lease:
            continue  # said above
        if kind in read_from and names and names[0] not in silent.get(kind, []):
            # the first of the kind answers, but its chain is short of a member another chain has
            others = [n for k, n in chain.items() if k != kind and k in CHAIN_KINDS and n not in silent.get(k, [])]
            first_chain = next((c for c in chains if c.get(kind) == names[0]), {})
            missing = [n for k, n in first_chain.items() if k in CHAIN_KINDS and n in silent.get(k, [])]
            lines.append(f"{kind} figures above are {shown}'s (the chain of {', '.join(others) or shown}): "
                         f"{names[0]} answers, but the metrics of {', '.join(missing)} in its chain did not answer")
        elif kind in read_from:
            lines.append(f"{kind} figures above are {shown}'s: the metrics of {', '.join(silent[kind])} did not answer")
        elif kind in silent and (shown is None or shown in silent[kind]):
            answering = [n for n in names if n not in silent[kind]]
            lines.append(f"{kind} figures above are unknown (?): the metrics of "
                         f"{shown if answering and shown else ', '.join(silent[kind])} did not answer"
                         + (f" ({', '.join(answering)} answers, in another chain: left out)" if answering else ""))
    return lines

