"""A stuck main loop reads as not ready: clustergate_actor_ready is computed when scraped, from the actor's own
verdict and the age of its main loop's last turn (the metrics thread kept answering "ready" for a gate whose
handler never returned, and it answered no proposal).

Real processes: the demo under a real supervisord, with a sitecustomize hook in the gate's process that makes its
timers hang while a trigger file exists; a real probe actor that nothing talks to."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import (REPO, TcpProxy, demo_topology_data, free_port, retarget, scrape, threads_taking, wait_for,
                     write_topology)
from launcher.topology import LOOP_STALL_FLOOR_S, validate_data
from test_sentinel_failover import NotASentinel

# Run by every Python process started with it on PYTHONPATH (supervisord too): only the actor named in
# CG_HANG_ACTOR is touched. Its timers hang, never returning, while the file CG_HANG_FILE exists.
HANG_HOOK = '''
import os, sys
_argv = getattr(sys, "orig_argv", [])
_target = os.environ.get("CG_HANG_ACTOR")
if _target and "--name" in _argv and _argv.index("--name") + 1 < len(_argv) and _argv[_argv.index("--name") + 1] == _target:
    import time
    import actors.runtime as _runtime
    _trigger = os.environ["CG_HANG_FILE"]
    _run_due_timers = _runtime.Actor._run_due_timers

    def _hanging_timers(self):
        while os.path.exists(_trigger):  # a timer that does not return: a blocking call without a timeout
            time.sleep(0.05)
        _run_due_timers(self)

    _runtime.Actor._run_due_timers = _hanging_timers
'''

GATE_READY = 'clustergate_actor_ready{actor="gate",kind="gate"}'
GATE_AGE = 'clustergate_actor_loop_age_seconds{actor="gate",kind="gate"}'


def clustergate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=180, env=env)


# --------------------------------------------------------------------------- the rule, without processes


@pytest.mark.parametrize("ready, age_s, limit_s, exported", [
    (True, 0.0, 30.0, True),
    (True, 30.0, 30.0, True),  # at the limit: still a legitimate turn
    (True, 30.001, 30.0, False),
    (True, 1e6, 30.0, False),
    (False, 0.0, 30.0, False),
    (False, 1e6, 30.0, False),
])
def test_readiness_as_exported_is_the_actors_verdict_and_a_loop_that_turned_within_the_limit(ready, age_s, limit_s,
                                                                                             exported) -> None:
    from actors.runtime import loop_ready
    assert loop_ready(ready, age_s, limit_s) is exported


def _topology(**gate: object) -> dict:
    data = retarget(demo_topology_data())
    data["actors"]["gate"].update(gate)
    return data


def test_the_default_stall_limit_is_twice_the_longest_turn_the_settings_allow_and_at_least_the_floor() -> None:
    topo, problems = validate_data(_topology())
    assert not problems, problems
    assert topo.loop_stall_limit_s("buffer") == LOOP_STALL_FLOOR_S
    data = _topology(settings={"permit_timeout_ms": 60000})
    topo, problems = validate_data(data)
    assert not problems, problems
    # four batches a turn, each waiting 60 s for the issuer and re-opening its socket, after 8 Redis calls
    longest = topo.longest_turn_s("gate")
    assert longest == pytest.approx(8 * 4 * 0.25 + 4 * (30 + 60 + 1.0))  # 4 waits a call: password_env named (revcount)
    assert topo.loop_stall_limit_s("gate") == pytest.approx(2 * longest)
    assert topo.loop_stall_limit_s("buffer") == LOOP_STALL_FLOOR_S


@pytest.mark.parametrize("limit, said", [
    (5, "loop_stall_limit_s: 5 s is shorter than the longest turn this actor's settings allow (15 s"),
    (14.9, "loop_stall_limit_s: 14.9 s is shorter than the longest turn this actor's settings allow (15 s"),
    (0.5, "loop_stall_limit_s"),
    (1e6, "loop_stall_limit_s"),
])
def test_validate_refuses_a_stall_limit_shorter_than_a_legitimate_turn_or_absurd(tmp_path: Path, limit, said) -> None:
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=limit))
    result = clustergate("validate", str(path))
    said_all = result.stdout + result.stderr
    assert result.returncode == 2, said_all
    assert "actors.gate.loop_stall_limit_s" in said_all and said in said_all, said_all


@pytest.mark.parametrize("limit, said", [
    ("30", "expected a number, got str '30'"),
    (True, "expected a number, got bool True"),
    (float("nan"), "expected a finite number, got nan"),
    (-5, "must be >= 1, got -5.0"),
])
def test_validate_says_one_thing_of_a_stall_limit_that_is_not_a_number_in_range(tmp_path: Path, limit, said) -> None:
    """A value refused for what it is, not also as a 0 s limit "shorter than the longest turn" (the placeholder the
    refused value left, which the longest-turn check then judged): that second line sent the reader after a turn."""
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=limit))
    result = clustergate("validate", str(path))
    said_all = result.stdout + result.stderr
    assert result.returncode == 2, said_all
    assert said in said_all, said_all
    assert "shorter than the longest turn" not in said_all, said_all


def test_validate_takes_a_stall_limit_at_the_longest_turn(tmp_path: Path) -> None:
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=15))
    result = clustergate("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- real processes


def test_a_gate_whose_main_loop_hangs_reads_not_ready_status_names_it_and_it_reads_ready_again_when_it_turns(
        tmp_path: Path) -> None:
    limit_s = 15.0  # the demo gate's longest legitimate turn, its password_env named (validate refuses less)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HANG_HOOK)
    trigger = tmp_path / "hang-now"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hook), str(REPO)]), CG_HANG_ACTOR="gate",
               CG_HANG_FILE=str(trigger))
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["loop_stall_limit_s"] = limit_s
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    home = tmp_path / "home"
    port = data["actors"]["gate"]["metrics_port"]
    try:
        up = clustergate("up", str(topo_path), "--home", str(home), env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert scrape(port)[GATE_READY] == 1.0
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 30, "status 0 before the hang")

        trigger.touch()
        # Readiness falls within the limit and slack; the metrics thread goes on answering throughout.
        wait_for(lambda: scrape(port)[GATE_READY] == 0.0, limit_s + 10, "the hung gate exported not ready")
        assert scrape(port)[GATE_AGE] > limit_s
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        assert "NOT READY: gate: main loop stuck for" in status.stdout, status.stdout
        stuck = [line for line in status.stdout.splitlines() if "main loop stuck" in line]
        assert len(stuck) == 1, stuck  # no other actor is said stuck
        rows = {row["name"]: row for row in json.loads(
            clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        assert rows["gate"]["ready"] is False and rows["gate"]["loop_age_s"] > limit_s, rows["gate"]
        assert rows["gate"]["not_ready_why"].startswith("main loop stuck for"), rows["gate"]
        assert rows["buffer"]["ready"] is True and rows["buffer"]["loop_age_s"] < limit_s, rows["buffer"]

        trigger.unlink()
        wait_for(lambda: scrape(port)[GATE_READY] == 1.0, 20, "the gate ready again once its loop turns")
        log = (home / "run" / "logs" / "gate.log")
        wait_for(lambda: "event=loop_stalled" in log.read_text(), 10, "the loop_stalled line in the gate's log")
        stalled = [line for line in log.read_text().splitlines() if "event=loop_stalled" in line]
        assert len(stalled) == 1, stalled  # once, when the loop came back
        stalled_s = float(stalled[0].split("stalled_s=")[1].split()[0])
        assert stalled_s > limit_s, stalled[0]
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 30, "status 0 after the hang")
    finally:
        if trigger.exists():
            trigger.unlink()
        clustergate("down", "--home", str(home))


IDLE_PROBE = '''
import sys
from actors.runtime import Actor, main

class Idle(Actor):
    kind = "permit_issuer"

    def setup(self):  # no timer; its socket gets no request: every turn ends on the poll's timeout
        self.on_request("requests", lambda frames: {"status": "ok"})
        self.set_ready(True)

main(Idle, sys.argv[1:])
'''


def start_probe(tmp_path: Path, name: str, source: str, limit_s: float, kind: str = "permit_issuer",
                sockets: dict[str, Any] | None = None, others: dict[str, Any] | None = None,
                **env: str) -> tuple[subprocess.Popen, int, Any]:
    """A probe actor (`source`, of `kind`, with `sockets`: by default a permit_issuer's bound `requests`, nothing
    talking to it; `others`: more actors in its topology, not started) run with stall limit `limit_s`, its output in
    tmp_path/NAME.log: (its process, its metrics port, the open log)."""
    metrics = free_port()
    sockets = sockets or {"requests": {"bind": f"tcp://127.0.0.1:{free_port()}"}}
    topo = {"name": name, "symbols": ["BTCUSDT"], "redis": {"url": "redis://127.0.0.1:1/0", "timeout_ms": 50},
            "actors": {"probe": {"kind": kind, "metrics_port": metrics, "loop_stall_limit_s": limit_s,
                                 "sockets": sockets}, **(others or {})}}
    topo_path = write_topology(tmp_path / f"{name}.yaml", topo)
    script = tmp_path / f"{name}.py"
    script.write_text(source)
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, str(script), "--topology", str(topo_path), "--name", "probe"], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO), **env})
    return proc, metrics, log


def test_an_idle_actor_with_no_timer_and_no_message_stays_ready_for_several_stall_limits(tmp_path: Path) -> None:
    limit_s = 2.0
    proc, metrics, log = start_probe(tmp_path, "idle", IDLE_PROBE, limit_s)
    ready = 'clustergate_actor_ready{actor="probe",kind="permit_issuer"}'
    age = 'clustergate_actor_loop_age_seconds{actor="probe",kind="permit_issuer"}'
    try:
        wait_for(lambda: scrape(metrics).get(ready) == 1.0, 15, "the idle probe ready")
        samples = []
        end = time.monotonic() + 4 * limit_s  # several limits with nothing to do: sampled, not timed
        while time.monotonic() < end:
            sample = scrape(metrics)
            samples.append((sample[ready], sample[age]))
            time.sleep(0.1)
        assert len(samples) > 10 and all(r == 1.0 for r, _ in samples), samples
        assert max(a for _, a in samples) < limit_s, samples
        assert scrape(metrics)['clustergate_actor_loop_stall_limit_seconds{actor="probe",kind="permit_issuer"}'] == limit_s
    finally:
        proc.kill()
        proc.wait()
        log.close()
    assert "loop_stalled" not in (tmp_path / "idle.log").read_text()


def test_status_reads_a_stuck_loop_from_the_age_past_the_limit_and_nothing_from_an_actor_that_exports_no_age() -> None:
    from launcher.overview import loop_liveness
    labels = '{actor="gate",kind="gate"}'
    sample = {f"clustergate_actor_ready{labels}": 0.0, f"clustergate_actor_loop_age_seconds{labels}": 42.4,
              f"clustergate_actor_loop_stall_limit_seconds{labels}": 30.0}
    assert loop_liveness(sample, "gate") == {"loop_age_s": 42.4,
                                             "not_ready_why": "main loop stuck for 42 s (stall limit 30 s)"}
    sample[f"clustergate_actor_loop_age_seconds{labels}"] = 0.05
    assert loop_liveness(sample, "gate") == {"loop_age_s": 0.05}
    assert loop_liveness({f"clustergate_actor_ready{labels}": 1.0}, "gate") == {"loop_age_s": None}  # an older actor
    assert loop_liveness(sample, "buffer") == {"loop_age_s": None}  # another actor's series are not its own


def test_the_longest_turn_counts_the_runtimes_own_batches_a_turn_and_re_bind_wait() -> None:
    """launcher/ may not import actors.runtime (tests/test_layering.py): the figures the stall limit is derived from
    are restated there, and must move with the runtime's."""
    from actors.runtime import BATCHES_PER_TURN, REBIND_WAIT_S
    from launcher.topology import GATE_ISSUER_WAITS_PER_TURN, SOCKET_REOPEN_S
    assert (GATE_ISSUER_WAITS_PER_TURN, SOCKET_REOPEN_S) == (BATCHES_PER_TURN, REBIND_WAIT_S)


