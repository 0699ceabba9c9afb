"""The gate and the permit issuer as real processes, with a real redis-server and real ZeroMQ sockets."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from launcher import keys
from helpers import (DEADLINE_SCALE, NO_SHEDDING, PYTHON, REPO, ActorProcess, RedisServer, demo_topology_data,
                     retarget, scrape, wait_for, write_topology)
from launcher.client import GateClient, GateUnavailable

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}


class P26:
    """Gate + permit issuer processes against one Redis, and a client."""

    def __init__(self, workdir: Path, redis_url: str, gate_settings: dict | None = None,
                 issuer_settings: dict | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.data = retarget(demo_topology_data(), redis_url)
        for name, extra in (("gate", gate_settings), ("permit_issuer", issuer_settings)):
            if extra:
                self.data["actors"][name]["settings"] = {**(self.data["actors"][name].get("settings") or {}), **extra}
        self.topology = write_topology(workdir / "topology.yaml", self.data)
        self.workdir = workdir
        self.issuer = ActorProcess(self.topology, "permit_issuer", log_dir=workdir)
        self.gate = ActorProcess(self.topology, "gate", log_dir=workdir)
        self.endpoint = self.data["actors"]["gate"]["sockets"]["proposals"]["bind"]
        self.gate_metrics_port = self.data["actors"]["gate"]["metrics_port"]
        self.client = GateClient(self.endpoint, timeout_ms=3000, retries=1)

    def start(self) -> "P26":
        self.issuer.start()
        self.gate.start()
        issuer_port = self.data["actors"]["permit_issuer"]["metrics_port"]
        wait_for(lambda: scrape(issuer_port).get(
            'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}') == 1.0, 20, "the permit issuer ready")
        # One probe, waited for as long as the gate may take to start. Probes given up on after 300 ms and sent
        # again were each answered once the gate served (bound, on a loaded machine, before it was): replies to
        # clients that had gone, counted in clustergate_replies_dropped_total{reason="client_gone"} before the
        # test began (tests of that counter start from 0).
        with GateClient(self.endpoint, timeout_ms=int(20_000 * DEADLINE_SCALE), retries=0) as probe:
            assert self._answers(probe), f"the gate did not answer\n{self.gate.log()[-3000:]}"
        return self

    @staticmethod
    def _answers(probe: GateClient) -> bool:
        try:
            return probe.request_raw(b"probe").get("status") == "error"
        except GateUnavailable:
            return False

    def stop(self) -> None:
        self.client.close()
        self.gate.terminate()
        self.issuer.terminate()

    def metrics(self) -> dict[str, float]:
        return scrape(self.gate_metrics_port)


# The gate decides from a cache of the state, re-read every state_refresh_ms (default) by a timer.
READ_TIMESTAMP = "gate_state_read_timestamp_seconds"


def settle(system: P26, written: float) -> None:
    """Wait until the gate has read the state from Redis after `written` (epoch time taken once the write
    returned), so that its state cache includes the write."""
    wait_for(lambda: system.metrics()[READ_TIMESTAMP] > written, 5, "the gate to read the state after the write",
             interval_s=0.01)


def write_book(r, now: float | None = None) -> float:
    """Write every position of BOOK stamped `now`; the epoch time the writes were done."""
    ts = int(now if now is not None else time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": ts})
    return time.time()


@contextmanager
def running_p26(workdir: Path, server: RedisServer, **settings: Any) -> Iterator[P26]:
    """A started P26 on `server` with the demo book written, its Redis client as `.redis`; stopped on exit."""
    r = server.client()
    write_book(r)
    system = P26(workdir, server.url, **settings).start()
    system.redis = r
    try:
        yield system
    finally:
        system.stop()


def write_cluster_state(r, stress: float, updated_ts: float | None = None) -> float:
    """Write the cluster state; the epoch time the write was done."""
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": int(updated_ts if updated_ts is not None else time.time()),
                                        "cluster_stress": stress, "clusters_count": 1})
    return time.time()


def new_plan() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("p26")
    redis = RedisServer(workdir / "redis").start()
    p26 = P26(workdir, redis.url, gate_settings=NO_SHEDDING).start()
    p26.redis = redis.client()
    try:
        yield p26
    finally:
        p26.stop()
        redis.stop()


@pytest.fixture
def clean(system):
    """The module's system with the book written, no cooldowns and no cluster state."""
    r = system.redis
    r.flushdb()
    settle(system, write_book(r))
    return system


def decision_of(reply: dict) -> dict:
    assert reply["status"] == "ok", reply
    return reply["decision"]


# --------------------------------------------------------------------------- decisions and permits


def test_a_permitted_decision_has_a_permit_and_a_cooldown_with_ttl_60_s_and_its_record_on_the_stream(clean):
    r = clean.redis
    plan = new_plan()
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_75", plan_id=plan))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("PARTIAL_75", "pass", True)
    assert d["permit_key"] == keys.permit(plan)
    assert r.get(keys.permit(plan)) == "1"
    # SPEC: TTL 60 s for both; a few seconds of slack for a loaded machine, far from any other TTL.
    assert 55 <= r.ttl(keys.permit(plan)) <= 60
    assert 55 <= r.ttl(keys.cooldown("ETHUSDT")) <= 60
    records = [fields for _, fields in r.xrange(keys.GATE_STREAM) if fields["plan_id"] == plan]
    assert len(records) == 1
    record = records[0]
    assert (record["symbol"], record["action_proposed"]) == ("ETHUSDT", "PARTIAL_75")
    assert record["final_action"] == "PARTIAL_75" and record["gate_reason"] == "pass"
    assert {"plan_id", "symbol", "action_proposed", "final_action", "gate_reason", "stress", "heat", "concentration",
            "corr_proxy", "kill_score", "ts_epoch", "K", "k_source"} <= set(record)


def test_the_permit_and_the_cooldown_each_take_their_own_configured_ttl(tmp_path, redis_server):
    """permit_ttl_s 30 and cooldown_ttl_s 90: the defaults are both 60 s, so a TTL taken from the other setting
    passes the test above; configured apart, each key's TTL is its own."""
    with running_p26(tmp_path / "p26", redis_server, issuer_settings={"permit_ttl_s": 30, "cooldown_ttl_s": 90}) as p26:
        plan = new_plan()
        d = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_75", plan_id=plan))
        assert d["permit"], d
        r = p26.redis
        assert 25 <= r.ttl(keys.permit(plan)) <= 30
        assert 85 <= r.ttl(keys.cooldown("ETHUSDT")) <= 90


def test_every_permit_in_redis_has_its_decision_on_the_stream(clean):
    r = clean.redis
    for action in ("PARTIAL_25", "FULL_CLOSE_PROPOSED", "HOLD"):
        clean.client.propose("SOLUSDT", action, plan_id=new_plan())
    recorded = {fields["plan_id"] for _, fields in r.xrange(keys.GATE_STREAM)}
    permits = list(r.scan_iter(match=keys.permit("*")))
    assert permits
    for key in permits:
        assert key.rpartition(":")[2] in recorded
        assert 55 <= r.ttl(key) <= 60


