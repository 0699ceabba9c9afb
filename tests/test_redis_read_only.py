"""A Redis that stops taking writes while it still answers reads (a failover behind a plain redis url left the
actors on the old primary, now a read-only replica): every exit is HOLD redis_unavailable. The gate's reads
work, so it stays ready; the permit issuer, which cannot write a permit, must say so (not ready: `clustergate
status` exits 1, ClustergateActorNotReady), and the gate's p26_fail_closed_total{reason} counts each HOLD
(P26DecisionsFailClosed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import RedisServer, wait_for
from test_gate_service import P26, decision_of, new_plan, write_book

ISSUER_READY = 'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}'
GATE_READY = 'clustergate_actor_ready{actor="gate",kind="gate"}'
FAIL_CLOSED_REDIS = 'p26_fail_closed_total{reason="redis_unavailable"}'


@pytest.fixture
def primary_and_other(tmp_path: Path):
    """The system's Redis (with the gate and the issuer on it) and another Redis it can be made a replica of."""
    other = RedisServer(tmp_path / "other").start()
    primary = RedisServer(tmp_path / "primary").start()
    system = P26(tmp_path / "p26", primary.url).start()
    try:
        yield system, primary, other
    finally:
        system.stop()
        primary.stop()
        other.stop()


def issuer_ready(system: P26) -> float | None:
    from helpers import scrape
    return scrape(system.data["actors"]["permit_issuer"]["metrics_port"]).get(ISSUER_READY)


def test_a_read_only_redis_makes_the_permit_issuer_not_ready_and_counts_every_hold(primary_and_other):
    system, primary, other = primary_and_other
    write_book(other.client())  # the book the system's Redis gets from its new primary
    wait_for(lambda: issuer_ready(system) == 1.0, 10, "the permit issuer ready on a writable Redis")
    r = primary.client()
    r.replicaof("127.0.0.1", other.port)
    wait_for(lambda: r.info("replication").get("master_link_status") == "up", 10, "the replica synced")

    decision = decision_of(system.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
    assert (decision["final_action"], decision["gate_reason"]) == ("HOLD", "redis_unavailable"), decision
    metrics = system.metrics()
    assert metrics[GATE_READY] == 1.0 and metrics[FAIL_CLOSED_REDIS] >= 1.0, metrics
    wait_for(lambda: issuer_ready(system) == 0.0, 15, "the permit issuer not ready while Redis refuses writes")
    log = system.issuer.log()
    assert log.count("event=redis_not_writable") == 1 and "READONLY" in log, log[-2000:]

    r.replicaof("no", "one")
    wait_for(lambda: issuer_ready(system) == 1.0, 15, "the permit issuer ready once Redis takes writes again")
    assert "event=redis_writable_again" in system.issuer.log()
    decision = decision_of(system.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
    assert decision["permit"] is True, decision


class _RedisBefore7:
    """A RespClient's answers from a Redis older than 7, which takes no script flags: the probe does not compile."""

    def __init__(self, role: str):
        self.role = role

    def pipeline(self, commands):
        from launcher.resp import ReplyError
        return [ReplyError("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'")]

    def call(self, *command):
        assert command == ("ROLE",)
        return [self.role, 0, []]


@pytest.mark.parametrize("role, refused", [("master", False), ("slave", True)])
def test_before_redis_7_the_issuer_tells_a_read_only_redis_by_its_role(role, refused):
    from actors.permit_issuer import refuses_writes
    said = refuses_writes(_RedisBefore7(role))
    assert (said is not None) == refused and (not refused or role in said), said
