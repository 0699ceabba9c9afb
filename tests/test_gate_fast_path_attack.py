"""Review of the gate's lone-proposal path (handle_one / decide_one, issue 14): a lone proposal gets the decision,
reply, stream record and metrics the same proposal gets in a batch, whatever happens between two proposals.
Twin real gates (their setup and sockets, in this process, handlers called directly, no timers), each with its
own real permit issuer process and redis-server: one is sent each proposal alone (handle_one), the other the same
proposal behind a malformed request (the batch's path). Both see the same Redis writes, wall-clock steps (the
gate's time.time, as an NTP step moves it; Redis's clock and time.monotonic run on) and cache reads."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import pytest

from launcher import keys
from test_gate_service import BOOK, write_book

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "ＥＴＨUSDT", "ETHUSDT ")
ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")


class Clock:
    """The gates' wall clock: the real one plus a step the test sets."""

    def __init__(self):
        self.real = time.time
        self.offset_s = 0.0
        self.frozen: float | None = None  # both twins decide at the same wall-clock time

    def __call__(self) -> float:
        return self.real() + self.offset_s if self.frozen is None else self.frozen


@pytest.fixture
def twins(tmp_path: Path, monkeypatch, request):
    from actors.gate import Gate
    from helpers import ActorProcess, RedisServer, demo_topology_data, retarget, scrape, wait_for, write_topology
    from launcher.topology import load_topology
    started: list = []
    gates: list = []
    try:
        for name in ("lone", "batch"):
            redis = RedisServer(tmp_path / name / "redis").start()
            started.append(redis)
            data = retarget(demo_topology_data(), redis.url)
            data["actors"]["gate"]["settings"] = {**(data["actors"]["gate"].get("settings") or {}),
                                                  "state_refresh_ms": 60000, **getattr(request, "param", {})}
            path = write_topology(tmp_path / name / "topology.yaml", data)
            issuer = ActorProcess(path, "permit_issuer", log_dir=tmp_path / name).start()
            started.append(issuer)
            port = data["actors"]["permit_issuer"]["metrics_port"]
            wait_for(lambda: scrape(port).get('clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}')
                     == 1.0, 20, "the permit issuer ready")
            gate = Gate(load_topology(path), "gate")
            gate.setup()
            gate._timers.clear()
            gate.redis_client = redis.client()
            gates.append(gate)
        clock = Clock()
        monkeypatch.setattr(time, "time", clock)
        yield gates[0], gates[1], clock
    finally:
        monkeypatch.undo()
        for gate in gates:
            for role, sock in list(gate.sockets.items()):
                gate._close(role, sock)
            gate.redis.close()
            gate.ctx.term()
        for part in reversed(started):
            part.terminate() if hasattr(part, "terminate") else part.stop()


def samples() -> dict:
    from prometheus_client import REGISTRY
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in REGISTRY.collect() for s in m.samples
            if s.name.startswith(("p26_", "gate_requests_total")) and not s.name.endswith("_created")
            and not (s.name.startswith("p26_time_to_permit_seconds_") and not s.name.endswith("_count"))}


def counted(before: dict, after: dict) -> dict:
    """The counters' increases (non-zero) and the gauges as set."""
    out = {}
    for k, v in after.items():
        if k[0].endswith(("_total", "_count")):
            if v != before.get(k, 0.0):
                out[k] = v - before.get(k, 0.0)
        elif not k[0].startswith("p26_snapshot_age"):
            out[k] = v
    return out


def normal(reply: dict) -> dict:
    out = json.loads(json.dumps(reply))
    if out.get("status") == "error":
        out["detail"] = out.get("detail", "")[:0]
    decision = out.get("decision")
    if isinstance(decision, dict):
        decision.pop("ts_epoch", None)
        if decision.get("permit_ttl_ms") is not None:
            decision["permit_ttl_ms"] = "live"
        if decision.get("detail"):
            decision["detail"] = "..."
    return out


