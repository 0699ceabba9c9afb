"""Hostile review of the exit path (branch revexit), each finding against real processes: a real redis-server, gate
and permit issuer."""

from __future__ import annotations

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
