"""Issue 17, cluster side hardening, as plain functions: each test is named after the problem it pins."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from actors.window_message import window_header
from actors.grid import PriceGrid, add_tick
from actors.correlation import correlate_window
from launcher import keys

CADENCE_S = 60.0


def correlated_grid(symbols: list[str], slots: range, seed: int = 3, capacity: int = 40) -> PriceGrid:
    """A grid whose symbols move together, one tick per slot, 1 s after the slot opens."""
    rng = np.random.default_rng(seed)
    grid = PriceGrid(symbols, CADENCE_S, capacity, slots.start)
    log_p = np.log(np.full(len(symbols), 100.0))
    for slot in slots:
        market = rng.normal(0, 0.01)
        log_p += market + rng.normal(0, 0.002, len(symbols))
        for symbol, lp in zip(symbols, log_p):
            assert add_tick(grid, symbol, float(math.exp(lp)), slot * CADENCE_S + 1, slot * CADENCE_S + 2) is None
    return grid


def window_at(grid: PriceGrid, now_s: float, points: int = 31) -> tuple[dict, np.ndarray]:
    grid.advance(grid.slot_of(now_s))
    first, prices = grid.window(points)
    return window_header(grid.symbols, CADENCE_S, first, prices, now_s, grid.newest_tick_ts()), prices


# --------------------------------------------------------------------------- #2 prices stopped


def test_prices_that_stopped_make_the_correlator_not_ready_once_older_than_max_price_age():
    grid = correlated_grid(["BTCUSDT", "ETHUSDT"], range(1000, 1030))
    last_tick_s = 1029 * CADENCE_S + 1
    header, prices = window_at(grid, last_tick_s + 2 * CADENCE_S)
    fresh = correlate_window(header["symbols"], prices, cadence_s=CADENCE_S, min_returns=10,
                             newest_tick_ts=header["newest_tick_ts"], now_s=last_tick_s + 2 * CADENCE_S,
                             max_price_age_s=5 * CADENCE_S)
    assert fresh["ready"] and fresh["price_age_s"] == pytest.approx(2 * CADENCE_S)
    # Six cadences without a tick: the window still holds 20+ returns, yet the state must not look fresh.
    now = last_tick_s + 6 * CADENCE_S
    header, prices = window_at(grid, now)
    assert min(header["points_per_symbol"].values()) >= 20
    stale = correlate_window(header["symbols"], prices, cadence_s=CADENCE_S, min_returns=10,
                             newest_tick_ts=header["newest_tick_ts"], now_s=now, max_price_age_s=5 * CADENCE_S)
    assert not stale["ready"] and stale["reason"] == "prices_stale"
    assert stale["price_age_s"] == pytest.approx(6 * CADENCE_S)
    assert stale["newest_price_ts"] == last_tick_s


def test_grid_rebuilt_from_history_knows_its_newest_price():
    grid = correlated_grid(["BTCUSDT", "ETHUSDT"], range(1000, 1030))
    grid.advance(1031)
    again = PriceGrid.from_blob(grid.to_blob())
    assert again.newest_tick_ts() == {"BTCUSDT": 1029 * CADENCE_S, "ETHUSDT": 1029 * CADENCE_S}


# --------------------------------------------------------------------------- #1 clock step


def test_a_head_moved_ahead_by_a_clock_step_goes_back_keeping_the_slots_not_in_the_future():
    from actors.grid import clock_step_s, head_ahead_of_clock
    grid = correlated_grid(["BTCUSDT", "ETHUSDT"], range(1000, 1030))
    real_now = 1030 * CADENCE_S + 1
    grid.advance(grid.slot_of(real_now + 3 * CADENCE_S))  # the clock ran 3 cadences ahead for one publish
    assert head_ahead_of_clock(grid, real_now)
    # Before the fix a real tick was too_old here until the clock caught up with the head.
    grid.rewind(grid.slot_of(real_now))
    assert not head_ahead_of_clock(grid, real_now)
    assert add_tick(grid, "BTCUSDT", 100.0, real_now, real_now) is None
    first, prices = grid.window(31)
    assert np.isfinite(prices).sum(axis=1).min() >= 29
    assert grid.newest_tick_ts()["BTCUSDT"] == real_now
    assert clock_step_s(1000.0, 5.0, 4601.0, 6.0) == pytest.approx(3600.0)
    assert clock_step_s(1000.0, 5.0, 1060.0, 65.0) == pytest.approx(0.0)


# --------------------------------------------------------------------------- #5 realized vol without a TTL


def realized_replies(now: float, vol_updated_ts: float | None) -> list:
    """One state read with sigma_source realized: two snapshots, the cluster state, then realized vol."""
    return [["0.5", "64000", str(int(now)), None], ["8", "3400", str(int(now)), None],
            [str(int(now) - 1), "0.748"],
            [None if vol_updated_ts is None else str(vol_updated_ts), "0.02", "0.03"]]


def test_realized_vol_older_than_the_cluster_freshness_window_falls_back_to_the_constant_sigma():
    """Issue 17 #5: with the clusterer killed K fell back to the proxy, yet the gate kept the old sigmas."""
    from actors.gate import StateCache, parse_state, state_commands
    from actors.policy import Proposal, evaluate
    from launcher.topology import GateSettings
    settings, now, freshness_s = GateSettings(sigma_source="realized"), 1_800_000_000.0, 120.0
    symbols = ["BTCUSDT", "ETHUSDT"]
    read = state_commands(symbols, "quantum:position:snapshot:{symbol}", realized=True)[-1]
    assert read[:3] == ("HMGET", "quantum:portfolio:realized_vol", "updated_ts")  # the vol's own timestamp
    proposal = Proposal("p1", "BTCUSDT", "PARTIAL_50")

    fresh = parse_state(realized_replies(now, now - 60), symbols, now, 300.0, freshness_s, realized=True)
    assert fresh.sigmas == {"BTCUSDT": 0.02, "ETHUSDT": 0.03}
    decision, _ = evaluate(proposal, fresh, allowed=True, settings=settings, now=now)
    assert decision["sigma_source"] == "realized"

    for vol_ts in (now - 600, None, now + 60):  # old, missing (written before the fix), from the future
        stale = parse_state(realized_replies(now, vol_ts), symbols, now, 300.0, freshness_s, realized=True)
        assert stale.sigmas is None
        decision, metrics = evaluate(proposal, stale, allowed=True, settings=settings, now=now)
        assert decision["sigma_source"] == "constant_fallback"
        assert metrics.heat == 1.0  # the constant sigma 1.0, not the old 0.02 / 0.03

    # The cache judges the vol's freshness at decision time, like a read then would.
    cache = StateCache(realized_replies(now, now - 60), symbols, read_at=now, stale_after_s=300.0,
                       freshness_s=freshness_s, realized=True, settings=settings)
    assert cache.state_at(now)[0].sigmas is not None
    assert cache.state_at(now + 61)[0].sigmas is None


