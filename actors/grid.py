"""The buffer's price grid, shared by the live buffer and the backtest: slotting (slot =
floor(ts / cadence_s)), the latest price per slot, NaN where none, the jump filter in front of it,
and the clock-fault checks; latest_per_slot places a whole history at once, for the backtest.
Pure: no sockets, no Redis, no clock (the time is a parameter).
"""

from __future__ import annotations

import json
import math

import numpy as np

from actors.jumps import JumpFilter
from actors.snapshots import SNAPSHOT_FUTURE_SKEW_S


HISTORY_VERSION = 1
# A saved slot a float holds exactly; past it the slot times overflowed (OverflowError, not a corrupt history: the load
# crashed the buffer at every start).
SLOT_LIMIT = 2 ** 53
BOOT_ID_MAX_CHARS = 64  # a kernel boot id is a 36-character UUID; a longer one in a history is garbage


# A tick dated further ahead of our clock than this (the clock skew allowed to position snapshots)
# is refused, and so is one in a slot after the current one: either would move the head past the
# open slot, put that open slot and an empty future one in the window, and make the real ticks of
# the future slot look superseded until real time caught up.
TICK_FUTURE_SKEW_S = SNAPSHOT_FUTURE_SKEW_S


class PriceGrid:
    """Prices of `symbols` on slots head_slot - capacity + 1 .. head_slot; NaN where no price."""

    def __init__(self, symbols: list[str], cadence_s: float, capacity: int, head_slot: int):
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.cadence_s = float(cadence_s)
        self.capacity = int(capacity)
        self.head_slot = int(head_slot)
        self.prices = np.full((len(self.symbols), self.capacity), np.nan)
        self.price_ts = np.full((len(self.symbols), self.capacity), -np.inf)
        # ts of each symbol's newest accepted price (-inf: none yet); the cluster state's price age.
        self.newest_ts = np.full(len(self.symbols), -np.inf)
        # The newest slot a window handed out holds (published, or sent as a snapshot): the correlator has it, so a
        # tick for it or an older slot is refused "late" rather than rewrite it (-inf: none handed out yet).
        self.published_slot: float = -math.inf
        # A saved history a clock behind it holds (not overwritten): the holding clock's time when the first hold on
        # it began, so a restart's hold ends when the first would have, not a whole window later (None: not held).
        self.held_since_ts: float | None = None
        # The buffer's head_advance_s mark (the furthest wall - monotonic offset its run read) and the boot it read it on,
        # saved so a restart on that boot goes on from it (None: unknown; a monotonic clock means nothing on another boot).
        self.offset_high_s: float | None = None
        self.boot_id: str | None = None

    def slot_of(self, ts: float) -> int:
        return math.floor(ts / self.cadence_s)

    @property
    def first_slot(self) -> int:
        return self.head_slot - self.capacity + 1

    def advance(self, slot: int) -> None:
        """Move the head forward to `slot`; slots that fall off are dropped, new ones are NaN."""
        shift = slot - self.head_slot
        if shift <= 0:
            return
        if shift >= self.capacity:
            self.prices.fill(np.nan)
            self.price_ts.fill(-np.inf)
        else:
            self.prices[:, :-shift] = self.prices[:, shift:]
            self.prices[:, -shift:] = np.nan
            self.price_ts[:, :-shift] = self.price_ts[:, shift:]
            self.price_ts[:, -shift:] = -np.inf
        self.head_slot = slot

    def rewind(self, slot: int) -> None:
        """Move the head back to `slot` (a clock that ran ahead came back): slots after it are dropped,
        the slots up to it are kept where they are."""
        shift = self.head_slot - slot
        if shift <= 0:
            return
        if shift >= self.capacity:
            self.prices.fill(np.nan)
            self.price_ts.fill(-np.inf)
        else:
            self.prices[:, shift:] = self.prices[:, :-shift]
            self.prices[:, :shift] = np.nan
            self.price_ts[:, shift:] = self.price_ts[:, :-shift]
            self.price_ts[:, :shift] = -np.inf
        self.head_slot = slot
        self.published_slot = min(self.published_slot, slot - 1)  # the clock's slots since are open again
        future = self.newest_ts >= (slot + 1) * self.cadence_s
        # A kept price as received at the latest by its slot's end: a tick ahead keeps its own ts in an earlier slot
        # than its own (add_tick), up to TICK_FUTURE_SKEW_S past that end (rev1: read 4.5 s ahead after a rewind).
        slot_ends = (np.arange(self.first_slot, slot + 1) + 1) * self.cadence_s
        self.newest_ts[future] = np.minimum(self.price_ts[future], slot_ends[None, :]).max(axis=1)

    def add(self, symbol: str, price: float, ts: float, slot: int | None = None,
            received_ts: float | None = None) -> str | None:
        """Record one price; return None when used, else the reason it was not. `slot` (default: ts's own) places a
        tick in a later slot than its ts, keeping ts as its time (an older price never overwrites a newer one).
        received_ts (default: ts): its time as the symbol's newest price (newest_ts, the price age), when earlier."""
        row = self.index.get(symbol)
        if row is None:
            return "unknown_symbol"
        slot = self.slot_of(ts) if slot is None else slot
        if slot > self.head_slot:
            self.advance(slot)
        col = slot - self.first_slot
        if col < 0:
            return "too_old"
        if ts < self.price_ts[row, col]:
            return "superseded"  # an older price arriving late never overwrites a newer one
        if slot <= self.published_slot:
            return "late"  # stamped in a slot the correlator already has (a feed's clock behind): never rewritten
        self.prices[row, col] = price
        self.price_ts[row, col] = ts
        newest = ts if received_ts is None else min(ts, received_ts)
        if newest > self.newest_ts[row]:
            self.newest_ts[row] = newest
        return None

    def newest_tick_ts(self) -> dict[str, float | None]:
        """ts of each symbol's newest accepted price, None when it has none."""
        return {s: (float(t) if math.isfinite(t) else None) for s, t in zip(self.symbols, self.newest_ts)}

    def newest_prices(self) -> dict[str, float]:
        """Each symbol's price in its newest slot that holds one; a symbol with none is absent."""
        out = {}
        for symbol, row in self.index.items():
            held = np.flatnonzero(np.isfinite(self.prices[row]))
            if len(held):
                out[symbol] = float(self.prices[row, held[-1]])
        return out

    def window(self, points: int) -> tuple[int, np.ndarray]:
        """(first_slot, prices) of the `points` completed slots before the head slot."""
        block = self.prices[:, -points - 1:-1]
        return self.head_slot - points, block.copy()

    def merge_from(self, other: "PriceGrid") -> None:
        """Fill this grid's empty slots with `other`'s prices for the same symbol and slot."""
        lo = max(self.first_slot, other.first_slot)
        hi = min(self.head_slot, other.head_slot)
        if lo > hi:
            return
        for symbol, row in self.index.items():
            orow = other.index.get(symbol)
            if orow is None:
                continue
            mine = self.prices[row, lo - self.first_slot:hi - self.first_slot + 1]
            theirs = other.prices[orow, lo - other.first_slot:hi - other.first_slot + 1]
            fill = np.isnan(mine) & ~np.isnan(theirs)
            mine[fill] = theirs[fill]
            ts_view = self.price_ts[row, lo - self.first_slot:hi - self.first_slot + 1]
            ts_view[fill] = (np.arange(lo, hi + 1)[fill]) * self.cadence_s
            if fill.any():
                self.newest_ts[row] = max(self.newest_ts[row], float(ts_view[fill].max()))

    # ----------------------------------------------------------------- persistence

    def to_blob(self) -> bytes:
        header = {"v": HISTORY_VERSION, "cadence_s": self.cadence_s, "symbols": self.symbols,
                  "head_slot": self.head_slot, "capacity": self.capacity}
        if math.isfinite(self.published_slot):  # a restart refuses late ticks for what this run handed out (optional)
            header["published_slot"] = int(self.published_slot)
        if self.held_since_ts is not None:  # optional too
            header["held_since_ts"] = self.held_since_ts
        if self.offset_high_s is not None and self.boot_id is not None:  # optional too; a reader before it ignores both
            header["offset_high_s"], header["boot_id"] = float(self.offset_high_s), self.boot_id
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + self.prices.astype("<f8").tobytes()

    @classmethod
    def from_blob(cls, blob: bytes) -> "PriceGrid":
        """Rebuild a grid from to_blob(); raise ValueError naming what is wrong."""
        head_raw, sep, body = blob.partition(b"\n")
        if not sep:
            raise ValueError("no header line")
        try:
            header = json.loads(head_raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"header is not JSON: {exc}") from None
        if not isinstance(header, dict) or header.get("v") != HISTORY_VERSION:
            raise ValueError(f"unknown history version {header.get('v') if isinstance(header, dict) else header!r}")
        symbols, cadence_s = header.get("symbols"), header.get("cadence_s")
        head_slot, capacity = header.get("head_slot"), header.get("capacity")
        if (not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols)
                or not isinstance(head_slot, int) or not isinstance(capacity, int) or capacity < 1
                or not isinstance(cadence_s, (int, float)) or cadence_s <= 0):
            raise ValueError("header fields missing or of the wrong type")
        if not -SLOT_LIMIT < head_slot < SLOT_LIMIT:
            raise ValueError("head_slot is past any time (2**53 slots or more from 0)")
        if not symbols:  # no price bytes then bound the capacity: a 1e15 one was 8 PB of slot times (MemoryError)
            raise ValueError("the history names no symbol")
        expected = len(symbols) * capacity * 8
        if len(body) != expected:
            raise ValueError(f"price block has {len(body)} bytes, expected {expected}")
        grid = cls(symbols, float(cadence_s), capacity, head_slot)
        prices = np.frombuffer(body, dtype="<f8").reshape(len(symbols), capacity).copy()
        if np.any(prices[np.isfinite(prices)] <= 0) or np.any(np.isinf(prices)):
            raise ValueError("price block holds non-positive or infinite prices")
        grid.prices = prices
        slots = np.arange(grid.first_slot, head_slot + 1) * grid.cadence_s
        grid.price_ts = np.where(np.isnan(prices), -np.inf, slots[None, :])
        grid.newest_ts = grid.price_ts.max(axis=1)
        published = header.get("published_slot")  # absent from an older buffer's history: none known
        if isinstance(published, int) and not isinstance(published, bool) and -SLOT_LIMIT < published < SLOT_LIMIT:
            grid.published_slot = published
        held_since = header.get("held_since_ts")
        if type(held_since) is float and math.isfinite(held_since):  # as to_blob writes it (an int may overflow)
            grid.held_since_ts = held_since
        offset_high = header.get("offset_high_s")
        boot_id = header.get("boot_id")
        if type(offset_high) is float and math.isfinite(offset_high) and isinstance(boot_id, str) \
                and 0 < len(boot_id) <= BOOT_ID_MAX_CHARS:  # else unknown, as from an older buffer: not a corrupt history
            grid.offset_high_s, grid.boot_id = offset_high, boot_id
        return grid


