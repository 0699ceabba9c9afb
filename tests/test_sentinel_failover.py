"""Redis under Sentinel with real parts: a primary, a replica and three sentinels (real redis-server in
replica and sentinel modes), the gate's own RESP client and redis-py (launcher.redis_conn) following a
failover by themselves, and the whole demo topology under real supervisord with a managed Sentinel
setup: the primary SIGKILLed, decisions resume and the cluster side keeps writing with no actor restarted."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import yaml
import zmq

from launcher.resp import RedisUnavailable, RespClient
from helpers import DEADLINE_SCALE, PYTHON, ActorProcess, free_port, scrape, wait_for, write_topology
from launcher import keys
from launcher.client import GateClient, GateUnavailable
from launcher.redis_conn import connect
from launcher.sentinel import (NoPrimary, discover_primary, failover_readiness, render_sentinel_conf, render_server_conf,
                               sentinel_answer)
from launcher.supervise import REDIS_NODE_SHIM, redis_quote
from launcher.topology import RedisConfig, SentinelConfig
from test_gate_deadlines import step_clock_library  # noqa: F401 (a fixture: a redis-server's stepped clock)
from sentinel_helpers import (MASTER, SentinelLiveSystem, SentinelSet, kill_pid, now_ms, pid_of_server, role_of,
                              stream_last_ms, synced_replicas)


@pytest.fixture
def sentinels(tmp_path: Path):
    group = SentinelSet(tmp_path / "sentinel")
    try:  # (start inside: a start that fails half-way still stops what it started)
        yield group.start()
    finally:
        group.stop()


def resp_set(client: RespClient, key: str, value: str) -> bool:
    try:
        return client.call("SET", key, value) == "OK"
    except RedisUnavailable:
        return False


def py_set(client: redis.Redis, key: str, value: str) -> bool:
    try:
        return bool(client.set(key, value))
    except redis.RedisError:
        return False


def test_both_clients_find_the_primary_through_sentinel(sentinels: SentinelSet) -> None:
    cfg = sentinels.config()
    resp = RespClient.from_config(cfg)
    py = connect(cfg)
    assert resp.call("SET", "k", "resp") == "OK"
    assert py.set("k2", "py")
    assert (resp.host, resp.port) == ("127.0.0.1", sentinels.server_ports[0])
    assert redis.Redis(port=sentinels.server_ports[0], decode_responses=True).mget("k", "k2") == ["resp", "py"]


def test_after_the_primary_is_killed_each_client_moves_to_the_new_primary_by_itself(sentinels: SentinelSet) -> None:
    cfg = sentinels.config()
    resp, py = RespClient.from_config(cfg), connect(cfg)
    assert resp_set(resp, "before", "1") and py_set(py, "before", "2")
    old, new = sentinels.server_ports
    sentinels.kill("server-0")
    # While no primary answers, every call fails fast (the gate fails closed); then the same client
    # objects write to the promoted replica.
    wait_for(lambda: resp_set(resp, "after", "resp"), 30, "the RESP client to write to the new primary")
    wait_for(lambda: py_set(py, "after2", "py"), 30, "redis-py to write to the new primary")
    assert resp.port == new and role_of(new) == "master"
    assert redis.Redis(port=new, decode_responses=True).mget("after", "after2") == ["resp", "py"]


def test_after_a_graceful_failover_each_client_moves_to_the_new_primary(sentinels: SentinelSet) -> None:
    """SENTINEL FAILOVER demotes the live primary (and Sentinel closes its clients' connections)."""
    cfg = sentinels.config()
    resp, py = RespClient.from_config(cfg), connect(cfg)
    assert resp_set(resp, "x", "1") and py_set(py, "y", "1")
    old, new = sentinels.server_ports
    assert sentinels.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)
    wait_for(lambda: role_of(old) == "slave" and role_of(new) == "master", 30, "the failover")
    wait_for(lambda: resp_set(resp, "x", "2"), 30, "the RESP client to write again")
    wait_for(lambda: py_set(py, "y", "2"), 30, "redis-py to write again")
    assert resp.port == new
    assert redis.Redis(port=new, decode_responses=True).mget("x", "y") == ["2", "2"]


def test_after_a_failover_redis_py_writes_to_the_new_primary_while_sentinel_has_not_yet_demoted_the_old_one(
        sentinels: SentinelSet) -> None:
    """SENTINEL FAILOVER (or a partitioned primary's failover) leaves the old primary answering ROLE master, and
    taking writes, for 8 s or more after the sentinels name the new one (Sentinel demotes it only after 4 x its
    2 s publish period, at its next INFO): writes sent there are lost when it is demoted. A redis-py client of
    launcher.redis_conn asks the sentinels again at most 0.1 s after its last check, and moves."""
    cfg = sentinels.config()
    py = connect(cfg)
    assert py_set(py, "y", "1")
    old, new = sentinels.server_ports
    assert sentinels.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)
    wait_for(lambda: sentinels.named_primary() == new, 30, "every sentinel to name the new primary")
    assert role_of(old) == "master"  # not yet demoted: the window this test is about
    on_new = redis.Redis(port=new, decode_responses=True)
    # 2 s (scaled): the old primary stays master 8 s or more, so a client that stays with it fails this.
    wait_for(lambda: py_set(py, "y", "2") and on_new.get("y") == "2", 2, "redis-py's write to reach the new primary")
    assert role_of(old) == "master"  # it moved on the sentinels' word, not because the old one was demoted


def test_after_a_failover_the_gates_resp_client_writes_to_the_new_primary_while_sentinel_has_not_yet_demoted_the_old_one(
        sentinels: SentinelSet) -> None:
    """The same window for the gate's and the issuer's own RESP client: it stayed with the old primary (still
    a master) until the demotion, 8 s or more, and the issuer's WAIT found no replica there, so every decision of
    a planned failover was a fault HOLD replica_unacknowledged for about 10 s. Its SentinelWatch sees the new
    word within 0.1 s and the next call moves, without waiting for a sentinel on the call's path."""
    resp = RespClient.from_config(sentinels.config())
    try:
        assert resp_set(resp, "x", "1")
        old, new = sentinels.server_ports
        assert sentinels.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)
        wait_for(lambda: sentinels.named_primary() == new, 30, "every sentinel to name the new primary")
        assert role_of(old) == "master"  # not yet demoted: the window this test is about
        on_new = redis.Redis(port=new, decode_responses=True)
        # 2 s (scaled): the old primary stays master 8 s or more, so a client that stays with it fails this.
        wait_for(lambda: resp_set(resp, "x", "2") and on_new.get("x") == "2", 2,
                 "the RESP client's write to reach the new primary")
        assert role_of(old) == "master" and resp.port == new
    finally:
        resp.close_watch()
        resp.close()


def test_with_the_first_sentinel_hung_the_resp_clients_watch_asks_the_one_that_answers_first(
        sentinels: SentinelSet) -> None:
    """A sentinel that hangs (SIGSTOPped: its connections are accepted, nobody answers) at the front of the list:
    the watch asked it first at every check and waited its timeout before the next sentinel, so a planned
    failover was seen a timeout late. The sentinel that answers moves to the front (as in discovery), and the
    hung one is asked again only when it stops answering."""
    resp = RespClient.from_config(sentinels.config(timeout_ms=250))
    hung = sentinels.procs["sentinel-0"]
    try:
        assert resp_set(resp, "x", "1")
        watch = resp._watch
        assert watch is not None
        wait_for(lambda: watch.named == ("127.0.0.1", sentinels.server_ports[0]), 10, "the watch's first word")
        asked: list[tuple[str, int]] = []
        ask = watch._ask

        def ask_recording(address: tuple[str, int]):
            asked.append(address)
            return ask(address)

        watch._ask = ask_recording
        hung.send_signal(signal.SIGSTOP)
        old, new = sentinels.server_ports
        assert sentinels.sentinel(1).execute_command("SENTINEL", "FAILOVER", MASTER)
        on_new = redis.Redis(port=new, decode_responses=True)
        wait_for(lambda: resp_set(resp, "x", "2") and on_new.get("x") == "2", 10,
                 "the RESP client's write to reach the new primary")
        checks = watch.checks
        wait_for(lambda: watch.checks >= checks + 3, 10, "three more checks")
        hung_address = ("127.0.0.1", sentinels.sentinel_ports[0])
        assert asked.count(hung_address) <= 1, f"the hung sentinel was asked {asked.count(hung_address)} times"
        assert resp.sentinels[0] != hung_address
    finally:
        hung.send_signal(signal.SIGCONT)
        resp.close_watch()
        resp.close()


