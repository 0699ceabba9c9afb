"""Freelance client failover across two active gates (issue 12): one server at a time, the same plan_id."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import threading
import time
import uuid

import pytest

from actors import keys
from actors.policy import FAIL_CLOSED_REASONS
from ha_helpers import PAIRS, TwoGates, answers
from helpers import DEADLINE_SCALE, PYTHON, REPO, RedisServer, scrape, wait_for
from launcher.client import GateClient, GateUnavailable
from test_gate_deadlines import OVERLOADED, ScriptedGate, decided

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}
# Each attempt's wait: the second gate must decide within one (its first decision, a CurveZMQ handshake, a
# loaded 2-core box), or the call moves on and its fourth attempt gets a replay. Scaled like every deadline.
TIMEOUT_MS = max(1000, int(400 * DEADLINE_SCALE))


@pytest.fixture
def gates(tmp_path):
    yield from two_gates(tmp_path)


@pytest.fixture
def curve_gates(tmp_path):
    yield from two_gates(tmp_path, curve=True)


def two_gates(tmp_path, curve: bool = False):
    server = RedisServer(tmp_path / "redis").start()
    system = TwoGates(tmp_path, server.url, curve=curve)
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
            # it moved on from the first gate, within the call's 4 attempts (3 moves if the second gate's first
            # answer came late and the fourth attempt got its replay); the seconds are reported, never asserted
            assert 1 <= client.moves <= 3, f"the client moved {client.moves} times in one call of 4 attempts"
        assert reply["status"] == "ok", reply
        assert reply["decision"]["plan_id"] == plan and not reply["decision"]["replayed"]
        assert records_of(gates.redis, plan) == 1
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
    # It serves again after its backlog: a recorded decision for the probe's plan_id. Its first answers may be fault
    # HOLDs (recorded false, nothing or maybe something recorded: resend the same plan_id), as when a stop longer than
    # the heartbeat timeout (CI, loaded) dropped its connection to its issuer, which it then makes again.
    probe_plan = uuid.uuid4().hex
    deadline = time.monotonic() + 30 * DEADLINE_SCALE
    with GateClient(gates.endpoints[0], timeout_ms=3000, retries=2) as probe:
        while True:
            reply = probe.propose("BTCUSDT", "HOLD", plan_id=probe_plan)
            assert reply["status"] == "ok", reply
            if reply["decision"].get("recorded") is not False:
                break
            assert time.monotonic() < deadline, f"the resumed gate answered only fault HOLDs: {reply}"
            time.sleep(0.1)
    plans = [f["plan_id"] for _, f in gates.redis.xrange(keys.GATE_STREAM)]
    assert len(plans) == len(set(plans)), "a plan_id was recorded twice after the stopped gate resumed"
    assert len(set(plans) - plans_before) == 12 + 1


def propose_in_a_thread(endpoints: list[str], timeout_ms: int, retries: int,
                        plan_id: str) -> tuple[threading.Thread, list[BaseException | dict]]:
    """A GateClient's propose() of an ETHUSDT HOLD, running in a thread: the list gets its reply or its exception,
    so a test polls for it with a deadline instead of timing the call."""
    outcome: list[BaseException | dict] = []

    def call() -> None:
        with GateClient(endpoints, timeout_ms=timeout_ms, retries=retries) as client:
            try:
                outcome.append(client.propose("ETHUSDT", "HOLD", plan_id=plan_id))
            except BaseException as exc:  # noqa: BLE001 - the caller's assertion names it
                outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    return caller, outcome


def test_every_attempt_of_a_failover_carries_the_same_plan_id_and_an_overloaded_gate_hands_over_at_once():
    busy = ScriptedGate([OVERLOADED])
    good = ScriptedGate([decided("p")])
    try:
        # The second gate is polled for with a deadline (8 s, scaled by DEADLINE_SCALE) that the attempt timeout
        # is far above: a client that waited one whole timeout on the overloaded gate never reaches it in time.
        timeout_ms = int(4 * 8 * DEADLINE_SCALE * 1000)
        caller, outcome = propose_in_a_thread([busy.endpoint, good.endpoint], timeout_ms, retries=0, plan_id="p")
        wait_for(lambda: good.got, 8, f"the second gate asked before the first gate's {timeout_ms} ms timeout")
        wait_for(lambda: outcome, 30, "the call to return")
        caller.join()
    finally:
        busy.close()
        good.close()
    reply = outcome[0]
    assert isinstance(reply, dict) and reply["status"] == "ok", reply
    assert [g["plan_id"] for g in busy.got + good.got] == ["p", "p"]


def fault_hold(plan_id: str, reason: str) -> dict:
    return {"status": "ok", "decision": {"plan_id": plan_id, "final_action": "HOLD", "gate_reason": reason,
                                         "permit": False, "recorded": False, "detail": "outcome unknown"}}


def test_a_fault_hold_from_every_gate_in_a_row_is_the_answer_and_the_next_call_starts_at_the_next_gate():
    first = ScriptedGate([fault_hold("f", "redis_unavailable")])
    second = ScriptedGate([fault_hold("f", "permit_unavailable")])
    try:
        with GateClient([first.endpoint, second.endpoint], timeout_ms=2000, retries=2) as client:
            reply = client.propose("ETHUSDT", "HOLD", plan_id="f")
            asked_next = client.endpoint
    finally:
        first.close()
        second.close()
    assert reply["decision"]["gate_reason"] == "permit_unavailable", reply  # the last server's, as it is
    assert [g["plan_id"] for g in first.got + second.got] == ["f", "f"]  # one round, not the whole budget
    assert asked_next == first.endpoint


def test_a_gate_whose_issuer_is_dead_hands_the_same_plan_id_to_the_other_gate_which_records_the_decision(gates):
    # The first pair's issuer is gone: its gate answers HOLD permit_unavailable (recorded false) after
    # permit_timeout_ms; the client asks the second gate with the same plan_id within the call's budget.
    gates.procs["permit_issuer"].proc.kill()
    gates.procs["permit_issuer"].proc.wait(5)
    plan = uuid.uuid4().hex
    with GateClient(gates.endpoints, timeout_ms=2000, retries=0) as client:
        reply = client.propose("BTCUSDT", "PARTIAL_25", plan_id=plan)
        assert client.endpoint == gates.endpoints[1]  # it stays on the gate that decided
    assert reply["status"] == "ok", reply
    decision = reply["decision"]
    assert decision["recorded"] is True and decision["gate_reason"] not in FAIL_CLOSED_REASONS, decision
    assert decision["plan_id"] == plan and records_of(gates.redis, plan) == 1
    first_gate = scrape(gates.metrics_port("gate"))
    assert first_gate.get('p26_fail_closed_total{reason="permit_unavailable"}', 0) >= 1, "the first gate was not asked"


def test_with_every_gate_silent_the_client_gives_up_within_its_budget_naming_the_plan_id():
    """Two endpoints nobody serves: (1 + retries) x 2 attempts of the timeout, then GateUnavailable naming the
    plan_id, the attempts and the call's budget. No clock is asserted: the call must return at all (in a
    thread, polled with a deadline far beyond its 600 ms budget), and its error says what it spent. The budget is a
    hard bound, so on a loaded machine (CI at load 13) the time between attempts can leave no room for the fourth:
    3 or 4 attempts, never the 2 of a call that ignored its retries."""
    silent = ["tcp://127.0.0.1:9", "tcp://127.0.0.1:7"]
    caller, outcome = propose_in_a_thread(silent, 150, retries=1, plan_id="z")
    wait_for(lambda: outcome, 30, "the call to give up")
    caller.join()
    err = outcome[0]
    assert isinstance(err, GateUnavailable), err
    assert err.plan_id == "z"
    message = str(err)
    assert re.search(r"after [34] attempts of up to 150 ms", message) and "the call's budget: 600 ms" in message, message
    assert "plan_id z: retry with the same plan_id" in message, message
    for endpoint in silent:
        assert endpoint in message, message


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


def propose_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", "propose", "--symbol", "BTCUSDT", "--action", "HOLD", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=30)


def test_clustergate_propose_pairs_each_endpoint_with_its_own_server_key_and_fails_over_between_curve_gates(curve_gates):
    # configs/ha.yaml gives every gate its own keypair: --server-key is repeated, one per --endpoint, in order.
    keys_dir = curve_gates.workdir / "keys"
    first, second = (curve_gates.procs[g].proc for g, _ in PAIRS)
    curve_args = ["--client-key", str(keys_dir / "desk.key_secret"), "--timeout-ms", str(TIMEOUT_MS), "--retries", "0",
                  "--endpoint", curve_gates.endpoints[0], "--server-key", str(keys_dir / "gate.key"),
                  "--endpoint", curve_gates.endpoints[1], "--server-key", str(keys_dir / "gate_b.key")]
    os.kill(first.pid, signal.SIGSTOP)  # the first gate does not answer: the second must, with its own key
    plan = uuid.uuid4().hex
    out = propose_command("--plan-id", plan, *curve_args)
    by_topology = propose_command("--topology", str(curve_gates.topology), "--client-key", "desk",
                                  "--timeout-ms", str(TIMEOUT_MS), "--retries", "0")  # each gate's key from its keypair
    os.kill(first.pid, signal.SIGCONT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["decision"]["plan_id"] == plan
    assert records_of(curve_gates.redis, plan) == 1
    assert by_topology.returncode == 0, by_topology.stderr
    # and the first endpoint is asked with the first key (the second gate is stopped: only the first can answer)
    wait_for(lambda: answers(curve_gates.endpoints[0], **curve_gates.client_kwargs[0]), 20, "the resumed first gate")
    os.kill(second.pid, signal.SIGSTOP)
    plan = uuid.uuid4().hex
    out = propose_command("--plan-id", plan, *curve_args)
    os.kill(second.pid, signal.SIGCONT)
    assert out.returncode == 0, out.stderr
    assert records_of(curve_gates.redis, plan) == 1


def test_clustergate_propose_refuses_a_server_key_count_that_does_not_match_the_endpoints(tmp_path):
    out = propose_command("--client-key", str(tmp_path / "desk.key_secret"), "--endpoint", "tcp://127.0.0.1:9",
                          "--endpoint", "tcp://127.0.0.1:7", "--server-key", str(tmp_path / "gate.key"))
    assert out.returncode == 2, out
    assert "1 --server-key for 2 --endpoint" in out.stderr, out.stderr
    out = propose_command("--topology", str(REPO / "configs" / "demo.yaml"), "--client-key", "desk",
                          "--server-key", "gate", "--server-key", "gate_b")
    assert out.returncode == 2, out
    assert "2 --server-key for the topology's 1 gate (gate)" in out.stderr, out.stderr


def test_an_internal_error_is_not_final_the_same_plan_id_goes_to_the_next_gate_which_decides():
    # A gate that failed while deciding may have had its issuer record the decision: only the same plan_id
    # on another gate can tell (a replay, or a decision recorded now), so the call goes on, as for a fault HOLD.
    first = ScriptedGate([{"status": "error", "reason": "internal_error", "detail": "RuntimeError: boom", "plan_id": "i"}])
    decided = {"status": "ok", "decision": {"plan_id": "i", "final_action": "HOLD", "gate_reason": "pass",
                                            "permit": False, "recorded": True, "replayed": True}}
    second = ScriptedGate([decided])
    try:
        with GateClient([first.endpoint, second.endpoint], timeout_ms=2000, retries=0) as client:
            reply = client.propose("ETHUSDT", "HOLD", plan_id="i")
            assert client.endpoint == second.endpoint
    finally:
        first.close()
        second.close()
    assert reply == decided
    assert [g["plan_id"] for g in first.got + second.got] == ["i", "i"]
