"""The audit of a load run through gate faults (launcher/ha_load.py), as plain functions on plain data:
each kind of loss or double decision is counted, and a clean run counts none."""

from __future__ import annotations

from launcher.ha_load import audit, outcome


def decision(plan: str, action: str = "PARTIAL_25", ts: int = 100, replayed: bool = False, recorded: bool = True) -> dict:
    return {"plan_id": plan, "final_action": action, "gate_reason": "pass", "ts_epoch": ts, "K": 0.5, "stress": 0.1,
            "replayed": replayed, "recorded": recorded}


def ok(d: dict) -> dict:
    return {"status": "ok", "decision": d}


def record(d: dict) -> dict:
    return {k: str(v) for k, v in d.items() if k not in ("replayed", "recorded")}


def call(plan: str, reply: dict | None, failover: bool = False, dt_s: float = 0.01, round_no: int = 0) -> dict:
    return {"plan": plan, "reply": reply, "failover": failover, "dt_s": dt_s, "round": round_no}


def clean_run() -> tuple[list, list, list, list]:
    a, b = decision("p-a"), decision("p-b", "HOLD", 101)
    calls = [call("p-a", None, failover=True, dt_s=1.0),  # no reply within the budget, then resubmitted
             call("p-a", ok(a), round_no=1), call("p-b", ok(b), failover=True, dt_s=0.52)]
    resubmits = [{"plan": "p-a", "first": a, "reply": ok({**a, "replayed": True})}]
    return calls, [record(a), record(b)], ["p-a"], resubmits


def test_outcomes_a_recorded_decision_is_final_and_every_fault_or_silence_is_unknown():
    assert outcome(ok(decision("p"))) == "final"
    assert outcome(ok(decision("p", "HOLD", recorded=False))) == "unknown"
    # Final only when the decision says recorded: true; a decision that does not say so is not known recorded.
    assert outcome(ok({k: v for k, v in decision("p").items() if k != "recorded"})) == "unknown"
    assert outcome(ok(decision("p", recorded=None))) == "unknown"
    assert outcome(None) == "unknown"
    assert outcome({"status": "error", "reason": "expired"}) == "unknown"
    assert outcome({"status": "error", "reason": "overloaded"}) == "unknown"
    # The gate failed while deciding, maybe after its issuer recorded the decision: not a final error.
    assert outcome({"status": "error", "reason": "internal_error", "detail": "boom"}) == "unknown"
    assert outcome({"status": "error", "reason": "plan_id_conflict"}) == "error"


def test_a_clean_run_has_no_violation_and_reports_its_failover_times():
    verdict = audit(*clean_run())
    assert verdict["violations"] == {k: 0 for k in verdict["violations"]}
    assert verdict["decisions_lost"] == 0 and verdict["plan_ids_decided_twice"] == 0
    assert verdict["failover_calls"] == 2 and verdict["failover_max_ms"] == 1000.0
    assert verdict["unknown_first_try_by_kind"] == {"no_reply": 1}


def test_a_proposal_never_answered_is_counted_lost():
    calls, stream, permits, resubmits = clean_run()
    calls = calls[:1] + calls[2:]  # p-a's resubmission never came
    assert audit(calls, stream, permits, resubmits)["violations"]["unanswered"] == 1


def test_a_plan_id_with_two_records_or_two_different_replies_is_decided_twice():
    calls, stream, permits, resubmits = clean_run()
    again = decision("p-a", ts=105)
    verdict = audit(calls + [call("p-a", ok(again), round_no=2)], stream + [record(again)], permits, resubmits)
    assert verdict["violations"]["decided_twice_on_stream"] == 1
    assert verdict["violations"]["decided_twice_in_replies"] == 1
    assert verdict["plan_ids_decided_twice"] == 1
    # One decision written to the stream twice (two XADDs of one plan_id) is decided twice too.
    verdict = audit(calls, stream + [record(decision("p-a"))], permits, resubmits)
    assert verdict["violations"]["decided_twice_on_stream"] == 1 and verdict["plan_ids_decided_twice"] == 1


