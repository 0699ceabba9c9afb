"""A frozen price feed (fresh timestamps, a price that never changes) is told to the operator: the buffer logs
price_frozen once, sets p27_buffer_price_frozen{symbol} to 1, and logs price_moving_again when the price moves.
Before, nothing said so: the symbol's returns of exactly 0 lowered its correlations, split clusters and lowered
ClusterStress and K unannounced. The maths is unchanged (a frozen price is still a price). Pure logic as plain
functions; the buffer as a real process fed over real ZeroMQ, with a real redis-server."""

from __future__ import annotations

import base64
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
import zmq

from actors.frozen_prices import FrozenRun, FrozenWatch, frozen_runs
from actors.wire import Tick, decode, encode
from feed_helpers import metric, tick_endpoint
from helpers import ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher.topology import load_topology

NAN = math.nan
SYMBOLS = ["BTCUSDT", "SOLUSDT"]


def grid(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=float)


# --------------------------------------------------------------------------- pure


def test_a_price_unchanged_over_frozen_after_slots_slots_is_frozen_since_the_first_of_them():
    prices = grid([1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 3, 3, 3, 3])
    assert frozen_runs(SYMBOLS, 100, prices, 4) == {"SOLUSDT": FrozenRun(price=3.0, since_slot=102, newest_slot=106)}
    assert frozen_runs(SYMBOLS, 100, prices, 5) == {}  # 4 slots unchanged (102 to 106), not 5


def test_a_missing_slot_neither_changes_the_price_nor_breaks_its_run():
    """A feed that misses a slot now and then (polled snapshots, jitter at a slot edge) is still frozen."""
    prices = grid([1, 2, 3, 4, 5, 6, 7], [1, 3, NAN, 3, NAN, NAN, 3])
    assert frozen_runs(SYMBOLS, 0, prices, 5) == {"SOLUSDT": FrozenRun(price=3.0, since_slot=1, newest_slot=6)}


def test_the_run_ends_at_the_newest_slot_holding_a_price_not_at_the_window_end():
    """Missing slots after the newest price do not lengthen the run: a stopped feed is P27SymbolPricesStopped's."""
    prices = grid([1, 2, 3, 4, 5, 6, 7], [1, 3, 3, 3, 3, NAN, NAN])
    assert frozen_runs(SYMBOLS, 0, prices, 4) == {}
    assert frozen_runs(SYMBOLS, 0, prices, 3) == {"SOLUSDT": FrozenRun(price=3.0, since_slot=1, newest_slot=4)}


def test_a_symbol_with_one_price_or_none_is_not_frozen_and_0_turns_the_check_off():
    assert frozen_runs(SYMBOLS, 0, grid([NAN] * 6, [NAN, NAN, 5, NAN, NAN, NAN]), 1) == {}
    constant = grid([2.0] * 20, [3.0] * 20)
    assert set(frozen_runs(SYMBOLS, 0, constant, 19)) == {"BTCUSDT", "SOLUSDT"}
    assert frozen_runs(SYMBOLS, 0, constant, 0) == {}


def test_a_price_that_moves_by_the_smallest_step_is_not_frozen():
    prices = grid([1.0] * 10, [3.0] * 9 + [math.nextafter(3.0, 4.0)])
    assert set(frozen_runs(SYMBOLS, 0, prices, 5)) == {"BTCUSDT"}


def test_frozen_runs_leave_the_window_untouched():
    prices = grid([1, 2, 3, NAN, 5], [3, 3, 3, 3, 3])
    before = prices.copy()
    frozen_runs(SYMBOLS, 0, prices, 2)
    np.testing.assert_array_equal(prices, before)


