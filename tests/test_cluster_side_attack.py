"""Issue 17 review (attack-17): defects found in the merged cluster-side hardening, each reproduced
first; pure maths as plain functions, the rest against real processes (redis-server, actors)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from actors.window_message import window_header
from actors.correlation import correlate_window, ledoit_wolf_intensity
from actors.grid import (TICK_FUTURE_SKEW_S, PriceGrid, add_tick, carried_offset_high_s, head_advance_s, hold_age_s,
                         hold_mark_right)
from actors.jumps import JumpFilter
from actors.price_feed import ReplayRow, ReplaySchedule
from feed_helpers import TickListener, feed_topology, metric, metrics_port, tick_endpoint
from helpers import ActorProcess, wait_for, write_topology
from test_clusters_end_to_end import system  # noqa: F401  (the fixture: real redis-server and P2.7 actors)

CADENCE_S = 60.0


# --------------------------------------------------------------------------- jump filter


def test_a_crash_that_keeps_falling_30_percent_a_print_is_not_refused_forever():
    """Every print of a crash falling 30% a print was refused (100 -> 5.8 over 8 prints, none accepted):
    the symbol froze at its pre-crash price exactly when its risk mattered most."""
    jumps = JumpFilter(0.25)
    jumps.accepted("SOLUSDT", 100.0)
    price, accepted = 100.0, []
    for _ in range(8):
        price *= 0.7
        if not jumps.refuses("SOLUSDT", price):
            jumps.accepted("SOLUSDT", price)
            accepted.append(price)
    assert len(accepted) >= 4, accepted  # at most one print in two lost, never all
    assert jumps.last["SOLUSDT"] <= 100.0 * 0.7 ** 7


def test_one_bad_print_between_good_ones_is_still_refused():
    jumps = JumpFilter(0.25)
    jumps.accepted("SOLUSDT", 100.0)
    assert jumps.refuses("SOLUSDT", 130.0)
    assert not jumps.refuses("SOLUSDT", 101.0)  # back at the old level: the 130 was a bad print
    jumps.accepted("SOLUSDT", 101.0)
    assert jumps.refuses("SOLUSDT", 70.0)       # a bad print the other side, then one more
    assert jumps.refuses("SOLUSDT", 140.0)      # the other side of the last accepted price: refused too


def test_a_replayed_crash_reaches_subscribers_through_a_real_feed(tmp_path, redis_server):
    """Process run of the crash above: only 100 was ever published before the fix."""
    rows = "".join(f"{i * 0.1:.1f},{100 * 0.7 ** i:.6f}\n" for i in range(10))
    (tmp_path / "prices.csv").write_text("ts,SOLUSDT\n" + rows)
    # a real Redis: with none, a replay feed first waits 10 s for its saved position (feed_helpers.feed_topology)
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1, "loop": False}})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        port = metrics_port(data)
        seen: list[float] = []

        def crash_published() -> bool:
            seen.extend(t["price"] for t in listener.ticks()[len(seen):])
            return bool(seen) and min(seen) < 10.0

        wait_for(crash_published, 15, "the crash's low prints published")
        assert metric(port, "price_feed_rejected_prices_total", symbol="SOLUSDT", reason="jump") <= 5
    finally:
        listener.close()
        feed.terminate()


# --------------------------------------------------------------------------- a symbol that stopped


def grid_with_one_symbol_stopped(stopped_from_slot: int) -> tuple[PriceGrid, list[str]]:
    rng = np.random.default_rng(1)
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    grid = PriceGrid(symbols, CADENCE_S, 42, 1000)
    log_p = np.log([100.0, 100.0, 100.0])
    for slot in range(1000, 1040):
        log_p += rng.normal(0, 0.01) + rng.normal(0, 0.002, 3)
        for symbol, lp in zip(symbols, log_p):
            if symbol == "BTCUSDT" and slot >= stopped_from_slot:
                continue
            assert add_tick(grid, symbol, float(math.exp(lp)), slot * CADENCE_S + 1, slot * CADENCE_S + 2) is None
    return grid, symbols


def test_a_symbol_whose_ticks_stopped_leaves_the_matrix_while_the_others_keep_ticking():
    """BTC stopped 29 cadences ago, ETH and SOL tick: the state was ready with price_age_s 64 s and BTC's
    28-cadence-old correlations in it (the age is the newest over all symbols, so one live symbol hid it)."""
    grid, symbols = grid_with_one_symbol_stopped(1012)
    now = 1040 * CADENCE_S + 5
    grid.advance(grid.slot_of(now))
    first, prices = grid.window(41)
    header = window_header(symbols, CADENCE_S, first, prices, now, grid.newest_tick_ts())
    assert header["points_per_symbol"]["BTCUSDT"] >= 10  # still enough old returns to enter the matrix
    result = correlate_window(symbols, prices, cadence_s=CADENCE_S, min_returns=10,
                              newest_tick_ts=header["newest_tick_ts"], now_s=now, max_price_age_s=5 * CADENCE_S)
    assert result["ready"] and result["symbols"] == ["ETHUSDT", "SOLUSDT"]
    assert "BTCUSDT" not in result["realized_vol"]  # the gate uses its constant sigma for it
    only_btc_live = correlate_window(["BTCUSDT", "ETHUSDT"], prices[:2], cadence_s=CADENCE_S, min_returns=10,
                                     newest_tick_ts=header["newest_tick_ts"], now_s=now,
                                     max_price_age_s=5 * CADENCE_S)
    assert not only_btc_live["ready"] and only_btc_live["reason"] == "prices_stale"


def silence_until_stale(system, symbol: str) -> None:
    """Stop the test feed's ticks of `symbol` (the others tick on) and wait until the buffer's last accepted tick of
    it is 7 cadences old: past max_price_age_s (5 cadences)."""
    import time

    from helpers import scrape
    from test_clusters_end_to_end import CADENCE_S as E2E_CADENCE_S

    system["feed"].silenced.add(symbol)
    series = f'p27_buffer_last_accepted_tick_timestamp_seconds{{symbol="{symbol}"}}'
    wait_for(lambda: time.time() - scrape(system["ports"]["buffer"]).get(series, 0) > 7 * E2E_CADENCE_S, 20,
             f"{symbol}'s last accepted tick 7 cadences old")


def test_an_unheld_symbol_that_stopped_ticking_leaves_the_fresh_state_of_a_real_cluster_side(system):
    """Process run: SOLUSDT (not held) silenced while BTC and ETH tick; a fresh state written 7 cadences after its
    last accepted tick (max_price_age_s is 5) still carried its realized vol and matrix row. (A held symbol so
    silenced stops the state instead: test_a_held_symbol_whose_ticks_stopped_stops_the_cluster_state_...)"""
    import time

    from actors import keys
    from helpers import scrape
    from test_clusters_end_to_end import corr_ready, fresh_state

    ports, r = system["ports"], system["redis"]
    wait_for(lambda: corr_ready(ports["state_writer"]) and "SOLUSDT" in r.hgetall(keys.REALIZED_VOL), 40,
             "ready, SOL in the realized vol")
    silence_until_stale(system, "SOLUSDT")
    after = time.time() + 1
    wait_for(lambda: fresh_state(r) and float(r.hget(keys.REALIZED_VOL, keys.REALIZED_VOL_UPDATED_TS) or 0) >= after,
             20, "a fresh state written after that")
    assert "SOLUSDT" not in r.hgetall(keys.REALIZED_VOL)
    assert scrape(ports["correlator"]).get("p27_symbols_in_matrix") == 2
    # edges: `clustergate status` called SOL "ready" (its points are enough) while the correlator kept it out of
    # the matrix; it says what the correlator decided (p27_symbol_in_matrix).
    from launcher.overview import collect_overview, render_overview
    from launcher.topology import load_topology
    topo = load_topology(system["topo_path"])
    overview = collect_overview(topo)
    assert overview["points_per_symbol"]["SOLUSDT"] >= overview["points_needed"], overview
    assert scrape(ports["correlator"]).get('p27_symbol_in_matrix{symbol="SOLUSDT"}') == 0
    lines = {line.split()[0]: line for line in render_overview(topo, overview).splitlines() if line.startswith("  ")}
    assert "not in the matrix" in lines["SOLUSDT"] and lines["ETHUSDT"].endswith(" ready"), lines


# --------------------------------------------------------------------------- robust Ledoit-Wolf


def test_one_bad_print_on_a_symbol_whose_returns_are_mostly_zero_does_not_set_the_shrinkage():
    """A quantised symbol (a stablecoin: most returns exactly 0) has MAD 0, so its row was not clipped:
    one print 20% off (inside max_tick_jump) took the intensity from 0.05 to 0.33 and corr(BTC, ETH)
    from 0.9 to 0.60, the defect of issue 17 #4 again."""
    rng = np.random.default_rng(1)
    t = 361
    market = rng.normal(0, 0.01, t)
    btc = 100 * np.exp(np.cumsum(market + rng.normal(0, 0.003, t)))
    eth = 50 * np.exp(np.cumsum(market + rng.normal(0, 0.003, t)))
    usdc = np.ones(t)
    usdc[rng.choice(t, 10, replace=False)] = 1.0001
    bad = usdc.copy()
    bad[200] = 1.2
    clean = correlate_window(["BTCUSDT", "ETHUSDT", "USDCUSDT"], np.vstack([btc, eth, usdc]), cadence_s=CADENCE_S,
                             min_returns=10, shrinkage="ledoit_wolf")
    hit = correlate_window(["BTCUSDT", "ETHUSDT", "USDCUSDT"], np.vstack([btc, eth, bad]), cadence_s=CADENCE_S,
                           min_returns=10, shrinkage="ledoit_wolf")
    assert hit["shrinkage"] == pytest.approx(clean["shrinkage"], abs=0.02)
    assert hit["matrix"][0, 1] == pytest.approx(clean["matrix"][0, 1], abs=0.02)
    constant = np.vstack([np.diff(np.log(btc)), np.zeros(t - 1)])
    assert math.isfinite(ledoit_wolf_intensity(constant))


# --------------------------------------------------------------------------- replay loop rebase


def test_a_looped_replay_of_a_trending_file_keeps_publishing_finite_prices():
    """A file rising 100x a pass: pass 155 raised OverflowError in pop() (prices were inf a pass before),
    which stopped the replay for good (the one-shot replay timer was not re-armed)."""
    schedule = ReplaySchedule([ReplayRow(0.0, "BTCUSDT", 100.0), ReplayRow(60.0, "BTCUSDT", 1e4)], 1.0, True, 1.0)
    prices = []
    for _ in range(1000):
        assert schedule.next_due_s() is not None
        prices.append(schedule.pop().price)
    assert all(math.isfinite(p) and 0 < p < 1e300 for p in prices)