def test_a_named_primary_whose_role_check_timed_out_once_is_checked_again_and_followed(
        sentinels: SentinelSet, redis_server) -> None:
    """A majority of the sentinels (the two asked first) name a new primary that does not answer in time
    (SIGSTOPped here, for a moment) while the third still names the old one, which is still a master (as in the
    seconds before it hears of a planned failover). The client's move was forgotten after that one failed check
    (it stayed on the old primary until its demotion, 8-12 s, or for ever here); the watch checks the word again
    at every answer, off the calls' path, and the client moves once the new primary answers ROLE master. (The
    watch follows a majority's word since revha: one sentinel alone naming the new primary is not followed,
    tests/test_sentinel_minority.py.)"""
    resp = RespClient.from_config(sentinels.config(timeout_ms=250))
    new = redis_server
    try:
        assert resp_set(resp, "x", "1")
        watch = resp._watch
        assert watch is not None
        wait_for(lambda: watch.named == ("127.0.0.1", sentinels.server_ports[0]), 10, "the watch's first word")
        new.proc.send_signal(signal.SIGSTOP)
        for i in (0, 1):  # the two the client's list and its watch ask first: a majority
            sentinels.sentinel(i).execute_command("SENTINEL", "REMOVE", MASTER)
            sentinels.sentinel(i).execute_command("SENTINEL", "MONITOR", MASTER, "127.0.0.1", str(new.port), 2)
        checks = watch.checks
        wait_for(lambda: watch.checks >= checks + 2, 10, "two checks of the silent new primary")
        assert resp_set(resp, "x", "2")  # meanwhile, on the old primary (still a master)
        new.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: resp_set(resp, "x", "3") and new.client().get("x") == "3", 5,
                 "the RESP client's write to reach the primary the first two sentinels name")
    finally:
        new.proc.send_signal(signal.SIGCONT)
        resp.close_watch()
        resp.close()


def test_a_forked_child_gets_a_sentinel_watch_of_its_own(sentinels: SentinelSet) -> None:
    """A process that forks after its client started watching: the child inherits the watch's connections but
    not its thread, so its word froze (and the parent's sentinel connections were shared). The child's watch
    starts again on connections of its own; the parent's goes on."""
    resp = RespClient.from_config(sentinels.config(timeout_ms=250))
    try:
        assert resp_set(resp, "x", "1")
        watch = resp._watch
        assert watch is not None
        wait_for(lambda: watch.named is not None, 10, "the watch's first word")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, and leave without running the parent's clean-up
            said = b"0"
            try:
                checks, until = watch.checks, time.monotonic() + 10
                while time.monotonic() < until and not (watch.checks >= checks + 3 and watch.named is not None):
                    time.sleep(0.01)
                said = b"1" if watch.checks >= checks + 3 and watch.named is not None else b"0"
            finally:
                os.write(write_end, said)
                os._exit(0)
        os.close(write_end)
        try:
            said = os.read(read_end, 1)
        finally:
            os.close(read_end)
            os.waitpid(pid, 0)
        assert said == b"1", "the forked child's watch stopped asking the sentinels"
        checks = watch.checks
        wait_for(lambda: watch.checks >= checks + 3, 10, "the parent's watch to go on")
        assert resp_set(resp, "x", "2")
    finally:
        resp.close_watch()
        resp.close()


def test_a_demoted_primary_answers_readonly_and_the_clients_ask_sentinel_again(sentinels: SentinelSet) -> None:
    """A primary demoted while a client stays connected (REPLICAOF by hand keeps its clients; so does a
    partitioned old primary that Sentinel reconfigures late) refuses writes with READONLY: that reply
    must send the client back to Sentinel, not fail every write from then on."""
    cfg = sentinels.config()
    resp, py = RespClient.from_config(cfg), connect(cfg)
    assert resp_set(resp, "x", "1") and py_set(py, "y", "1")
    old, new = sentinels.server_ports
    # Swap the roles by hand; the old primary keeps its client connections.
    redis.Redis(port=new).execute_command("REPLICAOF", "NO", "ONE")
    redis.Redis(port=old).execute_command("REPLICAOF", "127.0.0.1", str(new))
    # While the sentinels still name the old primary, each client's next write meets its READONLY (once they
    # name the new one, the clients' sentinel checks, every 0.1 s, may move them first: a CI run under load
    # saw redis-py's pool move before its write, so the write never met READONLY).
    with pytest.raises(RedisUnavailable, match="READONLY"):
        resp.call("SET", "x", "2")
    with pytest.raises(redis.ConnectionError, match="replica now"):
        py.set("y", "2")
    for i in range(3):  # then point every sentinel at the new primary at once
        sentinel = sentinels.sentinel(i)
        sentinel.execute_command("SENTINEL", "REMOVE", MASTER)
        sentinel.execute_command("SENTINEL", "MONITOR", MASTER, "127.0.0.1", str(new), 2)
    wait_for(lambda: resp_set(resp, "x", "2"), 30, "the RESP client to write again")
    wait_for(lambda: py_set(py, "y", "2"), 30, "redis-py to write again")
    assert resp.port == new
    assert redis.Redis(port=new, decode_responses=True).mget("x", "y") == ["2", "2"]


def test_with_every_sentinel_stopped_a_connected_redis_py_client_keeps_writing_to_its_primary(
        sentinels: SentinelSet) -> None:
    """The pool asks the sentinels before it hands out a connection; with none answering it keeps its
    connection (a running actor goes on), and a dead sentinel is asked again only after a second."""
    py = connect(sentinels.config())
    assert py_set(py, "y", "1")
    for i in range(3):
        sentinels.kill(f"sentinel-{i}")
    calls, until = 0, time.monotonic() + 0.35  # calls for 0.35 s: several checks fall due, none finds a sentinel
    while time.monotonic() < until and calls < 10_000:
        calls += 1
        assert py_set(py, "y", str(calls)), calls
    assert redis.Redis(port=sentinels.server_ports[0], decode_responses=True).get("y") == str(calls)


def test_with_every_sentinel_hung_no_redis_py_call_waits_for_them_and_the_pool_keeps_asking(
        sentinels: SentinelSet) -> None:
    """Sentinels that hang (SIGSTOPped: the kernel still accepts their connections, nobody answers), as when
    they are cut off from this host while the primary is not: the pool asks them in its own thread, never on a
    caller's, so no call waits for their timeouts (asked on the call's path, one call a second waited 0.756 s:
    3 sentinels x the 250 ms timeout), every call reaches the primary, and the pool goes on asking."""
    py = connect(sentinels.config(timeout_ms=250))
    pool = py.connection_pool
    asked_on: list[str] = []
    ask = pool.named_primary

    def named_primary_recording_its_thread():
        asked_on.append(threading.current_thread().name)
        return ask()

    pool.named_primary = named_primary_recording_its_thread
    assert py_set(py, "y", "0")
    wait_for(lambda: pool.named == ("127.0.0.1", sentinels.server_ports[0]), 10, "the pool's first word from the sentinels")
    stopped = [sentinels.procs[f"sentinel-{i}"] for i in range(3)]
    try:
        for proc in stopped:
            proc.send_signal(signal.SIGSTOP)
        checks_at_stop, calls = pool.checks, 0
        while pool.checks < checks_at_stop + 3 and calls < 1_000_000:  # three checks that found no sentinel
            calls += 1
            assert py_set(py, "y", str(calls)), calls
            if calls % 100 == 0:
                time.sleep(0.001)  # (let the checker run on a loaded machine)
        assert pool.checks >= checks_at_stop + 3, "the pool stopped asking the sentinels"
    finally:
        for proc in stopped:
            proc.send_signal(signal.SIGCONT)
    assert asked_on and threading.current_thread().name not in asked_on, asked_on[:5]
    assert set(asked_on) == {"sentinel-check"}
    assert redis.Redis(port=sentinels.server_ports[0], decode_responses=True).get("y") == str(calls)


class SlowLink:
    """A real TCP proxy in front of a real sentinel whose every reply arrives `delay_s` late (a sentinel on a
    far host, or a loaded one): requests pass at once."""

    def __init__(self, target_port: int, delay_s: float):
        import socket
        self.target_port, self.delay_s = target_port, delay_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.socks: list = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                return
            self.socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.delay_s), daemon=True).start()

    @staticmethod
    def _pump(src, dst, delay_s: float) -> None:
        try:
            while data := src.recv(65536):
                time.sleep(delay_s)
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            sock.close()

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


