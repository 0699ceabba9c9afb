"""Issue 12, Redis under Sentinel under load, on one host: the primary SIGKILLed twice while 4 clients send
~200 proposals/s in total (bounded in count and time). After each failover decisions resume by
themselves; afterwards every decision a client got with `recorded: true` is on the final primary's
stream, and resubmitting every answered plan_id returns the same decision.

The permit issuer WAITs for the replica after its script (on by default: the managed Redis runs one),
so `recorded: true` means a replica had the decision, and no such decision may be lost in a failover;
without WAIT, asynchronous replication could lose one the primary acknowledged just before dying.
Failover times are printed (the figures of docs/ha-redis-sentinel.md come from
bench/bench_sentinel_failover.py, the same procedure). The five kills of the issue run across hosts
in tests/test_ha_host_faults.py.
"""

from __future__ import annotations

import collections
import statistics
import time
from pathlib import Path


from helpers import wait_for
from launcher.client import GateClient
from reliability import FAULT_REASONS, ProposalLoad, stored_decision, stream_records_by_plan
from sentinel_helpers import SentinelLiveSystem, kill_pid, pid_of_server, recorded_decision_after, synced_replicas

# Twice: the five kills run across hosts in tests/test_ha_host_faults.py; this one-host
# version keeps a repeated failover under load in make test for less of its budget.
KILLS = 2
LOAD_THREADS = 4
RATE_PER_THREAD = 50.0  # 200 proposals/s in total
MAX_LOAD_S = 240.0  # the load stops by then whatever happens
SAME = ("symbol", "action_proposed", "final_action", "gate_reason", "permit", "permit_key", "kill_score")


def test_the_primary_killed_twice_under_load_loses_no_recorded_decision(tmp_path: Path) -> None:
    system = SentinelLiveSystem(tmp_path)
    load = None
    try:
        system.up()
        wait_for(system.every_actor_ready, 60, "every actor ready")
        probe = GateClient(system.gate_endpoint, timeout_ms=2000, retries=0)
        load = ProposalLoad(system.gate_endpoint, threads=LOAD_THREADS, rate_per_thread=RATE_PER_THREAD,
                            timeout_ms=2000, retries=2).start()
        started = time.monotonic()
        resumed: list[float] = []
        for n in range(KILLS):
            # Each round starts from a healthy pair: a primary with its replica in sync, every sentinel
            # aware of both (the previous primary has rejoined as a replica).
            primary = wait_for(system.primary, 60, "one primary")
            wait_for(lambda: synced_replicas(primary) == 1, 60, f"round {n}: the replica in sync")
            wait_for(system.sentinels_settled, 60, f"round {n}: the sentinels settled")
            assert recorded_decision_after(probe, 30) is not None
            kill_pid(pid_of_server(primary))
            took = recorded_decision_after(probe, 60)
            assert took is not None, f"round {n}: no recorded decision within 60 s of killing the primary"
            resumed.append(took)
            assert time.monotonic() - started < MAX_LOAD_S, "the rounds took longer than the load's bound"
        # A fast run (each round's fault HOLDs last until the old primary rejoins) may have recorded few by now: the
        # load goes on, within its bound, until at least 10 per round are recorded (19 once, at load 6).
        wait_for(lambda: load.count(lambda o: o.decision is not None and o.decision.get("recorded")) >= KILLS * 10,
                 max(1.0, MAX_LOAD_S - (time.monotonic() - started)), f"{KILLS * 10} recorded decisions under the load")
        outcomes = load.stop()
        load = None
        print(f"\nsentinel failover under load: decisions resumed after {[round(t, 2) for t in resumed]} s "
              f"(p50 {statistics.median(resumed):.2f}, max {max(resumed):.2f}); {len(outcomes)} proposals")

        r = system.redis()
        on_stream = stream_records_by_plan(r)
        answered = [o for o in outcomes if o.decision is not None]
        recorded = [o for o in answered if o.decision.get("recorded")]
        reasons = collections.Counter((o.decision.get("recorded"), o.decision.get("gate_reason")) for o in answered)
        print(f"answers by (recorded, gate_reason): {reasons.most_common()}")
        # (With the issuer's WAIT and two servers, decisions are fault HOLDs from the kill until the old
        # primary has rejoined as a replica, so a fast run may record few: at least 10 per round.)
        assert len(recorded) >= KILLS * 10, f"too few recorded decisions to mean anything: {len(recorded)}"
        lost = [o.plan_id for o in recorded if o.plan_id not in on_stream or stored_decision(r, o.plan_id) is None]
        assert not lost, (f"{len(lost)} of {len(recorded)} decisions answered recorded:true are missing from the "
                          f"new primary, although the issuer WAITed for the replica: {lost[:5]}")
        assert all(len(on_stream[o.plan_id]) == 1 for o in recorded), "a plan_id recorded twice"

        # "Afterwards": once the pair is whole again. Until the killed primary has rejoined as a replica the
        # issuer's WAIT fails and every decision is a fault HOLD, outcome unknown (CI: the first resubmissions
        # came 5 s after the second kill and got replica_unacknowledged). A fault HOLD is asked again.
        primary = wait_for(system.primary, 60, "one primary after the load")
        wait_for(lambda: synced_replicas(primary) == 1, 60, "the replica in sync after the load")
        assert recorded_decision_after(probe, 30) is not None
        client = GateClient(system.gate_endpoint, timeout_ms=3000, retries=2)

        def decide(o) -> dict:
            for _ in range(10):
                d = client.propose(o.symbol, o.action, kill_score=o.kill_score, plan_id=o.plan_id)["decision"]
                if not (d.get("recorded") is False and d.get("gate_reason") in FAULT_REASONS):
                    return d
                time.sleep(0.2)  # pacing only: the outcome is unknown, the same plan_id is sent again
            return d

        changed = []
        for o in answered:
            again = decide(o)
            if o.decision.get("recorded"):
                if not again.get("replayed") or any(again.get(k) != o.decision.get(k) for k in SAME):
                    changed.append((o.plan_id, o.decision.get("final_action"), again.get("final_action")))
            else:  # a fault HOLD (outcome unknown): resubmitting gives whatever was decided, then always that
                twice = decide(o)
                if any(twice.get(k) != again.get(k) for k in SAME):
                    changed.append((o.plan_id, again.get("final_action"), twice.get("final_action")))
        client.close()
        probe.close()
        assert not changed, f"resubmitted plan_ids got another decision: {changed[:5]}"
    finally:
        if load is not None:
            load._stop.set()
        system.down()
