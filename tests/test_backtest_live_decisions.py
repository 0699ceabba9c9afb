"""Parity of decisions: proposals answered by the real gate and permit issuer (real Redis, real ZeroMQ)
and the same history (cluster states, position snapshots, proposals at the times they were sent)
decided by the backtest's decide_all give the same decision, proposal by proposal: cooldowns, a
replay, a plan_id conflict, a symbol outside the allowlist, risk-off, a stale cluster state (the
proxy) and stale snapshots (fail closed); and histories over several slots (LiveHistory): cooldowns carried
from slot to slot up to just inside and just outside their TTL, a state going stale and fresh again, positions
changing sign and going flat, stress at the risk-off line, a symbol without a snapshot, batches in which a
replay, a plan_id conflict or a refused proposal comes before a new plan of its symbol, realized sigma (the cold
line, a vol of 0, a state without realized vol) and the monotone policy."""

from __future__ import annotations

import math
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from launcher import backtest as bt, keys
from helpers import NO_SHEDDING, write_topology
from tests.test_gate_service import (BOOK, P26, dealer_proposals, proposal_body, settle, write_book,
                                     write_cluster_state)

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


def assert_same_decision(proposal: tuple, reply: dict, d: dict) -> set[str]:
    """The backtest's decision d is the live reply's: final action, reason, K source, replayed, stress and K (1e-9),
    permit (but for a replay's), or both plan_id_conflict; what was seen (reason or replayed, K source)."""
    where = (proposal, reply, d)
    if reply["status"] == "error":
        assert reply["reason"] in ("plan_id_conflict", "invalid_proposal"), where
        assert (d["gate_reason"], d["final_action"]) == (reply["reason"], ""), where
        return {reply["reason"]}
    live = reply["decision"]
    assert (d["final_action"], d["gate_reason"], d["k_source"], bool(d.get("replayed"))) == \
        (live["final_action"], live["gate_reason"], live["k_source"], live["replayed"]), where
    assert d["stress"] == pytest.approx(live["stress"], abs=1e-9), where
    assert d["K"] == pytest.approx(live["K"], abs=1e-9), where
    if not live["replayed"]:  # a replay: the backtest records no second permit (docs/backtest.md)
        assert d["permit"] == live["permit"], where
    if "sigma_source" in live:
        assert (d.get("sigma_source"), d.get("sigma_fallback_symbols")) == \
            (live["sigma_source"], live.get("sigma_fallback_symbols")), where
    return {live["gate_reason"] if not live["replayed"] else "replayed", f"K from the {live['k_source']}"}


def test_the_backtest_decides_each_proposal_as_the_live_gate_and_issuer_did(p26):
    settings = bt.settings_from_topology(str(p26.topology))
    seen = set()
    for stress, state_age_s, book_age_s, proposals in PHASES:
        updated, book_ts, sent = live_phase(p26, stress, state_age_s, book_age_s, proposals)
        decided = backtest_phase(settings, stress, updated, book_ts, sent)
        for (t, plan_id, proposal, reply), d in zip(sent, decided):
            seen |= assert_same_decision(proposal, reply, d)
    assert seen >= {"riskoff_accelerate", "cooldown_downgrade", "replayed", "plan_id_conflict", "not_allowed",
                    "fail_closed_portfolio_state", "pass", "K from the cluster", "K from the proxy"}, seen


# --------------------------------------------------------------------------- histories over several slots
# The cases above each decide on one state and one book. Below, one history per test runs in real time against the
# live gate and issuer, with states written (and left to go stale), books changed and cooldowns carried from slot to
# slot, and is then decided whole by the backtest (revbtlive).

COOLDOWN_TTL_S = 2  # the issuer's (whole seconds, as the topology takes it)
STALE_AFTER_S = 8   # the positions'; the demo's gate freshness_s is 3 s
# The live gate decides a proposal a little after the client sent it, and the issuer sets a cooldown a little after
# that: a proposal meant to fall inside a window is sent MARGIN_S before its end by the send time of what opened it,
# one meant to fall outside is sent MARGIN_S after its end by the reply time (always after the issuer's write).
MARGIN_S = 0.6
# A book the cooldown and fallback histories hold: long BTC and ETH against short SOL, concentration 0.128, so that
# stress (0.632 + 0.15 K) stays between the cold and risk-off lines and a cooldown's step shows in the reason.
BALANCED = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (2.0, 3400.0), "SOLUSDT": (-200.0, 150.0)}


