"""The launcher against real supervisord and a real managed redis-server."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from helpers import DEADLINE_SCALE, REPO, demo_topology_data, retarget, write_topology
from launcher.supervise import Home, never_starting_by_themselves, render_programs, started_left_stopped
from launcher.topology import EXIT_BAD_INPUT_LINE, load_topology


def clustergate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def test_rendered_programs_are_accepted_by_supervisors_own_parser(tmp_path: Path) -> None:
    from supervisor.options import ServerOptions

    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    topo = load_topology(topo_path)
    home = Home(tmp_path / "home")
    home.prepare()
    home.programs.write_text(render_programs(topo, home))
    options = ServerOptions()
    options.realize(["-c", str(home.conf)])
    names = [group.name for group in options.process_group_configs]
    assert names == ["redis", *topo.actors]
    gate = next(g for g in options.process_group_configs if g.name == "gate").process_configs[0]
    assert "-m actors.gate" in gate.command and gate.autorestart and gate.stopsignal == 15


@pytest.fixture
def system(tmp_path: Path):
    """A retargeted demo topology in its own home; always brought down."""
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    yield home, topo_path
    clustergate("down", "--home", str(home))


def supervisorctl(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c", str(home / "supervisord.conf"), *args],
                          capture_output=True, text=True, timeout=60)


def pids(home: Path) -> dict[str, int]:
    status = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
    return {row["name"]: row["pid"] for row in status["programs"]}


def test_up_status_and_down_of_the_demo_topology(system) -> None:
    home, topo_path = system
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    assert "all ready" in up.stdout
    assert f"is up: `clustergate status --home {home.resolve()}` shows it" in up.stdout, up.stdout  # not the repo's

    status = clustergate("status", "--json", "--home", str(home))
    assert status.returncode == 0, status.stdout
    rows = {row["name"]: row for row in json.loads(status.stdout)["programs"]}
    assert set(rows) == {"redis", *load_topology(topo_path).actors}
    assert all(row["state"] == "RUNNING" and row["ready"] for row in rows.values())
    assert rows["gate"]["metrics_url"].startswith("http://127.0.0.1:")

    plain = supervisorctl(home, "status")
    assert "gate" in plain.stdout and "RUNNING" in plain.stdout

    down = clustergate("down", "--home", str(home))
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (home / "run" / "supervisor.sock").exists() or supervisorctl(home, "status").returncode != 0


def test_up_again_with_one_actor_changed_restarts_only_that_actor(system) -> None:
    home, topo_path = system
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    before = pids(home)
    data = yaml.safe_load(topo_path.read_text())
    data["actors"]["gate"].setdefault("settings", {})["cold_stress"] = 0.5
    write_topology(topo_path, data)
    again = clustergate("up", str(topo_path), "--home", str(home))
    assert again.returncode == 0, again.stdout + again.stderr
    after = pids(home)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"gate"}


def test_up_again_with_an_actor_removed_restarts_no_other_actor(system) -> None:
    # opday: a program's supervisord priority was its place in the file, so removing the demo's `book` (second of
    # eight) moved every later program's priority, and supervisord's update restarted all six of them, the gate and
    # the permit issuer included ("removed ['book']" beside "restarted ['buffer', ..., 'gate']").
    home, topo_path = system
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    before = pids(home)
    data = yaml.safe_load(topo_path.read_text())
    del data["actors"]["book"]
    write_topology(topo_path, data)
    again = clustergate("up", str(topo_path), "--home", str(home))
    assert again.returncode == 0, again.stdout + again.stderr
    after = pids(home)
    assert set(after) == set(before) - {"book"}
    assert {name for name in after if before[name] != after[name]} == set(), again.stdout


def test_down_stops_redis_after_every_actor(system) -> None:
    """opday2: `down` had supervisord's stopAllProcesses signal every program at once, the managed Redis first, so an
    actor's last write at its SIGTERM (the buffer's history: `history_not_persisted ... Connection refused`, 2 downs of
    3) met a Redis already gone. The actors stop first; Redis once they have."""
    home, topo_path = system
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    log = home / "run" / "supervisord.log"
    start = len(log.read_text().splitlines())
    down = clustergate("down", "--home", str(home))
    assert down.returncode == 0, down.stdout + down.stderr
    stopped = [m.group(1) for line in log.read_text().splitlines()[start:]
               if (m := re.search(r"(?:stopped|exited): (\S+) ", line))]
    assert set(stopped) >= {"redis", "buffer", "gate", "permit_issuer"}, stopped
    assert stopped[-1] == "redis", stopped


def test_a_change_of_the_issuers_cooldown_ttl_restarts_the_gates_whose_cache_assumes_it(tmp_path: Path) -> None:
    """A gate's cache marks a symbol cooled down for the issuer's cooldown_ttl_s after a decision it recorded,
    so `up` restarts the gate with the issuer when that TTL changes (a gate kept the TTL of its start)."""
    from launcher.supervise import actor_config_hash

    data = retarget(demo_topology_data(), "redis://127.0.0.1:1/0")

    def loaded(cooldown_ttl_s: int | None):
        data["actors"]["permit_issuer"]["settings"] = {} if cooldown_ttl_s is None else {"cooldown_ttl_s": cooldown_ttl_s}
        return load_topology(write_topology(tmp_path / "topology.yaml", data))

    def restarted(a: int | None, b: int | None) -> set[str]:
        before, after = loaded(a), loaded(b)
        return {n for n in before.actors if actor_config_hash(before, n) != actor_config_hash(after, n)}

    assert restarted(None, 600) == {"permit_issuer", "gate"}
    assert restarted(600, 30) == {"permit_issuer", "gate"}
    assert restarted(None, 60) == set()  # the default written out
    data["actors"]["permit_issuer"]["settings"] = {"permit_ttl_s": 30}  # an issuer setting the gates do not read
    other = load_topology(write_topology(tmp_path / "other.yaml", data))
    assert {n for n in other.actors if actor_config_hash(other, n) != actor_config_hash(loaded(None), n)} == {"permit_issuer"}
    assert loaded(600).issuer_cooldown_ttl_s == 600 and loaded(None).issuer_cooldown_ttl_s == 60


def test_up_adding_a_standby_state_writer_restarts_the_running_one_so_only_the_lease_holder_writes(system) -> None:
    # rev-cluster: the running writer's settings had not changed, so `up` left it running with no lease (it had
    # been the only writer): it kept writing every cadence beside the standby that took the lease, both showing
    # p27_state_writer_lease_held 1, and its records carried no fencing token.
    import redis

    from helpers import free_port, scrape, wait_for
    from launcher import keys

    home, topo_path = system
    data = yaml.safe_load(topo_path.read_text())
    # The records below come once the correlator is ready: after min_returns + 1 points, 3 s here, not the demo's 11.
    data["clusters"]["min_returns"] = 2
    write_topology(topo_path, data)
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    before = pids(home)
    data["actors"]["state_writer_b"] = {**data["actors"]["state_writer"], "kind": "state_writer",
                                        "metrics_port": free_port()}
    write_topology(topo_path, data)
    again = clustergate("up", str(topo_path), "--home", str(home))
    assert again.returncode == 0, again.stdout + again.stderr
    after = pids(home)
    assert {name for name in before if before[name] != after[name]} == {"state_writer"}, again.stdout
    ports = [data["actors"][w]["metrics_port"] for w in ("state_writer", "state_writer_b")]
    wait_for(lambda: sum(scrape(port).get("p27_state_writer_lease_held", 0) for port in ports) == 1, 30 * DEADLINE_SCALE,
             "exactly one state writer to hold the lease")
    r = redis.Redis(port=data["redis"]["port"], decode_responses=True)
    last_id = (r.xrevrange(keys.CLUSTER_STATE_STREAM, count=1) or [("0-0", {})])[0][0]

    def records_since() -> list[dict]:
        return [fields for _, fields in r.xrange(keys.CLUSTER_STATE_STREAM, min=f"({last_id}")]

    wait_for(lambda: len(records_since()) >= 4, 30 * DEADLINE_SCALE, "four more cluster state records")
    assert all("fence_token" in record for record in records_since()), records_since()


def test_up_again_starts_the_programs_stopped_by_hand_and_leaves_the_others_running(system) -> None:
    # rev-operator: after `supervisorctl stop book` (operating.md's way to edit positions) and `stop gate`,
    # `up` of the same topology waited its whole timeout for "book (stopped), gate (stopped)", then failed.
    home, topo_path = system
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    assert supervisorctl(home, "stop", "book", "gate").returncode == 0
    before = pids(home)
    again = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "30")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "started (stopped by hand or given up by supervisord): ['book', 'gate']" in again.stdout
    after = pids(home)
    assert {name for name in before if before[name] != after[name]} == {"book", "gate"}
    status = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
    assert all(row["state"] == "RUNNING" and row["ready"] for row in status["programs"]), status


def test_up_with_a_bad_topology_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    data = demo_topology_data()
    data["clusters"]["cadense_s"] = 1
    topo_path = write_topology(tmp_path / "bad.yaml", data)
    result = clustergate("up", str(topo_path), "--home", str(tmp_path / "home"))
    assert result.returncode == 2
    assert "clusters.cadense_s: unknown key (did you mean 'cadence_s'?)" in result.stderr
    assert not (tmp_path / "home" / "run" / "supervisor.sock").exists()


def test_up_refuses_a_port_another_process_holds(tmp_path: Path) -> None:
    data = retarget(demo_topology_data())
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", data["actors"]["gate"]["metrics_port"]))
    blocker.listen()
    try:
        result = clustergate("up", str(write_topology(tmp_path / "t.yaml", data)), "--home", str(tmp_path / "home"))
    finally:
        blocker.close()
    assert result.returncode == 1
    assert f"actors.gate.metrics_port: port {data['actors']['gate']['metrics_port']} is already in use" in result.stderr


def without_low_port_privilege() -> list[str]:
    """A command prefix that runs its command without the privilege to bind a port below
    net.ipv4.ip_unprivileged_port_start: setpriv dropping CAP_NET_BIND_SERVICE as root, nothing otherwise."""
    return (["setpriv", "--inh-caps=-net_bind_service", "--bounding-set=-net_bind_service"]
            if os.geteuid() == 0 else [])


def test_up_refuses_a_metrics_port_below_1024_it_may_not_bind_naming_the_field_and_why(tmp_path: Path) -> None:
    """A metrics_port of 80 validates (whether a host may bind it is that host's: root, CAP_NET_BIND_SERVICE, or
    net.ipv4.ip_unprivileged_port_start); `up` run without the privilege refused it with only "Permission denied"."""
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 80:
        pytest.skip("this kernel lets every process bind port 80 (net.ipv4.ip_unprivileged_port_start <= 80)")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux) to drop CAP_NET_BIND_SERVICE")
    probe = subprocess.run([*without_low_port_privilege(), sys.executable, "-c",
                            "import socket; socket.socket().bind(('127.0.0.1', 80))"], capture_output=True, timeout=30)
    if probe.returncode == 0:
        pytest.skip("this process may bind port 80 (CAP_NET_BIND_SERVICE)")
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["metrics_port"] = 80
    topo_path = write_topology(tmp_path / "t.yaml", data)
    assert clustergate("validate", str(topo_path)).returncode == 0
    result = subprocess.run([*without_low_port_privilege(), sys.executable, "-m", "launcher", "up", str(topo_path),
                             "--home", str(tmp_path / "home")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    line = next((x for x in result.stderr.splitlines() if "actors.gate.metrics_port" in x), result.stderr)
    assert "cannot bind 127.0.0.1 port 80: Permission denied" in line, line
    assert "below 1024" in line and "CAP_NET_BIND_SERVICE" in line and "root" in line, line
    assert not (tmp_path / "home" / "run" / "supervisor.sock").exists()


def test_up_as_root_without_cap_net_bind_service_says_the_capability_is_missing_not_to_run_as_root(
        tmp_path: Path) -> None:
    """Root in a container (or a service) that dropped CAP_NET_BIND_SERVICE may not bind port 80 either: up told
    this root process to "run it as root"; it names the capability to grant instead."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to drop CAP_NET_BIND_SERVICE")
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 80:
        pytest.skip("this kernel lets every process bind port 80 (net.ipv4.ip_unprivileged_port_start <= 80)")
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["metrics_port"] = 80
    topo_path = write_topology(tmp_path / "t.yaml", data)
    result = subprocess.run([*without_low_port_privilege(), sys.executable, "-m", "launcher", "up", str(topo_path),
                             "--home", str(tmp_path / "home")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    line = next((x for x in result.stderr.splitlines() if "actors.gate.metrics_port" in x), result.stderr)
    assert "runs as root" in line and "grant it CAP_NET_BIND_SERVICE" in line, line
    assert "run it as root" not in line, line


def test_actor_that_fails_at_start_up_is_reported_with_its_log(system) -> None:
    home, topo_path = system
    data = yaml.safe_load(topo_path.read_text())
    # A replay file that does not exist: `validate` names it (issue 17 #7); `up` does not read replay files,
    # so the feed finds out when it opens it at start-up.
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "replay": {"path": "no-such-prices.csv"}}
    write_topology(topo_path, data)
    validated = clustergate("validate", str(topo_path))
    assert validated.returncode == 2 and "no-such-prices.csv" in validated.stdout, validated.stdout + validated.stderr
    # The feed exits 2: within supervisord's start window that leaves it in BACKOFF with no exit status, and
    # on a loaded machine (Python start-up slower than startsecs) in EXITED; either way its last log line
    # says bad input, so `up` reports it then rather than at its readiness deadline.
    result = clustergate("up", str(topo_path), "--home", str(home), "--timeout", str(round(120 * DEADLINE_SCALE)))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "FAILED: " in result.stdout, output
    failed = result.stdout.partition("FAILED: ")[2].splitlines()[0]
    assert failed.startswith(("program price_feed is BACKOFF", "program price_feed is EXITED")), output
    assert "not ready after" not in result.stdout, output
    feed_log = result.stdout.partition(f"--- last lines of {Home(home.resolve()).log_of('price_feed')} ---\n")[2]
    feed_log = feed_log.partition("--- last lines of ")[0]
    assert "event=bad_source" in feed_log and "no-such-prices.csv" in feed_log, output
    assert feed_log.strip().splitlines()[-1] == EXIT_BAD_INPUT_LINE, output


# --------------------------------------------------------------------------- issue 18: launcher hardening

import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

from helpers import PYTHON, free_port, wait_for  # noqa: E402


def small_data() -> dict:
    """Managed Redis, a permit issuer and a gate on free ports: up in a few seconds."""
    data = retarget(demo_topology_data())
    data["actors"] = {name: data["actors"][name] for name in ("permit_issuer", "gate")}
    return data


@pytest.fixture
def small(tmp_path: Path):
    """A small system up in its own home; always brought down (leftovers included)."""
    home = tmp_path / "home"
    data = small_data()
    topo_path = write_topology(tmp_path / "small.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield home, topo_path, data
    finally:
        clustergate("down", "--home", str(home))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def run_files(home: Path) -> dict[str, bytes]:
    run = home / "run"
    return {p.name: p.read_bytes() for p in (run / "topology.yaml", run / "redis" / "redis.conf",
                                             run / "programs.d" / "clustergate.conf")}


def tmp_files(home: Path) -> list[Path]:
    return [p for p in (home / "run").rglob("*.tmp")]


def test_an_up_that_fails_on_a_busy_port_changes_neither_the_running_topology_nor_redis_conf(small) -> None:
    home, topo_path, data = small
    before, pids_before = run_files(home), pids(home)
    changed = yaml.safe_load(topo_path.read_text())
    changed["redis"]["port"] = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", free_port()))
    blocker.listen()
    # A new program whose metrics port another process holds.
    changed["actors"]["spare_issuer"] = {"kind": "permit_issuer", "metrics_port": blocker.getsockname()[1],
                                         "sockets": {"requests": {"bind": f"tcp://127.0.0.1:{free_port()}"}}}
    write_topology(topo_path, changed)
    try:
        result = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "20")
    finally:
        blocker.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "actors.spare_issuer.metrics_port" in result.stderr and "already in use" in result.stderr
    assert run_files(home) == before
    assert not tmp_files(home)
    assert pids(home) == pids_before
    assert clustergate("status", "--home", str(home)).returncode == 0


def change_the_gate(topo_path: Path) -> None:
    """Edit the topology file so that `up` of it restarts the gate (and only the gate)."""
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["gate"].setdefault("settings", {})["cold_stress"] = 0.5
    write_topology(topo_path, changed)


def test_an_up_on_a_full_disk_fails_in_one_line_and_leaves_no_tmp_files(small) -> None:
    """The disk fills after the new topology.yaml was written, at programs.d (written next): neither is switched
    in. (With a limit below the topology's size the first file failed, so an `up` switching each file in as it
    wrote it passed too: up_switches_in_each_file_as_it_is_written.)"""
    home, topo_path, data = small
    before, pids_before = run_files(home), pids(home)
    change_the_gate(topo_path)
    # A file size limit makes every write past it fail as a full disk would (EFBIG for ENOSPC): room for the
    # topology copy (a line longer now), not for the programs file.
    limit = len(before["topology.yaml"]) + 256
    assert len(before["clustergate.conf"]) > limit + 256, (len(before["clustergate.conf"]), limit)
    result = subprocess.run([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)],
                            capture_output=True, text=True, cwd=REPO, timeout=120,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "cannot write" in errors[0] and "clustergate.conf" in errors[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not tmp_files(home)
    assert run_files(home) == before
    assert pids(home) == pids_before


def test_killing_supervisord_takes_every_actor_and_the_managed_redis_with_it(small) -> None:
    home, _, _ = small
    children = pids(home)
    assert len(children) == 3 and all(children.values())
    supervisord = int((home / "run" / "supervisord.pid").read_text())
    os.kill(supervisord, signal.SIGKILL)
    wait_for(lambda: not any(alive(pid) for pid in children.values()), 10,
             f"every program of the killed supervisord to exit: {children}")
    status = clustergate("status", "--home", str(home))
    assert "leftover" not in status.stdout + status.stderr
    up = clustergate("up", str(home / "run" / "topology.yaml"), "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr


def test_down_and_status_find_and_stop_leftovers_of_this_home(small, tmp_path: Path) -> None:
    home, _, data = small
    assert clustergate("down", "--home", str(home)).returncode == 0
    # Processes of this home that no supervisord watches (as an older version left after kill -9).
    redis_dir = home / "run" / "redis"
    leftovers = [
        subprocess.Popen([PYTHON, "-m", "actors.permit_issuer", "--topology", str(home / "run" / "topology.yaml"),
                          "--name", "permit_issuer"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
        subprocess.Popen(["redis-server", str(redis_dir / "redis.conf")], cwd=redis_dir,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
    ]
    other = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)", str(tmp_path / "other" / "run" / "topology.yaml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: scrape_ok(data["actors"]["permit_issuer"]["metrics_port"]), 15, "the leftover actor to serve")
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1
        for proc in leftovers:
            assert f"leftover pid {proc.pid}" in status.stdout, status.stdout
        assert str(other.pid) not in status.stdout
        down = clustergate("down", "--home", str(home))
        assert down.returncode == 0, down.stdout + down.stderr
        for proc in leftovers:
            assert f"stopped leftover pid {proc.pid}" in down.stdout, down.stdout
            proc.wait(10)
        assert other.poll() is None, "down stopped a process of another home"
        again = clustergate("status", "--home", str(home))
        assert "leftover" not in again.stdout
    finally:
        for proc in leftovers + [other]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def scrape_ok(port: int) -> bool:
    from helpers import scrape
    try:
        return bool(scrape(port))
    except OSError:
        return False


def test_up_checks_the_ports_of_a_changed_program_too(small) -> None:
    home, topo_path, _ = small
    pids_before = pids(home)
    changed = yaml.safe_load(topo_path.read_text())
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", free_port()))
    blocker.listen()
    port = blocker.getsockname()[1]
    changed["actors"]["gate"]["sockets"]["proposals"]["bind"] = f"tcp://127.0.0.1:{port}"
    write_topology(topo_path, changed)
    try:
        result = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "20")
    finally:
        blocker.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"actors.gate.sockets.proposals.bind: port {port} is already in use" in result.stderr
    assert pids(home) == pids_before


def test_a_frozen_supervisord_makes_status_down_and_up_fail_with_advice_instead_of_hanging(small) -> None:
    home, topo_path, _ = small
    supervisord = int((home / "run" / "supervisord.pid").read_text())
    os.kill(supervisord, signal.SIGSTOP)
    try:
        commands = {name: subprocess.Popen([sys.executable, "-m", "launcher", *args, "--home", str(home)],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
                    for name, args in (("status", ["status"]), ("down", ["down"]), ("up", ["up", str(topo_path)]))}
        for name, proc in commands.items():
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                pytest.fail(f"`clustergate {name}` hung on a stopped supervisord")
            assert proc.returncode == 1, f"{name}: {out}{err}"
            assert f"supervisord (pid {supervisord}) did not answer" in err and "kill -CONT" in err, f"{name}: {out}{err}"
    finally:
        os.kill(supervisord, signal.SIGCONT)
    assert clustergate("status", "--home", str(home)).returncode == 0


def test_up_works_in_a_home_whose_path_has_a_space_and_a_percent_sign(tmp_path: Path) -> None:
    # Under a short directory: supervisord's socket path (home/run/...) must fit in AF_UNIX's 108
    # bytes, which pytest's per-worker temp paths (popen-gwN/...) can exceed.
    short = Path(tempfile.mkdtemp(prefix="cg-"))
    home = short / "my home 100%"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        status = clustergate("status", "--json", "--home", str(home))
        assert status.returncode == 0, status.stdout + status.stderr
        assert all(row["state"] == "RUNNING" for row in json.loads(status.stdout)["programs"])
    finally:
        down = clustergate("down", "--home", str(home))
        shutil.rmtree(short, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr


def ipc_data(tmp_path: Path, endpoint: str) -> dict:
    data = small_data()
    data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"] = endpoint
    data["actors"]["gate"]["sockets"]["permits"]["connect"] = endpoint
    return data


def test_a_second_home_cannot_take_over_another_systems_ipc_socket(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/permits.sock"
    a, b = tmp_path / "a", tmp_path / "b"
    try:
        up_a = clustergate("up", str(write_topology(tmp_path / "a.yaml", ipc_data(tmp_path, endpoint))), "--home", str(a))
        assert up_a.returncode == 0, up_a.stdout + up_a.stderr
        up_b = clustergate("up", str(write_topology(tmp_path / "b.yaml", ipc_data(tmp_path, endpoint))), "--home", str(b),
                           "--timeout", "20")
        assert up_b.returncode == 1, up_b.stdout + up_b.stderr
        assert f"actors.permit_issuer.sockets.requests.bind: {endpoint} is already in use" in up_b.stderr
        assert not (b / "run" / "supervisor.sock").exists()
        assert clustergate("status", "--home", str(a)).returncode == 0
    finally:
        clustergate("down", "--home", str(b))
        clustergate("down", "--home", str(a))


def test_a_relative_ipc_socket_lives_under_its_own_home(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    try:
        for home in (a, b):
            topo = write_topology(tmp_path / f"{home.name}.yaml", ipc_data(tmp_path, "ipc://permits.sock"))
            up = clustergate("up", str(topo), "--home", str(home))
            assert up.returncode == 0, up.stdout + up.stderr
            assert (home / "run" / "ipc" / "permits.sock").is_socket()
        assert not (REPO / "permits.sock").exists()
        assert clustergate("status", "--home", str(a)).returncode == 0
    finally:
        for home in (b, a):
            clustergate("down", "--home", str(home))


def flock_held(path: Path) -> bool:
    """Some process holds a flock on the file at path (read from /proc/locks, without taking the lock)."""
    try:
        inode = path.stat().st_ino
        return any(line.split()[1] == "FLOCK" and line.split()[5].rsplit(":", 1)[-1] == str(inode)
                   for line in Path("/proc/locks").read_text().splitlines())
    except (OSError, IndexError):
        return False


def test_two_concurrent_ups_of_one_home_leave_one_system_and_one_clear_refusal(tmp_path: Path) -> None:
    """The second `up` starts while the first holds the home's up.lock (checking its ports, writing its files,
    waiting for its programs): it is refused by that lock, one `up` per home at a time. Started at the same
    moment instead, the second was as often refused by the first's port claims (other homes' guard), so the
    home's lock could go missing and this test still passed (two_ups_of_one_home_at_once)."""
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())

    def up() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)

    try:
        procs = [up()]
        # The first applies its change holding change.lock too, which a second `up` waits for (ChangeLock); then it
        # waits for its programs holding up.lock alone. It is held there until the second has answered: on a loaded
        # machine the second's own start (imports) outlasted the first's whole run, and it found no `up` running
        # (CI, 4 Dec 2026).
        wait_for(lambda: (flock_held(home / "run" / "up.lock") and not flock_held(home / "run" / "change.lock"))
                 or procs[0].poll() is not None, 60, "the first up to wait for its programs", interval_s=0.01)
        procs[0].send_signal(signal.SIGSTOP)
        try:
            procs.append(up())
            second = (procs[1].wait(120), *procs[1].communicate())
        finally:
            procs[0].send_signal(signal.SIGCONT)
        results = [(procs[0].wait(120), *procs[0].communicate()), second]
        assert [code for code, _, _ in results] == [0, 1], results
        refused = results[1][2]
        assert "Traceback" not in refused and f"another `clustergate up` is running for {home.resolve()}" in refused, refused
        assert "it is waiting for its programs to be ready); nothing was changed" in refused, refused
        assert clustergate("status", "--home", str(home)).returncode == 0
        assert not tmp_files(home)
    finally:
        clustergate("down", "--home", str(home))


def up_with_a_port_taken(home: Path, topo_path: Path, port: int, *programs: str) -> tuple[subprocess.CompletedProcess, str]:
    """`up` while another process listens on 127.0.0.1:port, and supervisorctl's status of the programs then."""
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the scrapes' TIME_WAIT on that port
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        return (clustergate("up", str(topo_path), "--home", str(home), "--timeout", "20"),
                supervisorctl(home, "status", *programs).stdout)
    finally:
        blocker.close()


def test_up_refuses_the_port_of_a_program_stopped_by_hand_that_another_process_took_meanwhile(small) -> None:
    # rev-operator: `up` took every port of the running topology as held by its own program, running or not.
    # After `supervisorctl stop gate` and another process binding the gate's metrics port, `up` started the
    # gate unchecked: it failed at start ("Address already in use") again and again, and `up` waited its
    # whole timeout, leaving the gate crash-looping where it had been stopped.
    home, topo_path, data = small
    assert supervisorctl(home, "stop", "gate").returncode == 0
    before, pids_before = run_files(home), pids(home)
    port = data["actors"]["gate"]["metrics_port"]
    result, gate = up_with_a_port_taken(home, topo_path, port, "gate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"actors.gate.metrics_port: port {port} is already in use" in result.stderr, result.stdout + result.stderr
    assert "STOPPED" in gate, gate
    assert run_files(home) == before and pids(home) == pids_before


def test_up_again_starts_a_program_supervisord_gave_up_on_as_one_stopped_by_hand() -> None:
    # A program that fails its start `startretries` (10) times is FATAL: supervisord never starts it again. `up` of
    # the same topology, once the cause was fixed (another process held the gate's metrics port), failed at once
    # with "program gate is FATAL" instead of starting it. Checked against a real supervisord once (the gate takes
    # ~60 s to become FATAL); the start itself is the stopped-by-hand path, tested above.
    infos = [{"name": name, "statename": state} for name, state in (
        ("gate", "FATAL"), ("book", "STOPPED"), ("buffer", "BACKOFF"), ("feed", "EXITED"), ("redis", "RUNNING"),
        ("clusterer", "STARTING"), ("correlator", "STOPPING"))]
    assert never_starting_by_themselves(infos) == ["gate", "book"]


# Run as sitecustomize by the `up` started with it on PYTHONPATH (the checkout after it): its deadline of a call to
# supervisord is UP_CALL_TIMEOUT_S instead of CALL_TIMEOUT_S (60 s), so that a test of a call answered past it (a
# supervisord SIGSTOPped in the call) waits that long, not a minute.
UP_WITH_A_SHORTER_CALL_DEADLINE = """
import os
import launcher.supervise
launcher.supervise.CALL_TIMEOUT_S = float(os.environ["UP_CALL_TIMEOUT_S"])
"""
# Past the 5 s stop of a frozen actor (its stopwaitsecs) and the other calls of an `up` (each well under a second;
# a few under load), with 5 s to spare: each test that uses it waits this long in a call supervisord cannot answer.
SHORTER_CALL_TIMEOUT_S = 10


def _with_a_shorter_call_deadline(site: Path) -> dict[str, str]:
    """The environment of an `up` whose calls to supervisord have SHORTER_CALL_TIMEOUT_S as their deadline."""
    site.mkdir()
    (site / "sitecustomize.py").write_text(UP_WITH_A_SHORTER_CALL_DEADLINE)
    return dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{REPO}", UP_CALL_TIMEOUT_S=str(SHORTER_CALL_TIMEOUT_S))


def _signal_pending(pid: int, signum: int) -> bool:
    """Whether the signal was sent to the process and waits there (it is stopped): /proc's ShdPnd."""
    with open(f"/proc/{pid}/status") as f:
        pending = next(line for line in f if line.startswith("ShdPnd:")).split()[1]
    return bool(int(pending, 16) & (1 << (signum - 1)))


def _up_stopping_a_frozen_gate(home: Path, topo_path: Path, **popen: object) -> tuple[subprocess.Popen, int]:
    """`up` of a changed gate, held in supervisord's stop of it: the gate is SIGSTOPped, so that stop lasts
    its stopwaitsecs. Returns the `up` process once supervisord has sent the gate its SIGTERM (pending on the stopped
    gate), and the gate's pid. Seen in /proc within milliseconds: a caller that then stops supervisord does so well
    within those 5 s (revfail: seen with `supervisorctl status` STOPPING, a process started each try, a caller under
    load came after them, once the gate was killed: its SIGCONT found no process)."""
    gate_pid = pids(home)["gate"]
    change_the_gate(topo_path)
    os.kill(gate_pid, signal.SIGSTOP)
    up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home), "--timeout", "60"],
                          cwd=REPO, **popen)  # type: ignore[call-overload]
    try:
        wait_for(lambda: _signal_pending(gate_pid, signal.SIGTERM), 20, "supervisord stopping the gate",
                 interval_s=0.005)
    except BaseException:
        up.kill()
        up.communicate()
        raise
    return up, gate_pid


def _signalled(up: subprocess.Popen, signum: int) -> tuple[str, str]:
    """Send `up` the signal, and its output once it has exited (killed after a deadline)."""
    try:
        up.send_signal(signum)
        return up.communicate(timeout=180)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()


def test_ctrl_c_while_up_applies_a_change_finishes_the_change_and_says_so(small) -> None:
    # rev-operator: Ctrl-C while `up` restarted a changed gate (between supervisord stopping it and adding it
    # back) exited 130 with no word, the new topology in place and the gate left STOPPED: no decisions until
    # someone noticed. The gate is SIGSTOPped here so that supervisord's stop of it lasts its stopwaitsecs.
    import os
    import signal

    home, topo_path, _ = small
    up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = _signalled(up, signal.SIGINT)
    assert up.returncode == 130, out + err
    assert "interrupted" in out + err and "applied" in out + err, out + err
    assert "Traceback" not in err, err
    wait_for(lambda: "RUNNING" in supervisorctl(home, "status", "gate").stdout, 30, "the changed gate running again")
    assert pids(home)["gate"] != gate_pid


def test_ctrl_c_before_up_changes_anything_says_nothing_was_changed(small) -> None:
    # rev-operator: Ctrl-C during `up`'s checks exited 130 with no word, so the operator could not tell an
    # interrupted check from an interrupted change. supervisord is frozen so that `up` waits in its first call.
    import os
    import signal

    home, topo_path, _ = small
    before, pids_before = run_files(home), pids(home)
    change_the_gate(topo_path)
    sup_pid = int((home / "run" / "supervisord.pid").read_text())
    lock = str(home / "run" / "up.lock")
    os.kill(sup_pid, signal.SIGSTOP)
    try:
        up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        fds = Path(f"/proc/{up.pid}/fd")
        wait_for(lambda: any(os.readlink(fd) == lock for fd in fds.iterdir()), 20, "up holding its lock")
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=60)
    finally:
        os.kill(sup_pid, signal.SIGCONT)
    assert up.returncode == 130, out + err
    assert "interrupted before anything was changed" in err and "Traceback" not in err, out + err
    assert run_files(home) == before and pids(home) == pids_before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminal_closing_or_a_kill_while_up_applies_a_change_finishes_the_change_and_says_so(small, signum) -> None:
    # attack14: SIGTERM (kill, a CI job's timeout) or SIGHUP (the terminal closing) while `up` restarted a changed
    # gate killed `up` at once, as Ctrl-C did before 08cdb53: the new topology in place, the gate left STOPPED by
    # supervisord and never started again, no word.
    home, topo_path, _ = small
    up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = _signalled(up, signum)
    assert up.returncode == 128 + signum, (up.returncode, out + err)
    assert "interrupted" in err and "applied" in err and "Traceback" not in err, out + err
    assert "cold_stress: 0.5" in (home / "run" / "topology.yaml").read_text()
    wait_for(lambda: "RUNNING" in supervisorctl(home, "status", "gate").stdout, 30, "the changed gate running again")
    assert pids(home)["gate"] != gate_pid


def test_up_whose_terminal_closes_while_it_applies_a_change_keeps_the_files_of_what_runs(small) -> None:
    # attack14: `up` run from a script that ignores SIGHUP, its terminal closed while `up` restarted a changed gate:
    # its next line ("updated ...") failed (EIO), and the failure was taken for supervisord refusing the change: the
    # previous topology.yaml and programs were put back while supervisord ran the changed gate (which a restart would
    # then run from the old file), and `up` ended in a traceback.
    import pty

    home, topo_path, _ = small
    master, terminal = pty.openpty()
    try:
        up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path, stdin=subprocess.DEVNULL, stdout=terminal,
                                                  stderr=terminal, start_new_session=True)
    finally:
        os.close(terminal)
    try:
        os.close(master)  # the terminal is gone: every write to it now fails
        up.wait(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    wait_for(lambda: "RUNNING" in supervisorctl(home, "status", "gate").stdout, 30, "the changed gate running again")
    assert pids(home)["gate"] != gate_pid
    assert "cold_stress: 0.5" in (home / "run" / "topology.yaml").read_text()
    assert up.returncode == 0, up.returncode


def test_ctrl_c_pressed_again_and_again_while_up_starts_supervisord_finishes_the_start_and_says_so(tmp_path: Path) -> None:
    # attack14: a terminal's Ctrl-C goes to its whole foreground process group, and `up` ran supervisord in its
    # own: supervisord died in its imports (KeyboardInterrupt), and `up` answered "FAILED: supervisord failed to
    # start: Traceback ..." and put the previous files back, exit 1; the change Ctrl-C was to let finish was undone
    # (and under a password change, the old supervisord already shut down, nothing ran any more).
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    out_path, err_path = tmp_path / "up.out", tmp_path / "up.err"
    with open(out_path, "w") as out_file, open(err_path, "w") as err_file:  # files, read while `up` runs
        up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home), "--timeout", "60"],
                              cwd=REPO, stdout=out_file, stderr=err_file, text=True, start_new_session=True)
    try:
        # `up` says "starting supervisord" inside the change, where a Ctrl-C waits for the change's end, just before it
        # runs supervisord: every press from then on lands while supervisord starts, or after. (A Ctrl-C during `up`'s
        # checks is answered "interrupted before anything was changed".) Watching for supervisord as up's child
        # instead raced: it is one for 0.07-0.3 s, until it daemonizes, and a poll that missed it waited in vain while
        # `up` went on and finished (CI: 90 s for "up starting supervisord").
        wait_for(lambda: "starting supervisord" in out_path.read_text() or up.poll() is not None, 30,
                 "up to say it starts supervisord")
        assert "starting supervisord" in out_path.read_text(), f"up exited {up.returncode} before it started supervisord"

        def press_ctrl_c() -> bool:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGINT)  # as a terminal does: to the whole foreground process group
            return up.poll() is not None
        wait_for(press_ctrl_c, 120, "up to exit")
        up.wait(60)
        out, err = out_path.read_text(), err_path.read_text()
        # A Ctrl-C pressed after `up` has answered may end its exit itself: a shell shows either as 130.
        assert up.returncode in (130, -signal.SIGINT), out + err
        assert "interrupted" in err and "applied" in err and "Traceback" not in out + err, out + err
        assert (home / "run" / "topology.yaml").exists()
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 60, "every program running and ready")
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        print(f"up's output:\n{out_path.read_text()}{err_path.read_text()}")  # shown when the test fails
        clustergate("down", "--home", str(home))


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_an_up_started_ignoring_ctrl_c_keeps_ignoring_it_while_it_applies_a_change(small) -> None:
    # attack14: a script's background job (`clustergate up t.yaml &`) starts with SIGINT ignored, so that the
    # script's Ctrl-C leaves it alone; `up` put its own handler in, and a Ctrl-C while it applied the change made it
    # exit 130 instead of waiting for the programs to be ready.
    home, topo_path, _ = small
    up, _ = _up_stopping_a_frozen_gate(home, topo_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       preexec_fn=_ignore_sigint)
    out, err = _signalled(up, signal.SIGINT)
    assert up.returncode == 0 and "is up" in out and "interrupted" not in err, out + err


