"""Clustering maths shared by the live clusterer and the backtest: labels (connected components of
corr >= threshold, or average/complete linkage), stable cluster ids, per-cluster metrics and
ClusterStress exactly as SPEC. Pure: no sockets, no Redis, no clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from actors.snapshots import HELD_MIN_NOTIONAL


def cluster_labels(corr: np.ndarray, threshold: float, method: str = "threshold") -> np.ndarray:
    """A cluster label per row of corr: connected components of corr >= threshold, or a
    hierarchical average/complete linkage on 1 - corr cut at 1 - threshold."""
    k = corr.shape[0]
    if k <= 1:
        return np.zeros(k, dtype=int)
    if method == "threshold":
        # An edge either way joins i and j (as scipy's connected_components with directed=False does).
        edges = corr >= threshold
        edges |= edges.T
        return connected_components(edges)
    # Imported here: scipy.cluster and scipy.spatial take about 0.2 s to import, which every clusterer and
    # backtest start paid for a method the default (threshold) does not use.
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    distance = np.clip(1.0 - corr, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform((distance + distance.T) / 2.0, checks=False), method=method)
    # fcluster's distance cut keeps merges at height <= t; corr >= threshold means distance <= 1 - threshold.
    return fcluster(tree, t=1.0 - threshold + 1e-12, criterion="distance") - 1


def connected_components(edges: np.ndarray) -> np.ndarray:
    """A label per node of the symmetric boolean adjacency matrix `edges`: its connected component's, numbered
    0, 1, ... in the order of each component's lowest node (as scipy.sparse.csgraph numbers them; the tests
    check the two agree). Here rather than scipy's: importing scipy.sparse cost every clusterer start about
    0.1 s of CPU. Each node takes the lowest label among its neighbours and its own, labels follow their own
    label to its end (pointer jumping) until none changes; as fast as scipy's on random graphs of 100 to 1,000
    nodes, about 3x slower on a long chain (7 ms at 1,000)."""
    k = edges.shape[0]
    labels = np.arange(k)
    while True:
        lowest = np.minimum(labels, np.where(edges, labels[None, :], k).min(axis=1))
        np.minimum.at(lowest, labels, lowest)  # a label's own node takes the lowest label it reached
        while True:
            jumped = lowest[lowest]
            if np.array_equal(jumped, lowest):
                break
            lowest = jumped
        if np.array_equal(lowest, labels):
            return np.unique(labels, return_inverse=True)[1].astype(np.int32)
        labels = lowest


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


# The not-ready reason of a state with such a held symbol (the clusterer's, and the backtest's).
HELD_PRICES_STALE = "held_prices_stale"


def held_out_for_stale_prices(stale_symbols: list[str], held: set[str]) -> list[str]:
    """The held symbols whose own newest price is older than max_price_age_s (or that have none): the correlator keeps
    them out of the matrix, so their notional would count in no cluster and ClusterStress would fall as if the book
    were less correlated (a held BTC whose feed stuck left ETH a cluster of one, ClusterStress 0.0, written fresh).
    While they weigh more than the clusterer's max_stale_held_weight of the book (stale_held_stops_state), the
    cluster state is not ready. A held symbol with fresh prices still warming up (fewer than min_returns returns)
    stays SPEC's case: in no cluster, its notional in the book total."""
    return sorted(held.intersection(stale_symbols))


