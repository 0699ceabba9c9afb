"""P2.7 maths without sockets or Redis: returns, correlations, clusters, ClusterStress, the grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from actors.buffer import min_points_over_relevant as buffer_min_points
from actors.grid import PriceGrid, add_tick
from actors.clustering import cluster_id, cluster_labels, cluster_metrics, min_points_over_relevant
from actors.correlation import correlate_window, log_returns, pairwise_pearson, realized_vol
from actors.snapshots import held_symbols, signed_notional


def corr2(a: float) -> np.ndarray:
    return np.array([[1.0, a], [a, 1.0]])


# --------------------------------------------------------------------------- ClusterStress


def test_stress_of_one_long_cluster_matches_production_example():
    corr = corr2(0.788)
    labels = cluster_labels(corr, 0.70)
    clusters, stress = cluster_metrics(["BTCUSDT", "ETHUSDT"], corr, labels, {"BTCUSDT": 32000.0, "ETHUSDT": 27200.0})
    assert len(clusters) == 1
    assert stress == pytest.approx(0.788)
    assert clusters[0].weight == pytest.approx(1.0) and clusters[0].concentration == pytest.approx(1.0)


def test_long_and_short_in_one_cluster_lower_concentration():
    corr = corr2(0.9)
    labels = cluster_labels(corr, 0.70)
    clusters, stress = cluster_metrics(["A", "B"], corr, labels, {"A": 300.0, "B": -100.0})
    (c,) = clusters
    assert c.notional == pytest.approx(400.0)
    assert c.concentration == pytest.approx(200.0 / 400.0)
    assert stress == pytest.approx(1.0 * 0.5 * 0.9)


def test_singletons_have_zero_correlation_and_zero_stress():
    corr = corr2(0.2)
    labels = cluster_labels(corr, 0.70)
    clusters, stress = cluster_metrics(["A", "B"], corr, labels, {"A": 100.0, "B": 100.0})
    assert len(clusters) == 2
    assert all(c.correlation == 0.0 and c.stress == 0.0 for c in clusters)
    assert all(c.weight == pytest.approx(0.5) for c in clusters)
    assert stress == 0.0


def test_held_symbol_with_too_few_points_dilutes_weight_but_forms_no_cluster():
    corr = corr2(0.8)
    labels = cluster_labels(corr, 0.70)
    notionals = {"A": 100.0, "B": 100.0, "C": 200.0}  # C is held but not in the matrix
    clusters, stress = cluster_metrics(["A", "B"], corr, labels, notionals)
    (c,) = clusters
    assert c.weight == pytest.approx(0.5)
    assert stress == pytest.approx(0.5 * 1.0 * 0.8)


def test_correlation_is_mean_over_held_members_only_and_unheld_clusters_are_dropped():
    corr = np.array([[1, .9, .8, .1], [.9, 1, .7, .1], [.8, .7, 1, .1], [.1, .1, .1, 1]])
    symbols = ["A", "B", "C", "D"]
    labels = cluster_labels(corr, 0.70)
    clusters, stress = cluster_metrics(symbols, corr, labels, {"A": 50.0, "C": 50.0})
    (c,) = clusters
    assert c.symbols == ["A", "B", "C"]
    assert c.correlation == pytest.approx(0.8)
    assert stress == pytest.approx(0.8)


def test_a_member_is_held_above_1e_9_of_notional_however_small():
    """SPEC: only members with notional > 1e-9 count. 1e-6 is held (a dust position is still a position); 1e-9 is not,
    live and in the backtest (whose random books in the parity test hold no such dust)."""
    from actors.clustering import batch_cluster_metrics
    corr = np.array([[1, .9, .8, .1], [.9, 1, .7, .1], [.8, .7, 1, .1], [.1, .1, .1, 1]])
    clusters, _ = cluster_metrics(list("ABCD"), corr, cluster_labels(corr, 0.70), {"A": 50.0, "B": 1e-6, "C": 1e-9})
    (c,) = clusters
    assert c.correlation == pytest.approx(0.9)  # over A and B, the held members; C at 1e-9 is not held
    assert held_symbols({"B": -1e-6, "C": 1e-9, "D": -1e-9}) == {"B"}
    bc = batch_cluster_metrics(list("ABCD"), corr[np.triu_indices(4, 1)][None, :], np.ones((1, 4), dtype=bool),
                               np.array([[50.0, 1e-6, 1e-9, 0.0]]), 0.70)
    assert (bc.n_held[0, 0], bc.correlation[0, 0]) == (2, pytest.approx(0.9))


def test_cluster_stress_sum_is_clipped_to_one():
    # Pairwise-complete correlations need not form a valid matrix; 1.2 makes each cluster 0.5 x 1 x 1.2.
    corr = np.eye(4)
    corr[0, 1] = corr[1, 0] = 1.2
    corr[2, 3] = corr[3, 2] = 1.2
    clusters, stress = cluster_metrics(list("ABCD"), corr, cluster_labels(corr, 0.7),
                                       {s: 100.0 for s in "ABCD"})
    assert [c.stress for c in clusters] == [pytest.approx(0.6), pytest.approx(0.6)]
    assert stress == 1.0


def test_a_chained_cluster_with_negative_mean_correlation_has_stress_clipped_to_zero():
    # A-B, B-C, C-D at 0.7 chain A..D into one cluster; the other pairs at -1 make its mean
    # correlation (3 x 0.7 - 3) / 6 = -0.15. E-F is an ordinary cluster at 0.8.
    corr = np.full((6, 6), -1.0)
    np.fill_diagonal(corr, 1.0)
    for i, j, c in [(0, 1, 0.7), (1, 2, 0.7), (2, 3, 0.7), (4, 5, 0.8)]:
        corr[i, j] = corr[j, i] = c
    clusters, stress = cluster_metrics(list("ABCDEF"), corr, cluster_labels(corr, 0.70),
                                       {s: 100.0 for s in "ABCDEF"})
    by_members = {"".join(c.symbols): c for c in clusters}
    chain, pair = by_members["ABCD"], by_members["EF"]
    assert chain.correlation == pytest.approx(-0.15)
    assert chain.stress == 0.0
    assert pair.stress == pytest.approx(2 / 6 * 0.8)
    assert stress == pytest.approx(2 / 6 * 0.8)  # the chain's negative stress does not cancel the pair's


def test_no_notional_gives_no_clusters_and_zero_stress():
    corr = corr2(0.9)
    assert cluster_metrics(["A", "B"], corr, cluster_labels(corr, 0.7), {}) == ([], 0.0)


def test_a_net_short_cluster_has_the_concentration_and_stress_of_its_mirror_image_long():
    corr = corr2(0.9)
    labels = cluster_labels(corr, 0.70)
    clusters, stress = cluster_metrics(["A", "B"], corr, labels, {"A": -300.0, "B": 100.0})
    (c,) = clusters
    assert c.concentration == pytest.approx(200.0 / 400.0)  # |sum(side x notional)|: a short bet is a bet
    assert stress == pytest.approx(1.0 * 0.5 * 0.9)


def test_cluster_ids_depend_on_members_not_order():
    assert cluster_id(["ETHUSDT", "BTCUSDT"]) == cluster_id(["BTCUSDT", "ETHUSDT"])
    assert cluster_id(["BTCUSDT"]) != cluster_id(["BTCUSDT", "ETHUSDT"])


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(0, 10_000))
def test_threshold_clusters_equal_connected_components_of_corr_above_070(k, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (k, k))
    corr = np.clip((a + a.T) / 2, -1, 1)
    np.fill_diagonal(corr, 1.0)
    labels = cluster_labels(corr, 0.70)
    _, expected = connected_components(csr_matrix(corr >= 0.70), directed=False)
    # Same partition: i and j share a label in one iff they share it in the other.
    assert np.array_equal(labels[:, None] == labels[None, :], expected[:, None] == expected[None, :])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_connected_components_number_components_as_scipy_does(k, density, seed):
    """actors.clustering's own components (scipy.sparse's import cost every clusterer start 0.1 s): the same labels,
    numbers included (cluster_metrics orders clusters by them), as scipy's directed=True "strong" call the clusterer
    made before, on symmetric graphs of every density."""
    from actors.clustering import connected_components as own_components
    rng = np.random.default_rng(seed)
    edges = rng.uniform(0, 1, (k, k)) < density * density * 0.3
    if seed % 3 == 0:  # a chain, its nodes in a random order: the most rounds of label passing
        edges[:] = False
        order = rng.permutation(k)
        edges[order[:-1], order[1:]] = True
    edges |= edges.T
    np.fill_diagonal(edges, seed % 2 == 0)  # with and without the diagonal (corr >= threshold holds it)
    _, expected = connected_components(csr_matrix(edges), directed=True, connection="strong")
    got = own_components(edges)
    assert got.dtype == expected.dtype and np.array_equal(got, expected), (got, expected)


def test_a_correlation_of_exactly_070_is_an_edge_and_one_just_below_is_not():
    # The random matrices above never hold 0.70 itself, so they cannot tell >= from >.
    assert len(set(cluster_labels(corr2(0.70), 0.70))) == 1
    assert len(set(cluster_labels(corr2(np.nextafter(0.70, 0.0)), 0.70))) == 2


# Powers-of-two prices: each log return is a whole number of ln 2, so the returns' correlation is exact rational
# arithmetic on these steps, and it is 0.70 exactly (checked below). Float summation put the first pair at
# 0.7 live and 0.6999999999999998 in the backtest, the second the other way round.
EXACTLY_070_STEPS = [
    ([-1, 1, -1, 0, 3, -1, 0, -2, 1, 0], [1, 0, -3, 1, 3, 1, -2, -4, 3, 0]),
    ([0, 1, -3, 2, 0, -1, 3, 1, -2, -1], [1, 1, -4, 0, 2, 0, 2, 0, 0, -2]),
]


@pytest.mark.parametrize("steps", EXACTLY_070_STEPS)
def test_returns_that_correlate_exactly_070_are_an_edge_live_and_in_the_backtest(steps):
    """edges: 38 of 145 such histories were no edge live (a correlation of 0.6999999999999997), and 19 of them
    were an edge on one side only (live or backtest): the correlation is compared as it is published, rounded to
    CORR_DECIMALS, and a two-member cluster's recorded correlation is that 0.7."""
    from fractions import Fraction
    from actors.clustering import batch_cluster_metrics
    from actors.correlation import returns_on_grid, rolling_correlator
    x, y = steps
    n = len(x)
    cx = [Fraction(a) - Fraction(sum(x), n) for a in x]
    cy = [Fraction(b) - Fraction(sum(y), n) for b in y]
    sxy, sxx, syy = (sum(a * b for a, b in zip(u, v)) for u, v in ((cx, cy), (cx, cx), (cy, cy)))
    assert sxy > 0 and sxy * sxy / (sxx * syy) == Fraction(49, 100)  # exactly 0.70
    prices = np.vstack([64.0 * 2.0 ** np.concatenate([[0], np.cumsum(x)]),
                        32.0 * 2.0 ** np.concatenate([[0], np.cumsum(y)])])
    live = correlate_window(["BTCUSDT", "ETHUSDT"], prices, cadence_s=60, min_returns=10)["matrix"]
    held = {"BTCUSDT": 1000.0, "ETHUSDT": 1000.0}
    clusters, _ = cluster_metrics(["BTCUSDT", "ETHUSDT"], live, cluster_labels(live, 0.70), held)
    assert [c.correlation for c in clusters] == [0.70], (live[0, 1], clusters)
    w = rolling_correlator(returns_on_grid(prices), np.zeros((1, 2)), np.zeros(1), n, n + 1, lookback=n,
                           min_returns=10, cadence_s=60, max_price_age_s=1e9)
    bc = batch_cluster_metrics(["BTCUSDT", "ETHUSDT"], w["pairs"], w["in_matrix"], np.array([[1000.0, 1000.0]]), 0.70)
    assert bc.labels.tolist() == [[0, 0]] and bc.correlation[0, 0] == 0.70, (w["pairs"], bc.labels)