def test_resubmitting_a_plan_id_returns_the_first_decision_with_one_permit_and_one_stream_record(clean):
    r = clean.redis
    plan = new_plan()
    before = clean.metrics()
    first = decision_of(clean.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
    # The cooldown the first decision set would downgrade a fresh evaluation; the replay ignores it.
    second = decision_of(clean.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
    assert first["permit"] and not first["replayed"] and second["replayed"]
    replay_fields = ("replayed", "permit_ttl_ms")
    assert ({k: v for k, v in second.items() if k not in replay_fields}
            == {k: v for k, v in first.items() if k not in replay_fields})
    assert "permit_ttl_ms" not in first and 0 < second["permit_ttl_ms"] <= 60_000
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    after = clean.metrics()
    assert after["p26_permit_issued_total"] == before["p26_permit_issued_total"] + 1
    assert after["p26_gate_writes_total"] == before["p26_gate_writes_total"] + 1


def test_a_second_plan_for_the_same_symbol_inside_the_cooldown_is_stepped_down(clean):
    first = decision_of(clean.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
    second = decision_of(clean.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
    assert first["gate_reason"] == "pass"
    assert (second["final_action"], second["gate_reason"]) == ("PARTIAL_75", "cooldown_downgrade")


@pytest.mark.parametrize("symbol", ["DOGEUSDT", "ethusdt"])  # the allowlist is exact: another spelling is not in it
def test_a_symbol_outside_the_allowlist_is_hold_not_allowed_and_recorded(clean, symbol):
    plan = new_plan()
    d = decision_of(clean.client.propose(symbol, "FULL_CLOSE_PROPOSED", plan_id=plan))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "not_allowed", False)
    assert clean.redis.get(keys.permit(plan)) is None
    assert any(f["plan_id"] == plan for _, f in clean.redis.xrange(keys.GATE_STREAM))


def test_no_fresh_snapshot_fails_closed(clean):
    r = clean.redis
    settle(clean, write_book(r, now=time.time() - 301))
    series = 'p26_fail_closed_total{reason="fail_closed_portfolio_state"}'
    before = clean.metrics()[series]
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "fail_closed_portfolio_state", False)
    assert clean.metrics()[series] == before + 1


def test_a_stress_of_exactly_080_accelerates_as_the_decision_record_says(clean):
    """BTC 750 long, ETH 250 short (concentration 0.5), cluster stress 0.5: stress 0.6 + 0.125 + 0.075 is 0.80,
    SPEC's risk-off threshold, which float arithmetic made 0.7999999999999999: PARTIAL_50 was permitted as a
    `pass` while its record (and the stream's) said stress 0.8, where SPEC gives PARTIAL_75."""
    r = clean.redis
    r.flushdb()
    ts = int(time.time())
    r.hset(keys.position_snapshot("BTCUSDT"), mapping={"position_amt": 1, "mark_price": 750, "ts_epoch": ts})
    r.hset(keys.position_snapshot("ETHUSDT"), mapping={"position_amt": -1, "mark_price": 250, "ts_epoch": ts})
    settle(clean, write_cluster_state(r, 0.5))
    plan = new_plan()
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert (d["stress"], d["concentration"], d["K"]) == (0.8, 0.5, 0.5), d
    assert (d["final_action"], d["gate_reason"]) == ("PARTIAL_75", "riskoff_accelerate"), d
    record = next(f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan)
    assert (float(record["stress"]), record["final_action"]) == (0.8, "PARTIAL_75")


def test_the_gate_takes_k_from_fresh_cluster_state_falls_back_when_stale_and_returns(clean):
    # p26_cluster_fallback_total counts decisions made on the proxy, one per decision; the gate's state
    # refresh timer evaluates too but counts no decision.
    r = clean.redis

    def fallbacks() -> float:
        return clean.metrics()["p26_cluster_fallback_total"]
    start = fallbacks()
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert d["k_source"] == "proxy"
    assert fallbacks() == start + 1
    settle(clean, write_cluster_state(r, 0.748))
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert (d["k_source"], d["K"]) == ("cluster", 0.748)
    assert clean.metrics()["p26_cluster_stress_used"] == 1
    assert fallbacks() == start + 1
    settle(clean, write_cluster_state(r, 0.748, updated_ts=time.time() + 30))  # from the future: stale
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert d["k_source"] == "proxy"
    assert clean.metrics()["p26_cluster_stress_used"] == 0
    assert fallbacks() == start + 2
    settle(clean, write_cluster_state(r, 0.5))
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert (d["k_source"], d["K"]) == ("cluster", 0.5)
    assert fallbacks() == start + 2


def test_a_state_key_of_another_type_is_named_once_in_the_gates_log_and_counts_as_missing(clean):
    """A string where the cluster state hash belongs: the gate fell back to the proxy (as SPEC says for no state)
    with no line anywhere naming the key; a snapshot key of another type: that symbol not held, silently."""
    r = clean.redis
    settle(clean, write_cluster_state(r, 0.748))
    r.delete(keys.CLUSTER_STATE)
    r.set(keys.CLUSTER_STATE, "by hand")
    r.delete(keys.position_snapshot("SOLUSDT"))
    r.rpush(keys.position_snapshot("SOLUSDT"), "by hand")
    settle(clean, time.time())
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert (d["k_source"], d["recorded"]) == ("proxy", True)
    assert clean.metrics()["p26_symbols_with_snapshot"] == 2
    lines = lambda: [x for x in clean.gate.log().splitlines() if "event=state_key_unreadable" in x]  # noqa: E731
    wait_for(lines, 5, "the gate to name the keys it cannot read")
    assert keys.CLUSTER_STATE in lines()[0] and keys.position_snapshot("SOLUSDT") in lines()[0], lines()
    settle(clean, time.time() + 0.5)  # several reads later: not logged again
    assert len(lines()) == 1, lines()
    r.delete(keys.CLUSTER_STATE, keys.position_snapshot("SOLUSDT"))
    settle(clean, write_book(r) and write_cluster_state(r, 0.5))
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert (d["k_source"], d["K"]) == ("cluster", 0.5)
    assert "event=state_keys_readable_again" in clean.gate.log()


def test_a_gate_stream_of_another_type_holds_every_proposal_unrecorded_and_is_logged_once(clean):
    """No decision without its record: each proposal is HOLD, unrecorded, no permit. The issuer and the gate logged
    one line per proposal (a log flood at the gate's rate); now one each, naming the key, until it is deleted."""
    r = clean.redis
    r.set(keys.GATE_STREAM, "by hand")
    plans = [new_plan() for _ in range(3)]
    for plan in plans:
        d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (d["final_action"], d["recorded"], d["permit"]) == ("HOLD", False, False), d
        assert keys.GATE_STREAM in d["detail"] and not r.exists(keys.permit(plan), keys.plan_decision(plan))
    issuer_lines = [x for x in clean.issuer.log().splitlines() if "event=bad_key_type" in x]
    gate_lines = [x for x in clean.gate.log().splitlines() if "reason=bad_key_type" in x]
    assert len(issuer_lines) == 1 and keys.GATE_STREAM in issuer_lines[0], issuer_lines
    assert len(gate_lines) == 1 and keys.GATE_STREAM in gate_lines[0], gate_lines
    r.delete(keys.GATE_STREAM)
    assert decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plans[0]))["recorded"] is True
    assert f"event=key_type_right_again key={keys.GATE_STREAM}" in clean.issuer.log()


def test_the_gate_exports_every_p26_series_from_the_start(clean):
    m = clean.metrics()
    for name in ("p26_stress", "p26_heat", "p26_concentration", "p26_corr_proxy", "p26_cluster_stress_used",
                 "p26_symbols_with_snapshot", "p26_total_abs_notional", "p26_gate_writes_total",
                 "p26_permit_issued_total", "p26_cluster_fallback_total", "p26_time_to_permit_seconds_count",
                 'p26_plans_seen_total{action_proposed="FULL_CLOSE_PROPOSED"}',
                 'p26_fail_closed_total{reason="redis_unavailable"}',
                 'p26_fail_closed_total{reason="permit_unavailable"}',
                 'p26_actions_downgraded_total{from_action="FULL_CLOSE_PROPOSED",reason="forbid_full_close_portfolio_cold",to_action="PARTIAL_50"}',
                 'p26_snapshot_age_seconds{symbol="ETHUSDT"}', 'gate_requests_total{result="plan_id_conflict"}',
                 READ_TIMESTAMP):
        assert name in m, name


def test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw(clean):
    """SPEC's gauges are the last evaluation's: each equal to what the decision recorded, the fresh snapshots counted,
    their |notional| summed, each one's age; p26_plans_seen_total counts the proposal by its action. (The series
    existing, checked above, says nothing of their values.)"""
    r = clean.redis
    settle(clean, write_book(r, now=time.time() - 30))  # the snapshots' age is 30 s, not 0
    seen = 'p26_plans_seen_total{action_proposed="PARTIAL_25"}'
    riskoff = ('p26_actions_downgraded_total{from_action="PARTIAL_25",reason="riskoff_accelerate",'
               'to_action="PARTIAL_75"}')
    before = clean.metrics()
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_25", plan_id=new_plan()))
    assert (d["final_action"], d["gate_reason"]) == ("PARTIAL_75", "riskoff_accelerate")  # stress 0.94
    m = clean.metrics()
    assert (m[seen], m[riskoff]) == (before[seen] + 1, before[riskoff] + 1)
    for name in ("stress", "heat", "concentration", "corr_proxy"):
        assert m[f"p26_{name}"] == pytest.approx(d[name], abs=1e-6), name
    assert (d["heat"], d["concentration"]) == (1.0, pytest.approx(53200 / 65200, abs=1e-6))  # they differ
    assert m["p26_cluster_stress_used"] == 0 and d["k_source"] == "proxy"
    assert m["p26_symbols_with_snapshot"] == 3
    assert m["p26_total_abs_notional"] == pytest.approx(32000 + 27200 + 6000)
    for symbol in BOOK:
        assert 29 <= m[f'p26_snapshot_age_seconds{{symbol="{symbol}"}}'] <= 60, symbol
    r.delete(keys.position_snapshot("SOLUSDT"))
    settle(clean, time.time())
    clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan())
    m = clean.metrics()
    assert m["p26_symbols_with_snapshot"] == 2
    assert m["p26_total_abs_notional"] == pytest.approx(32000 + 27200)
    # A snapshot that is gone has no age: a series left at its last age would show a fresh position that is not held.
    assert 'p26_snapshot_age_seconds{symbol="SOLUSDT"}' not in m


# What the gate knows of the book: NaN while it has none it can use (SPEC prescribes no value when it fails closed).
BOOK_GAUGES = ("p26_stress", "p26_heat", "p26_concentration", "p26_corr_proxy", "p26_total_abs_notional")


def test_the_p26_book_gauges_are_nan_not_0_while_the_gate_has_no_usable_book(tmp_path, redis_server):
    """With no position snapshot yet, only stale ones, or Redis unreadable, the gate fails closed and knows nothing of
    the book: its stress, heat, concentration, corr_proxy and total |notional| read NaN (they read 0, a dashboard's "no
    stress, no exposure"), p26_symbols_with_snapshot 0; the real values once a fresh book is read."""
    import math
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    r = redis_server.client()
    try:
        settle(p26, time.time())  # read Redis: no snapshot in it
        m = p26.metrics()
        assert m["p26_symbols_with_snapshot"] == 0
        assert all(math.isnan(m[name]) for name in BOOK_GAUGES), {name: m[name] for name in BOOK_GAUGES}
        d = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        assert d["gate_reason"] == "fail_closed_portfolio_state", d
        assert all(math.isnan(p26.metrics()[name]) for name in BOOK_GAUGES)  # the decision's metrics are no book's
        settle(p26, write_book(r))
        m = p26.metrics()
        assert m["p26_total_abs_notional"] == pytest.approx(32000 + 27200 + 6000)
        assert m["p26_symbols_with_snapshot"] == 3 and 0 < m["p26_stress"] <= 1 and 0 < m["p26_heat"] <= 1
        settle(p26, write_book(r, now=time.time() - 3600))  # every snapshot stale
        m = p26.metrics()
        assert m["p26_symbols_with_snapshot"] == 0
        assert all(math.isnan(m[name]) for name in BOOK_GAUGES), {name: m[name] for name in BOOK_GAUGES}
        settle(p26, write_book(r))
        assert math.isfinite(p26.metrics()["p26_stress"])
        redis_server.stop()
        wait_for(lambda: all(math.isnan(p26.metrics()[name]) for name in BOOK_GAUGES), 10,
                 "the book gauges NaN while Redis is unreadable")
    finally:
        p26.stop()


# --------------------------------------------------------------------------- bad requests


