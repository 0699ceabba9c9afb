"""Issue 17, cluster side hardening, as plain functions: each test is named after the problem it pins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actors.buffer import PriceGrid, add_tick, window_header
from actors.correlator import correlate_window

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
    from actors.buffer import clock_step_s, head_ahead_of_clock
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
    from actors.gate import Proposal, StateCache, evaluate, parse_state, state_commands
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
