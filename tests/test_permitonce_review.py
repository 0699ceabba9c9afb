"""revpermit: the permitted-plan marker (clustergate:p26:permitted:{plan_id}) against a real gate, permit issuer and
redis-server, in the batches a burst of proposals makes, and on a replica promoted in a failover."""

from __future__ import annotations

import time

from launcher import keys
from launcher.harness import RedisServer, wait_for
from tests.test_gate_service import (clean, dealer_proposals, decision_of, expire_now, new_plan,  # noqa: F401
                                     proposal_body, system)

SEEN = "p26_plans_seen_total{"


def permitted_then_expired(p26, symbol: str, action: str) -> str:
    """A plan_id that got a permit, its decision, permit and cooldown then expired by Redis (its marker kept)."""
    plan = new_plan()
    assert decision_of(p26.client.propose(symbol, action, plan_id=plan))["permit"]
    for key in (keys.plan_decision(plan), keys.permit(plan), keys.cooldown(symbol)):
        expire_now(p26.redis, key)
    return plan


def test_one_burst_of_new_replayed_conflicting_doubled_and_expired_plan_ids_gives_one_permit_each_and_adds_up(clean):
    """An expired plan_id first in the gate's batch (the gate decided it with a permit, so the next ETHUSDT proposal
    was decided under the cooldown it expected) is refused plan_id_expired with nothing written, and the rest of the
    batch is decided as if it had not been there; a plan_id twice in the burst gets one decision; the counters add up
    (seen = ok + plan_id_conflict + plan_id_expired + expired)."""
    r = clean.redis
    expired = permitted_then_expired(clean, "ETHUSDT", "PARTIAL_50")
    replayed = new_plan()
    assert decision_of(clean.client.propose("BTCUSDT", "PARTIAL_25", plan_id=replayed))["permit"]
    conflicting = new_plan()
    decision_of(clean.client.propose("SOLUSDT", "HOLD", plan_id=conflicting))
    doubled, fresh = new_plan(), new_plan()
    before = clean.metrics()
    bodies = [proposal_body(expired, "ETHUSDT", "PARTIAL_50"), proposal_body(fresh, "ETHUSDT", "PARTIAL_50"),
              proposal_body(replayed, "BTCUSDT", "PARTIAL_25"), proposal_body(conflicting, "SOLUSDT", "PARTIAL_75"),
              proposal_body(doubled, "ETHUSDT", "FULL_CLOSE_PROPOSED"),
              proposal_body(doubled, "ETHUSDT", "FULL_CLOSE_PROPOSED"), proposal_body(expired, "ETHUSDT", "PARTIAL_50")]
    replies = dealer_proposals(clean.endpoint, bodies)
    after = clean.metrics()
    assert [reply.get("reason") for reply in replies] == ["plan_id_expired", None, None, "plan_id_conflict", None,
                                                          None, "plan_id_expired"], replies
    first = decision_of(replies[1])  # decided as if the expired plan_id's permit (never written) set no cooldown
    assert first["permit"] and first["gate_reason"] != "cooldown_downgrade" and not first["replayed"], first
    assert decision_of(replies[2])["replayed"]
    assert [decision_of(replies[i])["replayed"] for i in (4, 5)] == [False, True], replies[4:6]
    for plan in (expired, replayed, fresh, doubled):
        assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1, plan
        assert r.exists(keys.permitted_plan(plan)) == 1, plan
    assert not r.exists(keys.plan_decision(expired), keys.permit(expired))
    assert not r.exists(keys.permitted_plan(conflicting))  # its HOLD left none
    delta = {name: after[name] - before.get(name, 0) for name in after}
    assert delta["p26_permit_issued_total"] == 2 == delta["p26_gate_writes_total"], delta
    requests = {result: delta[f'gate_requests_total{{result="{result}"}}']
                for result in ("ok", "plan_id_conflict", "plan_id_expired", "expired")}
    assert requests == {"ok": 4, "plan_id_conflict": 1, "plan_id_expired": 2, "expired": 0}, requests
    assert sum(v for name, v in delta.items() if name.startswith(SEEN)) == sum(requests.values()) == len(bodies)


