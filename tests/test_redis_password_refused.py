"""Redis refusing the actors' password (rotated on the server, a wrong one given) on a running demo (real supervisord,
redis-server and actors): the refusal is said once when it starts, naming the variable, then at most once a minute,
and once when Redis takes the password again; the counters still count every failure (opsfix)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from helpers import PYTHON, REPO, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher.supervise import Home, Supervisor

PASSWORD = "opsfix-right-one"
ROTATED = "opsfix-rotated-one"


def clustergate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", *args], cwd=REPO, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD})


@pytest.fixture(scope="module")
def secured_demo(tmp_path_factory):
    """The demo with a managed Redis password, for the module."""
    tmp = tmp_path_factory.mktemp("password")
    data = retarget(demo_topology_data())
    topology = write_topology(tmp / "demo.yaml", data)
    home = tmp / "home"
    up = clustergate("up", str(topology), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield SimpleNamespace(home=Home(home), data=data)
    finally:
        clustergate("down", "--home", str(home))


def counter(port: int, name: str) -> float:
    return scrape(port).get(name, 0.0)


def log_since(home: Home, program: str, offset: int) -> list[str]:
    return home.log_of(program).read_bytes()[offset:].decode(errors="replace").splitlines()


def events(lines: list[str], event: str) -> list[str]:
    return [line for line in lines if f"event={event} " in line + " "]


def redis_connections_of(pid: int, redis_port: int) -> set[str]:
    """host:port of each TCP connection process pid holds to Redis's port, as CLIENT LIST names its client."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for fields in (line.split() for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]):
        local, remote, inode = fields[1], fields[2], fields[9]
        if inode in inodes and int(remote.split(":")[1], 16) == redis_port:
            found.add(f"127.0.0.1:{int(local.split(':')[1], 16)}")
    return found


def sign_in_again_refused(demo: SimpleNamespace, admin: redis.Redis, programs: tuple[str, ...]) -> None:
    """Rotate Redis's password and drop the connections of these programs alone: they sign in again, refused, while
    the others keep the connections they signed in on (Redis checks a password at AUTH only)."""
    admin.config_set("requirepass", ROTATED)
    pids = {p["name"]: p["pid"] for p in Supervisor(demo.home).processes()}
    port = demo.data["redis"]["port"]
    addresses = set().union(*(redis_connections_of(pids[program], port) for program in programs))
    assert addresses, programs
    for client in admin.client_list():
        if client["addr"] in addresses:
            admin.client_kill_filter(_id=client["id"])


@pytest.mark.parametrize("programs, counted, repeated", [
    (("state_writer", "buffer"),
     {"state_writer": ('p27_fail_closed_total{reason="redis_unavailable"}', "failed_writes"),
      "buffer": ('p27_buffer_redis_errors_total{op="persist"}', "failed_writes")},
     {"state_writer": ("redis_unavailable", "state_not_written"), "buffer": ("history_not_persisted",)}),
    (("clusterer",),
     {"clusterer": ('p27_fail_closed_total{reason="redis_unavailable"}', "failed_position_reads")},
     {"clusterer": ("positions_unavailable",)})], ids=["state_writer_and_buffer", "clusterer"])
def test_a_password_rotated_on_the_server_is_logged_once_not_every_cadence_and_every_failure_still_counted(
        secured_demo, programs, counted, repeated) -> None:
    """The state writer logged `redis_unavailable` and `state_not_written`, the buffer `history_not_persisted` and the
    clusterer `positions_unavailable` once a cadence (every second on the demo) for as long as Redis refused their
    password, though no retry fixes it. Now each logs `redis_password_refused` once, naming
    $CLUSTERGATE_REDIS_PASSWORD, never a password, and `redis_password_accepted` once Redis takes it again with the
    failures meanwhile, as many as its counter counted (each failure still counted)."""
    home, data = secured_demo.home, secured_demo.data
    ports = {program: data["actors"][program]["metrics_port"] for program in programs}
    admin = redis.Redis(port=data["redis"]["port"], password=PASSWORD, socket_timeout=5)
    wait_for(lambda: counter(data["actors"]["state_writer"]["metrics_port"], "p27_updates_total") > 0, 60,
             "the state writer writing")
    offsets = {program: home.log_of(program).stat().st_size for program in programs}
    before = {program: counter(ports[program], counted[program][0]) for program in programs}
    try:
        sign_in_again_refused(secured_demo, admin, programs)
        for program in programs:
            wait_for(lambda: counter(ports[program], counted[program][0]) - before[program] >= 5, 60,
                     f"5 failures of the {program} counted")
    finally:
        admin.config_set("requirepass", PASSWORD)
    for program in programs:
        wait_for(lambda: events(log_since(home, program, offsets[program]), "redis_password_accepted"), 60,
                 f"the {program} to say Redis takes its password again")
    for program in programs:
        lines = log_since(home, program, offsets[program])
        shown = "\n".join(lines)
        refused, accepted = events(lines, "redis_password_refused"), events(lines, "redis_password_accepted")
        assert len(refused) == 1 and len(accepted) == 1, shown
        assert "$CLUSTERGATE_REDIS_PASSWORD" in refused[0] and PASSWORD not in shown and ROTATED not in shown, shown
        assert not any(events(lines, event) for event in repeated[program]), shown
        assert not events(lines, "redis_password_still_refused"), shown  # within the first minute
        name, field = counted[program]
        said = re.search(field + r"=(\d+)", accepted[0])
        failed = counter(ports[program], name) - before[program]
        assert said and int(said.group(1)) == failed >= 5, (failed, shown)