@contextmanager
def short_p26(workdir: Path, server, **gate_settings) -> Iterator[P26]:
    """The gate and issuer with a COOLDOWN_TTL_S cooldown and STALE_AFTER_S snapshots, so that histories cross them
    within seconds; the gate's other settings as given."""
    system = P26(workdir, server.url, gate_settings={**NO_SHEDDING, **gate_settings},
                 issuer_settings={"cooldown_ttl_s": COOLDOWN_TTL_S})
    system.data["positions"]["stale_after_s"] = STALE_AFTER_S
    write_topology(system.topology, system.data)
    system.redis = server.client()
    try:
        yield system.start()
    finally:
        system.stop()


@pytest.fixture
def p26_short(tmp_path, redis_server):
    with short_p26(tmp_path / "p26", redis_server) as system:
        yield system


class LiveHistory:
    """A history run against the live gate and issuer as it is written (states, snapshots, proposals, waits), and
    recorded as the backtest's inputs: states published at their updated_ts_ms, positions rows at their ts_epoch,
    proposals at the time they were sent."""

    def __init__(self, p26: P26, workdir: Path):
        self.p26, self.r, self.workdir = p26, p26.redis, workdir
        self.r.flushdb()
        self.states: list[tuple[float, float]] = []            # (published at, cluster stress)
        self.vols: list[dict[str, float]] = []                 # each state's realized vol of its matrix's symbols
        self.rows: list[tuple[float, str, float, float]] = []  # (ts, symbol, position_amt, mark_price)
        self.sent: list[tuple] = []                            # (sent at, plan_id, proposal, reply)
        self.plans: dict[str, str] = {}
        self.times: dict[str, tuple[float, float]] = {}        # label -> (sent at, reply at)

    def state(self, stress: float, vol: dict[str, float] | None = None) -> None:
        """The state writer's write of a new state, with the realized vol of the matrix's symbols when given (the
        hash replaced whole, with the state's stamps): stamped now (after every proposal sent so far), read by the
        gate before the next proposal."""
        published = time.time()
        stamps = {"updated_ts": int(published), "updated_ts_ms": int(published * 1000)}
        self.r.hset(keys.CLUSTER_STATE, mapping={**stamps, "cluster_stress": stress, "clusters_count": 1})
        self.r.delete(keys.REALIZED_VOL)
        if vol:
            self.r.hset(keys.REALIZED_VOL, mapping={**vol, keys.REALIZED_VOL_UPDATED_TS: stamps["updated_ts"],
                                                    keys.REALIZED_VOL_UPDATED_TS_MS: stamps["updated_ts_ms"]})
        settle(self.p26, time.time())
        self.states.append((published, stress))
        self.vols.append(vol or {})

    def book(self, positions: dict[str, tuple[float, float]]) -> None:
        """The execution layer's snapshots of these symbols (position_amt, mark_price), stamped ts_epoch in whole
        seconds: the next second, after every proposal sent so far, is waited for."""
        ts = math.floor(time.time()) + 1
        time.sleep(max(0.0, ts - time.time()))
        for symbol, (amt, mark) in positions.items():
            self.r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": mark,
                                                                 "ts_epoch": ts})
            self.rows.append((float(ts), symbol, amt, mark))
        settle(self.p26, time.time())

    def at(self, label: str, offset_s: float, after_reply: bool = False) -> None:
        """Wait until offset_s after the proposal `label` was sent (or its reply came)."""
        until = self.times[label][1 if after_reply else 0] + offset_s
        time.sleep(max(0.0, until - time.time()))

    def at_state(self, offset_s: float) -> None:
        """Wait until offset_s after the last state was stamped."""
        time.sleep(max(0.0, self.states[-1][0] + offset_s - time.time()))

    def propose(self, key: str, symbol: str, action: str, kill_score: float = 0.0) -> None:
        plan_id = self.plans.setdefault(key, uuid.uuid4().hex)
        sent = time.time()
        reply = self.p26.client.propose(symbol, action, kill_score=kill_score, plan_id=plan_id)
        self.times[key] = (sent, time.time())
        self.sent.append((sent, plan_id, (symbol, action, kill_score), reply))

    def propose_at_once(self, proposals: list[tuple]) -> None:
        """Proposals (key, symbol, action[, kill_score]) sent together on one DEALER, decided by the gate in one batch
        where it can; the backtest takes them all at the time they were sent, in order."""
        proposals = [(key, symbol, action, *rest, 0.0)[:4] for key, symbol, action, *rest in proposals]
        plan_ids = [self.plans.setdefault(key, uuid.uuid4().hex) for key, *_ in proposals]
        sent = time.time()
        replies = dealer_proposals(self.p26.endpoint, [proposal_body(plan_id, symbol, action, repr(kill_score))
                                                       for plan_id, (_, symbol, action, kill_score)
                                                       in zip(plan_ids, proposals)])
        for plan_id, (key, symbol, action, kill_score), reply in zip(plan_ids, proposals, replies):
            self.times[key] = (sent, time.time())
            self.sent.append((sent, plan_id, (symbol, action, kill_score), reply))

    def decided_by_the_backtest(self, settings: bt.Settings) -> list[dict]:
        """The history through the backtest's decide_all, its positions and proposals read from the files
        `--positions` and `--proposals` take (written in workdir), each time as repr writes it."""
        positions_csv, proposals_csv = self.workdir / "positions.csv", self.workdir / "proposals.csv"
        positions_csv.write_text("ts,symbol,position_amt,mark_price\n" + "".join(
            f"{ts!r},{symbol},{amt!r},{mark!r}\n" for ts, symbol, amt, mark in self.rows))
        proposals_csv.write_text("ts,plan_id,symbol,action_proposed,kill_score\n" + "".join(
            f"{t!r},{plan_id},{symbol},{action},{kill_score!r}\n"
            for t, plan_id, (symbol, action, kill_score), _ in self.sent))
        n, k = len(self.states), len(settings.symbols)
        vol = np.array([[v.get(s, 0.0) for s in settings.symbols] for v in self.vols], dtype=np.float64).reshape(n, k)
        in_matrix = np.array([[s in v for s in settings.symbols] for v in self.vols], dtype=bool).reshape(n, k)
        return bt.decide_all(settings, bt.read_proposals(str(proposals_csv)), 0,
                             np.array([p for p, _ in self.states], dtype=np.float64), np.ones(n, dtype=bool),
                             np.array([s for _, s in self.states], dtype=np.float64), vol, in_matrix,
                             bt.read_positions(str(positions_csv), settings.symbols, settings.positions.stale_after_s),
                             None)

    def assert_the_backtest_agrees(self) -> list[tuple[dict, dict]]:
        """Every proposal decided by the backtest as the live gate and issuer did; (live reply, backtest decision)."""
        decided = self.decided_by_the_backtest(bt.settings_from_topology(str(self.p26.topology)))
        assert len(decided) == len(self.sent)
        for (_, _, proposal, reply), d in zip(self.sent, decided):
            assert_same_decision(proposal, reply, d)
        return [(reply, d) for (_, _, _, reply), d in zip(self.sent, decided)]


