"""Hostile review of issue 14 as built (rev-deadline): client deadlines (`deadline_ms`, `expired`) and explicit
overload (`overloaded`), attacked with a real gate, permit issuer and redis-server and real ZeroMQ clients."""

from __future__ import annotations

import json

from helpers import scrape
from test_gate_deadlines import new_plan, nothing_written, one_reply, p26  # noqa: F401 (p26: the fixture)


def raw_proposal(plan: str, deadline_json: bytes) -> bytes:
    """A PARTIAL_50 proposal (a permit when decided) whose deadline_ms is the raw JSON text given."""
    return b'{"plan_id":"%s","symbol":"ETHUSDT","action_proposed":"PARTIAL_50","deadline_ms":%s}' % (
        plan.encode(), deadline_json)


def test_a_null_deadline_is_refused_not_taken_for_no_deadline(p26) -> None:
    """`"deadline_ms": null` (a client whose deadline computation gave nothing, a serializer writing an unset
    field as null) was decided with no deadline at all, a permit included, however late the gate reached it:
    the safety the client asked for was dropped without a word, while the docs give deadline_ms as a positive
    number and every other bad value of it (NaN, a string, true, 0) is refused. It is refused
    (`invalid_proposal`, naming the plan_id), nothing written; leaving the field out still means no deadline."""
    r = p26.redis
    plan = new_plan()
    before = scrape(p26.gate_metrics_port)
    reply = one_reply(p26.endpoint, raw_proposal(plan, b"null"))
    assert (reply["status"], reply.get("reason"), reply.get("plan_id")) == ("error", "invalid_proposal", plan), reply
    assert "deadline_ms" in reply["detail"] and "leave deadline_ms out" in reply["detail"], reply
    assert nothing_written(r, plan)
    after = scrape(p26.gate_metrics_port)
    assert (after['gate_requests_total{result="bad_request"}']
            == before['gate_requests_total{result="bad_request"}'] + 1)
    # No deadline_ms at all: decided, with its permit.
    reply = one_reply(p26.endpoint, json.dumps({"plan_id": plan, "symbol": "ETHUSDT",
                                                "action_proposed": "PARTIAL_50"}).encode())
    assert reply["status"] == "ok" and reply["decision"]["permit"], reply
