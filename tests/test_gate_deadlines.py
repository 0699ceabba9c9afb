"""Issue 14: client deadlines (`deadline_ms`, `expired`) and explicit overload (`overloaded`), with a real
gate, permit issuer and redis-server, and the client's rules against a real ZeroMQ socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest
import zmq

from launcher import keys
from actors.gate import expired_detail, issuer_deadline_s
from actors.permit_issuer import script_deadline_ms
from actors.runtime import REQUEST_DRAIN
from helpers import DEADLINE_SCALE, PYTHON, REPO, RedisServer, TcpProxy, free_port, scrape, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable
from test_gate_service import P26, issuer_item, issuer_request, write_book


def new_plan() -> str:
    return uuid.uuid4().hex


def body(plan_id: str, symbol: str, action: str, deadline_ms: float | None) -> bytes:
    proposal = {"plan_id": plan_id, "symbol": symbol, "action_proposed": action, "kill_score": 0.5}
    if deadline_ms is not None:
        proposal["deadline_ms"] = deadline_ms
    return json.dumps(proposal).encode()


def nothing_written(r, plan_id: str) -> bool:
    return (r.exists(keys.plan_decision(plan_id)) == 0 and r.exists(keys.permit(plan_id)) == 0
            and all(f["plan_id"] != plan_id for _, f in r.xrange(keys.GATE_STREAM)))


def one_reply(endpoint: str, payload: bytes, timeout_ms: int = 5000) -> dict:
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(payload)
        assert sock.poll(timeout_ms * DEADLINE_SCALE), "no reply"
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)


# --------------------------------------------------------------------------- the rule, as a function


def test_a_deadline_counts_as_passed_once_the_gate_clock_is_past_it_less_the_allowed_skew() -> None:
    deadline_ms = 1_800_000_000_000.0
    assert expired_detail(deadline_ms, deadline_ms / 1000 - 0.051, skew_ms=50) is None
    assert expired_detail(deadline_ms, deadline_ms / 1000 - 0.049, skew_ms=50) is not None
    assert expired_detail(deadline_ms, deadline_ms / 1000 - 0.001, skew_ms=0) is None
    assert expired_detail(deadline_ms, deadline_ms / 1000 + 0.001, skew_ms=0) is not None
    # Reached at the deadline itself is not past it (docs/proposal-api.md: expired "after deadline_ms - skew").
    assert expired_detail(deadline_ms, deadline_ms / 1000, skew_ms=0) is None
    assert "not seconds" in expired_detail(1_800_000_000.0, 1_800_000_000.0, skew_ms=0)


def test_the_script_is_given_a_deadline_no_write_can_land_after_whatever_the_clock_offset_within_its_uncertainty(
) -> None:
    """CI saw a decision on the stream 0.52 ms after its deadline (skew 0): the deadline went to the script as
    int((deadline + offset) * 1000), with the offset of Redis's clock known only to within half a TIME round
    trip, compared against TIME's whole milliseconds while the XADD could land in the next one."""
    for deadline_s in (1_800_000_000.0004, 1_800_000_000.4807, 1_800_000_000.9999):
        for true_ahead_s in (-0.25, 0.0, 0.0003, 1.0):
            for within_s in (0.0, 0.0004, 0.002):
                for error in (-1.0, -0.5, 0.0, 0.5, 1.0):  # where inside its uncertainty the estimate fell
                    limit = script_deadline_ms(deadline_s, true_ahead_s + error * within_s, within_s)
                    # The script writes when TIME's whole ms <= limit; the XADD lands by the next ms at the latest.
                    latest_write_ms = limit + 1
                    assert latest_write_ms <= (deadline_s + true_ahead_s) * 1000 + 1e-6, (
                        deadline_s, true_ahead_s, within_s, error, limit)
                    assert (deadline_s + true_ahead_s) * 1000 - latest_write_ms <= 2 * within_s * 1000 + 1 + 1e-6
    assert script_deadline_ms(0.0001, 0.0, 0.0) == 1, "0 means no deadline to the script"


# --------------------------------------------------------------------------- the gate


@pytest.fixture
def p26(tmp_path: Path, redis_server):
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url, gate_settings={"deadline_skew_ms": 0}).start()
    system.redis = r
    try:
        yield system
    finally:
        system.stop()


def test_a_proposal_past_its_deadline_gets_expired_and_nothing_is_written(p26) -> None:
    r = p26.redis
    plan = new_plan()
    before = scrape(p26.gate_metrics_port)
    reply = one_reply(p26.endpoint, body(plan, "ETHUSDT", "PARTIAL_50", time.time() * 1000 - 1000))
    assert (reply["status"], reply["reason"], reply["plan_id"]) == ("error", "expired", plan), reply
    assert "this request was not decided and nothing was recorded for it" in reply["detail"]
    assert nothing_written(r, plan)
    after = scrape(p26.gate_metrics_port)
    assert after['gate_requests_total{result="expired"}'] == before['gate_requests_total{result="expired"}'] + 1
    assert after["p26_gate_writes_total"] == before["p26_gate_writes_total"]
    # Nothing was recorded, so the same plan_id with a later deadline is decided, with its permit.
    reply = one_reply(p26.endpoint, body(plan, "ETHUSDT", "PARTIAL_50", time.time() * 1000 + 5000))
    assert reply["status"] == "ok" and reply["decision"]["permit"] and not reply["decision"]["replayed"], reply


