"""Redis outage: the managed redis-server is SIGKILLed for about 10 s and started again from its
appendonly file; the gate keeps answering, every actor recovers by itself, history and decisions survive."""

from __future__ import annotations

import os
import signal
import time

import redis

from launcher import keys
from launcher.supervise import Home
from actors.grid import PriceGrid, points_per_symbol
from helpers import wait_for
from reliability import LiveSystem, ProposalLoad, check_ledger, wait_for_load_progress

OUTAGE_S = 10.0
CLIENT_TIMEOUT_MS = 5000
# Redis's aof.c: with appendfsync everysec it postpones writing the AOF for up to 2 s while a background
# fsync is still running; + 0.5 s for the event loop and the test's own clock readings.
AOF_HELD_BACK_S = 2.5


def kill_redis_so_it_stays_down(live: LiveSystem) -> None:
    """SIGKILL redis-server without supervisord restarting it: pause it, ask supervisord to stop it
    (so the death is expected), then kill it before it can handle the stop signal."""
    pid = live.pid_of("redis")
    os.kill(pid, signal.SIGSTOP)
    live.supervisor.api.stopProcess("redis", False)
    wait_for(lambda: live.processes()["redis"]["statename"] == "STOPPING", 10, "supervisord to be stopping redis")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: live.processes()["redis"]["statename"] == "STOPPED", 20, "redis to be stopped")


def oldest_gate_entry_age_ms(r: redis.Redis) -> float:
    """How long ago, by Redis's clock, the oldest entry of the gate's stream was added (0 when it is empty)."""
    first = r.xrange(keys.GATE_STREAM, count=1)
    if not first:
        return 0.0
    seconds, micros = r.time()
    return seconds * 1000 + micros / 1000 - int(first[0][0].split("-")[0])


def buffer_points(live: LiveSystem) -> dict[str, float]:
    metrics = live.metrics("buffer")
    return {k: v for k, v in metrics.items() if k.startswith("p27_points_per_symbol{")}


def persisted_points(live: LiveSystem) -> dict[str, int]:
    raw = redis.Redis(port=live.data["redis"]["port"], socket_timeout=5).get(
        keys.buffer_history(live.data["name"], "buffer"))
    assert raw is not None, "no persisted buffer history"
    grid = PriceGrid.from_blob(raw)
    return points_per_symbol(grid.symbols, grid.prices)


def said_the_outage_ended(live: LiveSystem, program: str, outage: str, ended: str) -> bool:
    """The program logged `outage` during the outage, and `ended` after the last such line."""
    lines = Home(live.home).log_of(program).read_text(errors="replace").splitlines()
    last_outage = max((i for i, line in enumerate(lines) if f"event={outage}" in line), default=None)
    return last_outage is not None and any(f"event={ended}" in line for line in lines[last_outage + 1:])