# Runs `clustergate status` through ENTRY (the installed command's "module:function" from pyproject.toml, or
# "-m" for `python -m launcher`), pressing Ctrl-C (SIGINT to itself) when Python starts to load MODULE: the press
# lands inside that import, deterministically.
CTRL_C_WHILE_LOADING = """
import importlib, os, runpy, signal, sys
class CtrlC:
    module = sys.argv[1]

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
entry = sys.argv[3]
sys.meta_path.insert(0, CtrlC())
sys.argv = ["clustergate", "status", "--home", sys.argv[2]]
if entry == "-m":
    runpy.run_module("launcher", run_name="__main__")
else:
    module, function = entry.split(":")
    getattr(importlib.import_module(module), function)()
"""


def _console_entry() -> str:
    import tomllib
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["clustergate"]


@pytest.mark.parametrize("entry", ["installed", "-m"])
@pytest.mark.parametrize("module", ["launcher.cli", "launcher.topology", "launcher.supervise", "launcher.overview"])
def test_ctrl_c_while_the_launcher_loads_exits_130_with_nothing_printed(tmp_path: Path, module: str, entry: str) -> None:
    # Ctrl-C in the first ~0.3 s of any command printed a KeyboardInterrupt traceback from the imports (the
    # console script's `from launcher.cli import main`, then main()'s own imports before its try).
    ran = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_LOADING, module, str(tmp_path / "home"),
                          _console_entry() if entry == "installed" else entry], cwd=REPO,
                         capture_output=True, text=True, timeout=60 * DEADLINE_SCALE)
    assert ran.returncode == 130 and ran.stdout == "" and ran.stderr == "", (ran.returncode, ran.stdout, ran.stderr)