class SilentRedis(NotASentinel):
    """A TCP server that answers only the first connection's first command (+OK), then reads what comes and answers
    nothing: a Redis that stalls (SIGSTOP, a hung host) while its kernel still accepts. `received`: the bytes each
    connection sent, in accept order."""

    def __init__(self) -> None:
        super().__init__(b"+OK\r\n")
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []

    def _answer(self, conn) -> None:
        self.received.append(b"")
        i = len(self.received) - 1
        with conn:
            while data := self._recv(conn):
                if i == 0 and not self.received[0]:
                    conn.sendall(self.reply)
                self.received[i] += data

    @staticmethod
    def _recv(conn) -> bytes:
        try:
            return conn.recv(65536)
        except OSError:
            return b""


@pytest.mark.parametrize("resends", [True, False])
def test_a_redis_call_of_a_client_that_resends_after_a_timeout_waits_two_timeouts(resends: bool) -> None:
    """statusfix: the gate's and the permit issuer's RespClient send a call that timed out once more, on a new
    connection, and wait for it a second timeout (resend_after_timeout); Topology.longest_turn_s counted one timeout
    a call, so their longest turn (the stall limit validate accepts, the gate's proposals heartbeat) was short by
    eight timeouts. Against a real socket that never answers: the call is sent on two connections, each given up
    only when its timeout ran out (the second is not opened before)."""
    from launcher.resp import RedisUnavailable, RespClient
    silent = SilentRedis()
    client = RespClient(host="127.0.0.1", port=silent.port, timeout_s=0.2)
    client.resend_after_timeout = resends
    try:
        assert client.call("PING") == "OK"  # a connection in use, as an actor's is (a fresh one's call is not resent)
        with pytest.raises(RedisUnavailable):
            client.call("GET", "k")
        wait_for(lambda: all(b"GET" in got for got in silent.received), 5, "every connection's call to arrive")
        assert len(silent.received) == (2 if resends else 1), silent.received
    finally:
        client.close()
        silent.close()