def test_a_real_feed_looping_a_steep_file_keeps_publishing(tmp_path, redis_server):
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT\n0,1\n0.01,1e40\n")
    # a real Redis: with none, a replay feed first waits 10 s for its saved position (feed_helpers.feed_topology)
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "interval_s": 0.01,
        "replay": {"path": "prices.csv", "speed": 1, "loop": True}})
    data["clusters"]["max_tick_jump"] = None  # the file's one pass is a x1e40 move
    path = write_topology(path, data)
    feed = ActorProcess(path, "price_feed").start()
    try:
        port = metrics_port(data)
        wait_for(lambda: metric(port, "price_feed_ticks_total") >= 60 or "handler_error" in feed.log(), 20,
                 "60 ticks (30 passes) or an error")
        assert "handler_error" not in feed.log(), feed.log()[-2000:]
    finally:
        feed.terminate()


# --------------------------------------------------------------------------- buffer clock steps


def saved_history_points(data) -> int:
    """Fewest points per symbol in the buffer's saved history (0 with none)."""
    import redis as redis_lib

    from actors import keys
    from actors.grid import PriceGrid

    with redis_lib.Redis.from_url(data["redis"]["url"]) as raw:
        blob = raw.get(keys.buffer_history(data["name"], "buffer"))
    return 0 if blob is None else int(np.isfinite(PriceGrid.from_blob(blob).prices).sum(axis=1).min())


# Points per symbol of a saved history whose hold alone a test watches (when it is saved again, which ticks are
# refused): the hold and its end read the history's newest slot and when its hold began, never its points. The
# fixture's min_returns; a test that checks the points kept waits for 20 (its check: at least 15).
HISTORY_POINTS_FOR_THE_HOLD = 5


def buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path, points: int = 20):
    """The system's buffer restarted on a clock the test steps (its offset file, returned, reads 0), once its saved
    history holds `points` points per symbol."""
    from test_clusters_end_to_end import SteppedClockProcess

    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    system["procs"]["buffer"].terminate()
    system["procs"]["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: saved_history_points(system["data"]) >= points, 40,
             f"{points} points per symbol in the saved history")
    return clock_file


def cadences_pass(ports, n: int) -> None:
    """n of the demo buffer's 0.5 s cadences by the monotonic clock, and two publishes meanwhile: polled, not slept."""
    import time

    from helpers import scrape

    begun, published = time.monotonic(), scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: time.monotonic() >= begun + n * 0.5
             and scrape(ports["buffer"])["p27_windows_published_total"] >= published + 2, 15, f"{n} cadences")


def the_history_merges_again_once_the_clock_is_right(ports, clock_file) -> None:
    from helpers import scrape
    from test_clusters_end_to_end import buffer_points

    clock_file.write_text("0")
    published = scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: scrape(ports["buffer"])["p27_windows_published_total"] >= published + 2, 10,
             "two publishes with the clock right again")
    assert buffer_points(ports["buffer"]) >= 15  # the saved history merged again, not refilled tick by tick


def test_a_backward_clock_step_neither_wipes_the_saved_history_nor_loses_the_points(system, tmp_path):
    """Process run: the buffer's clock stepped back 3600 s for 4 cadences. The head moved back to the
    clock, so every slot was "in the future" and dropped, and the empty grid was persisted over the
    saved history (no hold for a backward step); when the clock came forward again nothing was reloaded."""
    from helpers import scrape
    from test_clusters_end_to_end import SteppedClockProcess, buffer_points

    procs, ports, data = system["procs"], system["ports"], system["data"]
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    procs["buffer"].terminate()
    procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: buffer_points(ports["buffer"]) >= 20, 40, "20 points per symbol in the buffer")
    wait_for(lambda: saved_history_points(data) >= 20, 10, "20 points per symbol in the saved history")
    clock_file.write_text("-3600")
    wait_for(lambda: scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0) >= 1, 10,
             "the backward step seen by the buffer")
    published = scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: scrape(ports["buffer"])["p27_windows_published_total"] >= published + 4, 10,
             "four publishes with the clock back")
    assert saved_history_points(data) >= 20  # the saved history was not overwritten by the emptied grid
    # One fault for one step: a hold missed by the step and taken by the history's reload counted it twice.
    assert scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="back"}'] == 1
    the_history_merges_again_once_the_clock_is_right(ports, clock_file)


def test_a_clock_that_comes_forward_again_after_a_backward_step_ends_the_history_hold(system, tmp_path):
    """feedrev: the clock stepped back 3600 s and came forward again 2 s later. The return was taken for a new
    forward fault: the buffer logged clock_fault direction=ahead, held persistence a whole window more (16 s here, 6 h
    at production's 361 x 60 s) and then "the clock stayed ahead; the saved history has aged out"; a restart in
    that window lost every point since. The return now ends the hold and the history is persisted again."""
    import redis as redis_lib

    from actors import keys
    from actors.grid import PriceGrid
    from helpers import scrape

    procs, ports, data = system["procs"], system["ports"], system["data"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    clock_file.write_text("-3600")
    wait_for(lambda: scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0) >= 1, 10,
             "the backward step seen by the buffer")
    published = scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: scrape(ports["buffer"])["p27_windows_published_total"] >= published + 2, 10,
             "two publishes with the clock back")
    with redis_lib.Redis.from_url(data["redis"]["url"]) as raw:
        def saved_head() -> int:
            return PriceGrid.from_blob(raw.get(keys.buffer_history(data["name"], "buffer"))).head_slot

        held_head = saved_head()
        clock_file.write_text("0")
        wait_for(lambda: saved_head() > held_head or "clock_fault_accepted" in procs["buffer"].log(), 60,
                 "the history persisted again, or the hold's end")
    log = procs["buffer"].log()
    assert "clock_fault_accepted" not in log and "direction=ahead" not in log, log[-3000:]
    assert saved_history_points(data) >= 15  # the history persisted again is the saved one merged, not a wiped grid


def test_forward_clock_steps_each_under_the_threshold_do_not_persist_a_wiped_grid(system, tmp_path):
    """Process run: the buffer's clock stepped +4 s every cadence (0.5 s; one step must exceed the skew
    5 s + one cadence to count): none was a clock fault, the head ran 48 s ahead, every real tick was
    too_old, and the emptied grid was persisted over the saved history (0 of 20 points left)."""
    import time

    import redis as redis_lib

    from actors import keys
    from actors.grid import PriceGrid
    from helpers import scrape
    from test_clusters_end_to_end import SteppedClockProcess, buffer_points

    procs, ports, data = system["procs"], system["ports"], system["data"]
    raw = redis_lib.Redis.from_url(data["redis"]["url"])
    history_key = keys.buffer_history(data["name"], "buffer")
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    procs["buffer"].terminate()
    procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: buffer_points(ports["buffer"]) >= 20, 40, "20 points per symbol in the buffer")

    def saved_points() -> int:
        blob = raw.get(history_key)
        return 0 if blob is None else int(np.isfinite(PriceGrid.from_blob(blob).prices).sum(axis=1).min())

    wait_for(lambda: saved_points() >= 20, 10, "20 points per symbol in the saved history")
    for step in range(1, 13):  # bounded: 12 steps, 6 s
        clock_file.write_text(str(4 * step))
        time.sleep(0.5)
    published = scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: scrape(ports["buffer"])["p27_windows_published_total"] >= published + 2, 10, "two more publishes")
    assert saved_points() >= 15
    assert scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="ahead"}'] >= 1


def test_a_real_move_costs_the_feed_one_print_and_the_buffer_one_more(tmp_path, redis_server):
    """README said "a real move costs one print". Measured through a real feed and buffer: the feed
    refuses the first print at the new level, so the buffer (whose last price is the old level) refuses
    the second, the first one it sees: the grid loses two prints of every genuine jump."""
    from helpers import retarget

    rows = [100.0] * 30 + [70.0] * 8  # 3 s at the old level: the buffer has subscribed before the jump
    (tmp_path / "prices.csv").write_text("ts,SOLUSDT\n" + "".join(f"{i * 0.1:.1f},{p}\n" for i, p in enumerate(rows)))
    data = retarget(__import__("helpers").demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer")}
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "heartbeat_s": 0.5,
                                                "replay": {"path": "prices.csv", "speed": 1, "loop": False}}
    data["symbols"] = ["SOLUSDT", "BTCUSDT"]
    path = write_topology(tmp_path / "topology.yaml", data)
    buffer = ActorProcess(path, "buffer").start()
    bport = data["actors"]["buffer"]["metrics_port"]
    wait_for(lambda: metric(bport, "clustergate_actor_ready", actor="buffer") == 1, 20, "buffer ready")
    feed = ActorProcess(path, "price_feed").start()
    try:
        fport = metrics_port(data)
        wait_for(lambda: metric(fport, "price_feed_ticks_total") + metric(fport, "price_feed_rejected_prices_total")
                 >= len(rows), 20, "every row replayed")
        wait_for(lambda: metric(bport, "p27_buffer_rejected_ticks_total", reason="jump") >= 1
                 and metric(bport, "buffer_ticks_accepted_total", symbol="SOLUSDT") >= 8, 10,
                 "the buffer's refusal and the prints at the new level after it")
        assert metric(bport, "buffer_ticks_accepted_total", symbol="SOLUSDT") > 8  # it saw the old level too
        lost_at_feed = metric(fport, "price_feed_rejected_prices_total", symbol="SOLUSDT", reason="jump")
        lost_at_buffer = metric(bport, "p27_buffer_rejected_ticks_total", reason="jump")
        assert (lost_at_feed, lost_at_buffer) == (1, 1)
    finally:
        feed.terminate()
        buffer.terminate()


def test_a_lagging_second_state_writer_does_not_move_updated_ts_backwards(redis_server):
    """Two writers (a deploy overlap, a standby) on a real redis-server: writer B, one cadence behind,
    wrote after A, and updated_ts went back from T to T - 60 with B's older clusters over A's newer ones."""
    from actors import keys
    from actors.state_writer import write_state
    from test_clusters_end_to_end import assert_state_consistent, state_with

    a, b = redis_server.client(), redis_server.client()
    newer = state_with([["BTCUSDT", "ETHUSDT"]], 1_800_000_060.0)
    older = state_with([["BTCUSDT", "SOLUSDT"]], 1_800_000_000.0)
    write_state(a, newer, set(), 1000)
    with pytest.raises(Exception, match="older than the stored state"):
        write_state(b, older, set(), 1000)
    assert a.hget(keys.CLUSTER_STATE, "updated_ts") == "1800000060"
    assert set(a.hkeys(keys.CLUSTERS)) == {newer["clusters"][0]["id"]}
    assert_state_consistent(a)