def test_a_deadline_that_passes_while_the_gate_reads_its_state_gets_expired_before_any_write(tmp_path, redis_server):
    """The gate checks the deadline again after its state read, before asking the issuer to write."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url, gate_settings={"deadline_skew_ms": 0, "state_refresh_ms": 0}).start()
    try:
        assert one_reply(system.endpoint, body(new_plan(), "BTCUSDT", "HOLD", None))["status"] == "ok"
        plan = new_plan()
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(system.endpoint)
        redis_server.proc.send_signal(signal.SIGSTOP)  # the gate's state read waits for Redis (timeout 250 ms)
        try:
            sock.send(body(plan, "ETHUSDT", "PARTIAL_50", time.time() * 1000 + 60))
            time.sleep(0.18)
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
        assert sock.poll(5000 * DEADLINE_SCALE), "no reply"
        reply = json.loads(sock.recv())
        sock.close(linger=0)
        assert (reply["status"], reply.get("reason")) == ("error", "expired"), reply
        assert nothing_written(r, plan)
        issuer = scrape(system.data["actors"]["permit_issuer"]["metrics_port"])
        assert issuer.get('permit_issuer_requests_total{result="expired"}', 0) == 0, "it reached the issuer"
    finally:
        system.stop()


def test_the_issuer_writes_nothing_for_an_item_whose_own_deadline_redis_time_has_passed(p26) -> None:
    """The last line of defence: the script compares each item's own deadline with Redis's clock."""
    r = p26.redis
    late, fine = new_plan(), new_plan()
    late_item = {**issuer_item(late, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": time.time() - 1.0}
    reply = issuer_request(p26, {"decisions": [late_item, issuer_item(fine, "BTCUSDT", "PARTIAL_25")],
                                 "deadline_epoch": time.time() + 5.0})
    assert reply["status"] == "ok", reply
    assert [(x["status"], x.get("reason")) for x in reply["results"]] == [("error", "expired"), ("ok", None)], reply
    assert nothing_written(r, late)
    assert r.exists(keys.permit(fine)) == 1


def test_a_deadline_epoch_too_large_for_the_script_is_a_bad_request_not_an_internal_error(p26) -> None:
    """deadline_epoch 1e306 (or an item's -1e306) overflowed script_deadline_ms: the whole batch was answered
    internal_error, which the gate reads as "outcome unknown" for every decision in it, though nothing was
    written. It is refused as a bad request (nothing written, certain)."""
    r = p26.redis
    for huge in (1e306, -1e306, 1e300):
        fine, odd = new_plan(), new_plan()
        reply = issuer_request(p26, {"decisions": [issuer_item(fine, "BTCUSDT", "HOLD"),
                                                   {**issuer_item(odd, "ETHUSDT", "HOLD"), "deadline_epoch": huge}],
                                     "deadline_epoch": time.time() + 5.0})
        assert (reply["status"], reply.get("reason")) == ("error", "bad_request"), (huge, reply)
        reply = issuer_request(p26, {**issuer_item(odd, "ETHUSDT", "HOLD"), "deadline_epoch": abs(huge)})
        assert (reply["status"], reply.get("reason")) == ("error", "bad_request"), (huge, reply)
        assert nothing_written(r, fine) and nothing_written(r, odd)


SKEWED_CLOCK = Path(__file__).parent / "skewed_clock"


@pytest.fixture
def stepped_p26(tmp_path: Path, redis_server, monkeypatch):
    """Gate and permit issuer on one host whose wall clock the test steps (tests/skewed_clock: the seconds
    in `system.step_file`), against a real redis-server whose clock is not stepped. Redis's socket timeout is
    long, so a Redis stopped for a while makes the issuer wait rather than give up."""
    step_file = tmp_path / "clock_step_s"
    step_file.write_text("0")
    monkeypatch.setenv("PYTHONPATH", str(SKEWED_CLOCK))
    monkeypatch.setenv("CLUSTERGATE_TEST_CLOCK_STEP_FILE", str(step_file))
    system = start_stepped_p26(tmp_path, redis_server, step_file)
    try:
        yield system
    finally:
        system.stop()


def start_stepped_p26(tmp_path: Path, redis_server: RedisServer, step_file: Path) -> P26:
    """The stepped fixtures' gate and permit issuer (the environment steps their clocks), started, with the book
    written; `redis` and `step_file` set on it. Redis's socket timeout is long (a stopped Redis is waited for)."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url, gate_settings={"deadline_skew_ms": 0})
    system.data["redis"]["timeout_ms"] = 5000
    write_topology(system.topology, system.data)
    try:
        system.start()
    except BaseException:
        system.stop()
        raise
    system.redis, system.step_file = r, step_file
    return system


def ask_issuer_with_redis_stopped(system, request: dict) -> dict:
    """Send `request` to the permit issuer with Redis SIGSTOPped for 0.8 s (past the request's deadline: the
    issuer has read it and waits for Redis), then the issuer's reply."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"])
    redis_server_pid = int(system.redis.info("server")["process_id"])
    os.kill(redis_server_pid, signal.SIGSTOP)
    try:
        sock.send(json.dumps(request).encode())
        time.sleep(0.8)  # a fault's length, not a wait for a state
    finally:
        os.kill(redis_server_pid, signal.SIGCONT)
    try:
        assert sock.poll(10_000 * DEADLINE_SCALE), "the permit issuer did not answer"
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)


def test_a_wall_clock_step_back_on_the_issuer_host_does_not_make_a_decision_with_time_left_expired(
        stepped_p26) -> None:
    """The issuer reads Redis's clock offset every 5 s; a step of its host's wall clock in between (NTP) must
    not leave the old offset in use: stepped back 2 s, a deadline 1 s ahead (by the stepped clock, as the gate
    sets it) was seen by the script as already 1 s past, and every decision was refused as expired until the
    next reading."""
    system = stepped_p26
    stepped_p26.step_file.write_text("-2.0")
    plan = new_plan()
    reply = issuer_request(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"),
                                    "deadline_epoch": time.time() - 2.0 + 1.0})
    assert reply["status"] == "ok" and reply["written"], reply
    assert system.redis.exists(keys.permit(plan)) == 1


def test_a_wall_clock_step_forward_on_the_issuer_host_does_not_let_a_decision_be_written_after_its_deadline(
        stepped_p26) -> None:
    """Stepped forward 3 s, the old offset put the script's deadline 3 s late: a request read in time whose
    script ran after its deadline (Redis stopped a while) was written, its permit issued, while the gate had
    already answered its client that the outcome was unknown."""
    system, r = stepped_p26, stepped_p26.redis
    system.step_file.write_text("3.0")
    plan = new_plan()
    deadline = time.time() + 3.0 + 0.3  # 300 ms ahead by the stepped clock
    reply = ask_issuer_with_redis_stopped(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"),
                                                   "deadline_epoch": deadline})
    written = [int(i.split("-")[0]) - (deadline - 3.0) * 1000 for i, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
    assert (reply["status"], reply.get("reason")) == ("error", "expired"), (reply, f"written {written} ms late")
    assert nothing_written(r, plan)


def test_an_items_own_deadline_later_than_the_requests_does_not_let_it_be_written_after_the_requests(
        stepped_p26) -> None:
    """An item's own deadline_epoch replaced the request's even when later (the gate sends one only when
    earlier, but the issuer is the last line of defence): with Redis stopped past the request's deadline, the
    item was written 500 ms after it, though the gate had stopped waiting for the request."""
    system, r = stepped_p26, stepped_p26.redis
    plan = new_plan()
    deadline = time.time() + 0.3
    reply = ask_issuer_with_redis_stopped(system, {
        "decisions": [{**issuer_item(plan, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": deadline + 60}],
        "deadline_epoch": deadline})
    assert reply["status"] == "ok", reply
    assert (reply["results"][0]["status"], reply["results"][0].get("reason")) == ("error", "expired"), reply
    assert nothing_written(r, plan)


@pytest.fixture(scope="session")
def step_clock_library(tmp_path_factory) -> Path:
    """tests/skewed_clock/step_clock.c built for LD_PRELOAD (a redis-server whose wall clock the test steps)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (cc) builds the clock shim of a stepped redis-server"
    out = tmp_path_factory.mktemp("step_clock") / "step_clock.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(SKEWED_CLOCK / "step_clock.c"), "-ldl"],
                   check=True)
    return out


@pytest.fixture
def host_stepped_p26(tmp_path: Path, step_clock_library: Path, monkeypatch):
    """Gate, permit issuer and redis-server on one host whose wall clock the test steps (the seconds in
    `system.step_file`), as an NTP step steps every process of a host: production.yaml's Redis is local."""
    step_file = tmp_path / "clock_step_s"
    step_file.write_text("0")
    monkeypatch.setenv("CLUSTERGATE_TEST_CLOCK_STEP_FILE", str(step_file))
    with monkeypatch.context() as only_redis:
        only_redis.setenv("LD_PRELOAD", str(step_clock_library))
        server = RedisServer(tmp_path / "redis").start()
    monkeypatch.setenv("PYTHONPATH", str(SKEWED_CLOCK))
    try:
        system = start_stepped_p26(tmp_path, server, step_file)
        try:
            yield system
        finally:
            system.stop()
    finally:
        server.stop()


def test_a_host_clock_step_forward_with_a_local_redis_does_not_refuse_decisions_with_time_left(host_stepped_p26):
    """The issuer took any step of its host's wall clock for one Redis's clock had not made (an external Redis):
    stepped forward 3 s with the local Redis's, the script's deadline went 3 s early and every decision was
    refused as expired (HOLD permit_unavailable) until the issuer's next reading of Redis's clock, up to 5 s."""
    system = host_stepped_p26
    system.step_file.write_text("3.0")
    plan = new_plan()
    reply = issuer_request(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": time.time() + 3.0 + 1.0})
    assert reply["status"] == "ok" and reply["written"], reply
    assert system.redis.exists(keys.permit(plan)) == 1


def test_a_host_clock_step_back_with_a_local_redis_does_not_let_a_decision_be_written_after_its_deadline(
        host_stepped_p26) -> None:
    """Stepped back 3 s with the local Redis's clock, the issuer put the script's deadline 3 s late: a request
    read in time whose script ran after its deadline (Redis stopped a while) was written, its permit issued."""
    system, r = host_stepped_p26, host_stepped_p26.redis
    system.step_file.write_text("-3.0")
    plan = new_plan()
    deadline = time.time() - 3.0 + 0.3  # 300 ms ahead by the stepped clock
    reply = ask_issuer_with_redis_stopped(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"),
                                                   "deadline_epoch": deadline})
    assert (reply["status"], reply.get("reason")) == ("error", "expired"), reply
    assert nothing_written(r, plan)