def test_the_documented_bad_requests_get_error_envelopes(clean):
    # Larger than max_request_bytes: libzmq drops the connection unread (MAXMSGSIZE), so no reply at all.
    with pytest.raises(GateUnavailable):
        GateClient(clean.endpoint, timeout_ms=500, retries=0).request_raw(b"x" * 10_000_000)
    cases = [
        ([b'{"plan_id": "a"}', b"second"], "multipart"),
        (b"\x00\xff\xfe garbage", "not_utf8"),
        (b"{oops", "not_json"),
        (b'"a string"', "not_an_object"),
        (json.dumps({"plan_id": "a", "symbol": "ETHUSDT", "action_proposed": "SELL"}).encode(), "invalid_proposal"),
        (json.dumps({"symbol": "ETHUSDT", "action_proposed": "HOLD"}).encode(), "invalid_proposal"),
        (json.dumps({"plan_id": "a", "symbol": "ETHUSDT", "action_proposed": "HOLD", "kill_score": 2}).encode(),
         "invalid_proposal"),
    ]
    for payload, reason in cases:
        reply = clean.client.request_raw(payload)
        assert reply["status"] == "error" and reply["reason"] == reason, (reason, reply)
        assert reply["detail"]
    assert decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))["final_action"] == "HOLD"


# Not one fuzzed request in 5,000 was a valid proposal, so the check on a decision never ran: the example is one (a
# made-up symbol: HOLD not_allowed, recorded, no permit), and the actions among the values make more come near.
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(
    st.binary(max_size=2000),
    st.lists(st.binary(max_size=50), min_size=2, max_size=4),
    st.dictionaries(st.sampled_from(["plan_id", "symbol", "action_proposed", "kill_score", "r_net", "ts_epoch", "x"]),
                    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
                    | st.sampled_from(["HOLD", "PARTIAL_50", "FULL_CLOSE_PROPOSED"]),
                    max_size=7).map(lambda d: json.dumps(d).encode())))
@example(payload=b'{"plan_id": "fuzz-valid", "symbol": "MADEUP", "action_proposed": "FULL_CLOSE_PROPOSED"}')
def test_fuzzed_requests_never_get_a_permit_and_the_gate_keeps_serving(system, payload):
    reply = system.client.request_raw(payload)
    assert reply["status"] in ("ok", "error")
    if reply["status"] == "error":
        assert reply["reason"] and "detail" in reply
        plan = reply.get("plan_id")
    else:
        d = reply["decision"]
        assert (d["final_action"], d["permit"]) == ("HOLD", False), d
        plan = d["plan_id"]
    assert plan is None or system.redis.exists(keys.permit(plan)) == 0


def test_the_gate_still_answers_after_the_fuzzing(system):
    system.redis.flushdb()
    settle(system, write_book(system.redis))
    assert decision_of(system.client.propose("SOLUSDT", "PARTIAL_25", plan_id=new_plan()))["permit"] is True


# --------------------------------------------------------------------------- faults


def test_redis_stopped_mid_run_gives_hold_redis_unavailable_then_the_gate_recovers(tmp_path, redis_server):
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    restarted = None
    try:
        assert decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))["permit"]
        redis_server.stop()
        plan = new_plan()
        d = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "redis_unavailable", False)
        restarted = RedisServer(redis_server.dir, port=redis_server.port).start()
        write_book(restarted.client())

        def permitted():
            d = decision_of(p26.client.propose("BTCUSDT", "PARTIAL_25", plan_id=new_plan()))
            return d["permit"] and d["gate_reason"] != "redis_unavailable"
        wait_for(permitted, 15, "a permit after Redis came back")
        assert p26.metrics()['p26_fail_closed_total{reason="redis_unavailable"}'] >= 1
    finally:
        p26.stop()
        if restarted is not None:
            restarted.stop()


def test_permit_issuer_stopped_gives_hold_permit_unavailable_then_the_gate_recovers(tmp_path, redis_server):
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    try:
        p26.issuer.terminate()
        plan = new_plan()
        d = decision_of(p26.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
        assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "permit_unavailable", False)
        assert r.get(keys.permit(plan)) is None
        p26.issuer.start()

        def permitted():
            return decision_of(p26.client.propose("SOLUSDT", "PARTIAL_25", plan_id=new_plan()))["permit"]
        wait_for(permitted, 15, "a permit after the issuer came back")
        assert p26.metrics()['p26_fail_closed_total{reason="permit_unavailable"}'] >= 1
    finally:
        p26.stop()


# --------------------------------------------------------------------------- the CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", "propose", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.parametrize("action", ["PARTIAL_50", "HOLD", "FULL_CLOSE_PROPOSED"])
def test_clustergate_propose_prints_the_decision_and_exits_0(clean, action):
    """The proposal sent is the one asked for: its symbol, action and kill_score, in the reply and on the stream."""
    plan = new_plan()
    result = run_cli("--symbol", "ETHUSDT", "--action", action, "--kill-score", "0.9", "--plan-id", plan,
                     "--topology", str(clean.topology))
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)["decision"]
    assert (decision["plan_id"], decision["symbol"], decision["action_proposed"], decision["kill_score"]) == (
        plan, "ETHUSDT", action, 0.9), decision
    recorded = [f for _, f in clean.redis.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
    assert [(f["symbol"], f["action_proposed"]) for f in recorded] == [("ETHUSDT", action)], recorded



def test_clustergate_propose_of_a_symbol_in_the_wrong_case_says_it_is_not_in_the_allowlist_and_which_was_meant(clean):
    """opday: `propose --symbol ethusdt` printed a recorded HOLD not_allowed and exited 0 with nothing else, read as
    the gate holding ETHUSDT for risk; `positions set ethusdt` names the allowlist. The gate's decision stands (SPEC:
    HOLD not_allowed, recorded), and stderr now says why and which symbol was meant."""
    plan = new_plan()
    result = run_cli("--symbol", "ethusdt", "--action", "PARTIAL_50", "--plan-id", plan, "--topology",
                     str(clean.topology))
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)["decision"]
    assert (decision["final_action"], decision["gate_reason"], decision["recorded"]) == ("HOLD", "not_allowed", True)
    assert ("'ethusdt' is not in the gate's allowlist (BTCUSDT, ETHUSDT, SOLUSDT), matched exactly: decided HOLD "
            "not_allowed; did you mean ETHUSDT?") in result.stderr, result.stderr

def test_clustergate_propose_exits_1_with_a_message_when_no_gate_answers(tmp_path):
    from helpers import free_port
    result = run_cli("--symbol", "ETHUSDT", "--action", "HOLD", "--endpoint", f"tcp://127.0.0.1:{free_port()}",
                     "--timeout-ms", "100", "--retries", "1")
    assert result.returncode == 1
    assert "no reply from the gate" in result.stderr


def test_clustergate_propose_exits_3_on_a_fault_hold_naming_its_reason_and_the_plan_id_to_retry_with(tmp_path,
                                                                                                      redis_server):
    """A HOLD the gate could not record (`recorded` false) is no policy decision: `propose ... && act` must tell them
    apart. The reply is still printed; a retry with the same plan_id, once the issuer is back, exits 0."""
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    try:
        p26.issuer.terminate()
        plan = new_plan()
        result = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan, "--endpoint", p26.endpoint)
        assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
        decision = json.loads(result.stdout)["decision"]
        assert (decision["plan_id"], decision["final_action"], decision["gate_reason"], decision["recorded"]) == (
            plan, "HOLD", "permit_unavailable", False), decision
        fault_line = [line for line in result.stderr.splitlines() if "permit_unavailable" in line]
        assert fault_line and f"--plan-id {plan}" in fault_line[0], result.stderr
        # rev2b: not "the gate could not record a decision", which an outcome-unknown detail contradicts
        assert "no recorded decision came back (outcome unknown" in fault_line[0], fault_line[0]
        p26.issuer.start()

        def retried() -> subprocess.CompletedProcess | None:
            again = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan, "--endpoint",
                            p26.endpoint)
            return again if again.returncode != 3 else None
        again = wait_for(retried, 15, "a recorded decision for the retried plan_id")
        assert again.returncode == 0, (again.returncode, again.stdout, again.stderr)
        decision = json.loads(again.stdout)["decision"]
        assert decision["recorded"] is True and decision["plan_id"] == plan, decision
    finally:
        p26.stop()


# --------------------------------------------------------------------------- batches


def issuer_request(system, body: dict) -> dict:
    import zmq
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"])
    try:
        sock.send(json.dumps(body).encode())
        assert sock.poll(3000 * DEADLINE_SCALE), "the permit issuer did not answer"
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)


def issuer_item(plan_id: str, symbol: str, final_action: str, *, proposed: str | None = None, cooldown_seen=False,
                from_batch=False) -> dict:
    decision = {"plan_id": plan_id, "symbol": symbol, "action_proposed": proposed or final_action,
                "final_action": final_action,
                "gate_reason": "pass", "stress": 0.5, "heat": 1.0, "concentration": 0.5, "corr_proxy": 0.5,
                "K": 0.5, "k_source": "proxy", "kill_score": 0.0, "ts_epoch": int(time.time())}
    return {"decision": decision, "cooldown_seen": cooldown_seen, "cooldown_from_batch": from_batch}


def test_a_plan_id_twice_in_one_issuer_batch_gets_one_decision_and_one_permit(clean):
    r = clean.redis
    plan = new_plan()
    reply = issuer_request(clean, {"decisions": [issuer_item(plan, "BTCUSDT", "PARTIAL_50"),
                                                 issuer_item(plan, "BTCUSDT", "PARTIAL_25", proposed="PARTIAL_50",
                                                             cooldown_seen=True, from_batch=True)]})
    first, second = reply["results"]
    assert first["written"] and first["permit_issued"] and first["decision"]["final_action"] == "PARTIAL_50"
    assert second["decision"]["replayed"] and second["decision"]["final_action"] == "PARTIAL_50"
    assert not second["written"] and not second["permit_issued"]
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    assert r.exists(keys.permit(plan)) == 1


def test_a_decision_made_under_a_cooldown_its_batch_did_not_set_is_refused_for_a_new_read(clean):
    old, new = new_plan(), new_plan()
    assert issuer_request(clean, issuer_item(old, "SOLUSDT", "HOLD", proposed="PARTIAL_50"))["written"]  # no cooldown
    reply = issuer_request(clean, {"decisions": [issuer_item(old, "SOLUSDT", "PARTIAL_50"),  # replayed: no cooldown
                                                 issuer_item(new, "SOLUSDT", "PARTIAL_25", cooldown_seen=True,
                                                             from_batch=True)]})
    assert reply["results"][0]["decision"]["replayed"]
    assert reply["results"][1] == {"status": "error", "reason": "cooldown_conflict", "detail": reply["results"][1]["detail"]}
    assert clean.redis.exists(keys.permit(new)) == 0