def test_a_stored_state_stamped_far_in_the_future_does_not_block_every_later_write(redis_server):
    """The guard above must not turn one state stamped by a clock an hour ahead into an hour of refusals."""
    from actors import keys
    from actors.state_writer import write_state
    from test_clusters_end_to_end import state_with

    r = redis_server.client()
    write_state(r, state_with([["BTCUSDT", "ETHUSDT"]], 1_800_003_600.0), set(), 1000)
    write_state(r, state_with([["BTCUSDT", "SOLUSDT"]], 1_800_000_000.0), set(), 1000, newer_within_s=120.0)
    assert r.hget(keys.CLUSTER_STATE, "updated_ts") == "1800000000"


def test_a_replay_file_with_a_trailing_comma_on_every_line_is_read_as_long_form():
    """A spreadsheet export (`ts,symbol,price,` and `1,BTCUSDT,100,`) was refused with "header column
    'symbol' is not a symbol", naming the wrong cause."""
    from launcher.feed_inputs import parse_replay_csv

    data = parse_replay_csv("ts,symbol,price,\r\n1700000000,BTCUSDT,100,\r\n1700000001,BTCUSDT,101,\r\n", ["BTCUSDT"])
    assert data.form == "long" and [r.price for r in data.rows] == [100.0, 101.0] and not data.bad_rows


def test_a_tick_of_a_symbol_outside_the_allowlist_stamped_ahead_is_unknown_symbol_not_a_clock_refusal(system, tmp_path):
    """revclock: the feed host and the buffer stepped back 30 s together; the allowlisted ticks, stamped by that clock,
    were used, and a tick of DOGEUSDT (outside the allowlist) stamped by another clock, 30 s ahead, was counted future_ts
    (logged tick_refused reason=future_ts symbol=DOGEUSDT ahead_s=29.999 each second, and
    p27_buffer_last_refused_tick_timestamp_seconds{reason="future_ts"} set, which status reads as the feeds' clock
    ahead): its symbol is what the buffer refuses it for, before its time."""
    from helpers import scrape

    ports = system["ports"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path,
                                                               points=HISTORY_POINTS_FOR_THE_HOLD)
    clock_file.write_text("-30")
    system["feed"].ts_offset_s = -30.0  # the allowlisted ticks: the feed on the buffer's host
    published = scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: scrape(ports["buffer"])["p27_windows_published_total"] >= published + 3, 10, "three more publishes")
    metrics = scrape(ports["buffer"])
    assert metrics['p27_buffer_rejected_ticks_total{reason="unknown_symbol"}'] > 0
    assert metrics['p27_buffer_rejected_ticks_total{reason="future_ts"}'] == 0, system["procs"]["buffer"].log()[-1500:]
    assert metrics['p27_buffer_last_refused_tick_timestamp_seconds{reason="future_ts"}'] == 0


def test_only_a_step_past_the_furthest_the_clock_read_moves_the_head_ahead():
    """head_advance_s (revclock), offsets of the wall clock to the monotonic clock: a forward step counts whole on a
    clock at its furthest, and only past that on a clock stepped back within the skew (the head stayed)."""
    assert head_advance_s(100.0, 104.5, 0.5) == pytest.approx(4.0)  # at its furthest (offset 100): the step whole
    assert head_advance_s(100.0, 101.0, 1.0) == 0.0                 # back 4 s, then forward 4 s: back where it was
    assert head_advance_s(100.0, 103.0, 1.0) == pytest.approx(2.0)  # back 4 s, forward 6 s: 2 s past its furthest
    assert head_advance_s(100.0, 96.5, 0.5) == 0.0                  # a step back moves nothing ahead


def test_a_clock_stepped_back_within_the_skew_and_forward_again_is_no_forward_fault_when_it_then_steps_a_little(
        system, tmp_path):
    """revclock: the buffer's clock stepped back 4 s (within the 5 s skew: no rewind, the head stays), forward 4 s
    again, then forward 2 s: 2 s ahead of where it began, each step under the 5.5 s threshold (0.5 s cadence). The
    forward steps were summed alone (4 + 2 = 6 s), so the buffer logged clock_fault direction=ahead step_s=2.0 and
    held its history unsaved a whole window (6 h at production's 361 x 60 s, P27BufferClockFault firing throughout,
    a restart losing every point since), though its head had moved 2 s ahead. Only a step past the furthest the
    clock had read moves the head ahead, and counts."""
    from helpers import scrape

    ports = system["ports"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    for offset_s in ("-4", "0", "2"):  # bounded: three steps, three cadences each
        clock_file.write_text(offset_s)
        cadences_pass(ports, 3)
    metrics = scrape(ports["buffer"])
    assert metrics['p27_buffer_clock_faults_total{direction="ahead"}'] == 0, system["procs"]["buffer"].log()[-2000:]
    assert metrics["p27_buffer_history_save_held"] == 0


def restart_the_stepped_buffer(system, clock_file) -> None:
    """The system's buffer started again on the stepped clock (stopped before), once it has published twice."""
    from helpers import scrape
    from test_clusters_end_to_end import SteppedClockProcess

    system["procs"]["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: scrape(system["ports"]["buffer"]).get("p27_windows_published_total", 0) >= 2, 20,
             "the restarted buffer")


def the_return_and_2_s_more_are_no_clock_fault(system, clock_file) -> None:
    """The stepped clock back to 0, then 2 s ahead, three cadences each: no clock fault logged or counted, nothing held."""
    from helpers import scrape

    ports = system["ports"]
    for offset_s in ("0", "2"):
        clock_file.write_text(offset_s)
        cadences_pass(ports, 3)
    metrics = scrape(ports["buffer"])
    log = system["procs"]["buffer"].log()
    assert "clock_fault" not in log.replace("clock_fault_ended", ""), log[-2000:]
    assert metrics['p27_buffer_clock_faults_total{direction="ahead"}'] == 0, log[-2000:]
    assert metrics["p27_buffer_history_save_held"] == 0


def test_a_buffer_restarted_between_a_step_back_within_the_skew_and_its_return_is_no_forward_fault(system, tmp_path):
    """rev2clk: head_advance_s's mark (the furthest the clock read) lived one run. A buffer restarted on a clock
    stepped back 4 s (within the skew: its saved head 4 s ahead of that clock, nothing held) started its mark from
    that clock, so the clock's return (+4 s) and 2 s more summed 6 s: clock_fault direction=ahead, the history held
    unsaved a window (6 h at production). The mark now goes on from the last run's (buffermark: saved with the history,
    taken back on the same boot; or from a saved head ahead of the clock)."""
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    # Restarted at once, the saved head still ahead of the clock; a slow restart (CI, 7 Dec 2026, loaded: more than
    # about 3 s failed this test before the saved mark) is test_a_buffer_restarted_slowly_between_a_step_back_....
    clock_file.write_text("-4")
    system["procs"]["buffer"].terminate()
    restart_the_stepped_buffer(system, clock_file)
    the_return_and_2_s_more_are_no_clock_fault(system, clock_file)


def buffer_restarted_slowly_on_a_clock_stepped_back_within_the_skew(system, tmp_path):
    """The system's buffer, its clock stepped back 4 s (within the skew: nothing held), stopped for 5 s (ten 0.5 s
    cadences: a loaded restart; a minute at production's 60 s) and started again on that clock, which has by then passed
    the saved head: that head no longer says how far the last run's clock had read."""
    import time

    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    clock_file.write_text("-4")
    cadences_pass(system["ports"], 2)  # the stepped clock seen and the history saved by the running buffer
    system["procs"]["buffer"].terminate()
    stopped_mono = time.monotonic()
    wait_for(lambda: time.monotonic() >= stopped_mono + 5.0, 10, "5 s with the buffer stopped")
    restart_the_stepped_buffer(system, clock_file)
    return clock_file


def test_a_buffer_restarted_slowly_between_a_step_back_within_the_skew_and_its_return_is_no_forward_fault(
        system, tmp_path):
    """buffermark: a restarted buffer started head_advance_s's mark from its saved head, which underestimates the last
    run's mark by the true time from the head's last move to the restart: with the clock 4 s back, a restart of more
    than about 3 s, the clock's return and 2 s more summed over 5.5 s, clock_fault direction=ahead, the history held
    unsaved a window (6 h at production's 60 s cadence, where a restart of about a minute did it; CI under load failed
    the restart-at-once test so). The mark is saved with the history and taken back on the same boot."""
    clock_file = buffer_restarted_slowly_on_a_clock_stepped_back_within_the_skew(system, tmp_path)
    the_return_and_2_s_more_are_no_clock_fault(system, clock_file)


def test_a_forward_step_past_the_saved_mark_after_a_slow_restart_is_still_a_forward_fault(system, tmp_path):
    """buffermark: the mark the restarted buffer takes back is the furthest the last run's clock read, not more: after
    the clock's return, a step of 6 s past it (over the 5.5 s of a 0.5 s cadence) is an ahead fault as in one run."""
    from helpers import scrape

    ports = system["ports"]
    clock_file = buffer_restarted_slowly_on_a_clock_stepped_back_within_the_skew(system, tmp_path)
    clock_file.write_text("0")
    cadences_pass(ports, 3)
    assert scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="ahead"}'] == 0  # the return: none
    clock_file.write_text("6")
    wait_for(lambda: scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="ahead"}'] >= 1, 10,
             "the step 6 s past the mark counted an ahead fault")
    assert "event=clock_fault direction=ahead" in system["procs"]["buffer"].log()


@pytest.mark.parametrize("saved_mark, on_this_boot, step_s", [(1000.0, False, "6"), (1e12, True, "11")],
                         ids=["from_another_boot", "absurd_on_this_boot"])
def test_a_bad_saved_mark_hides_no_more_of_a_forward_step_than_the_skew(system, tmp_path, saved_mark, on_this_boot,
                                                                         step_s):
    """buffermark: the saved mark is another clock's on another boot (a monotonic clock starts at boot): taken, 1000 s
    past this clock's offset, a forward step of 6 s went unnoticed. On this boot it is taken at most the skew (5 s) past
    this clock, as far as a saved head within the skew seeded the mark before: 11 s is 6 past that, an ahead fault.
    Either history loads, its mark unknown or capped, not discarded."""
    import time

    import redis as redis_lib

    from actors import keys
    from actors.buffer import read_boot_id
    from helpers import scrape

    ports, data = system["ports"], system["data"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    system["procs"]["buffer"].terminate()
    history_key = keys.buffer_history(data["name"], "buffer")
    with redis_lib.Redis.from_url(data["redis"]["url"]) as raw:
        saved = PriceGrid.from_blob(raw.get(history_key))
        assert saved.boot_id == read_boot_id() and saved.offset_high_s is not None  # the running buffer saved its mark
        saved.offset_high_s = time.time() - time.monotonic() + saved_mark
        saved.boot_id = read_boot_id() if on_this_boot else "not-this-boot"
        raw.set(history_key, saved.to_blob())
    restart_the_stepped_buffer(system, clock_file)
    clock_file.write_text(step_s)
    wait_for(lambda: scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="ahead"}'] >= 1, 10,
             f"the step of {step_s} s counted an ahead fault")
    log = system["procs"]["buffer"].log()
    assert "event=history_loaded" in log and "history_corrupt_discarded" not in log, log[-2000:]


