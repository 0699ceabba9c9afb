"""Clock-aligned synthetic prices: the price of slot k (k = floor(epoch_s / interval_s)) is a function
of the settings and k alone, so two feeds with the same settings, on two hosts, started at different
times or restarted, publish the same price for the same symbol and slot. Pure: no socket, no clock
(the slot is a parameter).

Rule a reader must keep: nothing here may depend on what was computed before (no state carried from
slot to slot but a cache of values that are themselves functions of (seed, slot)), and every sum is
correctly rounded (math.fsum), so the result does not depend on the order or the alignment a BLAS
kernel would use. Bit-identical prices across hosts need the same numpy build (its standard_normal and
Cholesky factor) and C library (math.exp).

The model, a fading random walk: z_s ~ N(0, I) per slot s from Philox keyed by the seed with the slot
in its counter (counter-based: any slot is drawn directly, no stream to replay from the start), and

    log S_k = log S_0 + vol_step * L @ (c * sum_{j=0}^{W-1} (1 - j / W) z_{k-j}),   c = sqrt(W / (W + 1))

with W = FADE_SLOTS and L the Cholesky factor of the configured correlations. Each shock moves the
price at once, as in the GBM, and its effect fades linearly to nothing over W slots, so a price needs
the last W draws only: start-up is bounded (W draws) and a restart at slot k continues the same path.
What is kept of the GBM: one-slot log returns are N(0, vol_step^2) exactly (c makes up the 1/W each
step takes back) and correlated exactly as configured at every horizon (every symbol is the same linear
filter of the correlated shocks); returns over h slots have variance about h vol_step^2 (1 - h^2 / (3 W^2))
(h <= W: 1% less at h = 360, 17% less at 1,440). What differs: the price reverts to S_0 (the level's
standard deviation is vol_step * sqrt(W / 3), about 26 vol_step, so 15% for vol 1.1 at 0.25 s x 3600),
its median stays S_0 (no -vol^2/2 drift), and there is no drift: a stationary price cannot trend, so
the topology refuses drift != 0 with clock_aligned. Two slots more than W apart are independent: after
a feed outage that long the first price may be past the jump limit from the last one a buffer accepted
(one print refused, as after a real market's gap); after g << W slots it has moved vol_step * sqrt(g) (one sd).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# W: slots over which a shock's effect fades to nothing (2048 slots = 8.5 min at 0.25 s).
FADE_SLOTS = 2048

# Philox's key, the seed, is below 2**128.
MAX_SEED = 2 ** 128

# The slot goes in the second 64-bit word of Philox's counter: a slot's draws never reach the next slot's.
_COUNTER_SLOT_WORD = 64


def slot_of(epoch_s: float, interval_s: float) -> int:
    """The slot an epoch time falls in: floor(epoch_s / interval_s)."""
    return math.floor(epoch_s / interval_s)


def slot_normals(seed: int, slot: int, n: int) -> np.ndarray:
    """n independent standard normals of one slot, a function of (seed, slot, n) alone."""
    counter = (slot % 2 ** 64) << _COUNTER_SLOT_WORD
    return np.random.Generator(np.random.Philox(key=seed, counter=counter)).standard_normal(n)


def fade_weights(fade_slots: int) -> np.ndarray:
    """Weights of the last fade_slots slots' shocks, oldest first, scaled so one step has unit variance."""
    return np.arange(1, fade_slots + 1) / fade_slots * math.sqrt(fade_slots / (fade_slots + 1))


def level_sd(vol_step: float, fade_slots: int = FADE_SLOTS) -> float:
    """Standard deviation of log(S_k / S_0) for a symbol of per-slot volatility vol_step."""
    return vol_step * math.sqrt(math.fsum(fade_weights(fade_slots) ** 2))


class SlotPrices:
    """Prices per slot of `symbols`; `prices(k)` is the same for every object built with the same arguments."""

    def __init__(self, symbols: Sequence[str], seed: int, start_prices: Sequence[float], vol_step: Sequence[float],
                 chol: np.ndarray, fade_slots: int = FADE_SLOTS):
        if not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
            raise ValueError(f"seed must be an integer >= 0 and below 2**128 (Philox's key), got {seed!r}")
        if fade_slots < 1:
            raise ValueError(f"fade_slots must be >= 1, got {fade_slots!r}")
        self.symbols = list(symbols)
        self.seed = seed
        self.start_prices = [float(p) for p in start_prices]
        self.vol_step = [float(v) for v in vol_step]
        self.chol = np.asarray(chol, dtype=float).tolist()
        self.fade_slots = fade_slots
        self.weights = fade_weights(fade_slots)
        self.normals_drawn = 0  # slots drawn so far: at most fade_slots for any one call
        self._first_slot: int | None = None  # slot of self._window's first row
        self._window = np.empty((fade_slots, len(self.symbols)))

    def _normals(self, slot: int) -> np.ndarray:
        self.normals_drawn += 1
        return slot_normals(self.seed, slot, len(self.symbols))

    def _window_ending_at(self, slot: int) -> np.ndarray:
        """Normals of slots slot - W + 1 .. slot, one row each, oldest first; rows still cached are kept."""
        first, size = slot - self.fade_slots + 1, self.fade_slots
        old = self._first_slot
        if old == first:
            return self._window
        window = np.empty_like(self._window)
        lo = hi = first + size  # the slots lo .. hi - 1 are kept from the cached window: none yet
        if old is not None and max(first, old) < min(first, old) + size:
            lo, hi = max(first, old), min(first, old) + size
            window[lo - first:hi - first] = self._window[lo - old:hi - old]
        for s in (*range(first, lo), *range(hi, first + size)):
            window[s - first] = self._normals(s)
        self._window, self._first_slot = window, first
        return window

    def deviations(self, slot: int) -> list[float]:
        """log(S_k / S_0) per symbol at slot k."""
        weighted = (self.weights[:, None] * self._window_ending_at(slot)).T.tolist()
        faded = [math.fsum(column) for column in weighted]  # per symbol, independent shocks
        return [v * math.fsum(c * y for c, y in zip(row, faded)) for v, row in zip(self.vol_step, self.chol)]

    def prices(self, slot: int) -> dict[str, float]:
        """The price of every symbol at slot k."""
        return {s: p0 * math.exp(d) for s, p0, d in zip(self.symbols, self.start_prices, self.deviations(slot))}

    def path(self, first_slot: int, slots: int) -> np.ndarray:
        """Prices of slots first_slot .. first_slot + slots - 1, shape (slots, symbols)."""
        return np.array([list(self.prices(k).values()) for k in range(first_slot, first_slot + slots)])
