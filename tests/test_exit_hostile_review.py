"""Hostile review of the exit path (branch revexit), each finding against real processes: a real redis-server, gate
and permit issuer."""

from __future__ import annotations

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
