"""The network-namespace test hosts (launcher/netns.py): reachability, partitions, isolation, cleanup."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from launcher import netns
from helpers import DEADLINE_SCALE, wait_for

TESTS = Path(__file__).resolve().parent
CONNECT_TIMEOUT_S = 1.0

ECHO_SERVER = textwrap.dedent("""
    import socket, sys
    server = socket.socket()
    server.bind((sys.argv[1], 0))
    server.listen()
    server.settimeout(float(sys.argv[2]))
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[3])):
        conn, peer = server.accept()
        with conn:
            conn.settimeout(5)
            data = conn.recv(100)
            conn.sendall(peer[0].encode() + b" " + data)
""")

CLIENT = textwrap.dedent("""
    import socket, sys
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
            s.sendall(b"hello")
            print("reply", s.recv(100).decode())
    except OSError as exc:
        print("failed", type(exc).__name__, exc)
""")

# A daemon as supervisord makes one: it forks, leaves our process group (setsid), forks again.
DAEMON = textwrap.dedent("""
    import os, sys, time
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            print(os.getpid(), flush=True)
            time.sleep(120)
        os._exit(0)
    os.waitpid(child, 0)
""")


def read_line(proc: subprocess.Popen, timeout_s: float = 10.0) -> str:
    """The next line proc prints, or fail after the (scaled) deadline."""
    timeout_s *= DEADLINE_SCALE
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise AssertionError(f"no line from {proc.args} within {timeout_s} s")
    line = proc.stdout.readline()
    assert line, f"{proc.args} closed its output (exit {proc.poll()})"
    return line.strip()


def start_echo_server(host: netns.Host, connections: int = 20) -> int:
    proc = host.popen([sys.executable, "-c", ECHO_SERVER, host.address, str(30 * DEADLINE_SCALE),
                       str(connections)], stdout=subprocess.PIPE, text=True)
    return int(read_line(proc))


def connect(client: netns.Host, server: netns.Host, port: int) -> str:
    """'reply <client address> hello' when client reaches server, else 'failed <error>'."""
    done = client.python(CLIENT, server.address, port, CONNECT_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def root_lines(*args: str) -> list[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True,
                          timeout=20).stdout.splitlines()


def ours(prefix: str) -> list[str]:
    return [name for name in netns.namespace_names() if name.startswith(prefix)]


def root_bridges_and_veths() -> set[str]:
    return set(root_lines("-o", "link", "show", "type", "veth")) | set(root_lines("-o", "link", "show", "type", "bridge"))


def assert_nothing_left(prefix: str, pids: list[int], root_links_before: set[str]) -> None:
    assert ours(prefix) == [], "namespaces of the run remain"
    assert [pid for pid in pids if netns.pid_alive(pid)] == [], "processes of the run remain"
    assert root_bridges_and_veths() == root_links_before, "a link was left in the root namespace"
    assert [r for r in root_lines("route", "show", "table", "all") if "198.51.100." in r] == []


def require_root_namespaces() -> None:
    reason = netns.unavailable_reason()
    if reason is not None:
        if netns.requires_netns(os.environ):
            pytest.fail(f"network-namespace test hosts unavailable: {reason}", pytrace=False)
        pytest.skip(f"network-namespace test hosts unavailable: {reason}")


# -- reachability --------------------------------------------------------------------------------


def test_hosts_reach_each_other_over_tcp_from_their_own_addresses(test_hosts):
    hosts = test_hosts(["market", "exec", "store"])
    port = start_echo_server(hosts["store"])

    assert connect(hosts["exec"], hosts["store"], port) == f"reply {hosts['exec'].address} hello"
    assert connect(hosts["market"], hosts["store"], port) == f"reply {hosts['market'].address} hello"


def test_zeromq_req_rep_round_trip_across_two_namespaces(test_hosts):
    hosts = test_hosts(["exec", "store"])
    rep = textwrap.dedent("""
        import sys, zmq
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(sys.argv[2]))
        port = sock.bind_to_random_port(f"tcp://{sys.argv[1]}")
        print(port, flush=True)
        sock.send(b"pong to " + sock.recv())
        sock.close(); ctx.term()
    """)
    req = textwrap.dedent("""
        import sys, zmq
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(sys.argv[2]))
        sock.connect(sys.argv[1])
        sock.send(b"exec")
        print(sock.recv().decode(), flush=True)
        sock.close(); ctx.term()
    """)
    timeout_ms = str(int(10_000 * DEADLINE_SCALE))
    server = hosts["store"].popen([sys.executable, "-c", rep, hosts["store"].address, timeout_ms],
                                  stdout=subprocess.PIPE, text=True)
    port = int(read_line(server))

    done = hosts["exec"].run([sys.executable, "-c", req, f"tcp://{hosts['store'].address}:{port}", timeout_ms],
                             timeout=30)

    assert (done.returncode, done.stdout.strip()) == (0, "pong to exec"), done.stderr
    assert server.wait(timeout=10 * DEADLINE_SCALE) == 0


# -- partitions ----------------------------------------------------------------------------------


def test_a_partitioned_host_is_unreachable_and_reachable_again_after_heal(test_hosts):
    hosts = test_hosts(["market", "exec"])
    port = start_echo_server(hosts["market"])
    exec_port = start_echo_server(hosts["exec"])
    assert connect(hosts["exec"], hosts["market"], port).startswith("reply")
    assert connect(hosts["market"], hosts["exec"], exec_port).startswith("reply")

    hosts.partition("market")

    assert hosts.is_partitioned("market")
    assert connect(hosts["exec"], hosts["market"], port).startswith("failed")
    assert connect(hosts["market"], hosts["exec"], exec_port).startswith("failed")  # nothing gets out either
    inside = hosts["market"].run(["ip", "-o", "addr", "show", "dev", netns.HOST_LINK], check=True).stdout
    assert hosts["market"].address in inside, "a partitioned host keeps its address (a pulled cable)"

    hosts.heal("market")

    wait_for(lambda: connect(hosts["exec"], hosts["market"], port).startswith("reply"), timeout_s=10,
             what="exec to reach market again after heal", interval_s=0.1)
    assert not hosts.is_partitioned("market")


def test_two_runs_at_once_do_not_reach_each_other(test_hosts):
    first = test_hosts(["a", "b"])
    second = test_hosts(["a", "b"])
    port = start_echo_server(first["a"])

    assert first.namespaces != second.namespaces
    assert connect(first["b"], first["a"], port).startswith("reply")
    # The same address in the second run is the second run's own host, where nothing listens.
    assert connect(second["b"], second["a"], port).startswith("failed ConnectionRefusedError")


# -- isolation from the root namespace ----------------------------------------------------------


def test_host_addresses_exist_only_inside_the_namespaces(test_hosts):
    root_links_before = root_bridges_and_veths()
    hosts = test_hosts(["market", "exec"])

    root_addresses = "\n".join(root_lines("-o", "addr"))
    root_routes = "\n".join(root_lines("route", "show", "table", "all"))
    for host in hosts:
        assert host.address not in root_addresses
        assert host.address not in root_routes
    assert root_bridges_and_veths() == root_links_before, "the harness added a link to the root namespace"
    routes = hosts["market"].run(["ip", "route", "show", "table", "main"], check=True).stdout.splitlines()
    assert [r.split()[0] for r in routes] == [str(netns.TEST_SUBNET)], "a host routes only its test subnet"
    # `ip route get` asks the kernel for a route and sends nothing: beyond the subnet there is none.
    outside = hosts["market"].run(["ip", "route", "get", "192.0.2.1"])
    assert outside.returncode != 0 and "unreachable" in outside.stderr
    assert hosts["market"].run(["ip", "route", "get", "127.0.0.1"], check=True).stdout.startswith("local 127.0.0.1")


# -- cleanup -------------------------------------------------------------------------------------


def start_processes(hosts: netns.TestHosts) -> list[int]:
    """A plain process and a daemon that left its process group, in different hosts; their pids."""
    sleeper = hosts["market"].popen(["sleep", "120"])
    daemon = hosts["exec"].popen([sys.executable, "-c", DAEMON], stdout=subprocess.PIPE, text=True)
    pids = [sleeper.pid, daemon.pid, int(read_line(daemon))]
    assert all(netns.pid_alive(pid) for pid in pids[::2])
    return pids


def test_nothing_of_a_run_remains_after_the_context_exits():
    require_root_namespaces()
    root_links_before = root_bridges_and_veths()

    with netns.TestHosts(["market", "exec"]) as hosts:
        prefix = hosts.run_prefix
        assert len(ours(prefix)) == 3  # two hosts and the switch
        pids = start_processes(hosts)

    assert_nothing_left(prefix, pids, root_links_before)


def test_nothing_of_a_run_remains_when_the_body_raises():
    require_root_namespaces()
    root_links_before = root_bridges_and_veths()
    seen = {}

    with pytest.raises(RuntimeError, match="the test body failed"):
        with netns.TestHosts(["market", "exec"]) as hosts:
            seen["prefix"] = hosts.run_prefix
            seen["pids"] = start_processes(hosts)
            hosts.partition("market")
            raise RuntimeError("the test body failed")

    assert_nothing_left(seen["prefix"], seen["pids"], root_links_before)


RUN_AND_WAIT = textwrap.dedent("""
    import subprocess, sys, time
    sys.path.insert(0, sys.argv[1])
    from launcher import netns
    with netns.TestHosts(["market", "exec"]) as hosts:
        sleeper = hosts["market"].popen(["sleep", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(hosts.run_prefix, sleeper.pid, flush=True)
        time.sleep(120)
""")


def start_run_in_child() -> tuple[subprocess.Popen, str, int]:
    child = subprocess.Popen([sys.executable, "-c", RUN_AND_WAIT, str(TESTS)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        prefix, pid = read_line(child).split()
    except BaseException:
        child.kill()
        child.wait()
        raise
    return child, prefix, int(pid)


def test_sigterm_to_the_test_process_removes_its_hosts():
    require_root_namespaces()
    child, prefix, sleeper = start_run_in_child()
    assert len(ours(prefix)) == 3

    child.send_signal(signal.SIGTERM)

    _, err = child.communicate(timeout=30 * DEADLINE_SCALE)  # the sleeper does not hold these pipes
    assert child.returncode != 0 and "KeyboardInterrupt" in err
    assert ours(prefix) == []
    assert not netns.pid_alive(sleeper)


def test_sweep_removes_leftovers_of_a_run_whose_process_died():
    require_root_namespaces()
    child, prefix, sleeper = start_run_in_child()
    child.kill()  # SIGKILL: no cleanup can run
    child.wait(timeout=10 * DEADLINE_SCALE)
    assert len(ours(prefix)) == 3 and netns.pid_alive(sleeper)

    swept = netns.sweep_leftovers()

    assert {f"{prefix}switch", f"{prefix}market", f"{prefix}exec"} <= set(swept)
    assert ours(prefix) == []
    assert not netns.pid_alive(sleeper)


def test_sweep_keeps_the_namespaces_of_a_live_run(test_hosts):
    hosts = test_hosts(["market"])

    netns.sweep_leftovers()

    assert sorted(ours(hosts.run_prefix)) == sorted(hosts.namespaces) == sorted([hosts.switch, hosts["market"].netns])


# -- where namespaces cannot be made -------------------------------------------------------------


def test_missing_namespaces_skip_locally_but_are_required_under_ci():
    assert not netns.requires_netns({})
    assert not netns.requires_netns({"CI": "false"})
    assert netns.requires_netns({"CI": "true"})
    assert netns.requires_netns({"CLUSTERGATE_REQUIRE_NETNS": "1"})


def run_ci_script(tmp_path: Path, ci: str | None) -> str:
    """.ci/run with a stand-in `make` first on PATH that prints what it was given."""
    fake_make = tmp_path / "make"
    fake_make.write_text('#!/bin/sh\necho "make $* REQUIRE=${CLUSTERGATE_REQUIRE_NETNS:-unset}"\n')
    fake_make.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "CLUSTERGATE_REQUIRE_NETNS")}
    env["PATH"] = f"{tmp_path}:{env.get('PATH', '')}"
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run(["bash", str(TESTS.parent / ".ci" / "run")], capture_output=True, text=True,
                          env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_ci_run_requires_the_namespace_tests_when_ci_is_true(tmp_path):
    assert run_ci_script(tmp_path, "true") == "make test REQUIRE=1"
    assert run_ci_script(tmp_path, None) == "make test REQUIRE=unset"
    assert run_ci_script(tmp_path, "false") == "make test REQUIRE=unset"


def run_harness_test_without_capabilities(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    """One harness test in a pytest that runs as root with every capability dropped."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "CLUSTERGATE_REQUIRE_NETNS")}
    env.update(extra_env)
    return subprocess.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-m", "pytest",
         "-q", "-rs", "-p", "no:cacheprovider", str(Path(__file__)), "-k", "reach_each_other_over_tcp"],
        capture_output=True, text=True, env=env, cwd=TESTS.parent, timeout=60 * DEADLINE_SCALE)


def test_without_capabilities_the_tests_skip_naming_them_and_fail_when_required():
    require_root_namespaces()  # dropping capabilities shows something only where we had them
    if shutil.which("setpriv") is None:
        pytest.skip("`setpriv` (util-linux) is not on PATH to drop capabilities")

    skipped = run_harness_test_without_capabilities({})
    required = run_harness_test_without_capabilities({"CLUSTERGATE_REQUIRE_NETNS": "1"})

    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout + skipped.stderr
    assert "CAP_NET_ADMIN" in skipped.stdout
    assert required.returncode == 1 and "1 error" in required.stdout, required.stdout + required.stderr
    assert "CAP_NET_ADMIN" in required.stdout and "CLUSTERGATE_REQUIRE_NETNS=1" in required.stdout
