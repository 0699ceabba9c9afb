"""The buffer's window message on the wire (version, header, decoding): what the correlator reads, apart from the
buffer's actor, so that a correlator starts without the buffer's Redis client (redis-py's import, about 0.1 s of CPU
a start). The message itself is described in actors/buffer.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from actors.grid import points_per_symbol
from actors.message_checks import check_number_map, check_text_list

WINDOW_VERSION = 1


def window_header(symbols: list[str], cadence_s: float, first_slot: int, prices: np.ndarray,
                  now_s: float, newest_tick_ts: dict[str, float | None] | None = None) -> dict[str, Any]:
    return {"v": WINDOW_VERSION, "symbols": symbols, "cadence_s": cadence_s, "first_slot": first_slot,
            "last_slot": first_slot + prices.shape[1] - 1, "shape": list(prices.shape),
            "points_per_symbol": points_per_symbol(symbols, prices), "ts": now_s,
            "newest_tick_ts": newest_tick_ts or {}}


def decode_window(header: dict[str, Any], body: bytes) -> tuple[list[str], np.ndarray]:
    """Symbols and price matrix of a window message; raise ValueError when inconsistent."""
    if not isinstance(header, dict) or header.get("v") != WINDOW_VERSION:
        raise ValueError("unknown window version")
    symbols, shape = header.get("symbols"), header.get("shape")
    if not isinstance(symbols, list) or not isinstance(shape, list) or len(shape) != 2:
        raise ValueError("window header lacks symbols or shape")
    check_text_list(symbols, "window symbols", unique=True)
    # Each symbol's newest tick time, or null: a list or text here was a handler error in correlate_window.
    check_number_map(header.get("newest_tick_ts") or {}, "window newest_tick_ts", optional_values=True)
    if not all(type(n) is int and n >= 0 for n in shape):  # 2.0 or true reached numpy's reshape: a TypeError
        raise ValueError(f"window shape {shape!r} is not two whole numbers")
    if shape[0] != len(symbols) or len(body) != shape[0] * shape[1] * 8:
        raise ValueError(f"window body of {len(body)} bytes does not match shape {shape}")
    return symbols, np.frombuffer(body, dtype="<f8").reshape(shape[0], shape[1])
