"""The permit issuer's housekeeping in a thread of its own, on RespClient.sibling (hostile review hkrev):
reproductions against real redis-server and real gate + issuer processes. Each test states what main does."""

from __future__ import annotations

import time

from helpers import TcpProxy, demo_topology_data, retarget, scrape, wait_for, write_topology
from test_gate_service import P26, decision_of, new_plan, write_book

ISSUER_READY = 'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}'

def issuer_ready(system: P26) -> float | None:
    return scrape(system.data["actors"]["permit_issuer"]["metrics_port"]).get(ISSUER_READY)


WRITE_PROBE = b"*3\r\n$4\r\nEVAL\r\n$14\r\n#!lua\nreturn 1"


class OneSpike(TcpProxy):
    """A proxy in front of Redis that, once armed, holds the next write probe 350 ms (one latency spike of one request:
    a connection made after it is not delayed)."""

    def __init__(self, upstream_port: int):
        super().__init__(upstream_port)
        self.armed = self.fired = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if to_upstream and self.armed and data.startswith(WRITE_PROBE):
            self.armed, self.fired = False, True
            time.sleep(0.35)
        return data


def test_one_late_answer_to_the_write_probe_does_not_make_the_issuer_not_ready(tmp_path, redis_server) -> None:
    """FAILS on hk, passes on main. One answer of Redis 350 ms late (redis.timeout_ms 250, the default): on main the
    write probe, on the decisions' connection with resend_after_timeout on, is sent again on a new connection and
    answered, so the issuer stays ready (as a decision that met the same spike is written). On hk the probe runs on
    RespClient.sibling, which keeps resend_after_timeout off: the one late answer is "Redis does not answer", the
    issuer logs redis_not_writable at ERROR ("every decision is HOLD redis_unavailable") and is exported not ready
    (clustergate_actor_ready 0, ClustergateActorNotReady) for a second, while decisions are written."""
    write_book(redis_server.client())
    link = OneSpike(redis_server.port)
    system = P26(tmp_path / "p26", link.url).start()
    try:
        wait_for(lambda: issuer_ready(system) == 1.0, 10, "the issuer ready")
        mark = len(system.issuer.log())
        link.armed = True
        seen = []

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not link.fired:
            seen.append(issuer_ready(system))
            time.sleep(0.05)
        assert link.fired, "no write probe within 15 s"
        settle = time.monotonic() + 2.0
        while time.monotonic() < settle:
            seen.append(issuer_ready(system))
            time.sleep(0.05)
        decision = decision_of(system.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        assert decision["permit"] is True, decision
        log = system.issuer.log()[mark:]
        assert 0.0 not in seen and "event=redis_not_writable" not in log, (
            f"issuer not ready in {seen.count(0.0)} of {len(seen)} samples (50 ms apart) after one 350 ms late "
            f"answer\n" + "\n".join(line for line in log.splitlines() if "writable" in line)[-3000:])
    finally:
        system.stop()
        link.close()



def test_a_clock_reading_that_began_before_a_script_found_redis_clock_gone_back_does_not_cancel_the_reread() -> None:
    """FAILS on hk (main has no such race: its readings ran on the loop). A script answered clock_went_back (Redis's
    clock read behind the issuer's estimate of it, the deadline passed: no record_again): clock_went_back() sets
    _clock_server None so that the next decision reads Redis's clock again before writing. A housekeeping reading that
    began before that answer (the old offset, from before Redis's clock went back) but is taken up after it restores
    _clock_server: keep_clock only drops readings older than the last reading *taken*, and clock_went_back does not
    count as one. The next decision then runs on the offset the script just proved wrong, without re-reading (the
    script's floor refuses it again: one more decision refused, logged redis_clock_went_back again)."""
    from types import SimpleNamespace

    from actors.permit_issuer import ClockReading, PermitIssuer

    issuer = object.__new__(PermitIssuer)
    issuer.log_throttled = lambda *a, **k: None
    issuer.redis = SimpleNamespace(server=("127.0.0.1", 6379))
    issuer._clock_began, issuer._redis_minus_mono = float("-inf"), None  # (keep_clock's last reading: none)
    issuer.keep_clock(ClockReading(time.monotonic(), ("127.0.0.1", 6379), 0.001, 0.0, 0.0))  # a decision's reading
    in_flight = ClockReading(time.monotonic(), ("127.0.0.1", 6379), 0.001, 0.0, 0.0)  # the thread's, begun now
    issuer.clock_went_back("2000")  # then a script finds Redis's clock 2 s behind the estimate
    issuer.keep_clock(in_flight)  # and the loop takes up the thread's reading (every 0.1 s)
    assert issuer._clock_server is None, "a reading older than the clock_went_back cancelled the re-read it asked for"


def test_a_housekeeping_thread_that_ended_is_started_again_and_said(tmp_path, redis_server) -> None:
    """Noticed in session 36: nothing checked that the issuer's housekeeping thread was alive. Its readings catch every
    Exception, but one that ended it (any BaseException, or a mistake outside a reading's try) left the issuer on its
    last readings for good: Redis's clock never read again, a Redis turned replica or one evicting keys never seen, the
    issuer ready all the while. The loop, taking up the readings every 0.1 s, finds the thread ended, says so (logged,
    counted as a timer's error) and starts another, which reads again."""
    from actors.permit_issuer import Housekeeper, PermitIssuer
    from actors.runtime import HANDLER_ERRORS
    from launcher.topology import load_topology

    data = retarget(demo_topology_data(), redis_server.url)
    issuer = PermitIssuer(load_topology(write_topology(tmp_path / "topology.yaml", data)), "permit_issuer")
    issuer.setup()
    errors = HANDLER_ERRORS.labels(actor="permit_issuer", where="timer")
    try:
        first = issuer._housekeeper
        assert first is not None
        wait_for(lambda: first.start is not None, 10, "the first thread's start-time reading")

        def ends_the_thread(client):
            raise SystemExit("a BaseException out of a reading")
        first.READINGS = {**Housekeeper.READINGS, "start": ends_the_thread}  # its next start reading, within 5 s
        wait_for(lambda: not first.thread.is_alive(), 15, "the housekeeping thread to end")
        errors_before = errors._value.get()
        issuer.take_housekeeping()  # what the loop runs every HOUSEKEEPING_TAKEN_S
        second = issuer._housekeeper
        assert second is not first and second is not None and second.thread.is_alive()
        assert errors._value.get() > errors_before
        wait_for(lambda: second.start is not None, 10, "the new thread's start-time reading")
        issuer.take_housekeeping()
        assert issuer._housekeeper is second  # alive: not started again
    finally:
        issuer.teardown()
        issuer.redis.close()
        issuer.ctx.destroy(linger=0)  # its requests socket, bound by setup


def _issuer_on(tmp_path, redis_server):
    from actors.permit_issuer import PermitIssuer
    from launcher.topology import load_topology

    data = retarget(demo_topology_data(), redis_server.url)
    issuer = PermitIssuer(load_topology(write_topology(tmp_path / "topology.yaml", data)), "permit_issuer")
    issuer.setup()
    return issuer


def _connections_received(redis_server) -> int:
    from launcher.resp import RespClient

    port = int(redis_server.url.rsplit(":", 1)[1].split("/")[0])
    probe = RespClient(port=port)
    try:
        info = str(probe.call("INFO", "stats"))
    finally:
        probe.close()
    return int(next(line for line in info.splitlines() if line.startswith("total_connections_received:")).split(":")[1])


def test_a_housekeeping_thread_that_ends_at_once_each_time_is_not_started_again_ten_times_a_second(
        tmp_path, redis_server, capfd) -> None:
    """FAILS on 998842e (review rev2). A housekeeping thread that ends at once each time it starts (whatever ends it
    does so at the start-time reading, which a new thread makes at once: a mistake outside a reading's try, a
    BaseException) was started again at every turn of the loop's 0.1 s timer: 10 new Redis connections a second, each
    logged a `handler_error where=housekeeping` line with its traceback (unthrottled) and counted twice as a timer's
    error, for as long as the issuer ran. A thread is now started no more often than once every MEMORY_READ_S (the
    readings' own interval: nothing is read later than it would have been)."""
    from actors.permit_issuer import Housekeeper

    issuer = _issuer_on(tmp_path, redis_server)
    readings = Housekeeper.READINGS
    try:
        wait_for(lambda: issuer._housekeeper.start is not None, 10, "the first thread's start-time reading")

        def ends_the_thread(client):
            client.call("PING")  # on the thread's own connection
            raise SystemExit("a BaseException out of a reading")
        Housekeeper.READINGS = {**readings, "start": ends_the_thread}  # every thread's start-time reading, from now on
        wait_for(lambda: not issuer._housekeeper.thread.is_alive(), 15, "the housekeeping thread to end")
        capfd.readouterr()
        before = _connections_received(redis_server)
        started = time.monotonic()
        while time.monotonic() - started < 2.0:  # the loop's timer, for 2 s
            issuer.take_housekeeping()
            time.sleep(0.1)
        connections = _connections_received(redis_server) - before - 1  # (the probe's own)
        logged = capfd.readouterr()
        traces = (logged.out + logged.err).count("handler_error")
        assert connections <= 2 and traces <= 2, (
            f"in 2 s, {connections} new housekeeping connections and {traces} handler_error lines: a thread that ends "
            f"at once was started again at every turn of the loop")
    finally:
        Housekeeper.READINGS = readings
        issuer.teardown()
        issuer.redis.close()
        issuer.ctx.destroy(linger=0)


def test_what_ended_the_housekeeping_thread_is_logged_though_it_ended_while_the_loop_took_up_its_readings(
        tmp_path, redis_server, capfd) -> None:
    """FAILS on 998842e (review rev2). take_housekeeping took up the thread's readings, then asked whether it was alive:
    a thread that ended between the two (its last reading, or the traceback of what ended it, set after the loop had
    read them) was replaced at once, and that last reading and the `handler_error where=housekeeping` line naming what
    ended it were lost for good (docs/operating.md: housekeeping_stopped comes after that line). The loop now asks
    first: a thread found ended has set all it ever will. The interleaving is forced: the thread's reading waits until
    the loop asks whether it is alive."""
    import threading

    from actors.permit_issuer import Housekeeper

    go, entered = threading.Event(), threading.Event()

    def ends_the_thread(client):
        entered.set()
        go.wait(30)
        raise SystemExit("what ended the housekeeping thread")
    readings = Housekeeper.READINGS
    Housekeeper.READINGS = {**readings, "start": ends_the_thread}  # the first thread's first reading, made at once
    try:
        issuer = _issuer_on(tmp_path, redis_server)
    finally:
        wait_for(entered.is_set, 10, "the first thread's start-time reading")
        Housekeeper.READINGS = readings
    try:
        keeper = issuer._housekeeper
        real = keeper.thread

        class EndsWhenAsked:
            """The thread, ending just as the loop asks whether it is alive."""

            def is_alive(self) -> bool:
                go.set()
                real.join(10)
                return real.is_alive()
        keeper.thread = EndsWhenAsked()
        capfd.readouterr()
        issuer.take_housekeeping()  # the turn of the loop that finds it ended
        logged = capfd.readouterr()
        assert not real.is_alive()
        assert "what ended the housekeeping thread" in logged.out + logged.err, (
            "the turn that found the thread ended did not log what ended it (then replaced, never logged)")
    finally:
        issuer.teardown()
        issuer.redis.close()
        issuer.ctx.destroy(linger=0)


def test_a_script_run_within_its_deadlines_margin_is_not_logged_as_a_step_of_redis_clock() -> None:
    """revpause: with Redis stopped and resumed (SIGSTOP, DEBUG SLEEP), a script ran 1 ms past its deadline, which the
    issuer keeps early by its reading's uncertainty and 2 ms, with time left by this host's clock: logged as a warning
    that Redis's wall clock stepped forward, which it had not. Within that margin it is the margin, said at info;
    beyond it, a step, a warning as before."""
    from actors.permit_issuer import redis_clock_ahead_log
    level, detail = redis_clock_ahead_log("1", 0.0004)
    assert level == "info" and "no step" in detail and "stepped" not in detail, detail
    assert redis_clock_ahead_log(3, 0.0015)[0] == "info"  # 1.5 + 2 ms
    level, detail = redis_clock_ahead_log("250", 0.0004)
    assert level == "warning" and "stepped forward" in detail, detail
    assert redis_clock_ahead_log("4", 0.0015)[0] == "warning"
    assert redis_clock_ahead_log("not a number", 0.0)[0] == "warning"  # a reply the issuer cannot read is no margin
