"""A refused `clustergate up`, against real supervisord and real processes: it says in one line who holds the ports
it needs (another clustergate system: which home, and the `down` that stops it), leaves nothing it created in the
home it was given, and its port claims leave no file behind."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from helpers import REPO, demo_topology_data, retarget, write_topology
from launcher.ports import port_outside_ephemeral_range
from launcher.supervise import ChangeLock, Home


def clustergate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env=env)


def small_data() -> dict:
    """Managed Redis, a permit issuer and a gate on free ports (five ports in all)."""
    data = retarget(demo_topology_data())
    data["actors"] = {name: data["actors"][name] for name in ("permit_issuer", "gate")}
    return data


def everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_an_up_of_ports_another_clustergate_system_holds_names_that_home_and_its_down_in_one_line(tmp_path: Path) -> None:
    """A second demo from another checkout printed 16 lines `port N is already in use by another process`, none saying
    that the first demo held them nor how to stop it; and it left supervisord.conf and run/ in the home it was given."""
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    first, second = tmp_path / "first", tmp_path / "new" / "second"
    try:
        up = clustergate("up", str(topo_path), "--home", str(first))
        assert up.returncode == 0, up.stdout + up.stderr
        refused = clustergate("up", str(topo_path), "--home", str(second))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, refused.stderr
        assert "(5 of this topology's) are already in use" in lines[0], lines[0]
        assert f"another clustergate system, home {first.resolve()} (topology 'demo', supervisord pid " in lines[0], lines[0]
        assert f"down --home {first.resolve()}`" in lines[0], lines[0]
        assert not (tmp_path / "new").exists(), everything_under(tmp_path / "new")
    finally:
        clustergate("down", "--home", str(first))


def test_a_refused_up_leaves_nothing_it_created_and_keeps_what_was_there(tmp_path: Path) -> None:
    """Refused after its checks began (here: the topology asks for a Redis password the environment lacks), `up` left
    the home's supervisord.conf and run/ (locks, empty directories) behind; in a directory that was there, only what
    was there stays."""
    data = small_data()
    data["redis"]["password_env"] = "CLUSTERGATE_FD2_UNSET_PASSWORD"
    topo_path = write_topology(tmp_path / "small.yaml", data)
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_FD2_UNSET_PASSWORD"}
    refused = clustergate("up", str(topo_path), "--home", str(tmp_path / "a" / "b" / "home"), env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "CLUSTERGATE_FD2_UNSET_PASSWORD is not set" in refused.stderr, refused.stderr
    assert not (tmp_path / "a").exists(), everything_under(tmp_path / "a")

    kept = tmp_path / "kept"
    (kept / "empty").mkdir(parents=True)
    (kept / "notes.txt").write_text("mine")
    for home in (kept, kept / "empty"):
        refused = clustergate("up", str(topo_path), "--home", str(home), env=env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
    assert everything_under(kept) == ["empty", "notes.txt"] and (kept / "notes.txt").read_text() == "mine"


def test_a_busy_port_refusal_in_a_new_home_leaves_nothing_and_names_the_process(tmp_path: Path) -> None:
    data = small_data()
    port = data["actors"]["gate"]["metrics_port"]
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        refused = clustergate("up", str(write_topology(tmp_path / "t.yaml", data)), "--home", str(tmp_path / "home"))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"actors.gate.metrics_port: port {port} is already in use by another process (pid {os.getpid()}: " in refused.stderr
    assert not (tmp_path / "home").exists(), everything_under(tmp_path / "home")


def test_a_command_waiting_for_a_change_lock_that_a_refused_up_removed_takes_the_new_one(tmp_path: Path) -> None:
    """A refused first `up` of a home removes the change.lock it created while others may wait on it: a waiter must
    not go on holding the removed file (a third command would then take a new one beside it)."""
    home = Home(tmp_path / "home")
    home.run.mkdir(parents=True)
    path = home.run / "change.lock"
    first = open(path, "a+")
    fcntl.flock(first, fcntl.LOCK_EX)
    waiter = ChangeLock(home, "down")
    taken: list[bool] = []
    thread = threading.Thread(target=lambda: taken.append(waiter.take(wait_s=30)))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while waiter.file is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiter.file is not None
        path.unlink()  # as a refused `up` undoes what it created: while it holds the lock
        first.close()
        thread.join(timeout=30)
        assert taken == [True]
        assert os.fstat(waiter.file.fileno()).st_ino == os.stat(path).st_ino
    finally:
        waiter.release()
        first.close()
        thread.join(timeout=30)


def test_up_and_down_leave_no_port_claim_file_behind(tmp_path: Path) -> None:
    """clustergate-claims-UID/ kept an empty lock file for every port and ipc path ever claimed."""
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    topo_path = write_topology(tmp_path / "small.yaml", small_data())
    home = tmp_path / "home"
    try:
        up = clustergate("up", str(topo_path), "--home", str(home), env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        claims = runtime / f"clustergate-claims-{os.getuid()}"
        assert claims.is_dir() and list(claims.iterdir()) == []
    finally:
        clustergate("down", "--home", str(home), env=env)


def test_an_up_whose_xdg_runtime_dir_is_gone_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    """`su` keeps another session's XDG_RUNTIME_DIR, which may not exist: `up` printed only
    `FAILED: [Errno 2] No such file or directory: '/run/user/N/clustergate-claims-UID'`."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "gone")}
    home = tmp_path / "home"
    refused = clustergate("up", str(write_topology(tmp_path / "small.yaml", small_data())), "--home", str(home), env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"($XDG_RUNTIME_DIR={tmp_path / 'gone'}, perhaps another session's" in refused.stderr, refused.stderr
    assert "nothing was changed" in refused.stderr and not home.exists()


def test_an_up_meeting_another_ups_port_claim_names_that_up(tmp_path: Path, monkeypatch) -> None:
    """Two `up`s starting programs on one port at the same moment: the refused one said only `another \\`clustergate
    up\\` is starting a program on ENDPOINT right now`, not which (a claim file held nothing)."""
    import hashlib

    from launcher.supervise import _claim, _claims_dir, _held_key, release_claims

    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    data = small_data()
    endpoint = data["actors"]["gate"]["sockets"]["proposals"]["bind"]
    key = hashlib.sha256(_held_key(endpoint).encode()).hexdigest()[:24]
    lock, _ = _claim(_claims_dir() / f"{key}.lock", "pid 4242, home /srv/other home")
    assert lock is not None
    try:
        refused = clustergate("up", str(write_topology(tmp_path / "t.yaml", data)), "--home", str(tmp_path / "home"),
                              env=dict(os.environ))
    finally:
        release_claims([lock])
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (f"actors.gate.sockets.proposals.bind: another `clustergate up` is starting a program on {endpoint} right now "
            f"(pid 4242, home /srv/other home)") in refused.stderr, refused.stderr
    assert list((runtime / f"clustergate-claims-{os.getuid()}").iterdir()) == []


def test_a_refused_first_up_leaves_the_home_whole_once_another_up_applied_its_system_there(tmp_path: Path) -> None:
    """Two first `up`s of one home at once: the one refused last had made supervisord.conf (or run/) in the race, and
    removed it under the system the other had started there meanwhile."""
    from launcher.supervise import undo_prepare

    home = Home(tmp_path / "home")
    created = home.prepare()
    assert home.conf in created and home.run in created
    home.programs.write_text("; the other `up`'s programs\n")  # as the other `up` switched its files in
    undo_prepare(home, created)
    assert home.conf.exists() and home.programs.exists() and home.logs.is_dir()
    home.programs.unlink()
    undo_prepare(home, created)
    assert not home.root.exists()


def test_supervisord_conf_is_written_whole_once_and_never_over_another_ups(tmp_path: Path) -> None:
    """Two first `up`s of one home wrote supervisord.conf through one shared supervisord.conf.tmp: one's rename
    failed (`FAILED: [Errno 2] No such file or directory: '.../supervisord.conf.tmp' -> '.../supervisord.conf'`,
    reproduced with two `up`s started at once), or put in a file the other had just truncated."""
    from launcher.supervise import write_new

    conf = tmp_path / "supervisord.conf"
    assert write_new(conf, "first\n", 0o644) and conf.read_text() == "first\n"
    assert not write_new(conf, "second\n", 0o644)
    assert conf.read_text() == "first\n" and sorted(p.name for p in tmp_path.iterdir()) == ["supervisord.conf"]


def test_a_home_prepare_that_fails_leaves_the_locks_another_command_opened_in_it(tmp_path: Path, monkeypatch) -> None:
    """A first `up` whose prepare failed (its supervisord.conf not written) removed the run/ it had made with the lock
    files another `up` of the home had opened and locked there meanwhile."""
    import launcher.supervise as supervise

    home = Home(tmp_path / "home")

    def another_up_locks_then_the_write_fails(path: Path, text: str, mode: int) -> bool:
        lock = open(home.run / "change.lock", "a+")
        fcntl.flock(lock, fcntl.LOCK_EX)
        held.append(lock)
        raise supervise.WriteFailed(f"cannot write {path}: No space left on device; nothing was changed")

    held: list = []
    monkeypatch.setattr(supervise, "write_new", another_up_locks_then_the_write_fails)
    try:
        home.prepare()
    except supervise.WriteFailed:
        pass
    try:
        assert (home.run / "change.lock").exists() and os.path.samestat(
            os.fstat(held[0].fileno()), os.stat(home.run / "change.lock"))
    finally:
        for lock in held:
            lock.close()


@contextlib.contextmanager
def foreign_supervisord(etc: Path, port: int) -> Iterator[subprocess.Popen]:
    """A supervisord of no clustergate home (`-c ETC/supervisord.conf`, as the machine's own
    /etc/supervisor/supervisord.conf) whose program, http.server, listens on port; stopped on leaving."""
    from launcher.harness import wait_for

    etc.mkdir()
    (etc / "supervisord.conf").write_text(
        f"[supervisord]\npidfile={etc}/sd.pid\nlogfile={etc}/sd.log\n"
        f"[unix_http_server]\nfile={etc}/sd.sock\n"
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f"[program:web]\ncommand={sys.executable} -m http.server {port} --bind 127.0.0.1\n")
    supervisord = subprocess.Popen([str(Path(sys.executable).parent / "supervisord"), "-n", "-c", str(etc / "supervisord.conf")])
    try:
        wait_for(lambda: listening(port), timeout_s=30, what=f"the foreign supervisord's program listening on {port}")
        yield supervisord
    finally:
        supervisord.terminate()
        supervisord.wait(timeout=30)


def listening(port: int) -> bool:
    return bool(subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout.strip())


def test_a_port_held_under_a_supervisord_of_no_clustergate_home_names_the_process_not_a_clustergate_down(tmp_path: Path) -> None:
    """A program of the machine's own supervisord (`-c /etc/supervisor/supervisord.conf`) holding a port was named
    `another clustergate system, home /etc/supervisor; stop it with clustergate down --home /etc/supervisor`, and that
    `down` stops that supervisord (a leftover of the home, to it)."""
    data = small_data()
    port = data["actors"]["gate"]["metrics_port"]
    with foreign_supervisord(tmp_path / "etc", port):
        refused = clustergate("up", str(write_topology(tmp_path / "t.yaml", data)), "--home", str(tmp_path / "home"))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"actors.gate.metrics_port: port {port} is already in use by another process (pid " in refused.stderr
        assert "http.server" in refused.stderr, refused.stderr
        assert "clustergate system" not in refused.stderr and "down --home" not in refused.stderr, refused.stderr


def test_down_of_a_directory_whose_supervisord_conf_is_not_clustergates_stops_nothing(tmp_path: Path) -> None:
    """`down --home DIR` (a typo, or DIR the machine's own /etc/supervisor) took the supervisord running
    `-c DIR/supervisord.conf` for a leftover of the home and stopped it with its programs (rev-up). Only a conf `up`
    wrote (identifier=clustergate) makes that supervisord the home's."""
    port = port_outside_ephemeral_range()
    etc = tmp_path / "etc"
    with foreign_supervisord(etc, port) as supervisord:
        down = clustergate("down", "--home", str(etc))
        assert down.returncode == 0, down.stdout + down.stderr
        assert "stopping leftover" not in down.stdout, down.stdout
        assert supervisord.poll() is None, f"down --home {etc} stopped a supervisord of no clustergate home: {down.stdout}"
        assert listening(port)


def _listening(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; an IPv6 one dual-stack, as ZeroMQ binds it, whatever net.ipv6.bindv6only
    says (with it 1, [::] was IPv6-only and the tests that take it for every address's holder failed: revstatus)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ":" in host:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen()
    return sock


def test_a_wildcard_of_one_address_family_is_not_taken_for_the_holder_of_a_loopback_of_the_other() -> None:
    """statusfix: a process listening on 0.0.0.0:PORT was counted as a holder of [::1]:PORT (and one on [::1]:PORT of
    0.0.0.0:PORT), which Linux binds beside it: status and up's refusals could name it, or find an endpoint's real
    holder among the programs an `up` stops. [::]:PORT (dual-stack unless IPV6_V6ONLY, unseen in /proc) holds them
    all; 0.0.0.0:PORT holds every IPv4 address and [::]:PORT. Real sockets on free ports; the kernel says which bind."""
    from launcher.endpoints import holder_pids, port_problem
    from launcher.harness import free_port
    me = os.getpid()
    for held, free, taken in (("0.0.0.0", "::1", ("127.0.0.1", "::")), ("::1", "0.0.0.0", ("::",)),
                              ("::", None, ("127.0.0.1", "0.0.0.0", "::1"))):
        port = free_port()
        with _listening(held, port):
            if free is not None:
                assert port_problem(free, port) is None  # the kernel binds it beside the holder
                assert holder_pids([f"tcp://[{free}]:{port}" if ":" in free else f"tcp://{free}:{port}"]) == {}, held
            for host in taken:
                assert port_problem(host, port) is not None, (held, host)
                endpoint = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
                assert holder_pids([endpoint]) == {endpoint: me}, (held, host)


def test_the_holder_named_for_an_ipv6_loopback_endpoint_is_its_own_not_an_ipv4_wildcards(tmp_path: Path) -> None:
    """statusfix: with this process on 0.0.0.0:PORT and another on [::1]:PORT, a refusal of tcp://[::1]:PORT named this
    process (the lower pid, met first), which does not keep [::1]:PORT from binding; the holder is the other one."""
    from launcher.harness import free_port
    from launcher.supervise import in_use_lines
    port = free_port()
    script = ("import socket, sys, time\n"
              "s = socket.socket(socket.AF_INET6); s.bind(('::1', int(sys.argv[1]))); s.listen()\n"
              "print('ready', flush=True); time.sleep(60)\n")
    with _listening("0.0.0.0", port):
        holder = subprocess.Popen([sys.executable, "-c", script, str(port)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            endpoint = f"tcp://[::1]:{port}"
            lines = in_use_lines([("actors.gate.metrics_port", endpoint, f"port {port} is already in use by another process")])
            assert len(lines) == 1 and f"(pid {holder.pid}: " in lines[0], lines
        finally:
            holder.kill()
            holder.wait(5)


def test_a_localhost_endpoint_is_held_by_what_holds_127_0_0_1_not_by_an_ipv6_loopback() -> None:
    """revstatus: `localhost` in an endpoint binds 127.0.0.1 (ZeroMQ without ZMQ_IPV6, the pre-flight's bind, the
    topology's own reading), but a name counted any holder of the port: a process on [::1]:PORT, which the kernel
    binds beside it, was taken for the holder of tcp://localhost:PORT (a healthy restart failed as lnrev3's did, or
    up's releasing check found the wrong holder). Real sockets on free ports; the kernel says which bind."""
    from launcher.endpoints import holder_pids, port_problem
    from launcher.harness import free_port
    port = free_port()
    endpoint = f"tcp://localhost:{port}"
    with _listening("::1", port):
        assert port_problem("localhost", port) is None  # the kernel binds it beside the holder
        assert holder_pids([endpoint]) == {}
    for held in ("127.0.0.1", "0.0.0.0", "::"):
        port = free_port()
        endpoint = f"tcp://localhost:{port}"
        with _listening(held, port):
            assert port_problem("localhost", port) is not None, held
            assert holder_pids([endpoint]) == {endpoint: os.getpid()}, held



def test_the_process_that_holds_an_endpoint_is_named_before_an_ipv6_only_one_on_its_port() -> None:
    """revupfix: an IPv6-only [::]:PORT listener (started first, the lower pid) beside the process that holds
    127.0.0.1:PORT was named as the holder, by the lowest pid: /proc does not show IPV6_V6ONLY, and `up` said "port
    PORT is already in use by another process (pid INNOCENT: ...)" of a gate crash-looping on the other one (the
    pre-flight refusal as well). Real processes; the kernel says which bind keeps 127.0.0.1 from binding."""
    from launcher.endpoints import every_holder_pid, holder_pids, port_problem
    from launcher.harness import free_port
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    listen = ("import socket, sys, time\ns = socket.socket(socket.AF_INET6 if sys.argv[1] == '::' else socket.AF_INET)\n"
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              "if sys.argv[1] == '::':\n    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n"
              "s.bind((sys.argv[1], int(sys.argv[2])))\ns.listen()\nprint('bound', flush=True)\ntime.sleep(600)")
    started = []
    try:
        for host in ("::", "127.0.0.1"):  # the IPv6-only one first: the lower pid
            started.append(subprocess.Popen([sys.executable, "-c", listen, host, str(port)], stdout=subprocess.PIPE,
                                            text=True))
            assert started[-1].stdout.readline().strip() == "bound", host
        innocent, holder = (p.pid for p in started)
        assert port_problem("127.0.0.1", port) is not None  # held, by the IPv4 one alone
        assert holder_pids([endpoint]) == {endpoint: holder}
        assert every_holder_pid([endpoint]) == {endpoint: [holder, innocent]}
    finally:
        for process in started:
            process.kill()
            process.wait()

BINDV6ONLY_PROBE = '''
import socket, sys
import zmq
from launcher.endpoints import port_problem
with open("/proc/sys/net/ipv6/bindv6only", "w") as fh:  # this network namespace's own: [::] is IPv6-only by default
    fh.write("1")
port = 20000  # a namespace of its own: no other process there
held = socket.socket(socket.AF_INET)
held.bind(("0.0.0.0", port))
held.listen()
router = zmq.Context.instance().socket(zmq.ROUTER)
router.setsockopt(zmq.IPV6, 1)  # as the runtime sets it for a tcp://[...] endpoint
try:
    router.bind(f"tcp://[::]:{port}")
    zmq_bound = "bound"
except zmq.ZMQError as exc:
    zmq_bound = exc.strerror
router.close(0)
print(zmq_bound, "|", port_problem("::", port))
'''


def test_the_bind_check_of_an_ipv6_wildcard_is_zeromqs_dual_stack_bind_whatever_bindv6only_says() -> None:
    """revstatus: ZeroMQ binds tcp://[::]:PORT dual-stack (it clears IPV6_V6ONLY), so a process on 0.0.0.0:PORT keeps
    it from binding; the pre-flight check's socket took IPV6_V6ONLY from net.ipv6.bindv6only, and with it set to 1
    said the port free: `up` went ahead and the actor could not bind. In a network namespace of its own (bindv6only
    is per namespace) with bindv6only 1, ZeroMQ's own bind is the reference."""
    run = subprocess.run(["unshare", "--user", "--map-root-user", "--net", sys.executable, "-c", BINDV6ONLY_PROBE],
                         capture_output=True, text=True, timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    zmq_bound, _, checked = run.stdout.strip().partition(" | ")
    assert zmq_bound.startswith("Address already in use"), run.stdout  # the reference: ZeroMQ's bind fails
    assert checked == "port 20000 is already in use by another process", run.stdout


LOCALHOST_METRICS_PROBE = '''
from actors.runtime import start_metrics_server
from launcher.endpoints import holder_pids, port_problem
from launcher.harness import free_port
import os
port = free_port()
server, _ = start_metrics_server(port, "localhost")
endpoint = f"tcp://localhost:{port}"
print(server.socket.getsockname()[0], "|", port_problem("localhost", port), "|", holder_pids([endpoint]) == {endpoint: os.getpid()})
'''


def test_an_actors_metrics_on_localhost_bind_where_the_bind_check_and_the_holder_search_look(tmp_path: Path) -> None:
    """revstatus: the metrics server bound the first address getaddrinfo gave for `localhost`, [::1] with the usual
    /etc/hosts (`::1 localhost` beside `127.0.0.1 localhost`), while the pre-flight check, the holder search and
    the topology (`localhost` is 127.0.0.1) look at 127.0.0.1: a port held on [::1] was said free, and the actor's own
    metrics socket was no holder of its claim. Under that /etc/hosts (a mount namespace of its own), it binds 127.0.0.1."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    script = f"mount --bind {hosts} /etc/hosts && exec {sys.executable} -c \"$0\""
    run = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, LOCALHOST_METRICS_PROBE],
                         capture_output=True, text=True, timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    bound, checked, held = run.stdout.strip().split(" | ")
    assert bound == "127.0.0.1", run.stdout
    assert checked.endswith("is already in use by another process") and held == "True", run.stdout


def test_an_up_moving_an_endpoint_to_another_address_of_its_port_checks_the_holder_there(tmp_path: Path) -> None:
    """revall: up's pre-flight skipped every endpoint on a port the running system binds, whatever the address (the
    program restarted frees its own): a gate moved from tcp://[::1]:PORT to tcp://127.0.0.1:PORT, which the kernel binds
    beside it and another process held, was not checked; up stopped the working gate and restarted it into EADDRINUSE
    (`FAILED: program gate cannot bind ...`, supervisord restarting it in vain: every exit unanswered). Only a port held
    on an address that clashes with the new one's (the same, a wildcard, [::] across families) is the running
    system's to free; the refusal comes first and the gate runs on. Real supervisord, a real holder."""
    import json
    data = small_data()
    gate_sockets = data["actors"]["gate"]["sockets"]
    port = int(gate_sockets["proposals"]["bind"].rpartition(":")[2])
    gate_sockets["proposals"]["bind"] = f"tcp://[::1]:{port}"
    topo_path = write_topology(tmp_path / "small.yaml", data)
    home = tmp_path / "home"

    def gate_pid() -> int:
        status = clustergate("status", "--home", str(home), "--json")
        return next(p["pid"] for p in json.loads(status.stdout)["programs"] if p["name"] == "gate")
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        before = gate_pid()
        with _listening("127.0.0.1", port):
            gate_sockets["proposals"]["bind"] = f"tcp://127.0.0.1:{port}"
            write_topology(topo_path, data)
            refused = clustergate("up", str(topo_path), "--home", str(home))
            assert refused.returncode == 1, refused.stdout + refused.stderr
            assert (f"actors.gate.sockets.proposals.bind: port {port} is already in use by another process "
                    f"(pid {os.getpid()}: ") in refused.stderr, refused.stderr
            assert "updated" not in refused.stdout, refused.stdout
            assert gate_pid() == before
    finally:
        clustergate("down", "--home", str(home))
