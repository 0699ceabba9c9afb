"""Price feed: publishes ticks on `tick.{SYMBOL}` from a synthetic, replayed or Redis-polled source.

A price that is NaN, infinite, zero or negative is never published, nor one further than
clusters.max_tick_jump from the symbol's last published price (reason jump; the next print that
agrees with it is published); both are counted in `price_feed_rejected_prices_total{symbol,reason}`. When nothing went out for heartbeat_s, a
heartbeat carrying the last tick's seq goes out instead, so subscribers can tell idle from dead.
Synthetic and replayed ticks carry the wall-clock time they were published at (a replay's recorded
times only set its schedule). A redis_snapshots tick carries its snapshot's ts_epoch, and a
snapshot is published once: one older than positions.stale_after_s, dated beyond the clock skew
allowance in the future, without a usable ts_epoch, or not updated since the feed last read it is
skipped and counted in `price_feed_snapshots_skipped_total{symbol,reason}`, so a snapshot that
stopped updating never reaches the buffer as a fresh price.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import numpy as np
import redis
from prometheus_client import Counter, Gauge

from actors import keys
from actors.jumps import JumpFilter
from actors.redis_conn import connect
from actors.runtime import Actor, OutageLog, main
from actors.snapshots import snapshot_time
from actors.wire import Tick, heartbeat_frames
from launcher.topology import EXIT_BAD_INPUT, PriceFeedSettings, ReplaySource, SyntheticSource

SECONDS_PER_YEAR = 365.25 * 24 * 3600
DEFAULT_VOLATILITY = 0.8
DEFAULT_START_PRICE = 100.0
REPLAY_ROWS_PER_TURN = 1000  # rows published per timer callback, so a fast replay cannot starve the loop



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
        self.snapshots_skipped = Counter("price_feed_snapshots_skipped_total",
                                         "Position snapshots polled but not published (reason: "
                                         + ", ".join(SNAPSHOT_SKIP_REASONS) + ")", ["symbol", "reason"])
        for symbol in symbols:
            self.ticks.labels(symbol=symbol)
        for reason in ("bad_row", "not_in_allowlist"):
            self.replay_skipped.labels(reason=reason)


# --------------------------------------------------------------------------- price checks


def price_rejection(price: Any) -> str | None:
    """Why a price must not be published (nan, infinite, zero, negative, not_a_number), or None."""
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return "not_a_number"
    if math.isnan(price):
        return "nan"
    if math.isinf(price):
        return "infinite"
    if price == 0:
        return "zero"
    if price < 0:
        return "negative"
    return None


def parse_price(text: str | bytes | None) -> float | str:
    """A float from Redis or CSV text, or the rejection reason when it is no usable price."""
    if text is None:
        return "missing"
    try:
        value = float(text)
    except (TypeError, ValueError):
        return "not_a_number"
    return price_rejection(value) or value


# --------------------------------------------------------------------------- snapshot freshness

SNAPSHOT_SKIP_REASONS = ("no_ts", "stale", "future", "unchanged")


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


class NotPositiveDefinite(ValueError):
    """The configured correlation matrix cannot drive a correlated random walk."""


def correlation_matrix(symbols: list[str], pairs: dict[str, float]) -> np.ndarray:
    """Symmetric matrix in `symbols` order from 'SYM1/SYM2' -> rho; missing pairs are 0."""
    index = {s: i for i, s in enumerate(symbols)}
    matrix = np.eye(len(symbols))
    for pair, rho in pairs.items():
        a, _, b = pair.partition("/")
        if a in index and b in index and a != b:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    return matrix


def cholesky_factor(symbols: list[str], pairs: dict[str, float]) -> np.ndarray:
    """Lower Cholesky factor of the correlation matrix; raise NotPositiveDefinite naming the smallest eigenvalue."""
    matrix = correlation_matrix(symbols, pairs)
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(matrix).min())
        raise NotPositiveDefinite(
            f"correlation matrix over {', '.join(symbols)} is not positive definite "
            f"(smallest eigenvalue {smallest:.4f}); the pairwise correlations contradict each other") from None


def correlation_problem(symbols: list[str], pairs: dict[str, float]) -> str | None:
    """The reason the correlation settings cannot be used, or None (used by `clustergate validate`)."""
    try:
        cholesky_factor(symbols, pairs)
    except NotPositiveDefinite as exc:
        return str(exc)
    return None


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


# --------------------------------------------------------------------------- replay source


@dataclass(frozen=True, slots=True)
class ReplayRow:
    ts: float  # recorded epoch seconds; sets the replay schedule
    symbol: str
    price: float  # may be NaN or <= 0: the publisher rejects and counts those


@dataclass
class ReplayData:
    rows: list[ReplayRow] = field(default_factory=list)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, reason)
    not_in_allowlist: int = 0
    form: str = "long"
    ts_unit: str = "s"  # "ms", "us" or "ns" when the file's epochs were read in those units


TS_COLUMNS = ("ts", "timestamp", "time")
PRICE_COLUMNS = ("price", "close")
# An epoch above this is not seconds (it would be after the year 5000): milliseconds or finer.
MAX_EPOCH_S = 1e11


def parse_timestamp(text: str) -> float:
    """Epoch seconds, or an ISO 8601 time (a trailing Z or no zone means UTC). An epoch above
    MAX_EPOCH_S is read as milliseconds (then micro-, nanoseconds): see epoch_unit."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.timestamp()
    if not math.isfinite(value):
        raise ValueError(f"timestamp {text!r} is not finite")
    return value / 10 ** (3 * EPOCH_UNITS.index(epoch_unit(value)))