def test_status_says_how_often_a_program_exited_unexpectedly_and_not_when_it_was_restarted_on_purpose(small) -> None:
    # A program that crashes some time after its start is started again by supervisord without end and shows
    # RUNNING between crashes: status gave no sign of the loop. Two crashes of the gate (SIGKILL) are counted;
    # the restart asked for afterwards is not.
    home, _, _ = small
    for _ in range(2):
        pid = pids(home)["gate"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: pids(home)["gate"] not in (None, pid), 30 * DEADLINE_SCALE, "supervisord to start the gate again")
    assert supervisorctl(home, "restart", "permit_issuer").returncode == 0
    out = clustergate("status", "--home", str(home)).stdout
    lines = [line for line in out.splitlines() if "exited unexpectedly" in line]
    assert len(lines) == 1 and lines[0].startswith("gate: exited unexpectedly 2 times in the last 10 minutes"), out
    assert "(terminated by SIGKILL)" in lines[0] and str(home / "run" / "logs") in lines[0], out
    rows = {row["name"]: row for row in json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
    assert rows["gate"]["unexpected_exits"]["count"] == 2 and "unexpected_exits" not in rows["permit_issuer"]
    # supervisord writes its log's times in its own zone; a status run with another TZ (a cron job, another
    # shell) read them in its own, 9 hours off, and named no exit at all.
    other_zone = "UTC-9" if time.localtime().tm_gmtoff != 9 * 3600 else "UTC+5"
    elsewhere = subprocess.run([sys.executable, "-m", "launcher", "status", "--home", str(home)], capture_output=True,
                               text=True, cwd=REPO, timeout=120, env={**os.environ, "TZ": other_zone}).stdout
    assert "gate: exited unexpectedly 2 times in the last 10 minutes" in elsewhere, elsewhere


def test_status_names_a_program_of_the_topology_that_supervisord_does_not_run_as_missing_and_exits_1(small) -> None:
    # `supervisorctl remove gate` (or a program never added): status listed only what supervisord runs, said
    # nothing of the gate and exited 0, so a script gating trading on status saw a healthy system with no gate.
    home, topo_path, _ = small
    assert supervisorctl(home, "stop", "gate").returncode == 0
    assert supervisorctl(home, "remove", "gate").returncode == 0
    status = clustergate("status", "--home", str(home))
    assert status.returncode == 1, status.stdout + status.stderr
    assert re.search(r"^gate +MISSING ", status.stdout, re.M), status.stdout
    assert "does not run gate, which the topology has" in status.stdout, status.stdout
    rows = {row["name"]: row for row in json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
    assert rows["gate"]["state"] == "MISSING" and rows["gate"]["ready"] is False
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    assert clustergate("status", "--home", str(home)).returncode == 0


def test_status_of_a_named_home_says_the_up_that_adds_a_missing_program_back_there(tmp_path: Path) -> None:
    """docrev: the MISSING line said "`clustergate up` with the topology adds them", which, run as printed, acts on the
    repository root's system; it names the home, quoted for the shell (a home with a space split in two)."""
    import shlex
    home = tmp_path / "my home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0
    try:
        assert supervisorctl(home, "stop", "gate").returncode == 0
        assert supervisorctl(home, "remove", "gate").returncode == 0
        status = clustergate("status", "--home", str(home))
        line = next((x for x in status.stdout.splitlines() if x.startswith("MISSING: ")), None)
        assert line is not None, status.stdout
        assert f"`clustergate up FILE --home {shlex.quote(str(home))}` adds them" in line, line
    finally:
        clustergate("down", "--home", str(home))


def test_up_of_a_topology_with_another_name_is_refused_naming_both_unless_replace_is_given(small, tmp_path: Path) -> None:
    # `up` of topology 'other' in a home running 'demo' silently replaced the running system (reproduced: status
    # then said topology: other), e.g. an operator aiming a second system at the default home.
    home, topo_path, data = small
    before, pids_before = run_files(home), pids(home)
    other = write_topology(tmp_path / "other.yaml", {**data, "name": "other"})
    refused = clustergate("up", str(other), "--home", str(home), "--timeout", "30")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"runs topology 'demo', and {other} is topology 'other'" in refused.stderr, refused.stderr
    assert "--replace" in refused.stderr and "Traceback" not in refused.stderr
    assert run_files(home) == before and pids(home) == pids_before
    replaced = clustergate("up", str(other), "--home", str(home), "--replace", "--timeout", "60")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["topology"] == "other"


def test_down_while_the_first_up_of_a_home_applies_its_change_waits_for_it_and_stops_what_it_started(tmp_path: Path) -> None:
    # `down` while the first `up` of a home was still checking and starting supervisord found nothing running,
    # said so and exited 0; the `up` then started supervisord and every program: the system ran after the `down`.
    # The `up` is held (SIGSTOP) as soon as it holds the home's lock, so the `down` comes in the middle of it.
    from launcher.supervise import ChangeLock, home_processes

    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home), "--timeout", "60"],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    down_out = tmp_path / "down.out"
    down = None
    try:
        wait_for(lambda: flock_held(home / "run" / "up.lock") or up.poll() is not None, 60,
                 "up holding the home's lock", interval_s=0.01)
        os.kill(up.pid, signal.SIGSTOP)
        with open(down_out, "w") as out:
            down = subprocess.Popen([sys.executable, "-m", "launcher", "down", "--home", str(home)], cwd=REPO,
                                    stdout=out, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: down.poll() is not None or "waiting for" in down_out.read_text(), 30, "down to wait or end")
        # A paused `up` (Ctrl-Z) holds the lock until resumed: the waiting `down` names its state and the way out,
        # and so does the failure at the end of the wait (it said only "still applying its change").
        wait_for(lambda: down.poll() is not None or f"kill -CONT {up.pid}" in down_out.read_text(), 30,
                 "down to say the up is stopped")
        assert f"pid {up.pid} is stopped (Ctrl-Z or SIGSTOP)" in down_out.read_text(), down_out.read_text()
        err = io.StringIO()
        with contextlib.redirect_stderr(err), ChangeLock(Home(home.resolve()), "down") as other:
            assert not other.take(wait_s=0.2)
        assert "still applying its change" in err.getvalue() and f"`kill -CONT {up.pid}`" in err.getvalue(), err.getvalue()
        os.kill(up.pid, signal.SIGCONT)
        up_out, _ = up.communicate(timeout=180)
        assert down.wait(timeout=180) == 0, down_out.read_text()
        said = down_out.read_text()
        assert not home_processes(Home(home.resolve())), (said, up_out)
        assert "waiting for" in said and "applying its change" in said, said
        assert clustergate("status", "--home", str(home)).returncode == 1
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGCONT)
        for proc in (up, down):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        clustergate("down", "--home", str(home))


