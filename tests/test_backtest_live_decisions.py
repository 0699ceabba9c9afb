"""Parity of decisions: proposals answered by the real gate and permit issuer (real Redis, real ZeroMQ)
and the same history (cluster states, position snapshots, proposals at the times they were sent)
decided by the backtest's decide_all give the same decision, proposal by proposal: cooldowns, a
replay, a plan_id conflict, a symbol outside the allowlist, risk-off, a stale cluster state (the
proxy) and stale snapshots (fail closed)."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from launcher import backtest as bt
from helpers import NO_SHEDDING
from tests.test_gate_service import BOOK, P26, settle, write_book, write_cluster_state

pytestmark = pytest.mark.integration

# Phases, each on a flushed Redis (no cooldowns): (cluster stress, its age in s, the snapshots' age in s,
# proposals (plan key, symbol, action, kill_score); a plan key seen again in its phase resubmits that plan_id).
PHASES = [
    (0.9, 0, 0, [("a", "BTCUSDT", "PARTIAL_50", 0.0), ("b", "BTCUSDT", "PARTIAL_50", 0.0),
                 ("a", "BTCUSDT", "PARTIAL_50", 0.0), ("a", "ETHUSDT", "PARTIAL_50", 0.0),
                 ("c", "DOGEUSDT", "FULL_CLOSE_PROPOSED", 0.0), ("d", "ETHUSDT", "FULL_CLOSE_PROPOSED", 0.9),
                 ("e", "ETHUSDT", "FULL_CLOSE_PROPOSED", 0.0)]),
    (0.1, 200, 0, [("a", "SOLUSDT", "FULL_CLOSE_PROPOSED", 0.9), ("b", "BTCUSDT", "PARTIAL_25", 0.0)]),
    (0.3, 0, 400, [("a", "ETHUSDT", "PARTIAL_50", 0.0), ("b", "SOLUSDT", "HOLD", 0.0)]),
]


@pytest.fixture
def p26(tmp_path, redis_server):
    system = P26(tmp_path / "p26", redis_server.url, gate_settings=NO_SHEDDING)
    system.redis = redis_server.client()
    try:
        yield system.start()
    finally:
        system.stop()  # the processes started, even when start() gave up waiting


def live_phase(p26: P26, stress: float, state_age_s: float, book_age_s: float, proposals: list) -> tuple:
    """Run one phase live: (cluster state's updated_ts, snapshots' ts, [(sent at, plan_id, proposal, reply)])."""
    r = p26.redis
    r.flushdb()
    now = time.time()
    book_ts = int(now - book_age_s)
    write_book(r, now=book_ts)
    updated = int(now - state_age_s)
    settle(p26, write_cluster_state(r, stress, updated_ts=updated))
    plans: dict[str, str] = {}
    out = []
    for key, symbol, action, kill_score in proposals:
        plan_id = plans.setdefault(key, uuid.uuid4().hex)
        sent = time.time()
        out.append((sent, plan_id, (symbol, action, kill_score),
                    p26.client.propose(symbol, action, kill_score=kill_score, plan_id=plan_id)))
    return updated, book_ts, out


def backtest_phase(settings: bt.Settings, stress: float, updated: int, book_ts: int, sent: list) -> list[dict]:
    """The same history through the backtest's decisions: one state published at `updated`, the book's
    snapshots stamped book_ts, each proposal at the time it was sent."""
    k = len(settings.symbols)
    index = {s: i for i, s in enumerate(settings.symbols)}
    positions = bt.PositionRows(np.full(len(BOOK), float(book_ts)), np.array([index[s] for s in BOOK]),
                                np.array([amt * mark for amt, mark in BOOK.values()]))
    rows = [bt.ProposalRow(t, {"plan_id": plan_id, "symbol": symbol, "action_proposed": action,
                               "kill_score": kill_score}, 0) for t, plan_id, (symbol, action, kill_score), _ in sent]
    return bt.decide_all(settings, rows, 0, np.array([float(updated)]), np.array([True]), np.array([stress]),
                         np.zeros((1, k)), np.zeros((1, k), dtype=bool), positions, None)


def test_the_backtest_decides_each_proposal_as_the_live_gate_and_issuer_did(p26):
    settings = bt.settings_from_topology(str(p26.topology))
    seen = set()
    for stress, state_age_s, book_age_s, proposals in PHASES:
        updated, book_ts, sent = live_phase(p26, stress, state_age_s, book_age_s, proposals)
        decided = backtest_phase(settings, stress, updated, book_ts, sent)
        for (t, plan_id, proposal, reply), d in zip(sent, decided):
            where = (proposal, reply, d)
            if reply["status"] == "error":
                assert (reply["reason"], d["gate_reason"], d["final_action"]) == ("plan_id_conflict",) * 2 + ("",), where
                seen.add("plan_id_conflict")
                continue
            live = reply["decision"]
            assert (d["final_action"], d["gate_reason"], d["k_source"], bool(d.get("replayed"))) == \
                (live["final_action"], live["gate_reason"], live["k_source"], live["replayed"]), where
            assert d["stress"] == pytest.approx(live["stress"], abs=1e-9), where
            assert d["K"] == pytest.approx(live["K"], abs=1e-9), where
            if not live["replayed"]:  # a replay: the backtest records no second permit (docs/backtest.md)
                assert d["permit"] == live["permit"], where
            seen.add(live["gate_reason"] if not live["replayed"] else "replayed")
            seen.add(f"K from the {live['k_source']}")
    assert seen >= {"riskoff_accelerate", "cooldown_downgrade", "replayed", "plan_id_conflict", "not_allowed",
                    "fail_closed_portfolio_state", "pass", "K from the cluster", "K from the proxy"}, seen