def test_a_slot_whose_pair_is_exactly_070_is_not_given_the_partition_of_a_slot_without_the_edge():
    """The backtest clusters each distinct edge pattern once: a slot with the pair at exactly 0.70 (an edge, SPEC's
    corr >= 0.70) and one with it at 0.5 are two patterns, one cluster and two. Keyed by corr > 0.70 they were one
    pattern, and the second slot took the first's partition (a cluster of two at 0.5)."""
    from actors.clustering import batch_cluster_metrics
    bc = batch_cluster_metrics(["BTCUSDT", "ETHUSDT"], np.array([[0.70], [0.5]]), np.ones((2, 2), dtype=bool),
                               np.full((2, 2), 1000.0), 0.70)
    assert bc.labels.tolist() == [[0, 0], [0, 1]]
    assert bc.cluster_stress.tolist() == [0.70, 0.0]


def test_average_and_complete_linkage_cut_at_one_minus_threshold():
    corr = np.array([[1, .9, .8], [.9, 1, .65], [.8, .65, 1]])
    assert len(set(cluster_labels(corr, 0.70, "threshold"))) == 1
    assert len(set(cluster_labels(corr, 0.70, "average"))) == 1   # C joins {A, B} at mean corr 0.725
    assert len(set(cluster_labels(corr, 0.70, "complete"))) == 2  # ... but its weakest link is 0.65