def test_a_running_copy_that_todays_validation_refuses_is_still_what_status_shows_and_up_replaces(small) -> None:
    # The running copy (run/topology.yaml) was read with the full validator: one that fails today's checks (here a
    # Cyrillic Т in a symbol, accepted before symbols_are_ascii, as a copy written by an older clustergate would be)
    # made status a SchemaError traceback, and `up` of the corrected topology took the running system's own ports
    # for another process's ("port ... is already in use") and refused to restart the changed gate.
    home, topo_path, data = small
    running = home / "run" / "topology.yaml"
    running.write_text(running.read_text().replace("- BTCUSDT\n", "- BTCUSD\u0422\n", 1))
    programs = home / "run" / "programs.d" / "clustergate.conf"  # an older `up` named no copy there (a hand edit: EDITED)
    programs.write_text(re.sub(r"^; running copy sha256 .*\n", "", programs.read_text(), flags=re.M))
    status = clustergate("status", "--home", str(home))
    assert "Traceback" not in status.stderr, status.stderr
    assert status.returncode == 0, status.stdout + status.stderr
    assert re.search(r"^gate +RUNNING +yes ", status.stdout, re.M), status.stdout
    assert "note: the running copy no longer passes `clustergate validate`" in status.stdout and "U+0422" in status.stdout
    gate_pid = pids(home)["gate"]
    change_the_gate(topo_path)
    up = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    assert pids(home)["gate"] != gate_pid
    assert "BTCUSDT" in running.read_text()


def test_up_checks_the_ports_of_a_program_supervisord_does_not_run_before_adding_it(small) -> None:
    # A program removed from supervisord (supervisorctl remove) was added back by `up` unchecked, its rendered
    # section being unchanged: with another process on the gate's metrics port the gate crash-looped, and `up`
    # waited its whole timeout and exited 1 leaving it so, where a stopped gate's port is checked first.
    home, topo_path, data = small
    assert supervisorctl(home, "stop", "gate").returncode == 0
    assert supervisorctl(home, "remove", "gate").returncode == 0
    before = run_files(home)
    port = data["actors"]["gate"]["metrics_port"]
    result, listed = up_with_a_port_taken(home, topo_path, port)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"actors.gate.metrics_port: port {port} is already in use" in result.stderr, result.stdout + result.stderr
    assert "gate" not in listed and run_files(home) == before, listed
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1"])
def test_up_with_a_timeout_that_is_no_finite_number_of_seconds_is_refused_before_anything_starts(tmp_path: Path, timeout) -> None:
    # `up --timeout nan` waited forever for a program that never became ready: no time is past a NaN deadline.
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    try:
        result = clustergate("up", str(topo_path), "--home", str(home), "--timeout", timeout)
    finally:
        clustergate("down", "--home", str(home))  # what an `up` taking the timeout would have started
    assert result.returncode == 2 and "give a finite number of seconds, 0 or more" in result.stderr, result.stderr


# Run as sitecustomize by every Python process started with it on PYTHONPATH: supervisord (a Python script) ends
# at its start as SUPERVISORD_ENDS says, before it prints anything; every other process is left alone.
SUPERVISORD_ENDS_AT_ONCE = """
import os, signal, sys
if os.path.basename(sys.argv[0]) == "supervisord":
    how = os.environ["SUPERVISORD_ENDS"]
    if how.startswith("exit"):
        os._exit(int(how[4:]))
    if int(how) != signal.SIGKILL:
        signal.signal(int(how), signal.SIG_DFL)
    os.kill(os.getpid(), int(how))
"""


@pytest.mark.parametrize("how, said", [
    ("9", "supervisord failed to start: killed by SIGKILL"),
    ("40", "supervisord failed to start: killed by signal 40"),
    ("exit3", "supervisord failed to start: exit status 3, nothing printed"),
], ids=["SIGKILL", "a real-time signal", "exit 3"])
def test_a_supervisord_that_ends_at_once_saying_nothing_is_named_and_the_change_undone(tmp_path: Path, how: str,
                                                                                         said: str) -> None:
    # up named a supervisord that printed nothing from its exit status with signal.Signals(n).name, which has no
    # name for the real-time signals 35..63: up crashed with a ValueError traceback in the middle of its change,
    # the new files switched in and never put back (and supervisord not running them).
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SUPERVISORD_ENDS_AT_ONCE)
    env = dict(os.environ, PYTHONPATH=str(site), SUPERVISORD_ENDS=how)
    try:
        up = subprocess.run([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)],
                            capture_output=True, text=True, cwd=REPO, timeout=120, env=env)
        assert up.returncode == 1, up.stdout + up.stderr
        assert said in up.stderr and "Traceback" not in up.stderr, up.stderr
        assert "the previous files are back" in up.stderr, up.stderr
        assert not (home / "run" / "topology.yaml").exists()  # it ran nothing before: nothing is left switched in
    finally:
        clustergate("down", "--home", str(home))


# `up` with each read of /proc's socket tables (launcher/endpoints.py's _socket_inodes) counted against the poll of
# supervisord it follows: prints one JSON list, the reads after each poll.
COUNTING_SOCKET_TABLE_READS = """
import atexit, json, sys
import launcher.endpoints, launcher.supervise
reads = [0]
read_tables, poll = launcher.endpoints._socket_inodes, launcher.supervise.Supervisor.processes
def counted_read(endpoints):
    reads[-1] += 1
    return read_tables(endpoints)
def counted_poll(self):
    reads.append(0)
    return poll(self)
launcher.endpoints._socket_inodes = counted_read
launcher.supervise.Supervisor.processes = counted_poll
atexit.register(lambda: print("READS " + json.dumps(reads[1:])))
from launcher.cli import main
main(sys.argv[1:])
"""


