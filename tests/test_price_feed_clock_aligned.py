"""Clock-aligned synthetic prices (issue 12: the standby chain "fed by the same prices"): the price of
slot k is a function of the settings and k alone, as plain functions and as real feed processes."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from actors.grid import PriceGrid, add_checked_tick
from actors.jumps import JumpFilter
from actors.price_feed import SECONDS_PER_YEAR, slot_prices_from_settings
from actors.slot_prices import FADE_SLOTS, SlotPrices, level_sd, slot_normals, slot_of
from feed_helpers import TickListener, feed_topology, metric, metrics_port, tick_endpoint
from helpers import DEADLINE_SCALE, ActorProcess, demo_topology_data, wait_for
from launcher.feed_inputs import correlation_matrix
from launcher.multihost_harness import ha_data, write_topology
from launcher.topology import PriceFeedSettings, SyntheticSource, load_topology, validate_data

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
DEMO = {"seed": 7, "time_scale": 3600, "start_prices": {"BTCUSDT": 64000, "ETHUSDT": 3400, "SOLUSDT": 150},
        "volatility": {"BTCUSDT": 0.6, "ETHUSDT": 0.8, "SOLUSDT": 1.1},
        "correlation": {"BTCUSDT/ETHUSDT": 0.85, "BTCUSDT/SOLUSDT": 0.35, "ETHUSDT/SOLUSDT": 0.40}}
INTERVAL_S = 0.25
VOL_STEP = np.array([0.6, 0.8, 1.1]) * math.sqrt(INTERVAL_S * 3600 / SECONDS_PER_YEAR)
NOW_SLOT = slot_of(1_767_225_600.0, INTERVAL_S)  # 2026-01-01: a slot number of today's size
PATH_SLOTS = 3000


def generator(seed: int = 7) -> SlotPrices:
    feed = PriceFeedSettings(interval_s=INTERVAL_S, synthetic=SyntheticSource(**{**DEMO, "seed": seed, "clock_aligned": True}))
    return slot_prices_from_settings(SYMBOLS, feed)


@pytest.fixture(scope="module")
def path() -> np.ndarray:
    return generator().path(NOW_SLOT, PATH_SLOTS)


# --------------------------------------------------------------------------- pure


def test_two_generators_started_at_different_slots_give_the_same_price_for_every_slot():
    early, late = generator(), generator()
    early_prices = {k: early.prices(k) for k in range(NOW_SLOT, NOW_SLOT + 40)}
    late_prices = {k: late.prices(k) for k in range(NOW_SLOT + 17, NOW_SLOT + 40)}  # "started" 17 slots later
    assert all(late_prices[k] == early_prices[k] for k in late_prices)  # bit-identical, not approximately


def test_a_restarted_generator_continues_the_same_path_after_any_gap_or_a_clock_step_back():
    running, restarted = generator(), generator()
    for k in (NOW_SLOT, NOW_SLOT + 5, NOW_SLOT + 5 + FADE_SLOTS // 2, NOW_SLOT + 3 * FADE_SLOTS,
              NOW_SLOT + 3 * FADE_SLOTS - 100, NOW_SLOT + 3):  # 5 on, half a window on, past it, back 100, far back
        assert restarted.prices(k) == generator().prices(k)  # a fresh process at k
    for k in range(NOW_SLOT, NOW_SLOT + 10):
        assert running.prices(k) == restarted.prices(k)


def test_start_up_draws_one_window_and_each_next_slot_one_draw():
    prices = generator()
    prices.prices(NOW_SLOT)
    assert prices.normals_drawn == FADE_SLOTS  # bounded: no loop over the steps since any epoch
    prices.prices(NOW_SLOT + 1)
    assert prices.normals_drawn == FADE_SLOTS + 1


def test_the_next_slot_costs_no_sum_over_the_window_and_a_long_run_stays_bit_identical_to_a_fresh_start():
    # Each slot summed the whole window again (2,048 rows x symbols, math.fsum): 0.5 ms a slot for 3 symbols
    # and 18 ms for 100 (AMD EPYC, load ~2), against the GBM's 0.008 / 0.020 ms. The sums now move in O(1) per
    # symbol and slot, exactly (integers), so a generator that stepped 2.5 windows of slots ends where a
    # fresh one starts, bit for bit.
    running = generator()
    running.prices(NOW_SLOT)
    assert running.windows_summed == 1
    for k in range(NOW_SLOT + 1, NOW_SLOT + 5 * FADE_SLOTS // 2):
        prices = running.prices(k)
        if k % 1000 == 0 or k == NOW_SLOT + FADE_SLOTS:
            assert prices == generator().prices(k), k
    assert running.windows_summed == 1 and prices == generator().prices(k)
    running.prices(k - 10)  # a step back: rebuilt from the cached window, the same prices
    assert running.windows_summed == 2 and running.prices(k - 10) == generator().prices(k - 10)


def test_neighbouring_slots_never_share_a_draw_however_many_symbols():
    # Each slot's stream starts at its own Philox counter: with the slot in the counter's low word, slot k's
    # second block of four draws would be slot k + 1's first, and 8 symbols would see the same shocks twice.
    draws = [slot_normals(7, NOW_SLOT + i, 8) for i in range(3)]
    assert not set(draws[0]) & set(draws[1]) and not set(draws[1]) & set(draws[2])


def test_another_seed_or_another_slot_gives_other_prices():
    assert generator(7).prices(NOW_SLOT) != generator(8).prices(NOW_SLOT)
    assert generator(7).prices(NOW_SLOT) != generator(7).prices(NOW_SLOT + 1)


def test_one_slot_log_returns_have_the_configured_volatility_and_correlation(path):
    returns = np.diff(np.log(path), axis=0)
    # n = 2999 returns: a sample std's relative standard error is 1 / sqrt(2n) = 1.3 %; allow 6 % (4.6 SE).
    assert returns.std(axis=0) == pytest.approx(VOL_STEP, rel=0.06)
    # A sample correlation's standard error is (1 - rho^2) / sqrt(n): at most 0.017 here; allow 0.07 (4 SE).
    # Without the Cholesky factor every pair would be 0, 0.35 off at least.
    assert np.abs(np.corrcoef(returns, rowvar=False) - correlation_matrix(SYMBOLS, DEMO["correlation"])).max() < 0.07


def test_the_path_is_continuous_and_stays_around_the_start_prices(path):
    returns = np.diff(np.log(path), axis=0)
    assert (np.abs(returns) < 5 * VOL_STEP).all()  # no jump: 5 standard deviations of one step
    start = np.array([64000, 3400, 150])
    assert (np.abs(np.log(path / start)) < 5 * np.array([level_sd(v) for v in VOL_STEP])).all()


def test_the_jump_filter_refuses_no_price_of_the_path_nor_the_first_after_a_one_minute_outage(path):
    jumps = JumpFilter(0.25)
    prices = generator()
    for k in [*range(NOW_SLOT, NOW_SLOT + 400), *range(NOW_SLOT + 640, NOW_SLOT + 700)]:  # 240 slots (60 s) not published
        for symbol, price in prices.prices(k).items():
            assert not jumps.refuses(symbol, price), (k, symbol)
            jumps.accepted(symbol, price)


def test_two_buffer_grids_fed_by_feeds_started_apart_or_restarted_hold_the_same_price_in_every_slot_both_got():
    """The buffer's slot logic and jump filter (actors/grid.py) behind two feeds: the later one starts 17 slots
    after the other and is down for 60 slots (15 s); ticks are stamped with their slot's start."""
    cadence_s = 1.0
    grids, rejected = [], []
    for slots in (range(NOW_SLOT, NOW_SLOT + 400),
                  [*range(NOW_SLOT + 17, NOW_SLOT + 200), *range(NOW_SLOT + 260, NOW_SLOT + 400)]):
        prices, jumps = generator(), JumpFilter(0.25)
        grid = PriceGrid(SYMBOLS, cadence_s, 120, slot_of(NOW_SLOT * INTERVAL_S, cadence_s))
        for k in slots:
            for symbol, price in prices.prices(k).items():
                reason = add_checked_tick(grid, jumps, symbol, price, k * INTERVAL_S, k * INTERVAL_S + 0.005)
                if reason is not None:
                    rejected.append((k, symbol, reason))
        grids.append(grid)
    assert rejected == []
    both = np.isfinite(grids[0].prices) & np.isfinite(grids[1].prices)
    assert both.sum() >= 3 * 60 and grids[0].head_slot == grids[1].head_slot
    assert np.array_equal(grids[0].prices[both], grids[1].prices[both])