def test_concurrent_dealer_clients_get_one_decision_and_one_permit_per_plan_id(clean):
    import zmq
    r = clean.redis
    ctx = zmq.Context.instance()
    plans = [new_plan() for _ in range(60)]
    actions = ("PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED", "HOLD")
    proposals = [json.dumps({"plan_id": plan, "symbol": ("BTCUSDT", "ETHUSDT", "SOLUSDT")[i % 3],
                             "action_proposed": actions[i % 5]}).encode() for i, plan in enumerate(plans)]
    clients = [ctx.socket(zmq.DEALER) for _ in range(6)]
    try:
        for sock in clients:
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(clean.endpoint)
        for sock in clients:  # every client sends every proposal: each plan_id arrives 6 times, in one burst
            for payload in proposals:
                sock.send_multipart([b"", payload])
        decisions: dict[str, list[dict]] = {plan: [] for plan in plans}
        for sock in clients:
            for _ in proposals:
                assert sock.poll(5000 * DEADLINE_SCALE), "a proposal got no reply"
                envelope = sock.recv_multipart()
                assert envelope[0] == b""
                d = decision_of(json.loads(envelope[1]))
                decisions[d["plan_id"]].append(d)
    finally:
        for sock in clients:
            sock.close(linger=0)
    records = [f for _, f in r.xrange(keys.GATE_STREAM)]
    for plan in plans:
        answers = decisions[plan]
        assert len(answers) == len(clients)
        assert sum(not d["replayed"] for d in answers) == 1, answers
        strip = [{k: v for k, v in d.items() if k not in ("replayed", "permit_ttl_ms")} for d in answers]
        assert all(s == strip[0] for s in strip)
        assert sum(1 for f in records if f["plan_id"] == plan) == 1
        assert r.exists(keys.permit(plan)) == (answers[0]["final_action"] != "HOLD")
        assert answers[0]["final_action"] == "HOLD" or answers[0]["permit"]
    # Within one cooldown a symbol gets at most one permit at the proposed action; later ones step down.
    passed = [d for ds in decisions.values() for d in ds if not d["replayed"] and d["gate_reason"] == "pass"
              and d["final_action"] != "HOLD"]
    assert len({d["symbol"] for d in passed}) == len(passed)


# --------------------------------------------------------------------------- the state cache


def test_a_snapshot_change_is_seen_by_the_first_decision_after_the_gates_next_state_read(clean):
    r = clean.redis
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert d["gate_reason"] == "pass" and d["heat"] > 0.0
    ts = int(time.time())
    for symbol in BOOK:  # every position closed: total notional 0, every metric 0
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": 0.0, "mark_price": 1.0, "ts_epoch": ts})
    settle(clean, time.time())  # the refresh timer's read, no proposal in between
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert d["heat"] == 0.0 and d["concentration"] == 0.0


def test_a_cooldown_set_in_redis_by_another_writer_is_respected_at_once(clean):
    r = clean.redis
    assert decision_of(clean.client.propose("BTCUSDT", "HOLD", plan_id=new_plan()))["gate_reason"] == "pass"
    r.set(keys.cooldown("BTCUSDT"), "1", ex=60)  # not in the gate's cache yet: the issuer's check catches it
    plan = new_plan()
    d = decision_of(clean.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
    assert (d["final_action"], d["gate_reason"]) == ("PARTIAL_75", "cooldown_downgrade")
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1


def test_a_permit_decided_under_a_cooldown_sets_the_cooldown_again_for_its_full_ttl(clean):
    """SPEC: a non-HOLD decision sets the cooldown key with TTL 60 s, one stepped down under a cooldown too: the
    cooldown runs 60 s from the symbol's last permit, as the gate's cache and the backtest take it, not from its first
    (a cooldown set only where none was, NX, ran out 60 s after the first permit while exits went on)."""
    r = clean.redis
    r.set(keys.cooldown("BTCUSDT"), "1", ex=5)  # a cooldown with 5 s left
    d = decision_of(clean.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("PARTIAL_75", "cooldown_downgrade", True)
    assert 55 <= r.ttl(keys.cooldown("BTCUSDT")) <= 60

def test_a_cooldown_deleted_in_redis_by_another_writer_no_longer_downgrades(clean):
    r = clean.redis
    assert decision_of(clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=new_plan()))["permit"]
    assert r.exists(keys.cooldown("SOLUSDT")) == 1
    r.delete(keys.cooldown("SOLUSDT"))  # the gate's cache still has it: the issuer refuses, the gate re-reads
    d = decision_of(clean.client.propose("SOLUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("FULL_CLOSE_PROPOSED", "pass", True)


def test_with_state_refresh_0_the_gate_reads_redis_for_every_batch(tmp_path, redis_server):
    r = redis_server.client()
    ts = int(time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": ts})
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings={"state_refresh_ms": 0}).start()
    try:
        assert decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))["heat"] == 1.0
        for symbol in BOOK:  # seen by the very next decision, no refresh interval
            r.hset(keys.position_snapshot(symbol), mapping={"position_amt": 0.0, "mark_price": 1.0, "ts_epoch": ts})
        assert decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))["heat"] == 0.0
        r.set(keys.cooldown("BTCUSDT"), "1", ex=60)
        d = decision_of(p26.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
        assert (d["final_action"], d["gate_reason"]) == ("PARTIAL_75", "cooldown_downgrade")
    finally:
        p26.stop()


def test_with_state_refresh_0_the_gauge_timer_counts_no_fallback_without_a_proposal(tmp_path, redis_server):
    r = redis_server.client()
    ts = int(time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": ts})
    # No cluster state: every evaluation takes K from the proxy.
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings={"state_refresh_ms": 0, "refresh_s": 0.1}).start()
    try:
        reads = []

        def timer_read() -> bool:
            seen = p26.metrics().get("gate_state_read_timestamp_seconds", 0.0)
            if seen and (not reads or seen > reads[-1]):
                reads.append(seen)
            return len(reads) >= 3
        wait_for(timer_read, 10, "three reads by the gauge timer", interval_s=0.05)
        m = p26.metrics()
        assert m["p26_cluster_stress_used"] == 0.0
        assert m["p26_cluster_fallback_total"] == 0.0
        assert decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))["k_source"] == "proxy"
        assert p26.metrics()["p26_cluster_fallback_total"] == 1.0
    finally:
        p26.stop()


# --------------------------------------------------------------------------- write outcomes and plan_ids


def test_the_permit_script_run_twice_for_one_request_reports_its_own_write_as_written(redis_server):
    """RespClient re-sends a pipeline on a fresh connection after a timeout, so a stalled Redis can run
    one request's script twice: the second run must not turn the fresh decision into a replay."""
    from actors.permit_issuer import RECORD_DECISION, SEEN_NONE, ScriptArgs, outcome, script_call
    from launcher.resp import RespClient
    client = RespClient(port=redis_server.port)
    r = redis_server.client()
    plan = new_plan()
    decision = issuer_item(plan, "ETHUSDT", "PARTIAL_50")["decision"]
    ttls = ScriptArgs(decision_ttl="86400", hold_ttl="600", stream_cap="1000", permit_ttl="60", cooldown_ttl="60",
                      retention_ms="60000")
    script_keys, args, stored = script_call(decision, SEEN_NONE, ttls)
    RECORD_DECISION.run_many(client, [(script_keys, args)])  # the run whose reply the timeout lost
    again = RECORD_DECISION.run_many(client, [(script_keys, args)])  # the re-sent pipeline
    result, envelope, permit_issued = outcome(decision, stored, again[0])
    reply = json.loads(envelope)
    assert (result, permit_issued, reply["written"], reply["decision"]["replayed"]) == ("written", True, True, False)
    # A new request for the same proposal (a client's resend) is a replay.
    script_keys, args, stored = script_call(decision, SEEN_NONE, ttls)
    result, envelope, permit_issued = outcome(decision, stored, RECORD_DECISION.run_many(client, [(script_keys, args)])[0])
    assert (result, permit_issued, json.loads(envelope)["decision"]["replayed"]) == ("replayed", False, True)
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    assert r.exists(keys.permit(plan)) == 1
    client.close()


def test_a_permit_unavailable_hold_says_the_outcome_is_unknown_and_to_resubmit(tmp_path, redis_server):
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    try:
        p26.issuer.terminate()
        d = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        assert (d["gate_reason"], d["recorded"]) == ("permit_unavailable", False)
        assert d["detail"] == ("outcome unknown: resubmit the same plan_id to get the recorded decision, "
                               "if one was made")
    finally:
        p26.stop()


def test_a_plan_id_reused_for_another_proposal_is_refused_with_plan_id_conflict(clean):
    r = clean.redis
    plan = new_plan()
    before = clean.metrics()
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"]
    for symbol, action, kill_score in (("SOLUSDT", "PARTIAL_50", 0.0), ("ETHUSDT", "PARTIAL_25", 0.0),
                                       ("ETHUSDT", "PARTIAL_50", 0.9)):
        reply = clean.client.propose(symbol, action, kill_score=kill_score, plan_id=plan)
        assert (reply["status"], reply["reason"]) == ("error", "plan_id_conflict"), reply
        assert "ETHUSDT" in reply["detail"] and "PARTIAL_50" in reply["detail"]
    assert r.exists(keys.permit(plan)) == 1
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    # A resend of the same proposal still gets the first decision back.
    again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert again["replayed"] and again["final_action"] == first["final_action"] and again["permit"]
    after = clean.metrics()
    assert (after['gate_requests_total{result="plan_id_conflict"}']
            == before['gate_requests_total{result="plan_id_conflict"}'] + 3)


