"""Crashes: SIGKILL each actor of a running demo system, under proposal load, and nothing is lost."""

from __future__ import annotations

import math
import os
import signal
import time

from helpers import wait_for
from reliability import LiveSystem, ProposalLoad, check_ledger, lost_outside, wait_for_load_progress

KILL_ORDER = ("gate", "permit_issuer", "buffer", "correlator", "clusterer", "state_writer", "price_feed", "book")
# Only the gate's own outage may lose a reply: from one client timeout before its SIGKILL (requests
# in flight die with it) to a little after it is ready again (the supervisor poll's granularity).
# Killing any other actor must cost no reply: the gate answers HOLD permit_unavailable instead.
READY_SLACK_S = 0.5


def fail_on_replies_lost_outside(load: ProposalLoad, windows: list[tuple[float, float]]) -> None:
    lost = lost_outside(load.snapshot(), windows)
    assert not lost, f"{len(lost)} replies lost while the gate was up:\n" + "\n".join(lost[:10])


def test_every_proposal_ends_with_exactly_one_decision_while_each_actor_is_killed_in_turn(live: LiveSystem) -> None:
    r = live.redis()
    load = ProposalLoad(live.gate_endpoint, threads=3, rate_per_thread=100.0).start()
    timeout_s = load.timeout_ms / 1000.0
    restarts_s: dict[str, float] = {}
    may_lose: list[tuple[float, float]] = []
    try:
        wait_for_load_progress(load, 300, what="the load to get going")
        fail_on_replies_lost_outside(load, may_lose)  # early: a lost reply fails now, not after every kill
        for name in KILL_ORDER:
            old_pid = live.status()[name]["pid"]
            killed_at = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)
            wait_for(lambda: live.running_with_new_pid(name, old_pid), 30, f"supervisord to restart {name}",
                     interval_s=0.1)
            wait_for(lambda: live.actor_ready(name), 30, f"{name} to be ready again", interval_s=0.1)
            restarts_s[name] = round(time.monotonic() - killed_at, 2)
            if name == "gate":
                may_lose.append((killed_at - timeout_s, time.monotonic() + READY_SLACK_S))
            wait_for_load_progress(load, 150, what=f"proposals to be answered after {name} restarted")
            fail_on_replies_lost_outside(load, may_lose)
    finally:
        outcomes = load.stop()
    wait_for(live.every_actor_ready, 60, "every actor ready after the crashes")
    ledger = check_ledger(r, outcomes, live.gate_endpoint)
    elapsed = max(o.latency_s for o in outcomes)
    outage_s = sum(end - start for start, end in may_lose)
    # Each client waits one timeout per lost attempt, so an outage can cost each at most this many.
    lost_bound = load.threads * (math.ceil(outage_s / timeout_s) + 1)
    print(f"\nRELIABILITY crashes: {ledger.summary()} restart_s={restarts_s} max_client_latency_s={elapsed:.2f} "
          f"gate_outage_s={outage_s:.2f} lost_reply_bound={lost_bound}")
    assert not ledger.problems, "\n".join(ledger.problems[:20])
    assert ledger.decided > 1000
    lost_elsewhere = lost_outside(outcomes, may_lose)
    assert not lost_elsewhere, f"{len(lost_elsewhere)} replies lost while the gate was up:\n" + "\n".join(lost_elsewhere[:10])
    assert ledger.lost_replies <= lost_bound, f"{ledger.lost_replies} replies lost in a {outage_s:.1f} s gate outage"
    unavailable_bound = load.threads * (math.ceil(outage_s / (timeout_s * (1 + load.retries))) + 1)
    assert ledger.unavailable <= unavailable_bound, (
        f"{ledger.unavailable} proposals never answered in a {outage_s:.1f} s gate outage (bound {unavailable_bound})")