def head_ahead_of_clock(grid: PriceGrid, now_s: float) -> bool:
    """True when the grid's head is further ahead of the clock than the allowed skew: a clock fault
    (the clock ran ahead, moved the head, and came back), never a real future."""
    return grid.head_slot > grid.slot_of(now_s + TICK_FUTURE_SKEW_S)


def hold_age_s(held_since_ts: float | None, now_s: float, window_s: float) -> float | None:
    """How long the hold on a saved history has lasted by this clock (now_s - held_since_ts), or None when that is
    unknown: none marked, or a time ahead of this clock or more than window_s behind it (written by a run on another
    clock, or garbage). Taken, one ahead counted nothing held, and one far behind ended the hold at once."""
    if held_since_ts is None:
        return None
    age_s = now_s - held_since_ts
    return age_s if 0.0 <= age_s <= window_s else None


def hold_mark_right(held_since_ts: float | None, began_ts: float, now_s: float, window_s: float,
                    tolerance_s: float) -> bool:
    """True when a saved history's held_since_ts is when this run counts its hold began (began_ts, by the monotonic time
    held) to within tolerance_s, and its age is known (hold_age_s). Else it is marked again: kept, a restart held the
    history as much longer, or shorter, than this run would have (a second step back by less than the time held, or a
    clock stepped in steps each too small to be a fault)."""
    return hold_age_s(held_since_ts, now_s, window_s) is not None and abs(held_since_ts - began_ts) <= tolerance_s


