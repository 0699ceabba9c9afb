"""Hostile review of the permit issuer's script and `clustergate propose`'s early refusal (branch revscript), each
finding against real processes: a real redis-server, gate and permit issuer."""

from __future__ import annotations

from launcher import keys
from test_gate_service import clean, decision_of, new_plan, system  # noqa: F401 (fixtures)


def test_a_replay_gives_a_permit_ttl_only_for_a_permit_its_decision_issued_that_expires(clean):
    """A replay's permit_ttl_ms was any string's PTTL at the permit key: after the permit expired, another writer's
    "0" with no TTL was answered permit_ttl_ms -1, not null, a live permit by the docs' rule (act on a replay whose
    permit_ttl_ms is not null); and a HOLD's replay (no permit) gave the TTL of a key another writer left there
    (49999), where the docs say null when no permit exists."""
    r = clean.redis
    plan = new_plan()
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"], first
    r.delete(keys.permit(plan))  # expired
    r.set(keys.permit(plan), "0")  # another writer's, no TTL
    again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert again["replayed"] and again["permit"] and again["permit_ttl_ms"] is None, again

    held = new_plan()
    hold = decision_of(clean.client.propose("BTCUSDT", "HOLD", plan_id=held))
    assert (hold["final_action"], hold["permit"], hold["recorded"]) == ("HOLD", False, True), hold
    r.set(keys.permit(held), "1", ex=50)  # another writer's
    again = decision_of(clean.client.propose("BTCUSDT", "HOLD", plan_id=held))
    assert again["replayed"] and not again["permit"] and again["permit_ttl_ms"] is None, again

    live = new_plan()
    r.delete(keys.cooldown("SOLUSDT"))
    issued = decision_of(clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=live))
    assert issued["permit"], issued
    again = decision_of(clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=live))
    assert again["replayed"] and 0 < again["permit_ttl_ms"] <= 60_000, again