def test_a_permit_without_its_record_and_a_recorded_reply_missing_from_the_stream_are_counted():
    calls, stream, permits, resubmits = clean_run()
    verdict = audit(calls, stream[1:], permits, resubmits)
    assert verdict["violations"]["permit_without_record"] == 1
    assert verdict["violations"]["recorded_reply_not_on_stream"] == 1
    # A record of another decision is not its record: p-a's permit and PARTIAL_25 reply beside a HOLD record of
    # p-a, and a permit of p-b, whose only record is its HOLD.
    hold_a = record({**decision("p-a"), "final_action": "HOLD"})
    verdict = audit(calls, [hold_a, stream[1]], permits + ["p-b"], resubmits)
    assert verdict["violations"]["permit_without_record"] == 2
    assert verdict["violations"]["recorded_reply_not_on_stream"] == 1


def test_a_reply_for_another_plan_id_and_a_record_no_client_made_are_counted():
    calls, stream, permits, resubmits = clean_run()
    other = decision("p-new")
    verdict = audit(calls + [call("p-c", ok(other))], stream + [record(other)], permits, resubmits)
    assert verdict["violations"]["reply_for_another_plan_id"] == 1
    assert verdict["violations"]["stream_record_no_client_made"] == 1


def test_a_resubmission_decided_afresh_is_counted():
    calls, stream, permits, resubmits = clean_run()
    fresh = [{**resubmits[0], "reply": ok(decision("p-a", ts=200))}]
    assert audit(calls, stream, permits, fresh)["violations"]["resubmit_not_the_same_decision"] == 1


def test_a_permit_the_load_saw_while_it_ran_counts_even_after_it_expired(tmp_path):
    """The audit runs after the load, when the first permits (60 s) are gone: the load's looks at the
    permit keys (ha_load.permits_path) are what let "no permit without its record" cover the whole run."""
    from launcher.ha_load import permits_of_run, permits_path
    calls_path = tmp_path / "calls.jsonl"
    permits_path(calls_path).write_text('{"t": 100.0, "plans": []}\n{"t": 115.5, "plans": ["p-a", "p-gone"]}\n'
                                        '{"t": 131.0, "plans": ["p-a"]}\n')
    permits, looks, gap_s = permits_of_run(["p-a"], calls_path)
    assert (permits, looks, gap_s) == (["p-a", "p-gone"], 3, 15.5)
    calls, stream, _, resubmits = clean_run()
    assert audit(calls, stream, permits, resubmits)["violations"]["permit_without_record"] == 1  # p-gone
    assert permits_of_run(["p-a"], tmp_path / "no-load.jsonl") == (["p-a"], 0, None)


def test_the_load_looks_at_permits_often_enough_for_the_topologys_permit_ttl(tmp_path, redis_server):
    """permit_ttl_s may be 1..60 s: a permit of a 2 s TTL, issued just after a look, was gone before the next
    one (every 15 s), so "no permit without its record" never saw it. Real redis-server; the key is set as
    the issuer sets it (SET ... EX permit_ttl_s)."""
    import threading

    from helpers import wait_for
    from launcher import keys
    from launcher.harness import demo_topology_data, retarget, write_topology
    from launcher.ha_load import look_at_permits, permits_of_run, permits_path
    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"]["permit_issuer"].setdefault("settings", {})["permit_ttl_s"] = 2
    topology = write_topology(tmp_path / "topology.yaml", data)
    calls_path = tmp_path / "calls.jsonl"
    done, looks = threading.Event(), {"done": 0, "failed": 0}
    watcher = threading.Thread(target=look_at_permits, args=(str(topology), "run1", permits_path(calls_path), done, looks),
                               daemon=True)
    watcher.start()
    r = redis_server.client()
    try:
        wait_for(lambda: looks["done"] >= 1, 10, "the load's first look at the permits")
        r.set(keys.permit("run1-short"), "1", ex=2)
        wait_for(lambda: not r.exists(keys.permit("run1-short")), 10, "the permit to expire")
    finally:
        done.set()
        watcher.join(10)
        r.close()
    permits, count, gap_s = permits_of_run([], calls_path)
    assert "run1-short" in permits, (permits, count, gap_s)
    assert gap_s is not None and gap_s < 2, gap_s