@pytest.mark.parametrize("resends, handshake, sentinels, waits", [
    (True, False, 0, 3),   # the open connection's answer; a new connection: connect, answer
    (True, True, 0, 4),    # ... and its AUTH/SELECT (one wait: pipelined)
    (False, False, 0, 2),  # one attempt, on a new connection: connect, answer
    (False, True, 0, 3),
    (True, False, 3, 16),  # the watch's move (connect); answer; 3 x (sentinel + ROLE, 2 each); connect, answer
    (True, True, 3, 18),   # ... each new connection's handshake too
    (False, True, 3, 15),  # discovery, connect, handshake, answer
    (True, True, 1, 10),
])
def test_a_redis_call_waits_as_many_timeouts_as_its_connect_handshake_and_sentinels_take(resends: bool, handshake: bool,
                                                                                          sentinels: int,
                                                                                          waits: int) -> None:
    """turncount: Topology.longest_turn_s counted 2 timeouts a call for the gate and the permit issuer, 1 for the
    others, but a new connection waits for its connect, its handshake (AUTH with a password, SELECT with a db) and,
    under Sentinel, each sentinel asked and the ROLE of the server it names: 2.94 x the timeout measured with a
    password, 4.04 x under three frozen sentinels (turnbound). redis_call_waits counts them from RespClient's paths."""
    from launcher.topology import redis_call_waits
    assert redis_call_waits(resends_after_timeout=resends, handshake=handshake, sentinels=sentinels) == waits


def test_the_longest_turn_counts_a_handshake_for_a_password_a_user_or_a_db(monkeypatch: pytest.MonkeyPatch) -> None:
    """turncount: the gate's Redis calls at 4 timeouts each with a password or a db (3 without), under Sentinel with
    three sentinels 18 (16 without). revcount: a password is counted for a password_env named (the default names
    one), whether or not the variable is set here; password_env "" names none."""
    from launcher.topology import REDIS_CALLS_PER_TURN
    issuer_waits_s = 4 * (0.75 + 1.0)  # the default permit_timeout_ms, 500: 1.5 x it and the socket's re-open, 4 times
    data = _topology()
    url = f"redis://127.0.0.1:{free_port()}/"
    for password in (None, "pw"):
        if password is None:
            monkeypatch.delenv("CLUSTERGATE_REDIS_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", password)
        data["redis"] = {"timeout_ms": 1000, "url": url + "0", "password_env": ""}
        topo, problems = validate_data(data)
        assert not problems, problems
        assert topo.longest_turn_s("gate") == pytest.approx(REDIS_CALLS_PER_TURN * 3 * 1.0 + issuer_waits_s)
        assert topo.longest_turn_s("book") == pytest.approx(REDIS_CALLS_PER_TURN * 2 * 1.0)
        data["redis"]["url"] = url + "3"
        topo, problems = validate_data(data)
        assert not problems, problems
        assert topo.longest_turn_s("gate") == pytest.approx(REDIS_CALLS_PER_TURN * 4 * 1.0 + issuer_waits_s)
        assert topo.longest_turn_s("book") == pytest.approx(REDIS_CALLS_PER_TURN * 3 * 1.0)
        data["redis"] = {"timeout_ms": 1000, "url": url + "0"}  # the default password_env
        topo, problems = validate_data(data)
        assert not problems, problems
        assert topo.longest_turn_s("gate") == pytest.approx(REDIS_CALLS_PER_TURN * 4 * 1.0 + issuer_waits_s)
        data["redis"] = {"timeout_ms": 1000, "sentinel": {"master": "m", "replicas": 0, "sentinels": [
            f"127.0.0.1:{free_port()}" for _ in range(3)]}}
        topo, problems = validate_data(data)
        assert not problems, problems
        assert topo.longest_turn_s("gate") == pytest.approx(REDIS_CALLS_PER_TURN * 18 * 1.0 + issuer_waits_s)
        data["redis"]["password_env"] = ""
        topo, problems = validate_data(data)
        assert not problems, problems
        assert topo.longest_turn_s("gate") == pytest.approx(REDIS_CALLS_PER_TURN * 16 * 1.0 + issuer_waits_s)


