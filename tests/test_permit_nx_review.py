"""Hostile review of aaa3bc7 (branch revnx): the permit issuer's script sets the permit with NX, and a key found there
is set to SPEC's "1" with the permit's TTL unless it is "1" with at most that TTL left (a live permit of the plan_id,
its decision key removed, left to expire). Each case against real processes: a real redis-server, gate and issuer."""

from __future__ import annotations

import pytest

from launcher import keys
from test_gate_service import clean, decision_of, new_plan, system  # noqa: F401 (fixtures)


@pytest.mark.parametrize(("value", "px"), [
    ("0", 5_000),  # another value with a TTL within the permit's: left as found, a decision saying permit over a "0"
    ("1", None),  # SPEC's value with no TTL: left as found, a permit that never expires
])
def test_a_permit_key_another_writer_left_is_set_to_specs_value_and_ttl(clean, value, px):
    """Only a "1" with at most the permit's TTL left is left as found; the value check and the no-TTL check each keep
    one such key from standing as the new decision's permit."""
    r = clean.redis
    plan = new_plan()
    r.set(keys.permit(plan), value, px=px)
    decision = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert decision["permit"] and decision["recorded"] and not decision["replayed"], decision
    left = r.pttl(keys.permit(plan))
    assert r.get(keys.permit(plan)) == "1" and 5_000 < left <= 60_000, (r.get(keys.permit(plan)), left)


def test_a_new_decision_whose_permit_key_is_of_another_type_is_held_naming_it_and_nothing_is_written(clean):
    """With SET NX the script reads a key found at the permit's name (PTTL, GET): a hash there fails GET with WRONGTYPE,
    after the stream record was added, unless the key's type is checked before the first write."""
    r = clean.redis
    plan = new_plan()
    r.hset(keys.permit(plan), "planted", "1")
    held = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert (held["final_action"], held["permit"], held["recorded"]) == ("HOLD", False, False), held
    assert f"{keys.permit(plan)} is a hash, expected a string" in held["detail"], held
    assert r.type(keys.permit(plan)) == "hash" and r.hgetall(keys.permit(plan)) == {"planted": "1"}
    assert r.exists(keys.plan_decision(plan), keys.cooldown("ETHUSDT")) == 0
    assert not [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