def test_the_gate_holds_through_a_redis_outage_and_everything_recovers_with_history_and_decisions(live: LiveSystem) -> None:
    r = live.redis()
    wait_for(lambda: min(buffer_points(live).values()) >= 5, 60, "the buffer to hold a few points per symbol")
    load = ProposalLoad(live.gate_endpoint, threads=2, rate_per_thread=50.0, timeout_ms=CLIENT_TIMEOUT_MS, retries=0)
    load.start()
    try:
        wait_for_load_progress(load, 200, what="decisions before the outage")
        wait_for(lambda: live.redis().exists(keys.buffer_history(live.data["name"], "buffer")), 30,
                 "the buffer to persist its history")
        # Decisions older than the window a crash may lose must be on the stream before the kill, or the checks
        # of what survived would pass on a stream that holds only that window (a Redis without its AOF did).
        wait_for(lambda: oldest_gate_entry_age_ms(r) > (AOF_HELD_BACK_S + 1.0) * 1000, 30,
                 f"gate stream entries older than the {AOF_HELD_BACK_S} s a crash may lose")
        stream_before = [entry_id for entry_id, _ in r.xrange(keys.GATE_STREAM)]
        points_before = buffer_points(live)
        persisted_before = persisted_points(live)

        seconds, micros = r.time()
        killed_at_redis_ms, killed_at = seconds * 1000 + micros // 1000, time.monotonic()
        kill_redis_so_it_stays_down(live)
        down_at = time.monotonic()
        answered_before_outage = len(load.outcomes)
        wait_for(lambda: time.monotonic() - down_at >= OUTAGE_S
                 and load.count(lambda o: o.fault_reason == "redis_unavailable") >= 50,
                 OUTAGE_S + 30, "an outage of 10 s with the gate answering redis_unavailable", interval_s=0.2)
        during = load.outcomes[answered_before_outage:]

        started_at = time.monotonic()
        live.supervisor.api.startProcess("redis", True)
        wait_for(lambda: load.count(lambda o: o.decision is not None and o.decision.get("recorded")) and
                 (load.outcomes[-1].decision or {}).get("recorded"), 60, "a recorded decision after Redis returned",
                 interval_s=0.1)
        first_decision_s = time.monotonic() - started_at
        wait_for_load_progress(load, 100, what="decisions after the outage")
    finally:
        outcomes = load.stop()

    wait_for(live.every_actor_ready, 90, "every actor ready again without a hand restart", interval_s=0.5)
    every_ready_s = time.monotonic() - started_at
    proof = live.proof("readiness")
    assert proof.returncode == 0, proof.stdout + proof.stderr

    # Nothing hung: every proposal during the outage got an answer within the client timeout.
    assert not any(o.unavailable for o in outcomes)
    assert {o.decision["gate_reason"] for o in during if o.fault_reason} == {"redis_unavailable"}
    assert all(o.decision["final_action"] == "HOLD" for o in during if o.fault_reason)
    max_latency_s = max(o.latency_s for o in during)

    # The decision stream and the buffer's history survived the restart from the appendonly file.
    # Redis (appendfsync everysec) holds its AOF write back while the last second's fsync still runs, for
    # up to AOF_HELD_BACK_S, and a process crash loses what it held back (CI, a busy disk: the last 60 ms of
    # decisions before the SIGKILL). So only decisions written that close to the kill may be gone.
    stream_after = {entry_id for entry_id, _ in r.xrange(keys.GATE_STREAM)}
    lost_entries = set(stream_before) - stream_after
    assert all(int(e.split("-")[0]) >= killed_at_redis_ms - AOF_HELD_BACK_S * 1000 for e in lost_entries), (
        f"stream entries older than {AOF_HELD_BACK_S} s before the kill (ms {killed_at_redis_ms}) lost: "
        f"{sorted(lost_entries)[:10]}")
    lost = [o for o in outcomes if o.decision and o.decision.get("recorded")
            and not r.exists(keys.plan_decision(o.plan_id))]
    assert all(o.answered_at >= killed_at - AOF_HELD_BACK_S for o in lost), (
        f"recorded decisions answered over {AOF_HELD_BACK_S} s before the kill lost: "
        f"{[(o.plan_id, round(killed_at - o.answered_at, 3)) for o in lost if o.answered_at < killed_at - AOF_HELD_BACK_S]}")
    points_after = buffer_points(live)
    assert all(points_after[k] >= points_before[k] for k in points_before), (points_before, points_after)
    persisted_after = persisted_points(live)
    assert all(persisted_after[s] >= persisted_before[s] for s in persisted_before), (persisted_before, persisted_after)
    # An operator reading the logs after the outage is told it ended: no actor's last word on it is an outage line.
    for program, outage, ended in (("clusterer", "positions_unavailable", "positions_available_again"),
                                   ("buffer", "history_not_persisted", "history_persisted_again")):
        wait_for(lambda: said_the_outage_ended(live, program, outage, ended), 30,
                 f"{program}'s log to say {ended} after its last {outage}")

    lost_ids = {o.plan_id for o in lost}
    ledger = check_ledger(r, [o for o in outcomes if o.plan_id not in lost_ids], live.gate_endpoint)
    print(f"\nRELIABILITY redis outage: answered_during={len(during)} "
          f"redis_unavailable={sum(1 for o in during if o.fault_reason)} max_latency_during_s={max_latency_s:.3f} "
          f"first_recorded_decision_after_start_s={first_decision_s:.2f} every_actor_ready_s={every_ready_s:.2f} "
          f"stream_entries_kept={len(stream_before) - len(lost_entries)} of {len(stream_before)} "
          f"recorded_decisions_lost_in_aof_held_back_window={len(lost)} points_before={points_before} points_after={points_after} "
          f"{ledger.summary()}")
    assert not ledger.problems, "\n".join(ledger.problems[:20])
