"""Exit-path review (rev-exitpath): what a desk reads in a reply while the permit issuer or Redis misbehaves, against
a real gate, permit issuer and redis-server."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import zmq

from launcher.client import GateClient
from helpers import DEADLINE_SCALE, stopped, wait_for
from launcher import keys
from helpers import RedisServer
from test_gate_deadlines import host_stepped_p26, nothing_written, step_clock_library  # noqa: F401 (fixtures)
from test_gate_service import (P26, decision_of, issuer_item, issuer_request, new_plan, running_p26, settle,
                               write_book, write_cluster_state)

# A decision's portfolio metrics and where K and sigma came from: what a fault HOLD has none of (each field there, null).
METRIC_FIELDS = ("stress", "heat", "concentration", "corr_proxy", "K", "k_source", "sigma_source")


def test_a_fault_hold_reports_no_metrics_and_no_k_source_it_never_decided_on(tmp_path, redis_server):
    """A fault HOLD (recorded false) is no decision on the portfolio: its metrics are null, as docs/proposal-api.md
    says of a metric that cannot be computed. They were 0.0 with `k_source: "proxy"`: with K from a fresh cluster
    state (p26_cluster_stress_used 1, no fallback counted) a desk, a dashboard or the fallback proof read a cold book
    whose K came from the proxy."""
    # A cluster state fresh for the whole test, however slow the machine: K comes from the cluster throughout.
    with running_p26(tmp_path, redis_server, gate_settings={"freshness_s": 600}) as p26:
        settle(p26, write_cluster_state(p26.redis, 0.7))
        d = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))
        assert d["recorded"] and d["k_source"] == "cluster", d
        with GateClient(p26.endpoint, timeout_ms=3000, retries=0) as client:
            with stopped(p26.issuer.proc.pid):  # the issuer does not answer: HOLD permit_unavailable
                unanswered = decision_of(client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
            assert (unanswered["gate_reason"], unanswered["recorded"]) == ("permit_unavailable", False), unanswered
            assert p26.metrics()["p26_cluster_stress_used"] == 1.0  # the gate's own K came from the cluster
            with stopped(redis_server.proc.pid):  # the state read times out: HOLD redis_unavailable

                def state_unread() -> dict:
                    d = decision_of(client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
                    return d if d["gate_reason"] == "redis_unavailable" else {}
                unread = wait_for(state_unread, 10, "a HOLD redis_unavailable while Redis is stopped")
        for fault in (unanswered, unread):
            assert {f: fault.get(f, "absent") for f in METRIC_FIELDS} == dict.fromkeys(METRIC_FIELDS), fault
            assert (fault["final_action"], fault["permit"]) == ("HOLD", False), fault


def send_to_issuer_during_a_stall(system, stalled_pid: int, plan: str, step_s: float) -> dict:
    """Send the permit issuer the gate's request for one decision (its deadline 0.3 s ahead, by the wall clock and by
    the monotonic clock, as the gate sets it) with `stalled_pid` SIGSTOPped for 0.8 s, the host's wall clock stepped
    by step_s 0.2 s into the stall; the issuer's reply."""
    deadline, deadline_mono = time.time() + 0.3, time.monotonic() + 0.3
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"])
    try:
        with stopped(stalled_pid):
            sock.send(json.dumps({**issuer_item(plan, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": deadline,
                                  "deadline_mono": deadline_mono}).encode())
            time.sleep(0.2)
            system.step_file.write_text(str(step_s))  # the host's wall clock (Redis's too) steps
            time.sleep(0.6)  # the stall outlasts the deadline
        assert sock.poll(10_000 * DEADLINE_SCALE), "the permit issuer did not answer"
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)


