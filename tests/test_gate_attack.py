"""Hostile review of the gate hardening (issue 16), each finding against real processes: a real
redis-server, gate and permit issuer."""

from __future__ import annotations

from actors import keys
from test_gate_service import P26, decision_of, dealer_proposals, new_plan, proposal_body, write_book


def test_a_storm_of_hold_proposals_cannot_fill_the_stream_so_that_a_real_exit_is_refused(tmp_path, redis_server):
    """One bad client proposing exits for a symbol outside the allowlist (HOLD not_allowed, no permit)
    filled the stream to stream_maxlen with records younger than the permit TTL; every later exit of
    every client was then HOLD permit_unavailable stream_full for a minute."""
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url, issuer_settings={"stream_maxlen": 1000}).start()
    try:
        storm = []
        for _ in range(11):
            storm += dealer_proposals(p26.endpoint, [proposal_body(new_plan(), "NOTALLOWED", "FULL_CLOSE_PROPOSED")
                                                     for _ in range(100)])
        assert all(decision_of(reply)["final_action"] == "HOLD" for reply in storm)
        plan = new_plan()
        exit_decision = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert exit_decision["permit"], exit_decision
        assert r.exists(keys.permit(plan)) == 1
        assert [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
        assert r.xlen(keys.GATE_STREAM) <= 1000
    finally:
        p26.stop()