def decide_both(lone, batch, body: bytes):
    """(reply, metrics, stream records) of the lone gate, then of the batch gate, for one proposal."""
    out = []
    for gate, requests in ((lone, [[body]]), (batch, [[b"not json"], [body]])):
        before = samples()
        reply = gate.handle_proposals(requests)[-1]
        after = samples()
        metrics = counted(before, after)
        if gate is batch:
            key = ("gate_requests_total", (("result", "bad_request"),))
            metrics[key] = metrics.get(key, 0) - 1
            if not metrics[key]:
                del metrics[key]
        records = [{k: v for k, v in f.items() if k != "ts_epoch"} for _, f in gate.redis_client.xrange(keys.GATE_STREAM)]
        out.append((normal(reply), metrics, records))
    return out


def write_all(gates, fn):
    for gate in gates:
        fn(gate.redis_client)


def run_scenario(lone, batch, clock, steps):
    """Apply each step to both gates; the lone and the batched proposal must agree every time."""
    gates = (lone, batch)
    for gate in gates:
        gate.redis_client.flushdb()
    for i, step in enumerate(steps):
        kind = step[0]
        if kind == "book":
            age = step[1]
            write_all(gates, lambda r: [r.hset(keys.position_snapshot(s), mapping={
                "position_amt": a, "mark_price": p, "ts_epoch": int(clock() - age)}) for s, (a, p) in BOOK.items()])
        elif kind == "cluster":
            _, age, stress, with_ms = step
            t = clock() - age
            fields = {"updated_ts": int(t), "cluster_stress": stress, "clusters_count": 1}
            if with_ms:
                fields["updated_ts_ms"] = int(t * 1000)
            write_all(gates, lambda r: (r.delete(keys.CLUSTER_STATE), r.hset(keys.CLUSTER_STATE, mapping=fields)))
        elif kind == "vol":  # realized vol (read with sigma_source realized), stamped as the cluster state is
            _, age, with_ms = step
            t = clock() - age
            fields = {keys.REALIZED_VOL_UPDATED_TS: int(t), "BTCUSDT": 0.4, "ETHUSDT": 0.9}
            if with_ms:
                fields[keys.REALIZED_VOL_UPDATED_TS_MS] = int(t * 1000)
            write_all(gates, lambda r: (r.delete(keys.REALIZED_VOL), r.hset(keys.REALIZED_VOL, mapping=fields)))
        elif kind == "cooldown":  # another gate's permit, or another writer
            _, symbol, px = step
            write_all(gates, lambda r: r.set(keys.cooldown(symbol), "1", px=px))
        elif kind == "uncool":
            write_all(gates, lambda r: r.delete(keys.cooldown(step[1])))
        elif kind == "clock":
            clock.offset_s += step[1]
        elif kind == "read":
            for gate in gates:
                gate.refresh_cache()
        elif kind == "propose":
            _, plan, symbol, action, kill_score, deadline = step
            proposal = {"plan_id": plan, "symbol": symbol, "action_proposed": action, "kill_score": kill_score}
            if deadline is not None:
                proposal["deadline_ms"] = (clock() + deadline) * 1000
            clock.frozen = clock()
            try:
                (a, ma, ra), (b, mb, rb) = decide_both(lone, batch, json.dumps(proposal).encode())
            finally:
                clock.frozen = None
            context = (i, step, steps[max(0, i - 6):i])
            assert a == b, (context, {k: (a['decision'].get(k), b['decision'].get(k)) for k in a.get('decision', {}) if a['decision'].get(k) != b.get('decision', {}).get(k)} if 'decision' in a else (a, b))
            assert ra == rb, context
            assert ma == mb, (context, {k: (ma.get(k), mb.get(k)) for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)})