def test_up_reads_the_socket_tables_once_a_poll_for_every_starting_program_not_once_a_program(tmp_path: Path) -> None:
    # testspeed: while programs start, up's crash-loop check (a port held by another process) read /proc/net/tcp,
    # /proc/net/tcp6 and every process's fds once for each program STARTING, BACKOFF or EXITED, at each poll: about
    # 10 ms of CPU a read (the kernel walks its whole TCP hash), 60% of an `up`'s CPU for the demo (27 reads).
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    try:
        up = subprocess.run([sys.executable, "-c", COUNTING_SOCKET_TABLE_READS, "up", str(topo_path), "--home", str(home)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        reads = json.loads(next(line for line in up.stdout.splitlines() if line.startswith("READS "))[len("READS "):])
        assert sum(reads) >= 1, reads  # the check still runs while the programs start
        assert max(reads) == 1, reads
    finally:
        clustergate("down", "--home", str(home))


# `up` whose wait for the programs meets the gate in BACKOFF with its port free (the process that held it, which kept
# the gate crash-looping, just ended: argv[1]'s pid is killed then) and whose check of the gate comes only once
# supervisord has started the gate again and the gate has bound its metrics port (argv[2]), as when the programs
# checked before it in that poll (a scrape of a hung actor, a Redis PING) took a while.
RESTARTED_WHILE_THE_POLL_CHECKED_OTHERS = """
import os, signal, socket, sys, time
import launcher.supervise as supervise
blocker, port = int(sys.argv.pop(1)), int(sys.argv.pop(1))
def port_bound():
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
waiting, poll, check, wait = [False], supervise.Supervisor.processes, supervise._held_by_others, supervise.wait_until_ready
read, kill_after_the_read = supervise._holders_of, [False]
def in_wait(*args, **kwargs):
    waiting[0] = True
    return wait(*args, **kwargs)
def gate_in_backoff(self):
    for _ in range(600):
        infos = poll(self)
        if not waiting[0] or blocker == 0:
            return infos
        if any(i["name"] == "gate" and i["statename"] == "BACKOFF" for i in infos):
            kill_after_the_read[0] = True
            return infos
        time.sleep(0.05)
    raise SystemExit("the gate was never in BACKOFF")
def read_with_the_blocker_then_its_port_freed(*args):
    held = read(*args)  # the poll's read: the blocker holds the gate's metrics port
    if kill_after_the_read[0]:
        kill_after_the_read[0] = False
        os.kill(blocker, signal.SIGKILL)
        globals()["blocker"] = 0
        for _ in range(300):
            if not port_bound():
                return held
            time.sleep(0.05)
        raise SystemExit("the blocker's port stayed bound")
    return held
def gate_checked_once_restarted(sup, topo, home, info, *rest):
    if info["name"] == "gate" and info["statename"] == "BACKOFF":
        for _ in range(600):
            if port_bound():
                break
            time.sleep(0.05)
    return check(sup, topo, home, info, *rest)
supervise.wait_until_ready = in_wait
supervise.Supervisor.processes = gate_in_backoff
supervise._holders_of = read_with_the_blocker_then_its_port_freed
supervise._held_by_others = gate_checked_once_restarted
from launcher.cli import main
main(sys.argv[1:])
"""


def _up_passes_with_the_gate_crash_looping_on_its_metrics_port_under(wrapper: str, small) -> None:
    """The gate stopped, its metrics port taken by a blocker, started (it crash-loops): `up` run in `wrapper` (which
    kills the blocker once it sees the gate in BACKOFF) starts everything and blames nobody."""
    home, topo_path, data = small
    port = data["actors"]["gate"]["metrics_port"]
    assert supervisorctl(home, "stop", "gate").returncode == 0
    blocker = subprocess.Popen([sys.executable, "-c", "import socket, time\ns = socket.socket()\n"
                                "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                f"s.bind(('127.0.0.1', {port}))\ns.listen()\nprint('bound', flush=True)\n"
                                "time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline().strip() == "bound"
        supervisorctl(home, "start", "gate")  # fails: FATAL; up starts it again, and it crash-loops on the blocker
        up = subprocess.run([sys.executable, "-c", wrapper, str(blocker.pid), str(port),
                             "up", str(topo_path), "--home", str(home), "--timeout", "120"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
        assert "FAILED" not in up.stdout, up.stdout + up.stderr
        assert up.returncode == 0, up.stdout + up.stderr
        assert blocker.wait(timeout=30) == -9  # killed by the wrapper, once the gate was in BACKOFF
    finally:
        blocker.kill()
        blocker.wait()


def test_up_does_not_blame_a_program_it_saw_in_backoff_for_the_port_it_bound_since_the_poll_read_the_tables(small) -> None:
    # revtestspeed: testspeed read /proc's socket tables once at the start of a poll and checked each program against
    # that read. A program in BACKOFF then (no process), its port held in that read by a process gone since, started
    # again by supervisord and bound by the time the poll reached it (after the scrapes and PINGs of the programs
    # before it), was judged by the stale read: held by that other process. up said "FAILED: program gate
    # cannot bind actors.gate.metrics_port: port P is already in use by another process" and exited 1 for a gate that
    # was starting fine. Before testspeed each program's check read /proc itself, just before the probe.
    _up_passes_with_the_gate_crash_looping_on_its_metrics_port_under(RESTARTED_WHILE_THE_POLL_CHECKED_OTHERS, small)


# The gate's endpoints left out of every read of /proc made while it was in BACKOFF (a read that predates its binds),
# and its checks made once it bound all of its TCP ports: only a probe of the port sees it bound, by the gate itself.
BOUND_AFTER_EVERY_READ = RESTARTED_WHILE_THE_POLL_CHECKED_OTHERS.replace("from launcher.cli import main", """
holders_of, checked = supervise._holders_of, supervise._held_by_others
def gate_ports(topo):
    return [supervise.split_tcp(e)[1] for _, e in supervise._claims(topo, "gate") if e.startswith("tcp://")]
def read_before_the_gate_bound(topo, home, infos):
    held = holders_of(topo, home, infos)
    if any(i["name"] == "gate" and i["statename"] == "BACKOFF" for i in infos):
        return {e: p for e, p in held.items() if e not in {e for _, e in supervise._claims(topo, "gate")}}
    return held
def gate_checked_once_bound(sup, topo, home, info, *rest):
    if info["name"] == "gate" and info["statename"] == "BACKOFF":
        for _ in range(600):
            if all(socket.socket().connect_ex(("127.0.0.1", p)) == 0 for p in gate_ports(topo)):
                break
            time.sleep(0.05)
    return checked(sup, topo, home, info, *rest)
supervise._holders_of = read_before_the_gate_bound
supervise._held_by_others = gate_checked_once_bound
from launcher.cli import main""")


def test_up_does_not_blame_a_program_seen_in_backoff_for_a_port_it_bound_after_the_read_and_before_the_probe(small) -> None:
    # A CI run under load (and 1 run in 3 beside two busy loops): up said "FAILED: program gate cannot bind
    # actors.gate.sockets.proposals.bind: port P is already in use by another process" and exited 1 for a gate starting
    # fine. The gate, in BACKOFF at the poll (no pid), was started again by supervisord; the confirming read of /proc
    # came before it bound its proposals port, the probe after: in use, by itself, said to be another process's.
    _up_passes_with_the_gate_crash_looping_on_its_metrics_port_under(BOUND_AFTER_EVERY_READ, small)


# The gate seen STARTING (with a pid) at a poll, its process ended on the blocker by the poll's read of /proc; the
# blocker killed after that read, and the gate checked only once supervisord started it again (another pid) and it
# bound its metrics port, as when the scrapes of hung programs before it took their seconds.
REPLACED_WHILE_THE_POLL_CHECKED_OTHERS = RESTARTED_WHILE_THE_POLL_CHECKED_OTHERS.replace("from launcher.cli import main", """
seen = [0]
def ended(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True
def gate_starting_and_its_process_ended(self):
    for _ in range(600):
        infos = poll(self)
        if not waiting[0] or blocker == 0:
            return infos
        gate = next((i for i in infos if i["name"] == "gate"), {})
        if gate.get("statename") == "STARTING" and gate.get("pid"):
            for _ in range(500):
                if ended(gate["pid"]):
                    break
                time.sleep(0.01)
            seen[0], kill_after_the_read[0] = gate["pid"], True
            return infos
        time.sleep(0.02)
    raise SystemExit("the gate was never STARTING")
def gate_checked_once_replaced(sup, topo, home, info, *rest):
    if info["name"] == "gate" and info["pid"] and info["pid"] == seen[0]:
        for _ in range(600):
            now = sup.api.getProcessInfo("gate")["pid"]
            if now and now != seen[0] and port_bound():
                break
            time.sleep(0.05)
    return check(sup, topo, home, info, *rest)
supervise.Supervisor.processes = gate_starting_and_its_process_ended
supervise._held_by_others = gate_checked_once_replaced
from launcher.cli import main""")


def test_up_does_not_blame_a_program_seen_starting_for_the_port_its_next_process_bound(small) -> None:
    # revupfix: the gate seen STARTING at a poll (pid P1, crash-looping on a process holding its metrics port), that
    # holder gone since, and the gate started again by supervisord (pid P2) and bound by the time the poll reached it
    # (hung programs' scrapes before it, 1 s each): the confirming read of /proc found P2 on the port, not P1, and up
    # said "FAILED: program gate cannot bind actors.gate.metrics_port: port P is already in use by this home's program
    # gate (pid P2)", exit 1, for a gate now starting fine. Only a program read with no process was asked about again.
    _up_passes_with_the_gate_crash_looping_on_its_metrics_port_under(REPLACED_WHILE_THE_POLL_CHECKED_OTHERS, small)


def test_up_names_at_once_a_crash_looping_program_whose_port_another_process_holds(small) -> None:
    # lnfix: the gate crash-looping (STARTING, BACKOFF, STARTING ...) because another process took its metrics port
    # while it was stopped: `up` checks the ports of a program it starts (stopped or FATAL), not of one supervisord
    # keeps restarting, so it waited for supervisord to give up on it (about a minute of retries) and said only
    # "FAILED: program gate is FATAL (Exited too quickly ...)", naming neither the port nor who held it (a program
    # slower to start than its startsecs is never FATAL: up waited its whole --timeout).
    home, topo_path, data = small
    port = data["actors"]["gate"]["metrics_port"]
    assert supervisorctl(home, "stop", "gate").returncode == 0
    blocker = subprocess.Popen([sys.executable, "-c", "import socket, time\ns = socket.socket()\n"
                                "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"  # past the scrapes' TIME_WAIT
                                f"s.bind(('127.0.0.1', {port}))\ns.listen()\nprint('bound', flush=True)\n"
                                "time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline().strip() == "bound"
        supervisorctl(home, "start", "gate")  # fails: supervisord starts it again and again
        up = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "120", timeout=300)
        assert up.returncode == 1, up.stdout + up.stderr
        said = [line for line in up.stdout.splitlines() if line.startswith("FAILED: ")]
        assert len(said) == 1, up.stdout
        assert said[0].startswith(f"FAILED: program gate cannot bind actors.gate.metrics_port: port {port} is already "
                                  f"in use by another process (pid {blocker.pid}: "), said
        assert "not ready after" not in up.stdout, up.stdout
    finally:
        blocker.kill()
        blocker.wait()


def _by_one(left: dict) -> dict:
    """status --json's left_stopped_by_up of programs one process left stopped: its owners name that one alone."""
    return {**left, "owners": [left]}


def _status_once_the_gate_stopped_says(home: Path, line: str) -> dict:
    """Once supervisord shows the gate STOPPED: `status` exits 1 with one line that starts as `line`; returns its
    --json's left_stopped_by_up."""
    wait_for(lambda: "STOPPED" in supervisorctl(home, "status", "gate").stdout, 30 * DEADLINE_SCALE, "the gate stopped")
    status = clustergate("status", "--home", str(home))
    assert status.returncode == 1, status.stdout + status.stderr
    said = [said for said in status.stdout.splitlines() if said.startswith(line.partition(":")[0] + ": ")]
    assert len(said) == 1 and said[0].startswith(line), status.stdout
    return json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"]


def test_status_and_the_next_up_name_a_down_killed_part_way_as_what_left_its_programs_stopped(small) -> None:
    # lnrev3 (an lnfix leftover): a `down` SIGKILLed while supervisord stopped the actors (a deploy's rollback timed
    # out) left them STOPPED under a supervisord still running, with its Redis: status said nothing of why, and the
    # next `up` started them as "stopped by hand or given up by supervisord".
    home, topo_path, _ = small
    gate_pid = pids(home)["gate"]
    os.kill(gate_pid, signal.SIGSTOP)  # its stop lasts its stopwaitsecs: `down` is killed while it waits
    down = subprocess.Popen([sys.executable, "-m", "launcher", "down", "--home", str(home)], cwd=REPO,
                            stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: "STOPPING" in supervisorctl(home, "status", "gate").stdout, 20, "supervisord stopping the gate")
    finally:
        down.kill()
        down.wait()
        os.kill(gate_pid, signal.SIGCONT)
    left = _status_once_the_gate_stopped_says(home, f"STOPPED BY AN INTERRUPTED DOWN: gate, permit_issuer stopped by "
                                                    f"`clustergate down` (pid {down.pid})")
    assert left == _by_one({"pid": down.pid, "programs": ["gate", "permit_issuer"], "command": "down", "failed": False}), left
    back = clustergate("up", str(topo_path), "--home", str(home))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "stopped by hand" not in back.stdout, back.stdout
    assert (f"started (left stopped by `clustergate down` (pid {down.pid}), killed part-way): "
            f"['permit_issuer', 'gate']") in back.stdout, back.stdout
    assert json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"] is None


def _up_killed_while_it_stops_the_frozen_issuer(home: Path, topo_path: Path, issuer_pid: int) -> subprocess.Popen:
    """`up` of topo_path SIGKILLed while supervisord stops the permit issuer (SIGSTOPped, so that stop lasts its
    stopwaitsecs); returns the killed `up` once the issuer is STOPPED."""
    os.kill(issuer_pid, signal.SIGSTOP)
    up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)], cwd=REPO,
                          stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: "STOPPING" in supervisorctl(home, "status", "permit_issuer").stdout, 20,
                 "supervisord stopping the permit issuer")
    finally:
        up.kill()
        up.wait()
        os.kill(issuer_pid, signal.SIGCONT)
    wait_for(lambda: "STOPPED" in supervisorctl(home, "status", "permit_issuer").stdout, 30 * DEADLINE_SCALE,
             "the permit issuer stopped")
    return up


def test_an_up_killed_part_way_after_another_killed_part_way_names_what_both_left_stopped(small) -> None:
    # lnrev3: the second of two `up`s killed part-way (a deploy's retry, timed out again) replaced the first's record
    # of what it stopped with its own: the gate the first left STOPPED, which the second had not yet started again,
    # was no longer named by status (STOPPED with no word of why) nor by the next `up` ("stopped by hand").
    home, topo_path, _ = small
    first, gate_pid = _up_stopping_a_frozen_gate(home, topo_path)
    first.kill()
    first.wait()
    os.kill(gate_pid, signal.SIGCONT)
    wait_for(lambda: "STOPPED" in supervisorctl(home, "status", "gate").stdout, 30 * DEADLINE_SCALE, "the gate stopped")
    issuer_pid = pids(home)["permit_issuer"]
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["permit_issuer"].setdefault("settings", {})["cooldown_ttl_s"] = 61
    write_topology(topo_path, changed)
    _up_killed_while_it_stops_the_frozen_issuer(home, topo_path, issuer_pid)
    report = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
    left = report["left_stopped_by_up"]
    assert left is not None and sorted(left["programs"]) == ["gate", "permit_issuer"], left
    back = clustergate("up", str(topo_path), "--home", str(home))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "stopped by hand" not in back.stdout, back.stdout


def test_up_names_this_homes_own_program_holding_a_crash_looping_programs_port_not_another_system(small) -> None:
    # lnrev3: the lnfix crash-loop check named whoever held the port as `another clustergate system, home HOME ...;
    # stop it with `clustergate down --home HOME``, HOME this very home (a program of another file in its
    # programs.d, as `monitor up`'s prometheus, put on the gate's port while the gate was stopped): the advice was
    # to stop the whole system. The up-front check names such a holder as this home's program (lnrev2); so does
    # this one now.
    home, topo_path, data = small
    port = data["actors"]["gate"]["metrics_port"]
    assert supervisorctl(home, "stop", "gate").returncode == 0
    (home / "run" / "programs.d" / "holder.conf").write_text(
        f"[program:holder]\ncommand={sys.executable} -c \"import socket, time; s = socket.socket(); "
        f"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); s.listen(); "
        f"time.sleep(600)\"\nautostart=true\nstartsecs=1\n")
    assert supervisorctl(home, "update").returncode == 0
    wait_for(lambda: "RUNNING" in supervisorctl(home, "status", "holder").stdout, 20, "the holder running")
    supervisorctl(home, "start", "gate")  # fails: supervisord starts it again and again
    up = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "120", timeout=300)
    assert up.returncode == 1, up.stdout + up.stderr
    said = [line for line in up.stdout.splitlines() if line.startswith("FAILED: ")]
    assert len(said) == 1, up.stdout
    assert "another clustergate system" not in said[0] and "down --home" not in said[0], said
    assert said[0].startswith(f"FAILED: program gate cannot bind actors.gate.metrics_port: port {port} is already in "
                              f"use by this home's program holder (pid "), said


def test_up_does_not_fail_a_starting_program_over_a_process_on_the_same_port_at_another_address(small) -> None:
    # lnrev3: the lnfix crash-loop check counted any socket on the gate's metrics port as its holder, whatever its
    # address: with another process listening on [::1] (or 127.0.0.2) at that port, which does not keep the gate from
    # binding 127.0.0.1, `up` of a changed gate said "FAILED: program gate cannot bind actors.gate.metrics_port: port
    # N is already in use by another process" while the gate was STARTING, and exited 1 on a healthy system.
    port = small[2]["actors"]["gate"]["metrics_port"]
    others = []
    for family, address in ((socket.AF_INET, "127.0.0.2"), (socket.AF_INET6, "::1")):
        other = socket.socket(family)
        try:
            other.bind((address, port))
        except OSError:  # no IPv6 here
            other.close()
            continue
        others.append(other)
    _up_of_a_changed_gate_passes_beside(others, small)


def _up_of_a_changed_gate_passes_beside(others: list[socket.socket], small) -> None:
    """`up` of a changed gate, `others` (bound at the gate's metrics port, where they do not keep it from binding)
    listening meanwhile, restarts the gate and blames nobody; the sockets are closed."""
    home, topo_path, _ = small
    try:
        for other in others:
            other.listen()
        change_the_gate(topo_path)
        up = clustergate("up", str(topo_path), "--home", str(home), "--timeout", "60", timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "FAILED" not in up.stdout, up.stdout
    finally:
        for other in others:
            other.close()


def test_up_does_not_fail_a_starting_program_over_an_ipv6_only_listener_on_its_port(small) -> None:
    # revupfix: a process listening on [::] at the gate's metrics port with IPV6_V6ONLY set (nginx's `listen [::]:P`,
    # a Go tcp6 listener, any [::] bind under net.ipv6.bindv6only=1) does not keep the gate from binding 127.0.0.1:P,
    # and up's own pre-flight probe lets it start; but /proc does not show IPV6_V6ONLY, and the crash-loop check read
    # that [::] socket as the port's holder: `up` of a changed gate said "FAILED: program gate cannot bind
    # actors.gate.metrics_port: port P is already in use by another process" while the gate was STARTING fine.
    other = socket.socket(socket.AF_INET6)
    try:
        other.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        other.bind(("::", small[2]["actors"]["gate"]["metrics_port"]))
    except OSError:  # no IPv6 here
        other.close()
        pytest.skip("no IPv6 on this machine")
    _up_of_a_changed_gate_passes_beside([other], small)


def _up_killed_while_it_stops_the_frozen_gate(home: Path, topo_path: Path) -> tuple[subprocess.Popen, dict]:
    """`up` of a changed gate SIGKILLed while supervisord stops the gate (_up_stopping_a_frozen_gate): the killed `up`
    and, once the gate is STOPPED, status --json's left_stopped_by_up (status said STOPPED BY AN INTERRUPTED UP)."""
    up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path)
    up.kill()
    up.wait()
    os.kill(gate_pid, signal.SIGCONT)
    return up, _status_once_the_gate_stopped_says(home, f"STOPPED BY AN INTERRUPTED UP: gate stopped by `clustergate "
                                                        f"up` (pid {up.pid})")


def test_status_and_the_next_up_name_an_up_killed_part_way_as_what_left_its_programs_stopped(small) -> None:
    # lnfix: an `up` SIGKILLed (a deploy's command timeout, an OOM kill) while supervisord stopped the gate to restart
    # it left the gate STOPPED: status showed it STOPPED, READY ?, with no word of why (exit 1), and the `up` that put
    # the previous topology back (a deploy's rollback) said "started (stopped by hand or given up by supervisord):
    # ['gate']".
    home, topo_path, _ = small
    previous = topo_path.read_text()
    up, left = _up_killed_while_it_stops_the_frozen_gate(home, topo_path)
    assert left == _by_one({"pid": up.pid, "programs": ["gate"], "command": "up", "failed": False}), left
    topo_path.write_text(previous)  # the previous topology put back, as a rollback does
    _the_next_up_starts_the_gate_as_left_by(home, topo_path, up.pid, "killed part-way")


def _the_next_up_starts_the_gate_as_left_by(home: Path, topo_path: Path, pid: int, how: str) -> None:
    """`up` of topo_path says it started the gate left stopped by `clustergate up` (pid), `how` it ended, not as
    stopped by hand, and status then names nothing left stopped by an `up`."""
    back = clustergate("up", str(topo_path), "--home", str(home))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "stopped by hand" not in back.stdout, back.stdout
    assert f"started (left stopped by `clustergate up` (pid {pid}), {how}): ['gate']" in back.stdout, back.stdout
    after = clustergate("status", "--json", "--home", str(home))
    assert after.returncode == 0 and json.loads(after.stdout)["left_stopped_by_up"] is None, after.stdout


def test_an_up_killed_part_way_stays_named_with_a_malformed_since_or_its_pid_now_another_processes(small) -> None:
    # recordfix: one program's `since` in a killed `up`'s record that is no time (a string, NaN, 1e400, negative, since
    # not a mapping) lost the whole record (a string) or that program (NaN, negative: never "not started since"), and
    # status said nothing of why the gate was STOPPED. Only that entry goes: the program is compared with the record's
    # `at`. The record's pid, used again by another live process (pid reuse after a reboot), is not that `up`: its
    # start time differs, and status names the killed `up` still.
    home, topo_path, _ = small
    previous = topo_path.read_text()
    up, _ = _up_killed_while_it_stops_the_frozen_gate(home, topo_path)
    path = home / "run" / "up-stopping.json"
    kept = json.loads(path.read_text())
    line = f"STOPPED BY AN INTERRUPTED UP: gate stopped by `clustergate up` (pid {up.pid})"
    for since in ({"gate": "x"}, {"gate": float("nan")}, {"gate": float("inf")}, {"gate": -1.0}, {"gate": True},
                  ["gate"], "gate"):
        path.write_text(json.dumps({**kept, "since": since}))  # NaN and Infinity as json.dumps writes them
        status = clustergate("status", "--home", str(home))
        said = [x for x in status.stdout.splitlines() if x.startswith("STOPPED BY AN INTERRUPTED UP: ")]
        assert len(said) == 1 and said[0].startswith(line), (since, status.stdout)
    other = subprocess.Popen(["sleep", "600"])  # a live process given the killed `up`'s pid, started at another time
    try:
        path.write_text(json.dumps({**kept, "pid": other.pid}))
        said = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"]
        assert said is not None and said["pid"] == other.pid and said["programs"] == ["gate"], said
    finally:
        other.kill()
        other.wait()
    path.write_text(json.dumps(kept))
    topo_path.write_text(previous)
    _the_next_up_starts_the_gate_as_left_by(home, topo_path, up.pid, "killed part-way")


def test_an_up_killed_part_way_names_only_what_it_stopped_not_a_program_it_never_reached(small) -> None:
    # upstop (carried from earlier reviews): a killed `up` recorded every program it meant to stop before stopping the
    # first, so a program it never reached (the gate: supervisord stops the permit issuer first, by priority) that
    # the operator later stopped by hand was named by status, and the next `up`, as left stopped by the killed `up`.
    home, topo_path, _ = small
    previous = topo_path.read_text()
    changed = yaml.safe_load(previous)
    changed["actors"]["permit_issuer"].setdefault("settings", {})["cooldown_ttl_s"] = 61
    changed["actors"]["gate"].setdefault("settings", {})["cold_stress"] = 0.5
    write_topology(topo_path, changed)
    up = _up_killed_while_it_stops_the_frozen_issuer(home, topo_path, pids(home)["permit_issuer"])
    assert "RUNNING" in supervisorctl(home, "status", "gate").stdout  # never reached by the killed `up`
    assert supervisorctl(home, "stop", "gate").returncode == 0  # by hand
    status = clustergate("status", "--home", str(home))
    said = [line for line in status.stdout.splitlines() if line.startswith("STOPPED BY AN INTERRUPTED UP: ")]
    assert said and said[0].startswith(f"STOPPED BY AN INTERRUPTED UP: permit_issuer stopped by `clustergate up` "
                                       f"(pid {up.pid})"), status.stdout
    left = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"]
    assert left == _by_one({"pid": up.pid, "programs": ["permit_issuer"], "command": "up", "failed": False}), left
    topo_path.write_text(previous)  # the previous topology put back, as a rollback does
    back = clustergate("up", str(topo_path), "--home", str(home))
    assert back.returncode == 0, back.stdout + back.stderr
    assert (f"started (left stopped by `clustergate up` (pid {up.pid}), killed part-way): ['permit_issuer']"
            in back.stdout), back.stdout
    assert "started (stopped by hand or given up by supervisord): ['gate']" in back.stdout, back.stdout


def test_status_and_the_next_up_name_an_up_that_failed_part_way_as_failed_not_killed(small) -> None:
    # upstop (carried from earlier reviews): an `up` that failed after it stopped a program (here supervisord
    # stopped, SIGSTOP, during its stop of the gate: the call's deadline passes), and put its files back, left its
    # record of the programs it stopped: status said "STOPPED BY AN INTERRUPTED UP ... killed part-way" of an `up`
    # that ended on its own, saying FAILED, and the next `up` said "killed part-way" too.
    home, topo_path, _ = small
    previous = topo_path.read_text()
    up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True, env=_with_a_shorter_call_deadline(home.parent / "site"))
    supervisord_pid = int(Home(home).pid_file.read_text())
    os.kill(supervisord_pid, signal.SIGSTOP)
    try:
        out, err = up.communicate(timeout=300)
    finally:
        os.kill(gate_pid, signal.SIGCONT)  # first: supervisord, resumed past its stopwaitsecs, kills and reaps it
        os.kill(supervisord_pid, signal.SIGCONT)
    assert up.returncode == 1, out + err
    assert "FAILED: " in err and "the previous files are back" in err, out + err
    # upfail: supervisord, stopped, could not be put back on the previous files: the line says so, what it may run,
    # what is stopped, and what puts it back.
    assert (", but supervisord was not put back on them (supervisord (pid " in err
            and f"): it may still run this `up`'s configuration (of {topo_path}) for the programs it added, restarted or "
                f"removed; stopped by this `up` and not started again: ['gate'] (`clustergate status` names them "
                f"STOPPED BY A FAILED UP); once supervisord answers, `clustergate up` of the previous topology file "
                f"(`--home {home.resolve()}`) puts it back on them" in err), err
    left = _status_once_the_gate_stopped_says(home, f"STOPPED BY A FAILED UP: gate stopped by `clustergate up` "
                                                    f"(pid {up.pid})")
    assert left == _by_one({"pid": up.pid, "programs": ["gate"], "command": "up", "failed": True}), left
    status = clustergate("status", "--home", str(home))
    assert "killed part-way" not in status.stdout and "INTERRUPTED" not in status.stdout, status.stdout
    topo_path.write_text(previous)
    _the_next_up_starts_the_gate_as_left_by(home, topo_path, up.pid, "which failed")


def test_an_up_that_fails_before_it_stops_anything_leaves_a_killed_ups_record_naming_the_killed_up(small) -> None:
    # revup: an `up` took over a killed `up`'s record (of the gate it left STOPPED) before its own first stop, so
    # one that then failed before stopping anything (supervisord refused its reloadConfig: a broken file in
    # run/programs.d) marked the record as its own, failed: status said "STOPPED BY A FAILED UP: gate stopped by
    # `clustergate up` (pid <the failed one>)", which stopped nothing, and the killed `up` was no longer named.
    home, topo_path, _ = small
    previous = topo_path.read_text()
    killed, _ = _up_killed_while_it_stops_the_frozen_gate(home, topo_path)
    broken = home / "run" / "programs.d" / "broken.conf"
    broken.write_text("[program:broken]\n")  # no command: supervisord refuses to read its configuration again
    topo_path.write_text(previous)
    failed = clustergate("up", str(topo_path), "--home", str(home))
    assert failed.returncode == 1 and "FAILED: " in failed.stderr, failed.stdout + failed.stderr
    broken.unlink()
    left = _status_once_the_gate_stopped_says(home, f"STOPPED BY AN INTERRUPTED UP: gate stopped by `clustergate up` "
                                                    f"(pid {killed.pid})")
    assert left == _by_one({"pid": killed.pid, "programs": ["gate"], "command": "up", "failed": False}), left
    _the_next_up_starts_the_gate_as_left_by(home, topo_path, killed.pid, "killed part-way")


def test_an_up_that_took_over_a_killed_ups_record_and_failed_is_named_only_for_what_it_stopped(small) -> None:
    # upowner (revup review): an `up` that took over a killed `up`'s record (the gate it left STOPPED) and then failed
    # after its own first stop (the permit issuer's: supervisord stopped, SIGSTOP, during it) marked the whole record
    # failed as its own: status said "STOPPED BY A FAILED UP: gate, permit_issuer stopped by `clustergate up` (pid
    # <the failed one>)", the gate too, which the killed `up` had stopped, and the next `up` the same.
    home, topo_path, _ = small
    killed, _ = _up_killed_while_it_stops_the_frozen_gate(home, topo_path)
    issuer_pid = pids(home)["permit_issuer"]
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["permit_issuer"].setdefault("settings", {})["cooldown_ttl_s"] = 61
    write_topology(topo_path, changed)
    os.kill(issuer_pid, signal.SIGSTOP)  # its stop lasts its stopwaitsecs
    failing = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home),
                                "--timeout", "60"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_with_a_shorter_call_deadline(home.parent / "site"))
    supervisord_pid = int(Home(home).pid_file.read_text())
    try:
        wait_for(lambda: _signal_pending(issuer_pid, signal.SIGTERM), 20, "supervisord stopping the permit issuer",
                 interval_s=0.005)
        os.kill(supervisord_pid, signal.SIGSTOP)
        out, err = failing.communicate(timeout=300)
    finally:
        if failing.poll() is None:
            failing.kill()
            failing.communicate()
        os.kill(issuer_pid, signal.SIGCONT)  # first: supervisord, resumed past its stopwaitsecs, kills and reaps it
        os.kill(supervisord_pid, signal.SIGCONT)
    assert failing.returncode == 1 and "FAILED: " in err and "the previous files are back" in err, out + err
    wait_for(lambda: "STOPPED" in supervisorctl(home, "status", "permit_issuer").stdout, 30 * DEADLINE_SCALE,
             "the permit issuer stopped")
    status = clustergate("status", "--home", str(home))
    assert status.returncode == 1, status.stdout + status.stderr
    said = [line for line in status.stdout.splitlines() if line.startswith("STOPPED BY ")]
    assert len(said) == 2, status.stdout
    assert said[0].startswith(f"STOPPED BY AN INTERRUPTED UP: gate stopped by `clustergate up` (pid {killed.pid})"), said
    assert said[1].startswith(f"STOPPED BY A FAILED UP: permit_issuer stopped by `clustergate up` (pid "
                              f"{failing.pid})"), said
    left = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"]
    assert left["owners"] == [{"pid": killed.pid, "command": "up", "failed": False, "programs": ["gate"]},
                              {"pid": failing.pid, "command": "up", "failed": True, "programs": ["permit_issuer"]}], left
    # The next `up`'s lines, given that record: one for each (this `up` restarts both as changed, which names neither:
    # supervisord runs the failed one's configuration, its files are back).
    assert started_left_stopped(left, ["permit_issuer", "gate"]) == [
        f"started (left stopped by `clustergate up` (pid {killed.pid}), killed part-way): ['gate']",
        f"started (left stopped by `clustergate up` (pid {failing.pid}), which failed): ['permit_issuer']"]
    back = clustergate("up", str(topo_path), "--home", str(home))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "stopped by hand" not in back.stdout, back.stdout
    assert json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"] is None


