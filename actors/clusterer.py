"""Clusterer: correlation clusters and ClusterStress from the matrix and the position snapshots.

Rules a reader must keep (SPEC): by default a cluster is a connected component of the graph with
an edge where corr >= corr_threshold. Per cluster, over members with notional > 1e-9: weight =
cluster notional / book notional, concentration = |sum(side x notional)| / cluster notional,
correlation = mean pairwise corr (0 with fewer than 2), stress = clip(w x c x corr, 0, 1);
ClusterStress = clip(sum of stresses, 0, 1); clusters with no notional are dropped.
Choices made here: a stale snapshot is not held (the gate fails closed on it too); a held symbol
not in the matrix (too few points) belongs to no cluster but its notional still counts in the
book total; a cluster id is a short hash of its sorted member list, so it is stable.

State message (PUB `state`), two frames: [b"state", JSON]
  {"v": 1, "ready": bool, "reason": str | null, "ts": epoch, "cluster_stress": x,
   "newest_price_ts": epoch of the newest input price | null, "price_age_s": ts - newest_price_ts | null,
   "clusters": [{"id", "symbols", "notional", "weight", "concentration", "correlation", "stress"}],
   "realized_vol": {symbol: vol}, "gauges": {"corr_ready", "symbols_in_matrix", "clusters_count",
   "cluster_stress_sum", "cluster_stress_max", "min_points_per_symbol", "points_per_symbol": {...}}}
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any, Mapping

import numpy as np
import redis
from prometheus_client import Counter, Gauge
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from actors.correlator import decode_matrix
from actors.redis_conn import connect
from actors.runtime import Actor, main
from actors.snapshots import HELD_MIN_NOTIONAL, held_symbols, read_signed_notionals
from actors.wire import encode

STATE_TOPIC = b"state"
STATE_VERSION = 1

# A not-ready matrix is not counted here: the correlator counts its cause, and the state writer counts
# the update it then does not write (upstream_not_ready), so each reason is counted once per event.
FAIL_REASONS = ("redis_unavailable", "bad_matrix")


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        clusters_count=Gauge("p27_clusters_count", "Clusters holding notional"),
        stress_sum=Gauge("p27_cluster_stress_sum", "ClusterStress: clip(sum of cluster stresses, 0, 1)"),
        stress_max=Gauge("p27_cluster_stress_max", "Largest single cluster stress"),
        fail_closed=Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"]),
    )


# --------------------------------------------------------------------------- maths (pure)


def cluster_labels(corr: np.ndarray, threshold: float, method: str = "threshold") -> np.ndarray:
    """A cluster label per row of corr: connected components of corr >= threshold, or a
    hierarchical average/complete linkage on 1 - corr cut at 1 - threshold."""
    k = corr.shape[0]
    if k <= 1:
        return np.zeros(k, dtype=int)
    if method == "threshold":
        # An edge either way joins i and j (as directed=False does); on the symmetrised graph
        # strong components are those connected components and need no transpose.
        edges = corr >= threshold
        edges |= edges.T
        flat = np.flatnonzero(edges)
        indptr = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(edges.sum(axis=1), out=indptr[1:])
        graph = csr_matrix((np.ones(len(flat), dtype=np.int8), flat % k, indptr), shape=(k, k))
        _, labels = connected_components(graph, directed=True, connection="strong")
        return labels
    distance = np.clip(1.0 - corr, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform((distance + distance.T) / 2.0, checks=False), method=method)
    # fcluster's distance cut keeps merges at height <= t; corr >= threshold means distance <= 1 - threshold.
    return fcluster(tree, t=1.0 - threshold + 1e-12, criterion="distance") - 1


def cluster_id(members: list[str]) -> str:
    """Stable id of a cluster: a short hash of its sorted member list."""
    return "c" + hashlib.sha1(",".join(sorted(members)).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ClusterMetrics:
    id: str
    symbols: list[str]
    notional: float
    weight: float
    concentration: float
    correlation: float
    stress: float


def cluster_metrics(symbols: list[str], corr: np.ndarray, labels: np.ndarray,
                    signed_notional: Mapping[str, float]) -> tuple[list[ClusterMetrics], float]:
    """Per-cluster metrics and ClusterStress exactly as SPEC; the book total counts every held
    symbol, in the matrix or not."""
    values = np.fromiter(signed_notional.values(), dtype=np.float64, count=len(signed_notional))
    book = float(np.abs(values)[np.abs(values) > HELD_MIN_NOTIONAL].sum())
    out: list[ClusterMetrics] = []
    if book <= HELD_MIN_NOTIONAL:
        return out, 0.0
    k = len(symbols)
    side = np.array([signed_notional.get(s, 0.0) for s in symbols], dtype=np.float64)
    held = np.abs(side) > HELD_MIN_NOTIONAL
    _, cluster = np.unique(labels, return_inverse=True)
    cluster = cluster.reshape(-1)
    n_clusters = int(cluster.max()) + 1 if k else 0
    held_side = np.where(held, side, 0.0)
    notional = np.bincount(cluster, weights=np.abs(held_side), minlength=n_clusters)
    signed = np.bincount(cluster, weights=held_side, minlength=n_clusters)
    n_held = np.bincount(cluster, weights=held, minlength=n_clusters).astype(int)
    order = np.argsort(cluster, kind="stable")
    starts = np.searchsorted(cluster[order], np.arange(n_clusters + 1))
    for c in np.flatnonzero(n_held):
        idx = order[starts[c]:starts[c + 1]]
        members = [symbols[i] for i in idx]
        rows = idx[held[idx]]
        weight = float(notional[c]) / book
        concentration = abs(float(signed[c])) / float(notional[c])
        n = len(rows)
        if n >= 2:
            if n * n > k * 8:  # a large cluster: one matrix-vector product instead of a gather
                v = np.zeros(k)
                v[rows] = 1.0
                total = float(v @ (corr @ v))
            else:
                total = float(corr[np.ix_(rows, rows)].sum())
            correlation = (total - float(corr[rows, rows].sum())) / (n * (n - 1))
        else:
            correlation = 0.0
        stress = float(np.clip(weight * concentration * correlation, 0.0, 1.0))
        out.append(ClusterMetrics(cluster_id(members), sorted(members), float(notional[c]), weight,
                                  concentration, correlation, stress))
    out.sort(key=lambda c: (-c.stress, c.id))
    total = float(np.clip(sum(c.stress for c in out), 0.0, 1.0))
    return out, total


def min_points_over_relevant(points: Mapping[str, int], matrix_symbols: list[str], held: set[str]) -> int:
    """Fewest grid points over the symbols that matter (held or in the matrix); 0 when none do."""
    relevant = [points.get(s, 0) for s in set(matrix_symbols) | set(held)]
    return min(relevant) if relevant else 0


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


# --------------------------------------------------------------------------- the actor


class ClustererActor(Actor):
    kind = "clusterer"

    def setup(self) -> None:
        self.m = make_metrics()
        for reason in FAIL_REASONS:
            self.m.fail_closed.labels(reason=reason)
        self.m.clusters_count.set(0)
        self.m.stress_sum.set(0)
        self.m.stress_max.set(0)
        self.redis = connect(self.topology.redis)
        self.socket("state")
        self.on_message("matrix", self.on_matrix)
        self.set_ready(True)

    def on_matrix(self, frames: list[bytes]) -> None:
        now = time.time()
        try:
            header, corr = decode_matrix(frames)
        except ValueError as exc:
            self.m.fail_closed.labels(reason="bad_matrix").inc()
            self.log.warning("bad_matrix", error=str(exc))
            return
        held: set[str] = set()
        try:
            signed = read_signed_notionals(self.redis, self.topology.symbols, self.topology.positions.key_pattern,
                                           now, self.topology.positions.stale_after_s)
            held = held_symbols(signed)
        except redis.RedisError as exc:
            self.m.fail_closed.labels(reason="redis_unavailable").inc()
            self.log.warning("positions_unavailable", error=repr(exc))
            self.publish(state_message(header, [], 0.0, held, now, ready=False, reason="redis_unavailable"))
            return
        if not header.get("ready"):
            self.publish(state_message(header, [], 0.0, held, now, ready=False,
                                       reason=header.get("reason") or "upstream_not_ready"))
            return
        symbols = list(header["symbols"])
        labels = cluster_labels(corr, self.topology.clusters.corr_threshold, self.settings.linkage)
        clusters, stress = cluster_metrics(symbols, corr, labels, signed)
        self.publish(state_message(header, clusters, stress, held, now, ready=True, reason=None))

    def publish(self, message: dict[str, Any]) -> None:
        gauges = message["gauges"]
        self.m.clusters_count.set(gauges["clusters_count"])
        self.m.stress_sum.set(gauges["cluster_stress_sum"])
        self.m.stress_max.set(gauges["cluster_stress_max"])
        self.sockets["state"].send_multipart([STATE_TOPIC, encode(message)])


def decode_state(frames: list[bytes]) -> dict[str, Any]:
    """The state message's JSON; raise ValueError when malformed."""
    if len(frames) != 2 or frames[0] != STATE_TOPIC:
        raise ValueError("expected [b'state', JSON]")
    message = json.loads(frames[1])
    if not isinstance(message, dict) or message.get("v") != STATE_VERSION or "gauges" not in message:
        raise ValueError("unknown state version")
    return message


if __name__ == "__main__":
    main(ClustererActor)