def decisions(pairs: list[tuple[dict, dict]]) -> list[tuple]:
    """(final action, reason, K source) of each live decision, to state what a history must have gone through; an
    error reply as ("", its reason, None)."""
    return [(reply["decision"]["final_action"], reply["decision"]["gate_reason"], reply["decision"]["k_source"])
            if reply["status"] == "ok" else ("", reply["reason"], None) for reply, _ in pairs]


def test_a_cooldown_is_carried_across_slots_inside_and_just_outside_its_ttl_as_live(p26_short, tmp_path):
    h = LiveHistory(p26_short, tmp_path)
    h.book(BALANCED)
    h.state(0.3)
    h.propose("a", "BTCUSDT", "PARTIAL_50")                       # pass: the cooldown until a + ttl
    h.state(0.35)                                                 # a new slot
    h.at("a", COOLDOWN_TTL_S - MARGIN_S)
    h.propose("b", "BTCUSDT", "PARTIAL_50")                       # inside: PARTIAL_25, and the cooldown set again
    h.propose("c", "ETHUSDT", "PARTIAL_50")                       # another symbol: no cooldown
    h.state(0.4)
    h.at("a", COOLDOWN_TTL_S + MARGIN_S, after_reply=True)
    h.propose("d", "BTCUSDT", "PARTIAL_25")                       # outside a's, inside b's: HOLD, nothing set
    h.propose("e", "ETHUSDT", "FULL_CLOSE_PROPOSED")              # inside c's: PARTIAL_75
    h.book(BALANCED)                                              # the snapshots kept fresh
    h.state(0.45)
    h.at("b", COOLDOWN_TTL_S + MARGIN_S, after_reply=True)
    h.propose("f", "BTCUSDT", "FULL_CLOSE_PROPOSED")              # just outside b's (d set none): pass
    h.propose("b", "BTCUSDT", "PARTIAL_50")                       # b again: its recorded decision, no cooldown step
    h.propose_at_once([("g", "SOLUSDT", "PARTIAL_75"), ("h", "SOLUSDT", "PARTIAL_75")])  # one batch: h under g's
    h.state(0.5)
    h.at("f", COOLDOWN_TTL_S - MARGIN_S)
    h.propose("i", "BTCUSDT", "HOLD")                             # HOLD under a cooldown: HOLD pass, nothing set
    h.state(0.55)
    h.at("f", COOLDOWN_TTL_S + MARGIN_S, after_reply=True)
    h.propose("j", "BTCUSDT", "PARTIAL_25")                       # outside f's: pass
    pairs = h.assert_the_backtest_agrees()
    assert decisions(pairs) == [
        ("PARTIAL_50", "pass", "cluster"), ("PARTIAL_25", "cooldown_downgrade", "cluster"),
        ("PARTIAL_50", "pass", "cluster"), ("HOLD", "cooldown_downgrade", "cluster"),
        ("PARTIAL_75", "cooldown_downgrade", "cluster"), ("FULL_CLOSE_PROPOSED", "pass", "cluster"),
        ("PARTIAL_25", "cooldown_downgrade", "cluster"), ("PARTIAL_75", "pass", "cluster"),
        ("PARTIAL_50", "cooldown_downgrade", "cluster"), ("HOLD", "pass", "cluster"),
        ("PARTIAL_25", "pass", "cluster")], pairs