# --------------------------------------------------------------------------- validation


def feed_problems(synthetic: dict) -> list[str]:
    data = demo_topology_data()
    data["actors"]["price_feed"]["settings"]["synthetic"].update(synthetic)
    return [p.render() for p in validate_data(data)[1]]


def test_the_demo_feed_validates_clock_aligned():
    assert feed_problems({"clock_aligned": True}) == []


def test_a_drift_with_clock_aligned_is_refused_at_its_yaml_path():
    problems = feed_problems({"clock_aligned": True, "drift": 0.1})
    assert any(p.startswith("actors.price_feed.settings.synthetic.drift: ") and "clock_aligned" in p for p in problems), problems
    assert feed_problems({"drift": 0.1}) == []  # the GBM trends as before


@pytest.mark.parametrize("synthetic,path", [({"clock_aligned": "sometimes"}, "synthetic.clock_aligned"),
                                             ({"seed": -1}, "synthetic.seed")])
def test_a_bad_clock_aligned_or_seed_is_refused_naming_the_setting(synthetic, path):
    problems = feed_problems(synthetic)
    assert any(p.startswith(f"actors.price_feed.settings.{path}: ") for p in problems), problems


def test_the_shipped_ha_topology_feeds_both_chains_clock_aligned_prices_with_the_same_settings(tmp_path):
    topo = load_topology(write_topology(tmp_path, ha_data(tmp_path, fast=False)))
    feeds = [spec.settings for spec in topo.actors.values() if spec.kind == "price_feed"]
    assert len(feeds) == 2 and feeds[0] == feeds[1] and feeds[0].synthetic.clock_aligned