def clock_stepped_back_past_the_skew(system, tmp_path, offsets: tuple[str, ...]):
    """The system's buffer on a stepped clock with a saved history, its clock stepped back 7 s (past the 5 s skew: a
    backward fault, the head moved back, head_advance_s's mark started again, the history held unsaved), then to each
    further offset in turn, three cadences each."""
    from helpers import scrape

    ports = system["ports"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    clock_file.write_text("-7")
    wait_for(lambda: scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0) >= 1, 10,
             "the step back of 7 s counted a back fault")
    for offset_s in offsets:
        clock_file.write_text(offset_s)
        cadences_pass(ports, 3)
    return clock_file


def a_step_to_2_s_ahead_is_a_forward_fault(system, clock_file) -> None:
    """From the clock stepped back (7 s, or 4 s after a partial return), to 2 s ahead: a step of 9 s or 6 s past the
    mark the backward fault started again, over the 5.5 s threshold: an ahead fault, as in one run before buffermark."""
    from helpers import scrape

    ports = system["ports"]
    clock_file.write_text("2")
    wait_for(lambda: scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="ahead"}'] >= 1, 10,
             "the step to 2 s ahead counted an ahead fault")
    assert "event=clock_fault direction=ahead" in system["procs"]["buffer"].log()


@pytest.mark.parametrize("offsets", [(), ("-4",)], ids=["stepped_back_7_s", "then_partly_forward_to_minus_4_s"])
def test_a_backward_fault_whose_hold_ends_in_time_does_not_take_back_the_mark_from_before_it(system, tmp_path, offsets):
    """revbuffermark: a backward fault (the clock 7 s back) starts head_advance_s's mark again, and holds the history
    unsaved, so the mark saved with it is the one from before the step. When the clock reached the saved head the hold
    ended and the history was merged again, taking back that mark (capped 5 s past the clock): 5 s of the next forward
    step hidden, in one run with no restart. -7 s, then +9 s (to +2 s), over the 5.5 s threshold, counted 4 s; with a
    partial return to -4 s the whole 6 s step was hidden."""
    from helpers import scrape

    ports = system["ports"]
    clock_file = clock_stepped_back_past_the_skew(system, tmp_path, offsets)
    wait_for(lambda: scrape(ports["buffer"])["p27_buffer_history_save_held"] == 0, 15,
             "the clock reached the saved head: the hold ended, the history merged again")
    cadences_pass(ports, 2)
    a_step_to_2_s_ahead_is_a_forward_fault(system, clock_file)


@pytest.mark.parametrize("offsets", [(), ("-4",)], ids=["stepped_back_7_s", "then_partly_forward_to_minus_4_s"])
def test_a_buffer_restarted_after_a_backward_fault_does_not_take_back_the_mark_from_before_it(system, tmp_path, offsets):
    """revbuffermark: a buffer stopped while a backward fault (the clock 7 s back) holds its history unsaved, and
    started again once its clock has passed the saved head, took back the mark saved before the step (capped 5 s past
    its clock): the next forward step, to +2 s, counted 4 s of 9 s (no fault); after a partial return to -4 s, none of
    6 s. Before buffermark both were ahead faults, as in one run."""
    import time

    clock_file = clock_stepped_back_past_the_skew(system, tmp_path, offsets)
    system["procs"]["buffer"].terminate()
    stopped_mono = time.monotonic()
    wait_for(lambda: time.monotonic() >= stopped_mono + 8.0, 12, "8 s with the buffer stopped: its clock past the head")
    restart_the_stepped_buffer(system, clock_file)
    cadences_pass(system["ports"], 2)
    a_step_to_2_s_ahead_is_a_forward_fault(system, clock_file)


def test_a_restarted_buffer_takes_back_the_saved_mark_only_from_this_boot_and_at_most_the_skew_past_its_clock():
    """buffermark: carried_offset_high_s, offsets of the wall clock to the monotonic clock (this clock's now: 100)."""
    assert carried_offset_high_s(104.0, "boot-a", "boot-a", 100.0) == 104.0  # stepped back 4 s before the restart
    assert carried_offset_high_s(90.0, "boot-a", "boot-a", 100.0) == 90.0    # behind this clock: the caller's max wins
    assert carried_offset_high_s(1e300, "boot-a", "boot-a", 100.0) == 100.0 + TICK_FUTURE_SKEW_S  # absurd: the skew
    assert carried_offset_high_s(104.0, "boot-b", "boot-a", 100.0) is None   # another boot: another monotonic clock
    assert carried_offset_high_s(104.0, None, "boot-a", 100.0) is None       # saved by a buffer before the mark
    assert carried_offset_high_s(104.0, None, None, 100.0) is None           # no boot id here: none is the same
    assert carried_offset_high_s(104.0, "boot-a", None, 100.0) is None
    assert carried_offset_high_s(None, "boot-a", "boot-a", 100.0) is None
    assert carried_offset_high_s(math.nan, "boot-a", "boot-a", 100.0) is None
    assert carried_offset_high_s(math.inf, "boot-a", "boot-a", 100.0) is None


def test_the_saved_mark_round_trips_with_the_history_and_a_history_without_it_still_loads():
    grid = PriceGrid(["A"], 0.5, 4, head_slot=10)
    assert b"offset_high_s" not in grid.to_blob()  # as before the mark: nothing known, nothing written
    old = PriceGrid.from_blob(grid.to_blob())
    assert old.offset_high_s is None and old.boot_id is None
    grid.offset_high_s, grid.boot_id = 1765000000.25, "0b5c7b6e-6b7a-4c39-9e0b-1f6f3c1b2d4e"
    header = json.loads(grid.to_blob().partition(b"\n")[0])
    assert header["v"] == 1  # the same version: a buffer before the mark reads it and ignores the two fields
    saved = PriceGrid.from_blob(grid.to_blob())
    assert (saved.offset_high_s, saved.boot_id) == (1765000000.25, "0b5c7b6e-6b7a-4c39-9e0b-1f6f3c1b2d4e")


@pytest.mark.parametrize("fields", [
    '"offset_high_s":NaN,"boot_id":"b"', '"offset_high_s":Infinity,"boot_id":"b"', '"offset_high_s":1e400,"boot_id":"b"',
    '"offset_high_s":12,"boot_id":"b"', '"offset_high_s":true,"boot_id":"b"', '"offset_high_s":"12.5","boot_id":"b"',
    '"offset_high_s":12.5', '"offset_high_s":12.5,"boot_id":7', '"offset_high_s":12.5,"boot_id":""',
    '"offset_high_s":12.5,"boot_id":"' + "b" * 65 + '"', '"offset_high_s":null,"boot_id":null'])
def test_a_saved_mark_that_is_garbage_is_unknown_and_the_history_still_loads(fields):
    """buffermark: NaN, infinite, not a float, or without a boot id that could be this one's: the mark is unknown (the
    restart seeds it from the saved head, as before), not a corrupt history, and nothing crashes."""
    blob = ('{"v":1,"cadence_s":0.5,"symbols":["A"],"head_slot":10,"capacity":2,' + fields + '}\n').encode()
    saved = PriceGrid.from_blob(blob + np.array([1.0, np.nan]).astype("<f8").tobytes())
    assert saved.offset_high_s is None and saved.boot_id is None
    assert saved.head_slot == 10


def test_the_boot_id_is_read_stripped_and_is_none_when_it_cannot_be_read(tmp_path):
    from actors.buffer import read_boot_id

    path = tmp_path / "boot_id"
    path.write_text("0b5c7b6e-6b7a-4c39-9e0b-1f6f3c1b2d4e\n")
    assert read_boot_id(str(path)) == "0b5c7b6e-6b7a-4c39-9e0b-1f6f3c1b2d4e"
    path.write_text("\n")
    assert read_boot_id(str(path)) is None
    path.write_bytes(b"\xff\xfe")
    assert read_boot_id(str(path)) is None
    assert read_boot_id(str(tmp_path / "absent")) is None


def test_a_second_backward_clock_step_does_not_release_the_history_hold(system, tmp_path):
    """Two backward steps in a row (-3600 s, then -7200 s): the second was taken for the end of a forward
    fault and released the hold, so the emptied grid was persisted over the saved history."""
    import redis as redis_lib

    from actors import keys
    from actors.grid import PriceGrid
    from helpers import scrape
    from test_clusters_end_to_end import SteppedClockProcess, buffer_points

    procs, ports, data = system["procs"], system["ports"], system["data"]
    raw = redis_lib.Redis.from_url(data["redis"]["url"])
    history_key = keys.buffer_history(data["name"], "buffer")
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    procs["buffer"].terminate()
    procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: buffer_points(ports["buffer"]) >= 20, 40, "20 points per symbol in the buffer")

    def saved_points() -> int:
        blob = raw.get(history_key)
        return 0 if blob is None else int(np.isfinite(PriceGrid.from_blob(blob).prices).sum(axis=1).min())

    def back_faults() -> float:
        return scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0)

    wait_for(lambda: saved_points() >= 20, 10, "20 points per symbol in the saved history")
    clock_file.write_text("-3600")
    wait_for(lambda: back_faults() >= 1, 10, "the first backward step seen")
    clock_file.write_text("-7200")
    wait_for(lambda: back_faults() >= 2, 10, "the second backward step seen")
    published = scrape(ports["buffer"])["p27_windows_published_total"]
    wait_for(lambda: scrape(ports["buffer"])["p27_windows_published_total"] >= published + 4, 10, "four publishes")
    assert saved_points() >= 20
    assert back_faults() == 2  # one fault a step: a hold released by the second and taken again counted it twice


def test_a_buffer_started_with_its_clock_behind_the_saved_history_neither_wipes_it_nor_loses_the_points(system, tmp_path):
    """feedrev: a buffer restarted while its clock was an hour behind the history it saved (a host booted with its
    real-time clock behind, before NTP stepped it) loaded nothing (every saved slot lay ahead of its clock) and its
    first publish persisted its empty grid over that history; when the clock stepped forward the reload found the
    empty grid: 20 points per symbol to 0, a cold warm-up. A running buffer whose clock steps back holds persistence
    (test_a_backward_clock_step_neither_wipes_the_saved_history_nor_loses_the_points); one that starts so now does
    too."""
    from helpers import scrape
    from test_clusters_end_to_end import SteppedClockProcess, buffer_points

    procs, ports, data = system["procs"], system["ports"], system["data"]
    wait_for(lambda: buffer_points(ports["buffer"]) >= 20, 40, "20 points per symbol in the buffer")
    wait_for(lambda: saved_history_points(data) >= 20, 10, "20 points per symbol in the saved history")
    procs["buffer"].terminate()
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("-3600")
    procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: scrape(ports["buffer"]).get("p27_windows_published_total", 0) >= 4, 20,
             "four publishes with the clock behind")
    assert saved_history_points(data) >= 20  # the saved history was not overwritten by the empty grid
    the_history_merges_again_once_the_clock_is_right(ports, clock_file)