def clock_step_s(wall_then: float, mono_then: float, wall_now: float, mono_now: float) -> float:
    """How far the wall clock moved beyond the monotonic clock between two readings (+ ahead, - back)."""
    return (wall_now - wall_then) - (mono_now - mono_then)


def head_advance_s(offset_high_s: float, wall_now: float, mono_now: float) -> float:
    """How far the wall clock now reads past the furthest it was ahead of the monotonic clock (offset_high_s: the
    highest wall - monotonic read since the head last moved back to the clock): the part of a forward step that moves
    the grid's head ahead of where time alone would have. A forward step that only brings back a clock stepped back
    within the skew (no rewind: the head stayed) moves nothing; counted whole, -4 s then +4 s then +2 s summed 6 s
    ahead, a clock fault, for a head 2 s ahead (revclock). A restarted buffer goes on from its last run's offset_high_s,
    saved with its history (carried_offset_high_s)."""
    return max(0.0, wall_now - mono_now - offset_high_s)


def carried_offset_high_s(saved_offset_high_s: float | None, saved_boot_id: str | None, boot_id: str | None,
                          offset_now_s: float) -> float | None:
    """The head_advance_s mark a restarted buffer takes over from its saved history, or None: the mark or either boot
    unknown, or saved on another boot (the monotonic clock restarted, so the offset is another clock's). At most
    TICK_FUTURE_SKEW_S past this clock's offset now (offset_now_s), the most a saved head within the skew seeded it by
    before: a clock stepped back further was a backward fault, whose rewind starts the mark again, so no more is its
    return; a mark from the future or garbage hides no more of a forward step than that."""
    if boot_id is None or saved_boot_id != boot_id or saved_offset_high_s is None \
            or not math.isfinite(saved_offset_high_s):
        return None
    return min(saved_offset_high_s, offset_now_s + TICK_FUTURE_SKEW_S)