EPOCH_UNITS = ("s", "ms", "us", "ns")


def epoch_unit(value: float) -> str:
    """The unit of a numeric epoch: s up to MAX_EPOCH_S, then ms, us, ns by factors of 1000."""
    for unit in EPOCH_UNITS:
        if abs(value) <= MAX_EPOCH_S:
            return unit
        value /= 1000.0
    return EPOCH_UNITS[-1]


def _cell_price(text: str) -> float:
    """The CSV cell as a float; NaN, inf, 0 and negatives pass through to be rejected and counted."""
    return float(text.strip())


def parse_replay_csv(text: str, allowlist: Iterable[str]) -> ReplayData:
    """Read long form `ts,symbol,price` or wide form `ts,SYM1,SYM2,...`, chosen by the header.

    The time column may be named ts, timestamp or time, the long form's price column price or close
    (any case); a UTF-8 byte-order mark is ignored; a wide-form column that is not an upper-case
    symbol is refused with a one-line error. Epochs in milliseconds (or finer) are read as such.
    Rows are returned in time order (stable for equal times). A row that cannot be read is skipped
    and listed with its line number; a symbol outside the allowlist is skipped and counted; an
    empty wide-form cell means no price for that symbol at that time.
    """
    allowed = set(allowlist)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    data = ReplayData()
    header: list[str] | None = None
    for row in reader:
        line_no = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in row]
            while len(header) > 1 and not header[-1]:  # a trailing comma (spreadsheet export): no column
                header.pop()
            if not header or header[0].lower() not in TS_COLUMNS:
                raise ValueError(f"line {line_no}: header must start with ts (or timestamp, time), got {row!r}")
            lowered = [h.lower() for h in header]
            long_form = len(header) == 3 and lowered[1] == "symbol" and lowered[2] in PRICE_COLUMNS
            data.form = "long" if long_form else "wide"
            if data.form == "wide":
                for sym in header[1:]:
                    if not sym:
                        raise ValueError(f"line {line_no}: empty column name in the header")
                    if sym.upper() != sym or not sym.replace("_", "").isalnum():
                        raise ValueError(
                            f"line {line_no}: header column {sym!r} is not a symbol: the long form is "
                            f"ts,symbol,price (or close), the wide form ts,SYM1,SYM2,...")
            continue
        if len(row) > len(header) and not "".join(row[len(header):]).strip():
            row = row[:len(header)]
        if len(row) != len(header):
            data.bad_rows.append((line_no, f"expected {len(header)} columns, got {len(row)}"))
            continue
        try:
            ts = parse_timestamp(row[0])
        except ValueError:
            data.bad_rows.append((line_no, f"bad timestamp {row[0]!r}"))
            continue
        if data.ts_unit == "s":
            try:
                data.ts_unit = epoch_unit(float(row[0]))
            except ValueError:
                pass  # ISO 8601
        if data.form == "long":
            symbol = row[1].strip()
            if symbol not in allowed:
                data.not_in_allowlist += 1
                continue
            try:
                data.rows.append(ReplayRow(ts, symbol, _cell_price(row[2])))
            except ValueError:
                data.bad_rows.append((line_no, f"bad price {row[2]!r}"))
            continue
        for symbol, cell in zip(header[1:], row[1:]):
            if not cell.strip():
                continue
            if symbol not in allowed:
                data.not_in_allowlist += 1
                continue
            try:
                data.rows.append(ReplayRow(ts, symbol, _cell_price(cell)))
            except ValueError:
                data.bad_rows.append((line_no, f"bad price {cell!r} for {symbol}"))
    if header is None:
        raise ValueError("the file is empty: expected a header line starting with ts")
    data.rows.sort(key=lambda r: r.ts)
    return data