def test_with_sentinels_that_answer_in_150_ms_redis_py_still_follows_a_failover_before_the_old_primary_is_demoted(
        sentinels: SentinelSet) -> None:
    """The pool's checker waits for a sentinel as long as the topology's timeout (500 ms here), not less: a
    sentinel that answers in 150 ms (far host, loaded host) is an answer. Capped at 100 ms, the checker heard no
    sentinel at all, never learned a primary, and after SENTINEL FAILOVER every write went on to the old primary
    (lost at its demotion) for as long as it was not demoted."""
    links = [SlowLink(port, 0.15) for port in sentinels.sentinel_ports]
    try:
        cfg = RedisConfig(timeout_ms=500, sentinel=SentinelConfig(
            master=MASTER, sentinels=[f"127.0.0.1:{link.port}" for link in links]))
        py = connect(cfg)
        assert py_set(py, "y", "1")
        old, new = sentinels.server_ports
        wait_for(lambda: py.connection_pool.named == ("127.0.0.1", old), 10, "the pool's first word from the sentinels")
        assert sentinels.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)
        wait_for(lambda: sentinels.named_primary() == new, 30, "every sentinel to name the new primary")
        assert role_of(old) == "master"  # not yet demoted: the window this test is about
        on_new = redis.Redis(port=new, decode_responses=True)
        wait_for(lambda: py_set(py, "y", "2") and on_new.get("y") == "2", 3, "redis-py's write to reach the new primary")
        assert role_of(old) == "master"
    finally:
        for link in links:
            link.close()


def test_a_sentinel_that_names_a_replica_does_not_make_every_redis_py_call_reconnect(sentinels: SentinelSet) -> None:
    """A sentinel that names a replica (stale: restarted with an old config, or misconfigured) is skipped by
    discovery (ROLE), which moves the next sentinel first; the pool's checker asks the sentinels in that same
    order, so it names the primary the connections are on. With an order of its own it went on asking the stale
    sentinel first and every call closed its connection and discovered again (2 new connections a call). (Since
    revha the checker also takes the word of a majority of the sentinels, which outvotes the stale one.)"""
    old, replica = sentinels.server_ports
    stale = sentinels.sentinel(0)
    stale.execute_command("SENTINEL", "REMOVE", MASTER)
    stale.execute_command("SENTINEL", "MONITOR", MASTER, "127.0.0.1", str(replica), 2)
    py = connect(sentinels.config(timeout_ms=250))
    pool = py.connection_pool
    on_primary = redis.Redis(port=old, decode_responses=True)
    on_primary.ping()

    def calls_while_the_checker_asks(times: int) -> int:
        calls, until = 0, pool.checks + times
        while pool.checks < until and calls < 100_000:
            calls += 1
            assert py_set(py, "y", str(calls)), calls
            if calls % 20 == 0:
                time.sleep(0.001)  # (let the checker run on a loaded machine)
        return calls

    calls_while_the_checker_asks(3)  # the first discovery and the checker's first answers
    connections_before = int(on_primary.info("stats")["total_connections_received"])
    calls = calls_while_the_checker_asks(3)
    new_connections = int(on_primary.info("stats")["total_connections_received"]) - connections_before
    assert new_connections == 0, f"{new_connections} new connections to the primary for {calls} calls"
    assert on_primary.get("y") == str(calls)


def test_a_redis_py_client_closed_or_dropped_stops_its_pools_sentinel_checker(sentinels: SentinelSet) -> None:
    """Each launcher.redis_conn client has a thread that asks the sentinels 10 times a second; it ends when the
    client is closed or dropped. (redis-py 8's pool is in a reference cycle: a dropped pool was freed only by the
    cyclic GC, and close() did not close it, so every short-lived client left a thread asking the sentinels.)"""
    cfg = sentinels.config(timeout_ms=250)
    gc.disable()  # (the cyclic GC would end a dropped pool's thread at a time of its own)
    try:
        closed = connect(cfg)
        assert py_set(closed, "y", "1")
        closed_checker = closed.connection_pool._checker
        closed.close()
        wait_for(lambda: not closed_checker.is_alive(), 5, "the closed client's checker to end")
        dropped = connect(cfg)
        assert py_set(dropped, "y", "2")
        dropped_checker = dropped.connection_pool._checker
        del dropped
        wait_for(lambda: not dropped_checker.is_alive(), 5, "the dropped client's checker to end")
    finally:
        gc.enable()


class NotASentinel:
    """A real TCP server on a sentinel's address that is not a sentinel: to every request it answers `reply`
    (a well-formed `+OK`, or an HTTP error page: not RESP at all)."""

    def __init__(self, reply: bytes):
        import socket
        self.reply = reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn) -> None:
        try:
            while conn.recv(65536):
                conn.sendall(self.reply)
        except OSError:
            pass
        conn.close()

    def close(self) -> None:
        self.listener.close()