def add_tick(grid: PriceGrid, symbol: str, price: float, ts: float, now_s: float) -> str | None:
    """Record a tick received at now_s; None when used, else why not (future_ts, or grid.add's reason).

    A tick dated at most TICK_FUTURE_SKEW_S ahead but in a later slot than now_s (a clock slightly
    ahead, just past a slot edge) is recorded in now_s's slot: refused, a snapshot's price published
    once would never be read again (25% of ticks at a 1 s cadence with a clock 0.5 s ahead).

    Its mirror: a tick dated at most TICK_FUTURE_SKEW_S behind but in a slot already handed out (a clock behind) is
    recorded in the first slot not handed out: no published slot is rewritten, and a feed a cadence behind still
    prices the grid (refused `late`, it priced none).

    Either way a tick keeps its own ts as its time in the slot it is recorded in, so an older one is still superseded
    there and a newer one is not (rev3: two late ticks stamped as of the slot's start, the older overwrote the newer;
    CI on d5258a6: a tick ahead stamped as of now_s was older than the tick ahead already in the slot and refused
    superseded, every tick of a feed on time for 3 s after the buffer's clock stepped back 3 s). A tick ahead recorded
    in an earlier slot than its own still counts as received at now_s as the symbol's newest price (its price age)."""
    if ts > now_s + TICK_FUTURE_SKEW_S:
        return "future_ts"
    slot = min(grid.slot_of(ts), grid.slot_of(now_s))
    # A tick ahead, recorded in an earlier slot than its own, counts as received at now_s as the symbol's newest price
    # (rev1: its own ts there made a feed 4.5 s ahead that stopped read fresh 4.5 s past max_price_age_s).
    received = now_s if grid.slot_of(ts) > slot else None
    # Also a tick ahead recorded in now_s's slot when that slot is handed out (the buffer's clock stepped back by less
    # than a rewind): refused late, every tick of a feed on time was, until the clock caught up (rev3).
    if slot <= grid.published_slot and ts >= now_s - TICK_FUTURE_SKEW_S:
        return grid.add(symbol, price, ts, slot=int(grid.published_slot) + 1, received_ts=received)
    return grid.add(symbol, price, ts, slot=slot, received_ts=received)


def add_checked_tick(grid: PriceGrid, jumps: JumpFilter, symbol: str, price: float, ts: float,
                     now_s: float) -> str | None:
    """add_tick behind the jump filter: a print too far from the symbol's last accepted price is "jump". A symbol outside
    the grid is "unknown_symbol" first, whatever its time: counted future_ts, it read as a feed's clock ahead (revclock)."""
    if symbol not in grid.index:
        return "unknown_symbol"
    if jumps.refuses(symbol, price):
        return "jump"
    reason = add_tick(grid, symbol, price, ts, now_s)
    if reason is None:
        jumps.accepted(symbol, price)
    return reason


def points_per_symbol(symbols: list[str], prices: np.ndarray) -> dict[str, int]:
    counts = np.isfinite(prices).sum(axis=1)
    return {s: int(n) for s, n in zip(symbols, counts)}


def latest_per_slot(ts: np.ndarray, prices: np.ndarray, cadence_s: float, first_slot: int, into_prices: np.ndarray,
                    into_ts: np.ndarray) -> None:
    """PriceGrid.add's rule on one symbol's accepted ticks (time order) at once: slot = floor(ts / cadence_s), a
    slot keeps the price with the latest ts (equal ts: the later tick). Writes that price and its ts into the
    symbol's row, into_prices and into_ts, whose column 0 is first_slot; slots without a tick are left as they are."""
    slot = np.floor(ts / cadence_s).astype(np.int64)
    slot -= first_slot
    # Time order: a tick is its slot's latest when the next tick is in a later slot.
    last = np.ones(len(slot), dtype=bool)
    last[:-1] = slot[1:] != slot[:-1]
    if last.all():
        into_prices[slot] = prices
        into_ts[slot] = ts
    else:
        into_prices[slot[last]] = prices[last]
        into_ts[slot[last]] = ts[last]