def random_steps(rng: random.Random, n: int) -> list:
    plans: list[tuple] = []
    steps: list = [("book", 10), ("cluster", 1, 0.8, True), ("vol", 1, True), ("read",)]
    for _ in range(n):
        roll = rng.random()
        if roll < 0.08:
            steps.append(("book", rng.choice((5, 150, 290, 310, -3, -8))))
        elif roll < 0.16:
            steps.append(("cluster", rng.choice((0.5, 60, 110, 130, -2)), rng.choice((0.2, 0.75, 0.95)),
                          rng.random() < 0.7))
        elif roll < 0.20:
            steps.append(("vol", rng.choice((0.5, 60, 130, -2)), rng.random() < 0.7))
        elif roll < 0.26:
            steps.append(("cooldown", rng.choice(SYMBOLS[:3]), rng.choice((1500, 60000))))
        elif roll < 0.28:
            steps.append(("uncool", rng.choice(SYMBOLS[:3])))
        elif roll < 0.36:
            steps.append(("clock", rng.choice((-400.0, -100.0, -30.0, -1.0, 1.0, 30.0, 100.0, 400.0))))
        elif roll < 0.48:
            steps.append(("read",))
        elif plans and roll < 0.56:
            steps.append(rng.choice(plans))  # a replay of an earlier proposal, whole
        else:
            step = ("propose", uuid.uuid4().hex, rng.choice(SYMBOLS), rng.choice(ACTIONS),
                    rng.choice((0.0, 0.5, 0.9)), rng.choice((None, None, 60.0, -1.0)))
            plans.append(step)
            steps.append(step)
    return steps


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("twins", [{}, {"policy": "monotone"}, {"sigma_source": "realized"}], indirect=True,
                         ids=["spec", "monotone", "realized"])
def test_a_lone_proposal_gets_what_the_same_proposal_gets_in_a_batch_whatever_happens_between_proposals(
        twins, seed):
    """Random steps (seeded): snapshots fresh, stale or from the future; cluster state and realized vol fresh or
    stale, to the ms or not; cooldowns another gate set or deleted; the wall clock stepped back or forward;
    cache reads; proposals on allowed, unlisted and look-alike symbols, with deadlines passed or not, and
    resubmitted. (Review of issue 14: 120 seeds of 150 steps, spec, monotone and realized, found no difference.)"""
    lone, batch, clock = twins
    run_scenario(lone, batch, clock, random_steps(random.Random(seed), 150))


def test_a_cooldown_another_gate_set_is_respected_by_a_lone_proposal_decided_from_a_kept_state(tmp_path, redis_server):
    """Several active gates share Redis. Gate A's state (kept per symbol, its cache re-read only once a minute
    here) knows nothing of the permit gate B just issued for ETHUSDT: A's lone FULL_CLOSE is refused by the
    issuer (cooldown_conflict), A reads again and steps it down to PARTIAL_75; A counts one downgrade and one
    decision. Then A's kept state for ETHUSDT has the cooldown: the next lone proposal is stepped down with no
    conflict."""
    from helpers import scrape
    from test_gate_service import P26, write_cluster_state
    r = redis_server.client()
    write_book(r)
    write_cluster_state(r, 0.3)
    slow = {"state_refresh_ms": 60000}
    gate_a = P26(tmp_path / "a", redis_server.url, gate_settings=slow).start()
    gate_b = P26(tmp_path / "b", redis_server.url, gate_settings=slow).start()
    try:
        warm = gate_a.client.propose("ETHUSDT", "HOLD")
        assert warm["decision"]["final_action"] == "HOLD"  # A has decided from its kept state for ETHUSDT
        first = gate_b.client.propose("ETHUSDT", "PARTIAL_50")
        assert first["decision"]["permit"], first
        before = scrape(gate_a.gate_metrics_port)
        issuer_a = scrape(gate_a.data["actors"]["permit_issuer"]["metrics_port"])
        second = gate_a.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED")  # stress 0.85: FULL_CLOSE without the cooldown
        d = second["decision"]
        assert (d["final_action"], d["gate_reason"], d["permit"]) == ("PARTIAL_75", "cooldown_downgrade", True), d
        after = scrape(gate_a.gate_metrics_port)
        issuer_after = scrape(gate_a.data["actors"]["permit_issuer"]["metrics_port"])
        assert issuer_after['permit_issuer_requests_total{result="cooldown_conflict"}'] == \
            issuer_a['permit_issuer_requests_total{result="cooldown_conflict"}'] + 1  # the kept state was refused
        key = ('p26_actions_downgraded_total{from_action="FULL_CLOSE_PROPOSED",reason="cooldown_downgrade",'
               'to_action="PARTIAL_75"}')
        assert after[key] == before[key] + 1
        assert after["p26_gate_writes_total"] == before["p26_gate_writes_total"] + 1
        third = gate_a.client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED")
        assert (third["decision"]["gate_reason"], third["decision"]["permit"]) == ("cooldown_downgrade", True), third
        assert scrape(gate_a.data["actors"]["permit_issuer"]["metrics_port"])[
            'permit_issuer_requests_total{result="cooldown_conflict"}'] == \
            issuer_after['permit_issuer_requests_total{result="cooldown_conflict"}']  # decided from the new read
        records = [f for _, f in r.xrange(keys.GATE_STREAM) if f["symbol"] == "ETHUSDT"]
        assert [f["final_action"] for f in records] == ["HOLD", "PARTIAL_75", "PARTIAL_75", "PARTIAL_75"]
    finally:
        gate_b.stop()
        gate_a.stop()