def test_the_watch_says_price_frozen_once_and_price_moving_again_when_the_price_moves():
    watch = FrozenWatch(3)
    moving = grid([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])
    frozen = grid([1, 2, 3, 4, 5, 6], [1, 2, 3, 3, 3, 3])
    assert watch.update(SYMBOLS, 10, moving) == []
    changes = watch.update(SYMBOLS, 10, frozen)
    assert [(c.event, c.symbol, c.price, c.since_slot) for c in changes] == [("price_frozen", "SOLUSDT", 3.0, 12)]
    assert watch.update(SYMBOLS, 11, grid([2, 3, 4, 5, 6, 7], [2, 3, 3, 3, 3, 3])) == []  # still frozen: said once
    assert watch.frozen == {"SOLUSDT": FrozenRun(3.0, 12, 16)}  # since stays the first slot seen frozen
    moved = watch.update(SYMBOLS, 12, grid([3, 4, 5, 6, 7, 8], [3, 3, 3, 3, 3, 3.5]))
    assert [(c.event, c.symbol, c.price, c.frozen_price, c.since_slot) for c in moved] == [
        ("price_moving_again", "SOLUSDT", 3.5, 3.0, 12)]
    assert watch.frozen == {}


def test_the_watch_keeps_the_first_since_when_the_run_starts_before_the_window():
    """A price frozen longer than the window: its run's first slot in view moves on; the log said it once."""
    watch = FrozenWatch(2)
    watch.update(SYMBOLS, 0, grid([1, 2, 3, 4], [5, 5, 5, 5]))
    assert watch.update(SYMBOLS, 7, grid([8, 9, 10, 11], [5, 5, 5, 5])) == []
    assert watch.frozen["SOLUSDT"].since_slot == 0


def test_the_watch_says_a_new_frozen_price_after_a_move_it_did_not_see_frozen_in_between():
    watch = FrozenWatch(2)
    watch.update(SYMBOLS, 0, grid([1, 2, 3, 4], [5, 5, 5, 5]))
    changes = watch.update(SYMBOLS, 4, grid([5, 6, 7, 8], [6, 6, 6, 6]))
    assert [(c.event, c.price) for c in changes] == [("price_moving_again", 6.0), ("price_frozen", 6.0)]
    assert watch.frozen["SOLUSDT"].price == 6.0


def test_a_frozen_price_whose_feed_then_stopped_is_never_said_to_move_while_its_run_ages_out():
    """The feed froze, then stopped: the unchanged run shrinks below frozen_after_slots as its first slots leave the
    window, but the price never moved. Before, the watch said price_moving_again (price = frozen_price) then, and
    the gauge went to 0 for a price still frozen; it is price_frozen_ended once no price is left, and only then."""
    watch = FrozenWatch(4)
    sol = [1, 2, 3, 3, 3, 3, 3] + [NAN] * 7  # frozen at 3 from slot 2, then no tick from slot 7 on
    said = []
    for first in range(len(sol) - 6):  # one window a slot, as the buffer publishes
        said += [(c.event, c.price, c.frozen_price) for c in
                 watch.update(SYMBOLS, first, grid(list(range(first, first + 7)), sol[first:first + 7]))]
        if first < len(sol) - 7:
            assert "SOLUSDT" in watch.frozen, (first, said)  # a price, still the frozen one
    assert said == [("price_frozen", 3.0, 3.0), ("price_frozen_ended", None, 3.0)]


def test_a_frozen_price_whose_run_a_clock_step_cut_short_stays_frozen_until_it_moves():
    """A forward clock step wipes the grid; the frozen price comes back in a slot or two, unchanged: not a move."""
    watch = FrozenWatch(4)
    watch.update(SYMBOLS, 0, grid([1, 2, 3, 4, 5, 6], [3, 3, 3, 3, 3, 3]))
    assert watch.update(SYMBOLS, 100, grid([1, 2, 3, 4, 5, 6], [NAN, NAN, NAN, NAN, 3, 3])) == []
    moved = watch.update(SYMBOLS, 101, grid([1, 2, 3, 4, 5, 6], [NAN, NAN, NAN, 3, 3, 3.5]))
    assert [(c.event, c.price) for c in moved] == [("price_moving_again", 3.5)]


def test_the_watch_ends_a_frozen_price_whose_prices_left_the_window_without_calling_it_moving():
    watch = FrozenWatch(2)
    watch.update(SYMBOLS, 0, grid([1, 2, 3, 4], [5, 5, 5, 5]))
    changes = watch.update(SYMBOLS, 20, grid([1, 2, 3, 4], [NAN] * 4))
    assert [(c.event, c.symbol, c.frozen_price) for c in changes] == [("price_frozen_ended", "SOLUSDT", 5.0)]
    assert watch.frozen == {}