def test_a_host_clock_stepped_back_while_redis_holds_the_script_lets_no_write_land_after_its_deadline(
        host_stepped_p26):
    """The script compares Redis's wall clock with the deadline; stepped back (an NTP step of the host that runs
    gate, issuer and Redis, as production.yaml does) while a stalled Redis held the script, that clock put the
    deadline seconds late: with the host stepped back 3 s, 0.2 s into a 0.8 s stall, the decision and its permit
    were written 0.5 s after the gate's deadline, after the gate had answered its client "outcome unknown". The
    issuer now gives the script the earliest Redis's clock can read when the script is sent: a clock found before
    that went back while the script waited, and nothing is written. (An issuer held up by the stall in a reading of
    Redis's clock reads the request only after the step: the next test's case; a few tries make sure the script
    itself met the step at least once.)"""
    system, r = host_stepped_p26, host_stepped_p26.redis
    met_by_the_script = 0
    for _ in range(6):
        system.step_file.write_text("0")
        time.sleep(0.1)
        plan = new_plan()
        reply = send_to_issuer_during_a_stall(system, int(r.info("server")["process_id"]), plan, -3.0)
        assert (reply["status"], reply.get("reason")) == ("error", "expired"), reply
        assert nothing_written(r, plan)
        met_by_the_script += "clock" in reply["detail"]
        if met_by_the_script:
            break
    assert met_by_the_script, "the issuer never sent the script before the step"


def test_a_host_clock_stepped_back_while_the_request_waits_for_the_issuer_does_not_move_the_gates_deadline(
        host_stepped_p26):
    """The issuer took the gate's deadline_epoch on its wall clock when it read the request: stepped back 3 s while
    the request waited for a busy (here stopped) issuer, that deadline came 3 s late in real time, and the decision
    and its permit were written after the gate had stopped waiting. The gate also sends its deadline by the
    monotonic clock the two share (one host), which no step moves: nothing is written."""
    system, r = host_stepped_p26, host_stepped_p26.redis
    plan = new_plan()
    reply = send_to_issuer_during_a_stall(system, system.issuer.proc.pid, plan, -3.0)
    assert (reply["status"], reply.get("reason")) == ("error", "expired"), reply
    assert nothing_written(r, plan)


@contextmanager
def external_redis_and_p26(tmp_path, step_clock_library, monkeypatch) -> Iterator[tuple]:
    """(P26 system, redis-server, its clock-step file): a gate and its issuer on this host, Redis "on another host":
    its wall clock alone is stepped by the seconds written in the file (an NTP step of that host)."""
    step_file = tmp_path / "redis_clock_step_s"
    step_file.write_text("0")
    with monkeypatch.context() as only_redis:
        only_redis.setenv("CLUSTERGATE_TEST_CLOCK_STEP_FILE", str(step_file))
        only_redis.setenv("LD_PRELOAD", str(step_clock_library))
        server = RedisServer(tmp_path / "redis").start()
    try:
        write_book(server.client())
        system = P26(tmp_path / "p26", server.url).start()
        try:
            yield system, server, step_file
        finally:
            system.stop()
    finally:
        server.stop()


