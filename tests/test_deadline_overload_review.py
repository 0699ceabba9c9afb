"""Hostile review of issue 14 as built (rev-deadline): client deadlines (`deadline_ms`, `expired`) and explicit
overload (`overloaded`), attacked with a real gate, permit issuer and redis-server and real ZeroMQ clients."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import zmq

from launcher import keys
from launcher.client import GateClient, GateUnavailable
from helpers import DEADLINE_SCALE, REPO, TcpProxy, scrape, wait_for, write_topology
from test_gate_deadlines import (SKEWED_CLOCK, bytes_queued_for, new_plan, nothing_written, one_reply,  # noqa: F401
                                 p26)  # p26: the fixture
from test_bound_requesters import gate_and_issuer_deciding, reversed_link_topology
from test_gate_service import P26, write_book


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


# Every hostile deadline_ms the review tried, as JSON text, and the error it must get (nothing decided or written):
# refused as invalid, or expired (a deadline in seconds, or one that is not a time at all, is long past).
HOSTILE_DEADLINES = {
    b"NaN": "invalid_proposal", b"Infinity": "invalid_proposal", b"-Infinity": "invalid_proposal",
    b"1e308": "invalid_proposal", b"1e400": "invalid_proposal", b"-5": "invalid_proposal", b"0": "invalid_proposal",
    b"-0.0": "invalid_proposal", b"true": "invalid_proposal", b"false": "invalid_proposal",
    b'"1800000000000"': "invalid_proposal", b"[1]": "invalid_proposal", b'{"a":1}': "invalid_proposal",
    b"100000000000000": "invalid_proposal", b"1" + b"0" * 30: "invalid_proposal", b"1" + b"0" * 400: "invalid_proposal",
    b"18446744073709551616": "invalid_proposal", b"null": "invalid_proposal",
    b"1e-300": "expired", b"0.5": "expired", b"2000": "expired", b"1800000000": "expired",
}


def test_every_hostile_deadline_is_refused_or_expired_and_nothing_is_written(p26) -> None:
    """NaN, infinities, 1e308, negative, 0, booleans, strings, containers, epoch microseconds, integers beyond
    64 bits, null: invalid_proposal; a deadline in seconds, a relative timeout (2000) or a fraction of a ms: long
    past, so expired. Each names its plan_id, and no decision, record or permit exists for any of them."""
    r = p26.redis
    before = scrape(p26.gate_metrics_port)
    plans = {}
    for raw, reason in HOSTILE_DEADLINES.items():
        plan = plans[raw] = new_plan()
        reply = one_reply(p26.endpoint, raw_proposal(plan, raw))
        assert (reply["status"], reply.get("reason"), reply.get("plan_id")) == ("error", reason, plan), (raw, reply)
        assert "deadline_ms" in reply["detail"], (raw, reply)
    assert all(nothing_written(r, plan) for plan in plans.values())
    after = scrape(p26.gate_metrics_port)
    for result in ("bad_request", "expired"):
        key = f'gate_requests_total{{result="{result}"}}'
        wanted = {"bad_request": "invalid_proposal"}.get(result, result)
        assert after[key] - before[key] == sum(1 for v in HOSTILE_DEADLINES.values() if v == wanted), result
    assert after["p26_gate_writes_total"] == before["p26_gate_writes_total"]


class DeadlineNotingClient(GateClient):
    """A GateClient that keeps the deadline_ms of every attempt it sends, by plan_id (each attempt takes its socket
    just after it set its deadline_ms)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadlines: dict[str, list[int]] = {}
        self._body: dict | None = None

    def _propose_attempts(self, body: dict, *args) -> dict:
        self._body = body
        return super()._propose_attempts(body, *args)

    def _socket(self):
        if self._body is not None:
            self.deadlines.setdefault(self._body["plan_id"], []).append(self._body["deadline_ms"])
        return super()._socket()


REVIEW_SKEW_MS = 20
CLIENTS, CALLS = 72, 10


