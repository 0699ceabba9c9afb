"""Jump filter: an obviously bad print is refused before it reaches a correlation.

Rule a reader must keep: a price further than the symbol's limit (a fraction: 0.25 = 25%) from the
last price accepted for that symbol is refused; when the next print agrees with the refused one
(within the limit of it) or is beyond the limit on the same side (a crash that keeps falling), the
market really moved and that next print is accepted. Pure: no clock,
no I/O. The price feed and the buffer each keep their own filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class JumpFilter:
    default_limit: float | None  # None: no limit unless the symbol has one
    limits: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)  # symbol -> last accepted price
    refused: dict[str, float] = field(default_factory=dict)  # symbol -> the print refused last

    @classmethod
    def from_clusters(cls, clusters) -> "JumpFilter":
        return cls(clusters.max_tick_jump, dict(clusters.max_tick_jump_by_symbol))

    def limit_of(self, symbol: str) -> float | None:
        return self.limits.get(symbol, self.default_limit)

    def refuses(self, symbol: str, price: float) -> bool:
        """True when `price` (finite, > 0) is a jump to refuse; a refusal is remembered for the next print."""
        limit = self.limit_of(symbol)
        last = self.last.get(symbol)
        if limit is None or last is None or abs(price - last) <= limit * last:
            return False
        before = self.refused.get(symbol)
        if before is not None and (abs(price - before) <= limit * before or (price - last) * (before - last) > 0):
            return False  # two prints in a row at the new level, or beyond it on the same side: a real move
        self.refused[symbol] = price
        return True

    def accepted(self, symbol: str, price: float) -> None:
        """Record the price the caller went on to use."""
        self.last[symbol] = price
        self.refused.pop(symbol, None)

    def accepted_mask(self, symbol: str, prices: np.ndarray) -> np.ndarray:
        """refuses/accepted over one symbol's usable prints (finite, > 0, time order) at once: True where accepted.
        A symbol whose consecutive prints never move by more than its limit skips the per-print loop (the filter
        would accept them all)."""
        accepted = np.ones(len(prices), dtype=bool)
        limit = self.limit_of(symbol)
        if limit is None or len(prices) < 2 or np.all(np.abs(np.diff(prices)) <= limit * prices[:-1]):
            return accepted
        for j, value in enumerate(prices.tolist()):
            if self.refuses(symbol, value):
                accepted[j] = False
            else:
                self.accepted(symbol, value)
        return accepted