class ReplyDelayingProxy(TcpProxy):
    """A real TCP proxy in front of redis-server that holds back Redis's reply to the first TIME command
    it forwards by `delay_s` (a stall after Redis answered: the reader descheduled, a segment retransmitted);
    everything else passes at once."""

    def __init__(self, redis_port: int, delay_s: float):
        self.delay_s, self._armed = delay_s, threading.Event()
        self._armed.set()
        super().__init__(redis_port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if to_upstream and b"TIME" in data and self._armed.is_set():
            self._armed.clear()
            shared["delay_next"] = True  # before Redis can answer
        elif not to_upstream and shared.pop("delay_next", False):
            time.sleep(self.delay_s)  # the fault: this reply arrives late
        return data


def test_one_stalled_reading_of_redis_clock_does_not_make_decisions_with_time_left_expired(tmp_path, redis_server):
    """The issuer's first reading of Redis's clock had its reply held back 200 ms after Redis answered: the
    estimate of the offset came out 100 ms early and its uncertainty 100 ms, so the script's deadline was 200 ms
    early, and every decision with less than that left (the gate's own deadline is 250 ms by default) was
    refused as expired until the next reading, 5 s later (seen: 103 ms past a deadline 100 ms ahead). A reading
    keeps the shortest of several round trips. Here the reply is held back longer than the time left (Redis's
    socket timeout is long enough for it), so a loaded machine's slow request cannot pass for the fault."""
    left_s = 0.5 * DEADLINE_SCALE
    proxy = ReplyDelayingProxy(redis_server.port, delay_s=2 * left_s)
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", proxy.url, gate_settings={"deadline_skew_ms": 0})
    system.data["redis"]["timeout_ms"] = int(4000 * left_s)
    write_topology(system.topology, system.data)
    try:
        system.start()
        assert not proxy._armed.is_set(), "the issuer read Redis's clock through the proxy"
        plan = new_plan()
        reply = issuer_request(system, {**issuer_item(plan, "ETHUSDT", "PARTIAL_50"),
                                        "deadline_epoch": time.time() + left_s})
        assert reply["status"] == "ok" and reply["written"], reply
    finally:
        system.stop()
        proxy.close()


def offer(endpoint: str, rate: float, seconds: float, deadline_after_ms: float, clients: int = 8,
          meanwhile: Callable[[Callable[[], int]], None] | None = None,
          ) -> tuple[dict[str, dict], list[dict], dict[str, float]]:
    """Send proposals at `rate` in all for `seconds` from `clients` DEALERs that never wait for a reply
    (each reads what has arrived between sends), each proposal with a deadline deadline_after_ms after its
    send; then collect replies until every one has its answer or none came for 5 s (scaled).
    `meanwhile(sent)` runs on its own thread while they send (sent() is how many are sent so far); what it
    raises is raised here.
    (plan_id -> reply, replies naming no plan_id, plan_id -> deadline_ms)."""
    symbols, actions = ("BTCUSDT", "ETHUSDT", "SOLUSDT"), ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75")
    replies: dict[str, dict] = {}
    anonymous: list[dict] = []  # overloaded replies: the gate sheds without reading the proposal
    deadlines: dict[str, float] = {}
    lock = threading.Lock()
    total = int(rate * seconds / clients)

    def keep(reply: dict) -> None:
        plan_id = reply.get("plan_id") or reply.get("decision", {}).get("plan_id")
        with lock:
            if plan_id is None:
                anonymous.append(reply)
            else:
                assert plan_id not in replies, f"two replies for plan_id {plan_id}"
                replies[plan_id] = reply

    def client(n: int) -> None:
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1_000_000)
        sock.setsockopt(zmq.RCVHWM, 1_000_000)
        sock.connect(endpoint)
        per_client = rate / clients
        got = sent = 0
        try:
            start = time.perf_counter()
            while sent < total:
                while sent < total and start + sent / per_client <= time.perf_counter():
                    plan = new_plan()
                    with lock:
                        deadlines[plan] = time.time() * 1000 + deadline_after_ms
                        deadline = deadlines[plan]
                    sock.send_multipart([b"", body(plan, symbols[sent % 3], actions[(sent + n) % 4], deadline)])
                    sent += 1
                while sock.poll(0):
                    keep(json.loads(sock.recv_multipart()[-1]))
                    got += 1
                time.sleep(0.0005)
            while got < total and sock.poll(5000 * DEADLINE_SCALE):
                keep(json.loads(sock.recv_multipart()[-1]))
                got += 1
        finally:
            sock.close(linger=0)

    failed: list[BaseException] = []

    def run_meanwhile() -> None:
        try:
            meanwhile(lambda: len(deadlines))
        except BaseException as exc:  # raised on the test's thread below
            failed.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    if meanwhile is not None:
        threads.append(threading.Thread(target=run_meanwhile))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    return replies, anonymous, deadlines


def closed_loop_rate(endpoint: str, seconds: float = 1.0, window: int = 8) -> float:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        for _ in range(window):
            sock.send_multipart([b"", body(new_plan(), "BTCUSDT", "HOLD", None)])
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            assert sock.poll(5000 * DEADLINE_SCALE), "the gate stopped answering"
            sock.recv_multipart()
            done += 1
            sock.send_multipart([b"", body(new_plan(), "BTCUSDT", "HOLD", None)])
        rate = done / (time.perf_counter() - start)
        for _ in range(window):
            assert sock.poll(5000 * DEADLINE_SCALE), "the gate stopped answering"
            sock.recv_multipart()
        return rate
    finally:
        sock.close(linger=0)


# The overload test's gate sheds past this many waiting proposals, or past this wait in its queue.
OVERLOAD_QUEUE_DEPTH, OVERLOAD_QUEUE_AGE_MS = 64, 100
# How long the overload test stops the gate (SIGSTOP) while the clients keep sending: longer than the
# queue age, and it stays stopped until more than twice the queue depth has been sent to it meanwhile.
GATE_STOPPED_S = 0.25


