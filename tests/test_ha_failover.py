"""Freelance client failover across two active gates (issue 12): one server at a time, the same plan_id."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
import uuid

import pytest

from actors import keys
from ha_helpers import PAIRS, TwoGates
from helpers import DEADLINE_SCALE, PYTHON, REPO, RedisServer, wait_for
from launcher.client import GateClient, GateUnavailable
from test_gate_deadlines import OVERLOADED, ScriptedGate, decided

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
TIMEOUT_MS = 400


@pytest.fixture
def gates(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    system = TwoGates(tmp_path, server.url)
    try:
        system.start()
        system.redis = server.client()
        ts = int(time.time())
        for symbol, (amt, price) in BOOK.items():
            system.redis.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price,
                                                                       "ts_epoch": ts})
        yield system
    finally:
        for proc in system.procs.values():  # a stopped process cannot take its SIGTERM
            if proc.proc is not None and proc.proc.poll() is None:
                os.kill(proc.proc.pid, signal.SIGCONT)
        system.stop()
        server.stop()


def records_of(r, plan: str) -> int:
    return sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan)


def failover_run(gates: TwoGates, count: int = 12) -> list[float]:
    """`count` proposals, each from a new client that asks the dead or stopped first gate first: each gets its
    decision from the second gate, for its own plan_id, recorded once; returns each call's seconds."""
    seconds = []
    for i in range(count):
        plan = uuid.uuid4().hex
        with GateClient(gates.endpoints, timeout_ms=TIMEOUT_MS, retries=1) as client:
            started = time.monotonic()
            reply = client.propose(("BTCUSDT", "ETHUSDT", "SOLUSDT")[i % 3], "PARTIAL_25", plan_id=plan)
            seconds.append(time.monotonic() - started)
            assert client.endpoint == gates.endpoints[1]  # it stays on the gate that answered
        assert reply["status"] == "ok", reply
        assert reply["decision"]["plan_id"] == plan and not reply["decision"]["replayed"]
        assert records_of(gates.redis, plan) == 1
    # bounded: never more than the call's whole budget, (1 + retries) x endpoints x timeout
    assert max(seconds) < 4 * TIMEOUT_MS / 1000 * DEADLINE_SCALE
    return seconds


def report(name: str, seconds: list[float]) -> None:
    print(f"\n{name}: failover p50 {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms "
          f"(floor: one attempt timeout, {TIMEOUT_MS} ms)")


def test_a_client_gets_its_decision_from_the_other_gate_when_the_first_is_sigkilled(gates):
    gates.procs["gate"].proc.kill()
    gates.procs["gate"].proc.wait(5)
    report("SIGKILL", failover_run(gates))


def test_a_client_gets_its_decision_from_the_other_gate_when_the_first_is_sigstopped_and_one_decision_survives_its_resume(gates):
    stopped = gates.procs["gate"].proc
    os.kill(stopped.pid, signal.SIGSTOP)
    plans_before = {f["plan_id"] for _, f in gates.redis.xrange(keys.GATE_STREAM)}
    seconds = failover_run(gates)
    os.kill(stopped.pid, signal.SIGCONT)
    report("SIGSTOP", seconds)
    # The resumed gate reads the attempts it was sent while stopped: past their deadline, it decides none again.
    with GateClient(gates.endpoints[0], timeout_ms=3000, retries=2) as probe:
        assert probe.propose("BTCUSDT", "HOLD")["status"] == "ok"  # it serves again, after its backlog
    plans = [f["plan_id"] for _, f in gates.redis.xrange(keys.GATE_STREAM)]
    assert len(plans) == len(set(plans)), "a plan_id was recorded twice after the stopped gate resumed"
    assert len(set(plans) - plans_before) == 12 + 1


def test_every_attempt_of_a_failover_carries_the_same_plan_id_and_an_overloaded_gate_hands_over_at_once():
    busy = ScriptedGate([OVERLOADED])
    good = ScriptedGate([decided("p")])
    try:
        with GateClient([busy.endpoint, good.endpoint], timeout_ms=2000, retries=0) as client:
            started = time.monotonic()
            reply = client.propose("ETHUSDT", "HOLD", plan_id="p")
            elapsed = time.monotonic() - started
    finally:
        busy.close()
        good.close()
    assert reply["status"] == "ok", reply
    assert [g["plan_id"] for g in busy.got + good.got] == ["p", "p"]
    assert elapsed < 2.0  # no timeout was waited: overloaded moved on at once


def test_with_every_gate_silent_the_client_gives_up_within_its_budget_naming_the_plan_id():
    # Two endpoints nobody serves: (1 + retries) x 2 attempts of the timeout, then GateUnavailable.
    silent = ["tcp://127.0.0.1:9", "tcp://127.0.0.1:7"]
    with GateClient(silent, timeout_ms=150, retries=1) as client:
        started = time.monotonic()
        with pytest.raises(GateUnavailable) as err:
            client.propose("ETHUSDT", "HOLD", plan_id="z")
        elapsed = time.monotonic() - started
    assert err.value.plan_id == "z" and "after 4 attempts" in str(err.value)
    assert 0.6 <= elapsed < 0.6 + 1.0 * DEADLINE_SCALE


def test_clustergate_propose_asks_every_gate_of_the_topology_by_default_and_fails_over(gates):
    gates.procs["gate"].proc.kill()
    gates.procs["gate"].proc.wait(5)
    plan = uuid.uuid4().hex
    out = subprocess.run([PYTHON, "-m", "launcher", "propose", "--topology", str(gates.topology), "--symbol", "BTCUSDT",
                          "--action", "HOLD", "--plan-id", plan, "--timeout-ms", str(TIMEOUT_MS)],
                         cwd=REPO, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert f'"plan_id": "{plan}"' in out.stdout
    assert records_of(gates.redis, plan) == 1
