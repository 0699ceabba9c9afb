"""What a hostile review of minorcli reproduced against real processes (revminorcli): each refusal names what is wrong
and what to set, with the CLI's exit codes (2 bad input, 1 the operation failed)."""

from __future__ import annotations

import os
import time
from typing import Iterator

import pytest
import redis

from launcher.topology import RedisConfig


@pytest.fixture
def password_variable() -> Iterator[dict[str, str]]:
    """os.environ's CLUSTERGATE_REDIS_PASSWORD for the test (the variable redis_conn.connect reads), put back after."""
    saved = os.environ.pop("CLUSTERGATE_REDIS_PASSWORD", None)
    try:
        yield os.environ
    finally:
        os.environ.pop("CLUSTERGATE_REDIS_PASSWORD", None)
        if saved is not None:
            os.environ["CLUSTERGATE_REDIS_PASSWORD"] = saved


def refusal(cfg: RedisConfig) -> str:
    from launcher.redis_conn import connect
    client = connect(cfg)
    try:
        with pytest.raises(redis.AuthenticationError) as refused:
            client.get("k")
    finally:
        client.close()
    return str(refused.value)


def test_the_state_writers_redis_client_names_the_password_variable_when_redis_refuses_the_password(
        redis_server, password_variable) -> None:
    # Since minorcli every redis-py client (the state writer's) sends a password given without a user as AUTH PASSWORD:
    # an external Redis without a password and $CLUSTERGATE_REDIS_PASSWORD set had the state writer log
    # `redis_unavailable error="AuthenticationError: AUTH <password> called without any password configured ..."`
    # every second, naming no variable, beside the gate's `... (the password given is $CLUSTERGATE_REDIS_PASSWORD's:
    # this Redis has none)` (docs/faults-and-security.md: an actor's log line names the variable).
    cfg = RedisConfig(url=f"redis://127.0.0.1:{redis_server.port}/0", timeout_ms=1000)
    password_variable["CLUSTERGATE_REDIS_PASSWORD"] = "not-this-redis"
    said = refusal(cfg)
    assert said.startswith("AUTH <password> called without any password configured"), said
    assert said.endswith(" (the password given is $CLUSTERGATE_REDIS_PASSWORD's: this Redis has none)"), said
    redis_server.client().config_set("requirepass", "the-right-one")
    said = refusal(cfg)
    assert said.endswith(" (the password given is $CLUSTERGATE_REDIS_PASSWORD's: set it to this Redis's password)"), said
    assert "not-this-redis" not in said, said
    del password_variable["CLUSTERGATE_REDIS_PASSWORD"]
    said = refusal(cfg)
    assert said.endswith(" (no password given: set $CLUSTERGATE_REDIS_PASSWORD to this Redis's password)"), said
    password_variable["CLUSTERGATE_REDIS_PASSWORD"] = "the-right-one"
    from launcher.redis_conn import connect
    client = connect(cfg)
    try:
        assert client.set("k", "v") and client.get("k") == "v"
    finally:
        client.close()


@pytest.mark.parametrize("user", [None, "app"])
def test_the_state_writers_longest_turn_counts_the_auth_its_redis_client_sends_after_the_handshake(
        redis_server, password_variable, user) -> None:
    # minorcli's AUTH PASSWORD comes after redis-py's handshake (HELLO, then its pipelined tail), a round trip of its
    # own on every new connection: 4 waits after the connect before the call's answer, where redis_call_waits counted
    # 3 (the longest turn, and the stall limit twice it, one redis.timeout_ms a call short). A user in the URL sends no
    # such AUTH (HELLO's AUTH USER PASSWORD is the whole sign-in). A real redis-server behind a real proxy answering
    # each chunk 0.8 x the timeout late: more than 3 timeouts means at least 4 late answers.
    from test_loop_liveness import LateRedis

    from helpers import demo_topology_data, retarget
    from launcher.redis_conn import connect
    from launcher.topology import REDIS_CALLS_PER_TURN, validate_data
    timeout_s = 2.0
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "app", "on", ">app-password", "~*", "&*", "+@all")
    admin.config_set("requirepass", "app-password")
    proxy = LateRedis(redis_server.port, timeout_s, late=0.8)
    data = retarget(demo_topology_data())
    data["redis"] = {"timeout_ms": int(timeout_s * 1000),
                     "url": f"redis://{user + '@' if user else ''}127.0.0.1:{proxy.port}/0"}
    topo, problems = validate_data(data)
    assert not problems, problems
    password_variable["CLUSTERGATE_REDIS_PASSWORD"] = "app-password"
    try:
        client = connect(topo.redis)
        started = time.monotonic()
        assert client.get("k") is None
        took_s = time.monotonic() - started
        client.close()
    finally:
        proxy.close()
    asked = b"".join(proxy.asked)
    after_hello = asked.split(b"SETINFO", 1)[1].split(b"GET", 1)[0]
    answers = 4 if user is None else 3  # HELLO, the tail, (AUTH,) the call's
    assert (b"AUTH" in after_hello) == (user is None), proxy.asked
    assert took_s > (answers - 1) * timeout_s, took_s
    waits = 1 + answers  # and the connect
    assert topo.longest_turn_s("state_writer") == pytest.approx(REDIS_CALLS_PER_TURN * waits * timeout_s)


def test_a_clustergate_home_variable_that_is_not_utf8_is_refused_as_bad_input_as_a_home_option_is(tmp_path) -> None:
    # minorcli refused `--home $'/x\xff'` (exit 2), but not the same path from $CLUSTERGATE_HOME, the default every
    # --home help names: `up` still failed writing supervisord.conf (`FAILED: cannot write ...: text that is not valid
    # UTF-8`, exit 1, the code of a failed operation), `status` said `supervisord: not running` (exit 1); nor from
    # `deploy --home-root`.
    import subprocess

    from helpers import demo_topology_data, retarget, write_topology
    from test_minorcli_review import clustergate
    topology = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    home = os.fsdecode(os.fsencode(tmp_path) + b"/homes/x\xff")
    for command in (["up", str(topology)], ["down"], ["status"], ["positions", "list"], ["monitor", "status"],
                    ["proof", "readiness"]):
        done = clustergate(*command, env={"CLUSTERGATE_HOME": home}, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and done.stdout == "", (command, done.stdout + done.stderr)
        assert done.stderr.startswith(f"clustergate {command[0]}: $CLUSTERGATE_HOME: "), (command, done.stderr)
        assert done.stderr.endswith(" is not valid UTF-8: supervisord's config names the home as text; give a "
                                    "directory whose path is UTF-8\n"), (command, done.stderr)
    done = clustergate("status", "--home", str(tmp_path / "home"), env={"CLUSTERGATE_HOME": home})
    assert "not valid UTF-8" not in done.stderr, done.stderr  # --home given: the variable is not read
    done = clustergate("deploy", str(topology), "--home-root", os.fsdecode(os.fsencode(tmp_path) + b"/r\xff"))
    assert done.returncode == 2 and "argument --home-root: " in done.stderr, done.stdout + done.stderr
    assert "is not valid UTF-8" in done.stderr, done.stderr
    assert sorted(tmp_path.iterdir()) == [topology]