def test_a_realized_vol_of_0_is_no_realized_vol_the_live_gate_takes_the_constant_sigma_as_the_backtest_does():
    """A flat series has no realized vol (the correlator publishes none; docs/topology.md), so a 0 in the hash
    (hand-written, or from an older writer) is none either: the live gate took it as sigma 0, so the symbol
    added nothing to heat, where the backtest (test_the_backtest_takes_the_constant_sigma_for_a_symbol_whose_
    realized_vol_is_0) takes the constant and lists the symbol as a fallback. Both now decide alike."""
    from actors.gate import parse_state
    from actors.policy import Proposal, evaluate
    from launcher.topology import GateSettings
    settings, now = GateSettings(sigma_source="realized"), 1_800_000_000.0
    replies = realized_replies(now, now - 60)
    replies[-1] = [replies[-1][0], "0.02", "0"]  # ETHUSDT's realized vol written as 0
    state = parse_state(replies, ["BTCUSDT", "ETHUSDT"], now, 300.0, 120.0, realized=True)
    assert state.sigmas == {"BTCUSDT": 0.02}
    decision, metrics = evaluate(Proposal("p1", "BTCUSDT", "PARTIAL_50"), state, allowed=True, settings=settings,
                                 now=now)
    assert decision["sigma_source"] == "realized"
    assert decision["sigma_fallback_symbols"] == ["ETHUSDT"]
    assert metrics.heat > 0.5  # ETHUSDT at the constant 1.0 (with sigma 0 it added nothing: heat 0)