@pytest.mark.parametrize("method", ["average", "complete"])
def test_linkage_joins_a_pair_at_exactly_070_and_not_just_below(method):
    """corr >= 0.70 joins under every method: the linkage cut at distance 1 - 0.70 (0.30000000000000004 in floats,
    as is 1 - corr) keeps a merge at that height."""
    assert len(set(cluster_labels(corr2(0.70), 0.70, method))) == 1
    assert len(set(cluster_labels(corr2(np.nextafter(0.70, 0.0) - 1e-9), 0.70, method))) == 2


def test_min_points_counts_held_and_matrix_symbols_only():
    points = {"BTCUSDT": 300, "ETHUSDT": 290, "SOLUSDT": 0}
    assert min_points_over_relevant(points, ["BTCUSDT", "ETHUSDT"], set()) == 290
    assert min_points_over_relevant(points, ["BTCUSDT", "ETHUSDT"], {"SOLUSDT"}) == 0
    assert buffer_min_points(points, set()) == 290


# --------------------------------------------------------------------------- snapshots


def test_notional_prefers_notional_usd_and_takes_side_from_position_amt():
    now = 1_000_000.0
    assert signed_notional({"position_amt": "-2", "mark_price": "10", "ts_epoch": str(int(now))}, now, 300) == -20.0
    assert signed_notional({"position_amt": "-2", "mark_price": "10", "notional_usd": "25", "ts_epoch": str(int(now))}, now, 300) == -25.0


