"""Warm-restart proof: restarting the buffer and the correlator (or, with --all-programs, every
program, managed Redis included) keeps the history.

p27_corr_ready is back to 1 within one cadence of the later of the correlator's and the buffer's main loops beginning,
their setup done (with --all-programs, within two cadences of the later of that and the price feed's process start:
fresh prices wait for the buffer's next window). The actors' moments are their own: their loop start timestamps
(their process starts for actors exporting none) and the time the correlator's matrix went ready,
p27_corr_ready_since_timestamp_seconds, so a slow scrape on a busy machine does not count; the
buffer reloads its grid from Redis and the correlator asks it for a snapshot at once), and no symbol's
point count drops back towards zero.

It stops nothing while a buffer it would restart holds its saved history after a clock fault
(p27_buffer_history_save_held 1): a restart then is the cold warm-up the history is there to spare.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proofs.common import PROGRAM_START_TIMEOUT_S, REDIS_PROGRAM, Proof, first, labelled, run_proof  # noqa: E402

READY_TIMEOUT_S = 40.0
SERVING_TIMEOUT_S = 20.0
# A slot may pass between a scrape and the grid's update.
POINT_SLACK = 2
STARTED_METRIC = "clustergate_actor_started_timestamp_seconds"
LOOP_STARTED_METRIC = "clustergate_actor_loop_started_timestamp_seconds"
READY_SINCE_METRIC = "p27_corr_ready_since_timestamp_seconds"
SAVE_HELD_METRIC = "p27_buffer_history_save_held"


def prices_back_from(p: Proof, restarted_epoch: float) -> float | None:
    """When the restarted price feed's process started (its own start timestamp), or None: no price feed, or none
    started since the restart."""
    if not p.topo.actors_of_kind("price_feed"):
        return None
    try:
        started = p.metric("price_feed", STARTED_METRIC)
    except OSError:  # not serving its metrics yet
        return None
    return started if started is not None and started >= restarted_epoch - 1.0 else None


def serving_from(sample: dict | None, started: float, restarted_epoch: float) -> tuple[float, str]:
    """When a restarted actor began serving by its own clock, and what that moment is: its main loop's start (its
    setup done), from `sample` (one scrape of it), else its process start `started` (an older actor exporting no loop
    start). On a loaded machine setup alone took more than a cadence's wall time (7 Dec 2026: ready 1.07 s after the
    correlator's process start at a 1 s cadence): CPU the machine stretched, not the warm-up the history spares."""
    loop_started = first(sample, LOOP_STARTED_METRIC) if isinstance(sample, dict) else None
    if loop_started is not None and loop_started >= max(started, restarted_epoch - 1.0):
        return loop_started, "main loop began"
    return started, "process started (no main loop start exported)"


def in_time(took_s: float | None, within_s: float) -> bool:
    """Whether readiness came within `within_s` of its start: never, or a negative time, is not. Both ends are read
    off the host's wall clock by two processes: a negative time is a clock stepped back between them, which times
    nothing (it passed as in time)."""
    return took_s is not None and 0.0 <= took_s <= within_s


def took_text(took_s: float | None) -> str:
    if took_s is None:
        return "never"
    if took_s < 0:
        return (f"{took_s:.2f} s (a negative time: the host's wall clock stepped back between the two readings; "
                "run the proof again)")
    return f"{took_s:.2f} s"


def require_history_saved(p: Proof, buffers: list[str]) -> None:
    """Fail before anything is stopped while a buffer holds its saved history (a clock fault: nothing it gathers is
    saved, so a restart is a cold warm-up). A buffer that exports no such gauge (an older one) is taken as not held."""
    held, faults, older = {}, {}, []
    for name in buffers:
        ok, sample, _ = p.poll(lambda: p.metrics(name), lambda m: isinstance(m, dict), SERVING_TIMEOUT_S)
        if not ok:
            p.require("before: the buffer saves its history", False, {name: None},
                      f"{name}'s metrics did not answer within {SERVING_TIMEOUT_S:g} s ({sample}): whether it holds its "
                      f"saved history is unknown, so nothing was stopped")
        held[name] = first(sample, SAVE_HELD_METRIC)
        faults[name] = labelled(sample, "p27_buffer_clock_faults_total", "direction")
        if held[name] is None:
            older.append(name)
    holding = [name for name in buffers if held[name] == 1.0]
    window_s = p.topo.clusters.grid_slots * p.topo.clusters.cadence_s  # the buffer's grid: its window
    counted = "; ".join(f"{n}: " + ", ".join(f"{d} {v:g}" for d, v in sorted(faults[n].items())) for n in holding)
    detail = (f"{SAVE_HELD_METRIC} 1: a clock fault (p27_buffer_clock_faults_total {counted}) holds "
              f"{', '.join(holding)} from saving its history, so a restart now loses every point gathered since "
              f"(a cold warm-up): nothing stopped; put the host's clock right; the hold ends when the clock comes back "
              f"or one window ({window_s:g} s) after it began; see the buffer's log event=clock_fault"
              if holding else "")
    if older:
        detail += (f"{'; ' if detail else ''}{', '.join(older)} exports no {SAVE_HELD_METRIC} (an older buffer): "
                   f"taken as not held")
    p.require("before: the buffer saves its history", not holding, held, detail)