def hostile_bodies() -> list[bytes]:
    plan = uuid.uuid4().hex
    base = {"plan_id": plan, "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50"}
    out = [json.dumps(base).encode(),
           json.dumps({**base, "action_proposed": "FULL_CLOSE_PROPOSED"}).encode(),  # the plan_id again, another proposal
           json.dumps({**base, "plan_id": uuid.uuid4().hex, "symbol": ["ETHUSDT"] * 20000}).encode(),
           json.dumps({**base, "plan_id": uuid.uuid4().hex, "symbols": ["ETHUSDT", "BTCUSDT"]}).encode(),
           ('{"plan_id": "%s", "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50", "kill_score": NaN}'
            % uuid.uuid4().hex).encode(),
           ('{"plan_id": "%s", "symbol": "ETHUSDT", "symbol": "BTCUSDT", "action_proposed": "PARTIAL_50"}'
            % uuid.uuid4().hex).encode(),
           ('{"plan_id": "%s", "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50", "deadline_ms": Infinity}'
            % uuid.uuid4().hex).encode()]
    for symbol in ("ＥＴＨUSDT", "ETHUSDT\u200b", "ethusdt", "E" * 32, "E" * 33, "\ud800", "ETH\nUSDT"):
        out.append(json.dumps({**base, "plan_id": uuid.uuid4().hex, "symbol": symbol}).encode())
    out.append(json.dumps({**base, "plan_id": uuid.uuid4().hex, "kill_score": 1.0}).encode())
    return out


def test_hostile_proposals_on_the_lone_path_get_what_they_get_in_a_batch(twins):
    lone, batch, clock = twins
    for gate in (lone, batch):
        gate.redis_client.flushdb()
    for gate in (lone, batch):
        write_book(gate.redis_client)
        gate.refresh_cache()
    for body in hostile_bodies():
        clock.frozen = clock()
        try:
            (a, ma, ra), (b, mb, rb) = decide_both(lone, batch, body)
        finally:
            clock.frozen = None
        assert (a, ra, ma) == (b, rb, mb), body[:200]


from test_gate_deadlines import stepped_p26  # noqa: E402,F401 (the fixture: gate and issuer on a stepped host clock)


