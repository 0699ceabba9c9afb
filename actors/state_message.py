"""The clusterer's state message on the wire (topic, version, decoding): what the state writer reads, apart from the
clusterer's maths so that a writer starts without numpy's and scipy's imports."""

from __future__ import annotations

import json
from typing import Any

from actors.freshness import MAX_EPOCH_S

STATE_TOPIC = b"state"
STATE_VERSION = 1


def decode_state(frames: list[bytes]) -> dict[str, Any]:
    """The state message's JSON; raise ValueError when malformed, a ts that is not epoch seconds (a JSON number in
    0..MAX_EPOCH_S) included: the writer stamps updated_ts and updated_ts_ms from it."""
    if len(frames) != 2 or frames[0] != STATE_TOPIC:
        raise ValueError("expected [b'state', JSON]")
    message = json.loads(frames[1])
    if not isinstance(message, dict) or message.get("v") != STATE_VERSION or "gauges" not in message:
        raise ValueError("unknown state version")
    ts = message.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0 <= ts <= MAX_EPOCH_S:  # NaN fails too
        raise ValueError(f"ts {json.dumps(ts)[:40]} is not epoch seconds (a number in 0..{MAX_EPOCH_S:.0e})")
    return message