def loop_growth(rows: list[ReplayRow]) -> dict[str, float]:
    """Per symbol, log(last usable price / first usable price) of the file: how far one pass moves it."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for row in rows:
        if price_rejection(row.price) is None:
            first.setdefault(row.symbol, row.price)
            last[row.symbol] = row.price
    return {s: math.log(last[s] / first[s]) for s in first}


def usable_rows(data: ReplayData) -> int:
    return sum(1 for r in data.rows if price_rejection(r.price) is None)


def read_replay_file(path: Any, allowlist: Iterable[str]) -> ReplayData:
    """Read and parse a replay file; raise ValueError (or OSError) with a one-line reason when it
    cannot be used: unreadable, no header, or no usable row (a feed with nothing to publish)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        data = parse_replay_csv(fh.read(), allowlist)
    if usable_rows(data) == 0:
        raise ValueError(f"{path}: no usable row ({len(data.rows)} rows for the allowlist, "
                         f"{len(data.bad_rows)} unreadable, {data.not_in_allowlist} outside the allowlist; "
                         f"form {data.form}); expected ts,symbol,price or ts,SYM1,SYM2,...")
    return data


# A loop's rebase factor stays within e ** this (1e12); past it the series starts again from the file.
LOOP_REBASE_MAX_LOG = math.log(1e12)


class ReplaySchedule:
    """When each replay row is due, in seconds after the start of the replay, looping if asked.

    At each loop every symbol's prices are rebased so that its series continues where the last pass
    ended (pass k is scaled by (last / first) ** k): jumping back to the first prices in one slot
    would be one huge common return, and independent symbols would correlate at +-0.9."""

    def __init__(self, rows: list[ReplayRow], speed: float, loop: bool, loop_gap_s: float):
        self.rows = rows
        self.speed = speed
        self.loop = loop
        self.index = 0
        self.passes = 0  # loops completed
        self.growth = loop_growth(rows) if loop else {}
        self.offset_s = 0.0  # added to every due time; grows by one file length per loop
        first = rows[0].ts if rows else 0.0
        self.relative_s = [(r.ts - first) / speed for r in rows]
        gaps = [b - a for a, b in zip(self.relative_s, self.relative_s[1:]) if b > a]
        self.loop_gap_s = statistics.median(gaps) if gaps else loop_gap_s

    def next_due_s(self) -> float | None:
        if self.index >= len(self.rows):
            if not self.loop or not self.rows:
                return None
            self.offset_s += self.relative_s[-1] + self.loop_gap_s
            self.index = 0
            self.passes += 1
            if any(abs(g) * self.passes > LOOP_REBASE_MAX_LOG for g in self.growth.values()):
                self.passes = 0  # one jump back: a x100 file's prices were inf by pass 154, pop() overflowed at 155
        return self.offset_s + self.relative_s[self.index]

    def pop(self) -> ReplayRow:
        row = self.rows[self.index]
        self.index += 1
        growth = self.growth.get(row.symbol, 0.0)
        if self.passes and growth and price_rejection(row.price) is None:
            return ReplayRow(row.ts, row.symbol, row.price * math.exp(growth * self.passes))
        return row