# Run as sitecustomize by the `up` started with it on PYTHONPATH: it stops itself (SIGSTOP) just after supervisord
# answered its stop of the program UP_PAUSES_AFTER_STOPPING, so a test can kill it at that very point.
UP_PAUSES_AFTER_STOPPING = """
import os, signal, xmlrpc.client
_call = xmlrpc.client._Method.__call__
def _paused(self, *args):
    result = _call(self, *args)
    if self._Method__name == "supervisor.stopProcessGroup" and args[:1] == (os.environ["UP_PAUSES_AFTER_STOPPING"],):
        os.kill(os.getpid(), signal.SIGSTOP)
    return result
xmlrpc.client._Method.__call__ = _paused
"""


def test_an_up_killed_just_after_it_stopped_a_crash_looping_program_names_it(small, tmp_path: Path) -> None:
    # upstop (carried from earlier reviews): `up` recorded only the programs it stopped that had a pid (STARTING,
    # RUNNING, STOPPING), not one crash-looping (BACKOFF, between its tries): killed just after supervisord stopped it
    # (STOPPED, not started again by supervisord), status said nothing of why it was STOPPED.
    home, topo_path, _ = small
    assert supervisorctl(home, "stop", "permit_issuer").returncode == 0
    # The permit issuer started again fails at once (no running copy of the topology), again and again, until
    # `up` writes the copy, just before it stops it.
    # supervisord waits a second longer after each failed try: from the fifth on, 5 s or more, the issuer is in
    # BACKOFF (no pid) when `up` looks at it and stops it, not STARTING (a pid: recorded before too).
    (home / "run" / "topology.yaml").unlink()
    supervisorctl(home, "start", "permit_issuer")
    log = home / "run" / "supervisord.log"
    wait_for(lambda: log.read_text().count("exited: permit_issuer (") >= 5
             and "BACKOFF" in supervisorctl(home, "status", "permit_issuer").stdout, 60 * DEADLINE_SCALE,
             "the issuer failing its fifth try")
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["permit_issuer"].setdefault("settings", {})["cooldown_ttl_s"] = 61
    write_topology(topo_path, changed)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(UP_PAUSES_AFTER_STOPPING)
    up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)], cwd=REPO,
                          stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(site),
                                                              UP_PAUSES_AFTER_STOPPING="permit_issuer"))
    try:
        wait_for(lambda: Path(f"/proc/{up.pid}/stat").read_text().rpartition(")")[2].split()[0] == "T", 60,
                 "the up paused just after its stop of the permit issuer")
    finally:
        up.kill()
        up.wait()
    assert "STOPPED" in supervisorctl(home, "status", "permit_issuer").stdout
    left = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["left_stopped_by_up"]
    assert left == _by_one({"pid": up.pid, "programs": ["permit_issuer"], "command": "up", "failed": False}), left