# --------------------------------------------------------------------------- two real feed processes


def aligned_feed(tmp_path: Path, name: str) -> tuple[Path, dict]:
    (tmp_path / name).mkdir()
    return feed_topology(tmp_path / name, "redis://127.0.0.1:1/0", {
        "source": "synthetic", "interval_s": 0.1, "heartbeat_s": 0.5, "synthetic": {**DEMO, "clock_aligned": True}})


def by_slot(ticks: list[dict]) -> dict[tuple[str, float], float]:
    return {(t["symbol"], t["ts"]): t["price"] for t in ticks}


def slots_published(listener: TickListener, after_ts: float = -math.inf) -> set[float]:
    return {t["ts"] for t in listener.ticks() if t["ts"] > after_ts}


def assert_b_published_as_a_did(listen_a: TickListener, listen_b: TickListener, after_ts: float, at_least: int) -> None:
    """Every (symbol, slot) b published after after_ts, up to a's newest slot, was published by a at the same price."""
    b = {k: p for k, p in by_slot(listen_b.ticks()).items() if k[1] > after_ts}
    a = by_slot(listen_a.ticks())  # drained after b: a's newest slot is not older than b's but for a tick in flight
    newest_a = max(ts for _, ts in a)
    shared = {k: p for k, p in b.items() if k[1] <= newest_a}
    assert len({ts for _, ts in shared}) >= at_least, (len(shared), len(b))
    assert {k: a.get(k) for k in shared} == shared


def test_two_feed_processes_started_a_second_apart_or_restarted_publish_the_same_price_for_every_slot(tmp_path):
    path_a, data_a = aligned_feed(tmp_path, "a")
    path_b, data_b = aligned_feed(tmp_path, "b")
    listen_a, listen_b = TickListener(tick_endpoint(data_a)), TickListener(tick_endpoint(data_b))
    feed_a = ActorProcess(path_a, "price_feed").start()
    feed_b = None
    try:
        wait_for(lambda: len(slots_published(listen_a)) >= 10, 15, f"ticks of feed a\n{feed_a.log()}")
        feed_b = ActorProcess(path_b, "price_feed").start()  # a second (10 slots) or more after a
        wait_for(lambda: len(slots_published(listen_b)) >= 20, 15, f"20 slots of feed b\n{feed_b.log()}")
        assert min(slots_published(listen_a)) < min(slots_published(listen_b))  # a published slots b never did
        assert_b_published_as_a_did(listen_a, listen_b, -math.inf, 15)
        assert all(ts == round(ts / 0.1) * 0.1 for ts in slots_published(listen_b))  # stamped with their slot's start

        feed_b.proc.send_signal(signal.SIGKILL)
        feed_b.proc.wait(10 * DEADLINE_SCALE)
        feed_b.terminate()
        killed_at = time.time()  # every tick of b stamped after this comes from the restarted process
        feed_b = ActorProcess(path_b, "price_feed").start()
        wait_for(lambda: len(slots_published(listen_b, killed_at)) >= 10, 15, f"10 slots after the restart\n{feed_b.log()}")
        assert_b_published_as_a_did(listen_a, listen_b, killed_at, 8)
        assert metric(metrics_port(data_b), "price_feed_rejected_prices_total") == 0
    finally:
        listen_a.close()
        listen_b.close()
        assert feed_a.terminate() == 0
        if feed_b is not None:
            feed_b.terminate()