def stop_the_gate_a_while(pid: int, total: int) -> Callable[[Callable[[], int]], None]:
    """For offer(meanwhile=): once a quarter of the `total` proposals are sent, SIGSTOP the gate for
    GATE_STOPPED_S and until over 2 x OVERLOAD_QUEUE_DEPTH + REQUEST_DRAIN more are sent (the gate keeps a batch
    and OVERLOAD_QUEUE_DEPTH waiting behind it), then SIGCONT it. Any proposal it had
    read before the stop waits past the queue age, and those sent meanwhile are read in a rush that finds the
    queue full: they are answered overloaded, however fast the clients and the gate turned out to be (seen
    shedding with the clients offering 0.3 x capacity)."""
    more = 2 * OVERLOAD_QUEUE_DEPTH + REQUEST_DRAIN + 1
    assert total >= 4 * more, (total, more)

    def stall(sent: Callable[[], int]) -> None:
        wait_for(lambda: sent() >= total // 4, 30, "a quarter of the proposals sent", interval_s=0.005)
        os.kill(pid, signal.SIGSTOP)
        try:
            stopped_at, since = sent(), time.monotonic()
            wait_for(lambda: time.monotonic() - since >= GATE_STOPPED_S and sent() - stopped_at >= more, 30,
                     f"{more} proposals sent to the stopped gate", interval_s=0.005)
        finally:
            os.kill(pid, signal.SIGCONT)
    return stall


def test_under_five_times_overload_every_proposal_gets_a_decision_overloaded_or_expired_none_permitted_late_and_the_counters_add_up(tmp_path, redis_server):
    """Issue 14. 5x the gate's measured capacity alone need not overload it (it batches better open-loop
    than closed-loop, and the clients share the cores with it), so part way through the gate is also
    stopped a while (stop_the_gate_a_while): shedding is then certain, and every proposal still gets one
    answer. permit_timeout_ms is long so that the stop cannot make an issuer reply late (a fault HOLD)."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"deadline_skew_ms": 0, "overload_queue_depth": OVERLOAD_QUEUE_DEPTH,
                                "overload_queue_age_ms": OVERLOAD_QUEUE_AGE_MS, "permit_timeout_ms": 10_000}).start()
    try:
        capacity = closed_loop_rate(system.endpoint)
        r.flushdb()
        write_book(r)
        before = scrape(system.gate_metrics_port)
        rate, clients = 5 * capacity, 8
        seconds = max(1.0, 16 * OVERLOAD_QUEUE_DEPTH / rate)  # enough proposals for stop_the_gate_a_while
        total = clients * int(rate * seconds / clients)
        replies, anonymous, deadlines = offer(system.endpoint, rate, seconds, deadline_after_ms=300, clients=clients,
                                              meanwhile=stop_the_gate_a_while(system.gate.proc.pid, total))
        after = scrape(system.gate_metrics_port)
    finally:
        system.stop()
    assert set(replies) <= set(deadlines) and len(replies) + len(anonymous) == len(deadlines), (
        f"{len(deadlines)} proposals sent at {rate:.0f}/s (5 x {capacity:.0f}/s), "
        f"{len(replies) + len(anonymous)} answered")
    assert all(reply.get("reason") == "overloaded" for reply in anonymous), anonymous[:3]
    kinds: dict[str, int] = {}
    for reply in [*replies.values(), *anonymous]:
        kind = "ok" if reply["status"] == "ok" else reply["reason"]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"offered {len(deadlines)} at {rate:.0f}/s (5 x {capacity:.0f}/s): {kinds}")
    assert set(kinds) <= {"ok", "overloaded", "expired"}, kinds
    assert kinds.get("overloaded", 0) > 0, f"no proposal was answered overloaded at 5x with the gate stopped: {kinds}"
    assert kinds.get("ok", 0) > 0, kinds
    # No decision recorded, and so no permit issued, after its proposal's deadline (skew 0), by Redis's clock:
    # a stream entry's id is the time Redis wrote it.
    written_ms = {f["plan_id"]: int(entry_id.split("-")[0]) for entry_id, f in r.xrange(keys.GATE_STREAM)}
    late = {p: written_ms[p] - deadlines[p] for p in written_ms if written_ms[p] > deadlines[p]}
    assert not late, f"{len(late)} decisions recorded after their deadline, e.g. {list(late.values())[:5]} ms late"
    decided = {p for p, reply in replies.items() if reply["status"] == "ok"}
    assert set(written_ms) == decided, "every decision answered has its record, and nothing else was recorded"
    permits = sum(1 for p in decided if replies[p]["decision"]["permit"])
    assert permits == sum(1 for p in decided if r.exists(keys.permit(p)))

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)
    for result in ("ok", "overloaded", "expired"):
        assert delta(f'gate_requests_total{{result="{result}"}}') == kinds.get(result, 0), result
    assert sum(delta(k) for k in after if k.startswith("gate_requests_total")) == len(deadlines)
    seen = sum(delta(k) for k in after if k.startswith("p26_plans_seen_total"))
    assert seen == kinds.get("ok", 0) + kinds.get("expired", 0), "every proposal read (not shed) is seen once"
    assert delta("p26_gate_writes_total") == len(decided)
    assert delta("p26_permit_issued_total") == permits


# --------------------------------------------------------------------------- the client


class ScriptedGate:
    """A real REP socket answering each request with the next reply of a script; it keeps what it got.
    A reply None leaves that request unanswered and the gate silent from then on."""

    def __init__(self, replies: list[dict]):
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.replies = list(replies)
        self.got: list[dict] = []
        self.received_at: list[float] = []
        self._sock = zmq.Context.instance().socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind(self.endpoint)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(50):
                continue
            self.got.append(json.loads(self._sock.recv()))
            self.received_at.append(time.time())
            reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
            if reply is None:
                return
            self._sock.send(json.dumps(reply).encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close(linger=0)


OVERLOADED = {"status": "error", "reason": "overloaded", "detail": "queue full"}


def decided(plan_id: str = "x") -> dict:
    return {"status": "ok", "decision": {"plan_id": plan_id, "final_action": "HOLD", "permit": False}}


def test_gateclient_sends_its_timeout_as_the_deadline_of_each_attempt_unless_told_not_to() -> None:
    gate = ScriptedGate([decided()])
    try:
        with GateClient(gate.endpoint, timeout_ms=1500, retries=0) as client:
            sent_before = time.time() * 1000
            client.propose("ETHUSDT", "HOLD", plan_id="x")  # the plan_id the scripted decision names
            sent_after = time.time() * 1000
        with GateClient(gate.endpoint, timeout_ms=1500, retries=0, send_deadline=False) as client:
            client.propose("ETHUSDT", "HOLD", plan_id="x")
    finally:
        gate.close()
    assert sent_before + 1500 - 1 <= gate.got[0]["deadline_ms"] <= sent_after + 1500 + 1, gate.got[0]
    assert "deadline_ms" not in gate.got[1]


def test_clustergate_propose_sends_its_timeout_as_the_deadline() -> None:
    gate = ScriptedGate([decided()])
    try:
        sent_before = time.time() * 1000
        result = subprocess.run([PYTHON, "-m", "launcher", "propose", "--symbol", "ETHUSDT", "--action", "HOLD",
                                 "--plan-id", "x", "--endpoint", gate.endpoint, "--timeout-ms", "4000"], cwd=REPO, capture_output=True,
                                text=True, timeout=60)
        sent_after = time.time() * 1000
    finally:
        gate.close()
    assert result.returncode == 0, result.stderr
    assert sent_before + 4000 <= gate.got[0]["deadline_ms"] <= sent_after + 4000, gate.got[0]


def test_an_overloaded_reply_is_retried_with_the_same_plan_id_after_a_growing_backoff() -> None:
    gate = ScriptedGate([OVERLOADED, OVERLOADED, OVERLOADED, decided("p")])
    try:
        with GateClient(gate.endpoint, timeout_ms=2000, retries=0) as client:
            reply = client.propose("ETHUSDT", "HOLD", plan_id="p")
    finally:
        gate.close()
    assert reply["status"] == "ok", reply
    assert [g["plan_id"] for g in gate.got] == ["p"] * 4
    gaps = [b - a for a, b in zip(gate.received_at, gate.received_at[1:])]
    # jittered in [0.5, 1] x 20, 40, 80 ms: each pause at least half its backoff, and the backoff doubles
    assert gaps[0] >= 0.010 and gaps[2] >= 0.040, gaps


def test_the_overload_backoff_is_jittered_whatever_seed_the_caller_gave_the_random_module(monkeypatch) -> None:
    # The jitter came from the random module's shared generator: two client processes that each called random.seed(0)
    # (a reproducible simulation, a library seeding it) paused 18.444, 35.159, 56.823 and 100.713 ms both, in
    # lockstep against an overloaded gate (reproduced with two processes and a real ZeroMQ socket), which the jitter is
    # there to prevent; a generator of its own forked with the process would do the same in a pool of workers.
    import random
    gate = ScriptedGate([OVERLOADED])
    pauses: list[list[float]] = []
    sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (pauses[-1].append(s), sleep(s)))
    try:
        for _ in range(2):
            random.seed(0)
            pauses.append([])
            # 1 s, not 150 ms: the scripted gate's thread missed 150 ms on a loaded machine (CI, 7 Dec 2026)
            with GateClient(gate.endpoint, timeout_ms=1000, retries=1) as client:
                assert client.propose("ETHUSDT", "HOLD")["reason"] == "overloaded"
    finally:
        gate.close()
    assert pauses[0] and pauses[1] and pauses[0] != pauses[1], pauses


def test_after_overload_backoffs_the_last_attempt_waits_only_what_is_left_of_the_calls_budget_and_its_deadline_says_so() -> None:
    # retries 0, one endpoint: the budget is one timeout. Five overloaded replies and their backoffs spend
    # part of it; the attempt after them finds the gate silent and may wait only the rest, with that deadline.
    # The budget leaves room for all six attempts on a loaded machine (the backoffs alone take 310-620 ms).
    budget_ms = 3000
    gate = ScriptedGate([OVERLOADED] * 5 + [None])
    try:
        with GateClient(gate.endpoint, timeout_ms=budget_ms, retries=0) as client:
            called_ms = time.time() * 1000
            with pytest.raises(GateUnavailable) as err:
                client.propose("ETHUSDT", "HOLD", plan_id="b")
    finally:
        gate.close()
    assert err.value.plan_id == "b"
    assert [g["plan_id"] for g in gate.got] == ["b"] * 6, gate.got
    # an attempt sent t ms into the call that waits a whole timeout ends t ms past the budget; the backoffs
    # alone (0.5-1 x 20+40+80+160+320 ms) send the last one at least 310 ms in
    late = [g["deadline_ms"] - (called_ms + budget_ms) for g in gate.got
            if g["deadline_ms"] > called_ms + budget_ms + 100]
    assert not late, f"attempts whose deadline_ms is past the call's budget by {late} ms"


def test_a_gate_that_stays_overloaded_gets_the_overloaded_reply_back_within_the_call_budget() -> None:
    # Each attempt waits 300 ms x DEADLINE_SCALE: with 300 ms, a loaded CI run starved the scripted gate's thread past
    # the first attempt's wait, and the client rightly ended in "outcome unknown" (that attempt may have been decided).
    gate = ScriptedGate([OVERLOADED])
    try:
        with GateClient(gate.endpoint, timeout_ms=int(300 * DEADLINE_SCALE), retries=1) as client:
            reply = client.propose("ETHUSDT", "HOLD", plan_id="q")
    finally:
        gate.close()
    assert (reply["status"], reply["reason"], reply["plan_id"]) == ("error", "overloaded", "q"), reply
    assert 2 <= len(gate.got) <= 20, len(gate.got)


def test_a_rush_of_proposals_from_one_client_is_answered_in_full_none_dropped_by_the_gates_send_queue(
        tmp_path, redis_server) -> None:
    """CI (overload test): 151 of 29,464 proposals never got an answer. The gate reads up to 2,048 requests a
    turn to shed them, and its ROUTER queued replies to one client only up to 1,024 and dropped the rest
    without a word (a ROUTER drops at its send hwm). Here one DEALER's proposals pile up while the gate is
    stopped, then all reach it at once."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"overload_queue_depth": OVERLOAD_QUEUE_DEPTH,
                                "overload_queue_age_ms": OVERLOAD_QUEUE_AGE_MS, "permit_timeout_ms": 10_000}).start()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 1_000_000)
    sock.setsockopt(zmq.RCVHWM, 1_000_000)
    sock.connect(system.endpoint)
    sent = 6000
    try:
        assert one_reply(system.endpoint, body(new_plan(), "BTCUSDT", "HOLD", None))["status"] == "ok"
        before = scrape(system.gate_metrics_port)
        os.kill(system.gate.proc.pid, signal.SIGSTOP)
        try:
            for n in range(sent):
                sock.send_multipart([b"", body(new_plan(), "BTCUSDT", "HOLD", None)])
            time.sleep(0.5)  # let libzmq move them into the stopped gate's queues and socket buffers
        finally:
            os.kill(system.gate.proc.pid, signal.SIGCONT)
        got = 0
        while got < sent and sock.poll(5000 * DEADLINE_SCALE):
            sock.recv_multipart()
            got += 1
        after = scrape(system.gate_metrics_port)
    finally:
        sock.close(linger=0)
        system.stop()
    answered = sum(after.get(k, 0.0) - before.get(k, 0.0) for k in after if k.startswith("gate_requests_total"))
    dropped = sum(after.get(k, 0.0) - before.get(k, 0.0) for k in after if k.startswith("clustergate_replies_dropped"))
    assert got == sent, f"{sent} proposals sent, {got} answered ({answered:.0f} answered by the gate's count)"
    assert answered == sent and dropped == 0