def _stale_held_and_book(stale: np.ndarray, signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(notional of the held symbols whose price is stale, book notional) per row; NaN = no fresh snapshot."""
    absn = np.abs(np.nan_to_num(np.asarray(signed, dtype=np.float64), nan=0.0))
    absn = np.where(absn > HELD_MIN_NOTIONAL, absn, 0.0)
    with np.errstate(over="ignore"):  # a book past a float's range is notional_overflow, decided elsewhere
        return np.where(np.asarray(stale, dtype=bool), absn, 0.0).sum(axis=-1), absn.sum(axis=-1)


def held_prices_stale_weight(stale: np.ndarray, signed: np.ndarray) -> np.ndarray:
    """Per row (a slot: stale and signed notionals over the same symbols), the combined book weight of the held
    symbols whose own price is stale (or that have none); 0 when none is, or nothing is held."""
    stale_notional, book = _stale_held_and_book(stale, signed)
    with np.errstate(invalid="ignore"):
        return np.where(book > HELD_MIN_NOTIONAL, stale_notional / np.where(book > 0, book, 1.0), 0.0)


def stale_held_stops_state(stale: np.ndarray, signed: np.ndarray, max_stale_held_weight: float) -> np.ndarray:
    """Per row, True when the held symbols whose own price is stale weigh more than max_stale_held_weight of the book
    (held_prices_stale: the state is not ready); up to it the state is written without them. The live clusterer
    and the backtest both decide with this.

    The bound: their notional counts in no cluster, and leaving symbols of combined weight W out of every cluster
    lowers sum over clusters of |net notional| / book by at most W (triangle inequality; a merge they would have
    caused only lowers it), and a cluster's stress is |net| / book x correlation, correlation <= 1, so with every
    cluster's correlation as it is, ClusterStress would be at most W higher with them in. Not bounded by W: SPEC's cluster correlation is an unweighted
    mean over held members, so a symbol that would have joined a cluster moves its correlation whatever its weight
    (most, a cluster of one: correlation 0, stress 0, would take the pair's correlation); a dust position with
    fresh prices moves it as much. With max_stale_held_weight 0 any held symbol with a stale price stops the state.
    Decided on the weight itself (held_prices_stale_weight: the p27_held_price_stale_weight the clusterer exports and
    status compares), never on notionals: stale > limit x book rounds apart from stale / book > limit at the limit."""
    if max_stale_held_weight == 0:
        return _stale_held_and_book(stale, signed)[0] > 0
    return held_prices_stale_weight(stale, signed) > max_stale_held_weight


def stale_held_verdict(stale_symbols: list[str], signed: Mapping[str, float], symbols: list[str],
                       max_stale_held_weight: float) -> tuple[list[str], float, bool]:
    """The live clusterer's one slot: (the held symbols out for their stale price, their combined book weight,
    whether they stop the state), by held_out_for_stale_prices and stale_held_stops_state over `symbols`."""
    stale_held = held_out_for_stale_prices(stale_symbols, {s for s, v in signed.items() if abs(v) > HELD_MIN_NOTIONAL})
    stale = np.array([[s in stale_held for s in symbols]])
    row = np.array([[signed.get(s, 0.0) for s in symbols]], dtype=np.float64)
    return (stale_held, float(held_prices_stale_weight(stale, row)[0]),
            bool(stale_held_stops_state(stale, row, max_stale_held_weight)[0]))


# --------------------------------------------------------------------------- many slots at once


@dataclass
class BatchClusters:
    """Clusters of many slots: per slot b and cluster label c (0..k-1; labels[b, i] = -1 for a symbol
    not in the matrix), the SPEC metrics of clusters holding notional; `pattern[b]` indexes
    `members[pattern]`, the member lists (and ids) of each label of that slot's partition."""

    labels: np.ndarray          # (B, k) int
    pattern: np.ndarray         # (B,) int
    members: list[list[tuple[list[str], str]]]  # per pattern, per label: (sorted members, cluster id)
    n_held: np.ndarray          # (B, k) held members per label
    notional: np.ndarray        # (B, k)
    weight: np.ndarray          # (B, k)
    concentration: np.ndarray   # (B, k)
    correlation: np.ndarray     # (B, k)
    stress: np.ndarray          # (B, k)
    cluster_stress: np.ndarray  # (B,) ClusterStress


def batch_labels(symbols: list[str], pairs: np.ndarray, in_matrix: np.ndarray, threshold: float,
                 method: str = "threshold") -> tuple[np.ndarray, np.ndarray, list[list[tuple[list[str], str]]]]:
    """cluster_labels of every slot's matrix (the symbols in it), numbered by first member, -1 for a
    symbol not in the matrix; pairs (B, P) are the correlations of the pairs i < j in
    np.triu_indices(k, 1) order. With method threshold a partition depends only on which edges exist,
    so cluster_labels runs once per distinct edge pattern (few: partitions change rarely)."""
    b, k = in_matrix.shape
    iu, ju = np.triu_indices(k, 1)
    if method == "threshold":
        edges = (pairs >= threshold) & in_matrix[:, iu] & in_matrix[:, ju]
        keys = np.packbits(np.concatenate([edges, in_matrix], axis=1), axis=1)
        keys = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1]))).ravel()
        uniq, first, pattern = np.unique(keys, return_index=True, return_inverse=True)
        reps = first
    else:  # linkage: the partition depends on the values, so every slot is its own pattern
        pattern = np.arange(b)
        reps = pattern
    labels_of: list[np.ndarray] = []
    members_of: list[list[tuple[list[str], str]]] = []
    for rep in reps:
        idx = np.flatnonzero(in_matrix[rep])
        lab = np.full(k, -1)
        corr = np.eye(k)
        corr[iu, ju] = pairs[rep]
        corr[ju, iu] = pairs[rep]
        if method == "threshold":
            sub = np.where(corr >= threshold, 2.0, -2.0)[np.ix_(idx, idx)]  # the same edges
        else:
            sub = corr[np.ix_(idx, idx)]
        raw = cluster_labels(sub, threshold, method) if len(idx) else np.zeros(0, dtype=int)
        _, first_seen, canon = np.unique(raw, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first_seen))
        lab[idx] = order[canon.reshape(-1)]
        labels_of.append(lab)
        groups = []
        for c in range(int(lab.max()) + 1 if len(idx) else 0):
            members = sorted(symbols[i] for i in np.flatnonzero(lab == c))
            groups.append((members, cluster_id(members)))
        members_of.append(groups)
    labels = np.stack(labels_of)[pattern] if b else np.zeros((0, k), dtype=int)
    return labels, np.asarray(pattern).reshape(-1), members_of