def test_an_external_redis_clock_a_little_behind_the_issuers_reading_of_it_refuses_no_decision(
        tmp_path, step_clock_library, monkeypatch):
    """The check above must not take drift for a step: an external Redis (on another host, under Sentinel say)
    whose clock falls 50 ms behind what the issuer read of it (its NTP slewing, or a small step of its host alone)
    before the issuer reads it again (every 5 s) still records decisions with time left, as it did before the
    check: only a clock that went back by more than the check's margin is refused."""
    with external_redis_and_p26(tmp_path, step_clock_library, monkeypatch) as (system, server, step_file):
        step_file.write_text("-0.05")  # Redis's clock alone, 50 ms back, after the issuer's reading at its start
        plan = new_plan()
        reply = issuer_request(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": time.time() + 1})
        assert reply["status"] == "ok" and reply["written"], reply
        assert server.client().exists(keys.permit(plan)) == 1
        assert "redis_clock_went_back" not in system.issuer.log()  # a drift within the margin: no script refused


def test_a_decision_the_gate_gave_up_on_is_not_written_after_a_host_clock_step_back_while_its_issuer_stalled(
        host_stepped_p26):
    """End to end: the gate asks its issuer, stalled (SIGSTOP) for 0.8 s; 0.2 s in, the host's wall clock steps
    back 3 s; the gate gives up at permit_timeout_ms (500 ms, its own monotonic wait) and answers "outcome unknown".
    The issuer, resumed, must not then write the decision: it reads the gate's deadline by the shared monotonic
    clock (the gate's deadline_epoch, on the stepped clock, was 3 s away)."""
    system, r = host_stepped_p26, host_stepped_p26.redis
    plan = new_plan()
    answer: dict = {}
    with GateClient(system.endpoint, timeout_ms=int(10_000 * DEADLINE_SCALE), retries=0, send_deadline=False) as client:
        with stopped(system.issuer.proc.pid):
            asking = threading.Thread(target=lambda: answer.update(client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan)))
            asking.start()
            time.sleep(0.2)
            system.step_file.write_text("-3.0")
            time.sleep(0.6)
        asking.join()
    d = decision_of(answer)
    assert (d["gate_reason"], d["recorded"]) == ("permit_unavailable", False), d
    # The resumed issuer answers a request sent after the gate's (if the gate's left the gate before it gave up and
    # closed its socket, the issuer has read it by then: both wait in its socket).
    probe = issuer_request(system, {**issuer_item(new_plan(), "SOLUSDT", "HOLD"), "deadline_epoch": time.time() + 5})
    assert probe["status"] == "ok" and probe["written"], probe
    assert nothing_written(r, plan)


def test_an_exit_proposed_just_after_an_external_redis_clock_stepped_is_decided_not_refused(
        tmp_path, step_clock_library, monkeypatch):
    """rev-today: an external Redis's host stepped by its NTP (ntpd steps past 128 ms; here 150 ms back, then 400 ms
    forward), between two of the issuer's readings of Redis's clock (every 5 s). Back: the script's check for a clock
    that went back while it waited (c5ad0ca, 100 ms margin) refused the next exit although Redis had not stalled at
    all; forward: every exit whose 250 ms to the gate's deadline were less than the step was refused as expired, until
    the next reading. Both were answered HOLD permit_unavailable (recorded false) with nothing in Redis: the desk
    could not exit. The issuer now reads Redis's clock again and runs the script once more while, by this host's
    monotonic clock, the gate's deadline has not passed: a real step within the script's wait still writes nothing."""
    with external_redis_and_p26(tmp_path, step_clock_library, monkeypatch) as (system, server, step_file):
        with GateClient(system.endpoint, timeout_ms=int(5000 * DEADLINE_SCALE), retries=0) as client:
            for step_s in ("-0.15", "0.25"):  # 150 ms back from the reading at start, then 400 ms past the one after it
                step_file.write_text(step_s)
                plan = new_plan()
                d = decision_of(client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
                assert d.get("recorded") is True and d["gate_reason"] != "permit_unavailable", (step_s, d)
                assert server.client().exists(keys.plan_decision(plan)) == 1
        assert "redis_clock_went_back" in system.issuer.log()


def test_a_bad_deadline_mono_is_refused_naming_deadline_mono_and_what_it_must_be(tmp_path, redis_server):
    """rev-today: a local process sending the issuer a deadline_mono that is no number or no monotonic time (a bool,
    a string, 1e12) was refused, nothing written, but told "request: deadline_mono: deadline_epoch must be a
    number" / "... deadline_epoch 1e12 is not epoch seconds": the wrong field, and the wrong clock. The refusal now
    names deadline_mono and says it is seconds of the monotonic clock the gate and issuer share."""
    with running_p26(tmp_path, redis_server) as system:
        for bad in (True, "soon", 1e12, -1e12):  # (NaN is no JSON: refused before any field is read)
            plan = new_plan()
            reply = issuer_request(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": time.time() + 5,
                                            "deadline_mono": bad})
            assert (reply["status"], reply["reason"]) == ("error", "bad_request"), (bad, reply)
            assert "deadline_epoch" not in reply["detail"] and "deadline_mono" in reply["detail"], (bad, reply)
            assert "monotonic" in reply["detail"], (bad, reply)
            assert nothing_written(system.redis, plan)