def test_a_history_saved_by_a_clock_that_ran_ahead_is_held_only_until_the_right_clock_reaches_it(system):
    """feedrev2: a buffer restarted on the right clock over a history saved by a clock 8 s ahead held persistence a
    whole window (16.5 s at 0.5 s x 33; 6 h at 60 s x 361), not the 8 s until its clock reached that history's newest
    slot: a restart in between lost every point gathered since, and the hold ended as 'the clock stayed ahead'. The
    hold ends when the clock reaches the saved head: the next save is at most a few slots past it."""
    import redis as redis_lib

    from actors import keys
    from test_clusters_end_to_end import buffer_points

    procs, ports, data = system["procs"], system["ports"], system["data"]
    raw = redis_lib.Redis.from_url(data["redis"]["url"])
    history_key = keys.buffer_history(data["name"], "buffer")
    wait_for(lambda: buffer_points(ports["buffer"]) >= 10, 40, "10 points per symbol in the buffer")
    procs["buffer"].terminate()
    saved = PriceGrid.from_blob(raw.get(history_key))
    # As written by a clock 15 s ahead: every slot 30 later. 8 s ahead (16 slots) was too close: on a loaded machine
    # (CI beside helpers' work, load average 14) the restarted buffer read its history after its clock had already
    # reached that head, so nothing was held and no clock_fault_ended was logged (session 41).
    saved.head_slot += 30
    raw.set(history_key, saved.to_blob())
    procs["buffer"] = ActorProcess(system["topo_path"], "buffer").start()  # the right clock

    def saved_head() -> int:
        return PriceGrid.from_blob(raw.get(history_key)).head_slot

    seen: list[int] = []
    wait_for(lambda: seen.append(saved_head()) or seen[-1] > saved.head_slot, 40, "a save past the saved head")
    assert seen[-1] <= saved.head_slot + 8, seen[-1] - saved.head_slot  # saved within 4 s of the clock reaching it
    log = procs["buffer"].log()
    assert "clock_fault" in log, "the buffer read its history after its clock reached the saved head: nothing held"
    assert "clock_fault_ended" in log


def saved_history_head(data) -> int:
    """The newest slot of the buffer's saved history."""
    import redis as redis_lib

    from actors import keys

    with redis_lib.Redis.from_url(data["redis"]["url"]) as raw:
        return PriceGrid.from_blob(raw.get(keys.buffer_history(data["name"], "buffer"))).head_slot


def test_a_clock_that_comes_partly_forward_after_a_backward_step_holds_the_history_only_until_it_reaches_it(
        system, tmp_path):
    """pricefix: the clock stepped back 30 s, then forward 20 s (a partial return: still 10 s behind the slot it
    stepped back from). The forward step was taken for a forward fault (clock_fault direction=ahead): persistence was
    held a whole window from it (16 s here, 6 h at 60 s x 361), ending 'the clock stayed ahead', though the clock
    reached the saved history's newest slot 10 s after the first step (30 minutes after a -3600 s, +1800 s return).
    p27_buffer_history_save_held shows the hold: 1 while held, 0 once the history is saved again."""
    from helpers import scrape

    procs, ports, data = system["procs"], system["ports"], system["data"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    assert scrape(ports["buffer"])["p27_buffer_history_save_held"] == 0
    clock_file.write_text("-30")
    wait_for(lambda: scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0) >= 1, 10,
             "the backward step seen by the buffer")
    wait_for(lambda: scrape(ports["buffer"])["p27_buffer_history_save_held"] == 1, 10, "the hold shown")
    held_head = saved_history_head(data)
    clock_file.write_text("-10")
    wait_for(lambda: saved_history_head(data) > held_head or "clock_fault_accepted" in procs["buffer"].log(), 60,
             "the history persisted again, or the hold's end")
    log = procs["buffer"].log()
    assert "clock_fault_accepted" not in log and "direction=ahead" not in log, log[-3000:]
    assert "event=clock_fault_ended" in log, log[-3000:]
    assert scrape(ports["buffer"])["p27_buffer_history_save_held"] == 0
    assert saved_history_points(data) >= 15  # the saved history merged, not a wiped grid


def test_a_history_more_than_a_window_ahead_is_held_one_window_in_all_not_a_window_at_every_restart(system):
    """pricefix: a saved history more than a window ahead of the clock (here 40 s, the window 16 s; its newest slot
    out of the clock's reach within the window) was held a whole window from every start: a buffer restarted more
    often than that (a crash loop; 6 h at 60 s x 361) never saved again, and each restart was a cold warm-up. The hold
    is one window from the first hold on that history, in whichever run: the first save comes about a window after
    the first start, not a window after the restart."""
    a_history_ahead_is_saved_over_one_window_after_the_first_start(system, held_since_ahead_s=None)


def test_a_history_held_since_a_time_ahead_of_the_clock_is_held_one_window_in_all_not_a_window_at_every_restart(
        system):
    """feedrev3: the saved history says its hold began an hour ahead of this clock (held_since_ts written by a run
    whose clock was ahead of this one: it stepped back between restarts; or garbage). The hold counted nothing held
    before and kept that time, so every start held a whole window again and a buffer restarted more often than that
    never saved, as before pricefix. A time ahead of the clock is taken for unknown and marked again at once."""
    a_history_ahead_is_saved_over_one_window_after_the_first_start(system, held_since_ahead_s=3600.0)


def test_a_history_held_since_a_time_far_behind_the_clock_is_held_one_window_in_all_not_saved_over_at_once(system):
    """prices: the saved history says its hold began ten years before this clock (held_since_ts written by a run on a
    clock far behind this one, or garbage). Taken as the time held, the hold had aged out: it ended at the first
    publish and the grid was saved over the history at once. A time more than a window behind the clock is unknown, as
    one ahead of it is, and marked again from this clock: the history is held one window from the first start."""
    a_history_ahead_is_saved_over_one_window_after_the_first_start(system, held_since_ahead_s=-10 * 365 * 86400.0)


def test_how_long_a_history_was_held_is_known_only_from_a_time_at_most_a_window_behind_the_clock():
    """prices: held_since_ts far behind the clock (another clock's, or garbage) ended the hold at once; one ahead counted
    nothing held (feedrev3). Either is unknown: the history is marked held again from this clock."""
    window_s = 16.0
    assert hold_age_s(None, 1000.0, window_s) is None
    assert hold_age_s(990.0, 1000.0, window_s) == 10.0
    assert hold_age_s(1000.0, 1000.0, window_s) == 0.0
    assert hold_age_s(1000.0 - window_s, 1000.0, window_s) == window_s
    assert hold_age_s(1000.5, 1000.0, window_s) is None
    assert hold_age_s(1000.0 - window_s - 1, 1000.0, window_s) is None
    assert hold_age_s(-1e300, 1000.0, window_s) is None


def test_a_hold_mark_off_the_time_held_by_more_than_a_cadence_is_marked_again():
    """revprices: a held_since_ts within the window was kept though the clock had stepped back (by less than the time
    held) or crept since it was marked: a restart held the history as much longer, or shorter, than the run."""
    window_s, cadence_s = 16.0, 0.5
    assert hold_mark_right(988.0, 988.0, 1000.0, window_s, cadence_s)
    assert hold_mark_right(988.4, 988.0, 1000.0, window_s, cadence_s)
    assert not hold_mark_right(996.0, 988.0, 1000.0, window_s, cadence_s)  # stepped back 8 s, 12 s held: 4 s by it
    assert not hold_mark_right(980.0, 988.0, 1000.0, window_s, cadence_s)  # crept forward 8 s
    assert not hold_mark_right(None, 1000.0, 1000.0, window_s, cadence_s)
    assert not hold_mark_right(1000.2, 1000.0, 1000.0, window_s, cadence_s)  # ahead of the clock: unknown


@pytest.mark.parametrize("second_step", ["more_than_held", "less_than_held"])
@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted_after_the_second_step"])
def test_a_second_backward_clock_step_during_the_hold_does_not_hold_the_history_a_window_from_it(system, tmp_path,
                                                                                                 restarted,
                                                                                                 second_step):
    """prices: the clock stepped back 3600 s, then, three quarters of a window into the hold, 20 s more. The second
    step held the saved history a whole window from it (1.75 windows from the first step in all: 6 h more at 60 s x
    361), though that history (its newest slot the slot of the first step) had aged out one window after the first step,
    whatever the clock did since: a restart in that time lost every point gathered. The hold ends one window after the
    first step: the history is saved again at most a quarter window later; by a buffer restarted after the second step
    too (the history says when its hold began, as this clock counts it: the time held before the step). revprices: a
    second step of half a window, less than the time held, left the mark of the first step (4 s held by the stepped
    clock, not 12): the restarted buffer held the history 1.5 windows in all; it is marked again too."""
    import time

    from helpers import scrape

    procs, ports, data = system["procs"], system["ports"], system["data"]
    cadence_s = data["clusters"]["cadence_s"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path,
                                                               points=HISTORY_POINTS_FOR_THE_HOLD)
    window_slots = PriceGrid.from_blob(raw_history(data)).capacity

    def back_faults() -> float:
        return scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0)

    clock_file.write_text("-3600")
    wait_for(lambda: back_faults() >= 1, 10, "the first backward step seen")
    held_head = saved_history_head(data)
    first_step_slot = math.floor(time.time() / cadence_s)  # on the real clock, a little after the step
    wait_for(lambda: time.time() / cadence_s >= first_step_slot + 3 * window_slots // 4, 20,
             "three quarters of a window held")
    # 20 s more is more than the 12 s held (the saved held_since_ts then lies ahead of the clock: marked again); half
    # a window is less (revprices: the mark was kept, 4 s held by the clock, and a restart held 12 s too long)
    further_s = 20.0 if second_step == "more_than_held" else window_slots * cadence_s / 2
    clock_file.write_text(str(-3600 - further_s))
    wait_for(lambda: back_faults() >= 2, 10, "the second backward step seen")
    assert saved_history_head(data) == held_head  # still held
    saved_slot = the_slot_the_history_is_saved_again_in(system, clock_file, held_head, restarted)
    assert saved_slot <= first_step_slot + window_slots + window_slots // 4, (saved_slot - first_step_slot,
                                                                             window_slots)
    assert "clock_fault_accepted" in procs["buffer"].log()