def test_looks_fewer_than_two_or_further_apart_than_the_permit_ttl_are_a_violation():
    from launcher.ha_load import permit_looks_violation
    assert permit_looks_violation(looks=5, gap_s=15.0, permit_ttl_s=60) is None
    # Each verdict is asserted to exist before its text is read: `"..." in None` would be a TypeError, not a failure
    # that names the violation the audit missed.
    for gap_s in (15.0, 10.0):  # a permit can live and expire between two looks a TTL or more apart
        far_apart = permit_looks_violation(looks=5, gap_s=gap_s, permit_ttl_s=10)
        assert far_apart is not None, f"two looks {gap_s} s apart with a 10 s permit TTL were not a violation"
        assert f"{gap_s} s apart" in far_apart and "permit_ttl_s of 10 s" in far_apart, far_apart
    assert permit_looks_violation(looks=0, gap_s=None, permit_ttl_s=60) is not None  # every look failed
    assert permit_looks_violation(looks=1, gap_s=None, permit_ttl_s=60) is not None


def test_the_last_look_after_the_load_is_retried_through_a_redis_outage_and_its_absence_is_a_violation(tmp_path, redis_server):
    """The look after the load and its resubmissions is the only one to see their last permits: when it
    failed (Redis down or failing over at that moment) the watcher gave up at once and the verdict said
    nothing. Real redis-server, killed before the load ends and started again on its port."""
    import threading

    from helpers import wait_for
    from launcher.harness import demo_topology_data, retarget, write_topology
    from launcher.ha_load import final_look_seen, look_at_permits, permit_looks_violation, permits_path
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    calls_path = tmp_path / "calls.jsonl"
    done, looks = threading.Event(), {"done": 0, "failed": 0}
    watcher = threading.Thread(target=look_at_permits, args=(str(topology), "run2", permits_path(calls_path), done, looks),
                               daemon=True)
    watcher.start()
    try:
        wait_for(lambda: looks["done"] >= 1, 10, "the load's first look at the permits")
        redis_server.kill()
        done.set()
        wait_for(lambda: looks["failed"] >= 1, 10, "the last look to fail")
        redis_server.start()
    finally:
        done.set()
        watcher.join(15)
    assert not watcher.is_alive()
    assert looks["done"] == 2 and final_look_seen(calls_path), looks
    assert permit_looks_violation(2, 5.0, 60, final=False) is not None


def test_a_call_that_went_round_every_gate_and_back_counts_as_a_failover():
    """call() compared the endpoint before and after: with two gates and retries=1 a call that timed out on
    A, B, A, B ends where it began, so the slowest calls of all were missing from failover_calls and from
    the failover p50/max the fault tests report. Real ZeroMQ sockets that never answer."""
    import zmq

    from launcher.client import GateClient
    from launcher.ha_load import call
    ctx = zmq.Context()
    silent = []
    for _ in range(2):
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        silent.append((sock, f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"))
    try:
        with GateClient([e for _, e in silent], timeout_ms=50, retries=1, context=ctx) as client:
            row = call(client, {"plan": "round-trip", "symbol": "ETHUSDT", "action": "HOLD"}, 0, 0)
        assert row["reply"] is None and row["failover"] is True, row
    finally:
        for sock, _ in silent:
            sock.close(linger=0)
        ctx.term()


def test_the_gap_between_looks_runs_from_the_start_of_one_scan_to_the_end_of_the_next(tmp_path):
    """A permit issued just after a scan's cursor passed its key is seen only by the next scan, which may reach
    it only as it ends: so the permit must live from the start of one scan to the end of the next. The gap was
    measured end to end, short of the truth by a scan's time (slow under load or a failover)."""
    from launcher.ha_load import permits_of_run, permits_path
    calls_path = tmp_path / "calls.jsonl"
    permits_path(calls_path).write_text(
        '{"t": 100.0, "mono_start": 10.0, "mono": 40.0, "plans": []}\n'   # a 30 s scan
        '{"t": 150.0, "mono_start": 85.0, "mono": 90.0, "plans": []}\n')  # ends 50 s after the first ended
    assert permits_of_run([], calls_path)[2] == 80.0  # 90 - 10, not 90 - 40