def test_a_refused_password_is_said_when_it_starts_then_at_most_once_a_minute_and_once_when_it_ends() -> None:
    """The shared log of a refusal (actors.runtime.PasswordRefusalLog), with its clock given: a refusal every second for
    150 s is one line, then a reminder each minute with how long it has lasted and the writes that failed, and one line
    when Redis takes a call again; an outage (no answer) is the caller's to log; Redis's NOAUTH gets the variable."""
    from actors.runtime import PASSWORD_REFUSAL_REMINDER_S, PasswordRefusalLog
    from launcher.resp import HandshakeRefused, RedisUnavailable, ReplyError
    said: list[tuple[str, str, dict]] = []

    def level(name: str):
        return lambda event, **fields: said.append((name, event, fields))

    log = SimpleNamespace(info=level("info"), warning=level("warning"), error=level("error"))
    now = [1000.0]
    cfg = SimpleNamespace(password="opsfix-secret", password_env="CLUSTERGATE_REDIS_PASSWORD")
    refusal = PasswordRefusalLog(log, cfg, clock=lambda: now[0])
    wrong = HandshakeRefused("handshake refused: WRONGPASS invalid username-password pair or user is disabled. (the "
                             "password given is $CLUSTERGATE_REDIS_PASSWORD's: set it to this Redis's password)")
    assert not refusal.refused(RedisUnavailable("cannot connect to 127.0.0.1:1: Connection refused"), counted=True)
    assert not refusal.accepted() and said == []
    assert PASSWORD_REFUSAL_REMINDER_S == 60
    for second in range(150):
        now[0] = 1000.0 + second
        assert refusal.refused(wrong, counted=True)
        assert refusal.refused(redis.AuthenticationError("invalid username-password pair or user is disabled."))
    assert [(lvl, event) for lvl, event, _ in said] == [("error", "redis_password_refused"),
                                                        ("warning", "redis_password_still_refused"),
                                                        ("warning", "redis_password_still_refused")], said
    assert "$CLUSTERGATE_REDIS_PASSWORD" in said[0][2]["error"] and "$CLUSTERGATE_REDIS_PASSWORD" in said[0][2]["detail"]
    assert [(f["refused_for_s"], f["failed_writes"]) for _, _, f in said[1:]] == [(60.0, 61), (120.0, 121)], said
    now[0] = 1200.0
    assert refusal.accepted() and not refusal.accepted()
    assert said[-1][:2] == ("info", "redis_password_accepted") and said[-1][2] == {"refused_for_s": 200.0,
                                                                                  "failed_writes": 150}, said[-1]
    assert "opsfix-secret" not in repr(said)
    refusal = PasswordRefusalLog(log, SimpleNamespace(password=None, password_env="CLUSTERGATE_REDIS_PASSWORD"),
                                 clock=lambda: now[0])
    assert refusal.refused(ReplyError("NOAUTH Authentication required."), counted=True)
    assert said[-1][2]["error"] == ("ReplyError: NOAUTH Authentication required. (no password given: set "
                                    "$CLUSTERGATE_REDIS_PASSWORD to this Redis's password)"), said[-1]