def test_a_reply_to_a_client_that_has_gone_is_counted_and_logged_not_lost_without_a_word(p26) -> None:
    """A ROUTER drops a reply it cannot route without a word unless it is mandatory: the gate counts each
    (clustergate_replies_dropped_total, reason) and logs reply_dropped, so a desk sees answers that never
    reached their client."""
    def seen() -> float:
        return sum(v for k, v in scrape(p26.gate_metrics_port).items() if k.startswith("p26_plans_seen_total"))
    seen_before = seen()
    gate_port = int(p26.endpoint.rsplit(":", 1)[1])
    peers_before = gate_side_peers(gate_port)
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(p26.endpoint)
    os.kill(p26.issuer.proc.pid, signal.SIGSTOP)  # the gate reads the proposal and waits for its issuer
    try:
        sock.send(body(new_plan(), "BTCUSDT", "HOLD", None))
        wait_for(lambda: seen() > seen_before, 10, "the proposal read")
        ours = gate_side_peers(gate_port) - peers_before
        assert len(ours) == 1, (ours, peers_before)
        sock.close(linger=0)  # its client leaves before the answer
        # until the gate has closed its end, ZeroMQ would still queue the answer and discard it uncounted
        # (docs/monitoring.md: the counter is a lower bound); a CI run resumed the issuer before that
        wait_for(lambda: not (gate_side_peers(gate_port) & ours), 10, "the gate to close that client's connection")
    finally:
        os.kill(p26.issuer.proc.pid, signal.SIGCONT)
    name = 'clustergate_replies_dropped_total{actor="gate",reason="client_gone"}'
    wait_for(lambda: scrape(p26.gate_metrics_port).get(name, 0) == 1, 10, f"{name} == 1")
    wait_for(lambda: "event=reply_dropped" in p26.gate.log(), 10, "reply_dropped logged")


def test_the_gates_dropped_replies_series_exist_at_0_before_any_reply_is_dropped(p26) -> None:
    """An alert or a panel on rate(clustergate_replies_dropped_total) needs the series before the first drop
    (a counter born at its first increment loses that increment to rate() and is absent until then)."""
    metrics = p26.metrics()
    for reason in ("client_not_reading", "client_gone", "send_error"):
        name = f'clustergate_replies_dropped_total{{actor="gate",reason="{reason}"}}'
        assert metrics.get(name) == 0.0, (name, {k: v for k, v in metrics.items() if "dropped" in k})