class CountedSymbol(str):
    """A symbol that counts the comparisons made with it (list.index makes one per symbol it passes)."""

    compared = 0
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        CountedSymbol.compared += 1
        return str.__eq__(self, other)


def test_the_watchs_work_a_window_grows_with_the_symbols_not_their_square():
    """The worst day: every symbol freezes at once (the exchange connection repeats its last prices), then moves.
    The watch found each frozen symbol's row with symbols.index, n/2 comparisons each: 4.5 s a publish at 22,000
    symbols (a topology validate accepts), the buffer's loop stalled. Counted, not timed: comparisons, not n^2."""
    n = 2000
    symbols = [CountedSymbol(f"S{i:05d}USDT") for i in range(n)]
    watch = FrozenWatch(2)
    CountedSymbol.compared = 0
    assert len(watch.update(symbols, 0, np.full((n, 4), 5.0))) == n
    assert len(watch.update(symbols, 1, np.full((n, 4), 5.0))) == 0
    assert len(watch.update(symbols, 2, np.arange(4.0 * n).reshape(n, 4) + 1)) == n
    assert CountedSymbol.compared <= 10 * n, CountedSymbol.compared


# --------------------------------------------------------------------------- topology


def topology_with(tmp_path: Path, **buffer_settings) -> Path:
    data = demo_topology_data()
    data["actors"]["buffer"].setdefault("settings", {}).update(buffer_settings)
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_frozen_after_slots_defaults_to_10_and_0_turns_it_off(tmp_path):
    assert load_topology(topology_with(tmp_path)).actors["buffer"].settings.frozen_after_slots == 10
    assert load_topology(topology_with(tmp_path, frozen_after_slots=0)).actors["buffer"].settings.frozen_after_slots == 0


@pytest.mark.parametrize("value, problem", [
    (-1, "actors.buffer.settings.frozen_after_slots: must be >= 0, got -1"),
    (361, "actors.buffer.settings.frozen_after_slots: must not exceed clusters.lookback_returns (360): the window "
          "holds 361 slots, so a price unchanged over 361 is never seen; 0 turns the check off"),
])
def test_a_frozen_after_slots_that_could_never_fire_is_refused_naming_it(tmp_path, value, problem):
    from launcher.schema import SchemaError

    with pytest.raises(SchemaError) as caught:
        load_topology(topology_with(tmp_path, frozen_after_slots=value))
    assert any(problem in line for line in str(caught.value).splitlines()), str(caught.value)


# --------------------------------------------------------------------------- a real buffer