def test_a_tools_refusal_by_an_acl_names_its_user_and_what_to_allow_never_the_password(redis_server, monkeypatch) -> None:
    """A proof (or `positions`) whose redis.url names an ACL user Redis refuses a command it runs (NOPERM, which no
    retry fixes either): said with the user, Redis's words and the fix, not as a refused password."""
    from launcher.redis_conn import auth_refusal, connect
    from launcher.topology import RedisConfig
    redis_server.client().execute_command("ACL", "SETUSER", "proof", "on", ">opsfix-acl-pw", "~*", "+ping")
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "opsfix-acl-pw")
    cfg = RedisConfig(url=f"redis://proof@127.0.0.1:{redis_server.port}/0", timeout_ms=1000)
    client = connect(cfg)
    try:
        assert client.ping()
        with pytest.raises(redis.exceptions.NoPermissionError) as refused:
            client.hmget("quantum:portfolio:cluster_state", "updated_ts")
    finally:
        client.close()
    said = auth_refusal(cfg, refused.value)
    assert said.startswith(f"Redis at redis://proof@127.0.0.1:{redis_server.port}/0 refuses its user proof a "
                           f"command of this one (NOPERM "), said
    assert "hmget" in said and said.endswith("(ACL SETUSER), or name a user allowed it in redis.url"), said
    assert "opsfix-acl-pw" not in said, said


def test_a_refusal_whose_words_change_is_said_again_with_the_new_fix_not_reminded_with_the_first(secured_demo) -> None:
    """revopsfix: the state writer refused its password (rotated on the server: WRONGPASS, `set it to this Redis's
    password`), then Redis's password removed (`AUTH called without any password configured`: the fix is to unset
    the variable) was silent, and each reminder a minute apart repeated the first words and fix for as long as it
    lasted. Redis's new words are said at once, as a refusal of their own, and the reminders carry them."""
    home, data = secured_demo.home, secured_demo.data
    admin = redis.Redis(port=data["redis"]["port"], password=PASSWORD, socket_timeout=5)
    port = data["actors"]["state_writer"]["metrics_port"]
    wait_for(lambda: counter(port, "p27_updates_total") > 0, 60, "the state writer writing")
    offset = home.log_of("state_writer").stat().st_size
    failures = 'p27_fail_closed_total{reason="redis_unavailable"}'
    try:
        sign_in_again_refused(secured_demo, admin, ("state_writer",))
        wait_for(lambda: events(log_since(home, "state_writer", offset), "redis_password_refused"), 30,
                 "the state writer to say Redis refuses its password")
        admin.config_set("requirepass", "")  # (this connection stays signed in)
        before = counter(port, failures)
        wait_for(lambda: counter(port, failures) - before >= 3, 30, "3 more failed writes")
        lines = log_since(home, "state_writer", offset)
    finally:
        admin.config_set("requirepass", PASSWORD)
    wait_for(lambda: events(log_since(home, "state_writer", offset), "redis_password_accepted"), 60,
             "the state writer to say Redis takes its password again")
    shown = "\n".join(lines)
    refused = events(lines, "redis_password_refused")
    assert len(refused) == 2, shown
    assert "WRONGPASS" in refused[0] or "invalid username-password pair" in refused[0], shown
    assert "without any password configured" in refused[1] and "this Redis has none" in refused[1], shown
    assert PASSWORD not in shown and ROTATED not in shown, shown


def test_a_refusal_reminded_says_redis_s_latest_words_and_a_change_of_them_at_once() -> None:
    """revopsfix: PasswordRefusalLog kept the first refusal's words for its reminders; Redis's words changing (another
    cause, another fix) went unsaid. A change is said at once, as `redis_password_refused` with Redis's new words; the
    refusal goes on (its start, its counts); the same words again are not said again."""
    from actors.runtime import PasswordRefusalLog
    from launcher.resp import HandshakeRefused
    said: list[tuple[str, str, dict]] = []
    log = SimpleNamespace(**{name: (lambda name: lambda event, **fields: said.append((name, event, fields)))(name)
                             for name in ("info", "warning", "error")})
    now = [1000.0]
    refusal = PasswordRefusalLog(log, SimpleNamespace(password="revopsfix-secret",
                                                      password_env="CLUSTERGATE_REDIS_PASSWORD"), clock=lambda: now[0])
    wrong = HandshakeRefused("handshake refused: WRONGPASS invalid username-password pair or user is disabled.")
    none = HandshakeRefused("handshake refused: ERR AUTH <password> called without any password configured for the "
                            "default user. Are you sure your configuration is correct?")
    assert refusal.refused(wrong, counted=True)
    now[0] = 1010.0
    assert refusal.refused(none, counted=True)
    now[0] = 1020.0
    assert refusal.refused(none, counted=True)
    assert [event for _, event, _ in said] == ["redis_password_refused", "redis_password_refused"], said
    assert "this Redis has none" in said[1][2]["error"], said
    now[0] = 1075.0
    assert refusal.refused(none, counted=True)
    assert said[-1][1] == "redis_password_still_refused" and "this Redis has none" in said[-1][2]["error"], said
    assert (said[-1][2]["refused_for_s"], said[-1][2]["failed_writes"]) == (75.0, 4), said
    assert "revopsfix-secret" not in repr(said)