def test_realized_vol_written_late_in_its_second_is_judged_to_the_ms_so_k_and_sigma_agree_at_every_instant():
    """The state writer stamps the cluster state and realized vol in one transaction, and the gate took K by
    the state's updated_ts_ms but sigma by the vol's whole-second updated_ts: for the last < 1 s of the window
    a state written at x.9 s gave K from the cluster and sigma_source constant_fallback at the same instant.
    Both are now timed by policy.cluster_state_time_s: in the gate's parse, its cache's boundaries and the
    backtest; an older writer's vol hash (no updated_ts_ms) by whole seconds, like its cluster state."""
    from launcher.backtest import ProposalRow, Settings, decide_all, gate_view
    from actors.gate import StateCache, freshness_boundaries, parse_state, state_commands
    from launcher.topology import (ClustererSettings, ClustersConfig, CorrelatorSettings, GateSettings,
                                   PermitIssuerSettings, PositionsConfig)
    settings, freshness_s, second = GateSettings(sigma_source="realized"), 120.0, 1_700_000_000
    symbols = ["BTCUSDT", "ETHUSDT"]
    stamp_ms = str(second * 1000 + 900)
    assert state_commands(symbols, "quantum:position:snapshot:{symbol}", realized=True)[-1] == (
        "HMGET", "quantum:portfolio:realized_vol", "updated_ts", "BTCUSDT", "ETHUSDT", "updated_ts_ms")

    def replies(cluster_ms, vol_ms) -> list:
        snapshot_ts = str(second + 2)  # fresh over the whole sweep
        return [["0.5", "64000", snapshot_ts, None], ["8", "3400", snapshot_ts, None],
                [str(second), "0.748", cluster_ms], [str(second), "0.02", "0.03", vol_ms]]

    written_late = replies(stamp_ms, stamp_ms)
    now = second + 120.5  # whole seconds: 120.5 s old, stale; to the ms: 119.6 s, fresh
    state = parse_state(written_late, symbols, now, 300.0, freshness_s, realized=True)
    assert state.cluster_stress == 0.748
    assert (state.sigma_source, state.sigmas) == ("realized", {"BTCUSDT": 0.02, "ETHUSDT": 0.03})
    boundaries = freshness_boundaries(written_late, symbols, 300.0, freshness_s)
    assert boundaries.count(second + 120.9) == 2  # the cluster state's and the vol's: one and the same time

    # K and sigma agree at every instant: the parse, the cache (re-parsing at its boundaries) and the backtest.
    cache = StateCache(written_late, symbols, read_at=second + 1, stale_after_s=300.0, freshness_s=freshness_s,
                       realized=True, settings=settings)
    times = [second - 0.5 + 0.05 * i for i in range(int(123 / 0.05))]
    times += [second + 120.9 + d for d in (-1e-3, -1e-6, 0.0, 1e-6, 1e-3)] + [second + d for d in (-1e-3, 0.0, 1e-3)]
    for t in sorted(times):
        direct = parse_state(written_late, symbols, t, 300.0, freshness_s, realized=True)
        cached = cache.state_at(t)[0]
        for s in (direct, cached):
            assert (s.cluster_stress is None) == (s.sigmas is None), (t - second, s.cluster_stress, s.sigma_source)
            assert s.sigma_source == ("realized" if s.cluster_stress is not None else "constant_fallback"), t
        assert (cached.cluster_stress, cached.sigmas) == (direct.cluster_stress, direct.sigmas), t - second

    # The backtest, as the gate: its state writer's stamps are int(ts) and int(ts * 1000).
    bt = Settings(ClustersConfig(), PositionsConfig(), settings, PermitIssuerSettings(), CorrelatorSettings(),
                  ClustererSettings(), symbols, {"BTCUSDT": 1.0, "ETHUSDT": 1.0})
    publish = np.array([second + 0.9, second + 120.5, second + 121.0])
    ready, stress = np.array([True, False, False]), np.array([0.748, np.nan, np.nan])
    vol, in_matrix = np.array([[0.02, 0.03]] * 3), np.ones((3, 2), dtype=bool)
    view = gate_view(bt, publish, ready, stress, vol, in_matrix, np.array([[64000.0, 3400.0]] * 3))
    assert list(view["k_source"]) == ["cluster", "cluster", "proxy"]
    assert list(view["heat"]) == [0.0, 0.0, 1.0]  # realized sigmas (0.02, 0.03: heat 0) while K is the cluster's
    rows = [ProposalRow(t, {"plan_id": f"p{i}", "symbol": "BTCUSDT", "action_proposed": "HOLD"}, i)
            for i, t in enumerate(sorted(t for t in times if t >= second + 0.9))]
    for d in decide_all(bt, rows, 0, publish, ready, stress, vol, in_matrix, None, None):
        assert d["sigma_source"] == ("realized" if d["k_source"] == "cluster" else "constant_fallback"), d["ts"] - second
        assert (d["ts"] <= second + 120.9) == (d["k_source"] == "cluster"), d["ts"] - second

    # An older writer (no updated_ts_ms), a field such a writer's HSET left behind, garbage: whole seconds.
    for vol_ms in (None, "garbage", str((second - 5) * 1000), str((second + 3) * 1000)):
        older = replies(vol_ms, vol_ms)
        stale = parse_state(older, symbols, now, 300.0, freshness_s, realized=True)
        assert (stale.cluster_stress, stale.sigmas, stale.sigma_source) == (None, None, "constant_fallback"), vol_ms
        fresh = parse_state(older, symbols, second + 119.5, 300.0, freshness_s, realized=True)
        assert (fresh.cluster_stress, fresh.sigma_source) == (0.748, "realized"), vol_ms
        assert second + 120.9 not in freshness_boundaries(older, symbols, 300.0, freshness_s)
    short = written_late[:3] + [[str(second), "0.02", "0.03"]]  # a reply without the field at all
    assert parse_state(short, symbols, now, 300.0, freshness_s, realized=True).sigmas is None