def test_every_reply_dropped_is_in_the_reply_dropped_log_lines_not_only_the_first_of_each_second(p26) -> None:
    """The log is rate-limited to a line a second per reason; the lines still account for every drop the
    counter saw, the last second's too (a rush that ends within a second logged 1 of 12,352 drops)."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, 1)  # takes its replies off the wire only as it reads them, and it never does
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(p26.endpoint)
    name = 'clustergate_replies_dropped_total{actor="gate",reason="client_not_reading"}'
    try:
        deadline = time.monotonic() + 30 * DEADLINE_SCALE
        for n in range(200_000):  # about 27,000 replies fit in the gate's queue and the sockets' buffers
            sock.send_multipart([b"", b"x"])  # a bad request: answered at once, no Redis
            if n % 1000 == 999 and (p26.metrics().get(name, 0) > 0 or time.monotonic() > deadline):
                break
        wait_for(lambda: p26.metrics().get(name, 0) > 0, 30, f"{name} > 0")

        def logged() -> float:
            lines = [line for line in p26.gate.log().splitlines()
                     if "event=reply_dropped" in line and "reason=client_not_reading" in line]
            return sum(float(field.split("=", 1)[1]) for line in lines for field in line.split()
                       if field.startswith("dropped="))

        def all_logged() -> bool:
            total = p26.metrics().get(name, 0)
            return total > 0 and logged() == total
        wait_for(all_logged, 10, f"the reply_dropped lines to sum to {name}")
    finally:
        sock.close(linger=0)


class AttemptTimingClient(GateClient):
    """A GateClient that notes, on the monotonic clock, when each attempt of a call takes its socket (just after
    it set the attempt's deadline_ms, just before it sends)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attempts_at: list[float] = []

    def _socket(self) -> zmq.Socket:
        self.attempts_at.append(time.monotonic())
        return super()._socket()


def gate_side_peers(port: int) -> set[str]:
    """The peer addresses of the TCP connections whose local end is `port` and still held open by the process
    that accepted them (ESTABLISHED or CLOSE_WAIT in /proc/net/tcp)."""
    return {fields[2] for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
            if fields[3] in ("01", "08") and int(fields[1].rsplit(":", 1)[1], 16) == port}


def bytes_queued_for(port: int) -> int:
    """Bytes the kernel holds, unread, for the process that accepted TCP connections on `port` (the
    rx_queue of its established connections in /proc/net/tcp): what a stopped process has been sent."""
    queued = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            queued += int(fields[4].split(":")[1], 16)
    return queued


def test_a_call_whose_timed_out_attempt_was_decided_never_ends_with_expired_as_if_nothing_was(
        tmp_path, redis_server) -> None:
    """An attempt that times out may have been decided; the next attempt of the same call, past its deadline when
    the gate reaches it, was answered `expired`, and GateClient returned that as the call's final answer ("nothing
    was decided or recorded", client rule 8) while the plan_id held a recorded PARTIAL_75 with a live permit from the
    first attempt (reproduced: the gate stopped from just after the issuer wrote until after the second attempt's
    deadline less the skew). An `expired` after an attempt whose outcome is unknown is not final: the client backs
    off and asks again with the same plan_id, and gets that decision back (or, with no budget left, GateUnavailable:
    outcome unknown)."""
    timeout_ms, skew_ms = 2000, 1000
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"deadline_skew_ms": skew_ms, "permit_timeout_ms": 60_000}).start()
    gate_pid, issuer_pid = system.gate.proc.pid, system.issuer.proc.pid
    issuer_port = int(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"].rsplit(":", 1)[1])
    plan = new_plan()
    outcome: dict = {}
    client = AttemptTimingClient(system.endpoint, timeout_ms=timeout_ms, retries=2)

    def seen() -> float:
        return sum(v for k, v in system.metrics().items() if k.startswith("p26_plans_seen_total"))

    def call() -> None:
        try:
            outcome["reply"] = client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan)
        except GateUnavailable as exc:
            outcome["unavailable"] = exc

    caller = threading.Thread(target=call)
    # One decision first, so the gate's connection to its issuer is up (the gate may have started before the issuer
    # bound, and its reconnect must not find the issuer stopped).
    assert system.client.propose("BTCUSDT", "HOLD", plan_id=new_plan())["decision"]["recorded"]
    try:
        seen_before = seen()
        os.kill(issuer_pid, signal.SIGSTOP)  # the gate reads the first attempt and waits for its issuer
        caller.start()
        wait_for(lambda: seen() > seen_before, 10, "the first attempt read by the gate", interval_s=0.01)
        # Read is not yet sent: stopping the gate before its request reaches the issuer would leave nothing written.
        wait_for(lambda: bytes_queued_for(issuer_port) > 0, 10, "the gate's request to the stopped issuer",
                 interval_s=0.01)
        os.kill(gate_pid, signal.SIGSTOP)  # the issuer's answer (a permit) will reach the client too late
        os.kill(issuer_pid, signal.SIGCONT)
        wait_for(lambda: r.exists(keys.permit(plan)) == 1, 10, "the first attempt's permit written", interval_s=0.01)
        wait_for(lambda: len(client.attempts_at) >= 2, 10, "the second attempt sent", interval_s=0.01)
        # Resume the gate once the second attempt's deadline less the skew has passed, well before the client
        # stops waiting for it: the gate answers it `expired`.
        resume_at = client.attempts_at[1] + (timeout_ms - skew_ms + 400) / 1000.0
        wait_for(lambda: time.monotonic() >= resume_at, 10, "the second attempt's deadline less the skew passed",
                 interval_s=0.01)
    finally:
        os.kill(issuer_pid, signal.SIGCONT)
        os.kill(gate_pid, signal.SIGCONT)
        caller.join(30)
        expired = system.metrics()['gate_requests_total{result="expired"}']
        client.close()
        system.stop()
    assert expired >= 1, "the gate answered no attempt expired: the fault this test makes did not happen"
    assert r.exists(keys.permit(plan)) == 1
    reply = outcome.get("reply")
    assert reply is None or reply.get("status") == "ok", (
        f"the call ended with {reply} while plan_id {plan} holds a recorded decision with a permit")
    if reply is not None:
        assert reply["decision"]["replayed"] and reply["decision"]["permit"] and reply["decision"]["recorded"], reply
    else:
        assert outcome["unavailable"].plan_id == plan


