"""Clusterer: correlation clusters and ClusterStress from the matrix and the position snapshots.

Rules a reader must keep (SPEC): by default a cluster is a connected component of the graph with
an edge where corr >= corr_threshold. Per cluster, over members with notional > 1e-9: weight =
cluster notional / book notional, concentration = |sum(side x notional)| / cluster notional,
correlation = mean pairwise corr (0 with fewer than 2), stress = clip(w x c x corr, 0, 1);
ClusterStress = clip(sum of stresses, 0, 1); clusters with no notional are dropped.
Choices made here: a matrix whose newest input price is older than max_price_age_s when it is used (it
waited in this actor's queue) is not ready, matrix_stale; a stale snapshot is not held (the gate fails closed on it too); a held symbol
not in the matrix (too few points) belongs to no cluster but its notional still counts in the
book total; so do held symbols kept out for their stale price (or none), unless they weigh more than
max_stale_held_weight of the book, which makes the state not ready, held_prices_stale (their notional in no
cluster understates ClusterStress by up to their weight; dust in a delisted symbol stays within it); a cluster id is a short hash of its sorted
member list, so it is stable. With no matrix within the
freshness window (2 x cadence) its gauges read 0, as the state writer's mirror does: nothing backs them.

State message (PUB `state`), two frames: [b"state", JSON]
  {"v": 1, "ready": bool, "reason": str | null, "ts": epoch, "cluster_stress": x,
   "newest_price_ts": epoch of the newest input price | null, "price_age_s": ts - newest_price_ts | null,
   "clusters": [{"id", "symbols", "notional", "weight", "concentration", "correlation", "stress"}],
   "realized_vol": {symbol: vol}, "gauges": {"corr_ready", "symbols_in_matrix", "clusters_count",
   "cluster_stress_sum", "cluster_stress_max", "min_points_per_symbol", "points_per_symbol": {...}}}
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any, Mapping

from prometheus_client import Counter, Gauge

from actors.clustering import (HELD_PRICES_STALE, ClusterMetrics, cluster_labels, cluster_metrics,
                               min_points_over_relevant, stale_held_verdict)
from actors.correlator import decode_matrix
from launcher.resp import RedisUnavailable, ReplyError, RespClient
from actors.runtime import Actor, PasswordRefusalLog, error_text, main
from actors.snapshot_reads import read_signed_notionals
from actors.snapshots import held_symbols
from actors.state_message import STATE_TOPIC, STATE_VERSION, decode_state  # noqa: F401 (the wire format, re-exported)
from actors.wire import encode


# A not-ready matrix is not counted here: the correlator counts its cause, and the state writer counts
# the update it then does not write (upstream_not_ready), so each reason is counted once per event.
FAIL_REASONS = ("redis_unavailable", "bad_matrix", "matrix_stale", "notional_overflow", HELD_PRICES_STALE)


def book_overflows(signed: Mapping[str, float]) -> bool:
    """True when the held notionals, each finite, sum past a float's range (two notional_usd of 1e308): every
    weight would be inf / inf, NaN, and no state with NaN can be sent, so the state is not ready instead."""
    return not math.isfinite(sum(abs(v) for v in signed.values()))


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        clusters_count=Gauge("p27_clusters_count", "Clusters holding notional"),
        stress_sum=Gauge("p27_cluster_stress_sum", "ClusterStress: clip(sum of cluster stresses, 0, 1)"),
        stress_max=Gauge("p27_cluster_stress_max", "Largest single cluster stress"),
        fail_closed=Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"]),
        held_price_stale=Gauge("p27_held_price_stale", "1 while the symbol is held and its own newest price is older "
                               "than max_price_age_s (or it has none): it is in no cluster, and no cluster state is "
                               "written (held_prices_stale) while such symbols weigh more than max_stale_held_weight",
                               ["symbol"]),
        held_price_stale_weight=Gauge("p27_held_price_stale_weight", "Combined book weight of the held symbols whose "
                                      "own price is stale (p27_held_price_stale 1); above the clusterer's "
                                      "max_stale_held_weight no cluster state is written (held_prices_stale)"),
    )


# --------------------------------------------------------------------------- maths (pure)


def state_message(header: Mapping[str, Any], clusters: list[ClusterMetrics], cluster_stress: float,
                  held: set[str], now_s: float, *, ready: bool, reason: str | None) -> dict[str, Any]:
    points = dict(header.get("points_per_symbol") or {})
    matrix_symbols = list(header.get("symbols") or [])
    return {
        "v": STATE_VERSION, "ready": ready, "reason": reason, "ts": now_s,
        "cluster_stress": cluster_stress,
        "newest_price_ts": header.get("newest_price_ts"),
        "price_age_s": None if header.get("newest_price_ts") is None else now_s - header["newest_price_ts"],
        "clusters": [asdict(c) for c in clusters],
        "realized_vol": dict(header.get("realized_vol") or {}) if ready else {},
        "gauges": {
            "corr_ready": 1 if header.get("ready") else 0,
            "symbols_in_matrix": len(matrix_symbols) if header.get("ready") else 0,
            "clusters_count": len(clusters),
            "cluster_stress_sum": cluster_stress,
            "cluster_stress_max": max((c.stress for c in clusters), default=0.0),
            "min_points_per_symbol": min_points_over_relevant(points, matrix_symbols, held),
            "points_per_symbol": points,
        },
    }


def matrix_is_stale(header: Mapping[str, Any], now_s: float, max_price_age_s: float) -> bool:
    """True when the matrix's newest input price is older than max_price_age_s at now_s: the correlator's own
    prices_stale rule, applied again when the matrix is used, since a matrix can wait in a paused clusterer's queue."""
    newest = header.get("newest_price_ts")
    return isinstance(newest, (int, float)) and not isinstance(newest, bool) and now_s - newest > max_price_age_s