def test_stale_or_future_snapshot_is_not_held():
    now = 1_000_000.0
    fields = {"position_amt": "1", "mark_price": "10"}
    assert signed_notional({**fields, "ts_epoch": str(int(now - 301))}, now, 300) is None
    assert signed_notional({**fields, "ts_epoch": str(int(now + 60))}, now, 300) is None


# --------------------------------------------------------------------------- correlations


def per_pair_reference(returns: np.ndarray, min_common: int) -> np.ndarray:
    k = returns.shape[0]
    out = np.eye(k)
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            both = np.isfinite(returns[i]) & np.isfinite(returns[j])
            if both.sum() >= min_common and np.std(returns[i][both]) > 0 and np.std(returns[j][both]) > 0:
                out[i, j] = np.corrcoef(returns[i][both], returns[j][both])[0, 1]
            else:
                out[i, j] = 0.0
    return out


def test_correlations_equal_per_pair_numpy_on_series_with_gaps():
    rng = np.random.default_rng(3)
    common = rng.normal(0, 0.01, 361)
    prices = np.exp(np.cumsum(common[None, :] * rng.uniform(0.2, 1.0, (6, 1)) + rng.normal(0, 0.01, (6, 361)), axis=1)) * 100
    prices[rng.random(prices.shape) < 0.25] = np.nan
    prices[5, :340] = np.nan  # a late starter with few common points
    returns = log_returns(prices)
    np.testing.assert_allclose(pairwise_pearson(returns, 10), per_pair_reference(returns, 10), atol=1e-9)