# Run as sitecustomize by the `up` started with it on PYTHONPATH: its record of the programs it stops
# (run/up-stopping.json) cannot be written once it names the gate, as on a disk that just filled up.
UP_RECORD_ON_A_FULL_DISK = """
import errno, sys
sys.path.insert(0, {repo!r})
import launcher.proof_stops as proof_stops
_write = proof_stops._write
def _full(run, stops, file=proof_stops.FILE):
    if file == proof_stops.UP_FILE and "gate" in stops.programs:
        raise OSError(errno.ENOSPC, "No space left on device")
    return _write(run, stops, file)
proof_stops._write = _full
"""


def test_an_up_that_cannot_write_its_record_of_a_stop_applies_its_change_whole_and_says_so(small, tmp_path: Path) -> None:
    # revup: upstop writes the record for each program `up` stops and again once supervisord runs it: a write that
    # failed (disk full) failed the `up` half-way, "FAILED: [Errno 28] ...; the previous files are back", the permit
    # issuer restarted on the new configuration and the gate not (status: NOT APPLIED). The record only names what a
    # killed `up` left stopped: the change goes on, and the `up` says what it could not record.
    home, topo_path, _ = small
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["permit_issuer"].setdefault("settings", {})["cooldown_ttl_s"] = 61
    changed["actors"]["gate"].setdefault("settings", {})["cold_stress"] = 0.5
    write_topology(topo_path, changed)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(UP_RECORD_ON_A_FULL_DISK.format(repo=str(REPO)))
    up = subprocess.run([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)], cwd=REPO,
                        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(site)), timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "restarted ['permit_issuer', 'gate']" in up.stdout or "restarted ['gate', 'permit_issuer']" in up.stdout, \
        up.stdout
    assert f"could not write {home / 'run' / 'up-stopping.json'} (No space left on device)" in up.stderr, up.stderr
    status = clustergate("status", "--home", str(home))
    assert status.returncode == 0 and "NOT APPLIED" not in status.stdout, status.stdout


