"""Hostile review of aaa3bc7 (branch revnx): the permit issuer's script sets the permit with NX, and a key found there
is set to SPEC's "1" with the permit's TTL unless it is "1" with at most that TTL left (a live permit of the plan_id,
its decision key removed, left to expire). Each case against real processes: a real redis-server, gate and issuer."""

from __future__ import annotations

import pytest

from helpers import scrape
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


@pytest.mark.parametrize("key_of", [keys.permit, keys.permitted_plan])
def test_a_new_decision_whose_permit_key_is_of_another_type_is_held_naming_it_and_nothing_is_written(clean, key_of):
    """With SET NX the script reads a key found at the permit's name (PTTL, GET): a hash there fails GET with WRONGTYPE,
    after the stream record was added, unless the key's type is checked before the first write. So for the permitted
    plan_id's marker (its TYPE is both its check and its type check)."""
    r = clean.redis
    plan = new_plan()
    r.hset(key_of(plan), "planted", "1")
    held = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert (held["final_action"], held["permit"], held["recorded"]) == ("HOLD", False, False), held
    assert f"{key_of(plan)} is a hash, expected a string" in held["detail"], held
    assert r.type(key_of(plan)) == "hash" and r.hgetall(key_of(plan)) == {"planted": "1"}
    assert r.exists(keys.plan_decision(plan), keys.cooldown("ETHUSDT")) == 0
    assert r.exists(keys.permit(plan), keys.permitted_plan(plan)) == 1  # the planted key alone
    assert not [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]


def test_a_live_permit_left_to_expire_is_not_counted_as_a_permit_issued(clean):
    """A plan_id whose decision key was removed (by hand, or evicted before the issuer noticed an evicting policy),
    resubmitted while its permit lives, is decided again and its permit left to expire (aaa3bc7): nothing was written at
    the permit key, yet the issuer's permit_issuer_permits_issued_total ("Permits written") and the gate's
    p26_permit_issued_total each counted a second permit for the plan_id (1 then 2, one key with 4.5 s left). Its
    permitted-plan marker removed too (a plan_id permitted before the marker existed): with it, the plan_id is refused
    plan_id_expired (the test below)."""
    r = clean.redis
    issuer_port = clean.data["actors"]["permit_issuer"]["metrics_port"]

    def counts() -> tuple[float, float, float]:
        gate = clean.metrics()
        return (scrape(issuer_port)["permit_issuer_permits_issued_total"], gate["p26_permit_issued_total"],
                gate["p26_gate_writes_total"])

    plan = new_plan()
    r.delete(keys.cooldown("ETHUSDT"))
    before = counts()
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"], first
    r.pexpire(keys.permit(plan), 5_000)
    r.delete(keys.plan_decision(plan), keys.cooldown("ETHUSDT"), keys.permitted_plan(plan))
    again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert again["permit"] and again["recorded"] and not again["replayed"], again
    assert 0 < r.pttl(keys.permit(plan)) <= 5_000
    after = counts()
    assert [a - b for a, b in zip(after, before)] == [1, 1, 2], (before, after)


def test_a_plan_id_whose_decision_key_was_removed_is_refused_by_its_marker_and_its_live_permit_left_alone(clean):
    """The decision key removed (by hand, or evicted) while the plan_id's permitted marker lives: the plan_id is refused
    plan_id_expired, nothing written: its live permit keeps its TTL, no second record, no permit counted."""
    r = clean.redis
    issuer_port = clean.data["actors"]["permit_issuer"]["metrics_port"]
    plan = new_plan()
    r.delete(keys.cooldown("ETHUSDT"))
    assert decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))["permit"]
    before = scrape(issuer_port)["permit_issuer_permits_issued_total"]
    r.pexpire(keys.permit(plan), 5_000)
    r.delete(keys.plan_decision(plan), keys.cooldown("ETHUSDT"))
    refused = clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan)
    assert (refused["status"], refused["reason"]) == ("error", "plan_id_expired"), refused
    assert 0 < r.pttl(keys.permit(plan)) <= 5_000 and not r.exists(keys.plan_decision(plan), keys.cooldown("ETHUSDT"))
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    assert scrape(issuer_port)["permit_issuer_permits_issued_total"] == before