def test_correlations_without_gaps_equal_numpy_corrcoef():
    rng = np.random.default_rng(4)
    returns = rng.normal(0, 1, (5, 100))
    np.testing.assert_allclose(pairwise_pearson(returns), np.corrcoef(returns), atol=1e-12)


def test_a_slot_without_price_breaks_both_neighbouring_returns():
    r = log_returns(np.array([[100.0, 110.0, np.nan, 121.0, 133.1]]))
    assert np.isnan(r[0, 1]) and np.isnan(r[0, 2])
    assert r[0, 0] == pytest.approx(math.log(1.1)) and r[0, 3] == pytest.approx(math.log(1.1))


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 40)),
              elements=st.one_of(st.just(np.nan), st.floats(1e-3, 1e6))))
# A series and its reciprocal: correlation -1 exactly, which the sums may put at -1.0000000000000002 before the clip
# (some machines' BLAS). The rounding to CORR_DECIMALS after it hides that here; the clip itself is checked on
# pairwise_pearson by test_a_perfectly_correlated_pair_is_never_past_one_in_pairwise_pearson.
@example(np.array([[101.74, 106.01, 107.78], [1 / 101.74, 1 / 106.01, 1 / 107.78]]))
def test_matrix_never_holds_nan_or_values_outside_minus_one_one(prices):
    for shrinkage in ("none", "ledoit_wolf"):
        result = correlate_window([f"S{i}" for i in range(prices.shape[0])], prices, cadence_s=60,
                                  min_returns=2, shrinkage=shrinkage)
        m = result["matrix"]
        assert np.all(np.isfinite(m))
        assert np.all(np.abs(m) <= 1.0)
        assert np.allclose(m, m.T)


def test_a_perfectly_correlated_pair_is_never_past_one_in_pairwise_pearson():
    """The sums put about one perfectly correlated (or anti-correlated) pair in five at +-1.0000000000000002, rows
    with or without gaps alike: the clip keeps the matrix in [-1, 1]. (correlate_window then rounds to CORR_DECIMALS,
    which would hide the overshoot from a test through it: this one calls the maths itself.)"""
    rng = np.random.default_rng(7)
    for i in range(200):
        x = rng.normal(0, 1, int(rng.integers(3, 9)))
        y = x * (-1.0 if i % 2 else 1.0) * 10 ** rng.uniform(-3, 3)
        rows = [x, y]
        if i % 4 >= 2:  # a third row with a gap: the pairwise (gaps) sums
            gap = rng.normal(0, 1, len(x))
            gap[0] = np.nan
            rows.append(gap)
        m = pairwise_pearson(np.vstack(rows))
        assert np.all(np.abs(m) <= 1.0), (i, m)