# --------------------------------------------------------------------------- the actor


class ClustererActor(Actor):
    kind = "clusterer"

    def setup(self) -> None:
        self.m = make_metrics()
        for reason in FAIL_REASONS:
            self.m.fail_closed.labels(reason=reason)
        self.set_gauges(0, 0.0, 0.0)
        self.export_stale_held([], 0.0)
        self.redis = RespClient.from_config(self.topology.redis, decode=False)  # snapshot values may hold any bytes
        self.unreadable: dict[str, str] = {}  # symbol -> error of its snapshot key, while it cannot be read
        self.overflowing: list[str] = []  # the held symbols, while their notionals sum past a float's range
        self.stale_held: list[str] = []  # held symbols out of the matrix for their stale price, while there are any
        self.stale_held_stop = False  # and whether they weigh enough to stop the state
        self.positions_failed = False  # the last read of the positions failed (positions_available_again when one works)
        self.password_refusal = PasswordRefusalLog(self.log, self.topology.redis,  # logged once, not every cadence
                                                   counted="failed_position_reads")
        self.socket("state")
        self.on_message("matrix", self.on_matrix)
        self.freshness_s = self.topology.freshness_default_s
        self.last_matrix_mono = time.monotonic()  # the gauges start at 0 anyway
        self.every(self.freshness_s / 4, self.expire_gauges, name="gauge_expiry")
        self.set_ready(True)

    def expire_gauges(self) -> None:
        """Timer: no matrix within the freshness window (the correlator stopped or paused) leaves no stress to
        show; the last one stayed for ever, and the dashboard's max() over jobs showed it."""
        if time.monotonic() - self.last_matrix_mono > self.freshness_s:
            self.set_gauges(0, 0.0, 0.0)
            self.export_stale_held([], 0.0)

    def set_gauges(self, clusters_count: int, stress_sum: float, stress_max: float) -> None:
        self.m.clusters_count.set(clusters_count)
        self.m.stress_sum.set(stress_sum)
        self.m.stress_max.set(stress_max)

    def on_matrix(self, frames: list[bytes]) -> None:
        now = time.time()
        try:
            header, corr = decode_matrix(frames)
        except ValueError as exc:
            self.m.fail_closed.labels(reason="bad_matrix").inc()
            self.log.warning("bad_matrix", error=str(exc))
            return
        self.last_matrix_mono = time.monotonic()
        held: set[str] = set()
        unreadable: dict[str, str] = {}
        try:
            signed = read_signed_notionals(self.redis, self.topology.symbols, self.topology.positions.key_pattern,
                                           now, self.topology.positions.stale_after_s, unreadable)
            held = held_symbols(signed)
            self.note_unreadable(unreadable)
            if self.positions_failed:  # the outage's last line is not left as the log's last word on it
                self.positions_failed = False
                if not self.password_refusal.accepted():  # (a refused password's end says so itself)
                    self.log.info("positions_available_again")
        except (RedisUnavailable, ReplyError) as exc:
            self.m.fail_closed.labels(reason="redis_unavailable").inc()
            self.positions_failed = True
            if not self.password_refusal.refused(exc, counted=True):
                self.log.warning("positions_unavailable", error=error_text(exc))
            self.publish(state_message(header, [], 0.0, held, now, ready=False, reason="redis_unavailable"))
            return
        stale_held, stale_weight, stop = stale_held_verdict(header.get("stale_symbols") or [], signed,
                                                            self.topology.symbols, self.settings.max_stale_held_weight)
        self.export_stale_held(stale_held, stale_weight)
        if header.get("ready") and matrix_is_stale(header, now, self.topology.max_price_age_s):
            # A matrix that waited in the queue (this actor paused, its correlator gone meanwhile) is not as of now.
            self.m.fail_closed.labels(reason="matrix_stale").inc()
            self.log.warning("matrix_stale", newest_price_ts=header.get("newest_price_ts"),
                             price_age_s=round(now - float(header["newest_price_ts"]), 3),
                             max_price_age_s=self.topology.max_price_age_s)
            header = {**header, "ready": False, "reason": "matrix_stale"}
        if not header.get("ready"):
            self.publish(state_message(header, [], 0.0, held, now, ready=False,
                                       reason=header.get("reason") or "upstream_not_ready"))
            return
        self.note_overflow(sorted(held) if book_overflows(signed) else [], signed)
        if self.overflowing:
            self.m.fail_closed.labels(reason="notional_overflow").inc()
            self.publish(state_message(header, [], 0.0, held, now, ready=False, reason="notional_overflow"))
            return
        self.note_stale_held(stale_held, held, header, stale_weight, stop)
        if stop:
            self.m.fail_closed.labels(reason=HELD_PRICES_STALE).inc()
            self.publish(state_message(header, [], 0.0, held, now, ready=False, reason=HELD_PRICES_STALE))
            return
        symbols = list(header["symbols"])
        labels = cluster_labels(corr, self.topology.clusters.corr_threshold, self.settings.linkage)
        clusters, stress = cluster_metrics(symbols, corr, labels, signed)
        self.publish(state_message(header, clusters, stress, held, now, ready=True, reason=None))

    def note_overflow(self, overflowing: list[str], signed: Mapping[str, float]) -> None:
        """Log when the book's notional starts or stops overflowing (not at each matrix)."""
        if overflowing and not self.overflowing:
            self.log.error("notional_overflow", symbols=overflowing,
                           notionals={s: signed[s] for s in overflowing},
                           detail="the held notionals sum past a float's range (a snapshot's notional_usd or "
                                  "position_amt x mark_price is absurd): no weight can be computed, so the state "
                                  "is not ready, nothing is written and the gate falls back to the proxy")
        elif self.overflowing and not overflowing:
            self.log.info("notional_overflow_ended", symbols=self.overflowing)
        self.overflowing = overflowing

    def export_stale_held(self, stale_held: list[str], weight: float) -> None:
        """p27_held_price_stale of every symbol: 1 for the held ones whose own price is stale (by the last matrix);
        p27_held_price_stale_weight: their combined book weight."""
        for symbol in self.topology.symbols:
            self.m.held_price_stale.labels(symbol=symbol).set(1 if symbol in stale_held else 0)
        self.m.held_price_stale_weight.set(weight)

    def note_stale_held(self, stale_held: list[str], held: set[str], header: Mapping[str, Any], weight: float,
                        stop: bool) -> None:
        """Log when the held symbols kept out of the matrix for their stale price, or whether they stop the state,
        change (not at each matrix)."""
        limit = self.settings.max_stale_held_weight
        if stale_held and (stale_held != self.stale_held or stop != self.stale_held_stop):
            if stop:
                self.log.error(HELD_PRICES_STALE, symbols=stale_held, weight=weight, max_stale_held_weight=limit,
                               matrix_symbols=list(header.get("symbols") or []),
                               detail="a held symbol's own price is older than max_price_age_s, so the correlator kept "
                                      "it out of the matrix and its notional would count in no cluster (ClusterStress "
                                      "too low by up to its weight, more than max_stale_held_weight): the state is not "
                                      "ready, nothing is written and the gate falls back to the proxy until its prices "
                                      "come again")
            else:
                self.log.warning("held_prices_stale_tolerated", symbols=stale_held, weight=weight,
                                 max_stale_held_weight=limit, matrix_symbols=list(header.get("symbols") or []),
                                 detail="held, but its own price is older than max_price_age_s (or it has none: dust "
                                        "in a symbol that stopped trading), so it is in no cluster; its weight is "
                                        "within max_stale_held_weight, so the state is still written without it "
                                        "(ClusterStress too low by at most that weight)")
        elif self.stale_held and not stale_held:
            fresh = [s for s in self.stale_held if s in held]
            closed = [s for s in self.stale_held if s not in held]
            if fresh:
                self.log.info("held_prices_fresh_again", symbols=fresh)
            if closed:  # not its feed back: an operator read "fresh again" for a feed still stuck
                self.log.info("stale_priced_symbols_no_longer_held", symbols=closed,
                              detail="no longer held (the position closed, or its snapshot went stale) while its price "
                                     "is still stale: the state is written again, without it")
        self.stale_held, self.stale_held_stop = stale_held, stop

    def note_unreadable(self, unreadable: dict[str, str]) -> None:
        """Log when the set of snapshot keys that cannot be read (another type than a hash) changes: each such
        symbol counts as not held, as for the gate, until its key is a hash again."""
        if unreadable.keys() != self.unreadable.keys():
            if unreadable:
                self.log.warning("snapshot_unreadable", symbols=sorted(unreadable),
                                 error=next(iter(unreadable.values())), counted_as="not held")
            else:
                self.log.info("snapshots_readable_again", symbols=sorted(self.unreadable))
        self.unreadable = unreadable

    def publish(self, message: dict[str, Any]) -> None:
        gauges = message["gauges"]
        self.set_gauges(gauges["clusters_count"], gauges["cluster_stress_sum"], gauges["cluster_stress_max"])
        self.sockets["state"].send_multipart([STATE_TOPIC, encode(message)])


if __name__ == "__main__":
    main(ClustererActor)
