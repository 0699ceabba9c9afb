"""The buffer's, clusterer's, book's and price feed's Redis client (launcher.resp since they left redis-py): one
attempt per call on a stalled Redis, as redis-py's had (tests/test_redis_conn.py), and errors that name the server."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from helpers import ActorProcess, demo_topology_data, retarget, stopped, wait_for, write_topology
from launcher.resp import RedisUnavailable, RespClient
from launcher.topology import RedisConfig


def test_a_call_to_a_stalled_redis_waits_one_timeout_and_a_restarted_one_is_sent_again(redis_server) -> None:
    """SIGSTOPped Redis: a call on a connection it had answered waited 2 x redis.timeout_ms (timed out, then sent again
    on a new connection, which the kernel accepts for the stopped server, and timed out again), where redis-py's
    waited one. A connection Redis closed (a restart) is still replaced and the call sent again, at once."""
    client = RespClient.from_config(RedisConfig(url=redis_server.url, timeout_ms=1000), decode=False)
    try:
        assert client.call("PING") == b"PONG"
        with stopped(redis_server.proc.pid):
            with pytest.raises(RedisUnavailable) as refused:
                client.call("GET", "k")
            resent = connections_awaiting_accept(redis_server.port)  # a resend comes on a new connection
        assert resent == 0, f"{resent} connection(s) to the stalled Redis: the call was sent again after its timeout"
        assert "timed out" in str(refused.value), refused.value
        assert f"127.0.0.1:{redis_server.port}" in str(refused.value), refused.value
        assert client.call("PING") == b"PONG"
        redis_server.client().client_kill_filter(_type="normal", skipme=True)  # as a restart closes them
        assert client.call("SET", "k", b"\xff") is not None and client.call("GET", "k") == b"\xff"
    finally:
        client.close()


def test_a_buffer_stopped_while_its_redis_is_stalled_exits_after_one_timeout(tmp_path: Path, redis_server) -> None:
    """Its last save of the history, on a stalled Redis, waited 2 x redis.timeout_ms (sent again after the timeout, on
    a new connection): 3.1 s at 1,000 ms, past the 2 s in which every actor exits after its SIGTERM (docs/operating.md),
    where it took 1.1 s with redis-py. It times out once on the connection Redis had answered, and opens no other."""
    data = retarget(demo_topology_data(), redis_server.url)
    data["redis"]["timeout_ms"] = 1500
    # A slot began 10 s ago: the buffer's first publish (and Redis call) comes 1.02 cadences after it, ~1 h away.
    data["clusters"]["cadence_s"] = cadence_with_a_slot_starting_at(time.time() - 10)
    data["actors"] = {n: data["actors"][n] for n in ("price_feed", "buffer")}  # (a gate: freshness under the cadence)
    buffer = ActorProcess(write_topology(tmp_path / "t.yaml", data), "buffer").start()
    try:
        buffer.wait_serving(data["actors"]["buffer"]["metrics_port"])
        wait_for(lambda: "event=history_absent" in buffer.log(), 20, "the buffer's history read")
        with stopped(redis_server.proc.pid):
            buffer.proc.terminate()
            buffer.proc.wait(20)
            connections_made = connections_awaiting_accept(redis_server.port)  # (the buffer has exited: all it made)
    finally:
        buffer.terminate()
    assert connections_made == 0, f"{connections_made} connection(s) to the stalled Redis: its last save sent again"
    saved = [line for line in buffer.log().splitlines() if "event=history_not_persisted" in line]
    assert len(saved) == 1 and f"timed out waiting for 127.0.0.1:{redis_server.port}" in saved[0], buffer.log()


def cadence_with_a_slot_starting_at(ts: float) -> float:
    """A clusters.cadence_s within the schema's 3,600 s that is a whole fraction of `ts`: one of its slots starts at
    `ts`, so a buffer started after `ts` publishes first a cadence and 2% after `ts` (actors/buffer.py), not sooner."""
    return ts / math.ceil(ts / 3600)


def connections_awaiting_accept(port: int) -> int:
    """Connections the kernel completed for the stopped process listening on 127.0.0.1:`port`, not accepted yet (the
    rx_queue of its LISTEN socket in /proc/net/tcp): each connection made to it since it stopped."""
    for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]):
        if fields[3] == "0A" and fields[1] == f"0100007F:{port:04X}":
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_a_replaying_feed_keeps_one_redis_client_once_its_saved_position_is_read(tmp_path: Path, redis_server) -> None:
    """The replay's position saver got a client of its own while the client that read the saved position stayed open
    for the feed's whole life, unused: a second connection, and under Sentinel a second watch thread asking the
    sentinels 10 times a second (2 of them on 2 connections), for nothing. The saver takes that client over."""
    from feed_helpers import feed_topology
    (tmp_path / "prices.csv").write_text("ts,SOLUSDT\n" + "".join(f"{i * 0.1:.1f},{150 + i % 7}\n" for i in range(600)))
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1, "loop": True}})
    key = f"clustergate:price_feed:{data['name']}:price_feed:replay_position"
    admin = redis_server.client()
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: admin.exists(key), 20, f"the replay's position saved\n{feed.log()}")
        mine = admin.client_id()
        connected = [c for c in admin.client_list() if int(c["id"]) != mine]
        assert len(connected) == 1, connected
        written = admin.get(key)
        wait_for(lambda: admin.get(key) != written, 10, "the position saved again")
    finally:
        feed.terminate()


def test_a_password_redis_refuses_is_said_with_the_variable_it_was_read_from(tmp_path: Path, redis_server,
                                                                            monkeypatch) -> None:
    """Noticed in session 35: `status` names the password's environment variable when Redis refuses it, but an actor's
    own lines (its redis_error, a fault HOLD's detail) said only `WRONGPASS invalid username-password pair`: which of
    the host's variables to fix was left to the operator. The refusal names it (never the password)."""
    from launcher.topology import load_topology

    admin = redis_server.client()
    admin.config_set("requirepass", "the-right-one")
    try:
        data = retarget(demo_topology_data(), redis_server.url)
        data["redis"]["password_env"] = "DESK_REDIS_PASSWORD"
        monkeypatch.setenv("DESK_REDIS_PASSWORD", "a-wrong-one")
        topo = load_topology(write_topology(tmp_path / "topology.yaml", data))
        client = RespClient.from_config(topo.redis)
        try:
            with pytest.raises(RedisUnavailable) as refused:
                client.call("PING")
            said = str(refused.value)
            assert "WRONGPASS" in said and "$DESK_REDIS_PASSWORD" in said and "a-wrong-one" not in said, said
            sibling = client.sibling(1.0)  # the issuer's housekeeping connection says it too
            with pytest.raises(RedisUnavailable, match=r"\$DESK_REDIS_PASSWORD"):
                sibling.call("PING")
            sibling.close()
        finally:
            client.close()
    finally:
        admin.execute_command("CONFIG", "SET", "requirepass", "")


def test_a_redis_that_echoes_the_auth_arguments_never_gets_the_password_into_the_refusal(tmp_path: Path) -> None:
    """rev3 review: a Redis whose AUTH is renamed (`rename-command`, a hardening some configs apply) answers the
    handshake's AUTH `ERR unknown command 'AUTH', with args beginning with: 'the-password'`, and the refusal, an actor's
    log line and `status` said it whole: the password in a log. The echoed arguments are left out."""
    import subprocess

    from launcher.harness import find_redis_server, free_port
    port = free_port()
    proc = subprocess.Popen([find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--save", "", "--rename-command", "AUTH", "AUTH-ELSEWHERE"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: RespClient(port=port, timeout_s=1.0).call("PING") == "PONG", 10, "redis-server")
        for username in (None, "desk"):
            client = RespClient(port=port, username=username, password="a-secret-never-logged", timeout_s=1.0)
            client.password_env = "DESK_REDIS_PASSWORD"
            with pytest.raises(RedisUnavailable) as refused:
                client.call("PING")
            client.close()
            said = str(refused.value)
            assert "unknown command" in said and "a-secret" not in said, said
    finally:
        proc.terminate()
        proc.wait(5)


def test_a_refusal_of_no_password_says_none_was_given(redis_server) -> None:
    """rev3 review: with its variable unset (no password given) and a db other than 0, the handshake's SELECT is refused
    NOAUTH, and the refusal said `the password given is $VAR's`: none was. Nor, for an AUTH Redis refuses because it
    has no password at all, is `set it to this Redis's password` the fix."""
    admin = redis_server.client()
    client = RespClient(port=redis_server.port, password="one", timeout_s=1.0)
    client.password_env = "DESK_REDIS_PASSWORD"
    with pytest.raises(RedisUnavailable) as refused:
        client.call("PING")
    client.close()
    assert "$DESK_REDIS_PASSWORD" in str(refused.value) and "this Redis's password" not in str(refused.value)
    admin.config_set("requirepass", "the-right-one")
    try:
        for username in (None, "default"):
            client = RespClient(port=redis_server.port, db=3, username=username, timeout_s=1.0)
            client.password_env = "DESK_REDIS_PASSWORD"
            with pytest.raises(RedisUnavailable) as refused:
                client.call("PING")
            client.close()
            said = str(refused.value)
            assert "$DESK_REDIS_PASSWORD" in said and "the password given" not in said and "no password given" in said, said
    finally:
        admin.execute_command("AUTH", "the-right-one")
        admin.execute_command("CONFIG", "SET", "requirepass", "")


def test_a_password_the_sentinels_refuse_is_said_with_its_variable(tmp_path: Path) -> None:
    """rev3 review: under Sentinel the sentinels take the password too, and one they refuse ended discovery with
    `no primary for 'm': HOST:PORT: NOAUTH Authentication required.`, naming no variable (in an actor's line or in
    `status`), though 6be1fda's docs say every refusal of the password names it."""
    import subprocess

    from launcher.harness import find_redis_server, free_port
    from launcher.overview import redis_problem
    from sentinel_helpers import refused_ping, sentinel_primary_answers
    data_port, sentinel_port = free_port(), free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\nsentinel monitor m 127.0.0.1 {data_port} 1\n"
                    "sentinel auth-pass m the-right-one\nrequirepass the-right-one\n")
    procs = [subprocess.Popen([find_redis_server(), "--port", str(data_port), "--bind", "127.0.0.1", "--dir",
                               str(tmp_path), "--save", "", "--requirepass", "the-right-one"], stdout=subprocess.DEVNULL),
             subprocess.Popen([find_redis_server(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL)]
    try:
        wait_for(lambda: sentinel_primary_answers(sentinel_port, "m", "the-right-one"), 10, "the sentinel's primary")
        for password in ("a-wrong-one", None):
            client = RespClient(sentinels=[("127.0.0.1", sentinel_port)], master="m", password=password, timeout_s=1.0)
            client.password_env = "DESK_REDIS_PASSWORD"
            refused = refused_ping(client)
            said = str(refused)
            assert "$DESK_REDIS_PASSWORD" in said and "a-wrong-one" not in said, said
            assert redis_problem(refused, "DESK_REDIS_PASSWORD") == said  # whole, not cut at 120
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)