def test_a_sentinel_address_that_answers_garbage_is_skipped_by_both_clients_and_the_pools_checker(
        sentinels: SentinelSet) -> None:
    """Something else on a sentinel's address (a reply of the wrong shape, or not RESP at all) is a sentinel that
    did not answer: discovery and the pool's checker go on to the next one. It escaped discovery as ValueError or
    hiredis.ProtocolError (not a Redis error: a call raised it), and it stopped the checker's every round."""
    fakes = [NotASentinel(b"+OK\r\n"), NotASentinel(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")]
    try:
        cfg = RedisConfig(timeout_ms=250, sentinel=SentinelConfig(
            master=MASTER, sentinels=[fake.address for fake in fakes] + [f"127.0.0.1:{p}" for p in sentinels.sentinel_ports]))
        primary = ("127.0.0.1", sentinels.server_ports[0])
        for fake in fakes:  # each alone in front of the real sentinels
            addresses = [("127.0.0.1", int(fake.address.rsplit(":", 1)[1]))] + [("127.0.0.1", p)
                                                                                for p in sentinels.sentinel_ports]
            assert discover_primary(addresses, MASTER, timeout_s=0.25) == primary
        assert resp_set(RespClient.from_config(cfg), "x", "1")
        py = connect(cfg)
        assert py.connection_pool.named_primary() == primary  # (a check, the fakes first: before any discovery)
        assert py.set("y", "1")
        wait_for(lambda: py.connection_pool.named == primary, 10, "the pool's checker to name the primary")
    finally:
        for fake in fakes:
            fake.close()


def test_a_dead_sentinel_is_skipped_and_the_one_that_answered_is_asked_first_next_time(sentinels: SentinelSet) -> None:
    sentinels.kill("sentinel-0")
    order = [("127.0.0.1", p) for p in sentinels.sentinel_ports]
    assert discover_primary(order, MASTER, timeout_s=1.0) == ("127.0.0.1", sentinels.server_ports[0])
    assert order[0] == ("127.0.0.1", sentinels.sentinel_ports[1]) and len(order) == 3


def test_with_no_sentinel_answering_a_call_fails_with_redis_unavailable(sentinels: SentinelSet) -> None:
    cfg = sentinels.config(timeout_ms=100)
    for i in range(3):
        sentinels.kill(f"sentinel-{i}")
    with pytest.raises(RedisUnavailable, match="no primary"):
        RespClient.from_config(cfg).call("PING")
    with pytest.raises(redis.ConnectionError, match="no primary"):
        connect(cfg).ping()


def test_failover_readiness_says_when_too_few_sentinels_are_left_to_fail_over(sentinels: SentinelSet) -> None:
    """With 2 of 3 sentinels dead the primary is still found (decisions go on), but a failover can no
    longer be authorised: status must say so, not only list two STOPPED programs (found by attack)."""
    cfg = sentinels.config()
    ok, said = failover_readiness(cfg.sentinel_addresses(), MASTER, timeout_s=0.5)
    assert ok is True and "3 usable" in said
    sentinels.kill("sentinel-0")
    sentinels.kill("sentinel-1")
    # The last sentinel counts the other two out once it has seen them down (down-after).
    wait_for(lambda: failover_readiness(cfg.sentinel_addresses(), MASTER, timeout_s=0.5)[0] is False, 30,
             "the last sentinel to report no quorum")
    ok, said = failover_readiness(cfg.sentinel_addresses(), MASTER, timeout_s=0.5)
    assert "NOQUORUM" in said and f"127.0.0.1:{sentinels.sentinel_ports[2]}" in said
    assert discover_primary(cfg.sentinel_addresses(), MASTER, timeout_s=0.5)[1] == sentinels.server_ports[0]
    sentinels.kill("sentinel-2")
    ok, said = failover_readiness(cfg.sentinel_addresses(), MASTER, timeout_s=0.5)
    assert ok is None and "no sentinel answers" in said


def test_failover_readiness_says_when_sentinels_in_tilt_mode_leave_too_few_to_see_a_primary_down(
        tmp_path: Path, step_clock_library: Path) -> None:
    """A sentinel whose wall clock steps back (an NTP step) or jumps 2 s ahead (the sentinel, or its host, stalled)
    enters TILT mode for 30 s: it reports no primary down and starts no failover. With 2 of 3 in TILT, fewer than
    the quorum (2) can see the primary down, and a primary SIGKILLed then was failed over after 40.2 s; status
    said "failover possible (OK 3 usable Sentinels)", CKQUORUM counting the tilted ones."""
    step_file = tmp_path / "sentinels-clock-step-s"
    step_file.write_text("0")
    stepped = {"LD_PRELOAD": str(step_clock_library), "CLUSTERGATE_TEST_CLOCK_STEP_FILE": str(step_file)}
    group = SentinelSet(tmp_path / "sentinel", sentinel_env={0: stepped, 1: stepped})
    try:
        group.start()
        addresses = group.config().sentinel_addresses()
        assert failover_readiness(addresses, MASTER, timeout_s=0.5)[0] is True
        step_file.write_text("-1.0")  # the host's clock stepped back 1 s, for sentinels 0 and 1
        wait_for(lambda: all(group.sentinel(i).info("sentinel").get("sentinel_tilt") == 1 for i in (0, 1)), 10,
                 "sentinels 0 and 1 in TILT mode")
        ok, said = failover_readiness(addresses, MASTER, timeout_s=0.5)
        assert ok is False and "TILT" in said, said
        for i in (0, 1):
            assert f"127.0.0.1:{group.sentinel_ports[i]}" in said, said
    finally:
        group.stop()


def test_status_says_no_failover_is_possible_while_the_sentinels_know_no_replica_they_could_promote(
        sentinels: SentinelSet, tmp_path: Path) -> None:
    """The only replica down (its host lost, a maintenance stop): the sentinels cannot promote anyone, so a primary
    crash holds every exit until it restarts (and with WAIT every decision is HOLD replica_unacknowledged meanwhile).
    Status said "sentinel: failover possible (... OK 3 usable Sentinels ...)": CKQUORUM counts
    sentinels, not replicas (harev review, a managed demo with redis-server-2 stopped)."""
    from launcher.supervise import render_sentinel_status, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    topo = load_topology(str(sentinels.topology(tmp_path / "t.yaml")))
    assert sentinel_status(topo)["failover_possible"] is True
    replica = sentinels.server_ports[1]
    sentinels.kill("server-1")

    def replica_down_for_every_sentinel() -> bool:
        return all("s_down" in sentinels.sentinel(i).execute_command("SENTINEL", "REPLICAS", MASTER)[0]["flags"]
                   for i in range(3))
    wait_for(replica_down_for_every_sentinel, 30, "every sentinel to see the replica down")
    state = sentinel_status(topo)
    assert state["failover_possible"] is False and sentinels_ok(state) is False, state
    assert f"no replica to promote (127.0.0.1:{replica}: s_down" in state["said"], state
    assert render_sentinel_status(state).startswith("sentinel: NO FAILOVER POSSIBLE: "), render_sentinel_status(state)

    sentinels.start_server(1, sentinels.server_ports[0])  # back: possible again
    wait_for(lambda: sentinel_status(topo)["failover_possible"] is True, 30, "status to say a failover is possible")


def test_no_failover_with_a_replica_at_priority_0_up_does_not_say_every_decision_holds(tmp_path: Path) -> None:
    """harev2 review: one replica at replica-priority 0 (a DR copy, an `ha_load failover --to` left behind) and the
    other stopped: no failover is possible, true, but status also said every decision was HOLD replica_unacknowledged,
    while the priority-0 replica, connected, acknowledged the issuer's WAIT 1 (reproduced with real redis-servers)."""
    from launcher.supervise import render_sentinel_status, sentinel_status
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "sentinel", servers=3)
    try:
        group.start()
        topo = load_topology(str(group.topology(tmp_path / "t.yaml")))
        redis.Redis(port=group.server_ports[1]).config_set("replica-priority", 0)
        group.kill("server-2")
        state = wait_for(lambda: (said := sentinel_status(topo)).get("no_replica") and said, 40,
                         "the sentinels to see no replica they could promote")
        primary = redis.Redis(port=group.server_ports[0])
        primary.set("k", "v")
        assert primary.execute_command("WAIT", 1, 2000) == 1  # the priority-0 replica acknowledges
        text = render_sentinel_status(state)
        assert text.startswith("sentinel: NO FAILOVER POSSIBLE: "), text
        assert "HOLD replica_unacknowledged" not in text, text
        assert f"127.0.0.1:{group.server_ports[1]}" in text and "never promotes" in text, text
        assert state["replica_priority_0_up"] == [f"127.0.0.1:{group.server_ports[1]}"], state
    finally:
        group.stop()


@contextlib.contextmanager
def _issuer_and_gate_under_external_sentinels(tmp_path: Path, servers: int, replicas: int, host: str | None = None,
                                              **issuer_settings: object):
    """The permit issuer and gate up under external sentinels of `servers` data servers (the first primary), told
    `replicas` (and the issuer these settings), in tmp_path/external.yaml: yields the SentinelSet and the home; brought
    down after. With `host`, the topology has that one host, at 127.0.0.1, running both (home: homes/HOST)."""
    from helpers import demo_topology_data, retarget
    from reliability import clustergate
    group = SentinelSet(tmp_path / "sentinel", servers=servers)
    home = tmp_path / "homes" / host if host else tmp_path / "home"
    try:
        group.start()
        data = retarget(demo_topology_data())
        data["actors"] = {name: data["actors"][name] for name in ("permit_issuer", "gate")}
        if issuer_settings:
            data["actors"]["permit_issuer"].setdefault("settings", {}).update(issuer_settings)
        data["redis"] = {"sentinel": {"master": MASTER, "replicas": replicas,
                                      "sentinels": [f"127.0.0.1:{port}" for port in group.sentinel_ports]}}
        if host:
            data["hosts"] = {host: {"address": "127.0.0.1"}}
            for actor in data["actors"].values():
                actor["host"] = host
        topology = write_topology(tmp_path / "external.yaml", data)
        up = clustergate("up", str(topology), "--home", str(home), *(["--host", host] if host else []))
        assert up.returncode == 0, up.stdout + up.stderr
        yield group, home
    finally:
        clustergate("down", "--home", str(home))
        group.stop()


@contextlib.contextmanager
def _status_under_external_sentinels_expecting_no_replica(tmp_path: Path, **issuer_settings: object):
    """The permit issuer and gate up under external sentinels of a primary with no replica, told `replicas: 0` (and
    the issuer these settings): yields `status`'s result and its `sentinel:` lines."""
    from reliability import clustergate
    with _issuer_and_gate_under_external_sentinels(tmp_path, 1, 0, **issuer_settings) as (_, home):
        status = clustergate("status", "--home", str(home))
        yield status, [line for line in status.stdout.splitlines() if line.startswith("sentinel: ")]


def test_status_of_a_system_whose_external_sentinels_expect_no_replica_exits_0_saying_there_is_no_failover(
        tmp_path: Path) -> None:
    """lnfix: external sentinels with `replicas: 0` (a primary with no replica, found through Sentinel; no WAIT): a
    healthy system's `status` exited 1, `NO FAILOVER POSSIBLE: ... a permit issuer that waits for a replica answers
    every decision HOLD replica_unacknowledged ...`, though no issuer waits and the topology expects no replica."""
    from reliability import clustergate
    with _status_under_external_sentinels_expecting_no_replica(tmp_path) as (status, said):
        assert status.returncode == 0, status.stdout + status.stderr
        assert len(said) == 1 and said[0].startswith(
            "sentinel: no failover: redis.sentinel.replicas is 0, so a primary crash holds every exit until the "
            "primary restarts (no replica to promote (none known; said by 3 sentinels); "), said
        assert "OK 3 usable Sentinels" in said[0] and "replica_unacknowledged" not in said[0], said
        home = tmp_path / "home"
        assert json.loads(clustergate("status", "--home", str(home), "--json").stdout)["sentinel"]["none_expected"]


def test_status_with_external_sentinels_expecting_no_replica_still_fails_an_issuer_that_waits_for_one(
        tmp_path: Path) -> None:
    """lnrev3: `replicas: 0` with a permit issuer told `wait_replicas: 1` (external Redis: valid) and no replica: every
    decision is HOLD replica_unacknowledged, yet since lnfix `status` exited 0 saying `no failover: ... replicas is
    0`, where it said NO FAILOVER POSSIBLE and exited 1."""
    with _status_under_external_sentinels_expecting_no_replica(tmp_path, wait_replicas=1) as (status, said):
        assert status.returncode == 1, status.stdout + status.stderr
        assert len(said) == 1 and said[0].startswith("sentinel: NO FAILOVER POSSIBLE"), said
        assert "replica_unacknowledged" in said[0], said


def test_with_external_sentinels_expecting_no_replica_a_replica_sentinel_sees_down_still_fails_status(
        sentinels: SentinelSet, tmp_path: Path) -> None:
    """statusfix: `replicas: 0` excused "no replica to promote" whatever the reason: a replica that exists and that
    every sentinel saw s_down (stopped, its host lost) left `status` at exit 0 saying `no failover: ... replicas is
    0`, the fault unsaid. A replica Sentinel reports down is named and fails status, whatever replicas: says."""
    from helpers import demo_topology_data, retarget
    from launcher.supervise import render_sentinel_status, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    data = retarget(demo_topology_data())
    data["redis"] = {"sentinel": {"master": MASTER, "replicas": 0,
                                  "sentinels": [f"127.0.0.1:{port}" for port in sentinels.sentinel_ports]}}
    topo = load_topology(str(write_topology(tmp_path / "t.yaml", data)))
    assert sentinels_ok(sentinel_status(topo)), sentinel_status(topo)  # up and promotable: failover possible
    replica = f"127.0.0.1:{sentinels.server_ports[1]}"
    sentinels.kill("server-1")
    wait_for(lambda: all("s_down" in sentinels.sentinel(i).execute_command("SENTINEL", "REPLICAS", MASTER)[0]["flags"]
                         for i in range(3)), 30, "every sentinel to see the replica down")
    state = sentinel_status(topo)
    text = render_sentinel_status(state)
    assert sentinels_ok(state) is False and not state.get("none_expected"), state
    assert state["replicas_down"] == [replica], state
    assert text.startswith(f"sentinel: REPLICA DOWN: {replica}: the sentinels see it down "), text
    assert f"(no replica to promote ({replica}: s_down" in text, text
    assert f"`SENTINEL RESET {MASTER}` is sent to each" in text and "replica_unacknowledged" not in text, text
    # The way out the line gives for a replica removed for good (revstatus): reset on each sentinel, status passes.
    for i in range(3):
        sentinels.sentinel(i).execute_command("SENTINEL", "RESET", MASTER)
    state = wait_for(lambda: (said := sentinel_status(topo)).get("none_expected") and said, 30,
                     "status to pass once each sentinel was reset")
    assert sentinels_ok(state) and "replicas_down" not in state, state


def _down_for_every_sentinel(group: SentinelSet, port: int) -> bool:
    """Every sentinel lists the replica on `port` with s_down."""
    return all(any(int(r["port"]) == port and "s_down" in r["flags"]
                   for r in group.sentinel(i).execute_command("SENTINEL", "REPLICAS", MASTER)) for i in range(3))


def test_a_replica_sentinel_sees_down_while_another_can_be_promoted_makes_status_exit_3_naming_it(
        tmp_path: Path) -> None:
    """replicadown: a primary, two replicas, three sentinels; one replica SIGKILLed and seen s_down by every sentinel.
    `status` said `sentinel: failover possible (... OK 3 usable Sentinels ...)` and exited 0: the redundancy lost
    unsaid, one more loss leaving none to promote. Now it names the replica, says a failover is still possible through
    the other, and exits 3 (degraded: trade, and page), its --json `replicas_down` naming it."""
    from reliability import clustergate
    with _issuer_and_gate_under_external_sentinels(tmp_path, 3, 2) as (group, home):
        healthy = clustergate("status", "--home", str(home))
        assert healthy.returncode == 0 and "sentinel: failover possible (" in healthy.stdout, healthy.stdout
        lost, kept = (f"127.0.0.1:{group.server_ports[i]}" for i in (2, 1))
        group.kill("server-2")
        wait_for(lambda: _down_for_every_sentinel(group, group.server_ports[2]), 30,
                 "every sentinel to see the replica down")
        status = clustergate("status", "--home", str(home))
        said = [line for line in status.stdout.splitlines() if line.startswith("sentinel: ")]
        assert status.returncode == 3, status.stdout + status.stderr
        assert len(said) == 1 and said[0].startswith(f"sentinel: REPLICA DOWN: {lost}: the sentinels see it down "), said
        assert f"a failover is still possible, through {kept} only" in said[0], said
        assert f"`SENTINEL RESET {MASTER}`" in said[0] and "OK 3 usable Sentinels" in said[0], said
        assert f"DEGRADED: replica {lost} down" in status.stdout, status.stdout
        state = json.loads(clustergate("status", "--home", str(home), "--json").stdout)
        assert state["sentinel"]["failover_possible"] is True and state["sentinel"]["replicas_down"] == [lost], state
        assert state["sentinel"]["promotable"] == [kept], state


def test_a_replica_down_beside_two_promotable_ones_is_not_said_to_leave_none_after_one_more_loss(
        tmp_path: Path) -> None:
    """revrep: a primary, three replicas, one SIGKILLed and s_down for every sentinel: status said `a failover is still
    possible, through A, B only, and one more loss leaves no replica to promote`, false with two left. It says how many
    are left; `one more loss leaves no replica to promote` is for the last one (the test above)."""
    from launcher.supervise import render_sentinel_status, sentinel_degraded, sentinel_status
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "sentinel", servers=4)
    try:
        group.start()
        topo = load_topology(str(group.topology(tmp_path / "t.yaml")))
        group.kill("server-3")
        wait_for(lambda: _down_for_every_sentinel(group, group.server_ports[3]), 30,
                 "every sentinel to see the replica down")
        state = sentinel_status(topo)
        text = render_sentinel_status(state)
        left = [f"127.0.0.1:{port}" for port in group.server_ports[1:3]]
        assert sorted(state["promotable"]) == sorted(left) and sentinel_degraded(state), state
        assert f"sentinel: REPLICA DOWN: 127.0.0.1:{group.server_ports[3]}: " in text, text
        assert "one more loss leaves no replica" not in text, text
        assert f"a failover is still possible, through {', '.join(state['promotable'])} (2 replicas left)" in text, text
    finally:
        group.stop()


