"""How old a state the state writer stamped is, as every reader judges it: the gate (K and realized vol),
the backtest, `clustergate status` and the proofs. Pure and import-free (the launcher's status loads it
while the CLI is built): no Redis, no clock (the time is a parameter).
"""

from __future__ import annotations

from typing import Any

# An epoch above this is not seconds (it would be after the year 5000): milliseconds or finer.
MAX_EPOCH_S = 1e11


def cluster_state_time_s(updated: float, updated_ts_ms: Any) -> float:
    """The cluster state's time: updated_ts_ms / 1000 when that is an integer within updated_ts's whole second
    (the state writer writes both), else updated_ts (a state from a writer without updated_ts_ms, or a field
    such a writer's HSET left behind)."""
    try:
        refined = int(updated_ts_ms) / 1000
    except (TypeError, ValueError, OverflowError):  # OverflowError: digits past a float's range (hand-written)
        return updated
    return refined if updated <= refined <= updated + 1 else updated


def cluster_state_age_s(updated: float, updated_ts_ms: Any, now: float) -> float:
    """The cluster state's age as the gate judges its freshness: now - its time (cluster_state_time_s), not
    below 0 within updated_ts's second; negative (from the future) only before updated_ts, as in SPEC."""
    if now < updated:
        return now - updated
    return max(0.0, now - cluster_state_time_s(updated, updated_ts_ms))
