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
    issuer._clock_began = float("-inf")
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