def test_a_seed_philox_cannot_key_is_refused_by_validate_and_the_feed_exits_rather_than_failing_every_slot(tmp_path):
    # Philox's key is below 2**128; the GBM's default_rng takes any seed >= 0. A clock-aligned seed of 2**128
    # validated, and the real feed process ran on, logging a ValueError every slot and publishing nothing.
    assert any(p.startswith("actors.price_feed.settings.synthetic.seed: ") and "2**128" in p
               for p in feed_problems({"clock_aligned": True, "seed": 2 ** 128}))
    assert feed_problems({"seed": 2 ** 128}) == []  # the GBM takes it
    with pytest.raises(ValueError, match="2\\*\\*128"):
        SlotPrices(SYMBOLS, 2 ** 128, [1.0] * 3, [0.01] * 3, np.eye(3))
    path, _ = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {
        "source": "synthetic", "interval_s": 0.1, "synthetic": {**DEMO, "seed": 2 ** 128, "clock_aligned": True}})
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: feed.proc.poll() is not None, 15, f"the feed to exit\n{feed.log()[-2000:]}")
        assert feed.proc.returncode != 0
        assert feed.log().count("handler_error") == 0, feed.log()[-2000:]
    finally:
        feed.terminate()


@pytest.mark.parametrize("source,extra", [("replay", {"replay": {"path": "prices.csv"}}), ("redis_snapshots", {})])
def test_clock_aligned_on_a_feed_whose_source_is_not_synthetic_is_refused(source, extra):
    # It was silently ignored: a replay or snapshot feed set clock_aligned: true validated and published
    # ticks stamped with their publish time, two such feeds not aligned at all.
    data = demo_topology_data()
    settings = data["actors"]["price_feed"]["settings"]
    settings["synthetic"]["clock_aligned"] = True
    settings.update(source=source, **extra)
    problems = [p.render() for p in validate_data(data)[1]]
    assert problems == [f"actors.price_feed.settings.synthetic: is for source: synthetic; this feed's source is {source}, "
                        f"which ignores it: remove it"], problems


@pytest.mark.parametrize("source,block,extra", [
    ("replay", "synthetic", {"replay": {"path": "prices.csv"}}),
    ("redis_snapshots", "synthetic", {}),
    ("synthetic", "replay", {"replay": {"path": "prices.csv", "speed": 10}}),
    ("redis_snapshots", "replay", {"replay": {"path": "prices.csv"}})])
def test_a_feed_refuses_the_block_of_a_source_it_does_not_use(source, block, extra):
    """A feed reads `synthetic:` only with source synthetic and `replay:` only with source replay. The other block
    validated in silence (`synthetic: {seed: 9, volatility: ...}` beside a replay, `replay: {speed: 10}` beside a
    synthetic feed), read by an operator as settings in force; only clock_aligned was refused (revdocs43)."""
    data = demo_topology_data()
    settings = data["actors"]["price_feed"]["settings"]
    if source != "synthetic" and block == "synthetic":
        settings["synthetic"] = {"seed": 9, "volatility": {"BTCUSDT": 0.5}}
    elif source != "synthetic":
        del settings["synthetic"]  # the demo's, for its synthetic source
    settings.update(source=source, **extra)
    problems = [p.render() for p in validate_data(data)[1]]
    assert problems == [f"actors.price_feed.settings.{block}: is for source: {block}; this feed's source is {source}, "
                        f"which ignores it: remove it"], problems
    settings[block] = None  # YAML's null: no block written
    assert validate_data(data)[1] == []
