"""Crashes: SIGKILL each actor of a running demo system, under proposal load, and nothing is lost."""

from __future__ import annotations

import os
import signal
import time

from helpers import wait_for
from reliability import LiveSystem, ProposalLoad, check_ledger, wait_for_load_progress

KILL_ORDER = ("gate", "permit_issuer", "buffer", "correlator", "clusterer", "state_writer", "price_feed", "book")


def test_every_proposal_ends_with_exactly_one_decision_while_each_actor_is_killed_in_turn(live: LiveSystem) -> None:
    r = live.redis()
    load = ProposalLoad(live.gate_endpoint, threads=3, rate_per_thread=100.0).start()
    restarts_s: dict[str, float] = {}
    try:
        wait_for_load_progress(load, 300, what="the load to get going")
        for name in KILL_ORDER:
            old_pid = live.status()[name]["pid"]
            killed_at = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)
            wait_for(lambda: live.running_with_new_pid(name, old_pid), 30, f"supervisord to restart {name}",
                     interval_s=0.1)
            wait_for(lambda: live.actor_ready(name), 30, f"{name} to be ready again", interval_s=0.1)
            restarts_s[name] = round(time.monotonic() - killed_at, 2)
            wait_for_load_progress(load, 150, what=f"proposals to be answered after {name} restarted")
    finally:
        outcomes = load.stop()
    wait_for(live.every_actor_ready, 60, "every actor ready after the crashes")
    ledger = check_ledger(r, outcomes, live.gate_endpoint)
    elapsed = max(o.latency_s for o in outcomes)
    print(f"\nRELIABILITY crashes: {ledger.summary()} restart_s={restarts_s} max_client_latency_s={elapsed:.2f}")
    assert not ledger.problems, "\n".join(ledger.problems[:20])
    assert ledger.decided > 1000
    assert ledger.resubmitted == ledger.unavailable + sum(ledger.fault_holds.values())