def test_a_host_clock_stepped_between_lone_proposals_changes_no_decision_a_fresh_read_would_not(stepped_p26):
    """Gate and issuer on one host whose wall clock steps (NTP) between lone proposals, decided from the state
    the gate keeps (re-read every 100 ms): back 3 s inside a cooldown its own permit set, the cooldown still
    steps the next proposal down; forward 400 s, every snapshot is stale (fail closed, nothing permitted, K from
    the proxy); back again, the cooldown, still in Redis, steps the next one down."""
    from test_gate_service import settle, write_cluster_state
    system, r = stepped_p26, stepped_p26.redis
    write_cluster_state(r, 0.3)
    settle(system, write_book(r))

    from launcher.client import GateClient
    from helpers import wait_for
    client = GateClient(system.endpoint, timeout_ms=3000, retries=1, send_deadline=False)  # on the unstepped clock
    try:
        steps_between_lone_proposals(system, client, wait_for)
    finally:
        client.close()


def steps_between_lone_proposals(system, client, wait_for) -> None:
    def lone(action: str) -> dict:
        reply = client.propose("ETHUSDT", action)
        assert reply["status"] == "ok", reply
        return reply["decision"]

    def when_read(step_s: float) -> None:
        system.step_file.write_text(str(step_s))
        stamp = time.time() + step_s
        wait_for(lambda: system.metrics()["gate_state_read_timestamp_seconds"] > stamp, 5, "a state read after the step",
                 interval_s=0.01)

    first = lone("PARTIAL_50")
    assert first["permit"] and first["k_source"] == "cluster", first
    when_read(-3.0)  # within the snapshots' 5 s future skew; the cluster state is from the future: K from the proxy
    d = lone("FULL_CLOSE_PROPOSED")
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("PARTIAL_75", "cooldown_downgrade", True), d
    when_read(400.0)
    fallbacks = system.metrics()["p26_cluster_fallback_total"]
    d = lone("FULL_CLOSE_PROPOSED")
    assert (d["final_action"], d["gate_reason"], d["permit"], d["k_source"]) == (
        "HOLD", "fail_closed_portfolio_state", False, "proxy"), d
    assert system.metrics()["p26_cluster_fallback_total"] == fallbacks + 1
    when_read(0.0)
    d = lone("FULL_CLOSE_PROPOSED")
    assert (d["final_action"], d["gate_reason"], d["k_source"]) == ("PARTIAL_75", "cooldown_downgrade", "cluster"), d


from test_gate_hot_path import gate_in_process  # noqa: E402,F401 (a real Gate in this process, no timers)


def test_a_lone_proposal_reads_again_when_the_refresh_timer_is_late(gate_in_process):
    """The cache's bound holds on the lone path too: a lone proposal finding the state cache older than
    state_refresh_ms (its timer late: a busy loop, here no timer at all) reads Redis before deciding, so a book
    gone stale since the last read fails closed rather than being permitted from the old read."""
    from helpers import wait_for
    gate = gate_in_process
    gate.state_refresh_s = 0.1  # the default state_refresh_ms; the timer that would re-read is not running
    r = gate.redis_client
    r.flushdb()
    write_book(r)
    gate.refresh_cache()
    first = gate.handle_proposals([[json.dumps({"plan_id": uuid.uuid4().hex, "symbol": "BTCUSDT",
                                                "action_proposed": "PARTIAL_50"}).encode()]])[0]
    assert first["decision"]["permit"], first
    write_book(r, time.time() - 1000)  # every snapshot stale now
    wait_for(lambda: time.perf_counter() - gate._cache_read_mono > gate.state_refresh_s, 5, "the cache to age")
    reply = gate.handle_proposals([[json.dumps({"plan_id": uuid.uuid4().hex, "symbol": "ETHUSDT",
                                                "action_proposed": "PARTIAL_50"}).encode()]])[0]
    d = reply["decision"]
    assert (d["final_action"], d["gate_reason"], d["permit"]) == ("HOLD", "fail_closed_portfolio_state", False), d