def test_the_state_writer_stamps_realized_vol_to_the_ms_beside_its_whole_second(redis_server):
    from actors.gate import parse_state, state_commands
    from actors.state_writer import write_state
    from launcher.topology import validate_data
    from helpers import demo_topology_data
    r = redis_server.client()
    second = int(time.time()) - 10
    message = {"ready": True, "ts": second + 0.9, "cluster_stress": 0.5, "clusters": [],
               "realized_vol": {"BTCUSDT": 0.02, "ETHUSDT": 0.03}}
    write_state(r, message, set(), 100)
    vol = r.hgetall(keys.REALIZED_VOL)
    assert vol == {"BTCUSDT": "0.02", "ETHUSDT": "0.03", keys.REALIZED_VOL_UPDATED_TS: str(second),
                   keys.REALIZED_VOL_UPDATED_TS_MS: str(second * 1000 + 900)}
    assert vol[keys.REALIZED_VOL_UPDATED_TS_MS] == r.hget(keys.CLUSTER_STATE, "updated_ts_ms")
    # What the gate reads back is fresh for sigma exactly as long as for K.
    pipe = r.pipeline(transaction=False)
    for command in state_commands(["BTCUSDT", "ETHUSDT"], "quantum:position:snapshot:{symbol}", realized=True):
        pipe.execute_command(*command)
    read = pipe.execute()
    for t in (second + 120.85, second + 120.95):
        state = parse_state(read, ["BTCUSDT", "ETHUSDT"], t, 300.0, 120.0, realized=True)
        assert (state.cluster_stress is None) == (state.sigmas is None), t - second
    # No symbol can be named like either stamp field: symbols are upper-case (launcher/topology.py _check_symbols).
    for field in (keys.REALIZED_VOL_UPDATED_TS, keys.REALIZED_VOL_UPDATED_TS_MS):
        data = demo_topology_data()
        data["symbols"] = [*data["symbols"], field]
        assert "must be upper-case" in str(validate_data(data)[1]), field


# --------------------------------------------------------------------------- #4 one bad print


