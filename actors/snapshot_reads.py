"""Position snapshots read from Redis by the P2.7 side (the buffer and the clusterer): one round trip, each
snapshot judged by actors.snapshots.read_snapshot, the rule the gate and the backtest use too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.snapshots import read_snapshot
from launcher import keys
from launcher.keys import wrong_type

if TYPE_CHECKING:
    from launcher.resp import RespClient


SNAPSHOT_FIELDS = ("position_amt", "mark_price", "ts_epoch", "notional_usd")


def read_signed_notionals(client: RespClient, symbols: list[str], key_pattern: str, now_s: float,
                          stale_after_s: float, unreadable: dict[str, str] | None = None) -> dict[str, float]:
    """Signed notional per symbol with a fresh snapshot (one round trip); raises RedisUnavailable or ReplyError.

    Reads SPEC's fields alone (HMGET, as the gate does), so a field the execution layer adds is never read;
    give it a client with decode=False: a value that is not UTF-8 is then no number (the snapshot is
    unusable) instead of a UnicodeDecodeError for every symbol. A snapshot key of another type than a hash is
    unusable too, as the gate reads it (its WRONGTYPE error put in `unreadable`), not an error for every symbol."""
    replies = client.pipeline([("HMGET", keys.position_snapshot(symbol, key_pattern), *SNAPSHOT_FIELDS)
                               for symbol in symbols]) if symbols else []
    out: dict[str, float] = {}
    for symbol, reply in zip(symbols, replies):
        if wrong_type(reply):
            if unreadable is not None:
                unreadable[symbol] = str(reply)
            continue
        if isinstance(reply, Exception):
            raise reply
        position_amt, mark_price, ts_epoch, notional_usd = reply
        value, _ = read_snapshot(position_amt, mark_price, ts_epoch, notional_usd, now_s, stale_after_s)
        if value is not None:
            out[symbol] = value
    return out