def batch_cluster_metrics(symbols: list[str], pairs: np.ndarray, in_matrix: np.ndarray, signed: np.ndarray,
                          threshold: float, method: str = "threshold") -> BatchClusters:
    """cluster_metrics of every slot at once: pairs (B, P) as batch_labels, in_matrix (B, k), signed notionals
    (B, k; 0 or NaN = no fresh snapshot). The book total counts every held symbol, in the matrix or not."""
    b, k = in_matrix.shape
    labels, pattern, members = batch_labels(symbols, pairs, in_matrix, threshold, method)
    signed = np.nan_to_num(signed, nan=0.0)
    held = np.abs(signed) > HELD_MIN_NOTIONAL
    absn = np.where(held, np.abs(signed), 0.0)
    side = np.where(held, signed, 0.0)
    book = absn.sum(axis=1)
    ok = labels >= 0
    flat = (np.arange(b)[:, None] * k + labels)[ok]
    size = b * k
    notional = np.bincount(flat, absn[ok], minlength=size).reshape(b, k)
    net = np.bincount(flat, side[ok], minlength=size).reshape(b, k)
    n_held = np.rint(np.bincount(flat, held[ok], minlength=size)).astype(np.int64).reshape(b, k)
    iu, ju = np.triu_indices(k, 1)
    li, lj = labels[:, iu], labels[:, ju]
    same = (li == lj) & (li >= 0) & held[:, iu] & held[:, ju]
    pair_flat = (np.arange(b)[:, None] * k + li)[same]
    corr_sum = np.bincount(pair_flat, pairs[same], minlength=size).reshape(b, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(n_held >= 2, 2.0 * corr_sum / np.maximum(n_held * (n_held - 1), 1), 0.0)
        live = (n_held > 0) & (book[:, None] > HELD_MIN_NOTIONAL)
        weight = np.where(live, notional / np.where(book > 0, book, 1.0)[:, None], 0.0)
        concentration = np.where(live, np.abs(net) / np.where(notional > 0, notional, 1.0), 0.0)
    stress = np.where(live, np.clip(weight * concentration * correlation, 0.0, 1.0), 0.0)
    total = np.clip(stress.sum(axis=1), 0.0, 1.0)
    return BatchClusters(labels, pattern, members, np.where(live, n_held, 0), np.where(live, notional, 0.0),
                         weight, concentration, np.where(live, correlation, 0.0), stress, total)