def two_correlated_and_one_independent(seed: int = 5, points: int = 361) -> np.ndarray:
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, points)
    log_p = np.vstack([np.cumsum(market + rng.normal(0, 0.004, points)),
                       np.cumsum(market + rng.normal(0, 0.004, points)),
                       np.cumsum(rng.normal(0, 0.01, points))])
    return 100.0 * np.exp(log_p)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_one_bad_print_on_an_unheld_symbol_does_not_shrink_every_correlation(seed):
    """Issue 17 #4: one SOL print 30% off for one slot took the Ledoit-Wolf intensity to 0.317 and
    corr(BTC, ETH) from 0.848 to 0.579, which split the cluster."""
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    prices = two_correlated_and_one_independent(seed)
    clean = correlate_window(symbols, prices, cadence_s=CADENCE_S, min_returns=10, shrinkage="ledoit_wolf")
    bad = prices.copy()
    bad[2, 200] *= 1.3
    dirty = correlate_window(symbols, bad, cadence_s=CADENCE_S, min_returns=10, shrinkage="ledoit_wolf")
    assert dirty["shrinkage"] == pytest.approx(clean["shrinkage"], abs=0.03)
    assert dirty["matrix"][0, 1] == pytest.approx(clean["matrix"][0, 1], abs=0.03)
    assert dirty["matrix"][0, 1] >= 0.70  # BTC and ETH stay one cluster


def test_ledoit_wolf_intensity_on_clean_gaussian_returns_is_unchanged_by_the_clipping():
    from actors.correlation import ledoit_wolf_intensity
    rng = np.random.default_rng(1)
    returns = rng.normal(0, 0.01, (5, 360))
    returns[1] += returns[0]
    unclipped = ledoit_wolf_intensity(returns, clip_robust_sd=None)
    assert ledoit_wolf_intensity(returns) == pytest.approx(unclipped, abs=0.01)


def test_a_print_30_percent_off_for_one_slot_is_refused_and_a_lasting_new_level_is_accepted():
    from actors.jumps import JumpFilter
    jumps = JumpFilter(default_limit=0.25, limits={"BTCUSDT": 0.05})
    assert not jumps.refuses("SOLUSDT", 150.0)
    jumps.accepted("SOLUSDT", 150.0)
    assert jumps.refuses("SOLUSDT", 195.0)  # one bad print, 30% off
    assert not jumps.refuses("SOLUSDT", 151.0)  # back to the real level
    jumps.accepted("SOLUSDT", 151.0)
    assert jumps.refuses("SOLUSDT", 195.0)  # a second lone bad print: the first was forgotten when 151 was taken
    assert not jumps.refuses("SOLUSDT", 150.0)
    jumps.accepted("SOLUSDT", 151.0)
    # A real move to a new level: the first print is refused, the second one that agrees is accepted.
    assert jumps.refuses("SOLUSDT", 100.0)
    assert not jumps.refuses("SOLUSDT", 101.0)
    jumps.accepted("SOLUSDT", 101.0)
    # A per-symbol limit, and no limit at all.
    jumps.accepted("BTCUSDT", 64000.0)
    assert jumps.refuses("BTCUSDT", 64000.0 * 1.06)
    assert not JumpFilter(default_limit=None, limits={}).refuses("SOLUSDT", 1e9)


