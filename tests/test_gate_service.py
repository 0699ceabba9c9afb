"""The gate and the permit issuer as real processes, with a real redis-server and real ZeroMQ sockets."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from actors import keys
from helpers import (PYTHON, REPO, ActorProcess, RedisServer, demo_topology_data, retarget, scrape, wait_for,
                     write_topology)
from launcher.client import GateClient, GateUnavailable

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}


class P26:
    """Gate + permit issuer processes against one Redis, and a client."""

    def __init__(self, workdir: Path, redis_url: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.data = retarget(demo_topology_data(), redis_url)
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
        probe = GateClient(self.endpoint, timeout_ms=300, retries=0)
        try:
            wait_for(lambda: self._answers(probe), 20, "the gate to answer")
        finally:
            probe.close()
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


def write_book(r, now: float | None = None) -> None:
    ts = int(now if now is not None else time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": ts})


def write_cluster_state(r, stress: float, updated_ts: float | None = None) -> None:
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": int(updated_ts if updated_ts is not None else time.time()),
                                        "cluster_stress": stress, "clusters_count": 1})


def new_plan() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("p26")
    redis = RedisServer(workdir / "redis").start()
    p26 = P26(workdir, redis.url).start()
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
    write_book(r)
    return system


def decision_of(reply: dict) -> dict:
    assert reply["status"] == "ok", reply
    return reply["decision"]


# --------------------------------------------------------------------------- decisions and permits


def test_a_permitted_decision_has_a_permit_with_ttl_at_most_60_s_and_its_record_on_the_stream(clean):
    r = clean.redis
    plan = new_plan()
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_75", plan_id=plan))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("PARTIAL_75", "pass", True)
    assert d["permit_key"] == keys.permit(plan)
    assert r.get(keys.permit(plan)) == "1"
    assert 0 < r.ttl(keys.permit(plan)) <= 60
    assert 0 < r.ttl(keys.cooldown("ETHUSDT")) <= 60
    records = [fields for _, fields in r.xrange(keys.GATE_STREAM) if fields["plan_id"] == plan]
    assert len(records) == 1
    record = records[0]
    assert record["final_action"] == "PARTIAL_75" and record["gate_reason"] == "pass"
    assert {"stress", "heat", "concentration", "corr_proxy", "kill_score", "ts_epoch", "K", "k_source"} <= set(record)


def test_every_permit_in_redis_has_its_decision_on_the_stream(clean):
    r = clean.redis
    for action in ("PARTIAL_25", "FULL_CLOSE_PROPOSED", "HOLD"):
        clean.client.propose("SOLUSDT", action, plan_id=new_plan())
    recorded = {fields["plan_id"] for _, fields in r.xrange(keys.GATE_STREAM)}
    permits = list(r.scan_iter(match=keys.permit("*")))
    assert permits
    for key in permits:
        assert key.rpartition(":")[2] in recorded
        assert 0 < r.ttl(key) <= 60


def test_resubmitting_a_plan_id_returns_the_first_decision_with_one_permit_and_one_stream_record(clean):
    r = clean.redis
    plan = new_plan()
    first = decision_of(clean.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
    # The cooldown the first decision set would downgrade a fresh evaluation; the replay ignores it.
    second = decision_of(clean.client.propose("BTCUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
    assert first["permit"] and not first["replayed"] and second["replayed"]
    assert {k: v for k, v in second.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}
    assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == 1
    m = clean.metrics()
    assert m["p26_permit_issued_total"] >= 1


def test_a_second_plan_for_the_same_symbol_inside_the_cooldown_is_stepped_down(clean):
    first = decision_of(clean.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
    second = decision_of(clean.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
    assert first["gate_reason"] == "pass"
    assert (second["final_action"], second["gate_reason"]) == ("PARTIAL_75", "cooldown_downgrade")


def test_a_symbol_outside_the_allowlist_is_hold_not_allowed_and_recorded(clean):
    plan = new_plan()
    d = decision_of(clean.client.propose("DOGEUSDT", "FULL_CLOSE_PROPOSED", plan_id=plan))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "not_allowed", False)
    assert clean.redis.get(keys.permit(plan)) is None
    assert any(f["plan_id"] == plan for _, f in clean.redis.xrange(keys.GATE_STREAM))


def test_no_fresh_snapshot_fails_closed(clean):
    r = clean.redis
    write_book(r, now=time.time() - 301)
    d = decision_of(clean.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "fail_closed_portfolio_state", False)
    assert clean.metrics()['p26_fail_closed_total{reason="fail_closed_portfolio_state"}'] >= 1


def test_the_gate_takes_k_from_fresh_cluster_state_falls_back_when_stale_and_returns(clean):
    r = clean.redis
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert d["k_source"] == "proxy"
    fallbacks = clean.metrics()["p26_cluster_fallback_total"]
    assert fallbacks >= 1
    write_cluster_state(r, 0.748)
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert (d["k_source"], d["K"]) == ("cluster", 0.748)
    assert clean.metrics()["p26_cluster_stress_used"] == 1
    write_cluster_state(r, 0.748, updated_ts=time.time() + 30)  # from the future: stale
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert d["k_source"] == "proxy"
    assert clean.metrics()["p26_cluster_stress_used"] == 0
    write_cluster_state(r, 0.5)
    d = decision_of(clean.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))
    assert (d["k_source"], d["K"]) == ("cluster", 0.5)


def test_the_gate_exports_every_p26_series_from_the_start(clean):
    m = clean.metrics()
    for name in ("p26_stress", "p26_heat", "p26_concentration", "p26_corr_proxy", "p26_cluster_stress_used",
                 "p26_symbols_with_snapshot", "p26_total_abs_notional", "p26_gate_writes_total",
                 "p26_permit_issued_total", "p26_cluster_fallback_total", "p26_time_to_permit_seconds_count",
                 'p26_plans_seen_total{action_proposed="FULL_CLOSE_PROPOSED"}',
                 'p26_fail_closed_total{reason="redis_unavailable"}',
                 'p26_fail_closed_total{reason="permit_unavailable"}',
                 'p26_actions_downgraded_total{from_action="FULL_CLOSE_PROPOSED",reason="forbid_full_close_portfolio_cold",to_action="PARTIAL_50"}',
                 'p26_snapshot_age_seconds{symbol="ETHUSDT"}'):
        assert name in m, name


# --------------------------------------------------------------------------- bad requests


def test_the_documented_bad_requests_get_error_envelopes(clean):
    cases = [
        (b"x" * 10_000_000, "too_large"),
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


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(
    st.binary(max_size=2000),
    st.lists(st.binary(max_size=50), min_size=2, max_size=4),
    st.dictionaries(st.sampled_from(["plan_id", "symbol", "action_proposed", "kill_score", "r_net", "ts_epoch", "x"]),
                    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                    max_size=7).map(lambda d: json.dumps(d).encode())))
def test_fuzzed_requests_never_get_a_permit_and_the_gate_keeps_serving(system, payload):
    reply = system.client.request_raw(payload)
    assert reply["status"] in ("ok", "error")
    if reply["status"] == "error":
        assert reply["reason"] and "detail" in reply
    else:
        d = reply["decision"]
        assert d["final_action"] == "HOLD" or d["permit"] is True


def test_the_gate_still_answers_after_the_fuzzing(system):
    system.redis.flushdb()
    write_book(system.redis)
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


def test_clustergate_propose_prints_the_decision_and_exits_0(clean):
    plan = new_plan()
    result = run_cli("--symbol", "ETHUSDT", "--action", "PARTIAL_50", "--kill-score", "0.9", "--plan-id", plan,
                     "--topology", str(clean.topology))
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["decision"]["plan_id"] == plan and reply["decision"]["kill_score"] == 0.9


def test_clustergate_propose_exits_1_with_a_message_when_no_gate_answers(tmp_path):
    from helpers import free_port
    result = run_cli("--symbol", "ETHUSDT", "--action", "HOLD", "--endpoint", f"tcp://127.0.0.1:{free_port()}",
                     "--timeout-ms", "100", "--retries", "1")
    assert result.returncode == 1
    assert "no reply from the gate" in result.stderr
