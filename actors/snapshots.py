"""Position snapshots as the P2.7 side reads them: one signed notional per symbol, or nothing.

Rule a reader must keep (SPEC): notional = |notional_usd| if present, else |position_amt x
mark_price|; the side is the sign of position_amt; a snapshot older than stale_after_s, or dated
in the future, is stale and does not count as held.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import redis

from actors import keys

HELD_MIN_NOTIONAL = 1e-9


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def signed_notional(fields: Mapping[str, Any], now_s: float, stale_after_s: float) -> float | None:
    """Signed notional (side x notional) of one snapshot hash, None when absent, malformed or stale."""
    if not fields:
        return None
    ts = _number(fields.get("ts_epoch"))
    if ts is None or not 0 <= now_s - ts <= stale_after_s:
        return None
    amt = _number(fields.get("position_amt"))
    explicit = _number(fields.get("notional_usd")) if fields.get("notional_usd") not in (None, "") else None
    if explicit is not None:
        notional = abs(explicit)
        side = math.copysign(1.0, amt) if amt not in (None, 0.0) else math.copysign(1.0, explicit)
    else:
        mark = _number(fields.get("mark_price"))
        if amt is None or mark is None:
            return None
        notional = abs(amt * mark)
        side = math.copysign(1.0, amt)
    return side * notional


def read_signed_notionals(client: redis.Redis, symbols: list[str], key_pattern: str, now_s: float,
                          stale_after_s: float) -> dict[str, float]:
    """Signed notional per symbol with a fresh snapshot (one round trip); raises redis errors."""
    pipe = client.pipeline(transaction=False)
    for symbol in symbols:
        pipe.hgetall(keys.position_snapshot(symbol, key_pattern))
    out: dict[str, float] = {}
    for symbol, raw in zip(symbols, pipe.execute()):
        fields = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in (raw or {}).items()}
        value = signed_notional(fields, now_s, stale_after_s)
        if value is not None:
            out[symbol] = value
    return out


def held_symbols(signed: Mapping[str, float]) -> set[str]:
    return {s for s, v in signed.items() if abs(v) > HELD_MIN_NOTIONAL}