def test_a_print_exactly_at_the_limit_is_accepted_and_the_topologys_per_symbol_limits_are_used():
    """SPEC of the filter: refused when *further* than the limit; and clusters.max_tick_jump_by_symbol reaches the
    filters the feed and the buffer build from the topology (a BTC limit of 5% let a 6% bad print through when
    dropped, and a wide SOL limit refused its real moves)."""
    from types import SimpleNamespace
    from actors.jumps import JumpFilter
    jumps = JumpFilter(default_limit=0.25, limits={})
    jumps.accepted("SOLUSDT", 100.0)
    assert not jumps.refuses("SOLUSDT", 125.0) and not jumps.refuses("SOLUSDT", 75.0)
    assert jumps.refuses("SOLUSDT", 125.5)
    built = JumpFilter.from_clusters(SimpleNamespace(max_tick_jump=0.25, max_tick_jump_by_symbol={"BTCUSDT": 0.05,
                                                                                                  "SOLUSDT": 0.5}))
    assert [built.limit_of(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")] == [0.05, 0.25, 0.5]
    built.accepted("BTCUSDT", 64000.0)
    built.accepted("SOLUSDT", 150.0)
    assert built.refuses("BTCUSDT", 64000.0 * 1.06) and not built.refuses("SOLUSDT", 150.0 * 1.4)


def test_the_buffer_refuses_a_bad_print_so_the_grid_never_holds_it():
    from actors.grid import add_checked_tick
    from actors.jumps import JumpFilter
    grid = PriceGrid(["SOLUSDT"], CADENCE_S, 40, 1000)
    jumps = JumpFilter(default_limit=0.25, limits={})
    assert add_checked_tick(grid, jumps, "SOLUSDT", 150.0, 1000 * CADENCE_S + 1, 1000 * CADENCE_S + 2) is None
    assert add_checked_tick(grid, jumps, "SOLUSDT", 195.0, 1001 * CADENCE_S + 1, 1001 * CADENCE_S + 2) == "jump"
    assert not np.any(grid.prices == 195.0) and grid.newest_tick_ts()["SOLUSDT"] == 1000 * CADENCE_S + 1


# --------------------------------------------------------------------------- suspicions


def test_symbols_times_lookback_beyond_the_history_bound_is_refused_naming_the_largest_lookback():
    """1,000 symbols x 100,000 returns would be an 800 MB history blob, past Redis's 512 MB strings."""
    from helpers import demo_topology_data
    from launcher.topology import MAX_GRID_PRICES, validate_data
    data = demo_topology_data()
    data["symbols"] = [f"S{i}USDT" for i in range(1000)]
    data["clusters"]["lookback_returns"] = 100_000
    _, problems = validate_data(data)
    rendered = [p.render() for p in problems]
    assert any(r.startswith("clusters.lookback_returns:") and "100,002,000 prices" in r
               and f"at most {MAX_GRID_PRICES // 1000 - 2:,}" in r for r in rendered), rendered
    data["clusters"]["lookback_returns"] = MAX_GRID_PRICES // 1000 - 2
    _, problems = validate_data(data)
    assert not [p for p in problems if p.path[:2] == ("clusters", "lookback_returns")]


def test_a_tick_stamped_just_past_the_slot_edge_by_a_clock_slightly_ahead_is_used_in_the_current_slot():
    """A redis_snapshots tick is published once: refused as future_ts, its price was never read again."""
    grid = PriceGrid(["BTCUSDT"], CADENCE_S, 40, 1000)
    edge = 1001 * CADENCE_S
    assert add_tick(grid, "BTCUSDT", 100.0, edge + 0.3, now_s=edge - 0.2) is None
    assert grid.head_slot == 1000 and grid.prices[0, -1] == 100.0
    # Beyond the allowed skew a tick is still refused.
    assert add_tick(grid, "BTCUSDT", 100.0, edge + 10.0, now_s=edge - 0.2) == "future_ts"


def test_a_tick_of_a_feed_ahead_recorded_in_an_earlier_slot_is_ordered_by_its_own_ts_not_superseded():
    """CI on d5258a6: a tick ahead of the buffer's clock and past a slot edge was recorded as of the buffer's now, so it
    was older than the tick already in that slot (stamped by its own ts, ahead too) and refused `superseded`: a feed
    0.5 s ahead lost the ticks near every slot edge, and after the buffer's clock stepped back 3 s every tick of a feed
    on time was refused for 3 s. Placed in an earlier slot, a tick keeps its own ts as its time there."""
    cadence_s = 1.0
    grid = PriceGrid(["BTCUSDT"], cadence_s, 40, 1000)
    assert add_tick(grid, "BTCUSDT", 100.0, 1000.8, now_s=1000.3) is None  # 0.5 s ahead, in the open slot
    assert add_tick(grid, "BTCUSDT", 101.0, 1001.0, now_s=1000.5) is None  # 0.5 s ahead, past the edge
    assert grid.head_slot == 1000 and grid.prices[0, -1] == 101.0
    # The buffer's clock stepped back 3 s after slot 1000 was opened (999 handed out) and priced at 1000.4.
    stepped = PriceGrid(["BTCUSDT"], cadence_s, 40, 1000)
    stepped.published_slot = 999
    assert add_tick(stepped, "BTCUSDT", 100.0, 1000.4, now_s=1000.4) is None
    for i, real in enumerate((1000.6, 1000.8, 1001.2, 1001.6)):  # a feed on time; the buffer reads real - 3
        assert add_tick(stepped, "BTCUSDT", 102.0 + i, real, now_s=real - 3) is None, real
    assert stepped.head_slot == 1000 and stepped.prices[0, -1] == 105.0
    # An older tick is still superseded there, and one beyond the skew still refused.
    assert add_tick(stepped, "BTCUSDT", 99.0, 1001.5, now_s=1001.5 - 3) == "superseded"
    assert add_tick(stepped, "BTCUSDT", 99.0, 1001.6 + 6, now_s=1001.6) == "future_ts"


def test_a_feed_ahead_that_steps_its_clock_back_loses_at_most_the_rest_of_that_slot():
    """prices (held, not changed): a feed 4 s ahead of the buffer's clock puts its tick in the open slot by its own ts
    (above); once its clock is put right, its next ticks there are older by ts and refused `superseded` until the slot
    closes. By its ts alone such a tick is an older price arriving after a newer one, which must stay refused (above;
    test_reliability_bad_input.py: rev3); ordered by the buffer's clock instead, every tick of a feed on time was refused
    after the buffer's clock stepped back (CI on d5258a6). Less than one slot is lost: the next slot takes them."""
    grid = PriceGrid(["BTCUSDT"], 1.0, 40, 1000)
    assert add_tick(grid, "BTCUSDT", 100.0, 1004.2, now_s=1000.2) is None  # 4 s ahead: in the open slot 1000
    assert add_tick(grid, "BTCUSDT", 101.0, 1000.5, now_s=1000.5) == "superseded"  # its clock put right
    assert add_tick(grid, "BTCUSDT", 102.0, 1000.9, now_s=1000.9) == "superseded"
    assert add_tick(grid, "BTCUSDT", 103.0, 1001.1, now_s=1001.1) is None  # the next slot
    assert grid.head_slot == 1001 and grid.prices[0, -2:].tolist() == [100.0, 103.0]


def test_series_of_exactly_constant_growth_carry_no_correlation_and_no_realized_vol():
    """Their returns differ only by rounding (sd ~5e-16): that noise read as corr 0.015 to 0.08 here (0.30 reported)."""
    t = np.arange(361)
    noisy = 150 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 361)))
    for a, b in [(1.001, 1.002), (1.0003, 0.9995), (1.00001, 1.00002)]:
        prices = np.vstack([64000 * a ** t, 3400 * b ** t, noisy])
        result = correlate_window(["BTCUSDT", "ETHUSDT", "SOLUSDT"], prices, cadence_s=CADENCE_S, min_returns=10)
        assert result["matrix"][0, 1] == 0.0 and result["matrix"][0, 2] == 0.0
        assert set(result["realized_vol"]) == {"SOLUSDT"}  # no information, so the gate uses its constant
    prices[0, 100] = np.nan  # the gap path too
    result = correlate_window(["BTCUSDT", "ETHUSDT", "SOLUSDT"], prices, cadence_s=CADENCE_S, min_returns=10)
    assert result["matrix"][0, 1] == 0.0


def test_the_correlator_says_not_ready_once_no_window_came_for_three_cadences():
    """A buffer that stopped publishing leaves the correlator nothing to correlate: past three cadences without a
    window it publishes not ready (window_stale), so p27_corr_ready (P27CorrNotReady) says so; not before."""
    from types import SimpleNamespace
    from actors.correlator import CorrelatorActor
    sent: list[tuple[str, object]] = []
    now = time.monotonic()
    for cadences, expected in ((2.5, []), (3.5, [("window_stale", None)])):
        sent.clear()
        actor = SimpleNamespace(cadence_s=2.0, last_window_at=now - cadences * 2.0, last_points={"BTCUSDT": 40},
                                emit=lambda result, last_slot: sent.append((result["reason"], last_slot)))
        CorrelatorActor.check_stale(actor)
        assert sent == expected, cadences