def test_gateclients_overloading_a_real_gate_get_answers_within_their_deadlines_and_the_counters_add_up(
        tmp_path, redis_server) -> None:
    """72 GateClients (REQ, 150 ms attempts, 3 retries) each send 10 proposals one after another to a gate whose
    queue holds 16 behind the batch it takes next (up to 64: more clients than that, else none ever waits) and ages
    out at 60 ms, its permit issuer stopped 400 ms part way (timeouts, then a rush that
    finds the queue full). Each call ends with a decision, `overloaded`, `expired` or GateUnavailable; a call that
    ends `expired` has nothing recorded (else it would say nothing was decided while a permit exists); every record
    landed by its plan's last attempt's deadline less the skew (a stream id is Redis's time of the write); a plan
    has one record at most; the issuer's counters agree with Redis, and the gate's do but for the decisions it
    answered with a fault HOLD (outcome unknown)."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"deadline_skew_ms": REVIEW_SKEW_MS, "overload_queue_depth": 16,
                                "overload_queue_age_ms": 60, "permit_timeout_ms": 400}).start()
    issuer_port = system.data["actors"]["permit_issuer"]["metrics_port"]
    clients = [DeadlineNotingClient(system.endpoint, timeout_ms=150, retries=3) for _ in range(CLIENTS)]
    ends: dict[str, str] = {}
    replies: dict[str, dict] = {}
    lock = threading.Lock()
    started = threading.Barrier(len(clients) + 1)

    def run(n: int, client: DeadlineNotingClient) -> None:
        started.wait()
        for i in range(CALLS):
            plan = f"rev-{n}-{i}-{new_plan()[:8]}"
            symbol, action = ("ETHUSDT", "BTCUSDT", "SOLUSDT")[i % 3], ("HOLD", "PARTIAL_25", "PARTIAL_50")[(i + n) % 3]
            try:
                reply = client.propose(symbol, action, plan_id=plan)
                end = "ok" if reply["status"] == "ok" else reply["reason"]
            except GateUnavailable:
                reply, end = {}, "unavailable"
            with lock:
                ends[plan], replies[plan] = end, reply

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(clients)]
    before_gate, before_issuer = scrape(system.gate_metrics_port), scrape(issuer_port)
    try:
        for t in threads:
            t.start()
        started.wait()
        wait_for(lambda: len(ends) >= 100, 60, "100 calls ended", interval_s=0.01)
        os.kill(system.issuer.proc.pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            wait_for(lambda: time.monotonic() - stopped >= 0.4, 10, "the issuer stopped a while", interval_s=0.01)
        finally:
            os.kill(system.issuer.proc.pid, signal.SIGCONT)
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a client call did not end"
        after_gate, after_issuer = scrape(system.gate_metrics_port), scrape(issuer_port)
    finally:
        for c in clients:
            c.close()
        system.stop()
    kinds = {k: sum(1 for e in ends.values() if e == k) for k in set(ends.values())}
    print(kinds)
    assert len(ends) == CLIENTS * CALLS and set(kinds) <= {"ok", "overloaded", "expired", "unavailable"}, kinds
    deadlines = {plan: ds for c in clients for plan, ds in c.deadlines.items()}
    written: dict[str, int] = {}
    for entry_id, fields in r.xrange(keys.GATE_STREAM):
        assert fields["plan_id"] not in written, f"two records for {fields['plan_id']}"
        written[fields["plan_id"]] = int(entry_id.split("-")[0])
    late = {p: ms - (max(deadlines[p]) - REVIEW_SKEW_MS) for p, ms in written.items()
            if ms > max(deadlines[p]) - REVIEW_SKEW_MS}
    assert not late, f"records written after their plan's last deadline less the skew: {late}"
    assert not [p for p, e in ends.items() if e == "expired" and p in written], "a call ended expired with a record"
    for plan, reply in replies.items():
        if ends[plan] == "ok" and reply["decision"]["recorded"]:
            assert plan in written, plan
            assert bool(r.exists(keys.permit(plan))) == reply["decision"]["permit"], reply
    permits = sum(1 for p in written if r.exists(keys.permit(p)))

    def gate(name: str) -> float:
        return after_gate.get(name, 0.0) - before_gate.get(name, 0.0)

    def issuer(name: str) -> float:
        return after_issuer.get(name, 0.0) - before_issuer.get(name, 0.0)
    assert gate('gate_requests_total{result="overloaded"}') > 0, "the gate never shed: the test missed its case"
    assert issuer('permit_issuer_requests_total{result="written"}') == len(written)
    assert issuer("permit_issuer_permits_issued_total") == permits
    # The gate counts the writes it was told of: a batch the issuer wrote just before it was stopped was answered to
    # the gate after the gate gave up (a fault HOLD, outcome unknown), so those writes are the issuer's alone.
    unknown = gate('p26_fail_closed_total{reason="permit_unavailable"}')
    assert len(written) - unknown <= gate("p26_gate_writes_total") <= len(written)
    assert permits - unknown <= gate("p26_permit_issued_total") <= permits
    seen = sum(gate(k) for k in after_gate if k.startswith("p26_plans_seen_total{"))
    assert seen == sum(gate(f'gate_requests_total{{result="{r_}"}}') for r_ in ("ok", "plan_id_conflict", "expired"))
    attempts = sum(len(ds) for ds in deadlines.values())
    assert sum(gate(k) for k in after_gate if k.startswith("gate_requests_total{")) <= attempts


def test_an_expired_reply_names_the_deadline_as_sent_and_the_mistake_a_small_one_may_be(p26) -> None:
    """A deadline_ms of 0.5 was answered "deadline_ms 0 less the allowed clock skew ... passed": a deadline of 0,
    which the gate refuses as invalid, so the reply contradicted the request; and a relative timeout (2000: "two
    seconds from now") was told only that deadline_ms is "not seconds", sending its author after the wrong unit.
    The reply names the deadline as sent, and says that deadline_ms is a time, not a timeout."""
    reply = one_reply(p26.endpoint, raw_proposal(new_plan(), b"0.5"))
    assert reply.get("reason") == "expired" and "deadline_ms 0.5 less" in reply["detail"], reply
    reply = one_reply(p26.endpoint, raw_proposal(new_plan(), b"2000"))
    assert reply.get("reason") == "expired" and "deadline_ms 2000 less" in reply["detail"], reply
    assert "not seconds" in reply["detail"] and "timeout" in reply["detail"], reply


def stepped_host_clock(tmp_path, monkeypatch):
    """The file whose seconds step the wall clock of the actor processes started from now on (tests/skewed_clock),
    as an NTP step steps a host's: 0 at first."""
    step_file = tmp_path / "clock_step_s"
    step_file.write_text("0")
    monkeypatch.setenv("PYTHONPATH", str(SKEWED_CLOCK))
    monkeypatch.setenv("CLUSTERGATE_TEST_CLOCK_STEP_FILE", str(step_file))
    return step_file


@pytest.fixture
def stepped_slow_p26(tmp_path, redis_server, monkeypatch):
    """Gate and permit issuer on one host whose wall clock the test steps (tests/skewed_clock: the seconds in
    `system.step_file`), an external redis-server not stepped, skew 0, and a gate that waits 20 s for its issuer
    (its own deadline for the write: 10 s after its decision, well after a client's short deadline). With 4 s (2 s)
    the issuer, stopped until the client's deadline (0.9 s) had passed, was resumed past the gate's own in a loaded run
    (the test's process starved: stopped 2.5 s): it refused the gate's deadline first, and the gate's answer was its
    fault HOLD, not the client's `expired`."""
    step_file = stepped_host_clock(tmp_path, monkeypatch)
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url, gate_settings={"deadline_skew_ms": 0, "permit_timeout_ms": 20000})
    try:
        system.start()
        system.redis, system.step_file = r, step_file
        yield system
    finally:
        system.stop()