def test_a_wrong_key_type_writes_nothing_and_the_resubmission_after_the_fix_gets_its_permit(clean):
    r = clean.redis
    r.set(keys.GATE_STREAM, "not a stream")
    plan = new_plan()
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert (d["final_action"], d["gate_reason"], d["permit"], d["recorded"]) == ("HOLD", "redis_unavailable", False,
                                                                                 False)
    assert "bad_key_type" in d["detail"] and keys.GATE_STREAM in d["detail"]
    assert r.exists(keys.plan_decision(plan), keys.permit(plan), keys.cooldown("ETHUSDT")) == 0
    r.delete(keys.GATE_STREAM)
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert d["final_action"] != "HOLD" and (d["permit"], d["replayed"], d["recorded"]) == (True, False, True)
    assert r.exists(keys.permit(plan)) == 1
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1


def test_a_replay_reports_that_its_permit_no_longer_exists(clean):
    r = clean.redis
    plan = new_plan()
    assert decision_of(clean.client.propose("BTCUSDT", "PARTIAL_25", plan_id=plan))["permit"]
    r.delete(keys.permit(plan))  # as its 60 s TTL would
    d = decision_of(clean.client.propose("BTCUSDT", "PARTIAL_25", plan_id=plan))
    assert d["replayed"] and d["permit_ttl_ms"] is None


def test_a_stored_decision_that_is_not_an_object_fails_its_item_only(clean):
    r = clean.redis
    broken, fresh = new_plan(), new_plan()
    r.set(keys.plan_decision(broken), "[1, 2]")
    reply = issuer_request(clean, {"decisions": [issuer_item(broken, "BTCUSDT", "HOLD"),
                                                 issuer_item(fresh, "ETHUSDT", "HOLD")]})
    assert reply["status"] == "ok", reply
    first, second = reply["results"]
    assert (first["status"], first["reason"]) == ("error", "corrupt_decision")
    assert second["written"] and second["decision"]["plan_id"] == fresh


def test_a_proposal_decided_again_after_a_cooldown_conflict_counts_one_fallback(tmp_path, redis_server):
    r = redis_server.client()
    write_book(r)  # no cluster state: every decision takes K from the proxy
    # A cache that is not re-read by the timer during the test: the deleted cooldown stays in it.
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings={"state_refresh_ms": 60000}).start()
    try:
        assert decision_of(p26.client.propose("SOLUSDT", "PARTIAL_50", plan_id=new_plan()))["permit"]
        r.delete(keys.cooldown("SOLUSDT"))  # the issuer refuses the cached cooldown; the gate decides again
        conflicts = 'permit_issuer_requests_total{result="cooldown_conflict"}'
        issuer_port = p26.data["actors"]["permit_issuer"]["metrics_port"]
        before, conflicts_before = p26.metrics()["p26_cluster_fallback_total"], scrape(issuer_port)[conflicts]
        d = decision_of(p26.client.propose("SOLUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
        assert (d["gate_reason"], d["k_source"]) == ("pass", "proxy")
        assert scrape(issuer_port)[conflicts] == conflicts_before + 1  # it was decided twice
        assert p26.metrics()["p26_cluster_fallback_total"] == before + 1
    finally:
        p26.stop()


# --------------------------------------------------------------------------- issue 16: the exit path hardened


def dealer_proposals(endpoint: str, bodies: list[bytes], timeout_ms: int = 10000) -> list[dict]:
    """Send every body at once on one DEALER (so the gate decides them in as few batches as it can);
    the replies, in order. timeout_ms, the wait for each reply, is scaled by DEADLINE_SCALE."""
    return dealer_proposals_sent(endpoint, bodies, timeout_ms)()


def dealer_proposals_sent(endpoint: str, bodies: list[bytes], timeout_ms: int = 10000):
    """dealer_proposals in two steps: the bodies sent now; the replies when the returned function is called."""
    import zmq
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        for body in bodies:
            sock.send_multipart([b"", body])
    except BaseException:
        sock.close(linger=0)
        raise

    def replies() -> list[dict]:
        try:
            answers = []
            for _ in bodies:
                assert sock.poll(timeout_ms * DEADLINE_SCALE), "a proposal got no reply"
                answers.append(json.loads(sock.recv_multipart()[-1]))
            return answers
        finally:
            sock.close(linger=0)
    return replies


def proposal_body(plan_id: str, symbol: str, action: str, kill_score: str = "0.0") -> bytes:
    return (f'{{"plan_id": "{plan_id}", "symbol": "{symbol}", "action_proposed": "{action}", '
            f'"kill_score": {kill_score}}}').encode()


def test_one_overflowing_kill_score_fails_only_its_own_proposal(clean):
    """Defect 1: a 400-digit integer made math.isfinite raise OverflowError, and the whole batch got
    internal_error."""
    plans = [new_plan() for _ in range(6)]
    bodies = [proposal_body(p, "BTCUSDT", "HOLD") for p in plans[:5]]
    bodies.insert(2, proposal_body(plans[5], "ETHUSDT", "PARTIAL_50", kill_score="1" + "0" * 400))
    replies = dealer_proposals(clean.endpoint, bodies)
    bad = replies.pop(2)
    assert (bad["status"], bad["reason"]) == ("error", "invalid_proposal"), bad
    assert "kill_score" in bad["detail"]
    assert [(r["status"], r["decision"]["final_action"]) for r in replies] == [("ok", "HOLD")] * 5, replies
    # r_net too.
    reply = dealer_proposals(clean.endpoint, [proposal_body(new_plan(), "BTCUSDT", "HOLD")[:-1]
                                              + b', "r_net": -' + b"9" * 400 + b"}"])[0]
    assert (reply["status"], reply["reason"]) == ("error", "invalid_proposal") and "r_net" in reply["detail"]


def test_a_live_permit_keeps_its_decision_record_through_a_burst_of_holds(tmp_path, redis_server):
    """Defect 3: XADD MAXLEN ~ 1000 trimmed a permit's record away after 1,300 HOLDs. Records younger than
    the longest permit/cooldown TTL are never trimmed now; past the count cap the issuer refuses."""
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings=NO_SHEDDING, issuer_settings={"stream_maxlen": 1000}
              ).start()
    try:
        plan = new_plan()
        assert decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))["permit"]
        replies = []
        for start in range(0, 1300, 100):
            replies += dealer_proposals(p26.endpoint, [proposal_body(new_plan(), "BTCUSDT", "HOLD")
                                                       for _ in range(100)])
        assert r.exists(keys.permit(plan)) == 1
        records = [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
        assert len(records) == 1 and records[0]["final_action"] == "PARTIAL_75"  # risk-off
        recorded = [d for d in map(decision_of, replies) if d.get("recorded", True)]
        refused = [d for d in map(decision_of, replies) if not d.get("recorded", True)]
        # The cap holds: HOLDs fill nine tenths of it (900 records; the last tenth is kept for permits), the
        # rest refused, saying so and that nothing was recorded.
        assert r.xlen(keys.GATE_STREAM) == 900 == 1 + len(recorded)
        assert len(refused) == 401
        assert all(d["gate_reason"] == "permit_unavailable" and "stream_full" in d["detail"]
                   and "nothing was recorded" in d["detail"] for d in refused), refused[:1]
        assert all(r.exists(keys.plan_decision(d["plan_id"])) == 0 for d in refused)
    finally:
        p26.stop()


def test_the_gate_and_redis_py_actors_use_the_db_given_in_the_url_query(tmp_path, redis_server):
    """Defect 4: with ?db=3 the book used db 3 while the gate read and wrote db 0 (and failed closed)."""
    from launcher.redis_conn import connect
    from launcher.topology import load_topology
    r3 = redis.Redis(port=redis_server.port, db=3, decode_responses=True)
    write_book(r3)
    url = f"redis://127.0.0.1:{redis_server.port}?db=3"
    p26 = P26(tmp_path / "p26", url).start()
    try:
        plan = new_plan()
        d = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_75", plan_id=plan))
        assert (d["gate_reason"], d["permit"]) == ("pass", True), d
        assert r3.exists(keys.permit(plan), keys.plan_decision(plan)) == 2
        assert redis_server.client().exists(keys.GATE_STREAM) == 0  # nothing in db 0
        assert connect(load_topology(str(p26.topology)).redis).connection_pool.connection_kwargs["db"] == 3
    finally:
        p26.stop()


def test_a_stored_decision_with_nan_or_deep_nesting_fails_its_own_item_only(clean):
    """Defect 5: NaN in a stored decision (reply encoding) or one nested deeper than the stack (json.loads)
    failed the whole issuer request after every script had run."""
    r = clean.redis
    nan_plan, deep_plan, fresh = new_plan(), new_plan(), new_plan()
    r.set(keys.plan_decision(nan_plan), '{"symbol": "BTCUSDT", "action_proposed": "HOLD", "kill_score": 0.0, '
                                       '"final_action": "HOLD", "gate_reason": "pass", "stress": NaN}')
    r.set(keys.plan_decision(deep_plan), "[" * 100000 + "]" * 100000)
    reply = issuer_request(clean, {"decisions": [issuer_item(nan_plan, "BTCUSDT", "HOLD"),
                                                 issuer_item(deep_plan, "BTCUSDT", "HOLD"),
                                                 issuer_item(fresh, "ETHUSDT", "PARTIAL_50")]})
    assert reply["status"] == "ok", reply
    first, second, third = reply["results"]
    assert (first["status"], first["reason"]) == ("error", "corrupt_decision"), first
    assert (second["status"], second["reason"]) == ("error", "corrupt_decision"), second
    assert third["written"] and third["permit_issued"] and third["decision"]["plan_id"] == fresh


def test_a_batch_with_a_corrupt_stored_decision_never_says_nothing_was_recorded_beside_a_permit(clean):
    """Defect 5 through the gate: the fresh proposal of the batch got HOLD "nothing was recorded" while
    its permit existed."""
    r = clean.redis
    nan_plan, fresh = new_plan(), new_plan()
    r.set(keys.plan_decision(nan_plan), '{"symbol": "BTCUSDT", "action_proposed": "HOLD", "kill_score": 0.0, '
                                       '"final_action": "HOLD", "gate_reason": "pass", "stress": Infinity}')
    corrupt, decided = dealer_proposals(clean.endpoint, [proposal_body(nan_plan, "BTCUSDT", "HOLD"),
                                                         proposal_body(fresh, "ETHUSDT", "PARTIAL_50")])
    d = decision_of(decided)
    assert (d["final_action"], d["permit"]) == ("PARTIAL_75", True), d  # the demo book is risk-off
    assert r.exists(keys.permit(fresh)) == 1
    c = decision_of(corrupt)
    assert (c["final_action"], c["recorded"]) == ("HOLD", False)
    assert "nothing was recorded" not in c["detail"] and "corrupt_decision" in c["detail"]


def test_a_timed_out_proposal_retried_with_the_plan_id_from_gateunavailable_gets_one_permit(tmp_path, redis_server):
    """Defect 6: GateUnavailable did not carry the plan_id propose() made, so the caller's retry was a new
    plan and got a second, larger permit."""
    import signal
    write_book(redis_server.client())
    r = redis_server.client()
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    # Without a deadline (issue 14): with one, the stalled request is answered expired and never decided.
    # 300 ms x DEADLINE_SCALE: the first proposal must be decided by the gate and its issuer within it (the second
    # times out against the stopped gate whatever the wait)
    client = GateClient(p26.endpoint, timeout_ms=int(300 * DEADLINE_SCALE), retries=0, send_deadline=False)
    try:
        assert decision_of(client.propose("BTCUSDT", "HOLD"))["recorded"]  # connected before the gate stalls
        p26.gate.proc.send_signal(signal.SIGSTOP)  # the gate stalls: the client times out, the request waits
        try:
            with pytest.raises(GateUnavailable) as caught:
                client.propose("ETHUSDT", "PARTIAL_50")
        finally:
            p26.gate.proc.send_signal(signal.SIGCONT)
        plan = caught.value.plan_id
        assert plan and plan in str(caught.value)
        wait_for(lambda: r.exists(keys.permit(plan)), 10, "the stalled request's permit")
        again = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert again["replayed"] and again["final_action"] == "PARTIAL_75"  # risk-off
        assert len(list(r.scan_iter(match=keys.permit("*")))) == 1
    finally:
        client.close()
        p26.stop()


def test_clustergate_propose_prints_the_plan_id_it_used_on_success_and_on_failure(clean):
    from helpers import free_port
    ok = run_cli("--symbol", "ETHUSDT", "--action", "HOLD", "--topology", str(clean.topology))
    assert ok.returncode == 0, ok.stderr
    plan = json.loads(ok.stdout)["decision"]["plan_id"]
    assert f"plan_id {plan}" in ok.stderr
    failed = run_cli("--symbol", "ETHUSDT", "--action", "HOLD", "--endpoint", f"tcp://127.0.0.1:{free_port()}",
                     "--timeout-ms", "100", "--retries", "0")
    assert failed.returncode == 1
    used = [line for line in failed.stderr.splitlines() if line.startswith("plan_id ")]
    assert len(used) == 1 and "retry with --plan-id" in used[0], failed.stderr


def test_an_error_reply_to_a_proposal_carries_its_plan_id(clean):
    plan = new_plan()
    assert decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))["permit"]
    reply = clean.client.propose("SOLUSDT", "PARTIAL_50", plan_id=plan)
    assert (reply["status"], reply["reason"], reply["plan_id"]) == ("error", "plan_id_conflict", plan)
    reply = clean.client.propose("ETHUSDT", "PARTIAL_50", kill_score=2.0, plan_id=plan)
    assert (reply["status"], reply["reason"], reply["plan_id"]) == ("error", "invalid_proposal", plan)