def test_a_stale_cluster_state_falls_back_to_the_proxy_and_back_over_several_slots_as_live(p26_short, tmp_path):
    freshness_s = bt.settings_from_topology(str(p26_short.topology)).freshness_s
    h = LiveHistory(p26_short, tmp_path)
    h.book(BALANCED)
    h.propose("none", "BTCUSDT", "HOLD")                          # no state yet: the proxy
    h.state(0.2)
    h.propose("p0", "BTCUSDT", "HOLD")
    h.at_state(freshness_s - MARGIN_S)
    h.propose("p0-late", "ETHUSDT", "HOLD")                       # still fresh
    h.at_state(freshness_s + MARGIN_S)
    h.propose("p0-stale", "SOLUSDT", "HOLD")                      # stale: the proxy
    h.book(BALANCED)                                              # snapshots kept fresh, no new state
    h.propose("p0-staler", "BTCUSDT", "FULL_CLOSE_PROPOSED")
    h.state(0.9)                                                  # fresh again: the cluster
    h.propose("p1", "ETHUSDT", "PARTIAL_25")
    h.at_state(freshness_s + MARGIN_S)
    h.propose("p1-stale", "SOLUSDT", "PARTIAL_25")                # the proxy
    h.state(0.6)
    h.propose("p2", "SOLUSDT", "FULL_CLOSE_PROPOSED")             # SOL's cooldown from p1-stale, K from the cluster
    pairs = h.assert_the_backtest_agrees()
    assert decisions(pairs) == [
        ("HOLD", "pass", "proxy"), ("HOLD", "pass", "cluster"), ("HOLD", "pass", "cluster"), ("HOLD", "pass", "proxy"),
        ("FULL_CLOSE_PROPOSED", "pass", "proxy"), ("PARTIAL_25", "pass", "cluster"), ("PARTIAL_25", "pass", "proxy"),
        ("PARTIAL_75", "cooldown_downgrade", "cluster")], pairs
    k = [reply["decision"]["K"] for reply, _ in pairs]
    assert (k[1], k[5], k[7]) == (0.2, 0.9, 0.6) and k[3] == k[4] == pytest.approx(38800 / 68800, abs=1e-6), k