def test_a_wall_clock_step_back_while_a_decision_waits_for_its_issuer_does_not_let_it_be_written_after_its_deadline(
        stepped_slow_p26) -> None:
    """The gate sends its own deadline by the monotonic clock too (deadline_mono), so a step of the host's wall clock
    while the request waits for a busy issuer does not move it; the proposal's own deadline (deadline_ms less the
    skew, earlier than the gate's) went by the wall clock alone. Stepped back 2 s while the request waited, the
    issuer took the client's deadline for one 2 s later: the decision and its permit were written after the client's
    deadline had passed (skew 0), the gate's 2 s deadline the only bound. Each item's own deadline is now moved by
    the step the request's deadline_mono shows, so the issuer refuses it: `expired`, nothing written."""
    system, r = stepped_slow_p26, stepped_slow_p26.redis
    issuer_port = int(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"].rsplit(":", 1)[1])
    assert system.client.propose("BTCUSDT", "HOLD", plan_id=new_plan())["decision"]["recorded"]  # the pipe is up
    plan = new_plan()
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.endpoint)
    issuer_pid = system.issuer.proc.pid
    try:
        os.kill(issuer_pid, signal.SIGSTOP)
        try:
            deadline_ms = time.time() * 1000 + 300 * DEADLINE_SCALE
            sock.send(raw_proposal(plan, b"%d" % deadline_ms))
            wait_for(lambda: bytes_queued_for(issuer_port) > 0, 10, "the gate's request to the stopped issuer",
                     interval_s=0.005)
            system.step_file.write_text("-2.0")  # an NTP step back of the gate's and the issuer's host
            wait_for(lambda: time.time() * 1000 > deadline_ms + 100, 10, "the client's deadline passed",
                     interval_s=0.01)
        finally:
            os.kill(issuer_pid, signal.SIGCONT)
        assert sock.poll(10_000 * DEADLINE_SCALE), "the gate did not answer"
        reply = json.loads(sock.recv())
    finally:
        sock.close(linger=0)
    written = [int(i.split("-")[0]) - deadline_ms for i, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
    assert not written, f"recorded {written[0]:.0f} ms after the client's deadline; reply {reply}"
    assert (reply["status"], reply.get("reason")) == ("error", "expired"), reply
    assert nothing_written(r, plan)


def test_a_wall_clock_step_back_while_the_gate_reads_its_state_does_not_move_the_gates_deadline(
        tmp_path, redis_server, monkeypatch) -> None:
    """The gate sets its deadline for the write (permit_timeout_ms / 2 after its decision) by the wall clock read
    before its state read, and sent it by the monotonic clock as that deadline less the wall clock read at the
    request: a step back of the host's clock during a slow state read (Redis stalled) moved the monotonic deadline
    later by the step. Stepped back 2 s while Redis was stopped, the gate gave up on its stopped issuer (HOLD
    permit_unavailable, outcome unknown), and the issuer, resumed after that, still wrote the decision and its permit.
    The monotonic deadline is now taken from the monotonic clock read with the decision's wall clock."""
    step_file = stepped_host_clock(tmp_path, monkeypatch)
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"deadline_skew_ms": 0, "state_refresh_ms": 0, "refresh_s": 3600,
                                "permit_timeout_ms": 1000})
    system.data["redis"]["timeout_ms"] = 5000  # the gate's state read waits for a stopped Redis
    write_topology(system.topology, system.data)
    issuer_port = int(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"].rsplit(":", 1)[1])
    issuer_metrics = system.data["actors"]["permit_issuer"]["metrics_port"]
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        system.start()
        assert system.client.propose("BTCUSDT", "HOLD", plan_id=new_plan())["decision"]["recorded"]  # the pipe is up
        handled = lambda: sum(v for k, v in scrape(issuer_metrics).items()  # noqa: E731
                              if k.startswith("permit_issuer_requests_total{"))
        handled_before = handled()
        plan = new_plan()
        sock.connect(system.endpoint)
        os.kill(system.issuer.proc.pid, signal.SIGSTOP)
        try:
            redis_server.proc.send_signal(signal.SIGSTOP)
            try:
                sock.send(json.dumps({"plan_id": plan, "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50"}).encode())
                wait_for(lambda: bytes_queued_for(redis_server.port) > 0, 10, "the gate's state read at the stopped Redis",
                         interval_s=0.005)
                step_file.write_text("-2.0")  # an NTP step back of the gate's and the issuer's host
            finally:
                redis_server.proc.send_signal(signal.SIGCONT)
            wait_for(lambda: bytes_queued_for(issuer_port) > 0, 10, "the gate's request to the stopped issuer",
                     interval_s=0.005)
            assert sock.poll(10_000 * DEADLINE_SCALE), "the gate did not answer"
            reply = json.loads(sock.recv())
            assert reply["decision"]["gate_reason"] == "permit_unavailable", reply  # the gate gave up on its issuer
        finally:
            os.kill(system.issuer.proc.pid, signal.SIGCONT)
        wait_for(lambda: handled() > handled_before, 10, "the issuer's answer to the gate's request", interval_s=0.01)
    finally:
        sock.close(linger=0)
        system.stop()
    written = [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
    assert not written and r.exists(keys.permit(plan)) == 0, (
        f"written (final_action {written[0]['final_action'] if written else '?'}) after the gate answered {reply}")


def test_a_wall_clock_step_back_before_a_gate_waits_for_an_issuer_to_connect_does_not_wedge_it(
        tmp_path, redis_server, monkeypatch) -> None:
    """A gate whose `permits` socket binds, with its issuer gone, waits for one to connect until the request's deadline
    and then answers HOLD permit_unavailable, nothing recorded. It measured that wait by the wall clock, against a
    deadline read before its state read: stepped back 60 s while a stalled Redis held that read, it waited 62 s and
    answered no proposal meanwhile. It now waits by the request's deadline_mono, which no step moves."""
    step_file = stepped_host_clock(tmp_path, monkeypatch)
    r = redis_server.client()
    write_book(r)
    path, data = reversed_link_topology(tmp_path, redis_server.url, ("gate", "permits"), ("permit_issuer", "requests"))
    data["actors"]["gate"]["settings"].update({"deadline_skew_ms": 0, "state_refresh_ms": 0, "refresh_s": 3600,
                                               "permit_timeout_ms": 4000})
    data["redis"]["timeout_ms"] = 5000  # the gate's state read waits for a stopped Redis
    write_topology(path, data)
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    gate, issuer = gate_and_issuer_deciding(path, endpoint)
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        issuer.terminate()  # gone for good: its connection closes and the gate has no pipe
        proposal = lambda plan: json.dumps({"plan_id": plan, "symbol": "ETHUSDT",  # noqa: E731
                                            "action_proposed": "PARTIAL_50"}).encode()
        decision = one_reply(endpoint, proposal(new_plan()), timeout_ms=15_000)["decision"]
        assert "no permit issuer is connected" in decision["detail"], decision
        plan = new_plan()
        sock.connect(endpoint)
        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            sock.send(proposal(plan))
            wait_for(lambda: bytes_queued_for(redis_server.port) > 0, 10, "the gate's state read at the stopped Redis",
                     interval_s=0.005)
            step_file.write_text("-600")  # an NTP step back of the gate's host, after the gate read its clock
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
        assert sock.poll(15_000 * DEADLINE_SCALE), f"the gate did not answer\n{gate.log()[-3000:]}"
        decision = json.loads(sock.recv())["decision"]
        assert (decision["final_action"], decision["gate_reason"], decision["recorded"], decision["permit"]) == (
            "HOLD", "permit_unavailable", False, False), decision
        assert "no permit issuer is connected" in decision["detail"], decision
        assert nothing_written(r, plan)
        decision = one_reply(endpoint, proposal(new_plan()), timeout_ms=15_000)["decision"]  # and the next one
        assert (decision["gate_reason"], decision["recorded"]) == ("permit_unavailable", False), decision
    finally:
        sock.close(linger=0)
        gate.terminate()
        issuer.terminate()


class WrittenReplyHoldingProxy(TcpProxy):
    """A real TCP proxy in front of redis-server that holds back Redis's first reply saying `written` by `hold_s`:
    the script has run and written, only its answer is late (a stall after Redis answered)."""

    def __init__(self, redis_port: int, hold_s: float):
        self.hold_s, self.held = hold_s, threading.Event()
        super().__init__(redis_port)

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if not to_upstream and b"written" in data and not self.held.is_set():
            self.held.set()
            time.sleep(self.hold_s)
        return data


def issuer_answers_late_section() -> str:
    """docs/monitoring.md's account of the permit issuer's answer to a gate that gave up on it."""
    page = (REPO / "docs" / "monitoring.md").read_text()
    start = page.index("issuer's socket is a REP: its answer to a gate that gave up")
    return " ".join(page[start:page.index("\n- ", start)].split())


def test_an_issuer_answer_that_came_after_the_gate_gave_up_is_counted_as_the_issuer_did_and_the_monitoring_page_says_so(
        tmp_path, redis_server) -> None:
    """docs/monitoring.md said the issuer's answer to a gate that gave up on it comes when "its item's deadline has
    passed and the issuer counts it expired". Not when the write landed in time and only its answer came late (Redis's
    reply held back 1 s, the gate's permit_timeout_ms 500): the gate answered outcome unknown, Redis holds the decision
    and its permit, and the issuer counted it `written`, not `expired`: an operator matching the counters to Redis
    was sent after a refusal that never happened. The page says both cases; resubmitting the plan_id replays it."""
    # permit_timeout_ms 500 x DEADLINE_SCALE, half the hold as before: the issuer must run its script within half of it
    # (issuer_deadline_s), else it refuses the item expired and writes nothing; 250 ms was short on a loaded machine.
    hold_s = 1.0 * DEADLINE_SCALE
    proxy = WrittenReplyHoldingProxy(redis_server.port, hold_s)
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", f"redis://127.0.0.1:{proxy.port}/0",
                 gate_settings={"deadline_skew_ms": 0, "permit_timeout_ms": int(500 * DEADLINE_SCALE)})
    system.data["redis"]["timeout_ms"] = int(4000 * hold_s)
    write_topology(system.topology, system.data)
    issuer_port = system.data["actors"]["permit_issuer"]["metrics_port"]
    try:
        system.start()
        before = scrape(issuer_port)
        plan = new_plan()
        proposal = {"plan_id": plan, "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50",
                    "deadline_ms": time.time() * 1000 + 20_000 * DEADLINE_SCALE}
        reply = one_reply(system.endpoint, json.dumps(proposal).encode())
        assert proxy.held.is_set(), "Redis's answer to the write was not held back"
        decision = reply["decision"]
        assert (decision["gate_reason"], decision["recorded"]) == ("permit_unavailable", False), reply
        assert decision["detail"].startswith("outcome unknown"), reply

        def counted(result: str) -> float:
            key = f'permit_issuer_requests_total{{result="{result}"}}'
            return scrape(issuer_port).get(key, 0.0) - before.get(key, 0.0)
        wait_for(lambda: counted("written") == 1, 10, "the issuer to count its late-answered write")
        assert counted("expired") == 0
        assert r.exists(keys.permit(plan)) and any(f["plan_id"] == plan for _, f in r.xrange(keys.GATE_STREAM))
        replay = one_reply(system.endpoint, json.dumps(proposal).encode())["decision"]
        assert replay["replayed"] and replay["recorded"] and replay["permit"], replay
    finally:
        system.stop()
        proxy.close()
    section = issuer_answers_late_section()
    assert 'result="written"' in section and 'result="expired"' in section, section