def test_the_gate_sends_its_issuer_the_same_deadline_by_the_monotonic_clock_as_by_the_wall_clock(tmp_path, redis_server):
    """The gate's request to its issuer carries deadline_mono, its deadline_epoch on the monotonic clock the two share
    (c84339a): the issuer takes it over deadline_epoch, so that a wall clock step while the request waits for the
    issuer moves nothing. Read off the wire by a real REP socket in the issuer's place, so the check does not hang
    on whether a stalled issuer happens to read the gate's request before the gate gives up (the end-to-end test above
    does)."""
    write_book(redis_server.client())
    system = P26(tmp_path / "p26", redis_server.url)
    issuer = zmq.Context.instance().socket(zmq.REP)
    issuer.setsockopt(zmq.LINGER, 0)
    issuer.bind(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"])
    got: list[tuple[dict, float, float]] = []

    def answer() -> None:
        if issuer.poll(int(20_000 * DEADLINE_SCALE)):
            got.append((json.loads(issuer.recv()), time.time(), time.monotonic()))
            issuer.send(json.dumps({"status": "error", "reason": "redis_unavailable", "detail": "a stand-in"}).encode())
    try:
        system.gate.start()
        standing_in = threading.Thread(target=answer)
        standing_in.start()
        with GateClient(system.endpoint, timeout_ms=int(20_000 * DEADLINE_SCALE), retries=0) as client:
            client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan())
        standing_in.join()
    finally:
        system.gate.terminate()
        issuer.close(linger=0)
    assert got, "the gate sent its issuer nothing"
    request, wall, mono = got[0]
    assert isinstance(request.get("deadline_mono"), float), request
    left_by_wall, left_by_mono = request["deadline_epoch"] - wall, request["deadline_mono"] - mono
    assert abs(left_by_wall - left_by_mono) < 0.05, (left_by_wall, left_by_mono)