def test_symbol_enters_matrix_with_ten_returns_and_ready_needs_two():
    rng = np.random.default_rng(5)
    prices = np.exp(np.cumsum(rng.normal(0, 0.01, (3, 20)), axis=1))
    prices[2, :9] = np.nan  # 11 points, 10 returns: in (SPEC's minimum itself, not only beyond it)
    result = correlate_window(["A", "B", "C"], prices, cadence_s=60, min_returns=10)
    assert result["symbols"] == ["A", "B", "C"] and result["ready"]
    prices[2, :10] = np.nan  # 9 returns: out
    result = correlate_window(["A", "B", "C"], prices, cadence_s=60, min_returns=10)
    assert result["symbols"] == ["A", "B"] and result["ready"]
    prices[1, :10] = np.nan
    result = correlate_window(["A", "B", "C"], prices, cadence_s=60, min_returns=10)
    assert not result["ready"] and result["reason"] == "too_few_symbols"


def test_the_backtests_correlator_is_not_ready_with_one_symbol_in_the_matrix_as_the_live_one():
    """SPEC: ready when at least 2 symbols are in the matrix. One symbol with enough returns beside two still warming
    up: the live correlator says too_few_symbols, and so must the backtest's (a backtest ready on one symbol wrote a
    state of ClusterStress 0, K from the cluster, where the live gate fell back to the proxy)."""
    from actors.correlation import returns_on_grid, rolling_correlator
    rng = np.random.default_rng(5)
    prices = np.exp(np.cumsum(rng.normal(0, 0.01, (3, 20)), axis=1))
    prices[1:, :10] = np.nan  # B and C: 10 points, 9 returns each, out; A alone in the matrix
    live = correlate_window(["A", "B", "C"], prices, cadence_s=60, min_returns=10)
    assert (live["symbols"], live["ready"], live["reason"]) == (["A"], False, "too_few_symbols")
    w = rolling_correlator(returns_on_grid(prices), np.zeros((1, 3)), np.zeros(1), 19, 20, lookback=19,
                           min_returns=10, cadence_s=60, max_price_age_s=1e9)
    assert (w["in_matrix"].tolist(), w["ready"].tolist(), w["reason"]) == ([[True, False, False]], [False],
                                                                           ["too_few_symbols"])


def test_a_states_price_age_is_that_of_the_newest_price_over_the_matrix_symbols():
    """The cluster state's newest_price_ts and price_age_s (written to Redis beside it, shown by status) are the
    newest accepted tick over the matrix's symbols, not the oldest of them."""
    now = 1_700_000_000.0
    prices = np.exp(np.cumsum(np.random.default_rng(6).normal(0, 0.01, (2, 20)), axis=1))
    live = correlate_window(["A", "B"], prices, cadence_s=60, min_returns=10, newest_tick_ts={"A": now - 10.0,
                            "B": now - 100.0}, now_s=now, max_price_age_s=300.0)
    assert (live["symbols"], live["newest_price_ts"], live["price_age_s"]) == (["A", "B"], now - 10.0, 10.0)


@pytest.mark.parametrize("age_s, fresh", [(300.0, True), (300.5, False)])
def test_a_price_exactly_max_price_age_s_old_is_fresh_live_in_the_clusterer_and_in_the_backtest(age_s, fresh):
    """max_price_age_s bounds how old a price may be: one exactly that old is still fresh (only older is stale), for
    each symbol's own newest tick (in the matrix or out), for the matrix's newest price (ready or prices_stale), in
    the clusterer's second look at a queued matrix, and in the backtest's correlator, which must agree with all."""
    from actors.clusterer import matrix_is_stale
    from actors.correlation import returns_on_grid, rolling_correlator
    now = 1_700_000_000.0
    rng = np.random.default_rng(6)
    prices = np.exp(np.cumsum(rng.normal(0, 0.01, (2, 20)), axis=1))
    live = correlate_window(["A", "B"], prices, cadence_s=60, min_returns=10, newest_tick_ts={"A": now - age_s,
                            "B": now - age_s}, now_s=now, max_price_age_s=300.0)
    assert (live["symbols"], live["ready"], live["price_age_s"]) == (["A", "B"] if fresh else [], fresh, age_s)
    assert matrix_is_stale({"newest_price_ts": now - age_s}, now, 300.0) is not fresh
    w = rolling_correlator(returns_on_grid(prices), np.full((1, 2), now - age_s), np.array([now]), 19, 20,
                           lookback=19, min_returns=10, cadence_s=60, max_price_age_s=300.0)
    assert (w["in_matrix"].tolist(), w["ready"].tolist()) == ([[fresh, fresh]], [fresh])
    if not fresh:
        assert live["reason"] == w["reason"][0] == "prices_stale"