def test_status_all_hosts_exits_3_for_a_replica_down_beside_a_promotable_one_as_status_does(tmp_path: Path) -> None:
    """revrep: `status FILE --all-hosts` printed `sentinel: REPLICA DOWN: ...` and exited 0, with no DEGRADED line,
    where `status` of the same system exits 3: a monitor of the whole system missed the lost redundancy (reproduced:
    one host at 127.0.0.1 running the issuer and gate under external sentinels, a replica of two SIGKILLed). It reads
    the sentinels itself, so it says DEGRADED and exits 3 too (`degraded` in --json)."""
    from reliability import clustergate
    with _issuer_and_gate_under_external_sentinels(tmp_path, 3, 2, host="exec") as (group, home):
        whole = ("status", str(tmp_path / "external.yaml"), "--all-hosts", "--home-root", str(home.parent))
        healthy = clustergate(*whole)
        assert healthy.returncode == 0 and "sentinel: failover possible (" in healthy.stdout, healthy.stdout
        assert json.loads(clustergate(*whole, "--json").stdout)["degraded"] is None
        lost = f"127.0.0.1:{group.server_ports[2]}"
        group.kill("server-2")
        wait_for(lambda: _down_for_every_sentinel(group, group.server_ports[2]), 30,
                 "every sentinel to see the replica down")
        status = clustergate(*whole)
        assert status.returncode == 3, status.stdout + status.stderr
        assert f"sentinel: REPLICA DOWN: {lost}: " in status.stdout, status.stdout
        assert f"DEGRADED: replica {lost} down" in status.stdout, status.stdout
        report = json.loads(clustergate(*whole, "--json").stdout)
        assert report["degraded"].startswith(f"replica {lost} down") and report["sentinel"]["replicas_down"] == [lost]
        # statusfix: JSON has no sentinel line above it to point at: its text names the replicas left itself
        assert "above" not in report["degraded"] and report["degraded"].endswith(
            f"({', '.join(report['sentinel']['promotable'])}): bring it back"), report["degraded"]
        assert clustergate("status", "--home", str(home)).returncode == 3  # what the host's own status says


def test_a_replica_only_one_sentinel_sees_down_is_not_reported_down_but_named_as_that_sentinels_view(
        tmp_path: Path) -> None:
    """replicadown: status took a replica as down when any one sentinel flagged it (the union of their views): one
    sentinel cut off from a replica, the quorum seeing it up, made status say REPLICA DOWN. Reproduced with real
    processes: one replica SIGSTOPped, sentinel 0 at down-after 2 s, sentinels 1 and 2 told 60 s, so for the next
    ~30 s only sentinel 0 flags it. Status now says failover possible, exit unchanged, and names the minority view."""
    from launcher.supervise import render_sentinel_status, sentinel_degraded, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "sentinel", servers=3)
    stopped = None
    try:
        group.start()
        topo = load_topology(str(group.topology(tmp_path / "t.yaml")))
        for i in (1, 2):
            group.sentinel(i).execute_command("SENTINEL", "SET", MASTER, "down-after-milliseconds", 60000)
        port = group.server_ports[2]
        stopped = group.procs["server-2"]
        stopped.send_signal(signal.SIGSTOP)

        def flagged_by(i: int) -> bool:
            return any(int(r["port"]) == port and "s_down" in r["flags"]
                       for r in group.sentinel(i).execute_command("SENTINEL", "REPLICAS", MASTER))
        wait_for(lambda: flagged_by(0), 20, "sentinel 0 to see the stopped replica down")
        state = sentinel_status(topo)
        assert not flagged_by(1) and not flagged_by(2), "sentinels 1 and 2 flagged it too early: no minority view"
        text = render_sentinel_status(state)
        assert sentinels_ok(state) and sentinel_degraded(state) is None and "replicas_down" not in state, state
        assert state["replicas_down_minority"] == {f"127.0.0.1:{port}": [f"127.0.0.1:{group.sentinel_ports[0]}"]}, state
        assert text.startswith("sentinel: failover possible ("), text
        assert (f"sentinel: note: 127.0.0.1:{port} seen down by sentinel 127.0.0.1:{group.sentinel_ports[0]} only "
                f"(1 of 3 answering; the others see it up)") in text, text
        # Once every sentinel sees it (SENTINEL SET back to 2 s), it is down, and status says so.
        for i in (1, 2):
            group.sentinel(i).execute_command("SENTINEL", "SET", MASTER, "down-after-milliseconds", 2000)
        state = wait_for(lambda: (said := sentinel_status(topo)).get("replicas_down") and said, 20,
                         "the quorum to see the replica down")
        assert state["replicas_down"] == [f"127.0.0.1:{port}"] and sentinel_degraded(state), state
    finally:
        if stopped is not None and stopped.poll() is None:
            stopped.send_signal(signal.SIGCONT)
        group.stop()