class Prices:
    """Publishes BTCUSDT and SOLUSDT on the feed's endpoint every 20 ms, each a random walk; SOLUSDT's price
    stays put while `frozen` is set (its timestamps stay fresh)."""

    def __init__(self, endpoint: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.frozen = False
        self.silent: set[str] = set()  # symbols whose ticks stop
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.prices = {"BTCUSDT": 64000.0, "SOLUSDT": 150.0}
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        rng = np.random.default_rng(3)
        seq = 0
        while not self.stop_event.is_set():
            with self.lock:
                for symbol in self.prices:
                    if symbol in self.silent:
                        continue
                    if not (symbol == "SOLUSDT" and self.frozen):
                        self.prices[symbol] *= math.exp(rng.normal(0, 0.002))
                    seq += 1
                    self.sock.send_multipart(Tick(symbol, self.prices[symbol], time.time(), seq).frames())
            self.stop_event.wait(0.02)

    def freeze(self, frozen: bool) -> float:
        """Stop (or restart) SOLUSDT's moves; its price from now on, until it moves."""
        with self.lock:
            self.frozen = frozen
            return self.prices["SOLUSDT"]

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(5)
        self.sock.close(0)
        self.ctx.term()


def sol_window(endpoint: str) -> np.ndarray:
    """SOLUSDT's row of the window the buffer answers a snapshot request with."""
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send(encode({"op": "snapshot"}))
        assert req.poll(5000), "no snapshot reply"
        reply = decode(req.recv())
    finally:
        req.close(0)
        ctx.term()
    header = reply["header"]
    prices = np.frombuffer(base64.b64decode(reply["prices_b64"]), dtype="<f8").reshape(header["shape"])
    return prices[header["symbols"].index("SOLUSDT")]


def test_a_real_buffer_fed_a_frozen_price_says_so_once_exports_it_and_says_when_it_moves_again(tmp_path, redis_server):
    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer")}
    data["clusters"].update({"cadence_s": 0.25, "lookback_returns": 30, "min_returns": 5})
    data["actors"]["buffer"]["settings"] = {"persist": False, "frozen_after_slots": 4}
    path = write_topology(tmp_path / "topology.yaml", data)
    port = data["actors"]["buffer"]["metrics_port"]
    prices = Prices(tick_endpoint(data))
    buffer = ActorProcess(path, "buffer").start()
    try:
        buffer.wait_serving(port)
        # exported from the start, before any tick (the metrics port answers before the buffer's setup labels it:
        # CI, loaded, scraped in between)
        frozen_sol = 'p27_buffer_price_frozen{symbol="SOLUSDT"}'
        wait_for(lambda: frozen_sol in (scrape(port) or {}), 20, f"{frozen_sol} exported")
        assert scrape(port)[frozen_sol] == 0
        prices.thread.start()
        wait_for(lambda: metric(port, "p27_points_per_symbol", symbol="SOLUSDT") >= 8, 20, "8 moving SOLUSDT points")
        assert "event=price_frozen" not in buffer.log()

        frozen_at = prices.freeze(True)
        wait_for(lambda: metric(port, "p27_buffer_price_frozen", symbol="SOLUSDT") == 1, 20,
                 f"p27_buffer_price_frozen{{symbol=SOLUSDT}} 1\n{buffer.log()[-2000:]}")
        published = metric(port, "p27_windows_published_total")
        wait_for(lambda: metric(port, "p27_windows_published_total") >= published + 4, 10, "four more windows")
        lines = [line for line in buffer.log().splitlines() if "event=price_frozen " in line]
        assert len(lines) == 1, lines  # once, not every cadence
        assert "symbol=SOLUSDT" in lines[0] and f"price={frozen_at!r}" in lines[0] and "since_ts=" in lines[0]
        assert metric(port, "p27_buffer_price_frozen", symbol="BTCUSDT") == 0
        # Only a warning: the frozen price is still on the grid, slot after slot (SPEC: a price, not missing).
        newest = sol_window(data["actors"]["buffer"]["sockets"]["snapshot"]["bind"])[-4:]
        assert np.isfinite(newest).sum() >= 3 and set(newest[np.isfinite(newest)]) == {frozen_at}, newest

        prices.freeze(False)
        wait_for(lambda: metric(port, "p27_buffer_price_frozen", symbol="SOLUSDT") == 0, 20,
                 f"p27_buffer_price_frozen{{symbol=SOLUSDT}} back to 0\n{buffer.log()[-2000:]}")
        moving = [line for line in buffer.log().splitlines() if "event=price_moving_again " in line]
        assert len(moving) == 1 and "symbol=SOLUSDT" in moving[0] and f"frozen_price={frozen_at!r}" in moving[0], moving
    finally:
        buffer.terminate()
        prices.stop()


def frozen_buffer_topology(tmp_path: Path, redis_url: str, **buffer_settings) -> dict:
    """The demo's price_feed and buffer only, at a 0.25 s cadence and a 12-return window."""
    data = retarget(demo_topology_data(), redis_url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer")}
    data["clusters"].update({"cadence_s": 0.25, "lookback_returns": 12, "min_returns": 5})
    data["actors"]["buffer"]["settings"] = {"persist": False, "frozen_after_slots": 4, **buffer_settings}
    write_topology(tmp_path / "topology.yaml", data)
    return data


def events(buffer: ActorProcess, event: str) -> list[str]:
    return [line for line in buffer.log().splitlines() if f"event={event} " in line]


def test_a_real_buffer_whose_frozen_feed_then_stops_does_not_say_the_price_moves_again(tmp_path, redis_server):
    """An operator's worst day: the feed froze, then stopped. About a window later the run left in view fell below
    frozen_after_slots, and the buffer logged price_moving_again (price = frozen_price) and set the gauge to 0:
    a price that never moved called moving. Now it stays frozen until its prices leave: price_frozen_ended."""
    data = frozen_buffer_topology(tmp_path, redis_server.url)
    port = data["actors"]["buffer"]["metrics_port"]
    prices = Prices(tick_endpoint(data))
    buffer = ActorProcess(tmp_path / "topology.yaml", "buffer").start()
    try:
        buffer.wait_serving(port)
        prices.thread.start()
        wait_for(lambda: metric(port, "p27_points_per_symbol", symbol="SOLUSDT") >= 8, 20, "8 moving SOLUSDT points")
        prices.freeze(True)
        wait_for(lambda: metric(port, "p27_buffer_price_frozen", symbol="SOLUSDT") == 1, 20,
                 f"SOLUSDT frozen\n{buffer.log()[-2000:]}")
        with prices.lock:
            prices.silent.add("SOLUSDT")
        wait_for(lambda: events(buffer, "price_frozen_ended") or events(buffer, "price_moving_again"), 30,
                 "price_frozen_ended once SOLUSDT's prices left the window")
        assert events(buffer, "price_moving_again") == [], buffer.log()[-3000:]
        assert len(events(buffer, "price_frozen_ended")) == 1
        assert metric(port, "p27_points_per_symbol", symbol="SOLUSDT") == 0  # ended when no price was left
        assert metric(port, "p27_buffer_price_frozen", symbol="SOLUSDT") == 0
        assert len(events(buffer, "price_frozen")) == 1
    finally:
        buffer.terminate()
        prices.stop()


def test_a_buffer_restarted_on_a_frozen_history_says_so_from_the_start_not_a_cadence_later(tmp_path, redis_server):
    """A restart with the history persisted: the buffer loads the frozen run in setup but said 0 on
    p27_buffer_price_frozen until its first publish, up to a cadence later (60 s in production): long enough for
    P27PriceFrozen (for: 1m) to resolve and fire again. The loaded window is checked as it is loaded."""
    from actors.grid import PriceGrid
    from launcher import keys

    cadence_s = 20.0
    data = frozen_buffer_topology(tmp_path, redis_server.url, persist=True)
    data["clusters"]["cadence_s"] = cadence_s
    write_topology(tmp_path / "topology.yaml", data)
    port = data["actors"]["buffer"]["metrics_port"]
    # Start early in a slot, so the first publish is at least half a cadence after the history is loaded.
    wait_for(lambda: time.time() % cadence_s < cadence_s / 4, cadence_s, "the start of a slot")
    head = math.floor(time.time() / cadence_s)
    saved = PriceGrid(data["symbols"], cadence_s, 14, head)  # the buffer's capacity: lookback + 2
    saved.prices[0, :-1] = 64000.0 + np.arange(13)  # BTCUSDT moves; the head slot is not complete
    saved.prices[2, :-1] = [150.0 + i for i in range(5)] + [155.5] * 8  # SOLUSDT frozen over its last 8 slots
    redis_server.client().set(keys.buffer_history(data["name"], "buffer"), saved.to_blob())
    buffer = ActorProcess(tmp_path / "topology.yaml", "buffer").start()
    try:
        buffer.wait_serving(port)
        wait_for(lambda: events(buffer, "history_loaded"), 10, "the history loaded")
        metrics = scrape(port)
        assert metrics["p27_windows_published_total"] == 0, "published already: the slot started too late"
        assert metrics['p27_buffer_price_frozen{symbol="SOLUSDT"}'] == 1, buffer.log()[-2000:]
        assert metrics['p27_buffer_price_frozen{symbol="BTCUSDT"}'] == 0
        said = events(buffer, "price_frozen")
        first_frozen_slot = head - 13 + 5
        since_ts = f"since_ts={first_frozen_slot * cadence_s}"
        assert len(said) == 1 and "price=155.5 " in said[0] and since_ts in said[0], said
        wait_for(lambda: metric(port, "p27_windows_published_total") >= 1, 2 * cadence_s, "the first publish")
        assert len(events(buffer, "price_frozen")) == 1  # the publish does not say it again
        assert metric(port, "p27_buffer_price_frozen", symbol="SOLUSDT") == 1
    finally:
        buffer.terminate()