def test_the_marker_replicates_with_its_permit_and_a_promoted_replica_refuses_the_expired_plan_id(tmp_path):
    """The marker is one of the script's writes, so it reaches the replica with the decision and permit (WAIT 1
    covers it); after a failover, the plan_id whose decision is gone is refused on the promoted replica too."""
    from actors.permit_issuer import PLAN_ID_EXPIRED, RECORD_DECISION, SEEN_NONE, script_args, script_command
    from launcher.topology import PermitIssuerSettings
    primary = RedisServer(tmp_path / "primary").start()
    replica = RedisServer(tmp_path / "replica").start()
    try:
        a, b = primary.client(), replica.client()
        b.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_for(lambda: b.info("replication").get("master_link_status") == "up", 20, "the replica synced")
        decision = {"plan_id": "p-ha", "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50", "final_action": "PARTIAL_50",
                    "gate_reason": "pass", "stress": 0.5, "heat": 1.0, "concentration": 0.5, "corr_proxy": 0.5, "K": 0.5,
                    "k_source": "proxy", "kill_score": 0.0, "ts_epoch": int(time.time()), "write_id": "w1"}
        args = script_args(PermitIssuerSettings())
        for client in (a, b):
            client.script_load(RECORD_DECISION.source)
        assert a.execute_command(*script_command(decision, SEEN_NONE, args))[0] == "written"
        assert a.execute_command("WAIT", 1, 5000) == 1
        marker = keys.permitted_plan("p-ha")
        assert b.exists(keys.plan_decision("p-ha"), keys.permit("p-ha"), marker) == 3
        assert b.ttl(marker) > PermitIssuerSettings().decision_ttl_s
        b.execute_command("REPLICAOF", "NO", "ONE")  # the failover
        b.delete(keys.plan_decision("p-ha"))  # a day later
        again = b.execute_command(*script_command({**decision, "write_id": "w2"}, SEEN_NONE, args))
        assert again[0] == PLAN_ID_EXPIRED, again
        assert b.xlen(keys.GATE_STREAM) == 1
    finally:
        replica.stop()
        primary.stop()


def test_a_full_redis_writes_no_marker_without_its_permit_and_still_refuses_an_expired_plan_id(tmp_path, redis_server):
    """noeviction and full: Redis refuses a script's first write (the XADD) and never a later one, so a decision
    with a permit is written whole (record, permit, cooldown, marker, decision) or not at all; the marker check comes
    before any write, so a permitted plan_id replayed after its decision expired is still refused plan_id_expired,
    not answered out_of_memory (a fault HOLD whose client would resend it)."""
    from tests.test_gate_service import P26, write_book
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    p26.redis = r
    try:
        expired = permitted_then_expired(p26, "SOLUSDT", "PARTIAL_50")
        r.config_set("maxmemory-policy", "noeviction")
        without_ballast = int(r.info("memory")["used_memory"])
        for _ in range(64):  # 64 KB appends: no large query buffer to free later (test_gate_attack's full Redis)
            r.append("ballast", "x" * 65_536)
        r.config_set("maxmemory", without_ballast + 2_000_000)
        records = r.xlen(keys.GATE_STREAM)
        plan = new_plan()
        held = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (held["final_action"], held["recorded"]) == ("HOLD", False) and "out of memory" in held["detail"], held
        assert r.exists(keys.plan_decision(plan), keys.permit(plan), keys.permitted_plan(plan),
                        keys.cooldown("ETHUSDT")) == 0
        again = p26.client.propose("SOLUSDT", "PARTIAL_50", plan_id=expired)
        assert (again["status"], again.get("reason")) == ("error", "plan_id_expired"), again
        assert r.xlen(keys.GATE_STREAM) == records
        r.delete("ballast")
        written = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert written["permit"] and written["recorded"], written
        assert r.exists(keys.plan_decision(plan), keys.permit(plan), keys.permitted_plan(plan)) == 3
    finally:
        r.config_set("maxmemory", 0)
        p26.stop()


def test_the_redis_memory_alert_names_the_permitted_plan_markers_and_that_a_lower_ttl_frees_none_at_once():
    """ClustergateRedisMemoryHigh is what the on-call reads when exits are about to be refused. The permitted-plan
    markers (30 days each) are most of Redis's memory at the defaults (docs/operating.md's capacity table), yet its
    description named only decision_ttl_s, hold_decision_ttl_s and stream_maxlen; and a lower TTL shortens only the
    keys written after it, so only a higher maxmemory makes room at once."""
    import yaml
    from pathlib import Path
    rules = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "alerts.yml").read_text())
    alert = next(rule for group in rules["groups"] for rule in group["rules"]
                 if rule.get("alert") == "ClustergateRedisMemoryHigh")
    description = alert["annotations"]["description"]
    assert "permitted_plan_ttl_s" in description, description
    assert "only" in description and "written after" in description, description


def test_a_marker_of_another_type_writes_nothing_and_a_string_of_garbage_is_taken_for_a_marker(clean):
    """docs/faults-and-security.md: a hash at clustergate:p26:permitted:PLAN is the fifth key type the script checks
    before any write (HOLD, unrecorded, nothing written); a string there, whatever it holds, refuses its plan_id."""
    r = clean.redis
    hashed, garbage = new_plan(), new_plan()
    r.hset(keys.permitted_plan(hashed), "a", "b")
    held = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=hashed))
    assert (held["final_action"], held["recorded"], held["permit"]) == ("HOLD", False, False), held
    assert keys.permitted_plan(hashed) in held["detail"], held
    assert r.exists(keys.plan_decision(hashed), keys.permit(hashed), keys.cooldown("ETHUSDT")) == 0
    assert r.xlen(keys.GATE_STREAM) == 0
    r.set(keys.permitted_plan(garbage), "x" * 1000)
    refused = clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=garbage)
    assert (refused["status"], refused.get("reason")) == ("error", "plan_id_expired"), refused
    assert "at a time not recorded" in refused["detail"], refused
    r.delete(keys.permitted_plan(hashed))  # the fix the doc gives: the next proposal is decided
    assert decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=hashed))["permit"]