def test_a_replica_every_sentinel_lists_only_disconnected_is_not_down_until_they_see_it_s_down(tmp_path: Path) -> None:
    """revrep: a replica was down when a majority flagged it s_down, o_down or `disconnected`; but every sentinel lists
    a replica `disconnected` for the ~0.1 s after it learns of it from the primary's INFO (after `up`, a replica that
    joined after the sentinels' first INFO shows 10 s later) and for the second after a restarted replica answers
    again (their reconnect period): status exited 3, REPLICA DOWN, in those windows (reproduced: `up` of a managed
    primary, two replicas and three sentinels, status polled: exit 3 at 8-9 s after up; a replica restarted: every
    sentinel `slave,disconnected` up to 0.98 s after it answered PING). Down is Sentinel's own word, s_down (after
    down-after) or o_down: here a replica SIGKILLed under a down-after of 60 s, `disconnected` for every sentinel and
    not s_down, leaves status at failover possible; once they see it s_down, it is down."""
    from launcher.supervise import render_sentinel_status, sentinel_degraded, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "sentinel", servers=3)
    try:
        group.start()
        topo = load_topology(str(group.topology(tmp_path / "t.yaml")))
        for i in range(3):
            group.sentinel(i).execute_command("SENTINEL", "SET", MASTER, "down-after-milliseconds", 60000)
        port = group.server_ports[2]
        group.kill("server-2")

        def flags_of(i: int) -> set[str]:
            return next(set(r["flags"].split(",")) for r in group.sentinel(i).execute_command("SENTINEL", "REPLICAS",
                                                                                             MASTER)
                        if int(r["port"]) == port)
        wait_for(lambda: all("disconnected" in flags_of(i) for i in range(3)), 20,
                 "every sentinel to list the killed replica disconnected")
        state = sentinel_status(topo)
        assert all("s_down" not in flags_of(i) for i in range(3)), "s_down already: the window this test is about ended"
        assert sentinels_ok(state) and sentinel_degraded(state) is None, state
        assert "replicas_down" not in state and "replicas_down_minority" not in state, state
        assert render_sentinel_status(state).startswith("sentinel: failover possible ("), render_sentinel_status(state)
        for i in range(3):
            group.sentinel(i).execute_command("SENTINEL", "SET", MASTER, "down-after-milliseconds", 2000)
        state = wait_for(lambda: (said := sentinel_status(topo)).get("replicas_down") and said, 20,
                         "the sentinels to see the replica s_down")
        assert state["replicas_down"] == [f"127.0.0.1:{port}"] and sentinel_degraded(state), state
    finally:
        group.stop()


def test_a_replica_the_other_sentinels_were_reset_of_is_not_said_to_be_seen_up_by_them(tmp_path: Path) -> None:
    """revrep: the REPLICA DOWN line says a replica removed for good stays known until `SENTINEL RESET` is sent to each
    sentinel; half-way through (two of three reset, the third still flagging it s_down) the note said `seen down by
    sentinel C only (1 of 3 answering; the others see it up): ... that sentinel's link to it is cut`, though the
    others no longer list it at all, and the reset left to do was unsaid. It names the sentinels that do not list it,
    and the reset to send to the one that still does."""
    from launcher.supervise import render_sentinel_status, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "sentinel", servers=3)
    try:
        group.start()
        topo = load_topology(str(group.topology(tmp_path / "t.yaml")))
        port = group.server_ports[2]
        group.kill("server-2")
        wait_for(lambda: _down_for_every_sentinel(group, port), 30, "every sentinel to see the replica down")
        for i in (0, 1):
            group.sentinel(i).execute_command("SENTINEL", "RESET", MASTER)
        reset = sorted(f"127.0.0.1:{group.sentinel_ports[i]}" for i in (0, 1))
        left = f"127.0.0.1:{group.sentinel_ports[2]}"
        state = sentinel_status(topo)
        text = render_sentinel_status(state)
        assert sentinels_ok(state) and "replicas_down" not in state, state
        assert state["replicas_down_minority"] == {f"127.0.0.1:{port}": [left]}, state
        assert state["replicas_unlisted"] == {f"127.0.0.1:{port}": reset}, state
        note = next(line for line in text.splitlines() if line.startswith("sentinel: note: "))
        assert note.startswith(f"sentinel: note: 127.0.0.1:{port} seen down by sentinel {left} only (1 of 3 answering; "
                               f"{', '.join(reset)} do not list it"), note
        assert "see it up" not in note and "link to it is cut" not in note, note
        assert f"`SENTINEL RESET {MASTER}` to {left} too" in note, note
    finally:
        group.stop()