def test_a_tools_refusal_of_a_key_by_an_acl_says_to_allow_the_key_not_the_command(redis_server, monkeypatch) -> None:
    """revopsfix: an ACL user refused a key, not a command (`NOPERM this user has no permissions to access one of the
    keys used as arguments`: its key patterns leave out the position snapshots, say) was told to `allow that user the
    command`, which it has. The refusal says to allow the key, with a key pattern."""
    from launcher.redis_conn import auth_refusal, connect
    from launcher.topology import RedisConfig
    redis_server.client().execute_command("ACL", "SETUSER", "proof", "on", ">revopsfix-acl-pw", "~quantum:portfolio:*",
                                          "+@all")
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "revopsfix-acl-pw")
    cfg = RedisConfig(url=f"redis://proof@127.0.0.1:{redis_server.port}/0", timeout_ms=1000)
    client = connect(cfg)
    try:
        assert client.hmget("quantum:portfolio:cluster_state", "updated_ts") == [None]
        with pytest.raises(redis.exceptions.NoPermissionError) as refused:
            client.hget("quantum:position:snapshot:BTCUSDT", "position_amt")
    finally:
        client.close()
    said = auth_refusal(cfg, refused.value)
    assert said.startswith(f"Redis at redis://proof@127.0.0.1:{redis_server.port}/0 refuses its user proof a key "), said
    assert "allow that user the command" not in said and "~" in said, said
    assert said.endswith("or name a user allowed it in redis.url") and "revopsfix-acl-pw" not in said, said


@pytest.mark.parametrize("refusal", [
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration "
    "is correct?",
    "ERR Client sent AUTH, but no password is set"], ids=["redis_6_and_7", "redis_5"])
def test_a_password_given_to_a_redis_without_one_is_told_to_unset_it_in_redis_5_s_words_too(refusal: str) -> None:
    """opsauth: Redis 5 refuses AUTH to a server with no password as `ERR Client sent AUTH, but no password is set`;
    the hint (launcher.resp.password_hint, every client's) and the actors' PasswordRefusalLog knew only Redis 6+'s
    words, so Redis 5's was told `set it to this Redis's password`, which no password fixes, and a password removed
    from a Redis 5 while a refusal lasted went unsaid. Both wordings give the same hint (the tools' auth_refusal
    already knew both)."""
    from launcher.resp import HandshakeRefused, has_no_password, password_hint
    assert password_hint(refusal, "opsauth-secret", "DESK_REDIS_PASSWORD") == (
        " (the password given is $DESK_REDIS_PASSWORD's: this Redis has none)")
    assert has_no_password(refusal)
    assert not has_no_password("WRONGPASS invalid username-password pair or user is disabled.")
    from actors.runtime import PasswordRefusalLog
    said: list[tuple[str, str, dict]] = []
    log = SimpleNamespace(**{name: (lambda name: lambda event, **fields: said.append((name, event, fields)))(name)
                             for name in ("info", "warning", "error")})
    refusal_log = PasswordRefusalLog(log, SimpleNamespace(password="opsauth-secret", password_env="DESK_REDIS_PASSWORD"),
                                     clock=lambda: 1000.0)
    assert refusal_log.refused(HandshakeRefused("handshake refused: WRONGPASS invalid username-password pair."))
    assert refusal_log.refused(HandshakeRefused(f"handshake refused: {refusal}"))
    assert [event for _, event, _ in said] == ["redis_password_refused", "redis_password_refused"], said
    assert said[1][2]["error"].endswith("(the password given is $DESK_REDIS_PASSWORD's: this Redis has none)"), said


def test_a_wrong_password_in_redis_5_s_words_is_a_refused_password() -> None:
    """revopsauth (left by it): Redis 5 answers a wrong password's AUTH `ERR invalid password` (Redis 6 and later:
    WRONGPASS). The actors' client took it for another handshake failure (password_refused False): the buffer and
    clusterer logged it every cadence instead of redis_password_refused once, with no hint of the variable to fix.
    An error that merely mentions a password outside the handshake is not read as one."""
    from launcher.resp import HandshakeRefused, password_refused, refuses_a_password
    assert password_refused(HandshakeRefused("handshake refused: ERR invalid password"))
    assert refuses_a_password("ERR invalid password", in_handshake=True)
    assert not refuses_a_password("ERR invalid password", in_handshake=False)
    assert not password_refused(HandshakeRefused("handshake refused: ERR unknown command 'HELLO'"))
