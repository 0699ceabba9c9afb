"""The clusterer's state message on the wire (topic, version, decoding): what the state writer reads, apart from the
clusterer's maths so that a writer starts without numpy's and scipy's imports."""

from __future__ import annotations

import json
from typing import Any, Collection

from actors.freshness import MAX_EPOCH_S
from actors.message_checks import check_number, check_number_map, check_text_list, finite_float, shown_json

STATE_TOPIC = b"state"
STATE_VERSION = 1


def decode_state(frames: list[bytes], symbols: Collection[str] | None = None) -> dict[str, Any]:
    """The state message's JSON; raise ValueError when malformed, a ts that is not epoch seconds (a JSON number in
    0..MAX_EPOCH_S) included: the writer stamps updated_ts and updated_ts_ms from it. Every field the writer mirrors
    or writes is checked for the shape the clusterer sends (check_gauges, check_ready_state); with `symbols` (the
    topology's), a ready state has no more clusters than them."""
    if len(frames) != 2 or frames[0] != STATE_TOPIC:
        raise ValueError("expected [b'state', JSON]")
    message = json.loads(frames[1])
    if not isinstance(message, dict) or message.get("v") != STATE_VERSION or "gauges" not in message:
        raise ValueError("unknown state version")
    ts = message.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0 <= ts <= MAX_EPOCH_S:  # NaN fails too
        raise ValueError(f"ts {json.dumps(ts)[:40]} is not epoch seconds (a number in 0..{MAX_EPOCH_S:.0e})")
    check_gauges(message["gauges"])
    if message.get("ready"):
        check_ready_state(message, symbols)
    return message


GAUGE_FIELDS = ("corr_ready", "symbols_in_matrix", "clusters_count", "cluster_stress_sum", "cluster_stress_max",
                "min_points_per_symbol")
CLUSTER_NUMBERS = ("notional", "weight", "concentration", "correlation", "stress")


def check_gauges(gauges: Any) -> None:
    """Raise ValueError unless the gauges the writer mirrors are numbers (a handler error each, mirrored half)."""
    if not isinstance(gauges, dict):
        raise ValueError(f"gauges {shown_json(gauges)} is not an object")
    for name in GAUGE_FIELDS:
        check_number(gauges.get(name), f"gauges.{name}", optional=True)
    check_number_map(gauges.get("points_per_symbol") or {}, "gauges.points_per_symbol")


def check_ready_state(message: dict[str, Any], symbols: Collection[str] | None = None) -> None:
    """Raise ValueError unless a ready state holds what the writer writes as SPEC's cluster state: ClusterStress a
    number in [0, 1] (5 was written, and the gate took K 1.0 from it), clusters a list of clusters with an id, their
    symbols and numbers, realized vol numbers, and the newest price's time and age numbers or null. No symbol is in
    two clusters, and with `symbols` (the topology's) there are no more clusters than symbols: 20,000 clusters of
    BTCUSDT were written in one MULTI/EXEC. (A symbol outside the writer's topology is let through: a clusterer
    restarted first with a symbol added.)"""
    stress = finite_float(message.get("cluster_stress"))
    if stress is None or not 0.0 <= stress <= 1.0:
        raise ValueError(f"cluster_stress {shown_json(message.get('cluster_stress'))} is not a number in [0, 1]")
    clusters = message.get("clusters")
    if not isinstance(clusters, list):
        raise ValueError(f"clusters {shown_json(clusters)} is not a list")
    for cluster in clusters:
        if not isinstance(cluster, dict) or not isinstance(cluster.get("id"), str) or not cluster["id"]:
            raise ValueError(f"cluster {shown_json(cluster)} has no id")
        check_text_list(cluster.get("symbols"), f"cluster {cluster['id'][:40]} symbols")
        for name in CLUSTER_NUMBERS:
            check_number(cluster.get(name), f"cluster {cluster['id'][:40]} {name}")
    members = [symbol for cluster in clusters for symbol in cluster["symbols"]]
    if len(set(members)) != len(members):
        raise ValueError(f"clusters name a symbol twice: {shown_json(members)}")
    if symbols is not None and len(clusters) > len(symbols):
        raise ValueError(f"{len(clusters)} clusters, more than the topology's {len(symbols)} symbols")
    check_number_map(message.get("realized_vol") or {}, "realized_vol")
    check_number(message.get("newest_price_ts"), "newest_price_ts", optional=True)
    if message.get("newest_price_ts") is not None:
        check_number(message.get("price_age_s"), "price_age_s")
