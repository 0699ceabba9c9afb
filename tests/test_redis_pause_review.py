"""Redis stalled from outside by CLIENT PAUSE while the gate and its permit issuer decide (revpause), against a real
gate, permit issuer and redis-server. SIGSTOP of Redis is covered in test_gate_service.py; a pause differs: under
`WRITE` Redis keeps answering reads (the gate's state read, the issuer's TIME readings) while every script waits."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import zmq

from launcher import keys
from helpers import DEADLINE_SCALE, wait_for
from test_gate_deadlines import body, new_plan
from test_gate_service import decision_of, running_p26, settle, write_book

PAUSE_MS = 3000  # above the gate's permit_timeout_ms (500) and twice redis.timeout_ms (250): the demo topology's
PROPOSALS = (("ETHUSDT", "PARTIAL_50"), ("BTCUSDT", "FULL_CLOSE_PROPOSED"), ("SOLUSDT", "PARTIAL_25"), ("ETHUSDT", "HOLD"))


@pytest.mark.parametrize("mode", ["WRITE", "ALL"])
def test_a_client_pause_of_redis_answers_each_proposal_once_writes_nothing_after_its_deadline_and_logs_no_clock_step(
        tmp_path, redis_server, mode):
    """Proposals sent while Redis is under `CLIENT PAUSE 3000 <mode>` each get one answer (a fault HOLD, `expired`
    or `overloaded`, each sent 1 s before its deadline); nothing of theirs is written after that deadline (the issuer
    drops a connection that timed out, and its script checks the deadline), and a permit always has its record. The
    issuer logs no redis_clock_stepped (Redis's clock did not move), the pair decides again as soon as the pause ends,
    and each plan_id resubmitted twice then is decided once."""
    with running_p26(tmp_path, redis_server, gate_settings={"freshness_s": 3600}) as p26:
        r = p26.redis
        settle(p26, write_book(r))
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(p26.endpoint)
        plans: dict[str, float] = {}
        try:
            r.execute_command("CLIENT", "PAUSE", PAUSE_MS, mode)
            for symbol, action in PROPOSALS:
                plan, deadline_ms = new_plan(), time.time() * 1000 + 1000
                plans[plan] = deadline_ms
                sock.send_multipart([b"", body(plan, symbol, action, deadline_ms)])
            replies = []
            while len(replies) < len(plans) and sock.poll(int(10_000 * DEADLINE_SCALE)):
                replies.append(json.loads(sock.recv_multipart()[-1]))
        finally:
            sock.close(linger=0)
        assert len(replies) == len(plans), replies
        answered = Counter(x.get("plan_id") or x.get("decision", {}).get("plan_id") for x in replies)
        shed = answered.pop(None, 0)
        assert all(x["reason"] == "overloaded" for x in replies if not (x.get("plan_id") or x.get("decision")))
        assert set(answered) <= set(plans) and max(answered.values(), default=1) == 1, replies
        assert len(answered) + shed == len(plans), replies
        # The pause ended once Redis takes a write (under WRITE it answers PING throughout).
        wait_for(lambda: r.set("revpause:pause_over", "1", ex=60), 10, "Redis taking writes after the pause")
        # The pair decides again by itself; its script runs after every one Redis held.
        after = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))
        assert after["recorded"] is True, json.dumps(after)
        records = [(int(entry_id.split("-")[0]), f["plan_id"]) for entry_id, f in r.xrange(keys.GATE_STREAM)]
        late = [(plan, ms - plans[plan]) for ms, plan in records if plan in plans and ms > plans[plan]]
        assert late == [], f"records written after their deadline (ms late): {late}"
        for plan in plans:  # a permit always has its record
            if r.exists(keys.permit(plan)):
                assert any(p == plan for _, p in records) and r.exists(keys.plan_decision(plan)), plan
        for reply in replies:  # a decision answered as recorded is there
            if reply.get("status") == "ok" and reply["decision"]["recorded"]:
                assert any(p == reply["decision"]["plan_id"] for _, p in records), reply
        first = {reply["decision"]["plan_id"]: reply["decision"]["final_action"] for reply in replies
                 if reply.get("status") == "ok" and reply["decision"]["recorded"]}
        for _ in range(2):  # the same plan_id again, twice: one decision, the first one made
            for plan, (symbol, action) in zip(plans, PROPOSALS):
                d = decision_of(p26.client.propose(symbol, action, kill_score=0.5, plan_id=plan))
                assert d["recorded"] is True, d
                assert first.setdefault(plan, d["final_action"]) == d["final_action"], (plan, first, d)
        counts = Counter(f["plan_id"] for _, f in r.xrange(keys.GATE_STREAM))
        assert all(counts[plan] == 1 for plan in plans), counts
        assert "redis_clock_stepped" not in p26.issuer.log(), p26.issuer.log()[-3000:]