def test_a_clock_stepped_back_in_steps_each_under_a_slot_holds_a_restarted_buffer_one_window_from_the_first_step(
        system, tmp_path):
    """revprices: the clock stepped back 3600 s, then kept stepping back 0.8 of a slot every slot (each step under the
    skew allowed, so none is a clock fault: the clock crept on at a fifth of the real rate). The running buffer's hold
    ended one window after the first step (the monotonic clock), but the saved held_since_ts, marked once, aged at the
    wall clock's fifth: a buffer restarted three quarters of a window in counted a fifth of that held and held the
    history 1.6 windows in all (restarted that often, far longer). The mark follows the time held: the restarted
    buffer saves the history again one window after the first step, not before it."""
    import os
    import threading
    import time

    from helpers import scrape

    ports, data = system["ports"], system["data"]
    cadence_s = data["clusters"]["cadence_s"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path,
                                                               points=HISTORY_POINTS_FOR_THE_HOLD)
    window_slots = PriceGrid.from_blob(raw_history(data)).capacity

    def step_to(offset_s: float) -> None:  # whole, never half written (the shim reads a half-written file as 0)
        tmp = clock_file.with_suffix(".tmp")
        tmp.write_text(str(offset_s))
        os.replace(tmp, clock_file)

    step_to(-3600.0)
    wait_for(lambda: scrape(ports["buffer"]).get('p27_buffer_clock_faults_total{direction="back"}', 0) >= 1, 10,
             "the backward step seen")
    held_head = saved_history_head(data)
    first_step_slot = math.floor(time.time() / cadence_s)
    stop = threading.Event()

    def creep_back() -> None:
        offset_s = -3600.0
        while not stop.wait(cadence_s):
            offset_s -= 0.8 * cadence_s
            step_to(offset_s)

    creeper = threading.Thread(target=creep_back, daemon=True)
    creeper.start()
    try:
        wait_for(lambda: time.time() / cadence_s >= first_step_slot + 3 * window_slots // 4, 20,
                 "three quarters of a window held")
        assert saved_history_head(data) == held_head  # still held
        saved_slot = the_slot_the_history_is_saved_again_in(system, clock_file, held_head, restarted=True)
    finally:
        stop.set()
        creeper.join()
    assert window_slots - window_slots // 8 <= saved_slot - first_step_slot <= window_slots + window_slots // 4, (
        saved_slot - first_step_slot, window_slots)


def the_slot_the_history_is_saved_again_in(system, clock_file, held_head: int, restarted: bool) -> int:
    """The real clock's slot when the held saved history (its newest slot held_head) is saved over, by the running
    buffer, or by one restarted now on the stepped clock."""
    import time

    from test_clusters_end_to_end import SteppedClockProcess

    procs, data = system["procs"], system["data"]
    if restarted:
        procs["buffer"].terminate()
        procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
        wait_for(lambda: "event=clock_fault " in procs["buffer"].log(), 20, "the hold at start")
    wait_for(lambda: saved_history_head(data) != held_head, 60,
             f"the history saved again\n{procs['buffer'].log()[-2000:]}")
    return math.floor(time.time() / data["clusters"]["cadence_s"])


def raw_history(data) -> bytes:
    """The buffer's saved history blob."""
    import redis as redis_lib

    from actors import keys

    with redis_lib.Redis.from_url(data["redis"]["url"]) as raw:
        return raw.get(keys.buffer_history(data["name"], "buffer"))


def a_history_ahead_is_saved_over_one_window_after_the_first_start(system, held_since_ahead_s: float | None) -> None:
    """A saved history put 40 s ahead of the clock (its held_since_ts that far ahead of the clock, or none) is held at
    a buffer's start, still held when it restarts three quarters of a window later, and saved over about one window
    after the first start."""
    import time

    import redis as redis_lib

    from actors import keys
    from test_clusters_end_to_end import buffer_points

    procs, ports, data = system["procs"], system["ports"], system["data"]
    cadence_s = data["clusters"]["cadence_s"]
    wait_for(lambda: buffer_points(ports["buffer"]) >= 10, 40, "10 points per symbol in the buffer")
    procs["buffer"].terminate()
    with redis_lib.Redis.from_url(data["redis"]["url"]) as raw:
        history_key = keys.buffer_history(data["name"], "buffer")
        saved = PriceGrid.from_blob(raw.get(history_key))
        saved.head_slot += 80  # as written by a clock 40 s ahead
        if held_since_ahead_s is not None:
            saved.held_since_ts = time.time() + held_since_ahead_s
        raw.set(history_key, saved.to_blob())
    window_slots = saved.capacity
    started_slot = math.floor(time.time() / cadence_s)
    procs["buffer"] = ActorProcess(system["topo_path"], "buffer").start()
    wait_for(lambda: "event=clock_fault " in procs["buffer"].log(), 20, "the hold at start")
    wait_for(lambda: time.time() / cadence_s >= started_slot + 3 * window_slots // 4, 20,
             "three quarters of a window held")
    assert saved_history_head(data) == saved.head_slot  # still held
    procs["buffer"].terminate()
    procs["buffer"] = ActorProcess(system["topo_path"], "buffer").start()
    wait_for(lambda: saved_history_head(data) < saved.head_slot, 60,
             f"the history saved again\n{procs['buffer'].log()[-2000:]}")
    first_save = saved_history_head(data)
    # One window after the first start (the first hold began a little later: a start on a loaded machine), not one
    # window after the restart, three quarters of a window later.
    assert first_save <= started_slot + window_slots + window_slots // 2, (first_save - started_slot, window_slots)
    assert "clock_fault_accepted" in procs["buffer"].log()


def test_a_clusterer_whose_clock_stepped_is_named_in_the_state_writers_log_and_its_end_too(system, tmp_path):
    """rev-cluster: the clusterer's wall clock stepped back 3600 s (or 20 s, or ahead): every state it stamped was
    stale (or from the future) for the gate, which fell back to the proxy, while p27_updates_total kept rising,
    p27_corr_ready stayed 1 and no actor logged anything: nothing named the cause."""
    from test_clusters_end_to_end import SteppedClockProcess, fresh_state

    procs, r = system["procs"], system["redis"]
    clock_file = tmp_path / "clock_offset_s"
    clock_file.write_text("0")
    procs["clusterer"].terminate()
    procs["clusterer"] = SteppedClockProcess(system["topo_path"], "clusterer", clock_file).start()
    wait_for(lambda: fresh_state(r) is not None, 60, f"a fresh cluster state\n{procs['state_writer'].log()}")
    assert "event=state_clock_skew" not in procs["state_writer"].log()
    clock_file.write_text("-3600")
    wait_for(lambda: "event=state_clock_skew " in procs["state_writer"].log(), 20,
             f"the state writer to name the clusterer's clock\n{procs['state_writer'].log()}")
    line = next(x for x in procs["state_writer"].log().splitlines() if "event=state_clock_skew " in x)
    assert " error " in line and "state_age_s=3600." in line and "clusterer" in line, line
    assert procs["state_writer"].log().count("event=state_clock_skew ") == 1  # once per episode, not per state
    clock_file.write_text("0")
    wait_for(lambda: "event=state_clock_skew_ended" in procs["state_writer"].log(), 20,
             f"the end of the skew in the state writer's log\n{procs['state_writer'].log()}")
    wait_for(lambda: fresh_state(r) is not None, 20, "a fresh cluster state again")


def test_a_clusterer_that_resumes_after_its_correlator_died_does_not_write_an_old_matrix_as_fresh(system):
    """rev-cluster: the clusterer paused (SIGSTOP) while the correlator stopped; resumed, it stamped the matrix
    queued before the stop with its own now, and the state writer wrote it: the gate, on the proxy since the state
    went stale, took K from the cluster again for a whole freshness window, from correlations of no live
    correlator (real demo: price_age_s 8.8 in the state, max_price_age_s 5)."""
    import os
    import signal
    import time

    from helpers import scrape
    from launcher import keys
    from test_clusters_end_to_end import CADENCE_S as E2E_CADENCE_S, fresh_state

    procs, ports, r = system["procs"], system["ports"], system["redis"]
    wait_for(lambda: fresh_state(r) is not None, 60, "a fresh cluster state")
    clusterer = procs["clusterer"].proc
    os.kill(clusterer.pid, signal.SIGSTOP)
    try:
        queued_after = time.time() + E2E_CADENCE_S  # a matrix the correlator publishes meanwhile waits for the clusterer
        wait_for(lambda: time.time() > queued_after, 5, "a matrix queued for the stopped clusterer")
        procs["correlator"].terminate()
        max_price_age_s = 5 * E2E_CADENCE_S
        wait_for(lambda: time.time() - int(r.hget(keys.CLUSTER_STATE, "updated_ts_ms")) / 1000 > max_price_age_s + 1, 20,
                 "the queued matrix's prices to be older than max_price_age_s")
        writer = ports["state_writer"]

        def handled() -> float:
            m = scrape(writer)
            return m.get("p27_updates_total", 0) + m.get('p27_fail_closed_total{reason="upstream_not_ready"}', 0)

        before, updates = handled(), scrape(writer).get("p27_updates_total", 0)
    finally:
        os.kill(clusterer.pid, signal.SIGCONT)
    wait_for(lambda: handled() > before, 20, "the state writer to get the resumed clusterer's state")
    assert scrape(writer).get("p27_updates_total", 0) == updates, r.hgetall(keys.CLUSTER_STATE)
    assert fresh_state(r) is None, r.hgetall(keys.CLUSTER_STATE)
    assert scrape(ports["clusterer"]).get('p27_fail_closed_total{reason="matrix_stale"}', 0) >= 1


def test_a_position_snapshot_holding_bytes_that_are_not_utf8_does_not_stop_the_cluster_side(system):
    """rev-cluster: one extra field of binary data in one symbol's snapshot hash (a field SPEC does not name, as an
    execution layer may add) raised UnicodeDecodeError in the clusterer for every matrix (no state: the gate on
    the proxy until someone deleted the field) and in the buffer every cadence (history no longer persisted).
    The gate reads the named fields alone and never saw it. Now: an extra field is ignored, and a named field
    that is not a number (bytes that are not UTF-8 included) makes that snapshot unusable, as the gate reads it."""
    from helpers import scrape
    from launcher import keys

    procs, ports, r = system["procs"], system["ports"], system["redis"]
    raw = __import__("redis").Redis.from_url(system["data"]["redis"]["url"])
    writer = ports["state_writer"]
    wait_for(lambda: scrape(writer).get("p27_updates_total", 0) >= 1, 60, "a first cluster state")
    raw.hset(keys.position_snapshot("BTCUSDT"), "exec_meta", b"\xff\xfe\x00")  # not a SPEC field
    raw.hset(keys.position_snapshot("ETHUSDT"), "notional_usd", b"\xff\xfe")  # a SPEC field that holds no number
    # A snapshot key of another type (a string where a hash belongs): its WRONGTYPE error failed the whole read,
    # so the clusterer failed closed (`redis_unavailable`) on every matrix and the buffer held no symbol.
    raw.set(keys.position_snapshot("SOLUSDT"), "not a hash")
    fail_closed = scrape(ports["clusterer"]).get('p27_fail_closed_total{reason="redis_unavailable"}', 0)
    updates = scrape(writer).get("p27_updates_total", 0)
    published = scrape(ports["buffer"]).get("p27_windows_published_total", 0)
    wait_for(lambda: scrape(writer).get("p27_updates_total", 0) >= updates + 3, 20,
             f"three more cluster states written\n{procs['clusterer'].log()[-2000:]}")
    wait_for(lambda: scrape(ports["buffer"]).get("p27_windows_published_total", 0) >= published + 3, 20,
             "three more windows published")
    for actor in ("clusterer", "buffer"):
        errors = {k: v for k, v in scrape(ports[actor]).items() if k.startswith("clustergate_handler_errors_total")}
        assert not any(errors.values()), (errors, procs[actor].log()[-2000:])
    assert scrape(ports["clusterer"]).get('p27_fail_closed_total{reason="redis_unavailable"}', 0) == fail_closed
    assert scrape(ports["buffer"]).get('p27_buffer_redis_errors_total{op="positions"}', 0) == 0
    assert "snapshot_unreadable" in procs["clusterer"].log() and "SOLUSDT" in procs["clusterer"].log()
    # BTCUSDT is held (its extra field ignored), ETHUSDT is not (its notional_usd is no number): only BTC's notional.
    clusters = [r.hgetall(keys.cluster_state_of(cid)) for cid in r.hkeys(keys.CLUSTERS)]
    btc = 0.5 * float(r.hget(keys.position_snapshot("BTCUSDT"), "mark_price"))
    assert sum(float(c["notional"]) for c in clusters) == pytest.approx(btc, rel=0.05), clusters


