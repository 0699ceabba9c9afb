"""Security: loopback unless CurveZMQ says otherwise, allowed keys only, the Redis password only in
the environment and in no file a log reader sees, supervisord's socket for its owner only."""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import secrets
import signal
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
import zmq.auth

from launcher import keys as redis_keys
from helpers import (PYTHON, REPO, SHUTDOWN_BOUND_S, ActorProcess, demo_topology_data, retarget, scrape, wait_for,
                     write_topology)
from launcher.client import GateClient, GateUnavailable
from launcher.curve import (KeyFileError, generate_keypair, others_can_write, read_key_dir, read_keypair,
                            read_public_key)
from launcher.schema import SchemaError
from launcher.topology import load_topology

BOOK = {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0), "SOLUSDT": (-40.0, 150.0)}


def clustergate(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def problems_of(path: Path) -> list[str]:
    try:
        load_topology(path)
    except SchemaError as exc:
        return [p.render() for p in exc.problems]
    return []


def make_keys(keys_dir: Path, *names: str) -> None:
    for name in names:
        generate_keypair(keys_dir, name)


def p26_topology(workdir: Path, redis_url: str | None, *, proposals_bind: str | None = None,
                 curve: bool = True) -> dict:
    """Gate + permit issuer only; with curve, both of the gate's sockets use CurveZMQ and only
    the client 'desk' may send proposals."""
    data = retarget(demo_topology_data(), redis_url)
    data["actors"] = {name: data["actors"][name] for name in ("permit_issuer", "gate")}
    sockets = data["actors"]["gate"]["sockets"]
    if proposals_bind is not None:
        sockets["proposals"]["bind"] = proposals_bind
    if curve:
        make_keys(workdir / "keys", "gate", "permit_issuer", "desk", "stranger")
        data["security"] = {"curve": {"keys_dir": "keys"}}
        sockets["proposals"]["curve"] = {"allow": ["desk"]}
        sockets["permits"]["curve"] = {}
        data["actors"]["permit_issuer"]["sockets"]["requests"]["curve"] = {"allow": ["gate"]}
    return data


def write_book(r: redis_lib.Redis) -> None:
    ts = int(time.time())
    for symbol, (amt, price) in BOOK.items():
        r.hset(redis_keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": ts})


def proposal_decided(client: GateClient) -> dict | None:
    try:
        reply = client.propose("ETHUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
    except GateUnavailable:
        return None
    return reply if reply.get("status") == "ok" else None


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("host", ["0.0.0.0", "10.20.30.40"])
def test_validate_rejects_a_bind_beyond_loopback_without_curve_keys_naming_the_path(tmp_path: Path, host: str) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0", proposals_bind=f"tcp://{host}:5556", curve=False)
    path = write_topology(tmp_path / "exposed.yaml", data)
    result = clustergate("validate", str(path))
    assert result.returncode == 2
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert f"actors.gate.sockets.proposals.bind: tcp://{host}:5556 exposes the socket beyond loopback without CurveZMQ" in lines[0]
    assert "security.curve.keys_dir" in lines[0]


def test_validate_rejects_a_connect_beyond_loopback_without_curve_keys(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0", curve=False)
    data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"] = "tcp://0.0.0.0:5557"
    data["actors"]["gate"]["sockets"]["permits"]["connect"] = "tcp://10.20.30.40:5557"
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.permits.connect: tcp://10.20.30.40:5557 leaves loopback without CurveZMQ")
               for p in problems), problems


@pytest.mark.parametrize("host", ["0.0.0.0", "10.20.30.40"])
def test_validate_accepts_a_socket_beyond_loopback_with_curve_keys(tmp_path: Path, host: str) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0", proposals_bind=f"tcp://{host}:5556")
    path = write_topology(tmp_path / "exposed.yaml", data)
    result = clustergate("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_names_a_key_file_that_does_not_exist(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    data["actors"]["gate"]["sockets"]["proposals"]["curve"]["allow"] = ["desk", "desk-2"]
    (tmp_path / "keys" / "gate.key_secret").unlink()
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert f"actors.gate.sockets.proposals.curve.allow[1]: {tmp_path}/keys/desk-2.key does not exist" in "\n".join(problems)
    assert any(p.startswith("actors.gate.sockets.proposals.curve.keypair: ") and "gate.key_secret does not exist" in p
               for p in problems), problems


def test_validate_rejects_a_secret_key_that_others_can_read(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    secret = tmp_path / "keys" / "permit_issuer.key_secret"
    secret.chmod(0o644)
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert problems == [f"actors.permit_issuer.sockets.requests.curve.keypair: {secret} is readable by group or "
                        f"others (mode 0644); run chmod 600 {secret}"]


def test_validate_rejects_a_client_actor_whose_key_the_server_does_not_allow(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    data["actors"]["permit_issuer"]["sockets"]["requests"]["curve"]["allow"] = ["desk"]
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.permits.curve.keypair: the server at") and "does not allow the key of 'gate'" in p
               for p in problems), problems


def test_validate_rejects_a_plain_client_of_a_curve_server(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    del data["actors"]["gate"]["sockets"]["permits"]["curve"]
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.permits.connect:") and "is a CurveZMQ server" in p for p in problems), problems


def test_validate_rejects_gates_of_which_some_use_curve_and_others_do_not(tmp_path: Path) -> None:
    # Clients fail over between every gate with one security setting: a plain gate beside a CurveZMQ one
    # never answers a client of the other kind (found by the review of the client rules).
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    second = json.loads(json.dumps(data["actors"]["gate"]))
    del second["sockets"]["proposals"]["curve"]
    second["sockets"]["proposals"]["bind"] = "tcp://127.0.0.1:5656"
    second["metrics_port"] = data["actors"]["gate"]["metrics_port"] + 7
    make_keys(tmp_path / "keys", "gate_b")
    second["sockets"]["permits"]["curve"] = {"keypair": "gate_b"}
    data["actors"]["gate_b"] = {**second, "kind": "gate"}
    data["actors"]["permit_issuer"]["sockets"]["requests"]["curve"]["allow"] = ["gate", "gate_b"]
    problems = problems_of(write_topology(tmp_path / "mixed.yaml", data))
    assert any(p.startswith("actors.gate_b.sockets.proposals.curve: the proposals sockets of gate use CurveZMQ and "
                            "those of gate_b do not") for p in problems), problems


def test_keys_generate_writes_a_secret_file_only_its_owner_can_read(tmp_path: Path) -> None:
    result = clustergate("keys", "generate", str(tmp_path / "keys"), "--name", "desk")
    assert result.returncode == 0, result.stderr
    secret, public = tmp_path / "keys" / "desk.key_secret", tmp_path / "keys" / "desk.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    keypair = read_keypair(secret)
    assert read_public_key(public) == keypair.public
    assert keypair.secret.decode() not in result.stdout + result.stderr
    again = clustergate("keys", "generate", str(tmp_path / "keys"), "--name", "desk")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert read_keypair(secret) == keypair


def test_keys_generate_refuses_a_symlink_planted_at_the_secret_files_path_and_writes_nothing_through_it(
        tmp_path: Path) -> None:
    # revops: a dangling symlink at DIR/NAME.key_secret passed the "already exists" check (Path.exists follows it)
    # and the secret key was written through it, to wherever it pointed.
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    target = tmp_path / "elsewhere" / "stolen"
    target.parent.mkdir()
    (keys / "desk.key_secret").symlink_to(target)
    result = clustergate("keys", "generate", str(keys), "--name", "desk")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{keys / 'desk.key_secret'} already exists" in result.stderr, result.stderr
    assert not target.exists() and not (keys / "desk.key").exists()
    assert sorted(p.name for p in keys.iterdir()) == ["desk.key_secret"]  # the symlink, nothing left beside it


def test_generate_keypair_never_writes_through_a_symlink_or_over_a_file_at_its_paths(tmp_path: Path) -> None:
    """The last defence, when a file or symlink appears after the CLI looked (two generates at once, a planted link)."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    target = tmp_path / "stolen"
    (keys / "desk.key_secret").symlink_to(target)
    with pytest.raises(FileExistsError):
        generate_keypair(keys, "desk")
    assert not target.exists()
    assert sorted(p.name for p in keys.iterdir()) == ["desk.key_secret"]
    (keys / "other.key").write_text("someone else's")
    with pytest.raises(FileExistsError):
        generate_keypair(keys, "other")
    assert (keys / "other.key").read_text() == "someone else's"
    assert sorted(p.name for p in keys.iterdir()) == ["desk.key_secret", "other.key"]


# --------------------------------------------------------------------------- CURVE with real processes


class CurveP26:
    """Gate + permit issuer processes on 127.0.0.1 with CurveZMQ on every socket, real Redis."""

    def __init__(self, workdir: Path, redis_url: str):
        self.workdir = workdir
        self.data = p26_topology(workdir, redis_url)
        self.topology = write_topology(workdir / "topology.yaml", self.data)
        self.endpoint = self.data["actors"]["gate"]["sockets"]["proposals"]["bind"]
        self.issuer = ActorProcess(self.topology, "permit_issuer", log_dir=workdir)
        self.gate = ActorProcess(self.topology, "gate", log_dir=workdir)

    def client(self, name: str | None, timeout_ms: int = 1000) -> GateClient:
        if name is None:
            return GateClient(self.endpoint, timeout_ms=timeout_ms, retries=0)
        return GateClient(self.endpoint, timeout_ms=timeout_ms, retries=0,
                          client_keypair=read_keypair(self.workdir / "keys" / f"{name}.key_secret"),
                          server_public_key=read_public_key(self.workdir / "keys" / "gate.key"))

    def secret_keys(self) -> list[str]:
        return [read_keypair(f).secret.decode() for f in (self.workdir / "keys").glob("*.key_secret")]


@pytest.fixture
def curve_p26(tmp_path: Path, redis_server):
    system = CurveP26(tmp_path, redis_server.url)
    write_book(redis_server.client())
    system.issuer.start()
    system.gate.start()
    try:
        yield system
    finally:
        system.gate.terminate()
        system.issuer.terminate()


def test_a_curve_gate_serves_a_client_holding_an_allowed_key(curve_p26: CurveP26) -> None:
    with curve_p26.client("desk") as desk:
        reply = wait_for(lambda: proposal_decided(desk), 20, "a decision for the allowed client")
    assert reply["decision"]["symbol"] == "ETHUSDT"
    assert reply["decision"]["gate_reason"] != "fail_closed_portfolio_state"


def test_clients_without_an_allowed_key_get_nothing_while_allowed_clients_are_served(curve_p26: CurveP26) -> None:
    with curve_p26.client("desk") as desk:
        wait_for(lambda: proposal_decided(desk), 20, "the gate to serve the allowed client")
        for outsider in ("stranger", None):  # a key the gate does not allow; no CURVE at all
            with curve_p26.client(outsider, timeout_ms=1500) as client:
                with pytest.raises(GateUnavailable):
                    client.propose("ETHUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
            assert proposal_decided(desk) is not None, f"the allowed client was not served after {outsider!r}"
    denied = scrape(curve_p26.data["actors"]["gate"]["metrics_port"])
    assert denied['clustergate_curve_denied_total{actor="gate",socket="proposals"}'] >= 1
    stranger_public = read_public_key(curve_p26.workdir / "keys" / "stranger.key").decode()
    log = curve_p26.gate.log()
    assert "event=curve_client_denied" in log and stranger_public in log
    for secret in curve_p26.secret_keys():
        assert secret not in log and secret not in curve_p26.issuer.log()


def test_propose_command_uses_the_client_key_named_in_the_topologys_keys_dir(curve_p26: CurveP26) -> None:
    with curve_p26.client("desk") as desk:
        wait_for(lambda: proposal_decided(desk), 20, "the gate to serve the allowed client")
    ok = clustergate("propose", "--topology", str(curve_p26.topology), "--symbol", "ETHUSDT", "--action", "PARTIAL_25",
                     "--client-key", "desk", "--timeout-ms", "3000", "--retries", "0")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "ok"
    refused = clustergate("propose", "--topology", str(curve_p26.topology), "--symbol", "ETHUSDT", "--action",
                          "PARTIAL_25", "--client-key", "stranger", "--timeout-ms", "1000", "--retries", "0")
    assert refused.returncode == 1 and "no reply from the gate" in refused.stderr
    keyless = clustergate("propose", "--topology", str(curve_p26.topology), "--symbol", "ETHUSDT", "--action", "HOLD")
    assert keyless.returncode == 2 and "--client-key" in keyless.stderr


def test_a_curve_gate_exits_0_within_the_shutdown_bound_of_sigterm(curve_p26: CurveP26) -> None:
    with curve_p26.client("desk") as desk:
        wait_for(lambda: proposal_decided(desk), 20, "the gate to serve the allowed client")
    proc = curve_p26.gate.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(SHUTDOWN_BOUND_S) == 0
    except subprocess.TimeoutExpired:
        pytest.fail(f"gate still running {SHUTDOWN_BOUND_S} s after SIGTERM\n{curve_p26.gate.log()[-2000:]}")


# --------------------------------------------------------------------------- managed system under supervisord


@pytest.fixture
def secured_home(tmp_path: Path):
    """A gate + permit issuer with managed Redis under a real supervisord, a Redis password in the
    environment only, and CurveZMQ on the gate's sockets."""
    password = "pw-" + secrets.token_urlsafe(24)
    data = p26_topology(tmp_path, None)
    topology = write_topology(tmp_path / "secured.yaml", data)
    home = tmp_path / "home"
    env = {"CLUSTERGATE_REDIS_PASSWORD": password}
    try:
        up = clustergate("up", str(topology), "--home", str(home), "--timeout", "90", env=env, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        yield {"home": home, "topology": topology, "data": data, "password": password, "env": env, "up": up}
    finally:
        clustergate("down", "--home", str(home), env=env)


def test_managed_redis_password_comes_from_the_environment_and_is_never_written_where_logs_are_read(secured_home) -> None:
    home, data, password = secured_home["home"], secured_home["data"], secured_home["password"]
    port = data["redis"]["port"]
    with pytest.raises(redis_lib.AuthenticationError):
        redis_lib.Redis(port=port, socket_timeout=2).ping()
    r = redis_lib.Redis(port=port, password=password, decode_responses=True, socket_timeout=2)
    write_book(r)
    keys_dir = secured_home["topology"].parent / "keys"
    client = GateClient(data["actors"]["gate"]["sockets"]["proposals"]["bind"], timeout_ms=3000, retries=0,
                        client_keypair=read_keypair(keys_dir / "desk.key_secret"),
                        server_public_key=read_public_key(keys_dir / "gate.key"))
    with client:
        reply = wait_for(lambda: proposal_decided(client), 20, "a decision from the password-protected system")
    plan_id = reply["decision"]["plan_id"]
    assert any(fields["plan_id"] == plan_id for _, fields in r.xrange(redis_keys.GATE_STREAM))

    status = clustergate("status", "--json", "--home", str(home), env=secured_home["env"])
    assert password not in status.stdout + status.stderr
    secrets_on_disk = [password] + [read_keypair(f).secret.decode() for f in keys_dir.glob("*.key_secret")]
    redis_conf = home / "run" / "redis" / "redis.conf"
    assert stat.S_IMODE(redis_conf.stat().st_mode) == 0o600
    readable = [p for p in (home / "run").rglob("*") if p.is_file() and p != redis_conf and not p.is_socket()]
    assert home / "run" / "supervisord.log" in readable and home / "run" / "topology.yaml" in readable
    assert any(p.parent.name == "programs.d" for p in readable) and any(p.parent.name == "logs" for p in readable)
    for path in readable:
        content = path.read_bytes()
        for secret in secrets_on_disk:
            assert secret.encode() not in content, f"a secret appears in {path}"


def test_supervisord_socket_is_neither_group_nor_world_writable(secured_home) -> None:
    sock = secured_home["home"] / "run" / "supervisor.sock"
    mode = stat.S_IMODE(sock.stat().st_mode)
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert not mode & (stat.S_IWOTH | stat.S_IWGRP), f"supervisor.sock mode {mode:04o}"
    assert stat.S_IMODE((secured_home["home"] / "run").stat().st_mode) == 0o700


# --------------------------------------------------------------------------- issue 18: the Redis password


def password_system(tmp_path: Path) -> tuple[Path, Path, dict]:
    data = p26_topology(tmp_path, None, curve=False)
    return tmp_path / "home", write_topology(tmp_path / "pw.yaml", data), data


def redis_answers_without_auth(port: int) -> bool:
    try:
        redis_lib.Redis(port=port, socket_timeout=2).ping()
        return True
    except redis_lib.AuthenticationError:
        return False


def listening_addresses(port: int) -> set[str]:
    """Local addresses a TCP socket listens on at `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def test_a_redis_password_with_a_newline_cannot_add_config_lines_and_is_refused(tmp_path: Path) -> None:
    home, topology, data = password_system(tmp_path)
    password = "s3cret\nbind 0.0.0.0\nprotected-mode no"
    try:
        up = clustergate("up", str(topology), "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": password})
        assert up.returncode == 2, up.stdout + up.stderr
        assert "CLUSTERGATE_REDIS_PASSWORD" in up.stderr and "control character" in up.stderr
        assert "s3cret" not in up.stdout + up.stderr
        assert not (home / "run" / "supervisor.sock").exists()
        assert "00000000" not in listening_addresses(data["redis"]["port"])
    finally:
        clustergate("down", "--home", str(home))


def test_a_redis_password_with_spaces_works_and_is_never_printed(tmp_path: Path) -> None:
    home, topology, data = password_system(tmp_path)
    password = 'pass with "spaces" \\ ' + secrets.token_urlsafe(8)
    env = {"CLUSTERGATE_REDIS_PASSWORD": password}
    try:
        up = clustergate("up", str(topology), "--home", str(home), "--timeout", "60", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert password not in up.stdout + up.stderr and "spaces" not in up.stdout + up.stderr
        port = data["redis"]["port"]
        assert not redis_answers_without_auth(port)
        assert redis_lib.Redis(port=port, password=password, socket_timeout=2).ping()
    finally:
        clustergate("down", "--home", str(home), env=env)


class FatalRedisSupervisor:
    """What supervisord answers `up` while it waits: the managed Redis FATAL (it could not start)."""

    def processes(self) -> list[dict]:
        return [{"name": "redis", "statename": "FATAL", "spawnerr": "Exited too quickly (process log may have details)",
                 "description": "Exited too quickly"}]


def test_an_up_that_fails_prints_the_logs_last_lines_without_the_redis_password(tmp_path: Path, monkeypatch) -> None:
    """A redis-server refusing its config prints the offending line, requirepass and the password with it, to its
    log; `up` then prints that log's last lines, with the password replaced by ***. (An `up` that succeeds, as in
    the test above, prints no log, so no other test reached the redaction.)"""
    from launcher.redis_binary import find_redis_server
    from launcher.supervise import Home, wait_until_ready

    password = "pw-" + secrets.token_urlsafe(16)
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", password)
    home, topology, _ = password_system(tmp_path)
    home = Home(home)
    home.logs.mkdir(parents=True)
    bad_conf = tmp_path / "bad.conf"
    bad_conf.write_text(f'port 0\nrequirepass "{password}" extra\n')
    refused = subprocess.run([find_redis_server() or "redis-server", str(bad_conf)], capture_output=True, text=True,
                             timeout=10)
    home.log_of("redis").write_text(refused.stdout + refused.stderr)
    assert refused.returncode != 0 and password in home.log_of("redis").read_text()  # redis echoes the line
    printed = io.StringIO()
    assert wait_until_ready(FatalRedisSupervisor(), load_topology(topology), home, 5, out=printed) is False
    assert "program redis is FATAL" in printed.getvalue() and "FATAL CONFIG FILE ERROR" in printed.getvalue()
    assert password not in printed.getvalue() and '"***" extra' in printed.getvalue(), printed.getvalue()


def test_an_up_without_the_password_of_a_running_system_is_refused_and_redis_keeps_its_password(tmp_path: Path) -> None:
    home, topology, data = password_system(tmp_path)
    password = "pw-" + secrets.token_urlsafe(16)
    env = {"CLUSTERGATE_REDIS_PASSWORD": password}
    try:
        assert clustergate("up", str(topology), "--home", str(home), env=env).returncode == 0
        conf_before = (home / "run" / "redis" / "redis.conf").read_bytes()
        without = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
        again = subprocess.run([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(home)], cwd=REPO,
                               capture_output=True, text=True, timeout=120, env=without)
        assert again.returncode == 2, again.stdout + again.stderr
        assert "CLUSTERGATE_REDIS_PASSWORD is not set" in again.stderr
        assert (home / "run" / "redis" / "redis.conf").read_bytes() == conf_before
        ctl = [str(Path(PYTHON).parent / "supervisorctl"), "-c", str(home / "supervisord.conf")]
        subprocess.run([*ctl, "restart", "redis"], capture_output=True, timeout=60, check=True)
        wait_for(lambda: redis_lib.Redis(port=data["redis"]["port"], password=password, socket_timeout=1).ping(), 10,
                 "redis back after its restart")
        assert not redis_answers_without_auth(data["redis"]["port"])
    finally:
        clustergate("down", "--home", str(home), env=env)


def test_an_up_without_the_password_a_running_home_needs_names_that_home_in_the_down_it_advises(tmp_path: Path,
                                                                                                 monkeypatch) -> None:
    """docrev: `up FILE --home DIR` of a topology without password_env, in a home whose Redis runs with a password,
    advised "`clustergate down` first", which stops the repository root's system, not DIR's."""
    import shlex
    from launcher.supervise import Home, password_problem
    monkeypatch.delenv("CLUSTERGATE_REDIS_PASSWORD", raising=False)
    home = Home(tmp_path / "my home")
    topo = load_topology(write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data())))
    home.redis_conf.parent.mkdir(parents=True)
    home.redis_conf.write_text("port 6391\nrequirepass hunter2\n")
    problem = password_problem(topo, home, running=True)
    assert problem and f"`clustergate down --home {shlex.quote(str(home.root))}`" in problem, problem
    assert "hunter2" not in problem


def test_a_changed_redis_password_restarts_redis_and_the_actors_with_it_without_printing_it(tmp_path: Path) -> None:
    home, topology, data = password_system(tmp_path)
    old, new = "old-" + secrets.token_urlsafe(16), "new-" + secrets.token_urlsafe(16)
    port = data["redis"]["port"]
    try:
        assert clustergate("up", str(topology), "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": old}).returncode == 0
        again = clustergate("up", str(topology), "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": new})
        assert again.returncode == 0, again.stdout + again.stderr
        assert old not in again.stdout + again.stderr and new not in again.stdout + again.stderr
        with pytest.raises(redis_lib.AuthenticationError):
            redis_lib.Redis(port=port, password=old, socket_timeout=2).ping()
        r = redis_lib.Redis(port=port, password=new, socket_timeout=2, decode_responses=True)
        write_book(r)

        def decided_from_redis(client: GateClient) -> dict | None:
            reply = proposal_decided(client)
            return reply if reply and reply["decision"]["gate_reason"] != "fail_closed_portfolio_state" else None

        # The gate reads the book from Redis with the new password: it decides from the positions.
        with GateClient(data["actors"]["gate"]["sockets"]["proposals"]["bind"], timeout_ms=3000, retries=0) as client:
            wait_for(lambda: decided_from_redis(client), 20, "a decision made from Redis with the new password")
        for log in (home / "run").rglob("*.log"):
            assert new.encode() not in log.read_bytes() and old.encode() not in log.read_bytes(), log
    finally:
        clustergate("down", "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": new})


# --------------------------------------------------------------------------- issue 18: CurveZMQ checks


def test_validate_refuses_a_permit_issuer_using_the_gates_keypair(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    data["actors"]["permit_issuer"]["sockets"]["requests"]["curve"]["keypair"] = "gate"
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.permit_issuer.sockets.requests.curve.keypair: ") and "also the keypair of actors.gate" in p
               for p in problems), problems


def test_validate_refuses_a_gate_that_allows_its_own_key(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    data["actors"]["gate"]["sockets"]["proposals"]["curve"]["allow"] = ["desk", "gate"]
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.proposals.curve.allow") and "its own key" in p for p in problems), problems


def test_validate_refuses_allow_dir_set_to_the_keys_directory(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    data["actors"]["gate"]["sockets"]["proposals"]["curve"] = {"allow_dir": "keys"}
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.proposals.curve.allow_dir: ") and "keys_dir" in p for p in problems), problems


def test_validate_refuses_a_keys_directory_others_can_write(tmp_path: Path) -> None:
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    (tmp_path / "keys").chmod(0o777)
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("security.curve.keys_dir: ") and "writable by group or others (mode 0777)" in p
               for p in problems), problems


def test_validate_refuses_a_secret_key_owned_by_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")  # CI runs as root; see the report
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    secret = tmp_path / "keys" / "permit_issuer.key_secret"
    os.chown(secret, 65534, 65534)
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.permit_issuer.sockets.requests.curve.keypair: ") and "owned by uid 65534" in p
               for p in problems), problems


def test_an_up_without_the_password_a_topology_asks_for_is_refused_before_anything_starts(tmp_path: Path) -> None:
    home, _, data = password_system(tmp_path)
    data["redis"]["password_env"] = "CLUSTERGATE_TEST_REDIS_PASSWORD"
    topology = write_topology(tmp_path / "asks.yaml", data)
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_TEST_REDIS_PASSWORD"}
    try:
        up = subprocess.run([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(home)], cwd=REPO,
                            capture_output=True, text=True, timeout=120, env=env)
        assert up.returncode == 2, up.stdout + up.stderr
        assert "$CLUSTERGATE_TEST_REDIS_PASSWORD is not set, but the topology asks for a Redis password" in up.stderr
        assert not (home / "run" / "supervisor.sock").exists()
    finally:
        clustergate("down", "--home", str(home))


def test_a_secret_certificate_cut_short_is_named_as_such_not_as_the_wrong_file(tmp_path: Path) -> None:
    # revops: a NAME.key_secret whose secret-key line was lost (a half-written copy) said "holds no secret key; name
    # the .key_secret file", naming the very file the operator had named.
    keys = tmp_path / "keys"
    make_keys(keys, "desk")
    secret = keys / "desk.key_secret"
    text = secret.read_text()
    secret.write_text(text[:text.index("secret-key")])
    with pytest.raises(Exception) as raised:
        read_keypair(secret)
    said = str(raised.value)
    assert str(secret) in said and "no secret-key line" in said and "name the .key_secret file" not in said, said
    with pytest.raises(Exception) as raised:  # a public certificate given for a secret one keeps its hint
        read_keypair(keys / "desk.key")
    assert "name the .key_secret file" in str(raised.value)


def splice_public_line(secret: Path, public_from: Path) -> None:
    """Give secret the public-key line of another certificate, as two files spliced by hand would."""
    line = next(ln for ln in public_from.read_text().splitlines() if "public-key" in ln)
    secret.write_text("\n".join(line if "public-key" in ln else ln for ln in secret.read_text().splitlines()) + "\n")


def test_a_secret_certificate_whose_public_key_is_not_its_own_is_refused_naming_the_file(tmp_path: Path) -> None:
    # keycheck: a .key_secret whose public-key line belongs to another keypair was accepted; the socket then
    # presented a key that is not its own and `propose` ended in "no reply from the gate", naming nothing.
    keys = tmp_path / "keys"
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    splice_public_line(keys / "desk.key_secret", keys / "stranger.key")
    result = clustergate("propose", "--symbol", "ETHUSDT", "--action", "HOLD", "--endpoint", "tcp://127.0.0.1:9",
                         "--client-key", str(keys / "desk.key_secret"), "--server-key", str(keys / "gate.key"),
                         "--timeout-ms", "200", "--retries", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert (f"{keys / 'desk.key_secret'}: its public key does not belong to its secret key: regenerate it with "
            f"clustergate keys generate") in result.stderr, result.stderr
    assert "no reply" not in result.stderr
    splice_public_line(keys / "gate.key_secret", keys / "stranger.key")
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.proposals.curve.keypair: ") and str(keys / "gate.key_secret") in p
               and "does not belong to its secret key" in p for p in problems), problems


def test_a_secret_certificate_given_where_a_public_key_is_asked_is_refused_naming_the_file(tmp_path: Path) -> None:
    # keycheck: `propose --server-key gate.key_secret` and a topology naming a peer's .key_secret were accepted,
    # which invites copying secret files to other machines. Decided by content: a renamed secret file is refused too.
    keys = tmp_path / "keys"
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    result = clustergate("propose", "--symbol", "ETHUSDT", "--action", "HOLD", "--endpoint", "tcp://127.0.0.1:9",
                         "--client-key", str(keys / "desk.key_secret"), "--server-key", str(keys / "gate.key_secret"),
                         "--timeout-ms", "200", "--retries", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{keys / 'gate.key_secret'} holds a secret key where a public key is asked for" in result.stderr, result.stderr
    assert "give the .key file" in result.stderr and "no reply" not in result.stderr
    renamed = keys / "desk-copy.key"
    renamed.write_bytes((keys / "desk.key_secret").read_bytes())
    renamed.chmod(0o600)
    data["actors"]["gate"]["sockets"]["proposals"]["curve"]["allow"] = ["desk-copy"]
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.proposals.curve.allow[0]: ") and
               f"{renamed} holds a secret key where a public key is asked for" in p for p in problems), problems


def test_a_changed_password_of_an_external_redis_reaches_the_actors_at_the_next_up(tmp_path: Path, redis_server) -> None:
    """An external Redis whose password was rotated (CONFIG SET, an ACL user's new password): `up` with the new one
    must hand it to the actors, which take it from supervisord's environment. Before (secrev review), `up` restarted
    nothing (the program sections had not changed), and the actors, restarted by hand or by supervisord, kept the old
    password: every proposal HOLD `redis_unavailable`, with no way to pass the new one short of `down`."""
    old, new = "old-" + secrets.token_urlsafe(16), "new-" + secrets.token_urlsafe(16)
    r = redis_server.client()
    r.config_set("requirepass", old)
    home = tmp_path / "home"
    data = p26_topology(tmp_path, redis_server.url, curve=False)
    topology = write_topology(tmp_path / "external.yaml", data)
    try:
        up = clustergate("up", str(topology), "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": old})
        assert up.returncode == 0, up.stdout + up.stderr
        r = redis_lib.Redis(port=redis_server.port, password=old, socket_timeout=2, decode_responses=True)
        r.config_set("requirepass", new)
        r = redis_lib.Redis(port=redis_server.port, password=new, socket_timeout=2, decode_responses=True)
        write_book(r)
        again = clustergate("up", str(topology), "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": new})
        assert again.returncode == 0, again.stdout + again.stderr
        assert old not in again.stdout + again.stderr and new not in again.stdout + again.stderr
        # Connections signed in before the rotation stay signed in: drop them, as a Redis restart would.
        r.client_kill_filter(_type="normal", skipme=True)

        def decided_from_redis(client: GateClient) -> dict | None:
            reply = proposal_decided(client)
            return reply if reply and reply["decision"]["gate_reason"] not in (
                "fail_closed_portfolio_state", "redis_unavailable") else None

        with GateClient(data["actors"]["gate"]["sockets"]["proposals"]["bind"], timeout_ms=3000, retries=0) as client:
            wait_for(lambda: decided_from_redis(client), 20, "a decision made from Redis with the new password")
    finally:
        clustergate("down", "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": new})


@pytest.mark.parametrize("renamed", [False, True], ids=["same_variable", "password_env_renamed"])
def test_an_up_without_the_password_the_actors_of_an_external_redis_use_is_refused_and_they_keep_it(
        tmp_path: Path, redis_server, renamed: bool) -> None:
    """With `up` restarting supervisord when the password changed, an `up` from a shell without the variable would
    restart every actor without the external Redis's password: refused (exit 2), as for a managed Redis. The password
    is looked for under the variable the running actors read too: reproduced (secrev2 review) with real processes, a
    topology given `redis.password_env: DESK_PW` and `up` with DESK_PW unset (the old variable still set) was not
    refused, every actor restarted without a password, every proposal HOLD `redis_unavailable`."""
    password = "pw-" + secrets.token_urlsafe(16)
    redis_server.client().config_set("requirepass", password)
    home = tmp_path / "home"
    data = p26_topology(tmp_path, redis_server.url, curve=False)
    topology = write_topology(tmp_path / "external.yaml", data)
    env = {"CLUSTERGATE_REDIS_PASSWORD": password}
    try:
        assert clustergate("up", str(topology), "--home", str(home), env=env).returncode == 0
        supervisord_pid = (home / "run" / "supervisord.pid").read_text()
        if renamed:
            data["redis"]["password_env"] = "DESK_PW"
            again = clustergate("up", str(write_topology(tmp_path / "renamed.yaml", data)), "--home", str(home), env=env)
        else:
            without = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
            again = subprocess.run([PYTHON, "-m", "launcher", "up", str(topology), "--home", str(home)], cwd=REPO,
                                   capture_output=True, text=True, timeout=120, env=without)
        assert again.returncode == 2, again.stdout + again.stderr
        variable = "DESK_PW" if renamed else "CLUSTERGATE_REDIS_PASSWORD"
        assert f"{variable} is not set" in again.stderr and password not in again.stdout + again.stderr
        assert (home / "run" / "supervisord.pid").read_text() == supervisord_pid
    finally:
        clustergate("down", "--home", str(home), env=env)


def test_a_client_key_others_can_write_is_refused_so_no_stranger_can_swap_in_their_key(tmp_path: Path,
                                                                                      redis_server) -> None:
    """An allowed client's public certificate that group or others can write: any local user could put their own key
    in it and be let in. Before (secrev review: `nobody` rewrote a 0666 desk.key with the stranger's key, in a 0755
    keys_dir `validate` accepted), the restarted gate served the stranger decisions and permits."""
    system = CurveP26(tmp_path, redis_server.url)
    desk = tmp_path / "keys" / "desk.key"
    desk.chmod(0o666)
    assert any(p.startswith("actors.gate.sockets.proposals.curve.allow[0]: ") and str(desk) in p
               and "writable by group or others (mode 0666)" in p for p in problems_of(system.topology))
    desk.write_bytes((tmp_path / "keys" / "stranger.key").read_bytes())  # what another user could do
    the_gate_refuses_to_start_and_the_stranger_gets_nothing(system, redis_server, f"{desk} is writable by group or others")


def the_gate_refuses_to_start_and_the_stranger_gets_nothing(system: CurveP26, redis_server, naming: str) -> None:
    """Start the issuer and the gate: the gate exits 2 with `naming` in its log, and the stranger's client gets no
    reply."""
    with started(system, redis_server):
        wait_for(lambda: system.gate.proc is not None and system.gate.proc.poll() is not None, 20,
                 "the gate to refuse to start")
        assert system.gate.proc.returncode == 2 and naming in system.gate.log()
        the_stranger_gets_nothing(system)


@contextlib.contextmanager
def started(system: CurveP26, redis_server):
    """The issuer and the gate started on a written book; both terminated on the way out."""
    write_book(redis_server.client())
    system.issuer.start()
    system.gate.start()
    try:
        yield system
    finally:
        system.gate.terminate()
        system.issuer.terminate()


def the_stranger_gets_nothing(system: CurveP26) -> None:
    with system.client("stranger", timeout_ms=1500) as client:
        with pytest.raises(GateUnavailable):
            client.propose("ETHUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)


def test_validate_refuses_a_client_key_owned_by_another_user(tmp_path: Path) -> None:
    """Its owner could write another key in it, whatever its mode now (chmod is theirs)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    desk = tmp_path / "keys" / "desk.key"
    os.chown(desk, 65534, 65534)
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    assert any(p.startswith("actors.gate.sockets.proposals.curve.allow[0]: ") and f"{desk} is owned by uid 65534" in p
               for p in problems), problems


@pytest.mark.parametrize("sticky", [False, True])
def test_a_client_key_in_a_directory_others_can_write_is_refused_so_no_stranger_can_swap_it(tmp_path: Path,
                                                                                           sticky: bool) -> None:
    """A key named by path (`allow: [/shared/desk.key]`) in a directory any user can write: they can unlink it and put a
    symlink to another root-owned certificate (theirs) in its place, and the file's own mode and owner look fine.
    Reproduced (secrev2 review) with real processes: /shared 0777, `nobody` replaced desk.key by a symlink to the
    stranger's root-owned 0644 key; validate said ok, `up` restarted the gate, and the stranger's client was served.
    The sticky bit (/tmp's 1777) stops others from removing a file they do not own: such a directory is safe."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "desk.key").write_bytes((tmp_path / "keys" / "desk.key").read_bytes())
    shared.chmod(0o1777 if sticky else 0o777)
    data["actors"]["gate"]["sockets"]["proposals"]["curve"] = {"allow": [str(shared / "desk.key")]}
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    refused = [p for p in problems if p.startswith("actors.gate.sockets.proposals.curve.allow[0]: ")]
    if sticky:
        assert not refused, problems
    else:
        assert any(f"{shared} is writable by group or others" in p for p in refused), problems
        with pytest.raises(ValueError, match="writable by group or others"):
            read_public_key(shared / "desk.key")


@pytest.mark.parametrize("above", ["0777", "1777", "another user's", "keys dir another user's"])
def test_a_keys_directory_below_one_another_user_can_write_or_owns_is_refused_so_no_stranger_can_swap_it(
        tmp_path: Path, above: str) -> None:
    """A keys directory of mode 0700 below one any local user can write (a shared /srv of 0777), or one another user
    owns: they can rename the keys directory away and put in its place one holding their own client key (and server
    keys of their own), every file and the keys directory itself looking fine. Only the key file's own directory
    was checked. With the sticky bit (/tmp's 1777) others cannot rename what is not theirs: such a directory is safe."""
    if "another user's" in above and os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")  # CI runs as root
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    keys_dir = tmp_path / "keys"
    if above == "keys dir another user's":  # the keys directory itself
        os.chown(keys_dir, 65534, 65534)
    elif above == "another user's":
        os.chown(tmp_path, 65534, 65534)
    else:
        tmp_path.chmod(int(above, 8))
    try:
        problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    finally:
        for directory in (tmp_path, keys_dir):
            os.chown(directory, os.geteuid(), os.getegid())
        tmp_path.chmod(0o700)
    refused = [p for p in problems if p.startswith("security.curve.keys_dir: ")]
    if above == "keys dir another user's":
        assert any(f"{keys_dir} is owned by uid 65534, who could plant a key there" in p for p in refused), problems
    elif above == "1777":
        assert not refused, problems
    elif above == "0777":
        assert any(f"{tmp_path}, above {keys_dir}, is writable by group or others (mode 0777)" in p
                   for p in refused), problems
    else:
        assert any(f"{tmp_path}, above {keys_dir}, is owned by uid 65534" in p for p in refused), problems


@pytest.mark.parametrize("way", ["second symlink in a 0777 directory", "symlink another user owns in a 1777 directory",
                                 "relative keys_dir through a 0777 directory"])
def test_a_keys_directory_reached_through_a_symlink_another_user_can_repoint_is_refused(tmp_path: Path, way: str) -> None:
    """Only the directories above the path as written and as it finally resolves were checked: a symlink met on the
    way (the second of two, a relative keys_dir resolved before the check) in a directory others can write, or one
    another user owns in a sticky directory (the sticky bit keeps it theirs), was not. secrev3 review: `nobody`
    pointed its own /tmp-style symlink at a root-owned directory whose desk.key was a stranger's, and validate passed
    and the gate let the stranger in."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a symlink to another user")  # CI runs as root
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "keys").rename(real / "keys")
    shared = tmp_path / "shared"
    shared.mkdir()
    if way == "second symlink in a 0777 directory":
        shared.chmod(0o777)
        (shared / "hop").symlink_to(real)
        (tmp_path / "link").symlink_to(shared / "hop")
        keys_dir, culprit = str(tmp_path / "link" / "keys"), f"{shared}, above "
    elif way == "symlink another user owns in a 1777 directory":
        shared.chmod(0o1777)
        (shared / "keys").symlink_to(real / "keys")
        os.lchown(shared / "keys", 65534, 65534)
        keys_dir, culprit = str(shared / "keys"), f"{shared / 'keys'}, a symlink on the way to "
    else:
        shared.chmod(0o777)
        (shared / "link").symlink_to(real)
        keys_dir, culprit = "shared/link/keys", f"{shared}, above "
    data["security"]["curve"]["keys_dir"] = keys_dir
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    refused = [p for p in problems if p.startswith("security.curve.keys_dir: ") and culprit in p]
    assert refused, problems


def test_a_key_file_that_is_a_symlink_another_user_owns_in_a_sticky_directory_is_refused(tmp_path: Path) -> None:
    """allow: [/tmp/desk.key], or a *.key an actor finds in an allow_dir made 1777 after validate, being a symlink of
    `nobody` to a root-owned key: the sticky bit keeps the symlink theirs, and they could point it at a stranger's
    root-owned key; it was taken (secrev3 review), the directory being sticky and the file it leads to root's."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a symlink to another user")  # CI runs as root
    real = tmp_path / "keys"
    real.mkdir(mode=0o700)
    make_keys(real, "desk")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "desk.key").symlink_to(real / "desk.key")
    os.lchown(shared / "desk.key", 65534, 65534)
    with pytest.raises(KeyFileError, match=f"{shared / 'desk.key'}, a symlink on the way to .* is owned by uid 65534"):
        read_public_key(shared / "desk.key")


@pytest.mark.parametrize("where", ["its own directory 0777", "a directory above 0777", "a directory above 1777"])
def test_a_secret_key_in_a_directory_others_can_write_is_refused_so_no_stranger_can_swap_it(tmp_path: Path,
                                                                                           where: str) -> None:
    """Only public certificates had their directories checked: a .key_secret below a directory another user can
    write could be swapped (renamed away, a symlink or a directory of theirs put in its place) for another keypair
    owned by root or this user, which the socket would then present (keysdir review: read_keypair took it, mode
    0600 and owner being all it looked at). Modes alone, so it holds as root and as any user; the sticky bit (/tmp's
    1777) keeps others from renaming what is not theirs: such a directory is safe."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    keys_dir = tmp_path / "keys"
    secret = keys_dir / "gate.key_secret"
    culprit = keys_dir if where == "its own directory 0777" else tmp_path
    culprit.chmod(0o1777 if "1777" in where else 0o777)
    try:
        problems = problems_of(write_topology(tmp_path / "t.yaml", data))
        if "1777" in where:
            assert read_keypair(secret).public == read_public_key(keys_dir / "gate.key")
            assert not [p for p in problems if ".curve.keypair: " in p], problems
            return
        with pytest.raises(KeyFileError) as raised:
            read_keypair(secret)
    finally:
        culprit.chmod(0o700)
    said = str(raised.value)
    assert said.startswith(f"{secret}: ") and "writable by group or others (mode 0777)" in said, said
    assert f"{culprit}" in said and f"chmod go-w {culprit}" in said, said
    assert any(p.startswith("actors.gate.sockets.proposals.curve.keypair: ") and said in p for p in problems), problems


def test_a_keys_directory_given_as_the_descriptor_of_a_deleted_directory_is_refused_naming_it(tmp_path: Path) -> None:
    """keys_dir: /proc/self/fd/N whose directory was deleted (or one deleted between two looks): its link reads
    '/old/path (deleted)', and the walk above it raised FileNotFoundError out of validate instead of a problem
    naming the directory (keysdir review)."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    gone = tmp_path / "gone"
    gone.mkdir(mode=0o700)
    fd = os.open(gone, os.O_RDONLY)
    try:
        gone.rmdir()
        data["security"]["curve"]["keys_dir"] = f"/proc/self/fd/{fd}"
        problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    finally:
        os.close(fd)
    assert any(p.startswith(f"security.curve.keys_dir: /proc/self/fd/{fd} could not be checked: ")
               and f"{gone} (deleted)" in p and "No such file or directory" in p for p in problems), problems
    said = others_can_write(gone)  # deleted between `is_dir` and the check
    assert said is not None and said.startswith(f"{gone} could not be checked: ") and "No such file" in said, said


def test_a_secret_key_with_a_second_name_in_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    """A .key_secret with another name (st_nlink > 1) in a sticky directory others can write, such as /tmp: with the
    kernel's fs.protected_hardlinks off, another user can give a keypair root owns a name of their choosing there,
    owned by root and mode 0600 like a good one. Refused, as sendmail and Postfix refuse hard-linked files they trust
    (keysdir review: read_keypair took it). Holds as root and any user."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    secret = tmp_path / "keys" / "gate.key_secret"
    os.link(secret, tmp_path / "keys" / "gate-copy")
    (tmp_path / "keys").chmod(0o1777)
    try:
        problems = problems_of(write_topology(tmp_path / "t.yaml", data))
        with pytest.raises(KeyFileError) as raised:
            read_keypair(secret)
        said = str(raised.value)
        assert said.startswith(f"{secret} has 2 names (hard links)") and f" -xdev -samefile {secret}," in said, said
        assert any(p.startswith("actors.gate.sockets.proposals.curve.keypair: ") and said in p
                   for p in problems), problems
        (tmp_path / "keys" / "gate-copy").unlink()
        assert read_keypair(secret).public == read_public_key(tmp_path / "keys" / "gate.key")
    finally:
        (tmp_path / "keys").chmod(0o700)


def test_a_secret_key_hard_linked_between_release_directories_no_other_user_can_write_is_taken(tmp_path: Path) -> None:
    """Releases made with `rsync --link-dest=PREVIOUS` or `cp -al`, each keys directory 0700: every unchanged file,
    the secret keys too, is one inode with a name per release. No other user can have made a name in a directory
    only this user (or root) can write, so the second name is no sign of one: it was refused, `up` of the new
    release with it (keysdir re-review; and with fs.protected_hardlinks at 0 any user who could search a key's
    directory could stop the gate's next start by linking its key into /tmp)."""
    data = p26_topology(tmp_path / "r1", "redis://127.0.0.1:6390/0")
    (tmp_path / "r2" / "keys").mkdir(parents=True, mode=0o700)
    for file in (tmp_path / "r1" / "keys").iterdir():
        os.link(file, tmp_path / "r2" / "keys" / file.name)
    assert os.stat(tmp_path / "r2" / "keys" / "gate.key_secret").st_nlink == 2
    assert problems_of(write_topology(tmp_path / "r2" / "t.yaml", data)) == []
    assert read_keypair(tmp_path / "r2" / "keys" / "gate.key_secret").public == read_public_key(
        tmp_path / "r1" / "keys" / "gate.key")


def test_a_public_key_with_a_second_name_in_a_sticky_directory_others_can_write_is_refused_so_no_stranger_gets_in(
        tmp_path: Path, redis_server) -> None:
    """A .key the gate trusts (`allow: [/shared/ops.key]`, or a *.key of an allow_dir) with another name, in a sticky
    directory others can write such as /tmp: with the kernel's fs.protected_hardlinks at 0, another user can give a
    public key root owns (one revoked and kept in an old release, whose secret they stole) the trusted name before it
    is put there, owned by root and mode 0644 like a good one. Only .key_secret files had their names counted
    (pubkeys review: validate passed, and the gate served the stranger decisions and permits)."""
    system = CurveP26(tmp_path, redis_server.url)
    old = tmp_path / "old-release"
    old.mkdir(mode=0o755)
    os.link(tmp_path / "keys" / "stranger.key", old / "ops.key")  # the revoked key, left in an old release
    (tmp_path / "keys" / "stranger.key").unlink()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    trusted = shared / "ops.key"
    as_nobody = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "ln",
                                str(old / "ops.key"), str(trusted)], capture_output=True, text=True, timeout=60)
    if as_nobody.returncode != 0:  # fs.protected_hardlinks at 1 (or a directory above they cannot search) stops
        os.link(old / "ops.key", trusted)  # them here: make the name they could make at 0
    system.data["actors"]["gate"]["sockets"]["proposals"]["curve"]["allow"] = ["desk", str(trusted)]
    write_topology(system.topology, system.data)
    problems = problems_of(system.topology)
    with pytest.raises(KeyFileError) as raised:
        read_public_key(trusted)
    said = str(raised.value)
    assert said.startswith(f"{trusted} has 2 names (hard links)") and f" -xdev -samefile {trusted}," in said, said
    assert any(p.startswith("actors.gate.sockets.proposals.curve.allow[1]: ") and said in p for p in problems), problems
    with pytest.raises(KeyFileError, match=f"{trusted} has 2 names"):
        read_key_dir(shared)
    the_gate_refuses_to_start_and_the_stranger_gets_nothing(system, redis_server, f"{trusted} has 2 names")


def test_a_key_file_removed_or_replaced_while_it_is_checked_is_a_key_file_error_naming_it_and_never_mixes_two_files(
        tmp_path: Path) -> None:
    """A key file removed, or replaced by another (an operator's `mv new.key desk.key`), between its read and its
    stat: the content read was one file's and the mode, owner and names looked at another's, so a 0666 file's key
    was taken on a 0644 file's word, and a file gone in the middle was 'not a file', 'not a CurveZMQ certificate'
    (pubkeys review). The file is opened once, and what was read is judged by the open descriptor's fstat. A second
    process swaps the files as fast as it can, until 3000 reads took a key or after 40,000 reads, not for a time."""
    make_keys(tmp_path / "keys", "desk", "stranger")
    keys = tmp_path / "keys"
    good, bad, target = keys / "good", keys / "bad", keys / "desk-now.key"
    good.write_bytes((keys / "desk.key").read_bytes())
    bad.write_bytes((keys / "stranger.key").read_bytes())
    good.chmod(0o644)
    bad.chmod(0o666)  # anyone could have written it: its key is never to be taken
    desk, stranger = read_public_key(keys / "desk.key"), read_public_key(keys / "stranger.key")
    swap = (f"import os, sys\n"
            f"good, bad, target, step = {str(good)!r}, {str(bad)!r}, {str(target)!r}, {str(keys / 'step')!r}\n"
            f"for i in range(5_000_000):\n"
            f"    os.link(bad if i % 2 else good, step)\n"
            f"    os.replace(step, target)\n"
            f"    if i % 3 == 0:\n"
            f"        os.unlink(target)\n")
    swapper = subprocess.Popen([PYTHON, "-c", swap])
    clear_refusals = (f"{target} does not exist", f"{target} is writable by group or others",
                      f"{target} could not be checked")  # the last by the walk to it: gone since it was read
    said: dict[str, int] = {}
    taken: list[bytes] = []
    try:
        wait_for(lambda: target.exists(), 60, "the second process to start swapping")
        for _ in range(40_000):
            if len(taken) >= 3000:
                break
            try:
                taken.append(read_public_key(target))
            except KeyFileError as exc:
                why = next((clear for clear in clear_refusals if clear in str(exc)), str(exc))
                said[why] = said.get(why, 0) + 1
    finally:
        swapper.kill()
        swapper.wait(60)
    assert taken, said  # the good file was read whole at least once: the race was run, not only lost
    assert stranger not in taken, f"the 0666 file's key was taken {taken.count(stranger)} times of {len(taken)}"
    assert set(taken) <= {desk}, taken
    assert set(said) <= set(clear_refusals), said


def test_a_certificate_with_a_key_line_without_an_equals_sign_is_a_key_file_error_naming_it_not_a_traceback(
        tmp_path: Path) -> None:
    """A `public-key` or `secret-key` line with no '=' (a line cut short, a hand edit): pyzmq's load_certificate
    raised IndexError out of validate, `propose` and an actor's start (pubkeys review); it is refused as pyzmq
    refused it, naming the line (revpub review: skipped, a certificate with such a line was taken)."""
    make_keys(tmp_path / "keys", "desk")
    public_line = next(line for line in (tmp_path / "keys" / "desk.key").read_text().splitlines()
                       if line.strip().startswith("public-key"))
    cut = {tmp_path / "keys" / "cut.key": "public-key\n",
           tmp_path / "keys" / "cut.key_secret": f"curve\n{public_line}\n    secret-key\n"}
    for path, text in cut.items():
        path.write_text(text)
        path.chmod(0o600)
    for path, name in ((tmp_path / "keys" / "cut.key", "public-key"), (tmp_path / "keys" / "cut.key_secret", "secret-key")):
        with pytest.raises(KeyFileError) as raised:
            (read_public_key if path.suffix == ".key" else read_keypair)(path)
        assert str(raised.value).startswith(f"{path} is not a CurveZMQ certificate: a {name} line without '='")



def test_the_refusal_of_a_hard_linked_key_named_through_a_symlink_names_a_find_that_finds_its_other_names(
        tmp_path: Path) -> None:
    """`allow: [keys/ops.key]`, a symlink to /shared/ops.key (a sticky directory others can write) with a second
    name: the refusal's `find MOUNTPOINT -xdev -samefile FILE` names the file the symlink leads to, for find compares
    with the symlink itself and finds no other name of the key (revpub review: it named the symlink, and the
    command it gave found only that)."""
    make_keys(tmp_path / "keys", "desk")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    os.link(tmp_path / "keys" / "desk.key", shared / "ops.key")
    named = tmp_path / "keys" / "ops.key"
    named.symlink_to(shared / "ops.key")
    with pytest.raises(KeyFileError) as raised:
        read_public_key(named)
    said = str(raised.value)
    assert said.startswith(f"{named} has 2 names (hard links)"), said
    command = said.split("find them with ", 1)[1].split(", remove every other", 1)[0]
    words = command.split()
    assert words[0] == "find" and words[2:4] == ["-xdev", "-samefile"] and len(words) == 5, command
    # The place it searches is where the key's filesystem is mounted (every name of the key lies below it)...
    mount = Path(words[1])
    between = [d for d in tmp_path.resolve().parents if d.is_relative_to(mount) and d != mount]
    assert os.path.ismount(mount) and not any(os.path.ismount(d) for d in between), (command, between)
    assert tmp_path.resolve().is_relative_to(mount), command
    # ...and the same find below tmp_path, where this test made every name of the key, finds them all: run over the
    # whole mount it scanned the machine's root filesystem (5 s idle, 26 s under the full suite's load).
    found = subprocess.run(["find", str(tmp_path), *words[2:]], capture_output=True, text=True, timeout=600)
    assert set(found.stdout.split()) == {str(tmp_path / "keys" / "desk.key"), str(shared / "ops.key")}, (command, found)

IN_OPEN = 0x20  # inotify(7): the file was opened (an O_PATH look is not an open)


@contextlib.contextmanager
def opens_watched(path: Path):
    """An inotify watch on the file `path` leads to; yields a function telling whether anything opened it since."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.inotify_add_watch(fd, os.fsencode(path), IN_OPEN) >= 0, os.strerror(ctypes.get_errno())

        def opened() -> bool:
            try:
                return bool(os.read(fd, 4096))
            except BlockingIOError:
                return False
        yield opened
    finally:
        os.close(fd)


@pytest.mark.parametrize("what", ["a FIFO", "a device"])
def test_a_trusted_key_name_leading_to_a_fifo_or_a_device_is_refused_without_being_opened(tmp_path: Path,
                                                                                          what: str) -> None:
    """`allow: [/shared/ops.key]` in a sticky directory others can write, where another user put a FIFO of theirs,
    or a name leading to a device: validate (and an actor's start, `propose`) refuse it as not a file without opening
    it.
    revpub review: the pubkeys change opened the key file (O_NONBLOCK) before fstat judged it, so any local user could have root
    open a device of their choosing (a watchdog is armed by an open, a tape rewinds) or release their own process
    waiting on a FIFO for a reader; before the pubkeys change, stat refused it unopened."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    trusted = shared / "ops.key"
    if what == "a FIFO":
        node = trusted
        os.mkfifo(node, 0o644)
        os.chown(node, 65534, 65534)  # what uid 65534 makes with mkfifo there
    else:
        node = tmp_path / "null-device"  # a /dev/null of our own: no one else opens it
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        trusted.symlink_to(node)  # root's own: another user's is refused before it is followed (the test below)
    data["actors"]["gate"]["sockets"]["proposals"]["curve"]["allow"] = ["desk", str(trusted)]
    path = write_topology(tmp_path / "t.yaml", data)
    with opens_watched(node) as opened:
        result = clustergate("validate", str(path))
        with pytest.raises(KeyFileError, match=f"^{trusted} is not a file$"):
            read_public_key(trusted)
        assert not opened(), f"{what} named as a trusted key was opened"
    assert result.returncode == 2 and f"allow[1]: {trusted} is not a file" in result.stdout, result.stdout




def sticky_directory(tmp_path: Path) -> Path:
    """tmp_path/shared, of mode 1777 as /tmp: any user may make names there, and change only their own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def sticky_directory_and_a_root_only_file(tmp_path: Path) -> tuple[Path, Path]:
    """sticky_directory and tmp_path/root-only (0600, no key line): what another user's symlink in the one is pointed
    at in the other."""
    private = tmp_path / "root-only"
    private.write_text("not a certificate\n")
    private.chmod(0o600)
    return sticky_directory(tmp_path), private



def test_a_trusted_key_name_that_is_another_users_symlink_in_a_sticky_directory_is_refused_before_what_it_leads_to_is_read(
        tmp_path: Path) -> None:
    """`allow: [/shared/ops.key]` in a sticky directory others can write, where uid 65534 made the name a symlink of
    theirs to a file only root may read: it is refused naming the symlink without that file being opened (revpub
    review: with fs.protected_symlinks at 0 root opened and read what it led to, /proc/kmsg's kernel messages taken
    from syslog's reader say, and a file without a key line was "not a CurveZMQ certificate", hiding whose symlink it
    was; at 1 the kernel itself refuses to follow it)."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    shared, private = sticky_directory_and_a_root_only_file(tmp_path)
    trusted = shared / "ops.key"
    trusted.symlink_to(private)
    os.lchown(trusted, 65534, 65534)  # what uid 65534 makes with ln -s there
    data["actors"]["gate"]["sockets"]["proposals"]["curve"]["allow"] = ["desk", str(trusted)]
    path = write_topology(tmp_path / "t.yaml", data)
    with opens_watched(private) as opened:
        result = clustergate("validate", str(path))
        assert not opened(), "what another user's symlink leads to was opened"
    assert result.returncode == 2, result.stdout
    line = next(line for line in result.stdout.splitlines() if "allow[1]: " in line)
    if Path("/proc/sys/fs/protected_symlinks").read_text().strip() == "0":
        assert f"{trusted}, a symlink on the way to {trusted}, is owned by uid 65534 in the sticky directory" in line, line

@pytest.mark.parametrize("theirs", ["symlinks", "symlinks and files"])
def test_a_key_name_another_user_makes_a_symlink_while_it_is_looked_at_is_refused_unfollowed_and_never_a_traceback(
        tmp_path: Path, theirs: str) -> None:
    """uid 65534 makes `/shared/ops.key` (a sticky directory others can write) a symlink of theirs to a file only root
    may read (then, with files, a file of theirs) and removes it, over and over, while root reads the trusted key:
    what the symlink leads to is never opened, and
    every refusal is a key file error (revpub2 review: the way was checked before the open only when the name
    existed at that look, so a symlink made just after it was followed unchecked, and root opened and read the file
    in about 3 reads of 100; and a symlink removed while the way was being resolved raised FileNotFoundError out of
    validate)."""
    shared, private = sticky_directory_and_a_root_only_file(tmp_path)
    trusted = shared / "ops.key"
    racer = ("import os, sys\n"
             "for _ in range(5_000_000):\n"
             "    if os.getppid() == 1:\n"
             "        break\n"
             "    try:\n"
             "        os.symlink(sys.argv[1], 'link', dir_fd=int(sys.argv[2]))\n"
             "        os.rename('link', 'ops.key', src_dir_fd=int(sys.argv[2]), dst_dir_fd=int(sys.argv[2]))\n"
             "        if sys.argv[3] == 'symlinks and files':\n"
             "            os.close(os.open('file', os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=int(sys.argv[2])))\n"
             "            os.rename('file', 'ops.key', src_dir_fd=int(sys.argv[2]), dst_dir_fd=int(sys.argv[2]))\n"
             "        os.unlink('ops.key', dir_fd=int(sys.argv[2]))\n"
             "    except OSError:\n"
             "        pass\n")
    way = os.open(shared, os.O_PATH | os.O_DIRECTORY)  # tmp_path's parents are root's 0700: uid 65534 gets in by it
    try:
        attacker = subprocess.Popen(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", PYTHON, "-c",
                                     racer, str(private), str(way), theirs], pass_fds=(way,))
    finally:
        os.close(way)
    escaped: list[str] = []
    try:
        with opens_watched(private) as opened:
            deadline, reads, was_opened = time.monotonic() + 6, 0, False
            while time.monotonic() < deadline and reads < 300_000 and not was_opened and attacker.poll() is None:
                reads += 1
                try:
                    read_public_key(trusted)
                except KeyFileError:
                    pass
                except OSError as exc:
                    escaped.append(repr(exc))
                was_opened = opened()
    finally:
        attacker.kill()
        attacker.wait(timeout=30)
    assert reads > 1000, f"only {reads} reads raced the symlink"
    assert not was_opened, f"what another user's symlink leads to was opened (after {reads} reads)"
    assert not escaped, escaped[:3]


def read_public_keys_without_proc(*paths: Path) -> subprocess.CompletedProcess:
    """read_public_key of each path in a mount namespace of its own with an empty tmpfs over /proc (a bare
    container, a chroot): a line each, the key or the KeyFileError."""
    script = ("import sys\n"
              "from pathlib import Path\n"
              "from launcher.curve import KeyFileError, read_public_key\n"
              "assert not Path('/proc/self/fd').exists()\n"
              "for name in sys.argv[1:]:\n"
              "    try:\n"
              "        print(read_public_key(Path(name)).decode())\n"
              "    except KeyFileError as exc:\n"
              "        print(exc)\n")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'mount -t tmpfs none /proc && exec "$@"', "sh", PYTHON, "-c", script, *map(str, paths)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_without_proc_mounted_a_key_file_is_still_read_and_a_fifo_still_refused_unopened(tmp_path: Path) -> None:
    """A key file is opened through /proc/self/fd (the very file its O_PATH look found); where /proc is not mounted
    (a bare container, a chroot) it is opened by name instead, and still judged by the descriptor's fstat (revpub
    review). Run in a mount namespace of its own with an empty tmpfs over /proc."""
    make_keys(tmp_path / "keys", "desk")
    fifo = tmp_path / "keys" / "fifo.key"
    os.mkfifo(fifo, 0o644)
    with opens_watched(fifo) as opened:
        run = read_public_keys_without_proc(tmp_path / "keys" / "desk.key", fifo)
        assert not opened(), "the FIFO was opened"
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [read_public_key(tmp_path / "keys" / "desk.key").decode(), f"{fifo} is not a file"]

def test_without_proc_mounted_a_key_file_another_user_owns_is_refused_without_being_opened_by_name(
        tmp_path: Path) -> None:
    """Where /proc is not mounted a key file is opened by name: one another user owns in a sticky directory, where
    they may replace it, is refused before that open, as it is after (revpub2 review: uid 65534 renaming a FIFO of
    theirs over their own certificate had root open the FIFO, in about 2 reads of 100, between the O_PATH look that
    found a file and the open by name; only the inode compared after it refused it)."""
    theirs = sticky_directory(tmp_path) / "ops.key"
    theirs.write_text('public-key = "0000000000000000000000000000000000000000"\n')
    theirs.chmod(0o644)
    os.chown(theirs, 65534, 65534)  # what uid 65534 writes there
    with opens_watched(theirs) as opened:
        run = read_public_keys_without_proc(theirs)
        assert not opened(), "another user's file was opened by name"
    assert run.returncode == 0, run.stderr
    assert f"{theirs} is owned by uid 65534 in the sticky directory {theirs.parent}, so they could" in run.stdout, \
        run.stdout


def test_a_certificate_is_read_line_by_line_as_pyzmq_reads_it_so_a_carriage_return_starts_no_line_and_the_gate_trusts_that_key(
        tmp_path: Path, redis_server) -> None:
    """A certificate's lines end at '\\n' only, as pyzmq's load_certificate (and every tool using it) reads them: a
    lone '\\r' inside a comment starts no line (pubkeys review: the new parser split at '\\r' too, so a
    `# ...\\r public-key = "..."` comment trailer put its key where pyzmq reads the line above, and the gate trusted
    the stranger instead of the desk)."""
    system = CurveP26(tmp_path, redis_server.url)
    desk_file = tmp_path / "keys" / "desk.key"
    stranger = read_public_key(tmp_path / "keys" / "stranger.key")
    with desk_file.open("ab") as f:
        f.write(b"#   the key before this one was\r    public-key = \"" + stranger + b"\"\n")
    assert read_public_key(desk_file) == zmq.auth.load_certificate(desk_file)[0] != stranger
    with started(system, redis_server):
        with system.client("desk") as desk:
            wait_for(lambda: proposal_decided(desk), 20, "the gate to serve the desk its certificate names")
        the_stranger_gets_nothing(system)



def test_a_key_of_40_characters_that_are_not_z85_is_a_key_file_error_naming_it_not_a_traceback(tmp_path: Path) -> None:
    """A key of 40 characters libzmq cannot decode (one outside the Z85 alphabet, or a group of five over 2**32): a
    keypair's raised ZMQError 'Invalid argument' out of validate and an actor's start, a server key's out of
    `propose` as "Invalid argument" naming no file, and an allowed one passed validate and matched no client (revpub
    review: 'holds a key that is not 40 Z85 characters' checked the length only, as pyzmq's parser did)."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    keys = tmp_path / "keys"
    for file, line, bad in ((keys / "gate.key_secret", "secret-key", "~"), (keys / "desk.key", "public-key", "#####" * 8)):
        text = file.read_text()
        key = text.split(f'{line} = "', 1)[1][:40]
        file.write_text(text.replace(key, bad + key[len(bad):]))
    path = write_topology(tmp_path / "t.yaml", data)
    result = clustergate("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for file in (keys / "gate.key_secret", keys / "desk.key"):
        assert f"{file} holds a key that is not 40 Z85 characters" in result.stdout, result.stdout
    propose = clustergate("propose", "--endpoint", "tcp://127.0.0.1:9", "--client-key", str(keys / "stranger.key_secret"),
                          "--server-key", str(keys / "desk.key"), "--symbol", "ETHUSDT", "--action", "PARTIAL_50",
                          "--retries", "0", "--timeout-ms", "300")
    assert propose.returncode != 0 and f"{keys / 'desk.key'} holds a key that is not 40 Z85 characters" in propose.stderr, \
        propose.stderr[-2000:]

KEY_A, KEY_B = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
CERTIFICATE_VARIANTS = {
    "CRLF": f'curve\r\n    public-key = "{KEY_A}"\r\n',
    "a lone CR in a comment": f'curve\n    public-key = "{KEY_A}"\n# was\r    public-key = "{KEY_B}"\n',
    "CR only (old Mac)": f'#   a comment\rcurve\r    public-key = "{KEY_A}"\r',
    "tabs": f'curve\n\t\tpublic-key\t=\t"{KEY_A}"\t\n',
    "single quotes": f"curve\n    public-key = '{KEY_A}'\n",
    "no quotes, trailing spaces": f"curve\n    public-key = {KEY_A}   \n",
    "a UTF-8 BOM before curve": f'\ufeffcurve\n    public-key = "{KEY_A}"\n',
    "a UTF-8 BOM before the key line": f'\ufeffpublic-key = "{KEY_A}"\n',
    "metadata and a form feed": f'metadata\n    owner = "desk"\n#\x0cpublic-key = "{KEY_B}"\ncurve\n    public-key = "{KEY_A}"\n',
    "two public-key lines": f'public-key = "{KEY_B}"\npublic-key = "{KEY_A}"\n',
    "a key line without '=' after a good one": f'curve\n    public-key = "{KEY_A}"\n    public-key\n',
    "a key line without '=' before a good one": f'curve\n    public-key\n    public-key = "{KEY_A}"\n',
    "a secret-key line without '='": f'curve\n    public-key = "{KEY_A}"\n    secret-key\n',
    "a key of 39 characters": f'public-key = "{KEY_A[:39]}"\n',
    "an empty key": 'public-key = ""\n',
    "no key line": "curve\n",
    "empty": "",
}


@pytest.mark.parametrize("variant", sorted(CERTIFICATE_VARIANTS))
def test_a_public_certificate_is_taken_or_refused_as_pyzmq_load_certificate_takes_or_refuses_it(
        tmp_path: Path, variant: str) -> None:
    """Every certificate text is read to the same key as pyzmq's load_certificate reads it, or refused (a
    KeyFileError naming it) where pyzmq refuses it, by any exception; pyzmq is the reference the parser replaced
    (pubkeys review: a lone CR split lines pyzmq does not split, and a key line without '=', an IndexError in pyzmq,
    was skipped and the certificate taken)."""
    path = tmp_path / "variant.key"
    path.write_bytes(CERTIFICATE_VARIANTS[variant].encode())
    path.chmod(0o644)
    try:
        theirs = zmq.auth.load_certificate(path)[0]
        assert len(theirs) == 40
    except Exception:  # pyzmq refuses it (or gives a key no socket takes)
        with pytest.raises(KeyFileError, match=f"^{path} "):
            read_public_key(path)
    else:
        assert read_public_key(path) == theirs


@pytest.mark.parametrize("where", ["keypair", "keys_dir", "allow_dir"])
@pytest.mark.parametrize("why", ["a name too long", "a symlink loop"])
def test_a_key_path_the_kernel_cannot_look_at_is_a_problem_naming_it_not_a_crash(tmp_path: Path, where: str,
                                                                                 why: str) -> None:
    """A keypair, keys_dir or allow_dir whose path stat() cannot follow (ENAMETOOLONG; ELOOP) crashed validate with
    OSError, or RuntimeError('Symlink loop') from Path.resolve for an allow_dir, and a keypair that is a symlink loop
    was said not to exist, 'make one with keys generate', which then fails: the name is taken (keysdir re-review).
    The same for EACCES as a user other than root (a directory on the way not searchable): the next test."""
    data = p26_topology(tmp_path, "redis://127.0.0.1:6390/0")
    name = "x" * 300 if why == "a name too long" else "loop"
    if why == "a symlink loop":
        (tmp_path / "loop").symlink_to("loop")
    curve = data["actors"]["gate"]["sockets"]["proposals"]["curve"]
    if where == "keypair":
        curve["keypair"] = f"{name}.key_secret"
        (tmp_path / f"{name}.key_secret").symlink_to(f"{name}.key_secret") if why == "a symlink loop" else None
    elif where == "keys_dir":
        data["security"]["curve"]["keys_dir"] = name
    else:
        curve["allow_dir"] = name
    problems = problems_of(write_topology(tmp_path / "t.yaml", data))
    field = {"keypair": "actors.gate.sockets.proposals.curve.keypair", "keys_dir": "security.curve.keys_dir",
             "allow_dir": "actors.gate.sockets.proposals.curve.allow_dir"}[where]
    strerror = "File name too long" if why == "a name too long" else "Too many levels of symbolic links"
    assert any(p.startswith(f"{field}: {tmp_path}/{name}") and f"cannot be looked at: {strerror}" in p
               for p in problems), problems
    assert not [p for p in problems if "does not exist" in p or "keys generate" in p], problems


def test_a_key_path_below_a_directory_this_user_cannot_search_is_a_key_file_error_naming_it(tmp_path: Path) -> None:
    """As a user other than root, a key below a directory it cannot search (/root, a 0700 directory of another
    user's) raised PermissionError out of validate, `up --host` and an actor's start instead of a KeyFileError
    naming the path (keysdir re-review; root searches every directory, so the test drops to uid 65534)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to become another user")
    make_keys(tmp_path / "keys", "gate")
    tmp_path.chmod(0o700)
    script = (f"import os, sys; from pathlib import Path\n"
              f"from launcher.curve import KeyFileError, read_keypair, read_public_key, read_key_dir\n"
              f"import zmq.auth\n"
              f"os.setegid(65534); os.seteuid(65534)\n"
              f"keys = Path({str(tmp_path / 'keys')!r})\n"
              f"for read, path in ((read_keypair, keys / 'gate.key_secret'), (read_public_key, keys / 'gate.key'),"
              f" (read_key_dir, keys)):\n"
              f"    try:\n        read(path)\n    except KeyFileError as exc:\n        print(exc)\n")
    done = subprocess.run([PYTHON, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert [line.split(" cannot be looked at: ")[0] for line in said] == [f"{tmp_path}/keys/gate.key_secret", f"{tmp_path}/keys/gate.key",
                                                     f"{tmp_path}/keys"], said
    assert all("cannot be looked at: Permission denied (a directory on the way is not searchable by this user, "
               "uid 65534)" in line for line in said), said


def test_a_hard_linked_secret_key_on_another_filesystem_names_the_find_that_finds_its_other_name() -> None:
    """The refusal of a hard-linked .key_secret said `find / -xdev -samefile FILE`: on a key on any filesystem but
    the root one (/srv, /etc/clustergate on its own disk, a tmpfs), -xdev keeps find out of it and it finds nothing,
    not even FILE. It names the filesystem the key is on (keysdir re-review)."""
    if not os.path.ismount("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat("/").st_dev:
        pytest.skip("needs /dev/shm, a filesystem of its own")
    import tempfile
    with tempfile.TemporaryDirectory(dir="/dev/shm") as scratch:
        make_keys(Path(scratch) / "keys", "gate")
        secret = Path(scratch) / "keys" / "gate.key_secret"
        os.link(secret, Path(scratch) / "keys" / "backup")
        (Path(scratch) / "keys").chmod(0o1777)  # where another user could have made the second name
        with pytest.raises(KeyFileError) as raised:
            read_keypair(secret)
        said = str(raised.value)
        assert f"find /dev/shm -xdev -samefile {secret}" in said, said
        command = said.split("find ", 1)[1].split(",")[0].split()
        found = subprocess.run(["find", *command], capture_output=True, text=True, timeout=60).stdout.split()
        assert sorted(found) == sorted([str(secret), f"{scratch}/keys/backup"]), found


@pytest.mark.parametrize("password", ["two words", 'quo"te', "it's"])
def test_a_managed_sentinel_password_with_a_space_or_a_quote_is_refused_before_anything_starts(
        tmp_path: Path, password: str) -> None:
    """Redis Sentinel (7.0) rewrites sentinel.conf at its first start with `sentinel auth-pass MASTER PASSWORD`
    unquoted. Reproduced (secrev review) with the rendered configs and a real redis-server and sentinel: the password
    `p@ss :w/rd #"' %x\\y`, quoted in the seed, came back unquoted, and the restarted sentinel died with FATAL CONFIG
    FILE ERROR "Unbalanced quotes", printing the password into its log: after one restart no sentinel, no failover."""
    data = p26_topology(tmp_path, None, curve=False)
    data["redis"] = {"managed": True, "sentinel": {"master": "desk", "servers": ["127.0.0.1:26490", "127.0.0.1:26491"],
                                                   "sentinels": ["127.0.0.1:26492", "127.0.0.1:26493", "127.0.0.1:26494"]}}
    topology = write_topology(tmp_path / "sentinel.yaml", data)
    home = tmp_path / "home"
    try:
        up = clustergate("up", str(topology), "--home", str(home), env={"CLUSTERGATE_REDIS_PASSWORD": password})
        assert up.returncode == 2, up.stdout + up.stderr
        assert "CLUSTERGATE_REDIS_PASSWORD" in up.stderr and "Sentinel" in up.stderr
        assert password not in up.stdout + up.stderr
        assert not (home / "run" / "supervisor.sock").exists()
    finally:
        clustergate("down", "--home", str(home))


def test_an_up_after_a_client_key_was_replaced_restarts_the_gate_so_the_old_key_is_let_in_no_more(
        tmp_path: Path) -> None:
    """Revoking a client (its secret leaked): replace its keypair in keys_dir, run `up`. The actors read keys when they
    start, so `up` must restart those whose keys changed. Before (secrev review), `up` said `restarted -` and the
    running gate went on serving the revoked key."""
    password = "pw-" + secrets.token_urlsafe(16)
    data = p26_topology(tmp_path, None)
    topology = write_topology(tmp_path / "secured.yaml", data)
    home, keys_dir = tmp_path / "home", tmp_path / "keys"
    env = {"CLUSTERGATE_REDIS_PASSWORD": password}
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    gate_public = read_public_key(keys_dir / "gate.key")

    def client(keypair) -> GateClient:
        return GateClient(endpoint, timeout_ms=1500, retries=0, client_keypair=keypair, server_public_key=gate_public)

    try:
        assert clustergate("up", str(topology), "--home", str(home), env=env).returncode == 0
        write_book(redis_lib.Redis(port=data["redis"]["port"], password=password, socket_timeout=2))
        revoked = read_keypair(keys_dir / "desk.key_secret")
        with client(revoked) as desk:
            wait_for(lambda: proposal_decided(desk), 20, "the gate to serve desk's first key")
        for suffix in (".key", ".key_secret"):
            (keys_dir / ("desk" + suffix)).unlink()
        generate_keypair(keys_dir, "desk")
        again = clustergate("up", str(topology), "--home", str(home), env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        with client(read_keypair(keys_dir / "desk.key_secret")) as desk:
            wait_for(lambda: proposal_decided(desk), 20, "the gate to serve desk's new key")
        with client(revoked) as old:
            with pytest.raises(GateUnavailable):
                old.propose("ETHUSDT", "PARTIAL_50", plan_id=uuid.uuid4().hex)
    finally:
        clustergate("down", "--home", str(home), env=env)
