"""Position snapshots as the P2.7 side reads them: one signed notional per symbol, or nothing.

Rule a reader must keep (SPEC): notional = |notional_usd| if present, else |position_amt x
mark_price|; the side is the sign of position_amt (0 when flat); a snapshot older than
stale_after_s, or dated more than SNAPSHOT_FUTURE_SKEW_S in the future, is stale and does not count
as held. `read_snapshot` is that rule, the only one: the gate (on its raw HMGET values), the P2.7
side (actors.snapshot_reads) and the backtest (a positions file's rows) all call it, so they never
disagree on which positions are held. Pure: no Redis, no clock (the time is a parameter).

The gate imports this module: it must not import redis-py or numpy at run time (RSS target 40 MB).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

HELD_MIN_NOTIONAL = 1e-9

# A snapshot stamped further than this in the future is stale (clock skew allowance between the
# execution layer's clock and ours; ts_epoch is whole seconds, so it may read up to 1 s ahead).
SNAPSHOT_FUTURE_SKEW_S = 5.0


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def snapshot_time(ts_epoch: Any, now_s: float, stale_after_s: float) -> tuple[float | None, str | None]:
    """(ts_epoch as a float, or None when unusable; why the snapshot is not fresh, or None when it is):
    no_ts (missing or not a finite number), stale (older than stale_after_s) or future (dated more
    than SNAPSHOT_FUTURE_SKEW_S ahead of now_s)."""
    ts = _number(ts_epoch)
    if ts is None:
        return None, "no_ts"
    if now_s - ts > stale_after_s:
        return ts, "stale"
    if ts - now_s > SNAPSHOT_FUTURE_SKEW_S:
        return ts, "future"
    return ts, None


def read_snapshot(position_amt: Any, mark_price: Any, ts_epoch: Any, notional_usd: Any, now_s: float,
                  stale_after_s: float) -> tuple[float | None, float | None]:
    """(signed notional if the snapshot is usable and fresh, age in seconds if it has a timestamp).

    Fields are raw values (str, bytes or None when absent). Usable: finite ts_epoch and
    position_amt, and a finite notional_usd when it is present (not None or ""), else a finite
    mark_price. Fresh: -SNAPSHOT_FUTURE_SKEW_S <= age <= stale_after_s. The signed notional is
    sign(position_amt) x notional, 0.0 for a flat position (which is usable, but not held).
    """
    ts, not_fresh = snapshot_time(ts_epoch, now_s, stale_after_s)
    if ts is None:
        return None, None
    age_s = now_s - ts
    signed, _ = snapshot_notional(position_amt, mark_price, notional_usd)
    if signed is None or not_fresh is not None:
        return None, age_s
    return signed, age_s


def snapshot_notional(position_amt: Any, mark_price: Any, notional_usd: Any) -> tuple[float | None, str | None]:
    """(sign(position_amt) x notional, None) when a snapshot's fields are usable, whatever its age, else (None, why
    not, naming the field). The rule of read_snapshot, which calls it."""
    amt = _number(position_amt)
    if amt is None:
        return None, "position_amt is missing or not a finite number"
    if notional_usd not in (None, "", b""):
        explicit = _number(notional_usd)
        if explicit is None:
            return None, "notional_usd is present but not a finite number"
        magnitude = abs(explicit)
    else:
        mark = _number(mark_price)
        if mark is None:
            return None, "no notional_usd, and mark_price is missing or not a finite number"
        magnitude = abs(amt * mark)
        if not math.isfinite(magnitude):
            return None, "|position_amt x mark_price| is not a finite number"
    side = 1.0 if amt > 0 else -1.0 if amt < 0 else 0.0
    return side * magnitude, None


def signed_notional(fields: Mapping[str, Any], now_s: float, stale_after_s: float) -> float | None:
    """Signed notional (side x notional) of one snapshot hash, None when absent, malformed or stale."""
    if not fields:
        return None
    value, _ = read_snapshot(fields.get("position_amt"), fields.get("mark_price"), fields.get("ts_epoch"),
                             fields.get("notional_usd"), now_s, stale_after_s)
    return value


def held_symbols(signed: Mapping[str, float]) -> set[str]:
    return {s for s, v in signed.items() if abs(v) > HELD_MIN_NOTIONAL}
