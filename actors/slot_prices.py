"""Clock-aligned synthetic prices: the price of slot k (k = floor(epoch_s / interval_s)) is a function
of the settings and k alone, so two feeds with the same settings, on two hosts, started at different
times or restarted, publish the same price for the same symbol and slot. Pure: no socket, no clock
(the slot is a parameter).

Rule a reader must keep: nothing here may depend on what was computed before (no state carried from
slot to slot but values that are themselves functions of (seed, slot): the window's quantized normals
and their exact integer sums), and every other sum is correctly rounded (math.fsum), so the result does
not depend on the path taken to a slot, the order, or the alignment a BLAS kernel would use. The next
slot costs O(symbols) for the shocks (two integer updates per symbol), not O(symbols x W). Bit-identical prices across hosts need the same numpy build (its standard_normal and
Cholesky factor) and C library (math.exp).

The model, a fading random walk: z_s ~ N(0, I) per slot s from Philox keyed by the seed with the slot
in its counter (counter-based: any slot is drawn directly, no stream to replay from the start), rounded
to a multiple of 2**-40 (exact sums), and

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


# A slot's normals are rounded to multiples of 2**-SHOCK_BITS (1e-12: no statistical trace), so every sum
# of them is an exact integer.
SHOCK_BITS = 40


def quantize(normals: np.ndarray) -> np.ndarray:
    """Normals as integer multiples of 2**-SHOCK_BITS (round half to even: the same on every host)."""
    return np.rint(np.ldexp(normals, SHOCK_BITS)).astype(np.int64)


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
    """Prices per slot of `symbols`; `prices(k)` is the same for every object built with the same arguments.

    Each slot's normals are rounded to a multiple of 2**-SHOCK_BITS (np.rint: exact, one rule everywhere),
    so the faded sum is an exact integer: per symbol A = the window's sum and B = the sum weighted 1 (oldest)
    .. W (newest), both Python ints. The next slot moves them in O(1) per symbol (B += W q_new - A,
    A += q_new - q_oldest), with no rounding error to carry, so a generator that stepped 10,000 slots and
    one built at the last of them hold the same integers and give bit-identical prices. A move backwards
    or of a window or more rebuilds the sums from the window (draws only the slots not cached)."""

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
        self.scale = math.sqrt(fade_slots / (fade_slots + 1))  # c: one step's variance is vol_step ** 2
        self.normals_drawn = 0  # slots drawn so far: at most fade_slots for any one call
        self.windows_summed = 0  # rebuilds of the sums from a whole window: the first call, a move back or far
        self._last_slot: int | None = None  # the window is slots last - W + 1 .. last
        self._ring = np.zeros((fade_slots, len(self.symbols)), dtype=np.int64)  # row of slot s at s % W
        self._sum: list[int] = [0] * len(self.symbols)  # A
        self._weighted: list[int] = [0] * len(self.symbols)  # B

    def _quantized(self, slot: int) -> np.ndarray:
        self.normals_drawn += 1
        return quantize(slot_normals(self.seed, slot, len(self.symbols)))

    def _move_to(self, slot: int) -> None:
        """Make the sums those of the window ending at `slot`."""
        size, last = self.fade_slots, self._last_slot
        if last is not None and 0 <= slot - last < size:
            for new in range(last + 1, slot + 1):  # O(1) per symbol and slot: no window to sum again
                row = self._quantized(new)
                oldest = self._ring[new % size].tolist()  # slot new - W leaves the window
                self._ring[new % size] = row
                for i, q in enumerate(row.tolist()):
                    self._weighted[i] += size * q - self._sum[i]
                    self._sum[i] += q - oldest[i]
            self._last_slot = slot
            return
        keep = range(max(slot - size + 1, last - size + 1), min(slot, last) + 1) if last is not None else range(0)
        for s in range(slot - size + 1, slot + 1):
            if s not in keep:
                self._ring[s % size] = self._quantized(s)
        ordered = [self._ring[s % size] for s in range(slot - size + 1, slot + 1)]  # oldest first
        self.windows_summed += 1
        self._sum = [int(v) for v in np.sum(ordered, axis=0, dtype=np.int64)]  # |sum| < W 2**46 < 2**63
        weights = np.arange(1, size + 1, dtype=object)
        self._weighted = [int(v) for v in weights @ np.asarray(ordered, dtype=object)]  # exact: Python ints
        self._last_slot = slot

    def deviations(self, slot: int) -> list[float]:
        """log(S_k / S_0) per symbol at slot k."""
        self._move_to(slot)
        denominator = self.fade_slots << SHOCK_BITS
        faded = [self.scale * (b / denominator) for b in self._weighted]  # int / int: correctly rounded
        return [v * math.fsum(c * y for c, y in zip(row, faded)) for v, row in zip(self.vol_step, self.chol)]

    def prices(self, slot: int) -> dict[str, float]:
        """The price of every symbol at slot k."""
        return {s: p0 * math.exp(d) for s, p0, d in zip(self.symbols, self.start_prices, self.deviations(slot))}

    def path(self, first_slot: int, slots: int) -> np.ndarray:
        """Prices of slots first_slot .. first_slot + slots - 1, shape (slots, symbols)."""
        return np.array([list(self.prices(k).values()) for k in range(first_slot, first_slot + slots)])