def test_realized_vol_is_annualised_from_the_cadence():
    returns = np.array([[0.01, -0.01] * 50])
    sd = np.std(returns[0], ddof=1)
    assert realized_vol(returns, 60.0)[0] == pytest.approx(sd * math.sqrt(365 * 86400 / 60))


# --------------------------------------------------------------------------- the grid


def test_grid_keeps_latest_price_per_slot_and_ignores_late_older_ticks():
    grid = PriceGrid(["A"], 1.0, 5, head_slot=100)
    assert grid.add("A", 10.0, 100.5) is None
    assert grid.add("A", 9.0, 100.2) == "superseded"
    assert grid.add("A", 11.0, 100.5) is None  # a duplicate timestamp: the last one wins
    assert grid.add("A", 7.0, 99.1) is None     # an out-of-order tick fills its own earlier slot
    assert grid.add("A", 1.0, 90.0) == "too_old"
    assert grid.prices[0, -1] == 11.0 and grid.prices[0, -2] == 7.0
    grid.advance(103)
    first, window = grid.window(4)
    assert first == 99
    assert window[0].tolist()[:2] == [7.0, 11.0] and np.isnan(window[0, 2:]).all()


def test_a_tick_from_the_future_never_moves_the_head_past_the_open_slot():
    grid = PriceGrid(["A"], 60.0, 5, head_slot=100)  # slot 100 is [6000, 6060)
    early, late = 6001.0, 6057.0
    assert add_tick(grid, "A", 10.0, early + 6, early) == "future_ts"  # in the open slot, beyond the skew
    assert add_tick(grid, "A", 10.0, 6000.0 + 3600, late) == "future_ts"
    assert grid.head_slot == 100 and np.isnan(grid.prices).all()
    # Within the skew but in slot 101: recorded as of now, in the open slot 100 (issue 17, slot edge).
    edge = PriceGrid(["A"], 60.0, 5, head_slot=100)
    assert add_tick(edge, "A", 10.5, late + 4, late) is None
    assert edge.head_slot == 100 and edge.prices[0, -1] == 10.5
    assert add_tick(grid, "A", 11.0, early + 5, early) is None  # 5 s ahead, in the open slot
    assert add_tick(grid, "A", 12.0, late + 2, late) is None
    later = late + 10  # slot 101 is open now: its real ticks are used, none superseded
    assert add_tick(grid, "A", 13.0, later - 1, later) is None
    assert grid.head_slot == 101 and grid.prices[0, -2:].tolist() == [12.0, 13.0]


def test_grid_history_round_trips_and_gap_becomes_nan():
    grid = PriceGrid(["A", "B"], 1.0, 6, head_slot=10)
    grid.add("A", 1.0, 9.0)
    grid.add("B", 2.0, 10.0)
    saved = PriceGrid.from_blob(grid.to_blob())
    fresh = PriceGrid(["B", "A", "C"], 1.0, 6, head_slot=13)
    fresh.merge_from(saved)
    assert fresh.prices[1, -5] == 1.0 and fresh.prices[0, -4] == 2.0
    assert np.isnan(fresh.prices[:, -3:]).all() and np.isnan(fresh.prices[2]).all()


@pytest.mark.parametrize("blob", [b"", b"garbage", b'{"v":1}\n', b'{"v":1,"cadence_s":1,"symbols":["A"],"head_slot":3,"capacity":2}\nshort',
                                  b'{"v":1,"cadence_s":1,"symbols":["A"],"head_slot":' + str(2 ** 53).encode()
                                  + b',"capacity":1}\n' + np.ones(1).astype("<f8").tobytes()])