def test_positions_that_change_sign_go_flat_and_come_back_between_slots_are_decided_as_live(p26_short, tmp_path):
    h = LiveHistory(p26_short, tmp_path)
    long_btc = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
    h.book(long_btc)
    h.propose("long", "BTCUSDT", "HOLD")                          # no state: K is the proxy, the long side's weight
    h.book({"BTCUSDT": (-0.5, 64000.0)})                          # BTC short: net short, another proxy
    h.propose("short", "BTCUSDT", "HOLD")
    h.propose("short-close", "SOLUSDT", "FULL_CLOSE_PROPOSED")   # stress 0.73: not cold
    h.book({"BTCUSDT": (0.0, 64000.0), "ETHUSDT": (0.0, 3400.0), "SOLUSDT": (0.0, 150.0)})  # every position flat
    h.propose("flat", "BTCUSDT", "FULL_CLOSE_PROPOSED")           # stress 0: cold
    h.propose("flat-hard", "ETHUSDT", "FULL_CLOSE_PROPOSED", kill_score=0.9)
    h.book({"ETHUSDT": (-8.0, 3400.0)})                           # ETH back, short
    h.propose("eth-short", "BTCUSDT", "HOLD")
    h.state(0.5)
    h.book(long_btc)                                              # all back, a fresh state
    h.propose("back", "BTCUSDT", "PARTIAL_50")
    h.at("back", STALE_AFTER_S + MARGIN_S, after_reply=True)      # no snapshot refreshed: every one stale
    h.propose("gone", "ETHUSDT", "PARTIAL_50")
    h.book(long_btc)
    h.propose("gone", "ETHUSDT", "PARTIAL_50")                    # the same plan: its recorded HOLD, not a permit
    pairs = h.assert_the_backtest_agrees()
    assert decisions(pairs) == [
        ("HOLD", "pass", "proxy"), ("HOLD", "pass", "proxy"), ("FULL_CLOSE_PROPOSED", "pass", "proxy"),
        ("PARTIAL_50", "forbid_full_close_portfolio_cold", "proxy"),
        ("PARTIAL_75", "forbid_full_close_portfolio_cold_ks_hard", "proxy"), ("HOLD", "pass", "proxy"),
        ("PARTIAL_75", "riskoff_accelerate", "cluster"), ("HOLD", "fail_closed_portfolio_state", "proxy"),
        ("HOLD", "fail_closed_portfolio_state", "proxy")], pairs
    assert pairs[-1][0]["decision"]["replayed"]
    # the proxy: the long side's weight, then the short side's; 0 when flat; 1 for ETH short alone
    k = [reply["decision"]["K"] for reply, _ in pairs]
    assert k[:6] == pytest.approx([59200 / 65200, 38000 / 65200, 38000 / 65200, 0.0, 0.0, 1.0], abs=1e-6), k


# Long BTC against short SOL, ETH with no snapshot: concentration 0.5 and proxy 0.75, so that K 0.5 gives stress
# 0.6 + 0.125 + 0.075 = 0.8, exactly SPEC's risk-off line (0.7999999999999999 in floats before the rounding).
EDGE = {"BTCUSDT": (1.0, 48000.0), "SOLUSDT": (-100.0, 160.0)}


