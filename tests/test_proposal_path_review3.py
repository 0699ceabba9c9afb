"""gaterev3: the gatefix review's "nothing was recorded" attacked against a real redis-server (and a real gate, permit
issuer and client): it must be said only when nothing of the call can have been run."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import redis

from actors.gate import NOTHING_RECORDED
from helpers import DEADLINE_SCALE, TcpProxy, write_topology
from launcher import keys
from launcher.client import GateClient, GateUnavailable
from launcher.resp import NotSent, RedisUnavailable, RespClient, encode_commands
from test_gate_service import P26, new_plan, write_book


class CutOneReply(TcpProxy):
    """A TCP proxy that, once armed, cuts the connection carrying the next reply from Redis instead of passing it on:
    the request reached Redis, which ran it; its client never hears back (a network cut after the write)."""

    armed = False

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if self.armed and not to_upstream:
            self.armed = False
            raise OSError("cut")
        return data


def test_a_write_redis_ran_before_the_connection_was_cut_is_never_not_sent_when_the_reconnect_is_refused(
        redis_server) -> None:
    # RespClient.pipeline_raw replaces a connection found dead after a call and sends the call again; when that new
    # connection's AUTH was refused (a password rotated meanwhile, as operators do, or maxclients reached), its
    # HandshakeRefused, a NotSent, came out of the call: the permit issuer answered `nothing_written` and the gate
    # HOLD "nothing was recorded" for a write Redis had run (reproduced against a real redis-server: the key written,
    # NotSent raised).
    admin = redis.Redis(port=redis_server.port, decode_responses=True, socket_timeout=2)
    admin.config_set("requirepass", "before")
    admin = redis.Redis(port=redis_server.port, password="before", decode_responses=True, socket_timeout=2)
    proxy = CutOneReply(redis_server.port)
    client = RespClient(port=proxy.port, password="before", timeout_s=2.0)
    client.resend_after_timeout = True  # as the permit issuer's: the path that sends a call again on a new connection
    try:
        assert client.call("PING") == "PONG"
        admin.config_set("requirepass", "after")  # the connection already open stays authenticated
        admin = redis.Redis(port=redis_server.port, password="after", decode_responses=True, socket_timeout=2)
        proxy.armed = True
        with pytest.raises(RedisUnavailable) as failed:
            client.pipeline_raw(encode_commands([("SET", "written", "1")]), 1)
        assert admin.get("written") == "1", "Redis ran the call"
        assert not isinstance(failed.value, NotSent), f"NotSent for a call Redis ran: {failed.value}"
        assert "outcome unknown" in str(failed.value), str(failed.value)
    finally:
        client.close()
        proxy.close()
        admin.config_set("requirepass", "")


class CutAfterTheFirstWrite(TcpProxy):
    """A TCP proxy in front of Redis that, once a script's `written` reply comes back, holds it `hold_s` and then goes
    away for good (every connection cut, its port closed): Redis ran the write; its host is lost before the issuer
    hears of it, and the issuer's next connection is refused (nothing sent)."""

    def __init__(self, upstream_port: int, hold_s: float):
        super().__init__(upstream_port)
        self.hold_s, self.cut = hold_s, False

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if not to_upstream and b"written" in data and not self.cut:
            self.cut = True
            time.sleep(self.hold_s)
            for sock in self._socks:  # (close alone leaves a socket another thread waits on open)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.close()
            raise OSError("cut")
        return data


def test_a_nothing_recorded_fault_after_an_attempt_that_timed_out_is_no_answer_of_the_call(tmp_path: Path,
                                                                                            redis_server) -> None:
    # GateClient's attempt 1 timed out while its permit issuer's write ran at Redis (Redis's host then lost); attempt 2
    # was answered HOLD redis_unavailable "nothing was recorded" (the gate's state read failed, or the issuer's new
    # connection was refused: true of that attempt alone), and propose() returned it as the call's answer: `clustergate propose` printed "nothing was
    # recorded" for a plan_id whose decision and permit Redis held (reproduced against a real gate, permit issuer and
    # redis-server). An `overloaded` there already raised GateUnavailable; a fault HOLD saying nothing was recorded
    # must too.
    write_book(redis_server.client())
    link = CutAfterTheFirstWrite(redis_server.port, hold_s=1.8 * DEADLINE_SCALE)
    timeout_ms = int(1500 * DEADLINE_SCALE)
    system = P26(tmp_path / "p26", f"redis://127.0.0.1:{link.port}/0",
                 gate_settings={"state_refresh_ms": 60_000, "permit_timeout_ms": int(4000 * DEADLINE_SCALE)})
    system.data["redis"]["timeout_ms"] = int(10_000 * DEADLINE_SCALE)  # the issuer waits out the held reply
    write_topology(system.topology, system.data)
    plan_id = new_plan()
    try:
        system.start()
        with GateClient(system.endpoint, timeout_ms=timeout_ms, retries=1) as client:
            try:
                reply = client.propose("BTCUSDT", "PARTIAL_25", plan_id=plan_id)
            except GateUnavailable as exc:
                reply = None
                assert exc.plan_id == plan_id and "outcome unknown" in str(exc), str(exc)
    finally:
        system.stop()
        link.close()
    assert link.cut, "the issuer's write never reached Redis"
    assert redis_server.client().exists(keys.permit(plan_id)) == 1, "Redis holds the first attempt's permit"
    if reply is not None:
        detail = (reply.get("decision") or {}).get("detail", "")
        assert NOTHING_RECORDED not in detail, f"the call answered nothing was recorded for a permit Redis holds: {reply}"


@pytest.mark.parametrize("refusal", ["NOREPLICAS", "READONLY"])
def test_a_script_redis_refused_before_any_write_gets_a_fault_hold_saying_nothing_was_recorded(
        tmp_path: Path, redis_server, refusal: str) -> None:
    # Redis refuses a script at its first write (NOREPLICAS: min-replicas-to-write unmet; READONLY: a replica, as a
    # demoted primary; so MISCONF, and LOADING, BUSY, MASTERDOWN before it runs), so nothing of it was written; the
    # issuer answered it redis_unavailable without saying so, and the gate HOLD "outcome unknown" (reproduced against
    # a real gate, permit issuer and redis-server).
    write_book(redis_server.client())
    system = P26(tmp_path / "p26", redis_server.url, gate_settings={"state_refresh_ms": 60_000}).start()
    admin = redis_server.client()
    plan_id = new_plan()
    try:
        if refusal == "NOREPLICAS":
            admin.config_set("min-replicas-to-write", "1")
        else:
            admin.replicaof("127.0.0.1", str(redis_server.port + 1))  # a primary that never answers: stale data served
        with GateClient(system.endpoint, timeout_ms=int(3000 * DEADLINE_SCALE), retries=0) as client:
            decision = client.propose("BTCUSDT", "PARTIAL_25", plan_id=plan_id)["decision"]
    finally:
        system.stop()
        admin.config_set("min-replicas-to-write", "0")
        admin.replicaof("NO", "ONE")
    assert (decision["gate_reason"], decision["recorded"]) == ("redis_unavailable", False), decision
    assert refusal in decision["detail"], decision["detail"]
    assert NOTHING_RECORDED in decision["detail"] and "outcome unknown" not in decision["detail"], decision["detail"]
    assert admin.exists(keys.plan_decision(plan_id), keys.permit(plan_id)) == 0