def test_held_notionals_whose_book_total_overflows_fail_closed_named_and_recover(system):
    """rev-cluster2: two snapshots with notional_usd 1e308 (each finite, so each usable) summed to a book of inf:
    weight inf/inf is NaN, the state message could not be encoded (allow_nan=False), and the clusterer logged
    'handler_error ValueError: Out of range float values' on every matrix, counted no fail-closed reason and left
    p27_cluster_stress_sum at NaN. Now the state is not ready, reason notional_overflow, the log names the symbols,
    the gate falls back (nothing written) and the writes resume once the snapshots are sane again."""
    from helpers import scrape
    from launcher import keys

    procs, ports, r = system["procs"], system["ports"], system["redis"]
    writer, clusterer = ports["state_writer"], ports["clusterer"]
    wait_for(lambda: scrape(writer).get("p27_updates_total", 0) >= 1, 60, "a first cluster state")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        r.hset(keys.position_snapshot(symbol), "notional_usd", "1e308")
    reason = 'p27_fail_closed_total{reason="notional_overflow"}'
    wait_for(lambda: scrape(clusterer).get(reason, 0) >= 2, 20,
             f"the clusterer to fail closed naming the overflow\n{procs['clusterer'].log()[-2000:]}")
    m = scrape(clusterer)
    assert not any(v for k, v in m.items() if k.startswith("clustergate_handler_errors_total")), m
    assert all(math.isfinite(m[g]) for g in ("p27_cluster_stress_sum", "p27_cluster_stress_max")), m
    log = procs["clusterer"].log()
    assert "notional_overflow" in log and "BTCUSDT" in log and "ETHUSDT" in log, log[-2000:]
    updates = scrape(writer).get("p27_updates_total", 0)
    not_ready = scrape(writer).get('p27_fail_closed_total{reason="upstream_not_ready"}', 0)
    wait_for(lambda: scrape(writer).get('p27_fail_closed_total{reason="upstream_not_ready"}', 0) >= not_ready + 2, 20,
             "the state writer to get not-ready states")
    assert scrape(writer).get("p27_updates_total", 0) == updates
    for symbol in ("BTCUSDT", "ETHUSDT"):
        r.hdel(keys.position_snapshot(symbol), "notional_usd")
    wait_for(lambda: scrape(writer).get("p27_updates_total", 0) >= updates + 2, 20,
             f"writes to resume\n{procs['clusterer'].log()[-2000:]}")


def test_the_first_print_after_a_buffer_restart_is_checked_against_the_history_it_loaded(tmp_path, redis_server):
    """rev-cluster2: the buffer's jump filter started empty on every restart while the grid took the saved history
    back, so the first print of each symbol after a restart was accepted unchecked: a print 1000x off right after
    a restart (the feed restarted too, its own filter empty as well: `clustergate up`, a host reboot) went into
    the grid and its return sat in every window for the whole lookback. Now the filter starts from the newest
    price of the loaded history: that print is refused (reason jump) and the next good one is accepted."""
    import time

    import redis as redis_lib
    import zmq

    from actors.grid import PriceGrid
    from actors.wire import Tick
    from helpers import retarget
    from launcher import keys

    data = retarget(__import__("helpers").demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer")}
    data["clusters"].update({"cadence_s": 0.5, "lookback_returns": 30, "min_returns": 5})
    path = write_topology(tmp_path / "topology.yaml", data)
    bport = data["actors"]["buffer"]["metrics_port"]
    raw = redis_lib.Redis.from_url(data["redis"]["url"])
    history_key = keys.buffer_history(data["name"], "buffer")
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(tick_endpoint(data))
    seq = 0

    def send(symbol: str, price: float) -> None:
        nonlocal seq
        seq += 1
        pub.send_multipart(Tick(symbol, price, time.time(), seq).frames())

    def saved_sol_points() -> int:
        blob = raw.get(history_key)
        if blob is None:
            return 0
        saved = PriceGrid.from_blob(blob)
        return int(np.isfinite(saved.prices[saved.index["SOLUSDT"]]).sum())

    buffer = ActorProcess(path, "buffer").start()
    try:
        wait_for(lambda: metric(bport, "clustergate_actor_ready", actor="buffer") == 1, 20, "buffer ready")

        def ticked() -> bool:
            send("SOLUSDT", 100.0)
            return saved_sol_points() >= 3

        wait_for(ticked, 20, "three SOLUSDT points in the saved history", interval_s=0.1)
        buffer.terminate()
        buffer = ActorProcess(path, "buffer").start()
        wait_for(lambda: "history_loaded" in buffer.log().split("event=starting")[-1], 20,
                 f"the restarted buffer to load its history\n{buffer.log()[-2000:]}")

        def subscribed() -> bool:  # BTCUSDT has no history: its first print is accepted, and shows the subscription
            send("BTCUSDT", 60000.0)
            return metric(bport, "buffer_ticks_accepted_total", symbol="BTCUSDT") >= 1

        wait_for(subscribed, 20, "the restarted buffer to receive ticks", interval_s=0.1)
        send("SOLUSDT", 100000.0)
        wait_for(lambda: metric(bport, "p27_buffer_rejected_ticks_total", reason="jump")
                 + metric(bport, "buffer_ticks_accepted_total", symbol="SOLUSDT") >= 1, 10, "the SOLUSDT print handled")
        assert metric(bport, "p27_buffer_rejected_ticks_total", reason="jump") == 1
        assert metric(bport, "buffer_ticks_accepted_total", symbol="SOLUSDT") == 0
        send("SOLUSDT", 101.0)
        wait_for(lambda: metric(bport, "buffer_ticks_accepted_total", symbol="SOLUSDT") == 1, 10,
                 "the next good SOLUSDT print accepted")
    finally:
        buffer.terminate()
        pub.close(0)
        ctx.term()


def test_a_held_symbol_whose_ticks_stopped_stops_the_cluster_state_so_the_gate_falls_back_to_the_proxy(system):
    """BTCUSDT and ETHUSDT both held long, correlated, one cluster; BTC's ticks stop while ETH and SOL tick
    (rev-fallback). BTC left the matrix for its stale price, ETH was left a cluster of one (correlation 0), and a fresh
    state said ClusterStress 0.0 for as long as BTC's feed stayed stuck: the gate took K 0 "from the cluster" for a
    book that is one correlated bet (on the demo, a feed restart whose first ETH print the buffer refused gave a
    fresh ClusterStress 0.0 for a cadence). A held symbol out of the matrix for its stale price leaves no state to
    vouch for: the clusterer sends it not ready (held_prices_stale), nothing is written, the state goes stale and
    the gate falls back to the proxy, which counts every position; it returns when BTC ticks again."""
    import json

    from actors import keys
    from helpers import scrape
    from test_clusters_end_to_end import corr_ready, fresh_state

    ports, r, procs = system["ports"], system["redis"], system["procs"]

    def btc_and_eth_clustered() -> bool:
        return fresh_state(r) is not None and any(
            {"BTCUSDT", "ETHUSDT"} <= set(json.loads(members)) for members in r.hgetall(keys.CLUSTERS).values())

    wait_for(lambda: corr_ready(ports["state_writer"]) and btc_and_eth_clustered(), 40,
             "a fresh state with BTC and ETH in one cluster")
    silence_until_stale(system, "BTCUSDT")
    wait_for(lambda: not fresh_state(r), 20, "the cluster state to go stale with held BTC's price stale "
             f"(latest: {r.hgetall(keys.CLUSTER_STATE)}, clusters {r.hgetall(keys.CLUSTERS)})")
    assert scrape(ports["clusterer"]).get('p27_fail_closed_total{reason="held_prices_stale"}', 0) >= 1
    log = procs["clusterer"].log()
    assert "event=held_prices_stale" in log and 'symbols=["BTCUSDT"]' in log, log[-2000:]
    system["feed"].silenced.discard("BTCUSDT")
    wait_for(btc_and_eth_clustered, 30, "a fresh state with BTC and ETH in one cluster again")
    assert "event=held_prices_fresh_again" in procs["clusterer"].log()


def test_status_and_a_clusterer_gauge_name_the_held_symbol_whose_stale_price_stops_the_cluster_state(system):
    """rev-today, as an operator meets it: BTC held, its ticks stopped. The clusterer stops the state
    (held_prices_stale) and the gate falls back, but `clustergate status` read corr_ready 1, symbols in matrix 2,
    newest price fresh, the cluster state STALE, and BTC "not in the matrix (fewer than 5 valid returns ...; or a
    price older than max_price_age_s)": nothing said that BTC, being held, is why no state is written, and no metric
    said so either (the reason was a counter and one log line). The clusterer now exports
    p27_held_price_stale{symbol} (1 while that held symbol's own price is stale, so no state is written) and status
    names it on the symbol's line."""
    from helpers import scrape
    from launcher.overview import collect_overview, render_overview
    from launcher.topology import load_topology
    from test_clusters_end_to_end import corr_ready, fresh_state

    ports, r = system["ports"], system["redis"]
    series = 'p27_held_price_stale{symbol="%s"}'
    wait_for(lambda: corr_ready(ports["state_writer"]) and fresh_state(r) is not None, 40, "a fresh state")
    assert scrape(ports["clusterer"]).get(series % "BTCUSDT") == 0
    silence_until_stale(system, "BTCUSDT")
    wait_for(lambda: not fresh_state(r), 20, "the cluster state to go stale")
    sample = scrape(ports["clusterer"])
    assert (sample.get(series % "BTCUSDT"), sample.get(series % "ETHUSDT"), sample.get(series % "SOLUSDT")) == (1, 0, 0)
    topo = load_topology(system["topo_path"])
    text = render_overview(topo, collect_overview(topo))
    btc_line = next(line for line in text.splitlines() if line.strip().startswith("BTCUSDT"))
    assert "held" in btc_line and "held_prices_stale" in btc_line and "proxy" in btc_line, text
    assert "held_prices_stale" not in next(line for line in text.splitlines() if line.strip().startswith("SOLUSDT"))
    system["feed"].silenced.discard("BTCUSDT")
    wait_for(lambda: scrape(ports["clusterer"]).get(series % "BTCUSDT") == 0, 30, "BTC's gauge back to 0")


def test_a_position_closed_on_a_symbol_whose_price_is_stale_is_not_logged_as_its_prices_fresh_again(system, monkeypatch):
    """rev-today: BTC held, its ticks stopped (the state stops, held_prices_stale), then the position is closed
    (position_amt 0) while its feed is still stuck. The state is written again, rightly (nothing held is left out),
    but the clusterer logged event=held_prices_fresh_again symbols=["BTCUSDT"]: an operator following the incident
    read that BTC's feed had come back. It now says the symbol is no longer held, and says prices are fresh again
    only when they are."""
    import sys

    from test_clusters_end_to_end import corr_ready, fresh_state

    ports, r, procs = system["ports"], system["redis"], system["procs"]
    wait_for(lambda: corr_ready(ports["state_writer"]) and fresh_state(r) is not None, 40, "a fresh state")
    silence_until_stale(system, "BTCUSDT")
    wait_for(lambda: "event=held_prices_stale" in procs["clusterer"].log(), 20, "the state stopped for BTC")
    feed_positions = sys.modules[type(system["feed"]).__module__].POSITIONS  # the ones the test feed writes
    monkeypatch.setitem(feed_positions, "BTCUSDT", 0.0)  # closed; its feed still stuck
    wait_for(lambda: "event=stale_priced_symbols_no_longer_held" in procs["clusterer"].log(), 20,
             f"the clusterer to say BTC is no longer held\n{procs['clusterer'].log()[-1500:]}")
    assert "event=held_prices_fresh_again" not in procs["clusterer"].log()
    wait_for(lambda: fresh_state(r) is not None, 20, "a fresh state again, BTC no longer held")


def lone_correlator_topology(tmp_path, redis_server):
    """(data, path, metrics port) of the demo topology cut to feed, buffer and correlator, for a correlator started
    alone with the test standing where the buffer is."""
    from helpers import demo_topology_data, retarget

    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer", "correlator")}
    return data, write_topology(tmp_path / "topology.yaml", data), data["actors"]["correlator"]["metrics_port"]


def test_a_window_whose_shape_is_not_two_whole_numbers_is_a_bad_window_not_a_handler_error(tmp_path, redis_server):
    """feedrev: decode_window took any shape whose product matched the body: [3, 2.0] (or [3, true]) reached numpy's
    reshape, whose TypeError escaped the correlator's handler (clustergate_handler_errors_total, a traceback in the
    log) instead of p27_fail_closed_total{reason="bad_window"} and the warning bad_window naming the shape."""
    import json

    import zmq

    data, path, port = lone_correlator_topology(tmp_path, redis_server)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(data["actors"]["buffer"]["sockets"]["windows"]["bind"])
    correlator = ActorProcess(path, "correlator").start()
    try:
        correlator.wait_serving(port)
        header = {"v": 1, "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"], "cadence_s": 1, "first_slot": 0,
                  "last_slot": 1, "shape": [3, 2.0], "points_per_symbol": {}, "ts": 0}

        def refused() -> bool:
            pub.send_multipart([b"window", json.dumps(header).encode(), b"\x00" * 48])
            return metric(port, "p27_fail_closed_total", reason="bad_window") >= 1 \
                or metric(port, "clustergate_handler_errors_total") >= 1

        wait_for(refused, 20, f"the window handled\n{correlator.log()[-2000:]}", interval_s=0.2)
        assert metric(port, "clustergate_handler_errors_total") == 0, correlator.log()[-3000:]
        assert "event=bad_window" in correlator.log() and "shape" in correlator.log()
        assert correlator.proc.poll() is None
    finally:
        correlator.terminate()
        pub.close(0)
        ctx.term()


