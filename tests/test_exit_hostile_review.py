"""Hostile review of the exit path (branch revexit), each finding against real processes: a real redis-server, gate
and permit issuer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher import keys
from test_gate_service import clean, decision_of, new_plan, system  # noqa: F401 (fixtures)


def test_a_permit_key_another_writer_left_before_its_plan_id_was_decided_gets_specs_value_and_ttl(clean):
    """The script set the permit with NX: a permit key already there (another writer's, "0" and no TTL) was left as it
    was, so the decision said permit: true while its permit in Redis was "0" and never expired (TTL -1), where SPEC
    gives "1" with TTL 60 s."""
    r = clean.redis
    plan = new_plan()
    r.set(keys.permit(plan), "0")  # no TTL
    decision = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert decision["permit"] and decision["recorded"], decision
    assert r.get(keys.permit(plan)) == "1"
    assert 0 < r.pttl(keys.permit(plan)) <= 60_000


@pytest.mark.parametrize("planted", ["cooldown", "stream"])
def test_a_decided_plan_id_resubmitted_while_another_key_of_its_write_is_of_another_type_gets_its_decision_back(
        clean, planted):
    """The script checked the type of every key it writes before it looked for the plan_id's stored decision: with the
    symbol's cooldown (or the gate stream) of another type, a plan_id decided with a permit and resubmitted (its first
    reply lost) got the fault HOLD bad_key_type "nothing was written" where its recorded decision, whose permit was
    live in Redis, was to come back."""
    r = clean.redis
    plan = new_plan()
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"], first
    key = keys.cooldown("ETHUSDT") if planted == "cooldown" else keys.GATE_STREAM
    r.delete(key)
    r.hset(key, "planted", "1")
    try:
        again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert again["replayed"] and again["recorded"] and again["permit"], again
        assert (again["final_action"], again["gate_reason"]) == (first["final_action"], first["gate_reason"])
        assert again["permit_ttl_ms"] is not None and again["permit_ttl_ms"] > 0, again
        # A new plan_id is still refused, nothing written.
        other = new_plan()
        held = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=other))
        assert (held["final_action"], held["recorded"]) == ("HOLD", False) and "bad_key_type" in held["detail"], held
        assert r.exists(keys.plan_decision(other), keys.permit(other)) == 0
    finally:
        r.delete(key)


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--plan-id", "p" * 129, "plan_id must be at most 128 characters, got 129"),
    ("--plan-id", "a\nb", "plan_id must be printable: character U+000A at index 1 is not"),
    ("--symbol", "", "symbol must be a non-empty string"),
    ("--symbol", "S" * 33, "symbol must be at most 32 characters, got 33"),
])
def test_clustergate_propose_refuses_a_proposal_no_gate_can_decide_naming_the_option_and_sends_nothing(
        option, value, says):
    """Sent, a proposal the gate refuses field by field (a 129-character plan_id, a plan_id with a newline, an empty
    symbol) was answered invalid_proposal by a gate; with no gate answering, the call ended "it may
    have been decided: retry with --plan-id ...", a plan_id no gate can ever decide, exit 1."""
    proc, sent = propose_to_a_silent_gate({"--symbol": "ETHUSDT", "--plan-id": "ok-plan", option: value})
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert option in proc.stderr and says in proc.stderr and "nothing was sent" in proc.stderr, proc.stderr
    assert "may have been decided" not in proc.stderr, proc.stderr
    assert sent is None, f"a proposal was sent: {sent[:200]!r}"


def propose_to_a_silent_gate(options: dict[str, str]) -> tuple[subprocess.CompletedProcess, bytes | None]:
    """`clustergate propose --action HOLD` with `options` (and a 200 ms timeout, no retry) run against a gate that
    never answers: the finished process, and the proposal it sent (None: nothing within 200 ms of its end)."""
    import zmq
    from test_client import silent_server

    ctx = zmq.Context()
    endpoint, server = silent_server(ctx)
    try:
        proc = subprocess.run([sys.executable, "-m", "launcher", "propose", "--endpoint", endpoint, "--action", "HOLD",
                               *(x for kv in options.items() for x in kv), "--timeout-ms", "200", "--retries", "0"],
                              capture_output=True, text=True, timeout=20, cwd=Path(__file__).resolve().parent.parent)
        return proc, server.recv_multipart()[-1] if server.poll(200) else None
    finally:
        server.close(linger=0)
        ctx.term()


def test_a_decided_plan_id_whose_permit_key_now_holds_another_type_is_replayed_saying_no_permit_exists(clean):
    """The replay comes before the other keys' types are checked: a permit key of another type (a list written over
    the permit after the decision) is no permit, so the replay's permit_ttl_ms is null, not that list's TTL."""
    r = clean.redis
    plan = new_plan()
    first = decision_of(clean.client.propose("BTCUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"], first
    r.delete(keys.permit(plan))
    r.rpush(keys.permit(plan), "x")
    r.expire(keys.permit(plan), 50)
    again = decision_of(clean.client.propose("BTCUSDT", "PARTIAL_50", plan_id=plan))
    assert again["replayed"] and again["permit"] and again["permit_ttl_ms"] is None, again
