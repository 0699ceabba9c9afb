"""Clustering maths shared by the live clusterer and the backtest: labels (connected components of
corr >= threshold, or average/complete linkage), stable cluster ids, per-cluster metrics and
ClusterStress exactly as SPEC. Pure: no sockets, no Redis, no clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from actors.snapshots import HELD_MIN_NOTIONAL


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
