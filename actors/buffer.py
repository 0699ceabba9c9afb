"""Buffer: samples the latest price of each symbol onto one shared time grid and publishes the window.

Rules a reader must keep: slot = floor(ts / cadence_s); a slot keeps the price with the latest ts
seen in it, and a slot without a price is NaN, never a copy. The published window holds the
lookback_returns + 1 last *completed* slots. History survives restarts through one Redis blob, and so does
head_advance_s's mark (the furthest wall - monotonic offset the run read), taken back only on the same boot.

Window message (PUB `windows`, actors/window_message.py), three frames:
  [topic (settings.publish_topic), header JSON, float64 little-endian bytes of prices]
  header = {"v": 1, "symbols": [...], "cadence_s": c, "first_slot": s0, "last_slot": s1,
            "shape": [n_symbols, n_points], "points_per_symbol": {symbol: n}, "ts": epoch,
            "newest_tick_ts": {symbol: epoch of its newest accepted tick, or null}}
  prices row i is header.symbols[i]; column j is slot first_slot + j.
Snapshot reply (REP `snapshot`): ok envelope {"header": header, "prices_b64": base64 of the bytes}.
"""

from __future__ import annotations

import base64
import math
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge

from launcher import keys
from launcher.keys import wrong_type
from actors.frozen_prices import FrozenWatch
from actors.jumps import JumpFilter
from actors.grid import (TICK_FUTURE_SKEW_S, PriceGrid, add_checked_tick, carried_offset_high_s, clock_step_s,
                         head_advance_s, head_ahead_of_clock, hold_age_s, hold_mark_right, points_per_symbol)
from actors.window_message import window_header
from launcher.resp import RedisUnavailable, ReplyError, RespClient
from actors.runtime import Actor, PasswordRefusalLog, error_text, main
from actors.snapshot_reads import read_signed_notionals
from actors.snapshots import held_symbols
from actors.wire import BadTick, encode, ok_envelope, parse_tick

REJECT_REASONS = ("bad_frame", "unknown_symbol", "too_old", "future_ts", "superseded", "jump", "late")
# Refusals that say the feed's clock and the buffer's disagree (logged, throttled): stamped more than
# TICK_FUTURE_SKEW_S ahead, older than the window, or in a slot of a window already handed out.
CLOCK_REASONS = ("future_ts", "too_old", "late")
# The kernel's id of this boot: a monotonic time (and so a wall - monotonic offset) means the same only on one boot.
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        points=Gauge("p27_points_per_symbol", "Valid grid points per symbol in the current window", ["symbol"]),
        # Not SPEC's p27_min_points_per_symbol (held or in the matrix), which only the state writer exports:
        # the buffer does not know the matrix, so it counts held symbols and symbols with any points.
        min_points=Gauge("p27_buffer_min_points_per_symbol",
                         "Fewest valid points in the buffer's window over held symbols and symbols with any points"),
        last_accepted=Gauge("p27_buffer_last_accepted_tick_timestamp_seconds",
                            "Epoch time of the newest tick the buffer accepted, per symbol (0: none yet)", ["symbol"]),
        clock_faults=Counter("p27_buffer_clock_faults_total",
                             "Wall-clock steps beyond the allowed skew (direction: ahead, back)", ["direction"]),
        save_held=Gauge("p27_buffer_history_save_held",
                        "1 while a clock fault holds the buffer from saving its history (a restart then loses the "
                        "points gathered since), else 0"),
        bad_ticks=Counter("p27_buffer_rejected_ticks_total", "Tick frames not used, by reason", ["reason"]),
        last_received=Gauge("p27_buffer_last_received_tick_timestamp_seconds",
                            "The buffer's epoch time when it last received a tick of an allowlisted symbol, used or not (0: none)"),
        received_offset=Gauge("p27_buffer_last_received_tick_offset_seconds",
                              "That tick's own timestamp minus the buffer's clock (+: stamped ahead, -: behind)"),
        last_refused=Gauge("p27_buffer_last_refused_tick_timestamp_seconds",
                           "The buffer's epoch time when it last refused a tick, by reason (0: none)", ["reason"]),
        refused_offset=Gauge("p27_buffer_last_refused_tick_offset_seconds",
                             "That tick's own timestamp minus the buffer's clock (+: stamped ahead)", ["reason"]),
        # With the rejected ticks, every tick frame the buffer received: accepted + rejected = received.
        accepted=Counter("buffer_ticks_accepted_total", "Ticks recorded on the price grid, by symbol", ["symbol"]),
        history_discarded=Counter("p27_buffer_history_discarded_total", "Persisted histories discarded on load, by reason", ["reason"]),
        redis_errors=Counter("p27_buffer_redis_errors_total", "Redis calls of the buffer that failed", ["op"]),
        windows=Counter("p27_windows_published_total", "Windows published"),
        frozen=Gauge("p27_buffer_price_frozen",
                     "1 while the symbol's price is frozen: unchanged over frozen_after_slots grid slots", ["symbol"]),
    )