@pytest.mark.parametrize("password", [None, "pw"])
def test_validate_refuses_a_stall_limit_below_the_handshake_whether_or_not_its_environment_has_the_password(
        tmp_path: Path, password: str | None) -> None:
    """revcount: the handshake was counted only when redis.password_env was set where the count ran, so `validate` run
    without it (an operator's shell) took a gate limit of 14 s at the defaults, 1 s shorter than the longest turn of
    the actors, which have the password (15 s: 8 calls x 4 waits x 0.25 s + the issuer's waits). The count now reads
    the topology alone (a password_env named, a user or a db): the same with and without the variable."""
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    if password is not None:
        env["CLUSTERGATE_REDIS_PASSWORD"] = password
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=14))
    result = clustergate("validate", str(path), env=env)
    said_all = result.stdout + result.stderr
    assert result.returncode == 2, said_all
    assert "loop_stall_limit_s: 14 s is shorter than the longest turn this actor's settings allow (15 s" in said_all
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=15))
    result = clustergate("validate", str(path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr


class LateAuthSilentRedis(TcpProxy):
    """A real TCP proxy in front of a real Redis that, once `armed`, answers no command on the connection open then (a
    Redis that stalled), and on each later connection answers its AUTH `auth_late` x `timeout_s` late and nothing
    after it. `asked`: what each connection sent upstream, in accept order."""

    def __init__(self, upstream_port: int, timeout_s: float, auth_late: float):
        self.timeout_s, self.auth_late, self.armed, self.asked = timeout_s, auth_late, False, []
        super().__init__(upstream_port)

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if "number" not in shared:
            shared["number"], shared["opened_before"] = len(self.asked), not self.armed
            self.asked.append(b"")
        if to_upstream:
            self.asked[shared["number"]] += data
            shared["last"] = data
            return data
        if not self.armed:
            return data
        if not shared["opened_before"] and b"AUTH" in shared.get("last", b"") and not shared.get("authed"):
            shared["authed"] = True
            time.sleep(self.auth_late * self.timeout_s)
            return data
        return b""  # never answered


def test_a_gate_call_through_a_password_redis_answering_auth_late_ends_within_the_counted_waits(redis_server) -> None:
    """turncount: a gate's call (resend_after_timeout) on its open connection to a password Redis that stalls: the
    call times out (1 timeout), is sent again on a new connection whose AUTH is answered 0.6 x the timeout late, and
    whose call is never answered (1 more). It waits past the 2 timeouts longest_turn_s counted before, and ends within
    redis_call_waits's 4. A real redis-server with a password, behind a real TCP proxy; measured, not asserted tight.
    The late AUTH answer comes 0.4 s before the client's timeout (0.9 x 0.5 s left 0.05 s, which a loaded machine
    overran: the client gave up on AUTH and never sent the call; loadflaky)."""
    from launcher.resp import RedisUnavailable, RespClient
    from launcher.topology import redis_call_waits
    timeout_s = 1.0
    redis_server.client().config_set("requirepass", "pw")
    proxy = LateAuthSilentRedis(redis_server.port, timeout_s, auth_late=0.6)
    client = RespClient(host="127.0.0.1", port=proxy.port, password="pw", timeout_s=timeout_s)
    client.resend_after_timeout = True
    try:
        assert client.call("SET", "k", "v") == "OK"  # a connection in use, as the gate's is (a fresh one is not resent)
        proxy.armed = True
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):
            client.call("GET", "k")
        took_s = time.monotonic() - started
        assert len(proxy.asked) == 2 and b"AUTH" in proxy.asked[1] and b"GET" in proxy.asked[1], proxy.asked
        bound_waits = redis_call_waits(resends_after_timeout=True, handshake=True, sentinels=0)
        assert took_s > 2 * timeout_s, took_s  # the old count: 2 timeouts (its waits are each at least their share)
        assert took_s <= (bound_waits + 1) * timeout_s, (took_s, bound_waits)  # a whole timeout's margin
    finally:
        client.close()
        proxy.close()


def test_the_longest_turn_of_an_actor_whose_redis_calls_are_resent_counts_two_timeouts_a_call() -> None:
    """statusfix: the permit issuer's calls (socket timeout redis.timeout_ms + WAIT's timeout + 100 ms) and the gate's
    are each sent again after a timeout; a gate's batch may also wait up to half its permit_timeout_ms for an issuer to
    connect before it waits permit_timeout_ms for the reply (ask_issuer). The other actors' calls are not resent."""
    from launcher.topology import REDIS_CALLS_PER_TURN
    data = _topology(settings={"permit_timeout_ms": 6000})
    data["actors"]["permit_issuer"].setdefault("settings", {}).update(wait_timeout_ms=200)
    data["redis"] = {"timeout_ms": 1000, "sentinel": {"master": "m", "replicas": 1, "sentinels": [
        f"127.0.0.1:{free_port()}" for _ in range(3)]}}  # a replica to WAIT for (never asked: validation only)
    topo, problems = validate_data(data)
    assert not problems, problems
    # (turncount: under Sentinel, three sentinels, a handshake (password_env named, revcount): 18 waits a resent
    # call, 15 another's)
    assert topo.longest_turn_s("permit_issuer") == pytest.approx(REDIS_CALLS_PER_TURN * 18 * (1.0 + 0.2 + 0.1))
    assert topo.longest_turn_s("gate") == pytest.approx(REDIS_CALLS_PER_TURN * 18 * 1.0 + 4 * (3.0 + 6.0 + 1.0))
    assert topo.longest_turn_s("book") == pytest.approx(REDIS_CALLS_PER_TURN * 15 * 1.0)
    data["redis"]["sentinel"]["replicas"] = 0  # no replica: no WAIT, the issuer's socket timeout is redis.timeout_ms
    topo, problems = validate_data(data)
    assert not problems, problems
    assert topo.longest_turn_s("permit_issuer") == pytest.approx(REDIS_CALLS_PER_TURN * 18 * 1.0)


class LateRedis(TcpProxy):
    """A real TCP proxy in front of a real Redis answering every chunk `late` x `timeout_s` late; `asked`: the chunks
    the client sent, each one after the answer to the one before (a wait each)."""

    def __init__(self, upstream_port: int, timeout_s: float, late: float):
        self.timeout_s, self.late, self.asked = timeout_s, late, []
        super().__init__(upstream_port)

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if to_upstream:
            self.asked.append(data)
        else:
            time.sleep(self.late * self.timeout_s)
        return data


def first_call_s(cfg: Any) -> float:
    """Seconds a new launcher.redis_conn client's first call (GET of a missing key) takes, its connect and handshake
    included."""
    from launcher.redis_conn import connect
    client = connect(cfg)
    try:
        started = time.monotonic()
        assert client.get("k") is None
        return time.monotonic() - started
    finally:
        client.close()


@pytest.mark.parametrize("password", ["pw", None])
def test_the_state_writers_redis_py_connection_waits_for_its_hello_and_its_handshakes_tail(redis_server,
                                                                                            password) -> None:
    """revcount: the state writer talks to Redis through redis-py (launcher.redis_conn), whose new connection sends
    HELLO 3 (with AUTH when a password is given) and waits for it, then CLIENT MAINT_NOTIFICATIONS and CLIENT SETINFO
    (its library's name and version) and SELECT pipelined, and waits again, before the call: 3 waits after the
    connect with or without a password, where redis_call_waits counted RespClient's 2 (its AUTH and SELECT one
    pipeline, none without them) and 1. A real redis-server behind a real proxy answering each chunk 0.7 x the
    timeout late: the first call waited more than 2 timeouts (3 late answers, 2.1 timeouts: no answer waits a whole
    timeout, so more than 2 means at least 3 waits) after its connect. Each answer comes 0.3 s before the client's
    timeout (0.9 x 0.5 s left 0.05 s, which a loaded machine overran: a TimeoutError on HELLO; loadflaky)."""
    from launcher.topology import REDIS_CALLS_PER_TURN, redis_call_waits
    timeout_s = 1.0
    if password:
        redis_server.client().config_set("requirepass", password)
    proxy = LateRedis(redis_server.port, timeout_s, late=0.7)
    data = _topology()
    data["redis"] = {"timeout_ms": int(timeout_s * 1000), "url": f"redis://127.0.0.1:{proxy.port}/0"}
    topo, problems = validate_data(data)
    assert not problems, problems
    saved = os.environ.pop("CLUSTERGATE_REDIS_PASSWORD", None)
    if password:
        os.environ["CLUSTERGATE_REDIS_PASSWORD"] = password
    try:
        took_s = first_call_s(topo.redis)
    finally:
        os.environ.pop("CLUSTERGATE_REDIS_PASSWORD", None)
        if saved is not None:
            os.environ["CLUSTERGATE_REDIS_PASSWORD"] = saved
        proxy.close()
    asked = b"".join(proxy.asked)
    assert asked.startswith(b"*") and b"HELLO" in asked.split(b"SETINFO")[0], proxy.asked
    assert asked.index(b"HELLO") < asked.index(b"SETINFO") < asked.index(b"GET"), proxy.asked
    assert took_s > 2 * timeout_s, took_s  # 3 answers after the connect, each 0.7 x the timeout late
    waits = redis_call_waits(resends_after_timeout=False, handshake=True, sentinels=0, redis_py=True)
    assert waits == 4  # the connect, HELLO, the tail, the call's answer
    assert redis_call_waits(resends_after_timeout=False, handshake=False, sentinels=0, redis_py=True) == 4
    assert redis_call_waits(resends_after_timeout=False, handshake=False, sentinels=3, redis_py=True) == 16
    # (revminorcli: the default password_env and no user: its AUTH PASSWORD after the handshake is one more wait,
    # tests/test_revminorcli_review.py)
    assert topo.longest_turn_s("state_writer") == pytest.approx(REDIS_CALLS_PER_TURN * (waits + 1) * timeout_s)
    assert topo.longest_turn_s("book") == pytest.approx(REDIS_CALLS_PER_TURN * 3 * timeout_s)


def test_the_kinds_counted_as_talking_through_redis_py_are_the_actors_that_do() -> None:
    """launcher/ may not import actors/: which kinds' Redis client is redis-py (launcher.redis_conn.connect) is restated
    in launcher.topology (REDIS_PY_KINDS) and must move with the actors."""
    from launcher.topology import REDIS_PY_KINDS, SETTINGS_BY_KIND
    through_redis_py = {kind for kind in SETTINGS_BY_KIND
                        if "launcher.redis_conn import connect" in (REPO / "actors" / f"{kind}.py").read_text()}
    assert through_redis_py == set(REDIS_PY_KINDS)


def test_the_kinds_the_longest_turn_counts_as_resending_are_the_actors_that_turn_resending_on() -> None:
    """launcher/ may not import actors/: which kinds send a Redis call again after a timeout is restated in
    launcher.topology (REDIS_RESENDING_KINDS), and must move with the actors' own setups; so must the share of
    permit_timeout_ms a gate waits for an issuer to connect (issuer_deadline_s)."""
    import importlib
    import inspect
    from actors.gate import issuer_deadline_s
    from launcher.topology import GATE_ISSUER_CONNECT_WAIT_SHARE, REDIS_RESENDING_KINDS, SETTINGS_BY_KIND
    resending = set()
    for kind in SETTINGS_BY_KIND:
        module = importlib.import_module(f"actors.{kind}")
        if "resend_after_timeout = True" in inspect.getsource(module):
            resending.add(kind)
    assert resending == set(REDIS_RESENDING_KINDS)
    assert issuer_deadline_s(0.0, 6000) == pytest.approx(GATE_ISSUER_CONNECT_WAIT_SHARE * 6.0)


# Its setup, then its loop's first turn, hold while their trigger file exists.
SLOW_START_PROBE = '''
import os, sys, time
from actors.runtime import Actor, main

def hold(path):
    while os.path.exists(path):
        time.sleep(0.05)

class SlowStart(Actor):
    kind = "permit_issuer"

    def setup(self):  # a setup longer than the stall limit: a large replay file read, a Redis slow to answer
        hold(os.environ["CG_SETUP_FILE"])
        self.on_request("requests", lambda frames: {"status": "ok"})
        self.after(0.0, lambda: hold(os.environ["CG_FIRST_TURN_FILE"]), name="first_turn")
        self.set_ready(True)

main(SlowStart, sys.argv[1:])
'''


def test_setup_is_not_a_stuck_main_loop_and_the_loops_first_turn_is_timed_from_the_loops_start(tmp_path: Path) -> None:
    """The loop's age was counted from the actor's construction: an actor still in setup past its stall limit
    exported that age (status: `main loop stuck`), and a first turn just over TICK_S logged loop_stalled with the
    setup's seconds. Before its loop starts the age is 0 (the actor is not ready by its own verdict); its first turn
    is timed from the loop's start, and one that outlasts the limit reads not ready like any other, and logs
    loop_stalled (a stop and continue in setup, before that turn, does not make it loop_stopped)."""
    limit_s = 2.0
    in_setup, first_turn = tmp_path / "in-setup", tmp_path / "first-turn"
    in_setup.touch()
    first_turn.touch()
    log_path = tmp_path / "slow.log"
    proc, metrics, log = start_probe(tmp_path, "slow", SLOW_START_PROBE, limit_s, CG_SETUP_FILE=str(in_setup),
                                     CG_FIRST_TURN_FILE=str(first_turn))
    ready = 'clustergate_actor_ready{actor="probe",kind="permit_issuer"}'
    age = 'clustergate_actor_loop_age_seconds{actor="probe",kind="permit_issuer"}'
    try:
        wait_for(lambda: age in scrape(metrics), 15, "the probe's metrics, in its setup")
        samples = []
        setup_began = time.monotonic()
        while time.monotonic() < setup_began + 3 * limit_s:  # several limits in setup: sampled, not timed
            sample = scrape(metrics)
            samples.append((sample[ready], sample[age]))
            time.sleep(0.1)
        setup_held_s = time.monotonic() - setup_began
        proc.send_signal(signal.SIGSTOP)  # stopped and continued in its setup: not the first turn's stall below
        proc.send_signal(signal.SIGCONT)
        assert len(samples) > 10 and all(r == 0.0 for r, _ in samples), samples  # not ready: its own verdict
        assert max(a for _, a in samples) <= limit_s, samples  # but no loop to be stuck yet
        setup_ended_by = time.monotonic()  # the setup ends after this, and the loop starts then
        in_setup.unlink()
        # The first turn holds: timed from the loop's start, it reads not ready once past the limit.
        wait_for(lambda: scrape(metrics)[age] > limit_s, 15, "the first turn's age past the limit")
        assert scrape(metrics)[ready] == 0.0
        first_turn.unlink()
        wait_for(lambda: scrape(metrics)[ready] == 1.0, 15, "the probe ready once its first turn ends")
        first_turn_over_by = time.monotonic()  # ready again: the first turn had ended
        wait_for(lambda: "event=loop_stalled" in log_path.read_text(), 10, "the first turn's loop_stalled line")
    finally:
        proc.kill()
        proc.wait()
        log.close()
    stalled = [line for line in log_path.read_text().splitlines() if "event=loop_stalled" in line]
    assert len(stalled) == 1, stalled
    stalled_s = float(stalled[0].split("stalled_s=")[1].split()[0])
    # The first turn's, within the window it ran in, not the setup's seconds (setup_held_s and more) too: bounded by
    # what the test saw, not by a time it assumes (under load a scrape can take seconds); stalled_s is logged to 0.1 s.
    assert limit_s <= stalled_s <= first_turn_over_by - setup_ended_by + 0.05, (stalled[0], setup_held_s)


def test_a_feed_reading_a_large_replay_file_is_not_said_stuck_and_a_stopped_actor_is_not_said_to_have_hung(
        tmp_path: Path) -> None:
    """Real processes under supervisord. The price feed reads its whole replay file in setup, seconds past its stall
    limit: `status` said `main loop stuck` of it meanwhile. A buffer stopped (SIGSTOP) past its limit and continued
    logged loop_stalled, `a handler or timer did not return`: none had; it says it was stopped (loop_stopped)."""
    limit_s = 2.0  # the feed's and the buffer's longest legitimate turn at this redis.timeout_ms
    data = retarget(demo_topology_data())
    data["redis"]["timeout_ms"] = 125  # 8 calls of 2 waits (connect, answer: redis_call_waits): 2 s
    data["redis"]["password_env"] = ""  # no handshake counted (a named password_env adds one wait a call: 3 s)
    symbols = data["symbols"]
    replay = tmp_path / "prices.csv"
    with open(replay, "w") as fh:  # about 5 s to read on this machine: more than the limit, whatever its speed
        fh.write("ts,symbol,price\n")
        start = time.time() - 3600
        fh.writelines(f"{start + i // len(symbols) * 0.001:.3f},{symbols[i % len(symbols)]},{100 + i % 97 * 0.01:.2f}\n"
                      for i in range(2_000_000))
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "replay": {"path": str(replay), "speed": 1.0}}
    data["actors"]["price_feed"]["loop_stall_limit_s"] = limit_s
    data["actors"]["buffer"]["loop_stall_limit_s"] = limit_s
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    home = tmp_path / "home"
    feed_log = home / "run" / "logs" / "price_feed.log"
    try:
        up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: feed_log.exists() and "event=starting" in feed_log.read_text(), 60, "the feed starting")
        started = time.monotonic()  # the feed began its setup before this
        reading = []  # the feed's status rows taken while it read its file (its log said nothing more yet)
        while "replay_loaded" not in feed_log.read_text() and up.poll() is None:
            rows = {row["name"]: row for row in json.loads(
                clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
            if "replay_loaded" not in feed_log.read_text():
                reading.append((time.monotonic() - started, rows.get("price_feed")))
        assert up.wait(timeout=120) == 0, up.stdout.read() if up.stdout else ""
        # status asked the feed, in its setup, past its limit (the file was read fast enough to make this moot: more rows)
        late = [row for in_setup_s, row in reading if in_setup_s > limit_s and row is not None]
        assert late, reading
        assert all("not_ready_why" not in row and row["ready"] is False for row in late), [r.get("not_ready_why") for r in late]
        assert all((row["loop_age_s"] or 0.0) <= limit_s for row in late), late
        assert "loop_stalled" not in feed_log.read_text()

        rows = {row["name"]: row for row in json.loads(
            clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        # Each actor's main thread alone takes a SIGCONT sent to it (its other threads: the metrics one, the feed's
        # replay position saver, the issuer's housekeeping and backfill, libzmq's): one taken by another thread reached
        # the loop after its stall check, which said loop_stalled (the buffer's, in a loaded CI run).
        main_threads = {name: [rows[name]["pid"]] for name in data["actors"]}
        takers: dict[str, list[int]] = {}
        try:  # polled: a thread starting another blocks every signal meanwhile (glibc), and the new one until it runs
            wait_for(lambda: takers.update({name: threads_taking(rows[name]["pid"], signal.SIGCONT)
                                            for name in data["actors"]}) or takers == main_threads, 5,
                     "only the main threads taking SIGCONT")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {takers}, main threads {main_threads}") from None
        buffer_pid = rows["buffer"]["pid"]
        buffer_log = home / "run" / "logs" / "buffer.log"
        os.kill(buffer_pid, signal.SIGSTOP)
        try:
            time.sleep(2 * limit_s)  # stopped past its limit (a wait, not an assertion)
        finally:
            os.kill(buffer_pid, signal.SIGCONT)
        try:
            wait_for(lambda: "event=loop_stopped" in buffer_log.read_text(), 10, "the buffer's loop_stopped line")
        except AssertionError as exc:  # failed once in a CI run under load, not reproduced: say what the buffer did
            now = {row["name"]: row for row in json.loads(
                clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}["buffer"]
            raise AssertionError(f"{exc}; buffer pid {buffer_pid} stopped, now {now}; its log:\n{buffer_log.read_text()}"
                                 ) from None
        assert "event=loop_stalled" not in buffer_log.read_text()
        port = data["actors"]["buffer"]["metrics_port"]
        wait_for(lambda: scrape(port)['clustergate_actor_ready{actor="buffer",kind="buffer"}'] == 1.0, 20,
                 "the buffer ready again")
    finally:
        clustergate("down", "--home", str(home))


def test_only_an_actors_main_thread_takes_the_signals_sent_to_it_so_that_a_continued_actor_says_it_was_stopped(
        tmp_path: Path) -> None:
    """The kernel hands a signal sent to a process to any of its threads that does not block it, and the interpreter
    runs the Python handler of one taken by another thread only later, when the main thread next looks: a buffer
    stopped past its stall limit and continued logged loop_stalled (a handler that did not return), not
    loop_stopped, when its metrics thread took the SIGCONT and the loop's first stall check came before its handler
    ran (a loaded CI run). Every thread an actor starts, the metrics thread and one serving a scrape among them,
    leaves SIGCONT to the main thread (the stop signals may land anywhere: the wakeup pipe cuts a wait for them)."""
    proc, metrics, log = start_probe(tmp_path, "threads", IDLE_PROBE, 2.0)
    try:
        wait_for(lambda: scrape(metrics).get('clustergate_actor_ready{actor="probe",kind="permit_issuer"}') == 1.0, 15,
                 "the probe ready")
        threads = set(os.listdir(f"/proc/{proc.pid}/task"))  # perhaps with the thread of a scrape above, ending
        with socket.create_connection(("127.0.0.1", metrics)):  # a scrape whose request never comes: its thread waits
            # Asleep, it runs with its own mask: glibc starts a thread with every signal blocked until it sets that.
            scrape_thread = wait_for(lambda: [tid for tid in set(os.listdir(f"/proc/{proc.pid}/task")) - threads if Path(
                f"/proc/{proc.pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "S"], 5,
                "the scrape's own thread waiting for its request")[0]
            takers: dict[str, list[int]] = {}
            main_thread = {"SIGCONT": [proc.pid]}
            try:  # polled: a thread starting another (the metrics thread, for a scrape) blocks every signal meanwhile
                wait_for(lambda: takers.update({signal.Signals(signum).name: threads_taking(proc.pid, signum) for signum
                                                in (signal.SIGCONT,)}) or (
                    takers == main_thread and os.path.exists(f"/proc/{proc.pid}/task/{scrape_thread}")),
                         1, "the main thread alone taking SIGCONT, while the scrape's thread waits")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {takers}; threads {os.listdir(f'/proc/{proc.pid}/task')}") from None
    finally:
        proc.kill()
        proc.wait()
        log.close()


SLOW_MESSAGES_PROBE = '''
import sys, time
from actors.runtime import Actor, main

class SlowMessages(Actor):
    kind = "book"

    def setup(self):  # each message takes 0.3 s to handle (a Redis slow to answer): a turn drains every queued one
        self.on_message("ticks", self.slow)
        self.set_ready(True)

    def slow(self, frames):
        time.sleep(0.3)
        print("handled", frames[-1].decode(), flush=True)

main(SlowMessages, sys.argv[1:])
'''


def test_a_turn_draining_many_slow_messages_is_not_a_stuck_loop(tmp_path: Path) -> None:
    """A Redis slow to answer (each call still within timeout_ms) made each state write longer than the cadence: states
    queued on the state writer's SUB socket, and a turn drained them all. Such turns grew past 60 s (limit 30 s at
    timeout_ms 1000, the demo under a Redis held by another client's scripts), read as a stuck main loop (not ready,
    loop_stalled) while the writer wrote every state. Here 30 queued messages of 0.3 s each on a SUB socket (a book's:
    the same runtime path) make one turn of 9 s against a 2 s limit. Each message handled stamps the loop."""
    import zmq
    limit_s = 2.0
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(endpoint)
    # The feed named in its topology (which validate asks for) never runs: this test's PUB binds its endpoint.
    proc, metrics, log = start_probe(tmp_path, "slowmsg", SLOW_MESSAGES_PROBE, limit_s, kind="book",
                                     sockets={"ticks": {"connect": endpoint}},
                                     others={"feed": {"kind": "price_feed", "metrics_port": free_port(),
                                                      "sockets": {"ticks": {"bind": endpoint}}}})
    labels = '{actor="probe",kind="book"}'
    try:
        wait_for(lambda: scrape(metrics).get(f"clustergate_actor_ready{labels}") == 1.0, 15, "the probe ready")
        log_path = tmp_path / "slowmsg.log"

        def handled() -> int:
            return log_path.read_text().count("handled state")

        # Past ZeroMQ's slow joiner: a message at a time until the probe has handled one.
        wait_for(lambda: pub.send(b"joined") or "handled joined" in log_path.read_text(), 15, "a first message handled")
        for _ in range(30):
            pub.send(b"state")
        ages = []
        end = time.monotonic() + 60
        while handled() < 30 and time.monotonic() < end:  # 9 s of handling: sampled, not timed
            ages.append(scrape(metrics)[f"clustergate_actor_loop_age_seconds{labels}"])
            time.sleep(0.2)
        assert handled() == 30
        assert len(ages) > 10 and max(ages) <= limit_s, ages
    finally:
        pub.close()
        ctx.term()
        proc.kill()
        proc.wait()
        log.close()
    assert "loop_stalled" not in (tmp_path / "slowmsg.log").read_text()


SLOW_REQUESTS_PROBE = '''
import sys, time
from actors.runtime import Actor, main

class SlowRequests(Actor):
    kind = "permit_issuer"

    def setup(self):  # each request waits 0.3 s (a Redis slow to answer): a turn serves up to REQUEST_DRAIN of them
        self.on_request("requests", lambda frames: time.sleep(0.3) or {"status": "ok"})
        self.set_ready(True)

main(SlowRequests, sys.argv[1:])
'''


def test_a_turn_serving_many_slow_requests_is_not_a_stuck_loop(tmp_path: Path) -> None:
    """30 requests queued, 0.3 s each: one turn of 9 s, past the 2 s limit, read as a stuck loop while every request
    was answered. Each request answered stamps the loop."""
    import zmq
    limit_s = 2.0
    proc, metrics, log = start_probe(tmp_path, "slowreq", SLOW_REQUESTS_PROBE, limit_s)
    topo = yaml.safe_load((tmp_path / "slowreq.yaml").read_text())
    endpoint = topo["actors"]["probe"]["sockets"]["requests"]["bind"]
    age = 'clustergate_actor_loop_age_seconds{actor="probe",kind="permit_issuer"}'
    ctx = zmq.Context()
    clients = []
    try:
        wait_for(lambda: scrape(metrics).get('clustergate_actor_ready{actor="probe",kind="permit_issuer"}') == 1.0, 15,
                 "the probe ready")
        for _ in range(30):
            client = ctx.socket(zmq.REQ)
            client.setsockopt(zmq.LINGER, 0)
            client.connect(endpoint)
            clients.append(client)
        for client in clients:
            client.send(b"{}")
        poller = zmq.Poller()
        for client in clients:
            poller.register(client, zmq.POLLIN)
        answered, ages = 0, []
        end = time.monotonic() + 60
        while answered < len(clients) and time.monotonic() < end:
            for client, _ in poller.poll(100):
                client.recv()
                poller.unregister(client)
                answered += 1
            ages.append(scrape(metrics)[age])
        assert answered == len(clients)
        assert len(ages) > 10 and max(ages) <= limit_s, ages
    finally:
        for client in clients:
            client.close()
        ctx.term()
        proc.kill()
        proc.wait()
        log.close()
    assert "loop_stalled" not in (tmp_path / "slowreq.log").read_text()