def test_a_stored_decision_is_compact_and_a_hold_without_permit_keeps_it_only_for_the_hold_ttl(clean):
    """Defect 7: every valid proposal stored ~552 bytes for 24 h, a HOLD for a made-up symbol included."""
    r = clean.redis
    made_up, permitted = new_plan(), new_plan()
    assert decision_of(clean.client.propose("MADEUPUSDT", "FULL_CLOSE_PROPOSED", plan_id=made_up))["gate_reason"] \
        == "not_allowed"
    assert decision_of(clean.client.propose("ETHUSDT", "PARTIAL_75", plan_id=permitted))["permit"]
    hold_raw, permit_raw = r.get(keys.plan_decision(made_up)), r.get(keys.plan_decision(permitted))
    assert len(hold_raw) <= 280 and len(permit_raw) <= 280, (hold_raw, permit_raw)
    assert 0 < r.ttl(keys.plan_decision(made_up)) <= 600  # hold_decision_ttl_s
    assert r.ttl(keys.plan_decision(permitted)) > 86000  # decision_ttl_s
    stored = json.loads(permit_raw)
    assert (stored["final_action"], stored["gate_reason"], stored["permit"]) == ("PARTIAL_75", "pass", True)
    # A resubmission still gets the first decision back from the compact form.
    again = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_75", plan_id=permitted))
    assert (again["replayed"], again["final_action"], again["gate_reason"], again["permit"]) == (
        True, "PARTIAL_75", "pass", True)
    assert again["permit_key"] == keys.permit(permitted) and again["permit_ttl_ms"] > 0


def expire_now(r, key: str) -> None:
    """Let Redis expire `key` by its own TTL path (PEXPIRE 1 ms, then gone to a read): what decision_ttl_s does."""
    r.pexpire(key, 1)
    wait_for(lambda: not r.exists(key), 5, f"{key} to expire", interval_s=0.005)


def test_a_permitted_plan_id_resubmitted_after_its_decision_expired_is_refused_not_given_a_second_permit(clean):
    """SPEC: a plan_id never gets two permits. A decision with a permit is kept decision_ttl_s (24 h); a day-old
    message replayed by a stuck queue (no deadline_ms) was decided anew: a second record, a second permit (reproduced
    with decision_ttl_s 60 and its real TTL: p26_permit_issued_total 2, two PARTIAL_75 records for one plan_id). The
    issuer's marker of the permitted plan_id, kept permitted_plan_ttl_s (30 days), refuses it: plan_id_expired, no
    decision, no record, no permit, counted; `clustergate propose` says so and exits 1."""
    r = clean.redis
    issuer_port = clean.data["actors"]["permit_issuer"]["metrics_port"]
    plan = new_plan()
    before, issuer_before = clean.metrics(), scrape(issuer_port)
    first = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
    assert first["permit"] and first["recorded"] and not first["replayed"], first
    for key in (keys.plan_decision(plan), keys.permit(plan), keys.cooldown("ETHUSDT")):
        expire_now(r, key)  # a day later: decision, permit and cooldown gone, the marker kept
    again = clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan)
    assert (again["status"], again.get("reason"), again.get("plan_id")) == ("error", "plan_id_expired", plan), again
    marker = keys.permitted_plan(plan)
    assert 86400 < r.ttl(marker) <= 30 * 86400, r.ttl(marker)  # permitted_plan_ttl_s, beyond decision_ttl_s
    assert abs(int(r.get(marker)) - time.time()) < 60, r.get(marker)  # the permit's epoch second, by Redis's clock
    assert keys.permit(plan) in again["detail"] and "new plan_id" in again["detail"], again
    assert "decision" not in again
    assert not r.exists(keys.permit(plan), keys.plan_decision(plan), keys.cooldown("ETHUSDT"))
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    cli = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan, "--topology", str(clean.topology))
    assert cli.returncode == 1 and json.loads(cli.stdout)["reason"] == "plan_id_expired", (cli.stdout, cli.stderr)
    assert "plan_id_expired" in cli.stderr and "new --plan-id" in cli.stderr and "no permit to hold" in cli.stderr, \
        cli.stderr
    after, issuer_after = clean.metrics(), scrape(issuer_port)
    delta = {name: after[name] - before[name] for name in (
        'gate_requests_total{result="ok"}', 'gate_requests_total{result="plan_id_expired"}', "p26_permit_issued_total",
        "p26_gate_writes_total")}
    assert delta == {'gate_requests_total{result="ok"}': 1, 'gate_requests_total{result="plan_id_expired"}': 2,
                     "p26_permit_issued_total": 1, "p26_gate_writes_total": 1}, delta
    seen = sum(after[n] - before[n] for n in after if n.startswith("p26_plans_seen_total{"))
    assert seen == 3, seen  # ok + plan_id_conflict + plan_id_expired + expired
    expired_issuer = 'permit_issuer_requests_total{result="plan_id_expired"}'
    assert issuer_after[expired_issuer] - issuer_before.get(expired_issuer, 0) == 2
    assert issuer_after["permit_issuer_permits_issued_total"] - issuer_before["permit_issuer_permits_issued_total"] == 1


def test_the_issuers_answer_to_a_plan_id_whose_decision_expired_after_its_permit_names_the_permit():
    """outcome() of the script's plan_id_expired reply, a plain function: no decision, no permit, the permit named with
    its time (the marker's epoch second), a new plan_id asked for; a marker of no number still answers so."""
    from actors.permit_issuer import PLAN_ID_EXPIRED, outcome, plan_id_expired_detail
    decision = issuer_item("p-old", "ETHUSDT", "PARTIAL_50")["decision"]
    result, envelope, permit_issued = outcome(decision, "", [PLAN_ID_EXPIRED, "1796630979"])
    reply = json.loads(envelope)
    assert (result, permit_issued, reply["status"], reply["reason"]) == ("plan_id_expired", False, "error",
                                                                          "plan_id_expired")
    assert reply["detail"] == plan_id_expired_detail("p-old", "1796630979")
    assert ("quantum:permit:p26:p-old" in reply["detail"] and "2026-12-07T08:09:39Z" in reply["detail"]
            and reply["detail"].endswith("use a new plan_id for a new proposal")), reply["detail"]
    assert "at a time not recorded" in plan_id_expired_detail("p-old", "planted")


def test_plan_id_expired_names_both_ways_its_decision_can_be_gone_not_a_ttl_expiry_alone(clean):
    """opsfix: a plan_id whose decision key was deleted by hand, its permit alive, got plan_id_expired saying its
    decision `is no longer kept (decision_ttl_s)`: an expiry the issuer cannot know happened. The refusal (its code
    unchanged, the execution layer's) says the decision expired after decision_ttl_s or was removed."""
    r = clean.redis
    plan = new_plan()
    assert decision_of(clean.client.propose("SOLUSDT", "PARTIAL_25", plan_id=plan))["permit"]
    r.delete(keys.plan_decision(plan))  # by hand; the permit lives on
    assert r.exists(keys.permit(plan))
    again = clean.client.propose("SOLUSDT", "PARTIAL_25", plan_id=plan)
    assert (again["status"], again.get("reason")) == ("error", "plan_id_expired"), again
    detail = again["detail"]
    assert "expired after decision_ttl_s" in detail and "or was removed" in detail, detail
    assert keys.permit(plan) in detail and detail.endswith("use a new plan_id for a new proposal"), detail