# --------------------------------------------------------------------------- the actor


class PriceFeed(Actor):
    kind = "price_feed"
    settings: PriceFeedSettings

    def setup(self) -> None:
        self.symbols = list(self.topology.symbols)
        self.seq = 0
        self.last_publish = time.monotonic()
        self.redis: redis.Redis | None = None
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
        if self.redis is not None:
            self.redis.close()

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
            self.log.warning("price_rejected", symbol=symbol, price=repr(price), reason=reason)

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
        self.gbm = CorrelatedGBM.from_settings(self.symbols, self.settings)
        self.every(self.settings.interval_s, self._synthetic_step, first_after_s=0, name="synthetic")

    def _synthetic_step(self) -> None:
        for symbol, price in self.gbm.step().items():
            self.publish(symbol, price)

    # ----------------------------------------------------------------- replay

    def _setup_replay(self) -> None:
        replay: ReplaySource = self.settings.replay  # type: ignore[assignment]
        path = self.topology.resolve_path(replay.path)
        data = read_replay_file(path, self.symbols)
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
        self.log.info("replay_loaded", path=str(path), form=data.form, rows=len(data.rows),
                      bad_rows=len(data.bad_rows), speed=replay.speed, loop=replay.loop)
        self.schedule = ReplaySchedule(data.rows, replay.speed, replay.loop, self.settings.interval_s)
        self.replay_start = time.monotonic()
        self._after(0.0, self._replay_due)

    def _after(self, delay_s: float, callback: Callable[[], None]) -> None:
        """Run callback once, delay_s from now, on the runtime's timers."""
        holder: dict[str, Any] = {}

        def once() -> None:
            holder["timer"].cancelled = True
            callback()

        holder["timer"] = self.every(max(delay_s, 1e-3), once, first_after_s=max(delay_s, 0.0), name="replay")

    def _replay_due(self) -> None:
        elapsed = time.monotonic() - self.replay_start
        for _ in range(REPLAY_ROWS_PER_TURN):
            due = self.schedule.next_due_s()
            if due is None:
                self.log.info("replay_finished", seq=self.seq)
                return
            if due > elapsed:
                self._after(due - elapsed, self._replay_due)
                return
            row = self.schedule.pop()
            self.publish(row.symbol, row.price)
        self._after(0.0, self._replay_due)

    # ----------------------------------------------------------------- redis snapshots

    def _setup_redis_snapshots(self) -> None:
        self.redis = connect(self.topology.redis)
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
            pipe = self.redis.pipeline(transaction=False)
            for key in self.snapshot_keys.values():
                pipe.hmget(key, "mark_price", "ts_epoch")
            snapshots = pipe.execute()
        except redis.RedisError as exc:
            self.metrics.redis_errors.inc()
            self._redis_outage.failed(exc, retry_in_s=self.settings.interval_s)
            return
        self._redis_outage.ok()
        now = time.time()
        stale_after_s = self.topology.positions.stale_after_s
        for symbol, (mark, ts_epoch) in zip(self.snapshot_keys, snapshots):
            if mark is None and ts_epoch is None:
                continue  # no snapshot: the execution layer holds no position there
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

    def _skip(self, symbol: str, ts_epoch: Any, reason: str) -> None:
        """Count a snapshot not published; log when the symbol's reason changes (not for unchanged)."""
        self.metrics.snapshots_skipped.labels(symbol=symbol, reason=reason).inc()
        if reason != "unchanged" and self.skipping.get(symbol) != reason:
            self.skipping[symbol] = reason
            self.log.warning("snapshot_skipped", symbol=symbol, ts_epoch=repr(ts_epoch), reason=reason)


if __name__ == "__main__":
    main(PriceFeed)