def test_a_step_of_redis_clock_that_expires_every_cooldown_at_once_is_logged_by_the_issuer(
        tmp_path, step_clock_library, monkeypatch):
    """revclock: every cooldown and permit expires by Redis's clock. An external Redis's host stepped 61 s forward (its
    NTP) expired every live cooldown and permit at once: the next exit on a symbol just exited was not stepped down
    (SPEC's cooldown), and nothing said why: the issuer reads Redis's clock every 5 s, and took the new offset without
    a word. (A step back keeps each that much longer.) It now logs redis_clock_stepped, by how much, against its own
    monotonic clock, which no NTP steps."""
    with external_redis_and_p26(tmp_path, step_clock_library, monkeypatch) as (system, server, step_file):
        r = server.client()
        with GateClient(system.endpoint, timeout_ms=int(5000 * DEADLINE_SCALE), retries=0) as client:
            first = decision_of(client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
            assert first["recorded"] is True and first["final_action"] == "FULL_CLOSE_PROPOSED", first
            assert r.exists(keys.cooldown("ETHUSDT")) == 1
            step_file.write_text("61")
            wait_for(lambda: r.exists(keys.cooldown("ETHUSDT")) == 0, 5, "the cooldown expired by Redis's clock")
            settle(system, write_book(r))  # the execution layer's snapshots, by its own clock
            again = decision_of(client.propose("ETHUSDT", "FULL_CLOSE_PROPOSED", plan_id=new_plan()))
            assert (again["final_action"], again["gate_reason"]) == ("FULL_CLOSE_PROPOSED", "pass"), again  # the limit
        wait_for(lambda: "redis_clock_stepped" in system.issuer.log(), 15, "the issuer naming Redis's clock step\n"
                 + system.issuer.log()[-2000:])
        line = next(x for x in system.issuer.log().splitlines() if "redis_clock_stepped" in x)
        assert "step_s=61." in line or "step_s=60.9" in line, line


def test_a_step_of_redis_clock_is_measured_against_the_monotonic_clock_not_this_hosts_wall_clock() -> None:
    """revclock: this host's wall clock stepped (Redis's not) moves a reading's offset to Redis and its wall - monotonic
    alike, and is no step of Redis's clock; Redis's clock stepped is one, whatever this host's did, and is logged even
    when a script found it first (redis_clock_went_back, whose forced re-read forgets the server read)."""
    from types import SimpleNamespace

    from actors.permit_issuer import ClockReading, PermitIssuer, redis_minus_mono_s

    def reading(began: float, ahead_s: float, wall_minus_mono_s: float) -> ClockReading:
        return ClockReading(began, ("127.0.0.1", 6379), 0.0001, ahead_s, wall_minus_mono_s)

    assert redis_minus_mono_s(reading(1, 3.5, 997.0)) == redis_minus_mono_s(reading(0, 0.5, 1000.0))  # host back 3 s
    issuer = object.__new__(PermitIssuer)
    logged: list[dict] = []
    issuer.log = SimpleNamespace(error=lambda event, **fields: logged.append({"event": event, **fields}))
    issuer.log_throttled = lambda *a, **k: None
    issuer.redis = SimpleNamespace(server=("127.0.0.1", 6379))
    issuer._clock_began, issuer._redis_minus_mono = float("-inf"), None
    issuer.keep_clock(reading(time.monotonic(), 0.5, 1000.0))
    issuer.keep_clock(reading(time.monotonic(), 3.5, 997.0))  # this host's wall clock stepped back 3 s: no log
    assert logged == []
    issuer.clock_went_back("3000")  # a script found Redis's clock gone back
    issuer.keep_clock(reading(time.monotonic(), 0.5, 997.0))  # the re-read: Redis's clock 3 s back
    assert [(x["event"], x["step_s"]) for x in logged] == [("redis_clock_stepped", -3.0)], logged


def test_readings_of_redis_clock_behind_slow_scripts_are_no_step_and_a_step_across_them_is_logged_once() -> None:
    """rev2clk: a reading of Redis's clock is known to within half its round trip. Behind 2.5 s scripts (a real Redis,
    a 10 s timeout) a reading came out 2.35 s ahead, uncertainty 2.36 s, and the next, load gone, 2.35 s back: both
    logged redis_clock_stepped, Redis's clock unmoved. Only a step beyond the threshold plus both uncertainties counts,
    and a real step across such a reading is still logged, once."""
    from types import SimpleNamespace

    from actors.permit_issuer import ClockReading, PermitIssuer

    def reading(ahead_s: float, uncertainty_s: float = 0.00002) -> ClockReading:
        return ClockReading(time.monotonic(), ("127.0.0.1", 6379), uncertainty_s, ahead_s, 1000.0)

    issuer = object.__new__(PermitIssuer)
    logged: list[dict] = []
    issuer.log = SimpleNamespace(error=lambda event, **fields: logged.append({"event": event, **fields}))
    issuer._clock_began, issuer._redis_minus_mono = float("-inf"), None
    for r in (reading(0.0), reading(2.3526, 2.3560), reading(0.0)):  # as read: before, behind the scripts, after
        issuer.keep_clock(r)
    assert logged == [], logged
    for r in (reading(2.3526, 2.3560), reading(3.0), reading(3.0)):  # stepped 3 s forward while behind the scripts
        issuer.keep_clock(r)
    assert [(x["event"], x["step_s"]) for x in logged] == [("redis_clock_stepped", 3.0)], logged