def test_a_hold_leaves_no_permitted_marker_and_a_replay_leaves_it_as_it_was(clean):
    """Only a decision with a permit leaves the marker (a HOLD has no permit to repeat); a replay writes nothing."""
    r = clean.redis
    held, permitted = new_plan(), new_plan()
    assert not decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=held))["permit"]
    assert not r.exists(keys.permitted_plan(held))
    assert decision_of(clean.client.propose("BTCUSDT", "PARTIAL_25", plan_id=permitted))["permit"]
    r.set(keys.permitted_plan(permitted), "planted", keepttl=True)
    assert decision_of(clean.client.propose("BTCUSDT", "PARTIAL_25", plan_id=permitted))["replayed"]
    assert r.get(keys.permitted_plan(permitted)) == "planted"


def test_the_permitted_marker_is_kept_permitted_plan_ttl_s(tmp_path, redis_server):
    with running_p26(tmp_path / "p26", redis_server,
                     issuer_settings={"decision_ttl_s": 60, "permitted_plan_ttl_s": 120}) as p26:
        plan = new_plan()
        assert decision_of(p26.client.propose("SOLUSDT", "PARTIAL_50", plan_id=plan))["permit"]
        assert 0 < p26.redis.ttl(keys.plan_decision(plan)) <= 60
        assert 60 < p26.redis.ttl(keys.permitted_plan(plan)) <= 120


def test_the_permit_issuer_exports_redis_memory_use_and_its_limit(clean):
    port = clean.data["actors"]["permit_issuer"]["metrics_port"]
    clean.redis.config_set("maxmemory", 256 * 1024 * 1024)
    try:
        metrics = wait_for(lambda: (lambda m: m if m.get("clustergate_redis_maxmemory_bytes") == 256 * 1024 * 1024
                                    else None)(scrape(port)), 20, "the issuer to export Redis memory")
        used = metrics["clustergate_redis_used_memory_bytes"]
        # INFO used_memory, not the limit: a test Redis holds a few MB (0 < used < 64 MB), far below 256 MB.
        assert 0 < used < 64 * 1024 * 1024, metrics
    finally:
        clean.redis.config_set("maxmemory", 0)



def test_redis_memory_gauges_say_not_current_while_redis_is_unreachable_and_come_back_with_it(tmp_path):
    """The permit issuer kept exporting Redis's last used_memory and maxmemory while Redis was stopped: a dashboard
    showed them as current. Unread, they are NaN, and clustergate_redis_memory_read_timestamp_seconds (the epoch
    time of the last reading) stops moving; Redis back, both are read again."""
    import math
    server = RedisServer(tmp_path / "redis").start()
    p26 = P26(tmp_path / "p26", server.url).start()
    port = p26.data["actors"]["permit_issuer"]["metrics_port"]
    stamp = "clustergate_redis_memory_read_timestamp_seconds"
    try:
        wait_for(lambda: scrape(port).get("clustergate_redis_used_memory_bytes", 0) > 0, 20, "a reading of Redis's memory")
        server.stop()
        stopped_at = time.time()
        unread = wait_for(lambda: (lambda m: m if math.isnan(m["clustergate_redis_used_memory_bytes"]) else None)(
            scrape(port)), 30, "the used memory gauge to say it is not current")
        assert math.isnan(unread["clustergate_redis_maxmemory_bytes"]), unread
        assert stopped_at - 60 < unread[stamp] <= stopped_at, (unread[stamp], stopped_at)
        server.start()
        back = wait_for(lambda: (lambda m: m if m["clustergate_redis_used_memory_bytes"] > 0 else None)(scrape(port)),
                        30, "a reading of Redis's memory after its restart")
        assert back[stamp] > stopped_at and back["clustergate_redis_maxmemory_bytes"] == 0, back
    finally:
        p26.stop()
        server.stop()