def test_corrupt_history_is_refused_with_a_reason(blob):
    with pytest.raises(ValueError):
        PriceGrid.from_blob(blob)


def test_a_published_slot_past_any_time_is_unknown_and_the_history_still_saves():
    """buffermark: kept, to_blob's isfinite of it raised OverflowError (an int past any float)."""
    blob = (b'{"v":1,"cadence_s":1,"symbols":["A"],"head_slot":3,"capacity":1,"published_slot":1' + b"0" * 400
            + b'}\n' + np.ones(1).astype("<f8").tobytes())
    saved = PriceGrid.from_blob(blob)
    assert saved.published_slot == -math.inf
    assert PriceGrid.from_blob(saved.to_blob()).head_slot == 3


# --------------------------------------------------------------------------- fast paths pinned to references


@pytest.mark.parametrize("sparse_fraction", [0.15, 0.0])  # gaps as a sparse product / dense products
def test_gap_paths_equal_per_pair_numpy(monkeypatch, sparse_fraction):
    import actors.correlation as correlator

    monkeypatch.setattr(correlator, "SPARSE_GAP_FRACTION", sparse_fraction)
    rng = np.random.default_rng(7)
    k, t = 40, 200
    common = rng.normal(0, 0.01, t)
    prices = np.exp(np.cumsum(common[None, :] * rng.uniform(-1, 1, (k, 1)) + rng.normal(0, 0.01, (k, t)), axis=1)) * 100
    prices[rng.random(prices.shape) < 0.03] = np.nan
    prices[3, :150] = np.nan        # a late starter
    prices[5] = 100.0               # no variance: correlates 0
    prices[6, 1::2] = np.nan        # every return missing
    prices[7, 10:20] = 100.0        # a flat stretch inside an otherwise moving series
    returns = log_returns(prices)
    assert np.isnan(returns).mean() < 0.15  # the sparse branch is exercised when allowed
    got = pairwise_pearson(returns, 10)
    np.testing.assert_allclose(got, per_pair_reference(returns, 10), atol=1e-9)
    assert np.array_equal(got, got.T)


def test_no_gap_path_is_exactly_symmetric_and_zeroes_flat_series():
    rng = np.random.default_rng(8)
    returns = rng.normal(0, 1, (30, 120))
    returns[4] = 0.25
    got = pairwise_pearson(returns, 10)
    assert np.array_equal(got, got.T)
    np.testing.assert_allclose(got, per_pair_reference(returns, 10), atol=1e-12)


def test_cluster_metrics_equal_a_direct_computation_on_a_large_cluster():
    rng = np.random.default_rng(9)
    k = 40
    a = rng.uniform(0.5, 1.0, (k, k))
    corr = (a + a.T) / 2
    np.fill_diagonal(corr, 1.0)
    corr[30:, :30] = corr[:30, 30:] = 0.1  # symbols 30.. form a second cluster
    symbols = [f"S{i:02d}" for i in range(k)]
    notionals = {s: float(rng.uniform(-100, 100)) for s in symbols[::3] + symbols[1:25]}
    clusters, stress = cluster_metrics(symbols, corr, cluster_labels(corr, 0.5), notionals)
    book = sum(abs(v) for v in notionals.values())
    expected = []
    for group in (range(30), range(30, 40)):
        held = [i for i in group if symbols[i] in notionals]
        sides = np.array([notionals[symbols[i]] for i in held])
        sub = corr[np.ix_(held, held)]
        correlation = (sub.sum() - np.trace(sub)) / (len(held) * (len(held) - 1))
        expected.append(np.clip(np.abs(sides).sum() / book * abs(sides.sum()) / np.abs(sides).sum() * correlation, 0, 1))
    assert sorted(c.stress for c in clusters) == pytest.approx(sorted(expected), abs=1e-12)
    assert stress == pytest.approx(min(sum(expected), 1.0), abs=1e-12)