def test_a_replica_down_seen_by_the_only_sentinel_that_answers_says_how_few_answer(tmp_path: Path) -> None:
    """revrep: status's host reaching one sentinel of three (the others' addresses unreachable from it, while the
    sentinels see each other: CKQUORUM says OK 3 usable), a replica every sentinel sees down: status said REPLICA DOWN,
    `the sentinels see it down`, and nothing of the two that did not answer. A majority of the answering ones decides
    (the one answer here is right: the replica is down), and the line says how many answered."""
    from helpers import demo_topology_data, retarget
    from launcher.supervise import render_sentinel_status, sentinel_degraded, sentinel_status
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "sentinel", servers=3)
    try:
        group.start()
        data = retarget(demo_topology_data())
        data["redis"] = {"sentinel": {"master": MASTER, "sentinels": [f"127.0.0.1:{group.sentinel_ports[0]}",
                                                                      f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}}
        topo = load_topology(str(write_topology(tmp_path / "t.yaml", data)))
        port = group.server_ports[2]
        group.kill("server-2")
        wait_for(lambda: _down_for_every_sentinel(group, port), 30, "every sentinel to see the replica down")
        state = sentinel_status(topo)
        text = render_sentinel_status(state)
        assert state["replicas_down"] == [f"127.0.0.1:{port}"] and sentinel_degraded(state), state
        assert "OK 3 usable Sentinels" in state["said"], state
        assert text.startswith(f"sentinel: REPLICA DOWN: 127.0.0.1:{port}: the sentinels that answer (1 of 3) see it "
                               f"down "), text
    finally:
        group.stop()


def _replica_entry(port: int, flags: str, priority: int = 100) -> list[str]:
    """One entry of a Redis 7 SENTINEL REPLICAS reply, as RESP2 gives it (a flat list of names and values)."""
    fields = {"name": f"127.0.0.1:{port}", "ip": "127.0.0.1", "port": str(port), "runid": "8f1c" * 10, "flags": flags,
              "link-pending-commands": "0", "link-refcount": "1", "last-ping-sent": "0", "last-ok-ping-reply": "312",
              "last-ping-reply": "312", "down-after-milliseconds": "2000", "info-refresh": "1204",
              "role-reported": "slave", "role-reported-time": "20431", "master-link-down-time": "0",
              "master-link-status": "ok", "master-host": "127.0.0.1", "master-port": "7390",
              "slave-priority": str(priority), "slave-repl-offset": "48213", "replica-announced": "1"}
    return [item for pair in fields.items() for item in pair]


def test_a_replica_is_down_when_a_majority_of_the_answering_sentinels_flag_it() -> None:
    """replicadown: judge_replicas_down on real-shaped SENTINEL REPLICAS replies: one sentinel of three flagging a
    replica is its own view (named, not down); two of three, or the only one answering, make it down; a sentinel that
    answered an error is not counted."""
    from launcher.sentinel import judge_replicas_down
    a, b, c = "127.0.0.1:7401", "127.0.0.1:7402", "127.0.0.1:7403"
    up, down = _replica_entry(7391, "slave"), _replica_entry(7391, "s_down,slave,disconnected")
    other = _replica_entry(7392, "slave")
    one = judge_replicas_down({a: [down, other], b: [up, other], c: [up, other]})
    assert one.down == [] and one.minority == {"127.0.0.1:7391": [a]} and one.answered == 3, one
    assert one.promotable == ["127.0.0.1:7391", "127.0.0.1:7392"], one
    two = judge_replicas_down({a: [down, other], b: [down, other], c: [up, other]})
    assert two.down == ["127.0.0.1:7391"] and two.minority == {} and two.promotable == ["127.0.0.1:7392"], two
    alone = judge_replicas_down({a: [down, other], b: "ERR no such master", c: None})
    assert alone.down == ["127.0.0.1:7391"] and alone.answered == 1, alone
    tie = judge_replicas_down({a: [down, other], b: [up, other]})
    assert tie.down == [] and tie.minority == {"127.0.0.1:7391": [a]}, tie
    linking = _replica_entry(7391, "slave,disconnected")  # just learned of, or its restart: no link yet (revrep)
    unlinked = judge_replicas_down({a: [linking, other], b: [linking, other], c: [linking, other]})
    assert unlinked.down == [] and unlinked.minority == {} and "127.0.0.1:7391" in unlinked.promotable, unlinked
    kept_out = judge_replicas_down({a: [_replica_entry(7392, "slave", priority=0)]})
    assert kept_out.down == [] and kept_out.promotable == [], kept_out


def test_a_replica_hidden_by_replica_announced_no_is_not_taken_for_no_replica(sentinels: SentinelSet,
                                                                              tmp_path: Path) -> None:
    """harev2 review: SENTINEL REPLICAS leaves out a replica set `replica-announced no` (hidden from clients), which
    Sentinel still promotes: status said NO FAILOVER POSSIBLE (no replica to promote (none known ...)) and, the
    primary SIGKILLed, the sentinels promoted that replica in about 2 s (reproduced with real redis-servers)."""
    from launcher.supervise import sentinel_status
    from launcher.topology import load_topology
    topo = load_topology(str(sentinels.topology(tmp_path / "t.yaml")))
    redis.Redis(port=sentinels.server_ports[1]).config_set("replica-announced", "no")
    wait_for(lambda: all(not sentinels.sentinel(i).execute_command("SENTINEL", "REPLICAS", MASTER) for i in range(3)),
             30, "every sentinel to hide the replica")
    state = sentinel_status(topo)
    assert state["failover_possible"] is True and not state.get("no_replica"), state
    sentinels.kill("server-0")
    wait_for(lambda: role_of(sentinels.server_ports[1]) == "master", 30, "the hidden replica promoted")


def test_a_named_primary_whose_role_is_replica_is_not_used(sentinels: SentinelSet) -> None:
    """Redis's client guidelines: check the sentinel's answer with ROLE. A sentinel made to monitor the
    replica under another name names it as that name's primary; discovery must refuse it."""
    replica = sentinels.server_ports[1]
    sentinel = sentinels.sentinel(2)
    assert sentinel.execute_command("SENTINEL", "MONITOR", "wrong", "127.0.0.1", replica, 2)
    try:
        assert sentinel.execute_command("SENTINEL", "get-master-addr-by-name", "wrong")[1] == str(replica)
        with pytest.raises(NoPrimary, match="whose ROLE is slave"):
            discover_primary([("127.0.0.1", sentinels.sentinel_ports[2])], "wrong", timeout_s=1.0)
    finally:
        sentinel.execute_command("SENTINEL", "REMOVE", "wrong")


def test_a_data_server_started_before_the_sentinels_answer_waits_for_them_and_takes_the_role_they_name(
        sentinels: SentinelSet, tmp_path: Path) -> None:
    """The start shim (launcher/redis_node.py) of a server whose topology role says "primary" but whose
    sentinels name another primary, started while no sentinel listens yet (they start beside it after
    `down`): it must wait for them, not fall back to the topology's role at once."""
    for i in range(3):
        sentinels.kill(f"sentinel-{i}")
    port = free_port()
    workdir = tmp_path / "third"
    workdir.mkdir()
    conf = workdir / "redis.conf"
    conf.write_text(render_server_conf(port=port, bind="127.0.0.1", directory=str(workdir), maxmemory_mb=64,
                                       password=None, quote=redis_quote))
    asked = [a for p in sentinels.sentinel_ports for a in ("--sentinel", f"127.0.0.1:{p}")]
    log = open(workdir / "shim.log", "wb")
    shim = subprocess.Popen([PYTHON, str(REDIS_NODE_SHIM), "--self", f"127.0.0.1:{port}", "--primary", f"127.0.0.1:{port}",
                             "--master", MASTER, *asked, "--timeout-ms", "200", "--wait-ms", "20000", "--",
                             sentinels.binary, str(conf)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for(lambda: shim.poll() is None and (workdir / "shim.log").exists(), 10, "the shim to start")
        time.sleep(1.5)  # pacing only: the sentinels come up after the shim's first question
        for i in range(3):
            sentinels.start_sentinel(i)
        wait_for(lambda: role_of(port) == "slave", 60, "the new server to start as the named primary's replica")
        assert "--replicaof 127.0.0.1 " + str(sentinels.server_ports[0]) in (workdir / "shim.log").read_text()
    finally:
        shim.kill()
        shim.wait(10)


def test_the_start_shim_follows_the_sentinels_with_the_newest_epoch_not_a_stale_one(sentinels: SentinelSet,
                                                                                  tmp_path: Path) -> None:
    """A sentinel that missed a failover (restarted with its host, its file from before) names the old
    primary at an older config-epoch; the start shim's question must take the newest answer, not the
    first one."""
    old, new = sentinels.server_ports
    assert sentinels.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)
    wait_for(lambda: sentinels.named_primary() == new, 30, "the failover")
    # A real sentinel with no news: it monitors the same name at a lone server of its own (epoch 0).
    lone = free_port()
    lone_dir, stale_dir = tmp_path / "lone", tmp_path / "stale"
    lone_dir.mkdir()
    stale_dir.mkdir()
    stale_port = free_port()
    (stale_dir / "sentinel.conf").write_text(render_sentinel_conf(
        port=stale_port, bind="127.0.0.1", directory=str(stale_dir), master=MASTER, primary=("127.0.0.1", lone),
        quorum=2, down_after_ms=1000, failover_timeout_ms=5000, parallel_syncs=1, password=None, quote=redis_quote))
    procs = [subprocess.Popen([sentinels.binary, "--port", str(lone), "--bind", "127.0.0.1", "--dir", str(lone_dir),
                               "--save", ""], stdout=subprocess.DEVNULL),
             subprocess.Popen([sentinels.binary, str(stale_dir / "sentinel.conf"), "--sentinel"], stdout=subprocess.DEVNULL)]
    try:
        asked = [("127.0.0.1", stale_port)] + [("127.0.0.1", p) for p in sentinels.sentinel_ports]
        wait_for(lambda: sentinel_answer(asked[:1], MASTER, timeout_s=1.0) is not None, 20, "the stale sentinel")
        assert sentinel_answer(asked[:1], MASTER, timeout_s=1.0)[0] == ("127.0.0.1", lone)
        assert sentinel_answer(asked, MASTER, timeout_s=1.0)[0] == ("127.0.0.1", new)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


# --------------------------------------------------------------------------- the whole system


def decide(client: GateClient) -> dict | None:
    try:
        reply = client.propose("ETHUSDT", "PARTIAL_50", plan_id=f"sent-{uuid.uuid4().hex}")
    except GateUnavailable:
        return None
    return reply.get("decision")


def test_managed_sentinel_topology_fails_over_and_every_actor_follows(tmp_path: Path) -> None:
    system = SentinelLiveSystem(tmp_path)
    try:
        system.up()
        wait_for(system.every_actor_ready, 60, "every actor ready")
        client = GateClient(system.gate_endpoint, timeout_ms=3000, retries=0)
        wait_for(lambda: (decide(client) or {}).get("recorded"), 30, "a recorded decision")
        old = system.primary()
        assert old == system.server_ports[0]
        wait_for(lambda: synced_replicas(old) == 1, 30, "the replica in sync")
        wait_for(system.sentinels_settled, 30, "the sentinels to know each other and the replica")
        pids = system.actor_pids()
        killed_at = now_ms()
        kill_pid(pid_of_server(old))

        # Decisions resume by themselves on the promoted replica.
        new = wait_for(lambda: (p := system.primary()) not in (None, old) and p, 60, "a new primary")
        wait_for(lambda: (decide(client) or {}).get("recorded"), 60, "a recorded decision after the failover")
        r = redis.Redis(port=new, decode_responses=True, socket_timeout=5)
        assert stream_last_ms(r, keys.GATE_STREAM) > killed_at
        # The cluster side (redis-py through launcher.redis_conn) keeps writing too.
        wait_for(lambda: stream_last_ms(r, keys.CLUSTER_STATE_STREAM) > killed_at, 60,
                 "the state writer to write to the new primary")
        # supervisord restarted the killed server: it came back as the new primary's replica, not as a
        # second primary (launcher/redis_node.py waited for the failover).
        wait_for(lambda: role_of(old) == "slave", 60, "the old primary back as a replica")
        wait_for(lambda: synced_replicas(new) == 1, 60, "it to sync from the new primary")
        assert [p for p in system.server_ports if role_of(p) == "master"] == [new]
        assert "waiting up to" in (system.home / "run" / "logs" / f"{system.server_program(old)}.log").read_text()
        # No actor was restarted.
        assert system.actor_pids() == pids

        # `down` then `up` keeps the promoted server as the primary (the sentinels' files name it; the
        # start shim asks them), so nothing written since the failover is rolled back.
        r.set("written-after-the-failover", "1")
        wait_for(lambda: redis.Redis(port=old, decode_responses=True).get("written-after-the-failover") == "1", 30,
                 "the write to reach the replica")
        client.close()
        system.down()
        system.up()
        assert system.primary() == new
        assert redis.Redis(port=new, decode_responses=True).get("written-after-the-failover") == "1"
        client = GateClient(system.gate_endpoint, timeout_ms=3000, retries=0)
        wait_for(lambda: (decide(client) or {}).get("recorded"), 60, "a recorded decision after down and up")
        client.close()
    finally:
        system.down()


def issuer_on(group: SentinelSet, workdir: Path, timeout_ms: int) -> tuple[ActorProcess, str]:
    """A real permit issuer process on the set's primary (found through its sentinels; no WAIT, so that a primary
    left without a replica by a failover still takes decisions) with Redis socket timeout `timeout_ms`, ready;
    and its requests endpoint."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(group.topology(workdir / "topology.yaml").read_text())
    data["redis"]["timeout_ms"] = timeout_ms
    issuer = data["actors"]["permit_issuer"]
    issuer["settings"] = {**(issuer.get("settings") or {}), "wait_replicas": 0}
    topology = write_topology(workdir / "topology.yaml", data)
    process = ActorProcess(topology, "permit_issuer", log_dir=workdir).start()
    wait_for(lambda: scrape(issuer["metrics_port"]).get(
        'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}') == 1.0, 20, "the permit issuer ready")
    return process, issuer["sockets"]["requests"]["bind"]


def permit_request(plan_id: str, deadline_epoch: float) -> bytes:
    decision = {"plan_id": plan_id, "symbol": f"T{plan_id[:8].upper()}USDT", "action_proposed": "PARTIAL_50", "final_action": "PARTIAL_50",
                "gate_reason": "pass", "stress": 0.5, "heat": 1.0, "concentration": 0.5, "corr_proxy": 0.5, "K": 0.5,
                "k_source": "proxy", "kill_score": 0.0, "ts_epoch": int(time.time())}
    return json.dumps({"decision": decision, "cooldown_seen": False, "deadline_epoch": deadline_epoch}).encode()


def ask(endpoint: str, request: bytes) -> zmq.Socket:
    """A REQ socket that sent `request` to the issuer (its reply: `answer`)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send(request)
    return sock


def answer(sock: zmq.Socket, timeout_s: float) -> dict:
    try:
        assert sock.poll(int(timeout_s * 1000 * DEADLINE_SCALE)), "the permit issuer did not answer"
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)


def skewed_server_env(tmp_path: Path, library: Path, step_s: float) -> dict[int, dict[str, str]]:
    """SentinelSet's server_env giving data server 1 (the replica a failover promotes) a wall clock `step_s`
    seconds off the real one."""
    step_file = tmp_path / "server-1-clock-step-s"
    step_file.write_text(str(step_s))
    return {1: {"LD_PRELOAD": str(library), "CLUSTERGATE_TEST_CLOCK_STEP_FILE": str(step_file)}}


def test_after_a_failover_to_a_host_whose_clock_is_ahead_the_issuer_does_not_refuse_decisions_with_time_left(
        tmp_path: Path, step_clock_library: Path) -> None:
    """The issuer reads its Redis's clock at start and every 5 s and moves each decision's deadline onto it. After a
    failover to a server whose clock runs 3 s ahead of the old primary's, it kept the old one's offset until its
    next reading: the script saw every deadline 3 s early and refused every decision with less than 3 s left as
    expired (73 of 74 in the earlier reproduction; here 2 s left). The new primary's clock is read before the
    first write there."""
    group = SentinelSet(tmp_path / "sentinel", server_env=skewed_server_env(tmp_path, step_clock_library, 3.0))
    issuer = None
    try:
        group.start()
        old, new = group.server_ports
        on_new = redis.Redis(port=new, decode_responses=True)
        assert abs(float(on_new.time()[0]) - time.time() - 3.0) < 1.0, "the promoted server's clock runs 3 s ahead"
        issuer, endpoint = issuer_on(group, tmp_path / "issuer", timeout_ms=1000)
        before = uuid.uuid4().hex
        assert answer(ask(endpoint, permit_request(before, time.time() + 2.0)), 5)["written"] is True
        assert group.sentinel(0).execute_command("SENTINEL", "FAILOVER", MASTER)
        wait_for(lambda: group.named_primary() == new and role_of(new) == "master", 30, "the failover")

        def issuer_writes_to_the_new_primary() -> bool:
            # The issuer's sentinel watch names the new primary within 0.1 s, later on a loaded machine; until it
            # does, writes still go to the old one (not yet demoted: a planned failover demotes it seconds later).
            # Probes with 30 s left, which a 3 s clock error cannot refuse, until one lands on the new primary.
            probe = uuid.uuid4().hex
            return (answer(ask(endpoint, permit_request(probe, time.time() + 30.0)), 5).get("written") is True
                    and bool(on_new.exists(keys.permit(probe))))

        wait_for(issuer_writes_to_the_new_primary, 30, "the issuer to write to the new primary")
        replies = {}
        for _ in range(5):
            plan_id = uuid.uuid4().hex
            replies[plan_id] = answer(ask(endpoint, permit_request(plan_id, time.time() + 2.0)), 5)
        assert all(reply.get("written") is True for reply in replies.values()), replies
        assert all(on_new.exists(keys.permit(plan_id)) for plan_id in replies)
        # Read before the first write there, not found out by a refusal: the script refusing a write for Redis's
        # clock alone is run once more on a new reading (record_again), which would write these too, a round trip
        # later, saying redis_clock_ahead.
        assert "redis_clock_ahead" not in issuer.log(), issuer.log()[-3000:]
    finally:
        if issuer is not None:
            issuer.terminate()
        group.stop()


def test_a_write_whose_primary_stopped_mid_call_is_not_sent_again_to_the_primary_a_failover_promoted(
        tmp_path: Path, step_clock_library: Path) -> None:
    """The primary stopped (SIGSTOP) while the issuer waited for its permit write's reply; Sentinel promoted the
    replica; when the old primary's connection failed, RespClient sent the unanswered write again, to the new
    primary, where it landed seconds after its decision's deadline (the deadline was set by the old primary's
    clock; the new one's runs behind). The gate had stopped waiting: its client was told the outcome is unknown,
    and got a permit it never saw. The issuer's client does not send a write again to another server: the request
    is answered redis_unavailable, and nothing is written on the new primary."""
    group = SentinelSet(tmp_path / "sentinel", server_env=skewed_server_env(tmp_path, step_clock_library, -60.0))
    issuer, stopped = None, None
    try:
        group.start()
        old, new = group.server_ports
        # Long enough for Sentinel to see the primary down and promote the replica while the issuer still waits.
        issuer, endpoint = issuer_on(group, tmp_path / "issuer", timeout_ms=60_000)
        assert answer(ask(endpoint, permit_request(uuid.uuid4().hex, time.time() + 1.0)), 5)["written"] is True
        stopped = pid_of_server(old)
        os.kill(stopped, signal.SIGSTOP)
        plan_id = uuid.uuid4().hex
        pending = ask(endpoint, permit_request(plan_id, time.time() + 2.0))
        wait_for(lambda: group.named_primary() == new and role_of(new) == "master", 60, "the failover")
        group.kill("server-0")  # its connections reset: the issuer's wait for the reply ends now
        reply = answer(pending, 90)
        on_new = redis.Redis(port=new, decode_responses=True)
        written = [f for _, f in on_new.xrange(keys.GATE_STREAM) if f["plan_id"] == plan_id]
        assert (reply.get("status"), reply.get("reason")) == ("error", "redis_unavailable"), (reply, written)
        assert "outcome unknown" in reply["detail"], reply
        assert not written and not on_new.exists(keys.permit(plan_id), keys.plan_decision(plan_id))
    finally:
        if stopped is not None:
            group.kill("server-0")  # (SIGKILL ends a stopped process too)
        if issuer is not None:
            issuer.terminate()
        group.stop()
