"""What a hostile review of minorcli reproduced against real processes (revminorcli): each refusal names what is wrong
and what to set, with the CLI's exit codes (2 bad input, 1 the operation failed)."""

from __future__ import annotations

import os
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
    from test_loop_liveness import LateRedis, first_call_s

    from helpers import demo_topology_data, retarget
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
        took_s = first_call_s(topo.redis)
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


def test_help_that_standard_output_refuses_fails_in_one_line_for_the_proof_scripts_and_ha_load() -> None:
    # minorcli made `clustergate proof --help > /dev/full` exit 1 in one line, but `python proofs/readiness.py --help`
    # (docs/proofs.md: the same proof) and `python -m launcher.ha_load --help` (docs/ha-durability.md) still exited 0
    # with nothing written: argparse drops the OSError.
    import subprocess

    from helpers import PYTHON, REPO
    for argv, command in (([PYTHON, "proofs/readiness.py", "--help"], "proofs/readiness.py"),
                          ([PYTHON, "proofs/fallback.py", "--help"], "proofs/fallback.py"),
                          ([PYTHON, "-m", "launcher.ha_load", "--help"], "python -m launcher.ha_load"),
                          ([PYTHON, "-m", "launcher.ha_load", "audit", "--help"], "python -m launcher.ha_load audit")):
        with open("/dev/full", "w") as full:
            done = subprocess.run(argv, cwd=REPO, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == 1, (argv, done.stderr)
        assert done.stderr == f"{command}: cannot write to standard output: No space left on device\n", (argv, done.stderr)
        shown = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0 and shown.stdout.startswith("usage: "), (argv, shown.stderr)


def test_a_redis_that_echoes_the_auth_arguments_never_gets_the_password_into_a_redis_py_clients_error(tmp_path) -> None:
    # minorcli's AUTH PASSWORD after redis-py's handshake reaches a Redis whose AUTH is renamed (`rename-command`, a
    # hardening docs/faults-and-security.md names), which answers `ERR unknown command 'AUTH', with args beginning
    # with: 'PASSWORD'`: `clustergate positions list` printed the password on stderr, and the state writer logged it
    # every second (before, redis-py's HELLO AUTH signed in and no bare AUTH was sent). The echoed arguments are left
    # out, as the gate's client leaves them out (rev3 review).
    import subprocess

    from helpers import demo_topology_data, retarget, wait_for, write_topology
    from launcher.harness import find_redis_server, free_port
    from test_minorcli_review import clustergate
    port = free_port()
    proc = subprocess.Popen([find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--save", "", "--rename-command", "AUTH", "AUTH-ELSEWHERE", "--requirepass",
                             "a-secret-never-logged"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: redis.Redis(port=port, password="a-secret-never-logged").ping(), 10, "redis-server")
        data = retarget(demo_topology_data())
        data["redis"] = {"url": f"redis://127.0.0.1:{port}/0"}
        topology = write_topology(tmp_path / "external.yaml", data)
        listed = clustergate("positions", "list", "--topology", str(topology),
                             env={"CLUSTERGATE_REDIS_PASSWORD": "a-secret-never-logged"})
        assert listed.returncode == 1 and "unknown command 'AUTH'" in listed.stderr, listed.stdout + listed.stderr
        assert "a-secret" not in listed.stdout + listed.stderr, listed.stdout + listed.stderr
        from launcher.redis_conn import connect
        saved = os.environ.get("CLUSTERGATE_REDIS_PASSWORD")
        os.environ["CLUSTERGATE_REDIS_PASSWORD"] = "a-secret-never-logged"
        try:
            client = connect(RedisConfig(url=f"redis://127.0.0.1:{port}/0", timeout_ms=1000))
            with pytest.raises(redis.RedisError) as refused:
                client.get("k")
            client.close()
        finally:
            os.environ.pop("CLUSTERGATE_REDIS_PASSWORD")
            if saved is not None:
                os.environ["CLUSTERGATE_REDIS_PASSWORD"] = saved
        said = f"{refused.value} {refused.value.args!r} {refused.value.__cause__!r} {refused.value.__context__!r}"
        assert "unknown command" in said and "a-secret" not in said, said  # what the state writer logs
    finally:
        proc.terminate()
        proc.wait(5)
