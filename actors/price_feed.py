"""Price feed: publishes ticks on `tick.{SYMBOL}` from a synthetic, replayed or Redis-polled source.

A price that is NaN, infinite, zero or negative is never published, nor one further than
clusters.max_tick_jump from the symbol's last published price (reason jump; the next print that
agrees with it is published); both are counted in `price_feed_rejected_prices_total{symbol,reason}`. When nothing went out for heartbeat_s, a
heartbeat carrying the last tick's seq goes out instead, so subscribers can tell idle from dead.
Synthetic and replayed ticks carry the wall-clock time they were published at (a replay's recorded
times only set its schedule; a restarted replay continues from the position saved in Redis, never from the
file's first row while that position is usable); a clock-aligned synthetic tick (synthetic.clock_aligned) carries the start
of its slot k = floor(epoch_s / interval_s), goes out just after that start, and its price depends on
the settings and k alone (actors/slot_prices.py), so feeds started apart or restarted publish one path.
A redis_snapshots tick carries its snapshot's ts_epoch, and a snapshot is published once: one older
than positions.stale_after_s, dated beyond the clock skew allowance in the future, without a usable
ts_epoch, or not updated since the feed last read it is skipped and counted in
`price_feed_snapshots_skipped_total{symbol,reason}`, so a snapshot that stopped updating never
reaches the buffer as a fresh price.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any, Callable

import numpy as np
from prometheus_client import Counter, Gauge

from launcher import keys
from actors.jumps import JumpFilter
from launcher.resp import RedisUnavailable, ReplyError, RespClient
from actors.runtime import Actor, error_text, OutageLog, main
from actors.slot_prices import SlotPrices, slot_of
from actors.snapshots import snapshot_time
from launcher.keys import wrong_type
from launcher.stop_signals import signals_left_to_the_main_thread
from actors.wire import Tick, heartbeat_frames
from launcher.topology import EXIT_BAD_INPUT, PriceFeedSettings, ReplaySource, SyntheticSource
from launcher.feed_inputs import (NotPositiveDefinite, ReplayColumns, ReplayRow, cholesky_factor, loop_growth,
                                  prefix_sha256, price_rejection, read_replay_file, usable_prices)
# Moved to launcher/feed_inputs.py (issue 15); these names stay importable from here for older code.
from launcher.feed_inputs import (EPOCH_UNITS, MAX_EPOCH_S, PRICE_COLUMNS, TS_COLUMNS, ReplayData,  # noqa: F401, E402
                                  correlation_matrix, correlation_problem, epoch_unit, parse_replay_csv,
                                  parse_timestamp, usable_rows)

SECONDS_PER_YEAR = 365.25 * 24 * 3600
DEFAULT_VOLATILITY = 0.8
DEFAULT_START_PRICE = 100.0
REPLAY_ROWS_PER_TURN = 1000  # rows published per timer callback, so a fast replay cannot starve the loop
REPLAY_POSITION_SAVE_S = 0.25  # a replay's position is saved at most this often (and at shutdown)
REPLAY_POSITION_RETRY_S = 5.0  # after a failed save (Redis down), the next try
REPLAY_POSITION_WAIT_S = 10.0  # at start, how long a replay waits for Redis to read its saved position
MAX_REPLAY_PASSES = 2 ** 53  # a saved loop count beyond this is garbage (and overflows a float product)



class FeedMetrics:
    """The feed's Prometheus series, registered when the actor starts (not at import: `clustergate
    validate` imports this module for its correlation check, also inside a running feed)."""

    def __init__(self, symbols: list[str]):
        self.ticks = Counter("price_feed_ticks_total", "Ticks published", ["symbol"])
        self.rejected = Counter("price_feed_rejected_prices_total",
                                "Prices never published because they are not finite and positive", ["symbol", "reason"])
        self.heartbeats = Counter("price_feed_heartbeats_total", "Heartbeats published while idle")
        self.last_tick_ts = Gauge("price_feed_last_tick_timestamp_seconds", "Epoch time of the last published tick", ["symbol"])
        self.replay_skipped = Counter("price_feed_replay_rows_skipped_total",
                                      "Replay rows or cells skipped (reason: bad_row, not_in_allowlist)", ["reason"])
        self.redis_errors = Counter("price_feed_redis_errors_total", "Failed polls of the position snapshots")
        self.replay_finished = Gauge("price_feed_replay_finished_timestamp_seconds",
                                     "Epoch time a replay that does not loop published its file's last row; it then "
                                     "publishes heartbeats alone (0: not finished, or not a replay)")
        self.snapshots_skipped = Counter("price_feed_snapshots_skipped_total",
                                         "Position snapshots polled but not published (reason: "
                                         + ", ".join(SNAPSHOT_SKIP_REASONS) + ")", ["symbol", "reason"])
        for symbol in symbols:
            self.ticks.labels(symbol=symbol)
        for reason in ("bad_row", "not_in_allowlist"):
            self.replay_skipped.labels(reason=reason)


# --------------------------------------------------------------------------- price checks


def parse_price(text: str | bytes | None) -> float | str:
    """A float from Redis or CSV text, or the rejection reason when it is no usable price."""
    if text is None:
        return "missing"
    try:
        value = float(text)
    except (TypeError, ValueError):
        return "not_a_number"
    return price_rejection(value) or value


def shown(value: Any) -> str:
    """A value for a log line: Redis bytes as the text they hold (undecodable bytes escaped), else its repr."""
    return repr(value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value)


# --------------------------------------------------------------------------- snapshot freshness

SNAPSHOT_SKIP_REASONS = ("no_ts", "stale", "future", "unchanged", "not_a_hash")


def snapshot_skip_reason(ts_epoch: Any, last_ts: float | None, now_s: float, stale_after_s: float) -> tuple[float | None, str | None]:
    """(the snapshot's ts_epoch as a float, why its price must not be published now or None).

    A snapshot's price is published once, stamped with its ts_epoch: not when ts_epoch is missing or
    not finite (no_ts), older than stale_after_s (stale), more than SNAPSHOT_FUTURE_SKEW_S ahead
    of now (future), or equal to last_ts, the ts_epoch this feed last read for the symbol
    (unchanged; a snapshot that stopped updating reads unchanged, then stale once stale_after_s old).
    """
    ts, not_fresh = snapshot_time(ts_epoch, now_s, stale_after_s)
    if not_fresh is not None:
        return ts, not_fresh
    if ts == last_ts:
        return ts, "unchanged"
    return ts, None


# --------------------------------------------------------------------------- synthetic source


class CorrelatedGBM:
    """Correlated geometric Brownian motion; the same seed gives the same price sequence.

    Each step advances every symbol by dt_years: log S += (drift - vol^2 / 2) dt + vol sqrt(dt) (L z).
    """

    def __init__(self, symbols: list[str], settings: SyntheticSource, dt_years: float):
        self.symbols = list(symbols)
        self.chol = cholesky_factor(self.symbols, settings.correlation)
        self.vol = np.array([settings.volatility.get(s, DEFAULT_VOLATILITY) for s in self.symbols])
        self.log_prices = np.log([settings.start_prices.get(s, DEFAULT_START_PRICE) for s in self.symbols])
        self.drift_step = (settings.drift - 0.5 * self.vol ** 2) * dt_years
        self.vol_step = self.vol * math.sqrt(dt_years)
        self.rng = np.random.default_rng(settings.seed)

    @classmethod
    def from_settings(cls, symbols: list[str], feed: PriceFeedSettings) -> "CorrelatedGBM":
        dt_years = feed.interval_s * feed.synthetic.time_scale / SECONDS_PER_YEAR
        return cls(symbols, feed.synthetic, dt_years)

    def step(self) -> dict[str, float]:
        shocks = self.chol @ self.rng.standard_normal(len(self.symbols))
        self.log_prices = self.log_prices + self.drift_step + self.vol_step * shocks
        return dict(zip(self.symbols, np.exp(self.log_prices).tolist()))

    def path(self, steps: int) -> np.ndarray:
        """`steps` successive prices, shape (steps, symbols)."""
        return np.array([[p for p in self.step().values()] for _ in range(steps)])


def slot_prices_from_settings(symbols: list[str], feed: PriceFeedSettings) -> SlotPrices:
    """The clock-aligned source of synthetic.clock_aligned: the GBM's start prices, volatilities and
    correlations, per slot of feed.interval_s."""
    syn = feed.synthetic
    dt_years = feed.interval_s * syn.time_scale / SECONDS_PER_YEAR
    return SlotPrices(symbols, syn.seed, [syn.start_prices.get(s, DEFAULT_START_PRICE) for s in symbols],
                      [syn.volatility.get(s, DEFAULT_VOLATILITY) * math.sqrt(dt_years) for s in symbols],
                      cholesky_factor(list(symbols), syn.correlation))


# A clock-aligned tick goes out this long after its slot starts (a fraction of interval_s, at most
# 5 ms), so a clock read a hair early does not still name the previous slot.
SLOT_PUBLISH_DELAY_FRACTION = 0.02
SLOT_PUBLISH_DELAY_MAX_S = 0.005


# --------------------------------------------------------------------------- replay source


# A loop's rebase factor stays within e ** this (1e12); past it the series starts again from the file.
LOOP_REBASE_MAX_LOG = math.log(1e12)


class ReplaySchedule:
    """When each replay row is due, in seconds after the start of the replay, looping if asked.

    At each loop every symbol's prices are rebased so that its series continues where the last pass
    ended (pass k is scaled by (last / first) ** k, of the prices it publishes): jumping back to the first
    prices in one slot would be one huge common return, and independent symbols would correlate at +-0.9.

    The rows are kept as columns (time, symbol index, price: 20 bytes a row), not as an object each: a 1 M-row file
    held 300 MB so. A row is built when it is popped; a row's due time is (ts - first ts) / speed, computed then."""

    def __init__(self, rows: list[ReplayRow] | ReplayColumns, speed: float, loop: bool, loop_gap_s: float,
                 jumps: JumpFilter | None = None):
        # The file's last row came from an unterminated line (a recorder's write cut in its price): a finished pass's
        # position does not name it out, so its completed line, appended since, is published (_symbols_out_at).
        self.last_row_unterminated = False
        if isinstance(rows, ReplayColumns):
            self.symbols = rows.symbols
            self.ts, self.symbol_index, self.price = rows.columns()
            self.last_row_unterminated = rows.last_row_unterminated
        else:  # rows in the order given, as objects (tests, tools)
            self.symbols = tuple(dict.fromkeys(r.symbol for r in rows))
            index = {symbol: i for i, symbol in enumerate(self.symbols)}
            self.ts = np.array([r.ts for r in rows], dtype=np.float64)
            self.symbol_index = np.array([index[r.symbol] for r in rows], dtype=np.int32)
            self.price = np.array([r.price for r in rows], dtype=np.float64)
        self.n = len(self.ts)
        self.speed = speed
        self.loop = loop
        self.index = 0
        self.passes = 0  # loops completed
        # symbol index -> log growth a pass, from the prints a fresh `jumps` lets through: a bad last print (a line
        # cut mid-write) refused by the feed's filter must not rebase the next pass to it
        self.growth = loop_growth(self.symbol_index, self.price, self._published(jumps)) if loop else {}
        self.offset_s = 0.0  # added to every due time; grows by one file length per loop
        self.first_ts = float(self.ts[0]) if self.n else 0.0
        gaps = np.diff((self.ts - self.first_ts) / speed)
        gaps = gaps[gaps > 0]
        self.loop_gap_s = float(np.median(gaps)) if len(gaps) else loop_gap_s

    def _published(self, jumps: JumpFilter | None) -> np.ndarray | None:
        """Which rows set a pass's growth: those one pass publishes from a fresh start (usable prices that `jumps`,
        unused elsewhere, accepts), less a symbol's first print when the next one published lies beyond its limit
        of it. A fresh filter has nothing to check a first print against, but every later pass refuses a bad one
        (a stray first line, 43 among 43,000s): taken as the first price, it rebased each pass 1000x up."""
        if jumps is None:
            return None
        published = usable_prices(self.price)
        for i, symbol in enumerate(self.symbols):
            rows = np.flatnonzero(published & (self.symbol_index == i))
            published[rows] = jumps.accepted_mask(symbol, self.price[rows])
            kept, limit = rows[published[rows]], jumps.limit_of(symbol)
            if limit is not None and len(kept) >= 2 \
                    and abs(self.price[kept[1]] - self.price[kept[0]]) > limit * self.price[kept[0]]:
                published[kept[0]] = False
        return published

    def relative_s(self, index: int) -> float:
        """Row `index`'s due time within a pass: its recorded time after the first row's, divided by the speed."""
        return (float(self.ts[index]) - self.first_ts) / self.speed

    def position(self) -> dict[str, Any]:
        """Where the replay stands: the recorded time of the next row (None once this pass's rows are all out), of
        the row before it (after_ts, None at a pass's start), the symbols of the rows out at after_ts
        (after_symbols), and the loops completed."""
        return {"ts": float(self.ts[self.index]) if self.index < self.n else None,
                "after_ts": float(self.ts[self.index - 1]) if self.index else None,
                "after_symbols": self._symbols_out_at(self.index - 1) if self.index else [], "passes": self.passes}

    def _symbols_out_at(self, last: int) -> list[str]:
        """The symbols of the rows out at row `last`'s recorded time (`last` and the rows of that time before it), less
        the file's last row when its line was unterminated (perhaps cut mid-write: 49 of 4981, refused)."""
        first = int(np.searchsorted(self.ts, self.ts[last], side="left"))
        if last == self.n - 1 and self.last_row_unterminated:
            last -= 1
        return sorted({self.symbols[i] for i in self.symbol_index[first:last + 1].tolist()})

    def _first_not_out(self, after_ts: float, after_symbols: Any, unnamed: int) -> int:
        """The first row not published of those recorded at after_ts: after the rows of that time whose symbols were
        out (a recorder writes one print per symbol per time, so a row of another symbol at that time, appended since
        a pass finished, or not reached when a turn of REPLAY_ROWS_PER_TURN ended inside that time, is still to go);
        `unnamed` for a position that does not name them (an older feed's)."""
        if not isinstance(after_symbols, list) or not all(isinstance(s, str) for s in after_symbols):
            return unnamed
        end = int(np.searchsorted(self.ts, after_ts, side="right"))
        index, out = int(np.searchsorted(self.ts, after_ts, side="left")), set(after_symbols)
        while index < end and self.symbols[int(self.symbol_index[index])] in out:
            index += 1
        return index

    def resume(self, position: Any, appended: bool = False) -> float | None:
        """Continue from a saved position(): the first row recorded at or after its ts (the same time, not the same
        row number: another allowlist gives other rows), in its pass, is due at once, less the rows of that time already
        out when it is its after_ts too (a turn ended inside that time: _first_not_out); `appended` (the file has rows
        appended since the position was saved), a position past the end continues with the first row it had not
        published: recorded after its after_ts, or at that time for a symbol not out then (_first_not_out). Returns
        that row's due time, or None (nothing changed) when the position is unusable or past the end of a replay that
        does not loop."""
        if not isinstance(position, dict):
            return None
        ts, passes, after_ts = position.get("ts"), position.get("passes"), position.get("after_ts")
        if type(passes) is not int or not 0 <= passes <= MAX_REPLAY_PASSES or self._rebase_overflows(passes) \
                or (passes and not self.loop):
            return None
        named = position.get("after_symbols")
        if ts is None and appended and type(after_ts) in (int, float) and _finite(after_ts):
            index = self._first_not_out(float(after_ts), named,
                                        unnamed=int(np.searchsorted(self.ts, float(after_ts), side="right")))
        elif ts is None:
            index = self.n
        elif type(ts) in (int, float) and _finite(ts):
            index = int(np.searchsorted(self.ts, float(ts), side="left"))
            if after_ts == ts:  # stopped inside that time: the rows of it already out are not published again
                index = self._first_not_out(float(ts), named, unnamed=index)
        else:
            return None
        if index >= self.n and not self.loop:
            return None
        self.index, self.passes, self.offset_s = index, passes, 0.0
        return self.next_due_s()  # a pass that had ended starts the next

    def _rebase_overflows(self, passes: int) -> bool:
        return any(abs(g) * passes > LOOP_REBASE_MAX_LOG for g in self.growth.values())

    def next_due_s(self) -> float | None:
        if self.index >= self.n:
            if not self.loop or not self.n:
                return None
            self.offset_s += self.relative_s(self.n - 1) + self.loop_gap_s
            self.index = 0
            self.passes += 1
            if self._rebase_overflows(self.passes):
                self.passes = 0  # one jump back: a x100 file's prices were inf by pass 154, pop() overflowed at 155
        return self.offset_s + self.relative_s(self.index)

    def pop(self) -> ReplayRow:
        i = self.index
        self.index += 1
        symbol, price = int(self.symbol_index[i]), float(self.price[i])
        growth = self.growth.get(symbol, 0.0)
        if self.passes and growth and price_rejection(price) is None:
            price = price * math.exp(growth * self.passes)
        return ReplayRow(float(self.ts[i]), self.symbols[symbol], price)


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer past float's range
        return False


class PositionSaver:
    """Saves a replay's latest position to Redis from its own thread, every REPLAY_POSITION_SAVE_S (after a failure,
    REPLAY_POSITION_RETRY_S later), so a Redis that hangs never holds up the replay's ticks: each SET may wait the
    whole timeout. close() stops the thread and saves the last position once more."""

    def __init__(self, client: RespClient, key: str, identity: dict[str, Any], outage: OutageLog):
        """client: its own from now on (the client is not shared between threads); close() closes it."""
        self.client, self.key, self.identity, self.outage = client, key, identity, outage
        self.latest: dict[str, Any] | None = None  # set by the actor's loop; read here
        self.saved: dict[str, Any] | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="replay-position", daemon=True)
        with signals_left_to_the_main_thread():
            self.thread.start()

    def _run(self) -> None:
        wait_s = REPLAY_POSITION_SAVE_S
        while not self.stopped.wait(wait_s):
            wait_s = REPLAY_POSITION_SAVE_S if self.save() else REPLAY_POSITION_RETRY_S

    def save(self) -> bool:
        latest = self.latest
        if latest is None or latest == self.saved:
            return True
        try:
            self.client.call("SET", self.key, json.dumps({**self.identity, **latest}))
        except (RedisUnavailable, ReplyError) as exc:
            self.outage.failed(exc, retry_in_s=REPLAY_POSITION_RETRY_S, what="replay position not saved")
            return False
        self.saved = latest
        self.outage.ok()
        return True

    def close(self, timeout_s: float) -> None:
        """Stop the thread; save the last position unless the thread is still held up by Redis after timeout_s."""
        self.stopped.set()
        self.thread.join(timeout_s)
        if not self.thread.is_alive():
            self.save()
            self.client.close()
            self.client.close_watch()


# --------------------------------------------------------------------------- the actor


class PriceFeed(Actor):
    kind = "price_feed"
    settings: PriceFeedSettings

    def setup(self) -> None:
        self.symbols = list(self.topology.symbols)
        self.seq = 0
        self.last_publish = time.monotonic()
        self.redis: RespClient | None = None
        self._redis_outage = OutageLog(self.log, "redis")
        self.metrics = FeedMetrics(self.symbols)
        self.jumps = JumpFilter.from_clusters(self.topology.clusters)
        self.rejecting: dict[str, str] = {}  # symbol -> reason of its last rejected price, until one is accepted
        self.socket("ticks")
        source = self.settings.source
        try:
            if source == "synthetic":
                self._setup_synthetic()
            elif source == "replay":
                self._setup_replay()
            else:
                self._setup_redis_snapshots()
        except (NotPositiveDefinite, ValueError, OSError) as exc:
            self.log.error("bad_source", source=source, reason=str(exc))
            raise SystemExit(EXIT_BAD_INPUT)
        self.every(min(self.settings.heartbeat_s, 1.0) / 2, self._heartbeat_if_idle, name="heartbeat")
        self.log.info("source_ready", source=source, symbols=self.symbols)

    def teardown(self) -> None:
        if getattr(self, "position_saver", None) is not None:
            self.position_saver.close(timeout_s=self.topology.redis.timeout_ms / 1000 + REPLAY_POSITION_SAVE_S)
        if self.redis is not None:
            self.redis.close()
            self.redis.close_watch()

    # ----------------------------------------------------------------- publishing

    def publish(self, symbol: str, price: Any, ts: float | None = None) -> bool:
        """Publish a tick stamped ts (default: now), unless the price is unusable."""
        reason = price_rejection(price)
        if reason is None and self.jumps.refuses(symbol, float(price)):
            reason = "jump"
        if reason is not None:
            self.reject(symbol, price, reason)
            return False
        self.jumps.accepted(symbol, float(price))
        if self.rejecting.pop(symbol, None) is not None:
            self.log.info("price_accepted_again", symbol=symbol)
        self.seq += 1
        now = time.time() if ts is None else ts
        self.sockets["ticks"].send_multipart(Tick(symbol, float(price), now, self.seq).frames())
        self.metrics.ticks.labels(symbol=symbol).inc()
        self.metrics.last_tick_ts.labels(symbol=symbol).set(now)
        self._published()
        return True

    def reject(self, symbol: str, price: Any, reason: str) -> None:
        """Count a price that is never published; log it when the symbol's reason changes, not every poll."""
        self.metrics.rejected.labels(symbol=symbol, reason=reason).inc()
        if self.rejecting.get(symbol) != reason:
            self.rejecting[symbol] = reason
            self.log.warning("price_rejected", symbol=symbol, price=shown(price), reason=reason)

    def _published(self) -> None:
        self.last_publish = time.monotonic()
        if not self.is_ready:
            self.set_ready(True)
            self.log.info("ready", seq=self.seq)

    def _heartbeat_if_idle(self) -> None:
        if time.monotonic() - self.last_publish >= self.settings.heartbeat_s:
            self.sockets["ticks"].send_multipart(heartbeat_frames(time.time(), self.seq))
            self.metrics.heartbeats.inc()
            self._published()

    # ----------------------------------------------------------------- synthetic

    def _setup_synthetic(self) -> None:
        if self.settings.synthetic.clock_aligned:
            self.slot_prices = slot_prices_from_settings(self.symbols, self.settings)
            self.last_slot: int | None = None
            self._after(0.0, self._aligned_step, name="synthetic")
            return
        self.gbm = CorrelatedGBM.from_settings(self.symbols, self.settings)
        self.every(self.settings.interval_s, self._synthetic_step, first_after_s=0, name="synthetic")

    def _synthetic_step(self) -> None:
        for symbol, price in self.gbm.step().items():
            self.publish(symbol, price)

    def _aligned_step(self) -> None:
        """Publish the current slot's prices once, then wake just after the next slot starts."""
        interval_s = self.settings.interval_s
        slot = slot_of(time.time(), interval_s)
        try:
            if slot != self.last_slot:
                self.last_slot = slot
                for symbol, price in self.slot_prices.prices(slot).items():
                    self.publish(symbol, price, slot * interval_s)
        finally:  # an error is counted by the runtime; the next slot is still published
            delay_s = min(SLOT_PUBLISH_DELAY_FRACTION * interval_s, SLOT_PUBLISH_DELAY_MAX_S)
            # Never longer than one slot: a wall clock stepped back between the two readings must not
            # silence the feed for the size of the step.
            wait_s = min((slot + 1) * interval_s + delay_s - time.time(), interval_s + delay_s)
            self._after(wait_s, self._aligned_step, name="synthetic")

    # ----------------------------------------------------------------- replay

    def _setup_replay(self) -> None:
        replay: ReplaySource = self.settings.replay  # type: ignore[assignment]
        path = self.topology.resolve_path(replay.path)
        data = read_replay_file(path, self.symbols, speed=replay.speed)
        for line_no, reason in data.bad_rows:
            self.metrics.replay_skipped.labels(reason="bad_row").inc()
            self.log.warning("replay_bad_row", path=str(path), row=line_no, reason=reason)
        if data.not_in_allowlist:
            self.metrics.replay_skipped.labels(reason="not_in_allowlist").inc(data.not_in_allowlist)
            self.log.warning("replay_symbols_skipped", path=str(path), count=data.not_in_allowlist,
                             reason="symbol not in the allowlist")
        if data.ts_unit != "s":
            self.log.warning("replay_timestamps_not_seconds", path=str(path), unit=data.ts_unit,
                             action="read as " + data.ts_unit)
        self.log.info("replay_loaded", path=str(path), form=data.form, rows=data.read_rows(),
                      bad_rows=len(data.bad_rows), speed=replay.speed, loop=replay.loop)
        self.schedule = ReplaySchedule(data, replay.speed, replay.loop, self.settings.interval_s,
                                       JumpFilter.from_clusters(self.topology.clusters))
        self.replay_path = path
        self.replay_identity = {"file": str(path), "sha256": data.sha256, "bytes": data.bytes_parsed}
        self.replay_position_key = keys.replay_position(self.topology.name, self.name)
        self.redis = RespClient.from_config(self.topology.redis, decode=False)  # the saved position may hold any bytes
        self.position_saver: PositionSaver | None = None
        self.position_wait_until = time.monotonic() + REPLAY_POSITION_WAIT_S
        self.replay_start = time.monotonic()
        self._after(0.0, self._start_replay)

    def _after(self, delay_s: float, callback: Callable[[], None], name: str = "replay") -> None:
        """Run callback once, delay_s from now, on the runtime's timers."""
        holder: dict[str, Any] = {}

        def once() -> None:
            holder["timer"].cancelled = True
            callback()

        holder["timer"] = self.every(max(delay_s, 1e-3), once, first_after_s=max(delay_s, 0.0), name=name)

    def _start_replay(self) -> None:
        """Continue from the position the last run of this feed saved for this file (same content), so a restart
        does not jump every symbol back to the file's first price in one slot: a return shared by all, which made
        independent symbols correlate for a whole lookback window. Redis unavailable: tried again until
        REPLAY_POSITION_WAIT_S after start (publishing nothing meanwhile), then the replay starts from the file's first
        row, as it does with no usable position (none, unreadable, another file, a replay that had finished)."""
        key = self.replay_position_key
        assert self.redis is not None
        try:
            raw = self.redis.call("GET", key)
        except (RedisUnavailable, ReplyError) as exc:
            if wrong_type(exc):  # another type: as unreadable as garbage (and overwritten by the first save), not an outage
                self._begin_replay(None, "the saved position is unreadable", error=error_text(exc))
                return
            if time.monotonic() < self.position_wait_until:
                self._redis_outage.failed(exc, retry_in_s=REPLAY_POSITION_SAVE_S, what="replay position not read")
                self._after(REPLAY_POSITION_SAVE_S, self._start_replay)
                return
            self._begin_replay(None, "position not read: Redis unavailable", error=error_text(exc))
            return
        self._redis_outage.ok()
        try:
            saved = json.loads(raw) if raw is not None else None
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested past the parser's depth
            saved = None
        if raw is None:
            self._begin_replay(None, "no saved position for this file")
        elif not isinstance(saved, dict):
            self._begin_replay(None, "the saved position is unreadable")
        elif saved.get("sha256") != self.replay_identity["sha256"] and not self._appended_since(saved):
            self._begin_replay(None, "the saved position is for another file (or another content of this file)")
        else:
            due = self.schedule.resume(saved, appended=saved.get("sha256") != self.replay_identity["sha256"])
            self._begin_replay(due, "the saved position is unusable or past the end")

    def _appended_since(self, saved: dict[str, Any]) -> bool:
        """The file parsed is the one `saved` was saved for with rows appended since (a recorder still writing it):
        its first saved["bytes"] bytes hash to saved["sha256"], read again now with the bytes parsed. Not past a
        loop's first pass: the longer file rebases each pass by another factor."""
        before, now = saved.get("bytes"), self.replay_identity["bytes"]
        if type(before) is not int or not 0 < before < now or saved.get("passes") != 0:
            return False
        if prefix_sha256(self.replay_path, (before, now)) != (saved.get("sha256"), self.replay_identity["sha256"]):
            return False
        self.log.info("replay_file_appended", bytes_before=before, bytes_now=now)
        return True

    def _begin_replay(self, due: float | None, reason: str, **fields: Any) -> None:
        key = self.replay_position_key
        if due is None:
            self.log.info("replay_from_start", reason=reason, key=key, **fields)
            due = 0.0
        else:
            self.log.info("replay_resumed", row=self.schedule.index, passes=self.schedule.passes, key=key)
        assert self.redis is not None
        # The saver takes over the client that read the position (this thread no longer uses it): one connection, and
        # under Sentinel one watch thread, not a second pair left open and unused for the feed's life.
        self.position_saver = PositionSaver(self.redis, key, self.replay_identity, self._redis_outage)
        self.redis = None
        self.replay_start = time.monotonic() - due
        self._replay_due()

    def _replay_due(self) -> None:
        elapsed = time.monotonic() - self.replay_start
        for _ in range(REPLAY_ROWS_PER_TURN):
            due = self.schedule.next_due_s()
            if due is None:
                self._offer_position()  # past the end: a restart starts the file again
                self.metrics.replay_finished.set(time.time())
                self.log.info("replay_finished", seq=self.seq)
                return
            if due > elapsed:
                self._offer_position()
                self._after(due - elapsed, self._replay_due)
                return
            row = self.schedule.pop()
            self.publish(row.symbol, row.price)
        self._offer_position()
        self._after(0.0, self._replay_due)

    def _offer_position(self) -> None:
        """Hand the replay's position to its saver thread (which saves it within REPLAY_POSITION_SAVE_S)."""
        if self.position_saver is not None:
            self.position_saver.latest = self.schedule.position()

    # ----------------------------------------------------------------- redis snapshots

    def _setup_redis_snapshots(self) -> None:
        # Raw bytes: a field that is not UTF-8 is then a price or time that is no number, not an error for every symbol.
        self.redis = RespClient.from_config(self.topology.redis, decode=False)
        self.snapshot_keys = {s: keys.position_snapshot(s, self.topology.positions.key_pattern) for s in self.symbols}
        self.snapshot_last_ts: dict[str, float] = {}  # symbol -> ts_epoch of the snapshot last read (published or rejected)
        self.skipping: dict[str, str] = {}  # symbol -> reason its snapshot is skipped, until one is read again
        for symbol in self.symbols:
            for reason in SNAPSHOT_SKIP_REASONS:
                self.metrics.snapshots_skipped.labels(symbol=symbol, reason=reason)
        self.every(self.settings.interval_s, self._poll_snapshots, first_after_s=0, name="redis_snapshots")

    def _poll_snapshots(self) -> None:
        assert self.redis is not None
        try:
            # EXISTS too: HMGET answers two nils for a hash without either field as for no key at all
            replies = self.redis.pipeline([command for key in self.snapshot_keys.values()
                                           for command in (("HMGET", key, "mark_price", "ts_epoch"), ("EXISTS", key))]
                                          ) if self.snapshot_keys else []
            snapshots, exists = replies[0::2], replies[1::2]
            for reply in replies:  # a key of another type fails that symbol alone; any other error, the poll
                if isinstance(reply, Exception) and not wrong_type(reply):
                    raise reply
        except (RedisUnavailable, ReplyError) as exc:
            self.metrics.redis_errors.inc()
            self._redis_outage.failed(exc, retry_in_s=self.settings.interval_s)
            return
        self._redis_outage.ok()
        now = time.time()
        stale_after_s = self.topology.positions.stale_after_s
        for symbol, reply, present in zip(self.snapshot_keys, snapshots, exists):
            if wrong_type(reply):
                self._skip(symbol, None, "not_a_hash", error=str(reply))
                continue
            mark, ts_epoch = reply
            if mark is None and ts_epoch is None and not present:
                continue  # no snapshot: the execution layer holds no position there (a hash without both fields: no_ts)
            ts, skip = snapshot_skip_reason(ts_epoch, self.snapshot_last_ts.get(symbol), now, stale_after_s)
            if skip is not None:
                self._skip(symbol, ts_epoch, skip)
                continue
            assert ts is not None
            self.snapshot_last_ts[symbol] = ts
            if self.skipping.pop(symbol, None) is not None:
                self.log.info("snapshot_fresh_again", symbol=symbol, ts_epoch=ts)
            price = parse_price(mark)
            if isinstance(price, str):
                self.reject(symbol, mark, price)
                continue
            self.publish(symbol, price, ts)

    def _skip(self, symbol: str, ts_epoch: Any, reason: str, **detail: str) -> None:
        """Count a snapshot not published; log when the symbol's reason changes (not for unchanged)."""
        self.metrics.snapshots_skipped.labels(symbol=symbol, reason=reason).inc()
        if reason != "unchanged" and self.skipping.get(symbol) != reason:
            self.skipping[symbol] = reason
            self.log.warning("snapshot_skipped", symbol=symbol, ts_epoch=shown(ts_epoch), reason=reason, **detail)


if __name__ == "__main__":
    main(PriceFeed)