# --------------------------------------------------------------------------- the grid (pure)


def min_points_over_relevant(points: dict[str, int], held: set[str]) -> int:
    """Fewest points over held symbols and symbols with any points; 0 when none matter."""
    relevant = [n for s, n in points.items() if s in held or n > 0]
    return min(relevant) if relevant else 0


def read_boot_id(path: str = BOOT_ID_PATH) -> str | None:
    """This boot's id, or None when it cannot be read (no /proc, another kernel): the saved mark is then not used."""
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read(128).strip()
    except (OSError, ValueError):
        return None
    return text or None


# --------------------------------------------------------------------------- the actor


class BufferActor(Actor):
    kind = "buffer"

    def setup(self) -> None:
        self.m = make_metrics()
        clusters = self.topology.clusters
        self.points = clusters.window_points
        self.cadence_s = clusters.cadence_s
        self.history_key = keys.buffer_history(self.topology.name, self.name)
        now = time.time()
        self.grid = PriceGrid(self.topology.symbols, self.cadence_s, clusters.grid_slots,
                              math.floor(now / self.cadence_s))
        self.redis = RespClient.from_config(self.topology.redis, decode=False)
        self.password_refusal = PasswordRefusalLog(self.log, self.topology.redis)  # logged once, not every cadence
        self.history_pending = self.settings.persist
        self.held: set[str] = set()
        self.jumps = JumpFilter.from_clusters(clusters)
        self.frozen = FrozenWatch(self.settings.frozen_after_slots)
        for reason in REJECT_REASONS:
            self.m.bad_ticks.labels(reason=reason)
            self.m.last_refused.labels(reason=reason).set(0)
            self.m.refused_offset.labels(reason=reason).set(0)
        for direction in ("ahead", "back"):
            self.m.clock_faults.labels(direction=direction)
        # A forward clock step holds persistence (the grid it wiped must not replace the saved history)
        # until the clock comes back (the history is then reloaded) or the saved history has aged out.
        self.clock_anchor = (now, time.monotonic())
        self.offset_high_s = now - self.clock_anchor[1]  # head_advance_s: the furthest ahead since the head moved back
        self.boot_id = read_boot_id()  # saved with offset_high_s: a restart on this boot goes on from it
        self.persist_held_until_mono = None
        self.persist_failed = False  # the last save of the history failed (history_persisted_again when one works)
        self.held_for_back_step = False  # the hold is for a backward step (a second one must not end it)
        self.held_mark_ts: float | None = None  # the held_since_ts the history this run holds carries (None: none)
        self.back_from_slot: int | None = None  # with it: the head the clock stepped back from (where its return lands)
        self.recent_steps: list[tuple[float, float]] = []  # (monotonic time, forward step s) within one window
        for symbol in self.topology.symbols:
            self.m.points.labels(symbol=symbol).set(0)
            self.m.last_accepted.labels(symbol=symbol).set(0)
            self.m.accepted.labels(symbol=symbol)
            self.m.frozen.labels(symbol=symbol).set(0)
        self.m.min_points.set(0)
        self.topic = self.settings.publish_topic.encode()
        self.socket("windows")
        self.on_request("snapshot", self.answer_snapshot)
        self.on_message("ticks", self.on_tick)
        self.load_history()
        # Publish just after each slot closes, so the window's last point is a completed slot.
        phase = self.cadence_s - (now % self.cadence_s)
        self.every(self.cadence_s, self.publish, first_after_s=phase + 0.02 * self.cadence_s)
        self.set_ready(True)
        self.log.info("buffer_ready", symbols=len(self.grid.symbols), points=self.points,
                      history=self.history_key, history_pending=self.history_pending,
                      frozen_after_slots=self.settings.frozen_after_slots)

    @property
    def persist_held_until_mono(self) -> float | None:
        """The monotonic time a clock fault's hold on saving the history ends by (None: not held)."""
        return self._persist_held_until_mono

    @persist_held_until_mono.setter
    def persist_held_until_mono(self, until_mono: float | None) -> None:
        self._persist_held_until_mono = until_mono
        self.m.save_held.set(1 if until_mono is not None and self.settings.persist else 0)

    # ----------------------------------------------------------------- ticks

    def on_tick(self, frames: list[bytes]) -> None:
        try:
            tick = parse_tick(frames)
        except BadTick as exc:
            self.m.bad_ticks.labels(reason="bad_frame").inc()
            self.log.debug("bad_tick", error=str(exc))
            return
        if tick is None:
            return  # heartbeat
        now = time.time()
        if tick.symbol in self.grid.index:  # an allowlisted symbol's price, whatever becomes of it
            self.m.last_received.set(now)
            self.m.received_offset.set(tick.ts - now)
        if head_ahead_of_clock(self.grid, now):
            self.clock_came_back(now)
        reason = add_checked_tick(self.grid, self.jumps, tick.symbol, tick.price, tick.ts, now)
        if reason is None:
            self.m.accepted.labels(symbol=tick.symbol).inc()
            return
        self.m.bad_ticks.labels(reason=reason).inc()
        self.m.last_refused.labels(reason=reason).set(now)
        self.m.refused_offset.labels(reason=reason).set(tick.ts - now)
        if reason in CLOCK_REASONS:  # a feed whose clock is off the buffer's: every tick is refused, none logged
            self.log_throttled("warning", "tick_refused", reason, reason=reason, symbol=tick.symbol,
                               ahead_s=round(tick.ts - now, 3))

    # ----------------------------------------------------------------- window

    def clock_came_back(self, now: float) -> None:
        """The head is ahead of the clock: move it back, keep the slots that are not in the future, and
        merge the saved history again (it was not overwritten while the clock ran ahead)."""
        self.m.clock_faults.labels(direction="back").inc()
        self.log.error("clock_fault", direction="back", head_slot=self.grid.head_slot,
                       clock_slot=self.grid.slot_of(now), action="head moved back to the clock, history reloaded")
        head_before = self.grid.head_slot
        self.grid.rewind(self.grid.slot_of(now))
        self.clock_anchor = (now, time.monotonic())
        self.offset_high_s = now - self.clock_anchor[1]
        # After a forward fault the hold ends here; with none, the clock itself stepped back: the saved
        # history lies ahead of it and the emptied grid must not replace it (reloaded when it comes forward).
        held = self.persist_held_until_mono is not None
        ahead_fault_ended = held and not self.held_for_back_step
        if ahead_fault_ended:
            self.persist_held_until_mono = None
        elif not held:
            self.back_from_slot = head_before
            self.persist_held_until_mono = time.monotonic() + self.grid.capacity * self.cadence_s
        # else a second step back while the first's hold lasts: its head and its end are kept. The saved history, its
        # newest slot the first step's, has aged out one window after that step, whatever the clock did since (held a
        # window from the second step, a restart meanwhile lost every point gathered: 1.75 windows in all).
        self.held_for_back_step = not ahead_fault_ended
        if self.settings.persist:
            self.history_pending = True
            self.load_history()

    def check_clock_step(self) -> None:
        """Once per cadence: a wall clock that jumped ahead of the monotonic clock is a clock fault."""
        now, mono = time.time(), time.monotonic()
        step = clock_step_s(*self.clock_anchor, now, mono)
        advance = head_advance_s(self.offset_high_s, now, mono)
        self.clock_anchor = (now, mono)
        self.offset_high_s = max(self.offset_high_s, now - mono)
        # Forward steps summed over one window length: +4 s every 0.5 s cadence (each under the 5.5 s
        # threshold) moved the head 48 s ahead and persisted the wiped grid. NTP slewing (<= 0.5 ms/s)
        # adds at most 0.05% of the window. Only the part past the furthest the clock read counts (head_advance_s).
        window_s = self.grid.capacity * self.cadence_s
        self.recent_steps = [(m, s) for m, s in self.recent_steps if m > mono - window_s]
        if advance > 0:
            self.recent_steps.append((mono, advance))
        stepped_ahead = sum(s for _, s in self.recent_steps) > TICK_FUTURE_SKEW_S + self.cadence_s
        if stepped_ahead and (self.came_forward_again(now) or self.came_partly_forward(now)):
            self.recent_steps = []
        elif stepped_ahead:
            self.recent_steps = []
            self.m.clock_faults.labels(direction="ahead").inc()
            self.persist_held_until_mono = mono + self.grid.capacity * self.cadence_s
            self.held_for_back_step, self.back_from_slot = False, None
            self.history_pending = self.settings.persist  # after a backward step, the saved slots are back in range
            self.log.error("clock_fault", direction="ahead", step_s=round(step, 3),
                           action="history not persisted until the clock comes back")
        elif self.held_for_back_step and self.back_from_slot is not None \
                and self.grid.slot_of(now) >= self.back_from_slot:
            self.end_back_hold("the clock reached the saved history's newest slot: history merged")
        elif self.persist_held_until_mono is not None and mono >= self.persist_held_until_mono:
            reason = "the clock stayed behind" if self.held_for_back_step else "the clock stayed ahead"
            self.persist_held_until_mono = None
            self.log.warning("clock_fault_accepted", reason=reason + "; the saved history has aged out")
        elif self.held_mark_ts is not None and self.persist_held_until_mono is not None \
                and not hold_mark_right(self.held_mark_ts, self.hold_began_ts(now), now, window_s, self.cadence_s):
            self.mark_history_held_again(now)

    def came_forward_again(self, now: float) -> bool:
        """A forward step that brings a clock held back (a backward step, or a start behind the saved history) to
        where it stepped back from, or at most one window past it, is its return, not a fault: the hold ends and
        the saved history is merged again. (Taken for a fault, persistence stayed held a window more: 6 h at 60 s.)"""
        if not self.held_for_back_step or self.back_from_slot is None \
                or not self.back_from_slot <= self.grid.slot_of(now + TICK_FUTURE_SKEW_S) \
                or self.grid.slot_of(now) > self.back_from_slot + self.grid.capacity:
            return False
        self.end_back_hold("the clock came forward again: history reloaded")
        return True

    def came_partly_forward(self, now: float) -> bool:
        """A forward step that leaves a clock held back still behind the slot it stepped back from (-3600 s, then
        +1800 s) is part of its return, not a fault: the hold goes on until the clock reaches that slot, and the saved
        slots the clock has reached are merged now. (Taken for a forward fault, persistence was held a whole window
        from the step, 6 h at 60 s, though the clock reached the saved history's newest slot 30 minutes later.)"""
        if not self.held_for_back_step or self.back_from_slot is None \
                or self.grid.slot_of(now + TICK_FUTURE_SKEW_S) >= self.back_from_slot:
            return False
        self.history_pending = self.settings.persist
        self.log.warning("clock_fault_partly_returned", direction="back", back_from_slot=self.back_from_slot,
                         clock_slot=self.grid.slot_of(now),
                         action="history held until the clock reaches the slot it stepped back from")
        return True

    def end_back_hold(self, action: str) -> None:
        """A clock held back is back at the saved history's newest slot (stepped forward, or time passed: a history
        saved by a clock that ran ahead is held only that long, not a window): its slots are merged at this publish."""
        self.persist_held_until_mono, self.held_for_back_step, self.back_from_slot = None, False, None
        self.history_pending = self.settings.persist  # the saved slots are back in range: merged at this publish
        self.log.warning("clock_fault_ended", direction="back", action=action)

    def current_window(self) -> tuple[dict[str, Any], np.ndarray]:
        now = time.time()
        if head_ahead_of_clock(self.grid, now):
            self.clock_came_back(now)
        self.grid.advance(self.grid.slot_of(now))
        first_slot, prices = self.grid.window(self.points)
        # Handed out (published, or a snapshot): a tick stamped in these slots is refused "late", never written.
        self.grid.published_slot = max(self.grid.published_slot, first_slot + self.points - 1)
        return window_header(self.grid.symbols, self.cadence_s, first_slot, prices, now,
                             self.grid.newest_tick_ts()), prices

    def publish(self) -> None:
        self.check_clock_step()
        if self.history_pending:
            self.load_history()
        header, prices = self.current_window()
        self.sockets["windows"].send_multipart([self.topic, encode(header), prices.astype("<f8").tobytes()])
        self.m.windows.inc()
        self.tell_frozen_prices(header["first_slot"], prices)
        self.refresh_held()
        self.export_points(header["points_per_symbol"])
        self.persist()

    def export_points(self, counts: dict[str, int]) -> None:
        for symbol, n in counts.items():
            self.m.points.labels(symbol=symbol).set(n)
        for symbol, ts in self.grid.newest_tick_ts().items():
            self.m.last_accepted.labels(symbol=symbol).set(ts or 0)
        self.m.min_points.set(min_points_over_relevant(counts, self.held))

    def tell_frozen_prices(self, first_slot: int, prices: np.ndarray) -> None:
        """Say once when a symbol's price freezes, and when it moves again; the window is not changed."""
        for change in self.frozen.update(self.grid.symbols, first_slot, prices):
            since_ts = change.since_slot * self.cadence_s
            if change.event == "price_frozen":
                self.m.frozen.labels(symbol=change.symbol).set(1)
                self.log.warning("price_frozen", symbol=change.symbol, price=change.price, since_ts=since_ts,
                                 since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since_ts)),
                                 unchanged_slots=change.newest_slot - change.since_slot,
                                 frozen_after_slots=self.frozen.frozen_after_slots)
            else:
                self.m.frozen.labels(symbol=change.symbol).set(0)
                self.log.info(change.event, symbol=change.symbol, price=change.price,
                              frozen_price=change.frozen_price, since_ts=since_ts)

    def answer_snapshot(self, frames: list[bytes]) -> dict[str, Any]:
        header, prices = self.current_window()
        return ok_envelope(header=header, prices_b64=base64.b64encode(prices.astype("<f8").tobytes()).decode())

    # ----------------------------------------------------------------- Redis

    def refresh_held(self) -> None:
        try:
            signed = read_signed_notionals(self.redis, self.topology.symbols, self.topology.positions.key_pattern,
                                           time.time(), self.topology.positions.stale_after_s)
        except (RedisUnavailable, ReplyError) as exc:
            self.m.redis_errors.labels(op="positions").inc()
            self.log.debug("positions_unavailable", error=error_text(exc))
            return
        self.held = held_symbols(signed)

    def persist(self) -> None:
        if not self.settings.persist or self.history_pending or self.persist_held_until_mono is not None:
            return
        self.grid.offset_high_s, self.grid.boot_id = self.offset_high_s, self.boot_id
        try:
            self.redis.call("SET", self.history_key, self.grid.to_blob())
        except (RedisUnavailable, ReplyError) as exc:
            self.m.redis_errors.labels(op="persist").inc()
            self.persist_failed = True
            if not self.password_refusal.refused(exc, counted=True):
                self.log.warning("history_not_persisted", error=error_text(exc))
            return
        if self.persist_failed:  # the outage's last line is not left as the log's last word on it
            self.persist_failed = False
            if not self.password_refusal.accepted():  # (a refused password's end says so itself)
                self.log.info("history_persisted_again", key=self.history_key)

    def load_history(self) -> None:
        """Merge the persisted history into the grid once; retried each cadence while Redis is down."""
        if not self.settings.persist:
            return
        try:
            blob = self.redis.call("GET", self.history_key)
        except (RedisUnavailable, ReplyError) as exc:
            if wrong_type(exc):  # the key holds no history; persist overwrites it
                self.history_pending = False
                self.m.history_discarded.labels(reason="corrupt").inc()
                self.log.error("history_corrupt_discarded", key=self.history_key, error=str(exc))
                return
            # Redis down, or an error about Redis itself (NOAUTH, LOADING), not about the key: retried
            self.m.redis_errors.labels(op="load").inc()
            if not self.password_refusal.refused(exc):
                self.log.warning("history_not_loaded", error=error_text(exc), retry_in_s=self.cadence_s)
            return
        self.password_refusal.accepted()
        self.history_pending = False
        self.held_mark_ts = None  # marked below while this clock holds the saved history
        if blob is None:
            self.log.info("history_absent", key=self.history_key)
            return
        try:
            saved = PriceGrid.from_blob(blob)
        except ValueError as exc:
            self.m.history_discarded.labels(reason="corrupt").inc()
            self.log.error("history_corrupt_discarded", key=self.history_key, error=str(exc))
            return
        if saved.cadence_s != self.cadence_s:
            self.m.history_discarded.labels(reason="cadence_changed").inc()
            self.log.warning("history_discarded", reason="cadence_changed", saved=saved.cadence_s, now=self.cadence_s)
            return
        now = time.time()
        if head_ahead_of_clock(saved, now):
            if self.persist_held_until_mono is None:
                self.hold_history_ahead_of_clock(saved, now)
            self.mark_history_held(saved, now)
        else:
            # A restart between a step back within the skew and the clock's return: head_advance_s's mark goes on from
            # the last run's, so the return is no forward step (rev2clk: -4 s, a restart, +4 s, +2 s summed 6 s, an
            # ahead fault).
            self.offset_high_s = max(self.offset_high_s, self.saved_offset_high_s(saved, now))
        self.grid.advance(self.grid.slot_of(now))
        self.grid.merge_from(saved)
        # The slots the last run handed out stay handed out: a tick for one is refused late after a restart too (it
        # was written there until this run's first publish, a cadence later); none past the clock's last closed slot.
        self.grid.published_slot = max(self.grid.published_slot, min(saved.published_slot, self.grid.head_slot - 1))
        # The jump filter goes on from the history's newest prices, not from nothing: the first print after a
        # restart is checked too (a tick that came before the history keeps its own).
        for symbol, price in self.grid.newest_prices().items():
            self.jumps.last.setdefault(symbol, price)
        first_slot, window = self.grid.window(self.points)
        counts = points_per_symbol(self.grid.symbols, window)
        self.refresh_held()
        self.export_points(counts)
        self.log.info("history_loaded", key=self.history_key, points=counts)
        # A restart on a frozen history says so now, not at the first publish a cadence later (the gauge's 0
        # meanwhile resolved P27PriceFrozen).
        self.tell_frozen_prices(first_slot, window)

    def saved_offset_high_s(self, saved: PriceGrid, now: float) -> float:
        """head_advance_s's mark as the saved history leaves it: the mark saved with it, when saved on this boot (at
        most the skew past this clock: carried_offset_high_s), and at least its head's time as an offset now. The head
        alone (rev2clk) fell short of the last run's mark by the true time from the head's last move to this load, which
        the clock's return then counted as a forward step: with a restart of about a minute at 60 s, or 3 s at 0.5 s
        (buffermark), -4 s, a restart, +4 s, +2 s was an ahead fault; and a clock past that head seeded nothing."""
        mono = time.monotonic()
        head_s = saved.head_slot * self.cadence_s - mono
        carried_s = carried_offset_high_s(saved.offset_high_s, saved.boot_id, self.boot_id, now - mono)
        return head_s if carried_s is None else max(head_s, carried_s)

    def hold_history_ahead_of_clock(self, saved: PriceGrid, now: float) -> None:
        """The saved history lies ahead of this clock (a buffer started on a clock behind the last run's, a host
        booted before NTP stepped it): as after a backward step, the grid must not replace it until the clock comes
        forward (it is then merged again) or its slots have aged out: one window after the first hold on it began,
        in whichever run (each restart held it a whole window more: never saved while restarts came more often)."""
        held_s = hold_age_s(saved.held_since_ts, now, self.grid.capacity * self.cadence_s) or 0.0
        self.m.clock_faults.labels(direction="back").inc()
        self.log.error("clock_fault", direction="back", saved_head_slot=saved.head_slot,
                       clock_slot=self.grid.slot_of(now), held_before_s=round(held_s, 3),
                       action="the saved history lies ahead of the clock: not overwritten until the clock comes forward")
        self.persist_held_until_mono = time.monotonic() + self.grid.capacity * self.cadence_s - held_s
        self.held_for_back_step = True
        self.back_from_slot = saved.head_slot

    def mark_history_held(self, saved: PriceGrid, now: float) -> None:
        """Write into the saved history this clock holds when the first hold on it began (once; prices unchanged): now
        less the time this run has held it. A time ahead of this clock or more than a window behind it is unknown (a run
        on another clock wrote it: one whose clock was ahead, or a step back since; or garbage) and marked again: kept,
        one ahead counted nothing held, and every restart held a whole window again; one far behind ended the hold at
        once, and the history was saved over. One within the window but off this run's time held by more than a cadence
        (the clock stepped back or partly forward again during the hold, by less than the time held) is marked again
        too: kept, a restart held it as much longer, or shorter, than this run would have. Written with this run's
        head_advance_s mark, which a backward fault started again: the mark saved before the step, kept, was taken back
        when the hold ended or by a restart once the clock passed the saved head, hiding 5 s of the next forward step
        (revbuffermark)."""
        began_ts = self.hold_began_ts(now)
        mark = (self.offset_high_s, self.boot_id) if self.boot_id is not None else (None, None)  # as to_blob writes it
        if not hold_mark_right(saved.held_since_ts, began_ts, now, self.grid.capacity * self.cadence_s,
                               self.cadence_s):
            saved.held_since_ts = began_ts
        elif (saved.offset_high_s, saved.boot_id) == mark:
            self.held_mark_ts = saved.held_since_ts
            return
        saved.offset_high_s, saved.boot_id = mark
        try:
            self.redis.call("SET", self.history_key, saved.to_blob())
        except (RedisUnavailable, ReplyError) as exc:  # a restart then holds it a whole window again, as before
            self.m.redis_errors.labels(op="persist").inc()
            self.log.warning("history_hold_not_marked", error=error_text(exc))
            return
        self.held_mark_ts = saved.held_since_ts

    def hold_began_ts(self, now: float) -> float:
        """When the hold on the saved history began, by this clock: now less the time this run has held it (by the
        monotonic clock, at most a window)."""
        window_s = self.grid.capacity * self.cadence_s
        until = self.persist_held_until_mono
        return now - (0.0 if until is None else min(window_s, max(0.0, window_s - (until - time.monotonic()))))

    def mark_history_held_again(self, now: float) -> None:
        """The clock moved off the time held since the hold was marked without a clock fault (steps each under the skew
        allowed: the clock crept on slower, or faster, than real time): mark the saved history again. Kept, its mark
        aged as the clock did, and a restart held it as much longer (a clock stepped back 0.8 s a second: five
        windows), or shorter."""
        try:
            blob = self.redis.call("GET", self.history_key)
            saved = None if blob is None else PriceGrid.from_blob(blob)
        except (RedisUnavailable, ReplyError):
            return  # tried again at the next publish
        except ValueError:
            saved = None
        if saved is None or not head_ahead_of_clock(saved, now):
            self.held_mark_ts = None
            return
        self.mark_history_held(saved, now)

    def teardown(self) -> None:
        self.persist()
        self.redis.close()
        self.redis.close_watch()


if __name__ == "__main__":
    main(BufferActor)
