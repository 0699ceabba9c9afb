"""Frozen prices: a feed whose timestamps stay fresh while its price never changes. Its returns of exactly 0
lower the symbol's correlations (a constant row correlates 0), split clusters and lower ClusterStress and K, so
the gate grows more permissive; the buffer says so. A warning only: a frozen price is still a price on the grid.

Rule a reader must keep: a symbol is frozen when the newest price in the window is the same, in every slot
holding a price, over at least frozen_after_slots slots (from the first slot of that unchanged run to the
newest slot holding a price); a missing slot neither changes the price nor breaks the run; 0 turns the check
off. A frozen symbol stays frozen while its newest price is the frozen one, even once fewer slots of the run are
left in view (its first slots aged out after the feed stopped, a clock step cut it): it ends when that price
changes (price_moving_again) or no price is left (price_frozen_ended). Pure: no sockets, no Redis, no clock
(slots are parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class FrozenRun:
    price: float
    since_slot: int  # the first slot of the unchanged run
    newest_slot: int  # the newest slot holding a price


@dataclass(frozen=True)
class FrozenChange:
    event: Literal["price_frozen", "price_moving_again", "price_frozen_ended"]
    symbol: str
    price: float | None  # the price now: the frozen one, the one it moved to, None when no price is left
    frozen_price: float
    since_slot: int
    newest_slot: int  # the newest slot holding a price: of the run (price_frozen), of the window (the others)


Newest = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def newest_prices(prices: np.ndarray) -> Newest:
    """Of `prices`: where it holds a price, and per row whether it holds one, the column of its newest one, and that
    price (NaN if none)."""
    finite = np.isfinite(prices)
    newest_col = prices.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    return finite, finite.any(axis=1), newest_col, prices[np.arange(len(prices)), newest_col]


def frozen_runs(symbols: list[str], first_slot: int, prices: np.ndarray, frozen_after_slots: int,
                seen: Newest | None = None) -> dict[str, FrozenRun]:
    """The symbols frozen in `prices` (row i is symbols[i], column j slot first_slot + j, NaN where no price); `seen`:
    newest_prices(prices), when the caller has it."""
    if frozen_after_slots <= 0 or prices.size == 0:
        return {}
    n_cols = prices.shape[1]
    finite, has_price, newest_col, newest = newest_prices(prices) if seen is None else seen
    differs = finite & (prices != newest[:, None])
    last_change = np.where(differs.any(axis=1), n_cols - 1 - np.argmax(differs[:, ::-1], axis=1), -1)
    run_start = np.argmax(finite & (np.arange(n_cols)[None, :] > last_change[:, None]), axis=1)
    frozen = has_price & (newest_col - run_start >= frozen_after_slots)
    return {symbols[i]: FrozenRun(float(newest[i]), first_slot + int(run_start[i]), first_slot + int(newest_col[i]))
            for i in np.flatnonzero(frozen)}


@dataclass
class FrozenWatch:
    """Which symbols are frozen, window after window; update() returns what changed, each change once."""

    frozen_after_slots: int
    frozen: dict[str, FrozenRun] = field(default_factory=dict)

    def update(self, symbols: list[str], first_slot: int, prices: np.ndarray) -> list[FrozenChange]:
        # One pass over the window for both the runs and the frozen symbols' newest prices.
        seen = newest_prices(prices) if self.frozen_after_slots > 0 and prices.size else None
        now = frozen_runs(symbols, first_slot, prices, self.frozen_after_slots, seen)
        changes: list[FrozenChange] = []
        if self.frozen:  # one dict for the rows: linear in the symbols, however many froze
            row_of = {symbol: i for i, symbol in enumerate(symbols)}
            has_price, newest_col, newest = (a.tolist() for a in (seen or newest_prices(prices))[1:])
        for symbol, was in list(self.frozen.items()):
            i = row_of[symbol]
            if has_price[i] and newest[i] == was.price:  # not moved: a run cut short (aged out, a clock step)
                # since stays the first slot seen frozen
                self.frozen[symbol] = FrozenRun(was.price, was.since_slot, first_slot + newest_col[i])
                continue
            del self.frozen[symbol]
            if has_price[i]:
                changes.append(FrozenChange("price_moving_again", symbol, newest[i], was.price, was.since_slot,
                                            first_slot + newest_col[i]))
            else:
                changes.append(FrozenChange("price_frozen_ended", symbol, None, was.price, was.since_slot,
                                            was.newest_slot))
        for symbol, run in now.items():
            if symbol not in self.frozen:
                self.frozen[symbol] = run
                changes.append(FrozenChange("price_frozen", symbol, run.price, run.price, run.since_slot,
                                            run.newest_slot))
        return changes