def _clustergate_whose_record_temp_file_another_process_locks(home: Path, *args: str,
                                                              env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `clustergate ARGS` while this process holds the flock of the run/.up-stopping.json.PID it writes its record
    to (as another process, a stuck one or one of another pid namespace, would hold it): the shell exec's the
    launcher, so its pid is known, and locked, before the launcher starts. (returncode, stdout, stderr)."""
    import fcntl

    command = shlex.join([sys.executable, "-m", "launcher", *args])
    proc = subprocess.Popen(["sh", "-c", f"read go && exec {command}"], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    fd = os.open(home / "run" / f".up-stopping.json.{proc.pid}", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        out, err = proc.communicate("go\n", timeout=300)
        return proc.returncode, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(fd)
        (home / "run" / f".up-stopping.json.{proc.pid}").unlink(missing_ok=True)


def test_an_up_whose_record_temp_file_another_process_locks_applies_its_change_whole_and_says_so(small) -> None:
    # revrec: recordfix's writer waits a bounded time for its temp file's lock, then OSError. `up` said it as
    # "could not write .../up-stopping.json (None)" (an OSError of no errno); where `up` restarts supervisord (the Redis
    # password changed) and where it releases a killed `up`'s record once its change applied, the same OSError was a
    # traceback: the first one after the new files were switched in, supervisord left on the old ones (NOT APPLIED).
    home, topo_path, _ = small
    record = home / "run" / "up-stopping.json"
    said = f"could not write {record} (its temp file {home / 'run'}/.up-stopping.json."
    change_the_gate(topo_path)
    code, out, err = _clustergate_whose_record_temp_file_another_process_locks(home, "up", str(topo_path), "--home",
                                                                              str(home))
    assert code == 0 and "restarted ['gate']" in out, out + err
    assert said in err and "held (flock) or removed by another process" in err and "(None)" not in err, err
    gone = subprocess.Popen(["true"])  # a killed `up`'s record, of a pid that runs nothing: this `up` releases it
    gone.wait()
    record.write_text(json.dumps({"proof": "up", "pid": gone.pid, "started": "1", "programs": ["permit_issuer"],
                                  "at": 1.0, "since": {"permit_issuer": 1.0}}))
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["gate"]["settings"]["cold_stress"] = 0.6
    write_topology(topo_path, changed)
    code, out, err = _clustergate_whose_record_temp_file_another_process_locks(home, "up", str(topo_path), "--home",
                                                                              str(home))
    assert code == 0 and "Traceback" not in err and said in err, out + err
    changed["redis"]["password_env"] = "REVREC_REDIS_PASSWORD"  # supervisord restarted with every program
    write_topology(topo_path, changed)
    env = {**os.environ, "REVREC_REDIS_PASSWORD": "revrec-secret"}
    code, out, err = _clustergate_whose_record_temp_file_another_process_locks(home, "up", str(topo_path), "--home",
                                                                              str(home), env=env)
    assert code == 0 and "Traceback" not in err and said in err, out + err
    status = subprocess.run([sys.executable, "-m", "launcher", "status", "--home", str(home)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "NOT APPLIED" not in status.stdout, status.stdout + status.stderr


def test_a_down_whose_record_temp_file_another_process_locks_shuts_supervisord_and_says_so(small) -> None:
    # revrec: `down` took its record's write failing (recordfix's bounded wait for its temp file's lock) for
    # supervisord dying: "supervisord stopped answering during the shutdown", 30 s waiting for a supervisord that
    # answered, then every program stopped as a leftover. It says the record unwritten and shuts supervisord.
    home, _, _ = small
    code, out, err = _clustergate_whose_record_temp_file_another_process_locks(home, "down", "--home", str(home))
    assert code == 0 and "Traceback" not in err, out + err
    assert f"could not write {home / 'run' / 'up-stopping.json'} (its temp file" in err, err
    assert "stopped answering" not in out and "stopping leftover" not in out, out
    assert "stopped every program and supervisord" in out, out


NO_FLOCK_C = r"""
#include <errno.h>
/* flock(2) on a filesystem that has none to give: an NFS client whose lock manager is not reached (ENOLCK). */
int flock(int fd, int op) { (void)fd; (void)op; errno = ENOLCK; return -1; }
"""


def test_up_and_down_on_a_home_whose_filesystem_refuses_flock_say_so_not_a_traceback(tmp_path: Path) -> None:
    # revrec: `up` and `down` lock run/change.lock (flock) first; a filesystem that refuses flock (ENOLCK: an NFS
    # client whose lock manager is not reached) ended both in a traceback. They say which file they could not lock,
    # and that nothing was done (a proof already said `cannot take the proof lock`). Their flock fails as there
    # (LD_PRELOAD of NO_FLOCK_C, built with cc as the deadline tests' clock shim is).
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (cc) builds the failing flock of this test"
    (tmp_path / "no_flock.c").write_text(NO_FLOCK_C)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "no_flock.so"), str(tmp_path / "no_flock.c")],
                   check=True, timeout=120)
    home = tmp_path / "home"
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    env = {**os.environ, "LD_PRELOAD": str(tmp_path / "no_flock.so")}
    for args in (("up", str(topo_path), "--home", str(home)), ("down", "--home", str(home))):
        run = subprocess.run([sys.executable, "-m", "launcher", *args], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stdout + run.stderr
        assert (f"FAILED: cannot lock {home / 'run' / 'change.lock'} (No locks available): `clustergate {args[0]}` "
                f"locks files in") in run.stderr, run.stderr
    assert not (home / "run" / "supervisord.pid").exists()


def test_a_config_hash_version_line_past_any_version_reads_as_none_written_not_a_traceback(tmp_path: Path) -> None:
    # lnrev3: run/programs.d's `; config hash version N` (lnfix) was read with int() on any run of digits: a line
    # of 5,000 digits (a hand edit, a corrupted file) raised ValueError (int past 4,300 digits) out of `status
    # --exits`, which `status FILE --all-hosts` runs on each host. It reads as no line (version 1), as other garbage.
    from launcher.supervise import home_exits
    home = Home(tmp_path / "home")
    home.programs.parent.mkdir(parents=True)
    home.run.joinpath("supervisord.log").write_text("")
    home.programs.write_text("[program:gate]\ncommand=true\n; config hash version " + "9" * 5000 + "\n")
    assert home_exits(home)["config_hash_version"] == 1


def _supervisord_config(home: Path) -> dict[str, str]:
    """Program -> command of the configuration supervisord holds in memory (supervisorctl avail's programs)."""
    from launcher.supervise import Supervisor
    return {info["name"]: info["command"] for info in Supervisor(Home(home)).api.getAllConfigInfo()}


def _file_config(home: Path) -> dict[str, str]:
    """Program -> command of the configuration in the home's files, as supervisord reads them."""
    from supervisor.options import ServerOptions
    options = ServerOptions()
    options.realize(["-c", str(home / "supervisord.conf")])
    return {group.name: group.process_configs[0].command for group in options.process_group_configs}


def _environ_hash(pid: int) -> str | None:
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    value = env.get(b"CLUSTERGATE_CONFIG_HASH")
    return None if value is None else value.decode()


def _rendered_hash(home: Path, program: str) -> str:
    section = (home / "run" / "programs.d" / "clustergate.conf").read_text().partition(f"[program:{program}]\n")[2]
    return re.search(r'CLUSTERGATE_CONFIG_HASH="([0-9a-f]+)"', section.partition("\n[program:")[0]).group(1)


def test_an_up_that_fails_after_supervisord_applied_part_of_it_puts_supervisord_back_on_the_previous_files(small) -> None:
    # upfail (carried from an earlier review): an `up` that failed after supervisord had re-read its new files and
    # restarted, added or removed programs put the previous files back and said so, but supervisord went on running
    # the new configuration: the gate with its new settings, the added price feed, and a later `supervisorctl
    # restart` (or an autorestart) used it too. Here supervisord refuses to start the permit issuer (stopped by hand,
    # `up` starts it last: its log path is a directory, SPAWN_ERROR) once it has restarted the changed gate and
    # added the price feed.
    home, topo_path, data = small
    before = run_files(home)
    old_config = _supervisord_config(home)
    old_gate_hash = _rendered_hash(home, "gate")
    _spawn_error_change(home, topo_path)
    gate_before = pids(home)["gate"]
    up = clustergate("up", str(topo_path), "--home", str(home))
    assert up.returncode == 1, up.stdout + up.stderr
    assert "restarted ['gate']" in up.stdout and "added ['price_feed']" in up.stdout, up.stdout  # it got that far
    assert up.stderr.startswith(f"FAILED: <Fault 50: 'SPAWN_ERROR: permit_issuer'>; the previous files are back in "
                                f"{home.resolve() / 'run'}, and supervisord was put back on them (removed ['price_feed'], "
                                f"restarted ['gate'])\n"), up.stderr
    assert run_files(home) == before
    assert _supervisord_config(home) == _file_config(home) == old_config
    avail = supervisorctl(home, "avail").stdout
    assert "price_feed" not in avail, avail
    wait_for(lambda: "RUNNING" in supervisorctl(home, "status", "gate").stdout, 30, "the gate running")
    gate_now = pids(home)["gate"]
    assert gate_now != gate_before and _environ_hash(gate_now) == old_gate_hash
    status = clustergate("status", "--json", "--home", str(home))
    assert json.loads(status.stdout)["left_stopped_by_up"] is None, status.stdout
    assert "NOT APPLIED" not in clustergate("status", "--home", str(home)).stdout


def test_an_up_that_fails_in_a_stop_supervisord_answers_too_late_starts_what_it_stopped_on_the_previous_files(
        small) -> None:
    # upfail: supervisord stopped (SIGSTOP) in its stop of the changed gate past the call's deadline, and resumed
    # once `up` has put its files back: supervisord, which had read the new files, is put back on the previous ones,
    # and the gate `up` stopped is started again on them, no longer named as stopped by a failed `up`.
    home, topo_path, _ = small
    before = run_files(home)
    old_gate_hash = _rendered_hash(home, "gate")
    up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True, env=_with_a_shorter_call_deadline(home.parent / "site"))
    supervisord_pid = int(Home(home).pid_file.read_text())
    os.kill(supervisord_pid, signal.SIGSTOP)
    try:  # resumed within the few seconds `up` gives supervisord to answer once its files are back
        wait_for(lambda: run_files(home) == before, 120, "the previous files back", interval_s=0.02)
    finally:
        os.kill(gate_pid, signal.SIGCONT)  # first: supervisord, resumed past its stopwaitsecs, kills and reaps it
        os.kill(supervisord_pid, signal.SIGCONT)
    try:
        out, err = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    assert up.returncode == 1, out + err
    assert err.startswith("FAILED: supervisord (pid "), err
    assert (f"; the previous files are back in {home.resolve() / 'run'}, and supervisord was put back on them "
            f"(started ['gate'])\n") in err, err
    assert "STOPPED" not in supervisorctl(home, "status", "gate").stdout  # started before `up` exited
    assert _supervisord_config(home) == _file_config(home)
    wait_for(lambda: "RUNNING" in supervisorctl(home, "status", "gate").stdout, 30, "the gate running")
    assert _environ_hash(pids(home)["gate"]) == old_gate_hash
    status = clustergate("status", "--json", "--home", str(home))
    assert json.loads(status.stdout)["left_stopped_by_up"] is None, status.stdout


def _paused_up(home: Path, topo_path: Path, tmp_path: Path, hook: str, **env: str) -> subprocess.Popen:
    """`up` of the topology file with the sitecustomize `hook` (one that SIGSTOPs it at a point), once it has stopped
    itself there; `env` added to its environment."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(hook)
    up = subprocess.Popen([sys.executable, "-m", "launcher", "up", str(topo_path), "--home", str(home)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONPATH=str(site), **env))
    try:
        wait_for(lambda: Path(f"/proc/{up.pid}/stat").read_text().rpartition(")")[2].split()[0] == "T", 60,
                 "the up stopped by its hook")
    except BaseException:
        _signalled(up, signal.SIGKILL)
        raise
    return up


def test_an_up_whose_supervisord_dies_part_way_says_nothing_runs_and_what_starts_it_again(small, tmp_path: Path) -> None:
    # upfail: supervisord killed (SIGKILL) just after it stopped the changed gate for `up`: its programs die with it,
    # and the FAILED line says so and what starts them again, not only that the previous files are back.
    home, topo_path, _ = small
    change_the_gate(topo_path)
    up = _paused_up(home, topo_path, tmp_path, UP_PAUSES_AFTER_STOPPING, UP_PAUSES_AFTER_STOPPING="gate")
    try:
        supervisord_pid = int(Home(home).pid_file.read_text())
        os.kill(supervisord_pid, signal.SIGKILL)
        wait_for(lambda: not alive(supervisord_pid), 30, "supervisord gone")
    finally:
        out, err = _signalled(up, signal.SIGCONT)
    assert up.returncode == 1, out + err
    assert (f"; the previous files are back in {home.resolve() / 'run'}, but supervisord is no longer running (nothing "
            f"answers on {home.resolve() / 'run' / 'supervisor.sock'}), nor are the programs it ran (they die with it): "
            f"`clustergate up` of the previous topology file (`--home {home.resolve()}`) starts them again\n") in err, err


# Run as sitecustomize by the `up` started with it on PYTHONPATH: it stops itself (SIGSTOP) just after supervisord
# answered its second reloadConfig (the one that puts supervisord back on the previous files after a failure), so a
# test can kill it in the middle of that rollback.
UP_PAUSES_IN_ITS_ROLLBACK = """
import os, signal, xmlrpc.client
_call = xmlrpc.client._Method.__call__
_reloads = []
def _paused(self, *args):
    result = _call(self, *args)
    if self._Method__name == "supervisor.reloadConfig":
        _reloads.append(1)
        if len(_reloads) == 2:
            os.kill(os.getpid(), signal.SIGSTOP)
    return result
xmlrpc.client._Method.__call__ = _paused
"""


def _spawn_error_change(home: Path, topo_path: Path) -> None:
    """Edit the topology file so that `up` of it restarts the gate and adds a price feed, and then fails: supervisord
    refuses to start the permit issuer (stopped by hand, started by `up` last: its log path is a directory)."""
    assert supervisorctl(home, "stop", "permit_issuer").returncode == 0
    log = Home(home).log_of("permit_issuer")
    log.unlink()
    log.mkdir()
    changed = yaml.safe_load(topo_path.read_text())
    changed["actors"]["gate"].setdefault("settings", {})["cold_stress"] = 0.5
    changed["actors"]["price_feed"] = retarget(demo_topology_data())["actors"]["price_feed"]
    write_topology(topo_path, changed)


def test_status_names_a_program_a_failed_up_added_that_still_runs_after_its_rollback_was_killed(small, tmp_path: Path) -> None:
    # revfail: an `up` that added a price feed and failed was SIGKILLed (a deploy's command timeout) while it put
    # supervisord back on the previous files: the price feed, in no file of the home any more, ran on; status named
    # the gate NOT APPLIED (restarted on the new configuration) and said nothing of the price feed.
    home, topo_path, _ = small
    _spawn_error_change(home, topo_path)
    up = _paused_up(home, topo_path, tmp_path, UP_PAUSES_IN_ITS_ROLLBACK)
    out, err = _signalled(up, signal.SIGKILL)
    assert "added ['price_feed']" in out, out + err
    wait_for(lambda: pids(home).get("price_feed"), 30, "the added price feed running")
    status = clustergate("status", "--home", str(home))
    assert status.returncode == 1, status.stdout
    said = [line for line in status.stdout.splitlines() if line.startswith("NOT APPLIED: ")]
    assert len(said) == 1 and said[0].startswith("NOT APPLIED: gate, price_feed run(s) another configuration"), status.stdout
    rows = {row["name"]: row for row in json.loads(clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
    assert rows["price_feed"]["config_applied"] is False, rows


# Run as sitecustomize by the `up` started with it on PYTHONPATH: it stops itself (SIGSTOP) just after supervisord
# answered its shutdown (a new Redis password: `up` restarts supervisord), so a test can act before the new one starts.
UP_PAUSES_AFTER_SHUTDOWN = """
import os, signal, xmlrpc.client
_call = xmlrpc.client._Method.__call__
def _paused(self, *args):
    result = _call(self, *args)
    if self._Method__name == "supervisor.shutdown":
        os.kill(os.getpid(), signal.SIGSTOP)
    return result
xmlrpc.client._Method.__call__ = _paused
"""


def test_an_up_that_shut_supervisord_down_for_a_new_password_and_failed_to_start_it_says_nothing_runs(
        small, tmp_path: Path) -> None:
    # revfail: an `up` of a new Redis password shuts supervisord down (every program with it) and starts it again on
    # the new files; the new one failing to start (here its log path is a directory), `up` said only "FAILED:
    # supervisord failed to start: ...; the previous files are back in HOME/run", as if the previous system ran on:
    # nothing ran, the gate answered no proposal, and status said only "supervisord: not running".
    home, topo_path, _ = small
    supervisord_pid = int(Home(home).pid_file.read_text())
    log = home / "run" / "supervisord.log"
    up = _paused_up(home, topo_path, tmp_path, UP_PAUSES_AFTER_SHUTDOWN, CLUSTERGATE_REDIS_PASSWORD="a-new-password")
    try:
        wait_for(lambda: not alive(supervisord_pid), 60, "the previous supervisord gone")
        log.unlink()
        log.mkdir()
    finally:
        out, err = _signalled(up, signal.SIGCONT)
        if log.is_dir():
            log.rmdir()
    assert up.returncode == 1, out + err
    assert err.startswith("FAILED: supervisord failed to start: "), err
    assert (f"; the previous files are back in {home.resolve() / 'run'}, but supervisord, shut down to restart it with "
            f"the new Redis password, is not running (nothing answers on {home.resolve() / 'run' / 'supervisor.sock'}), "
            f"nor is any program it ran: `clustergate up` of the previous topology file (`--home {home.resolve()}`) "
            f"starts them again\n") in err, err
    assert clustergate("up", str(topo_path), "--home", str(home)).returncode == 0  # as it says


def test_a_program_a_failed_ups_rollback_cannot_start_again_stays_named_as_left_stopped_by_it(small) -> None:
    # revfail: the gate, stopped by an `up` that then failed (supervisord SIGSTOPped in that stop, past the call
    # deadline), could not be started again by the rollback (SPAWN_ERROR: its log path made a directory meanwhile).
    # The FAILED line said "`clustergate status` names them STOPPED BY A FAILED UP: gate", but status named nothing:
    # supervisord retried the start (BACKOFF), each try a start after the record's time, which reads as a program
    # started since by someone else; and the next `up` did not say whose it was.
    home, topo_path, _ = small
    previous = topo_path.read_text()
    before = run_files(home)
    up, gate_pid = _up_stopping_a_frozen_gate(home, topo_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True, env=_with_a_shorter_call_deadline(home.parent / "site"))
    supervisord_pid = int(Home(home).pid_file.read_text())
    log = Home(home).log_of("gate")
    os.kill(supervisord_pid, signal.SIGSTOP)
    try:  # resumed within the few seconds `up` gives supervisord to answer once its files are back
        wait_for(lambda: run_files(home) == before, 120, "the previous files back", interval_s=0.02)
        log.unlink()
        log.mkdir()
    finally:
        os.kill(gate_pid, signal.SIGCONT)  # first: supervisord, resumed past its stopwaitsecs, kills and reaps it
        os.kill(supervisord_pid, signal.SIGCONT)
        out, err = _signalled(up, 0)
    try:
        assert up.returncode == 1, out + err
        assert (", and supervisord was put back on them (it needed no change); left stopped by this `up` (`clustergate "
                "status` names them STOPPED BY A FAILED UP): gate (SPAWN_ERROR: gate): " in err), err
        status = clustergate("status", "--home", str(home))
        said = [line for line in status.stdout.splitlines() if line.startswith("STOPPED BY A FAILED UP: ")]
        assert said and said[0].startswith(f"STOPPED BY A FAILED UP: gate stopped by `clustergate up` (pid {up.pid})"), \
            status.stdout
        assert "STOPPED" in supervisorctl(home, "status", "gate").stdout  # not retried (BACKOFF) past the record
    finally:
        log.rmdir()
    topo_path.write_text(previous)
    _the_next_up_starts_the_gate_as_left_by(home, topo_path, up.pid, "which failed")


def test_a_second_stop_signal_nested_in_the_first_ones_deferred_handler_leaves_the_first_one_remembered() -> None:
    """`up` remembers the first stop signal of a change being applied (its exit, 128 + its number): the second of two
    sent at once, arriving as the first's handler starts, ran nested there, before the first was remembered, and was
    taken for the first (SIGHUP then SIGTERM said SIGTERM). Reproduced in this process with real signals."""
    import signal
    from helpers import nested_stop_signals
    from launcher.supervise import DeferredInterrupt
    deferred = DeferredInterrupt()
    assert nested_stop_signals(deferred._remember, signal.SIGHUP, signal.SIGTERM) is None
    assert deferred.signum == signal.SIGHUP