@pytest.mark.parametrize("bad", ["snapshot_not_base64", "snapshot_prices_not_text", "snapshot_not_json"])
def test_a_snapshot_the_correlator_cannot_read_is_a_bad_window_not_a_handler_error(tmp_path, redis_server, bad):
    """feedrev noticed, session 34 reproduced: a snapshot reply that is not JSON, or whose prices_b64 is not base64 or
    not text, raised in on_snapshot_reply: a handler error with a traceback, not
    p27_fail_closed_total{reason="bad_window"}."""
    import json

    import zmq

    data, path, port = lone_correlator_topology(tmp_path, redis_server)
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.bind(data["actors"]["buffer"]["sockets"]["snapshot"]["bind"])
    header = {"v": 1, "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"], "cadence_s": 1, "first_slot": 0,
              "last_slot": 1, "shape": [3, 2], "points_per_symbol": {}, "ts": 0}
    replies = {"snapshot_not_base64": json.dumps({"status": "ok", "header": header, "prices_b64": "@@not base64@@"}),
               "snapshot_prices_not_text": json.dumps({"status": "ok", "header": header, "prices_b64": 12}),
               "snapshot_not_json": "\x00 not json"}
    correlator = ActorProcess(path, "correlator").start()
    try:
        correlator.wait_serving(port)

        def handled() -> bool:
            if rep.poll(0):
                rep.recv()
                rep.send(replies[bad].encode())
            return metric(port, "p27_fail_closed_total", reason="bad_window") >= 1 \
                or metric(port, "clustergate_handler_errors_total") >= 1

        wait_for(handled, 20, f"the bad input handled\n{correlator.log()[-2000:]}", interval_s=0.2)
        assert metric(port, "clustergate_handler_errors_total") == 0, correlator.log()[-3000:]
        assert correlator.proc.poll() is None
    finally:
        correlator.terminate()
        rep.close(0)
        ctx.term()


def test_a_bad_live_window_before_the_snapshot_reply_leaves_the_snapshot_used(tmp_path, redis_server):
    """pricefix: a live window the correlator could not read (counted bad_window) still marked it as having a window,
    so the snapshot reply that came next was not used (snapshot_received used=False) and the first matrix waited for
    the next window, a cadence later (6 h of readiness lost at 60 s with a buffer that publishes no good window)."""
    import base64
    import json
    import time

    import zmq

    data, path, port = lone_correlator_topology(tmp_path, redis_server)
    data["actors"]["correlator"].setdefault("settings", {})["snapshot_timeout_ms"] = 30000  # one request, answered here
    path = write_topology(path, data)
    ctx = zmq.Context()
    pub, rep = ctx.socket(zmq.PUB), ctx.socket(zmq.REP)
    pub.bind(data["actors"]["buffer"]["sockets"]["windows"]["bind"])
    rep.bind(data["actors"]["buffer"]["sockets"]["snapshot"]["bind"])
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    bad = {"v": 1, "symbols": symbols, "cadence_s": 1, "first_slot": 0, "last_slot": 1, "shape": [3, 2.0],
           "points_per_symbol": {}, "ts": 0}
    correlator = ActorProcess(path, "correlator").start()
    try:
        correlator.wait_serving(port)
        wait_for(lambda: rep.poll(0), 20, f"the correlator's snapshot request\n{correlator.log()[-2000:]}")
        rep.recv()

        def bad_window_counted() -> bool:
            pub.send_multipart([b"window", json.dumps(bad).encode(), b"\x00" * 48])
            return metric(port, "p27_fail_closed_total", reason="bad_window") >= 1

        wait_for(bad_window_counted, 20, f"the bad live window counted\n{correlator.log()[-2000:]}", interval_s=0.2)
        walks = np.cumsum(np.random.default_rng(6).normal(0.0, 0.01, (3, 40)), axis=1)
        prices, now = 100.0 * np.exp(walks), time.time()
        header = window_header(symbols, 1.0, int(now) - 41, prices, now, {s: now for s in symbols})
        body = base64.b64encode(prices.astype("<f8").tobytes()).decode()
        rep.send(json.dumps({"status": "ok", "header": header, "prices_b64": body}).encode())
        wait_for(lambda: "event=snapshot_received" in correlator.log(), 10, "the snapshot reply read")
        assert "used=true" in correlator.log(), correlator.log()[-2000:]
        wait_for(lambda: metric(port, "p27_corr_ready") == 1, 10,
                 f"a matrix from the snapshot\n{correlator.log()[-2000:]}")
    finally:
        correlator.terminate()
        pub.close(0)
        rep.close(0)
        ctx.term()


def test_a_clock_that_steps_back_twice_across_a_restart_keeps_the_history_until_it_returns(system, tmp_path):
    """feedrev3 (held): the buffer's clock stepped back 30 s, the buffer restarted while held, and the clock stepped
    back 30 s more before it came right: the saved history is never overwritten by a grid the steps emptied, the
    hold ends when the clock returns (not aged out, and no forward fault), the history is merged again, and
    p27_buffer_history_save_held reads 0 once it is saved again."""
    from helpers import scrape
    from test_clusters_end_to_end import SteppedClockProcess

    procs, ports, data = system["procs"], system["ports"], system["data"]
    clock_file = buffer_on_a_stepped_clock_with_a_saved_history(system, tmp_path)
    held_head = saved_history_head(data)
    clock_file.write_text("-30")
    wait_for(lambda: scrape(ports["buffer"])["p27_buffer_history_save_held"] == 1, 10, "the first step's hold")
    procs["buffer"].terminate()
    procs["buffer"] = SteppedClockProcess(system["topo_path"], "buffer", clock_file).start()
    wait_for(lambda: scrape(ports["buffer"]).get("p27_buffer_history_save_held") == 1, 20, "held after the restart")
    clock_file.write_text("-60")
    wait_for(lambda: scrape(ports["buffer"])['p27_buffer_clock_faults_total{direction="back"}'] >= 2, 10,
             "the second step seen")
    assert saved_history_head(data) >= held_head and saved_history_points(data) >= 15
    clock_file.write_text("0")
    wait_for(lambda: saved_history_head(data) > held_head + 2, 30,
             f"the history saved again\n{procs['buffer'].log()[-3000:]}")
    log = procs["buffer"].log()
    assert "clock_fault_accepted" not in log and "direction=ahead" not in log, log[-3000:]
    assert "event=clock_fault_ended" in log, log[-3000:]
    assert saved_history_points(data) >= 15  # merged, not refilled tick by tick
    assert scrape(ports["buffer"])["p27_buffer_history_save_held"] == 0
