"""Book: a synthetic trading book that keeps position snapshots fresh for demos and tests.

It marks fixed positions to the feed's latest prices and rewrites every snapshot hash each
refresh_s. A symbol is written only once a price for it has arrived; it never invents a mark.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge

from launcher import keys
from launcher.resp import RedisUnavailable, ReplyError, RespClient
from actors.runtime import Actor, OutageLog, main
from launcher.keys import wrong_type
from actors.wire import TICK_TOPIC_PREFIX, BadTick, parse_tick
from launcher.topology import BookSettings

BAD_FRAMES = Counter("book_bad_frames_total", "Tick messages that could not be used")
SNAPSHOTS_WRITTEN = Counter("book_snapshots_written_total", "Position snapshots written", ["symbol"])
SNAPSHOT_TS = Gauge("book_snapshot_timestamp_seconds", "Epoch time of the last snapshot written", ["symbol"])
REDIS_ERRORS = Counter("book_redis_errors_total", "Failed snapshot writes (retried next refresh)")


def snapshot_fields(position_amt: float, mark_price: float, now_epoch: float) -> dict[str, str]:
    """The snapshot hash as the execution layer writes it; notional_usd is signed like the position."""
    return {
        "position_amt": repr(float(position_amt)),
        "mark_price": repr(float(mark_price)),
        "ts_epoch": str(int(now_epoch)),
        "notional_usd": repr(float(position_amt) * float(mark_price)),
    }


class Book(Actor):
    kind = "book"
    settings: BookSettings

    def setup(self) -> None:
        self.positions = dict(self.settings.positions)
        self.marks: dict[str, float] = {}
        self.written: set[str] = set()
        self.not_a_hash: dict[str, str] = {}  # symbol -> WRONGTYPE error, while its snapshot key is not a hash
        self._redis_outage = OutageLog(self.log, "redis")
        self.redis = RespClient.from_config(self.topology.redis)
        pattern = self.topology.positions.key_pattern
        self.snapshot_keys = {s: keys.position_snapshot(s, pattern) for s in self.positions}
        for symbol in self.positions:
            SNAPSHOTS_WRITTEN.labels(symbol=symbol)
        self.subscribe("ticks", TICK_TOPIC_PREFIX)
        self.on_message("ticks", self._on_tick)
        self.every(self.settings.refresh_s, self._write_snapshots, name="refresh")
        if not self.positions:
            self.set_ready(True)
        self.log.info("book_started", positions=self.positions, refresh_s=self.settings.refresh_s)

    def teardown(self) -> None:
        self.redis.close()
        self.redis.close_watch()

    def _on_tick(self, frames: list[bytes]) -> None:
        try:
            tick = parse_tick(frames)
        except BadTick as exc:
            BAD_FRAMES.inc()
            self.log.warning("bad_tick", reason=str(exc))
            return
        if tick is None or tick.symbol not in self.positions:
            return
        first = tick.symbol not in self.marks
        self.marks[tick.symbol] = tick.price
        if first and not self.is_ready:
            self._write_snapshots()  # a new symbol's first mark goes out at once, so readiness comes early

    def _write_snapshots(self) -> None:
        now = time.time()
        due = {s: snapshot_fields(self.positions[s], self.marks[s], now) for s in self.positions if s in self.marks}
        if not due:
            return
        try:
            replies = self.redis.pipeline([("HSET", self.snapshot_keys[symbol], *(x for f in fields.items() for x in f))
                                           for symbol, fields in due.items()])
            for reply in replies:  # a key of another type fails that symbol alone; any other error, the write
                if isinstance(reply, Exception) and not wrong_type(reply):
                    raise reply
        except (RedisUnavailable, ReplyError) as exc:
            REDIS_ERRORS.inc()
            self._redis_outage.failed(exc, retry_in_s=self.settings.refresh_s)
            return
        self._redis_outage.ok()
        not_a_hash = {s: str(reply) for s, reply in zip(due, replies) if wrong_type(reply)}
        if not_a_hash.keys() != self.not_a_hash.keys() and not_a_hash:
            self.log.error("snapshot_not_written", symbols=sorted(not_a_hash), error=next(iter(not_a_hash.values())),
                           keys=[self.snapshot_keys[s] for s in sorted(not_a_hash)])
        self.not_a_hash = not_a_hash
        due = {s: fields for s, fields in due.items() if s not in not_a_hash}
        for symbol in due:
            SNAPSHOTS_WRITTEN.labels(symbol=symbol).inc()
            SNAPSHOT_TS.labels(symbol=symbol).set(now)
        self.written.update(due)
        if not self.is_ready and self.written >= set(self.positions):
            self.set_ready(True)
            self.log.info("ready", symbols=sorted(self.written))


if __name__ == "__main__":
    main(Book)
