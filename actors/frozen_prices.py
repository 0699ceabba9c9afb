"""Frozen prices: a feed whose timestamps stay fresh while its price never changes. Its returns of exactly 0
lower the symbol's correlations (a constant row correlates 0), split clusters and lower ClusterStress and K, so
the gate grows more permissive; the buffer says so. A warning only: a frozen price is still a price on the grid.

Rule a reader must keep: a symbol is frozen when the newest price in the window is the same, in every slot
holding a price, over at least frozen_after_slots slots (from the first slot of that unchanged run to the
newest slot holding a price); a missing slot neither changes the price nor breaks the run; 0 turns the check
off. Pure: no sockets, no Redis, no clock (slots are parameters).
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


def frozen_runs(symbols: list[str], first_slot: int, prices: np.ndarray, frozen_after_slots: int) -> dict[str, FrozenRun]:
    """The symbols frozen in `prices` (row i is symbols[i], column j slot first_slot + j, NaN where no price)."""
    if frozen_after_slots <= 0 or prices.size == 0:
        return {}
    n_cols = prices.shape[1]
    finite = np.isfinite(prices)
    has_price = finite.any(axis=1)
    newest_col = n_cols - 1 - np.argmax(finite[:, ::-1], axis=1)
    newest = prices[np.arange(len(prices)), newest_col]
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
        now = frozen_runs(symbols, first_slot, prices, self.frozen_after_slots)
        changes: list[FrozenChange] = []
        for symbol, was in list(self.frozen.items()):
            run = now.get(symbol)
            if run is not None and run.price == was.price:
                self.frozen[symbol] = FrozenRun(was.price, was.since_slot, run.newest_slot)  # since: first seen
                continue
            del self.frozen[symbol]
            row = prices[symbols.index(symbol)]
            held = np.flatnonzero(np.isfinite(row))
            if len(held):
                changes.append(FrozenChange("price_moving_again", symbol, float(row[held[-1]]), was.price,
                                            was.since_slot, first_slot + int(held[-1])))
            else:
                changes.append(FrozenChange("price_frozen_ended", symbol, None, was.price, was.since_slot,
                                            was.newest_slot))
        for symbol, run in now.items():
            if symbol not in self.frozen:
                self.frozen[symbol] = run
                changes.append(FrozenChange("price_frozen", symbol, run.price, run.price, run.since_slot,
                                            run.newest_slot))
        return changes