def test_an_issuer_write_never_lands_after_the_gate_stopped_waiting(tmp_path, redis_server):
    """The outcome-unknown window: RespClient re-sends a pipeline once after a timeout, so a stalled Redis
    could run the script up to 2 x timeout late, after the gate answered HOLD outcome unknown. The script
    now refuses past the gate's deadline (permit_timeout_ms / 2 after the decision), by Redis's clock."""
    import signal
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url, gate_settings={"state_refresh_ms": 60000}).start()
    try:
        answered_ms = []
        for stall_s in (0.3, 0.45, 0.6):
            # A decision with Redis up fills the gate's state cache, so the stalled one goes to the issuer.
            assert decision_of(p26.client.propose("BTCUSDT", "HOLD", plan_id=new_plan()))["recorded"]
            plan = new_plan()
            redis_server.proc.send_signal(signal.SIGSTOP)
            try:
                sent = time.time()
                d = decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=plan))
                answered = time.time()
                time.sleep(stall_s)  # Redis stays stalled past the gate's answer, then runs what waits
            finally:
                redis_server.proc.send_signal(signal.SIGCONT)
            answered_ms.append(round((answered - sent) * 1000))
            assert (d["final_action"], d["recorded"]) == ("HOLD", False), d
            assert "outcome unknown" in d["detail"]
            wait_for(lambda: r.ping(), 5, "Redis back")
            late = [int(entry_id.split("-")[0]) - answered * 1000
                    for entry_id, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
            assert late == [], f"a write landed {late[0]:.0f} ms after the gate answered (Redis stalled {stall_s} s)"
            assert r.exists(keys.plan_decision(plan)) == 0
        print(f"gate answered HOLD outcome unknown after {answered_ms} ms (permit_timeout_ms 500); "
              f"no write landed afterwards")
    finally:
        p26.stop()


@pytest.mark.parametrize("policy, riskoff_p50, cold_full", [
    ("spec", ("PARTIAL_75", "riskoff_accelerate"), ("PARTIAL_75", "cooldown_downgrade")),
    ("monotone", ("PARTIAL_50", "cooldown_downgrade"), ("PARTIAL_25", "cooldown_downgrade")),
])
def test_under_a_cooldown_the_gate_policy_setting_decides_whether_the_permit_can_grow(tmp_path, redis_server, policy,
                                                                                      riskoff_p50, cold_full):
    r = redis_server.client()
    write_book(r)  # constant sigma 1: stress 0.94 (risk-off)
    hot = P26(tmp_path / "hot", redis_server.url, gate_settings={"policy": policy, "state_refresh_ms": 0}).start()
    try:
        r.set(keys.cooldown("ETHUSDT"), "1", ex=60)
        d = decision_of(hot.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        assert (d["final_action"], d["gate_reason"]) == riskoff_p50
    finally:
        hot.stop()
    r.flushdb()
    write_book(r)
    cold = P26(tmp_path / "cold", redis_server.url,
               gate_settings={"policy": policy, "state_refresh_ms": 0, "sigma": 0.05}).start()  # heat 0: cold
    try:
        r.set(keys.cooldown("ETHUSDT"), "1", ex=60)
        d = decision_of(cold.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
        assert (d["final_action"], d["gate_reason"]) == cold_full
    finally:
        cold.stop()


# --------------------------------------------------------------------------- Redis URLs: one parser, validated early


@pytest.mark.parametrize("url, expected", [
    ("redis://127.0.0.1:6380/2", ("tcp", "127.0.0.1", 6380, None, 2)),
    ("redis://127.0.0.1:6380?db=3", ("tcp", "127.0.0.1", 6380, None, 3)),
    ("redis://127.0.0.1:6380/3?db=3", ("tcp", "127.0.0.1", 6380, None, 3)),
    ("redis://localhost", ("tcp", "localhost", 6379, None, 0)),
    ("unix:///run/redis.sock?db=5", ("unix", None, None, "/run/redis.sock", 5)),
    ("unix:///run/redis.sock", ("unix", None, None, "/run/redis.sock", 0)),
])
def test_every_redis_client_reads_the_db_from_the_path_or_the_query(url, expected):
    from launcher.redis_url import parse_redis_url
    t = parse_redis_url(url)
    assert (t.transport, t.host, t.port, t.unix_path, t.db) == expected
    from launcher.resp import RespClient
    from launcher.topology import RedisConfig
    client = RespClient.from_config(RedisConfig(url=url))
    assert (client.unix_path, client.db) == (expected[3], expected[4])


@pytest.mark.parametrize("url, words", [
    ("redis://127.0.0.1:6380/0?db=3", "db is given twice"),
    ("rediss://127.0.0.1:6380/0", "rediss://"),
    ("redis://:s3cret-pw@127.0.0.1:6380/0", "password"),
    ("redis://127.0.0.1:6380/x", "db"),
    ("redis://127.0.0.1:6380/0?timeout=3", "timeout"),
])
def test_a_redis_url_the_clients_would_read_differently_is_refused_by_validation(tmp_path, url, words):
    data = demo_topology_data()
    data["redis"] = {"url": url}
    path = write_topology(tmp_path / "t.yaml", data)
    result = subprocess.run([PYTHON, "-m", "launcher", "validate", str(path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "redis.url" in line]
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_the_managed_redis_runs_with_an_explicit_maxmemory_and_noeviction(tmp_path):
    """Defect 7: without a limit, stored decisions grow until the machine runs out; a volatile eviction
    policy would evict cooldowns and permits first."""
    from launcher.supervise import Home, render_redis_conf
    from launcher.topology import load_topology
    data = retarget(demo_topology_data())
    data["redis"]["maxmemory_mb"] = 512
    topo = load_topology(str(write_topology(tmp_path / "t.yaml", data)))
    lines = render_redis_conf(topo, Home(tmp_path)).splitlines()
    assert "maxmemory 512mb" in lines and "maxmemory-policy noeviction" in lines


# A gate whose Gate.{method} raises for a plan_id starting with "fail-". settle: after its permit issuer recorded the
# decision, so the answer is internal_error, outcome unknown, though the decision is in Redis.
GATE_FAILING_IN = """
import sys
import actors.gate
from actors.runtime import main
method = actors.gate.Gate.{method}
def failing(self, proposal, *args, **kwargs):
    if proposal.plan_id.startswith("fail-"):
        raise RuntimeError("injected: the gate failed in {method}")
    return method(self, proposal, *args, **kwargs)
actors.gate.Gate.{method} = failing
main(actors.gate.Gate, sys.argv[1:])
"""
GATE_FAILING_AFTER_THE_ISSUER = GATE_FAILING_IN.format(method="settle")


# A gate that fails deciding a plan_id starting with "fail-" before it asks its issuer (Gate.issuer_item raises): a
# batch holding one raises before anything is written, and the runtime runs each of its requests again alone.
GATE_FAILING_BEFORE_THE_ISSUER = GATE_FAILING_IN.format(method="issuer_item")


def failing_gate(p26: P26, code: str = GATE_FAILING_AFTER_THE_ISSUER) -> subprocess.Popen:
    """P26's gate replaced by one running code (default: it fails after its issuer recorded a `fail-` plan_id's
    decision); serving."""
    p26.gate.terminate()
    gate = subprocess.Popen([PYTHON, "-c", code, "--topology", str(p26.topology),
                             "--name", "gate"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with GateClient(p26.endpoint, timeout_ms=int(20_000 * DEADLINE_SCALE), retries=0) as probe:
        assert P26._answers(probe), "the failing gate did not answer"
    return gate


def test_clustergate_propose_exits_3_on_internal_error_naming_the_plan_id_to_retry_with(tmp_path, redis_server):
    """internal_error may come after the issuer recorded the decision (launcher/client.py's is_fault_hold): outcome
    unknown, as a fault HOLD's, so `propose` exits 3 with a line saying to retry with the same plan_id (it exited 1,
    no such line, as for a proposal refused). The retry, to a gate that works, gets the recorded decision back."""
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    failing = None
    try:
        failing = failing_gate(p26)
        plan = "fail-" + new_plan()
        result = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan, "--endpoint", p26.endpoint,
                         "--timeout-ms", str(int(20_000 * DEADLINE_SCALE)), "--retries", "0")
        assert json.loads(result.stdout)["reason"] == "internal_error", (result.stdout, result.stderr)
        assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
        fault_line = [line for line in result.stderr.splitlines() if "internal_error" in line]
        assert fault_line and f"retry with --plan-id {plan}" in fault_line[0], result.stderr
        assert redis_server.client().exists(keys.permit(plan)) == 1  # the issuer recorded it, with its permit
        failing.terminate()
        failing.wait(10)
        p26.gate.start()
        again = wait_for(lambda: (r := run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan,
                                                "--endpoint", p26.endpoint)).returncode != 3 and r, 30,
                         "an answer from the restarted gate")
        assert again.returncode == 0, (again.returncode, again.stdout, again.stderr)
        decision = json.loads(again.stdout)["decision"]
        assert (decision["plan_id"], decision["replayed"], decision["permit"]) == (plan, True, True), decision
    finally:
        if failing is not None and failing.poll() is None:
            failing.kill()
            failing.wait(10)
        p26.stop()


def stand_in_gate(ctx, answers_expired: bool) -> tuple[str, Any]:
    """A second gate's endpoint (ZeroMQ, in this process): one answering every proposal `expired` at once, as a gate
    whose clock runs ahead of the client's, or a ROUTER that never answers, as a stalled gate. Returns its endpoint
    and a stop() that closes it."""
    import threading
    import zmq
    sock = ctx.socket(zmq.REP if answers_expired else zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def serve() -> None:
        try:
            while not stop.is_set():
                if answers_expired and sock.poll(50):
                    plan_id = json.loads(sock.recv())["plan_id"]
                    sock.send(json.dumps({"status": "error", "reason": "expired", "plan_id": plan_id}).encode())
                elif not answers_expired:
                    stop.wait(0.05)
        finally:
            sock.close(linger=0)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stopped() -> None:
        stop.set()
        thread.join(10)
    return f"tcp://127.0.0.1:{port}", stopped


@pytest.mark.parametrize("second_gate", ["expired", "silent"])
def test_clustergate_propose_exits_3_when_a_retry_after_internal_error_gets_expired_or_no_answer(
        tmp_path, redis_server, second_gate):
    """The gate failed after its issuer recorded the decision (internal_error: outcome unknown); the call went on to
    the next gate, which answered `expired` or nothing, until the budget ran out. The whole call's outcome is still
    unknown (the decision and its permit are in Redis): `propose` exits 3 saying to retry with the same --plan-id, not
    1 (refused or no answer), which `propose ... && act` and operators read as nothing having happened."""
    import zmq
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    failing = None
    ctx = zmq.Context()
    second, stop_second = stand_in_gate(ctx, answers_expired=second_gate == "expired")
    try:
        failing = failing_gate(p26)
        plan = "fail-" + new_plan()
        result = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--plan-id", plan,
                         "--endpoint", p26.endpoint, "--endpoint", second,
                         "--timeout-ms", str(int(1000 * DEADLINE_SCALE)), "--retries", "0")
        assert redis_server.client().exists(keys.permit(plan)) == 1  # the first attempt was recorded, with its permit
        assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
        unknown = [line for line in result.stderr.splitlines() if f"retry with --plan-id {plan}" in line]
        assert unknown and "internal_error" in unknown[0] and "outcome unknown" in unknown[0], result.stderr
        assert "no reply from any" not in result.stderr, result.stderr  # a gate did answer
    finally:
        stop_second()
        ctx.term()
        if failing is not None and failing.poll() is None:
            failing.kill()
            failing.wait(10)
        p26.stop()


def test_a_batch_run_again_one_by_one_after_a_handler_exception_counts_each_plan_once(tmp_path, redis_server):
    """When the gate's batch handler raises, the runtime runs each request of the batch again alone: every proposal
    of it was counted twice in p26_plans_seen_total (once read in the batch, once alone), so the counter no longer
    added up to the requests gate_requests_total counts."""
    bodies = [proposal_body("fail-" + new_plan(), "BTCUSDT", "HOLD")]
    bodies += [proposal_body(new_plan(), "ETHUSDT", "HOLD") for _ in range(4)]
    bodies.append(b"not json")  # a bad request in the batch, counted once too
    replies, delta = one_batch_to_a_failing_gate(tmp_path, redis_server, GATE_FAILING_BEFORE_THE_ISSUER, bodies)
    assert [r.get("reason") for r in replies] == ["internal_error", None, None, None, None, "not_json"], replies
    assert delta('clustergate_handler_errors_total{actor="gate",where="handler"}') == 2  # the batch, then alone
    assert delta("p26_plans_seen_total") == 5
    assert delta('p26_plans_seen_total{action_proposed="HOLD"}') == 5
    assert delta('gate_requests_total{result="ok"}') == 4
    assert delta('gate_requests_total{result="bad_request"}') == 1


def one_batch_to_a_failing_gate(tmp_path: Path, redis_server, code: str, bodies: list[bytes]):
    """The bodies sent to a gate running code (failing_gate) while it is stopped, so that it takes them in one batch:
    their replies, and delta(name, issuer=False): how much a gate's (or the issuer's) metric grew meanwhile, summed
    over every series of the name when it has no labels."""
    from helpers import stopped
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    issuer_port = p26.data["actors"]["permit_issuer"]["metrics_port"]
    failing = None
    try:
        failing = failing_gate(p26, code)
        before = {False: p26.metrics(), True: scrape(issuer_port)}
        with stopped(failing.pid):  # every proposal waits in the gate's socket: one batch
            replies = dealer_proposals_sent(p26.endpoint, bodies)
            time.sleep(0.5)
        replies = replies()
        after = {False: p26.metrics(), True: scrape(issuer_port)}
    finally:
        if failing is not None and failing.poll() is None:
            failing.terminate()
            failing.wait(10)
        p26.stop()

    def delta(name: str, issuer: bool = False) -> float:
        names = [name] if "{" in name else [k for k in after[issuer] if k.split("{")[0] == name]
        return sum(after[issuer].get(k, 0.0) - before[issuer].get(k, 0.0) for k in names)
    return replies, delta


@pytest.mark.parametrize("failing_in,fallbacks", [("settle", 4), ("answer", 5)])
def test_a_batch_that_raises_after_its_issuer_wrote_it_counts_every_write_and_decision_once(tmp_path, redis_server,
                                                                                          failing_in, fallbacks):
    """The issuer writes a batch's decisions in one round trip; when the gate then raised settling or answering the
    first of them, the runtime ran each request again alone, and each of the others got its first decision back as a
    replay, which counts nothing: their writes and permits (p26_gate_writes_total, p26_permit_issued_total), their
    fallbacks (p26_cluster_fallback_total) and downgrades were counted by no run, though Redis holds them. Each is
    counted once now; the request whose own settling or answer raised gets internal_error, its write counted (and its
    fallback, once settled)."""
    bodies = [proposal_body("fail-" + new_plan(), "BTCUSDT", "HOLD")]
    bodies += [proposal_body(new_plan(), "ETHUSDT", "HOLD") for _ in range(3)]
    bodies.append(proposal_body(new_plan(), "SOLUSDT", "PARTIAL_25"))  # stress >= 0.80: PARTIAL_75, a permit
    replies, delta = one_batch_to_a_failing_gate(tmp_path, redis_server, GATE_FAILING_IN.format(method=failing_in),
                                                 bodies)
    assert [r.get("reason") for r in replies] == ["internal_error", None, None, None, None], replies
    written = delta('permit_issuer_requests_total{result="written"}', issuer=True)
    assert written == 5
    assert delta("p26_gate_writes_total") == written
    assert delta("p26_permit_issued_total") == delta("permit_issuer_permits_issued_total", issuer=True) == 1
    assert delta("p26_cluster_fallback_total") == fallbacks  # the decisions settled, on the proxy's K
    assert delta("p26_actions_downgraded_total") == 1
    assert delta('gate_requests_total{result="ok"}') == 4
    assert delta('clustergate_handler_errors_total{actor="gate",where="handler"}') == 1  # the batch is not run again
