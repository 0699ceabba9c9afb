"""A password refused under Redis Sentinel (opsauth): by the primary the sentinels name (a wrong one, or none to a
primary that needs one), or by the sentinels themselves (their requirepass). Either reached the actors and the proofs
as "no primary for 'm': ...", a connection error: the buffer logged it every cadence where without Sentinel it says
`redis_password_refused` once, and a proof polled it until its warm-up timeout where without Sentinel it fails at
once. A primary that does not answer (down, a failover in progress) is still a connection error, retried. Real
redis-server and redis-sentinel processes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest
import redis

from helpers import ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology
from sentinel_helpers import refused_ping, sentinel_primary_answers
from launcher.harness import find_redis_server, free_port
from launcher.resp import HandshakeRefused, RespClient, password_refused
from launcher.topology import RedisConfig, SentinelConfig

RIGHT = "opsauth-the-right-one"
WRONG = "opsauth-a-wrong-one"
MASTER = "m"


def guarded_sentinel(tmp_path: Path, sentinels_too: bool) -> Iterator[SimpleNamespace]:
    """A data server whose password is RIGHT and one sentinel (quorum 1) monitoring it with that password; with
    sentinels_too the sentinel requires it as well (its requirepass), as a managed setup's do."""
    data_port, sentinel_port = free_port(), free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\nsentinel monitor {MASTER} 127.0.0.1 "
                    f"{data_port} 1\nsentinel auth-pass {MASTER} {RIGHT}\n" + (f"requirepass {RIGHT}\n" if sentinels_too
                                                                               else ""))
    data = subprocess.Popen([find_redis_server(), "--port", str(data_port), "--bind", "127.0.0.1", "--dir",
                             str(tmp_path), "--save", "", "--appendonly", "no", "--requirepass", RIGHT],
                            stdout=subprocess.DEVNULL)
    sentinel = subprocess.Popen([find_redis_server(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: sentinel_primary_answers(sentinel_port, MASTER, RIGHT), 15, "the sentinel's primary")
        yield SimpleNamespace(data=data, data_port=data_port, sentinel_port=sentinel_port)
    finally:
        for proc in (data, sentinel):
            if proc.poll() is None:
                proc.terminate()
            proc.wait(5)


@pytest.fixture
def primary_guarded(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """guarded_sentinel: the primary requires the password, the sentinel does not (external sentinels may not)."""
    yield from guarded_sentinel(tmp_path, sentinels_too=False)


@pytest.fixture
def all_guarded(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """guarded_sentinel: the sentinel requires the password too (a managed setup's sentinels)."""
    yield from guarded_sentinel(tmp_path, sentinels_too=True)


def sentinel_config(sentinel_port: int) -> RedisConfig:
    return RedisConfig(timeout_ms=1000, password_env="DESK_REDIS_PASSWORD",
                       sentinel=SentinelConfig(master=MASTER, sentinels=[f"127.0.0.1:{sentinel_port}"]))


def refusal_of_a_call(cfg: RedisConfig) -> Exception:
    """What a call of the actors' own client (launcher.resp, the buffer's and clusterer's) raises."""
    return refused_ping(RespClient.from_config(cfg))


def refusal_of_a_redis_py_call(cfg: RedisConfig) -> Exception:
    """What a call of launcher.redis_conn's client (the state writer's, the proofs') raises."""
    from launcher.redis_conn import connect
    client = connect(cfg)
    try:
        with pytest.raises(redis.RedisError) as refused:
            client.hmget("quantum:portfolio:cluster_state", "updated_ts")
    finally:
        client.close()
    return refused.value


def refusals(monkeypatch, sentinel_port: int, password: str | None) -> tuple[Exception, Exception, str]:
    """With `password` in $DESK_REDIS_PASSWORD (None: unset), a call's refusal by each client, each a refused password
    to the actors (refuses_the_password), and the proofs' sentence for redis-py's (auth_refusal)."""
    from actors.runtime import refuses_the_password
    from launcher.redis_conn import auth_refusal
    monkeypatch.delenv("DESK_REDIS_PASSWORD", raising=False)
    if password:
        monkeypatch.setenv("DESK_REDIS_PASSWORD", password)
    cfg = sentinel_config(sentinel_port)
    own, py = refusal_of_a_call(cfg), refusal_of_a_redis_py_call(cfg)
    assert isinstance(own, HandshakeRefused) and password_refused(own) and refuses_the_password(own), repr(own)
    assert isinstance(py, redis.AuthenticationError) and refuses_the_password(py), repr(py)
    return own, py, auth_refusal(cfg, py)


@pytest.mark.parametrize("password", [WRONG, None], ids=["wrong_password", "no_password"])
def test_a_password_the_primary_refuses_under_sentinel_is_a_refusal_not_no_primary(
        primary_guarded, monkeypatch, password) -> None:
    """Before: `NotSent: no primary for 'm': 127.0.0.1:S named 127.0.0.1:P, whose ROLE is NOAUTH
    Authentication required.` and redis-py's `ConnectionError` of the same words, neither a refused password to the
    actors' PasswordRefusalLog or the proofs. Now each client's refusal is the one it gives without Sentinel, naming
    the primary and the variable, never the password."""
    own, py, sentence = refusals(monkeypatch, primary_guarded.sentinel_port, password)
    said = str(own)
    assert f"127.0.0.1:{primary_guarded.data_port}" in said and "$DESK_REDIS_PASSWORD" in said, said
    assert ("WRONGPASS" if password else "NOAUTH") in said and "no primary" not in said, said
    # (revopsauth left: the sentence named `Redis at redis://sentinel/0`, the topology's placeholder URL, no host)
    assert sentence.startswith(f"Redis's primary {MASTER} (as its sentinels "), sentence
    assert f"127.0.0.1:{primary_guarded.sentinel_port}" in sentence and "redis://sentinel" not in sentence, sentence
    assert (("refuses the password this command took from $DESK_REDIS_PASSWORD" if password else
             "refuses this command, which gave no password: set $DESK_REDIS_PASSWORD") in sentence), sentence
    assert WRONG not in said + str(py) + sentence and RIGHT not in said + str(py) + sentence


@pytest.mark.parametrize("password", [WRONG, None], ids=["wrong_password", "no_password"])
def test_a_password_the_sentinels_refuse_is_a_refusal_by_the_sentinels(all_guarded, monkeypatch, password) -> None:
    """Sentinels with a requirepass (a managed setup's) refusing the password ended discovery with `no primary for
    'm': 127.0.0.1:S: NOAUTH Authentication required. (...)`, a connection error to every caller. Now a refusal,
    said as the sentinels', naming the variable."""
    own, py, sentence = refusals(monkeypatch, all_guarded.sentinel_port, password)
    said = str(own)
    assert f"sentinel 127.0.0.1:{all_guarded.sentinel_port}" in said and "$DESK_REDIS_PASSWORD" in said, said
    assert sentence.startswith(f"Redis's sentinels (127.0.0.1:{all_guarded.sentinel_port}) refuse "), sentence
    assert "$DESK_REDIS_PASSWORD" in sentence and WRONG not in said + str(py) + sentence, sentence


def test_a_primary_that_does_not_answer_under_sentinel_is_still_a_connection_error(primary_guarded,
                                                                                  monkeypatch) -> None:
    """Only a refusal is a refusal: a primary the sentinels name that is down (a failover not made yet) stays a
    connection error, which the actors and the proofs retry."""
    from actors.runtime import refuses_the_password
    monkeypatch.setenv("DESK_REDIS_PASSWORD", RIGHT)
    primary_guarded.data.terminate()
    primary_guarded.data.wait(5)
    cfg = sentinel_config(primary_guarded.sentinel_port)
    own = refusal_of_a_call(cfg)
    assert not isinstance(own, HandshakeRefused) and not refuses_the_password(own), repr(own)
    assert "no primary for 'm'" in str(own), own
    py = refusal_of_a_redis_py_call(cfg)
    assert type(py) is redis.ConnectionError and not refuses_the_password(py), repr(py)


def test_a_proof_under_sentinel_whose_password_the_primary_refuses_stops_polling_at_once(primary_guarded,
                                                                                        monkeypatch) -> None:
    """The proofs' polls (Proof.poll, readiness's `cluster_state is fresh` among them) retry every error but a refusal:
    under Sentinel the refusal came as a ConnectionError and the readiness proof waited its whole warm-up timeout (40 s)
    before failing `cluster_state is fresh`. Now the poll's first read raises the refusal, which the proof reports."""
    from launcher.redis_conn import connect
    from proofs.common import REFUSALS, Proof
    monkeypatch.setenv("DESK_REDIS_PASSWORD", WRONG)
    cfg = sentinel_config(primary_guarded.sentinel_port)
    p = Proof.__new__(Proof)
    p.topo, p.redis = SimpleNamespace(redis=cfg), connect(cfg)
    start = time.monotonic()
    try:
        with pytest.raises(REFUSALS):
            print(p.poll(p.cluster_state_age_s, lambda age: age is not None, 10.0))
    finally:
        p.redis.close()
    assert time.monotonic() - start < 5.0


def test_the_buffer_under_sentinel_says_a_password_the_primary_refuses_once_not_every_cadence(
        tmp_path: Path, primary_guarded, monkeypatch) -> None:
    """A real buffer (cadence 1 s) whose password the primary refuses: before, `history_not_loaded
    error="NotSent: no primary for 'm': ..."` every cadence; now `redis_password_refused` once, naming the variable, as
    without Sentinel (tests/test_redis_password_refused.py)."""
    monkeypatch.setenv("DESK_REDIS_PASSWORD", WRONG)
    data = retarget(demo_topology_data())
    data["redis"] = {"password_env": "DESK_REDIS_PASSWORD",
                     "sentinel": {"master": MASTER, "sentinels": [f"127.0.0.1:{primary_guarded.sentinel_port}"]}}
    data["actors"] = {n: data["actors"][n] for n in ("price_feed", "buffer")}  # (the feed is not started)
    buffer = ActorProcess(write_topology(tmp_path / "t.yaml", data), "buffer").start()
    try:
        port = data["actors"]["buffer"]["metrics_port"]
        buffer.wait_serving(port)
        wait_for(lambda: (scrape(port) or {}).get('p27_buffer_redis_errors_total{op="load"}', 0) >= 4, 30,
                 "4 failed loads of the history (one a cadence)")
    finally:
        buffer.terminate()
    log = buffer.log()
    refused = [line for line in log.splitlines() if "event=redis_password_refused" in line]
    assert len(refused) == 1 and "$DESK_REDIS_PASSWORD" in refused[0], log
    assert "event=history_not_loaded" not in log and WRONG not in log, log


def test_a_failover_in_progress_with_one_sentinel_refusing_is_no_primary_not_a_refusal(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    """revopsauth: one sentinel of three requires a password the others do not (the clients give none), the primary
    killed, the sentinels not yet agreed (down-after 10 s). opsauth took the sentinel's NOAUTH for the reason no primary
    was found: `handshake refused by the sentinel ...`, redis-py's SentinelsRefused, a proof's `Redis's sentinels (all
    three) refuse this command` at once, though the same clients found the primary before the kill and find the
    promoted one after it, with no password changed. The two sentinels that answered named a server that is down: a
    failover in progress, a connection error, retried."""
    from actors.runtime import refuses_the_password
    from launcher.redis_conn import connect
    from launcher.sentinel import NoPrimary, PasswordRefused, _exchange, discover_primary
    from launcher.sentinel_harness import MASTER as SET_MASTER
    from sentinel_helpers import SentinelSet
    monkeypatch.delenv("CLUSTERGATE_REDIS_PASSWORD", raising=False)
    s = SentinelSet(tmp_path / "set", down_after_ms=10000, failover_timeout_ms=20000).start()
    try:
        s.kill("sentinel-0")
        conf = tmp_path / "set" / "sentinel-0" / "sentinel.conf"
        conf.write_text(conf.read_text().replace("user default on nopass", "user default on >sentinel-0-alone"))
        s.start_sentinel(0)
        sentinels = [("127.0.0.1", p) for p in s.sentinel_ports]
        wait_for(lambda: "NOAUTH" in str(_exchange(("127.0.0.1", s.sentinel_ports[0]), [("PING",)], 1.0)[0]), 10,
                 "sentinel 0 to require its password")
        assert discover_primary(list(sentinels), SET_MASTER, timeout_s=0.5) == ("127.0.0.1", s.server_ports[0])
        s.kill("server-0")
        with pytest.raises(NoPrimary) as found:
            discover_primary(list(sentinels), SET_MASTER, timeout_s=0.5)
        assert not isinstance(found.value, PasswordRefused), found.value
        assert "did not answer" in str(found.value), found.value
        own = refused_ping(RespClient.from_config(s.config()))
        assert not isinstance(own, HandshakeRefused) and not refuses_the_password(own), repr(own)
        client = connect(s.config())
        try:
            with pytest.raises(redis.RedisError) as py:
                client.ping()
        finally:
            client.close()
        assert type(py.value) is redis.ConnectionError and not refuses_the_password(py.value), repr(py.value)
        for i in (1, 2):  # (still within the failover's window: none was made yet)
            assert int(s.sentinel(i).execute_command("SENTINEL", "get-master-addr-by-name", SET_MASTER)[1]) == \
                s.server_ports[0]
    finally:
        s.stop()


def test_a_sentinel_naming_a_replica_beside_one_refusing_is_no_primary_not_a_refusal(tmp_path: Path) -> None:
    """revopsauth: the sentinels disagree: one names a server that answers ROLE slave (a primary demoted by a failover
    it has not heard of), the other requires a password the client does not give. Which primary the second would name
    is unknown; the first's word is a failover in progress: a connection error, retried, not `the sentinels refuse`."""
    from launcher.sentinel import NoPrimary, PasswordRefused, discover_primary
    primary_port, replica_port, stale_port, guarded_port = free_port(), free_port(), free_port(), free_port()
    procs: list[subprocess.Popen] = []

    def start(*argv: str) -> None:
        procs.append(subprocess.Popen([find_redis_server(), *argv], stdout=subprocess.DEVNULL))

    try:
        for port, more in ((primary_port, []), (replica_port, ["--replicaof", "127.0.0.1", str(primary_port)])):
            start("--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", "", *more)
        for name, port, monitored, extra in (("stale", stale_port, replica_port, ""),
                                             ("guarded", guarded_port, primary_port, "requirepass sentinel-only\n")):
            conf = tmp_path / f"{name}.conf"
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\nsentinel monitor {MASTER} 127.0.0.1 "
                            f"{monitored} 1\nsentinel down-after-milliseconds {MASTER} 60000\n{extra}")
            start(str(conf), "--sentinel")
        wait_for(lambda: _ask(stale_port, ("SENTINEL", "get-master-addr-by-name", MASTER)) == ["127.0.0.1",
                                                                                              str(replica_port)],
                 10, "the stale sentinel")
        wait_for(lambda: "NOAUTH" in str(_ask(guarded_port, ("PING",))), 10, "the guarded sentinel")
        wait_for(lambda: (_ask(replica_port, ("ROLE",)) or [""])[0] == "slave", 10, "the replica")
        with pytest.raises(NoPrimary) as found:
            discover_primary([("127.0.0.1", stale_port), ("127.0.0.1", guarded_port)], MASTER, timeout_s=0.5)
        assert not isinstance(found.value, PasswordRefused), found.value
        assert "whose ROLE is slave" in str(found.value), found.value
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)


def _ask(port: int, command: tuple) -> object:
    from launcher.sentinel import _exchange
    try:
        return _exchange(("127.0.0.1", port), [command], 1.0)[0]
    except OSError:
        return None


def test_the_proofs_sentence_names_the_sentinels_that_refused_not_those_that_are_down(all_guarded,
                                                                                       monkeypatch) -> None:
    """revopsauth: three sentinels configured, two of them down, the third refusing the password: the proofs' (and
    `positions`', `backfill`'s) sentence said `Redis's sentinels (A, B, C) refuse the password`, every configured
    sentinel, sending the operator to the requirepass of two sentinels that are down and refused nothing."""
    from launcher.redis_conn import auth_refusal
    monkeypatch.setenv("DESK_REDIS_PASSWORD", WRONG)
    down = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    guarded = f"127.0.0.1:{all_guarded.sentinel_port}"
    cfg = RedisConfig(timeout_ms=1000, password_env="DESK_REDIS_PASSWORD",
                      sentinel=SentinelConfig(master=MASTER, sentinels=[*down, guarded]))
    py = refusal_of_a_redis_py_call(cfg)
    sentence = auth_refusal(cfg, py)
    assert sentence.startswith(f"Redis's sentinels ({guarded}) refuse the password "), sentence
    assert not any(place in sentence for place in down) and WRONG not in sentence, sentence