def prove(p: Proof, args: argparse.Namespace) -> None:
    every_program = bool(getattr(args, "all_programs", False))
    buffer, correlator = p.one_of("buffer"), p.one_of("correlator")
    cadence = p.topo.clusters.cadence_s
    # Every buffer it would restart: with --all-programs, each of the topology's.
    require_history_saved(p, p.topo.actors_of_kind("buffer") if every_program else [buffer])
    ok, value, _ = p.poll(lambda: p.metric("correlator", "p27_corr_ready"), lambda v: v == 1.0, READY_TIMEOUT_S)
    p.require("before: p27_corr_ready is 1", ok, value)
    before = p.points_per_symbol()
    p.require("before: point counts", bool(before), before)

    # Every program (managed Redis stopped last and started first), or just the two that hold the history.
    programs = sorted(p.program_states(), key=lambda n: not (n == REDIS_PROGRAM or n.startswith('redis-'))) if every_program else [buffer, correlator]
    starter = threading.Thread(target=p.start_programs, args=(programs,), daemon=True)
    try:
        stop_began = time.monotonic()
        p.stop_programs(list(reversed(programs)))
        p.check("programs stopped", all(p.program_states()[n] == "STOPPED" for n in programs), programs)
        restarted_at = time.monotonic()
        restarted_epoch = time.time()
        # Poll while supervisord starts them: waiting for RUNNING first (startsecs) would let a correlator
        # that is ready early look late, and one that is late hide in the wait.
        starter.start()
        # The clock starts when the new correlator process starts (its own clustergate_actor_started_timestamp_seconds,
        # set before its setup), not when supervisord calls it RUNNING (startsecs later) or when a scrape first answers.
        ok, started, _ = p.poll(lambda: p.metric("correlator", STARTED_METRIC),
                                lambda v: v is not None and v >= restarted_epoch - 1.0, SERVING_TIMEOUT_S, 0.02)
        p.require("correlator serving again", ok, started,
                  f"new process started {started - restarted_epoch:.2f} s after the start command" if ok else
                  "no start timestamp of a new correlator process")
        # Both series from one scrape: a flip to not ready between two scrapes would read 0 as the moment.
        ok, sample, _ = p.poll(lambda: p.metrics(correlator),
                               lambda m: first(m, "p27_corr_ready") == 1.0, READY_TIMEOUT_S, 0.02)
        seen_after_start_s = time.time() - started
        value = first(sample, "p27_corr_ready") if isinstance(sample, dict) else None
        ready_since = first(sample, READY_SINCE_METRIC) if isinstance(sample, dict) else None
        # The actor's own clock times readiness; a scrape only sees it later (by up to a poll and a scrape). The
        # cadence runs from when both the correlator and the buffer it asks for a snapshot serve (their main loops
        # began): their start-up is CPU a loaded machine stretches, not the warm-up the history spares.
        serving, what = serving_from(sample if ok else None, started, restarted_epoch)
        whose = "correlator"
        try:
            buffer_sample = p.metrics(buffer) if ok else None
        except OSError:  # not answering: timed from the correlator alone
            buffer_sample = None
        buffer_started = first(buffer_sample, STARTED_METRIC) if isinstance(buffer_sample, dict) else None
        if buffer_started is not None and buffer_started >= restarted_epoch - 1.0:
            buffer_serving, buffer_what = serving_from(buffer_sample, buffer_started, restarted_epoch)
            if buffer_serving > serving:
                serving, what, whose = buffer_serving, buffer_what, "buffer"
        ready_after_start_s = ready_since - serving if ok and ready_since else None
        within = cadence
        since = (f"the {whose}'s {what}, by its own clock (the later of the correlator's and the buffer's; "
                 f"the correlator's process started {serving - started:.2f} s before it)")
        feed_started = prices_back_from(p, restarted_epoch) if every_program else None
        if feed_started is not None and ready_after_start_s is not None:
            # The price feed restarted too: the prices from before the outage are stale once it outlasts their age
            # limit, so readiness waits for fresh ones (the feed's start and first tick), and the first of them for
            # the buffer's next window, up to a cadence later (CI, 4 Dec 2026: 1.08 s after the correlator started,
            # 0.99 s after the feed). A warm-up, which the history spares, takes min_returns cadences.
            ready_after_start_s, within = ready_since - max(serving, feed_started), 2 * cadence
            since = (f"the later of the {whose}'s {what} and the price feed's process start (a fresh price waits "
                     f"for the buffer's next window: two cadences)")
        p.check("p27_corr_ready back to 1 in time", in_time(ready_after_start_s, within), value,
                took_text(ready_after_start_s)
                + f" after {since} (cadence {cadence:g} s; a scrape saw it "
                f"{seen_after_start_s:.2f} s after the correlator's start); "
                f"{time.monotonic() - restarted_at:.2f} s after the restart")
    finally:  # a failed check, SIGTERM or SIGHUP (proofs/common.py): nothing is left stopped
        if starter.ident is not None:
            starter.join(PROGRAM_START_TIMEOUT_S + 5)
        p.start_programs([n for n in programs if p.program_states().get(n) == "STOPPED"])
    outage_slots = math.ceil((time.monotonic() - stop_began) / cadence) + 1
    ok, after, _ = p.poll(p.points_per_symbol, lambda a: bool(a), SERVING_TIMEOUT_S)
    window_points = p.topo.clusters.window_points
    kept_floor = {s: min(before[s], window_points) - outage_slots - POINT_SLACK for s in before}
    lost = {s: (before[s], after.get(s) if isinstance(after, dict) else None) for s in before
            if not isinstance(after, dict) or after.get(s) is None or after[s] < kept_floor[s]}
    # Each grid slot of the outage (programs stopped to started again) gets no price, and once the window
    # is full (a system up for longer than lookback_returns cadences) each pushes an old point out.
    p.check("point counts kept", not lost, {"before": before, "after": after} if not lost else {"lost": lost},
            f"the outage spanned {outage_slots} grid slots; at least {min(kept_floor.values()):g} points had to remain")


def main(argv: list[str] | None = None, args=None) -> int:
    return run_proof("warm-restart", prove, argv, args)


if __name__ == "__main__":
    sys.exit(main())