@pytest.mark.parametrize("path", ["lone", "batch"])
def test_a_proposal_whose_deadline_passed_before_the_issuer_refused_its_late_request_gets_expired(
        tmp_path, redis_server, path) -> None:
    """The issuer refuses a request read after the gate's own deadline (permit_timeout_ms / 2) before any write.
    A proposal whose own deadline had passed by then was answered the fault HOLD permit_unavailable ("nothing was
    recorded"), counted ok and p26_fail_closed_total, while the same proposal refused by the script for its own
    deadline gets `expired` (reproduced: the issuer stopped 2.5 s, permit_timeout_ms 4000, deadline 1 s). Now it
    gets `expired` whichever check caught it; a proposal with time left still gets the fault HOLD."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"deadline_skew_ms": 0, "permit_timeout_ms": 8000}).start()
    gate_pid, issuer_pid = system.gate.proc.pid, system.issuer.proc.pid
    late, open_ended = new_plan(), new_plan()
    # One DEALER, connected before the gate is stopped: its proposals reach the gate on one connection, together.
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.endpoint)
    replies = {}

    def seen() -> float:
        return sum(v for k, v in system.metrics().items() if k.startswith("p26_plans_seen_total"))
    try:
        sock.send_multipart([b"probe", b"", b"{}"])  # a round trip: the connection is up
        assert sock.poll(10_000 * DEADLINE_SCALE) and sock.recv_multipart()[0] == b"probe"
        seen_before = seen()
        proposals = [(b"late", body(late, "ETHUSDT", "PARTIAL_50", time.time() * 1000 + 1000))]
        if path == "batch":
            proposals.append((b"open", body(open_ended, "BTCUSDT", "PARTIAL_50", None)))
        os.kill(issuer_pid, signal.SIGSTOP)
        if path == "batch":
            os.kill(gate_pid, signal.SIGSTOP)  # both proposals wait together: the gate reads them as one batch
        for request_id, payload in proposals:
            sock.send_multipart([request_id, b"", payload])
        if path == "batch":
            time.sleep(0.1)  # a fault's length: both reach the stopped gate's socket buffer
            os.kill(gate_pid, signal.SIGCONT)
        wait_for(lambda: seen() >= seen_before + len(proposals), 10, "the proposals read", interval_s=0.01)
        # A fault's length: the issuer stays stopped past the gate's deadline (permit_timeout_ms / 2, 4 s after
        # deciding) and resumes well before the gate gives up (8 s; at 4 s and 2.5 s a loaded CI run's late metrics
        # read left the gate giving up first, whose fault HOLD is right: the outcome is then unknown).
        time.sleep(4.5)
        os.kill(issuer_pid, signal.SIGCONT)
        while len(replies) < len(proposals) and sock.poll(10_000 * DEADLINE_SCALE):
            request_id, _, reply = sock.recv_multipart()
            replies[request_id] = json.loads(reply)
        metrics = system.metrics()
    finally:
        os.kill(gate_pid, signal.SIGCONT)
        os.kill(issuer_pid, signal.SIGCONT)
        sock.close(linger=0)
        system.stop()
    assert len(replies) == len(proposals), replies
    replies = [replies[b"late"], replies.get(b"open")]
    assert (replies[0]["status"], replies[0].get("reason"), replies[0].get("plan_id")) == ("error", "expired", late), (
        replies[0])
    assert metrics['gate_requests_total{result="expired"}'] == 1
    assert nothing_written(r, late)
    if path == "batch":
        decision = replies[1]["decision"]
        assert (decision["final_action"], decision["gate_reason"], decision["recorded"]) == (
            "HOLD", "permit_unavailable", False), replies[1]
        assert "nothing was recorded" in decision["detail"], decision
        assert nothing_written(r, open_ended)


def test_a_deadline_in_epoch_microseconds_is_refused_naming_the_unit_not_taken_as_no_deadline(p26) -> None:
    """deadline_ms in epoch microseconds (1.8e15: the year 58,000 as milliseconds) was taken as a deadline that never
    comes: the proposal was decided and given a permit however late the gate reached it (reproduced), so a client
    with a unit bug had no deadline at all and no word of it (seconds get a hint, since they are always past)."""
    r = p26.redis
    for deadline_ms in (time.time() * 1e6 + 5e6, 1e300):
        plan = new_plan()
        reply = one_reply(p26.endpoint, body(plan, "ETHUSDT", "PARTIAL_50", deadline_ms))
        assert (reply["status"], reply.get("reason"), reply.get("plan_id")) == ("error", "invalid_proposal", plan), reply
        assert "deadline_ms must be epoch milliseconds" in reply["detail"] and "microseconds" in reply["detail"], reply
        assert nothing_written(r, plan)
    reply = one_reply(p26.endpoint, body(new_plan(), "ETHUSDT", "PARTIAL_50", time.time() * 1000 + 5000))
    assert reply["status"] == "ok" and reply["decision"]["permit"], reply


def sent_together_to_a_stopped_gate(tmp_path, redis_server, depth: int, count: int
                                    ) -> tuple[dict[bytes, str], dict[bytes, dict], list[bytes]]:
    """`count` HOLD proposals sent from one DEALER (id frame b"0", b"1", ...) to a gate with overload_queue_depth
    `depth` stopped (SIGSTOP) while they come, so that it reads them all in one turn: (plan_id by id, reply by id,
    the ids in the order their replies came)."""
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"overload_queue_depth": depth, "overload_queue_age_ms": 10_000}).start()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.endpoint)
    plans = {str(n).encode(): new_plan() for n in range(count)}
    got: dict[bytes, dict] = {}
    order = []
    try:
        os.kill(system.gate.proc.pid, signal.SIGSTOP)
        try:
            for request_id, plan in plans.items():
                sock.send_multipart([request_id, b"", body(plan, "BTCUSDT", "HOLD", None)])
            time.sleep(0.3)  # a fault's length: libzmq moves them into the stopped gate's socket buffers
        finally:
            os.kill(system.gate.proc.pid, signal.SIGCONT)
        while len(got) < len(plans) and sock.poll(5000 * DEADLINE_SCALE):
            request_id, empty, reply = sock.recv_multipart()
            assert empty == b"" and request_id in plans and request_id not in got, (request_id, empty)
            got[request_id] = json.loads(reply)
            order.append(request_id)
    finally:
        sock.close(linger=0)
        system.stop()
    assert len(got) == len(plans)
    return plans, got, order


def test_a_dealer_matches_every_reply_overloaded_included_by_its_own_id_frame_though_replies_come_out_of_order(
        tmp_path, redis_server) -> None:
    """docs/proposal-api.md told DEALER clients to send [b"", request]: with several in flight they could not tell
    which proposal an `overloaded` reply (no plan_id) was for, and replies do not come back in order (the shed ones
    go out first; seen: 45 of 50 proposals sent while the gate was stopped shed, answered before the first 5 were
    decided). An id frame before the empty one comes back with the reply."""
    # 300: well past the depth (5) and the batch (64), so that some are shed. Resumed, the gate's I/O thread hands the
    # requests over as it reads them: on a loaded machine its first turn found some 50 of 100 (no shedding: CI on
    # 468575f); 300 leaves a later turn with far more than depth + batch waiting.
    plans, got, order = sent_together_to_a_stopped_gate(tmp_path, redis_server, 5, 300)
    shed = [rid for rid, reply in got.items() if reply.get("reason") == "overloaded"]
    assert shed and all("plan_id" not in got[rid] for rid in shed), got
    for request_id, reply in got.items():
        if reply["status"] == "ok":
            assert reply["decision"]["plan_id"] == plans[request_id], (request_id, reply)
    assert order != sorted(order, key=int), "the replies came back in the requests' order: nothing to match"


def test_a_queue_depth_below_the_batch_does_not_shed_proposals_the_gate_decides_in_the_same_batch(
        tmp_path, redis_server) -> None:
    """overload_queue_depth counted the proposals read in a turn towards the depth before the batch was taken from
    them: with a depth of 8, 60 proposals read together (the gate stopped while they came) were 8 decided and 52
    answered overloaded, though the gate decides up to 64 in one batch and none of them would have waited. The depth
    bounds the proposals that wait behind the batch being taken, not the batch."""
    plans, got, _ = sent_together_to_a_stopped_gate(tmp_path, redis_server, 8, 60)
    shed = sorted(int(rid) for rid, reply in got.items() if reply.get("reason") == "overloaded")
    assert shed == [], f"{len(shed)} of {len(plans)} answered overloaded: {shed}"


def test_proposals_that_waited_past_the_queue_age_do_not_make_fresh_ones_find_the_queue_full(
        tmp_path, redis_server) -> None:
    """After a stall (here the gate waiting for its stopped issuer), the proposals left in the gate's queue had
    waited past overload_queue_age_ms, yet they still counted towards overload_queue_depth when the proposals sent
    meanwhile were read: those found the queue full and were answered overloaded too, although the stale ones were
    shed in the same turn and the queue was then empty (reproduced: depth 200, 136 stale in the queue, 300 fresh
    read: 236 fresh shed; the queue would have kept 200 of them)."""
    depth, fresh, batch = 200, 300, 64  # batch: the most proposals the gate decides together (REQUEST_DRAIN)
    r = redis_server.client()
    write_book(r)
    system = P26(tmp_path / "p26", redis_server.url,
                 gate_settings={"overload_queue_depth": depth, "overload_queue_age_ms": 500,
                                "permit_timeout_ms": 2000}).start()
    issuer_pid = system.issuer.proc.pid
    socks = []  # the gate's socket queues up to its hwm (100) per connection: four clients get them all in
    for _ in range(4):
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.connect(system.endpoint)
        socks.append(sock)
    got: dict[bytes, dict] = {}

    def seen() -> float:
        return sum(v for k, v in system.metrics().items() if k.startswith("p26_plans_seen_total"))

    def send(prefix: bytes, count: int, symbol: str) -> None:
        for n in range(count):
            socks[n % len(socks)].send_multipart([prefix + b"%d" % n, b"", body(new_plan(), symbol, "HOLD", None)])
    try:
        seen_before = seen()
        os.kill(issuer_pid, signal.SIGSTOP)
        send(b"p", 1, "SOLUSDT")  # the gate waits for the stopped issuer (permit_timeout_ms)...
        wait_for(lambda: seen() >= seen_before + 1, 10, "the first proposal read", interval_s=0.01)
        send(b"s", depth, "BTCUSDT")  # ...while these wait in its socket; then it reads them into its queue
        wait_for(lambda: seen() >= seen_before + 1 + batch, 20, "a batch of them read", interval_s=0.01)
        send(b"f", fresh, "ETHUSDT")  # the gate waits for its issuer again: these wait in its socket...
        time.sleep(0.7)  # a fault's length: ...and those left in its queue wait past overload_queue_age_ms
        os.kill(issuer_pid, signal.SIGCONT)
        poller = zmq.Poller()
        for sock in socks:
            poller.register(sock, zmq.POLLIN)
        while len(got) < 1 + depth + fresh:
            ready = poller.poll(10_000 * DEADLINE_SCALE)
            if not ready:
                break
            for sock, _ in ready:
                request_id, _, reply = sock.recv_multipart()
                got[request_id] = json.loads(reply)
    finally:
        os.kill(issuer_pid, signal.SIGCONT)
        for sock in socks:
            sock.close(linger=0)
        system.stop()
    assert len(got) == 1 + depth + fresh
    stale_shed = sum(1 for rid, reply in got.items() if rid.startswith(b"s") and reply.get("reason") == "overloaded")
    fresh_shed = sum(1 for rid, reply in got.items() if rid.startswith(b"f") and reply.get("reason") == "overloaded")
    assert stale_shed > 0, "no proposal waited past the queue age in the gate's queue: the stall did not happen"
    assert fresh_shed <= fresh - depth, (f"{fresh_shed} of {fresh} proposals read after the stall found the queue "
                                         f"full ({stale_shed} that had waited past its age were shed too)")


def fill_gate_stream_with_old_records(r, records: int) -> None:
    """The gate stream replaced by `records` records older than the issuer's retention, one a node (trimming them
    takes longer)."""
    r.delete(keys.GATE_STREAM)
    r.config_set("stream-node-max-entries", 1)
    old_ms = int(time.time() * 1000) - 600_000  # older than the retention (the longest permit or cooldown TTL)
    pipe = r.pipeline(transaction=False)
    for i in range(records):
        pipe.xadd(keys.GATE_STREAM, {"plan_id": f"old-{i}"}, id=f"{old_ms + i // 1000}-{i % 1000 + 1}")
        if i % 20_000 == 19_999:
            pipe.execute()
    pipe.execute()
    assert r.xlen(keys.GATE_STREAM) == records


# Tries at a deadline that passes during the script's trim: each try that misses the trim narrows the next.
TRIM_TRIES = 6


def test_a_deadline_that_passes_while_the_script_trims_the_stream_gets_expired_and_nothing_is_written(
        tmp_path, redis_server) -> None:
    """The script read Redis's clock once, before trimming the gate stream (XTRIM MINID once it holds
    stream_maxlen records), and trimming many records takes a while: a decision whose deadline passed during the
    trim was written, with its permit, after it (reproduced: 1,000,000 records older than the retention, default
    node size, deadline 4 ms ahead: written 10 ms late; with one record a node, as here to keep the test small,
    100,000 records: 48 ms late). The script reads the clock again after a trim.
    The deadline must fall inside the trim, and on a loaded machine neither end is where an idle one puts it (here
    the path to the script took 1-20 ms, the trim 60-240 ms): nothing keeps a fixed 40 ms ahead from passing before
    the script first reads the clock (the stream untrimmed) or after the trim (written in time; neither seen in 99
    loaded runs). A try that misses is told apart by what Redis holds and the next deadline is aimed between the
    misses; any try writing after its deadline fails."""
    records = 300_000
    r = redis_server.client()
    write_book(r)
    # permit_timeout_ms long: on a loaded machine (make test's other worker) the trim took over the default 500 ms,
    # and the gate, no longer waiting, answered a fault HOLD (outcome unknown, rightly) before the script's expired.
    # Redis's socket timeout long for the same reason: with 8 CPU burners beside it (2 of 21 runs) the script, trim
    # included, held Redis past the default 250 ms, and the issuer gave up on it: HOLD redis_unavailable, outcome
    # unknown (rightly; nothing was written).
    system = P26(tmp_path / "p26", redis_server.url, gate_settings={"deadline_skew_ms": 0, "permit_timeout_ms": 20_000},
                 issuer_settings={"stream_maxlen": records})
    system.data["redis"]["timeout_ms"] = 20_000
    write_topology(system.topology, system.data)
    ahead_ms, too_soon_ms, too_late_ms = 40.0, 0.0, None
    tries: list[str] = []
    try:
        system.start()
        assert one_reply(system.endpoint, body(new_plan(), "BTCUSDT", "HOLD", None))["status"] == "ok"
        for _ in range(TRIM_TRIES):
            fill_gate_stream_with_old_records(r, records)
            plan = new_plan()
            deadline_ms = time.time() * 1000 + ahead_ms
            reply = one_reply(system.endpoint, body(plan, "ETHUSDT", "PARTIAL_50", deadline_ms))
            trimmed = r.xlen(keys.GATE_STREAM) < records
            # Only the records of this try (the old ones are 600 s older): an untrimmed stream is long to read.
            written_ms = [int(i.split("-")[0]) for i, f in r.xrange(keys.GATE_STREAM, min=int(deadline_ms) - 60_000)
                          if f.get("plan_id") == plan]
            assert all(ms <= deadline_ms for ms in written_ms), (
                f"PRODUCT DEFECT: a decision was written {max(written_ms) - deadline_ms:.0f} ms after its deadline "
                f"(the gate answered {reply})")
            if reply["status"] == "ok" and written_ms:  # the trim ended before the deadline: aim earlier
                tries.append(f"{ahead_ms:.0f} ms: written {deadline_ms - written_ms[0]:.0f} ms before its deadline")
                too_late_ms = ahead_ms
            elif (reply["status"], reply.get("reason")) == ("error", "expired") and not written_ms:
                assert r.exists(keys.plan_decision(plan)) == 0 and r.exists(keys.permit(plan)) == 0, reply
                if trimmed:  # the script got past its first check, trimmed, and found the deadline passed
                    print(f"deadline inside the trim at {ahead_ms:.0f} ms ahead, after {len(tries)} misses: {tries}")
                    return
                # Passed before the script first read the clock (the gate or the issuer refused it): aim later.
                tries.append(f"{ahead_ms:.0f} ms: expired before the trim ({reply['detail'][:80]})")
                too_soon_ms = ahead_ms
            else:
                raise AssertionError(f"the gate answered {reply}, written at {written_ms}")
            ahead_ms = 2 * ahead_ms if too_late_ms is None else (too_soon_ms + too_late_ms) / 2
    finally:
        system.stop()
    raise AssertionError(f"no deadline of {TRIM_TRIES} fell inside the script's trim: {tries}")


def test_the_issuer_keeps_stream_records_for_the_longest_of_its_permit_and_cooldown_ttls() -> None:
    """The script trims the gate stream by time only, records older than its retention: with permit_ttl_s 30 and
    cooldown_ttl_s 90 a retention of 30 s would trim the record of a decision whose cooldown still holds (the defaults
    are both 60 s, so a retention taken from either alone looked right). Each TTL goes to the script as it is set."""
    from actors.permit_issuer import script_args
    from launcher.topology import PermitIssuerSettings
    for permit_ttl_s, cooldown_ttl_s in ((30, 90), (60, 20)):
        args = script_args(PermitIssuerSettings(permit_ttl_s=permit_ttl_s, cooldown_ttl_s=cooldown_ttl_s,
                                                decision_ttl_s=7200, hold_decision_ttl_s=900, stream_maxlen=5000))
        assert args.retention_ms == str(1000 * max(permit_ttl_s, cooldown_ttl_s))
        assert (args.permit_ttl, args.cooldown_ttl) == (str(permit_ttl_s), str(cooldown_ttl_s))
        assert (args.decision_ttl, args.hold_ttl, args.stream_cap) == ("7200", "900", "5000")


def test_the_gate_gives_the_issuer_half_its_permit_timeout_to_write_a_decision() -> None:
    """The gate waits permit_timeout_ms for the issuer and gives its script a deadline of half that after the
    decision (both the lone and the batch path): a script deadline of the whole timeout let a write land as the gate
    gave up, a decision recorded (its permit live) whose client was told nothing was recorded."""
    assert issuer_deadline_s(1_800_000_000.0, 500) == 1_800_000_000.25
    assert issuer_deadline_s(1_800_000_000.0, 60_000) == 1_800_000_030.0