def test_risk_off_at_its_line_a_symbol_without_a_snapshot_and_batches_after_a_replay_or_a_conflict_as_live(
        p26_short, tmp_path):
    h = LiveHistory(p26_short, tmp_path)
    h.book(EDGE)
    h.state(0.5)
    h.propose("r1", "BTCUSDT", "PARTIAL_50")                      # stress 0.8: risk-off
    h.propose("r2", "ETHUSDT", "PARTIAL_25")                      # ETH holds nothing: decided on the book, risk-off
    h.propose("r3", "BTCUSDT", "PARTIAL_50")                      # r1's cooldown: PARTIAL_25, then risk-off
    h.state(0.4999)                                               # stress 0.799985: below the line
    h.propose("r4", "SOLUSDT", "PARTIAL_50")
    h.propose("r5", "ETHUSDT", "PARTIAL_50")                      # r2's cooldown
    h.book({"ETHUSDT": (8.0, 3400.0)})                            # ETH held from now on
    h.state(0.0)
    h.propose("r6", "ETHUSDT", "HOLD")
    h.at("r5", COOLDOWN_TTL_S + MARGIN_S, after_reply=True)       # every cooldown over
    h.state(0.0)
    # a plan_id resubmitted (a replay, then one with other values: a conflict) sets no cooldown, so the next plan
    # of its symbol in the same batch is decided without one
    h.propose_at_once([("r3", "BTCUSDT", "PARTIAL_50"), ("r7", "BTCUSDT", "PARTIAL_50")])
    h.propose_at_once([("r4", "SOLUSDT", "PARTIAL_25"), ("r8", "SOLUSDT", "PARTIAL_50")])
    h.book({"BTCUSDT": EDGE["BTCUSDT"], "SOLUSDT": EDGE["SOLUSDT"]})  # ETH's snapshot no longer refreshed
    h.state(0.0)
    h.book({"BTCUSDT": EDGE["BTCUSDT"], "SOLUSDT": EDGE["SOLUSDT"]})
    h.state(0.0)
    h.at("r6", STALE_AFTER_S + 1 + MARGIN_S, after_reply=True)    # ETH's stale (stamped at most 1 s before r6)
    h.book({"BTCUSDT": EDGE["BTCUSDT"], "SOLUSDT": EDGE["SOLUSDT"]})
    h.state(0.5)
    # a proposal refused (kill_score 1.5) decides nothing: the next plan of its symbol, in its batch, has no cooldown
    h.propose_at_once([("r12", "BTCUSDT", "FULL_CLOSE_PROPOSED", 1.5), ("r13", "BTCUSDT", "FULL_CLOSE_PROPOSED")])
    h.propose("r9", "ETHUSDT", "PARTIAL_25")                      # on BTC and SOL alone again: stress 0.8, risk-off
    # one plan_id twice in one batch: the recorded decision again; then with other values: a conflict
    h.propose_at_once([("r10", "BTCUSDT", "PARTIAL_50"), ("r10", "BTCUSDT", "PARTIAL_50")])
    h.propose_at_once([("r11", "SOLUSDT", "PARTIAL_50"), ("r11", "SOLUSDT", "PARTIAL_25")])
    pairs = h.assert_the_backtest_agrees()
    assert decisions(pairs) == [
        ("PARTIAL_75", "riskoff_accelerate", "cluster"), ("PARTIAL_75", "riskoff_accelerate", "cluster"),
        ("PARTIAL_75", "riskoff_accelerate", "cluster"), ("PARTIAL_50", "pass", "cluster"),
        ("PARTIAL_25", "cooldown_downgrade", "cluster"), ("HOLD", "pass", "cluster"),
        ("PARTIAL_75", "riskoff_accelerate", "cluster"), ("PARTIAL_50", "pass", "cluster"),
        ("", "plan_id_conflict", None), ("PARTIAL_50", "pass", "cluster"), ("", "invalid_proposal", None),
        ("FULL_CLOSE_PROPOSED", "pass", "cluster"),
        ("PARTIAL_75", "riskoff_accelerate", "cluster"), ("PARTIAL_75", "riskoff_accelerate", "cluster"),
        ("PARTIAL_75", "riskoff_accelerate", "cluster"), ("PARTIAL_75", "riskoff_accelerate", "cluster"),
        ("", "plan_id_conflict", None)], pairs
    assert [reply["decision"]["stress"] for reply, _ in pairs if reply["status"] == "ok"] == \
        [0.8, 0.8, 0.8, 0.799985, 0.799985, 0.762281, 0.8, 0.762281, 0.762281, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert [reply["decision"]["replayed"] for reply, _ in pairs if reply["status"] == "ok"] == \
        [False] * 6 + [True] + [False] * 5 + [True, False]


@pytest.fixture
def p26_realized(tmp_path, redis_server):
    """The gate taking realized sigma (the state writer's realized vol hash) instead of the constant."""
    with short_p26(tmp_path / "p26", redis_server, sigma_source="realized") as system:
        yield system


def test_realized_sigma_from_a_fresh_state_the_cold_line_and_the_constant_when_missing_or_stale_as_live(
        p26_realized, tmp_path):
    freshness_s = bt.settings_from_topology(str(p26_realized.topology)).freshness_s
    h = LiveHistory(p26_realized, tmp_path)
    h.book({"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0)})  # all long: concentration 1; SOL none
    h.propose("before", "BTCUSDT", "HOLD")                        # no state: the constant, as a fallback
    h.state(0.0, {"BTCUSDT": 0.2, "ETHUSDT": 0.2, "SOLUSDT": 0.3})  # heat 0.5: stress 0.3 + 0.25 = 0.55, the line
    h.propose("line", "BTCUSDT", "FULL_CLOSE_PROPOSED")           # at 0.55: not cold
    h.state(0.0, {"BTCUSDT": 0.2, "ETHUSDT": 0.19999})            # stress 0.549991: cold
    h.propose("below", "ETHUSDT", "FULL_CLOSE_PROPOSED")
    h.propose("below-hard", "SOLUSDT", "FULL_CLOSE_PROPOSED", kill_score=0.85)  # kill_score at its line
    h.state(0.0, {"BTCUSDT": 0.2, "ETHUSDT": 0.0})                # ETH's 0 (a flat series): its constant
    h.propose("eth-0", "BTCUSDT", "HOLD")
    h.state(0.0, {"BTCUSDT": 0.2, "SOLUSDT": 0.3})                # ETH out of the matrix: its constant
    h.propose("eth-out", "BTCUSDT", "HOLD")
    h.state(0.0)                                                  # a state without realized vol
    h.propose("no-vol", "BTCUSDT", "HOLD")
    h.state(0.0, {"BTCUSDT": 0.2, "ETHUSDT": 0.2})
    h.at_state(freshness_s + MARGIN_S)                            # the state stale: the constant for every symbol
    h.propose("stale", "BTCUSDT", "HOLD")
    h.state(0.0, {"BTCUSDT": 0.2, "ETHUSDT": 0.2})
    h.propose("fresh", "ETHUSDT", "HOLD")
    pairs = h.assert_the_backtest_agrees()
    sigmas = [(reply["decision"]["stress"], reply["decision"]["sigma_source"],
               reply["decision"].get("sigma_fallback_symbols")) for reply, _ in pairs]
    assert [decision + sigma for decision, sigma in zip(decisions(pairs), sigmas)] == [
        ("HOLD", "pass", "proxy", 1.0, "constant_fallback", None),
        ("FULL_CLOSE_PROPOSED", "pass", "cluster", 0.55, "realized", []),
        ("PARTIAL_50", "forbid_full_close_portfolio_cold", "cluster", 0.549991, "realized", []),
        ("PARTIAL_75", "forbid_full_close_portfolio_cold_ks_hard", "cluster", 0.549991, "realized", []),
        ("HOLD", "pass", "cluster", 0.85, "realized", ["ETHUSDT"]),
        ("HOLD", "pass", "cluster", 0.85, "realized", ["ETHUSDT"]),
        # a fresh state without realized vol: the gate finds no realized vol hash, and falls back to the constant;
        # the backtest said realized, every held symbol on the constant, before the revbtlive review
        ("HOLD", "pass", "cluster", 0.85, "constant_fallback", None),
        ("HOLD", "pass", "proxy", 1.0, "constant_fallback", None),
        ("HOLD", "pass", "cluster", 0.55, "realized", [])], pairs


def test_the_monotone_policy_under_cooldowns_cold_and_not_is_decided_as_live(tmp_path, redis_server):
    with short_p26(tmp_path / "p26", redis_server, policy="monotone") as p26:
        h = LiveHistory(p26, tmp_path)
        h.book({"BTCUSDT": (0.0, 64000.0), "ETHUSDT": (0.0, 3400.0), "SOLUSDT": (0.0, 150.0)})  # flat: stress 0
        h.propose("m1", "BTCUSDT", "FULL_CLOSE_PROPOSED")                  # cold: PARTIAL_50
        h.propose("m2", "BTCUSDT", "FULL_CLOSE_PROPOSED")                  # and under its cooldown one step below
        h.propose("m3", "ETHUSDT", "FULL_CLOSE_PROPOSED", kill_score=0.9)  # cold, hard: PARTIAL_75
        h.propose("m4", "ETHUSDT", "FULL_CLOSE_PROPOSED", kill_score=0.9)
        h.book(BALANCED)
        h.state(0.3)
        h.propose("m5", "SOLUSDT", "FULL_CLOSE_PROPOSED")                  # stress 0.677: not cold
        h.propose("m6", "SOLUSDT", "FULL_CLOSE_PROPOSED")
        h.propose("m7", "SOLUSDT", "PARTIAL_25")
        pairs = h.assert_the_backtest_agrees()
    assert [(a, s) for a, s, _ in decisions(pairs)] == [
        ("PARTIAL_50", "forbid_full_close_portfolio_cold"), ("PARTIAL_25", "cooldown_downgrade"),
        ("PARTIAL_75", "forbid_full_close_portfolio_cold_ks_hard"), ("PARTIAL_50", "cooldown_downgrade"),
        ("FULL_CLOSE_PROPOSED", "pass"), ("PARTIAL_75", "cooldown_downgrade"), ("HOLD", "cooldown_downgrade")], pairs
