"""Test hosts as Linux network namespaces, for tests that need several machines on one.

Design: every run gets its own "switch" namespace holding a bridge (``br0``); each host is a
namespace with ``lo`` up and one ``eth0`` (a veth whose other end is a port of that bridge),
addressed in TEST_SUBNET (198.51.100.0/24, a documentation range; host i of a run gets .11+i)
with no default route. Nothing is added to the root namespace: no link, no address, no route (the
alternative, a root veth into the bridge plus a blackhole route, was not chosen: it would put test
addresses where the machine's own traffic lives). So a packet from a host can only go to loopback or to another host of the same run (any other destination is "Network is unreachable"
before anything is sent), and nothing in the root namespace can reach a host by accident. The
cost: the pytest process itself cannot reach the hosts; run clients inside a host
(``hosts["client"].popen([...])``), adding a host for the purpose if needed. Each host has its own
loopback too: a service other hosts use must bind its host's ``address``.

Rules a user keeps:
- Start every process that should run in a host through ``Host.run``/``Host.popen``. Cleanup
  also kills anything found living in a run's namespaces (``ip netns pids``), so a daemon that
  left its process group (supervisord) still goes.
- Names are ``cg-<pid>-<run>-<host>`` (and ``cg-<pid>-<run>-switch``): unique per process and per
  TestHosts, so runs at the same time do not collide. Interface names live inside the run's own
  namespaces, so they never collide either. ``sweep_leftovers()`` (called on every start) removes
  namespaces of this prefix whose creating pid is dead.
- ``partition(host)`` takes the host's switch port down (a pulled cable: the host keeps its
  address, packets to and from it are dropped, connects time out); ``heal(host)`` puts it back.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

TEST_SUBNET = ipaddress.ip_network("198.51.100.0/24")
PREFIX = "cg-"
SWITCH = "switch"
BRIDGE = "br0"
HOST_LINK = "eth0"
_NAME_RE = re.compile(r"^cg-(\d+)-\d+-[a-z0-9_]+$")
_HOST_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
IP_TIMEOUT_S = 20.0
KILL_GRACE_S = 3.0

_runs_started = 0
_active: list["TestHosts"] = []
_lock = threading.RLock()
_previous_sigterm: object = None


class NetnsError(RuntimeError):
    """An `ip` command of the harness failed, or cleanup left something behind."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc


def namespace_names() -> list[str]:
    """Every network namespace name `ip netns list` shows."""
    out = _ip("netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def namespace_pids(netns: str) -> list[int]:
    """Pids of the processes living in a namespace (empty when it does not exist)."""
    proc = _ip("netns", "pids", netns, check=False)
    return [int(tok) for tok in proc.stdout.split() if tok.isdigit()]


def pid_alive(pid: int) -> bool:
    """True while pid runs; a zombie (exited, not reaped by its parent) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def unavailable_reason() -> str | None:
    """None when this process can make namespaces; otherwise what is missing, in one line."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces need Linux (this is {sys.platform})"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not on PATH"
    if os.geteuid() != 0:
        return f"making network namespaces needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); euid is {os.geteuid()}"
    probe = f"{PREFIX}{os.getpid()}-0-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed (CAP_NET_ADMIN/CAP_SYS_ADMIN missing?): {made.stderr.strip()}"
    try:
        veth = _ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
        if veth.returncode != 0:
            return f"cannot make a veth pair inside a namespace (veth module missing?): {veth.stderr.strip()}"
        bridge = _ip("-n", probe, "link", "add", "b0", "type", "bridge", check=False)
        if bridge.returncode != 0:
            return f"cannot make a bridge inside a namespace (bridge module missing?): {bridge.stderr.strip()}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def requires_netns(environ: dict[str, str] | os._Environ) -> bool:
    """True where a missing namespace capability must fail the tests instead of skipping them."""
    return environ.get("CLUSTERGATE_REQUIRE_NETNS") == "1" or environ.get("CI") == "true"


def _signal_all(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def sweep_leftovers() -> list[str]:
    """Remove namespaces of our prefix whose creating pid is dead (and kill what lives in them)."""
    stale = []
    for name in namespace_names():
        match = _NAME_RE.match(name)
        if match and not pid_alive(int(match.group(1))):
            stale.append(name)
    if stale:
        _kill_in_namespaces(stale, [])
        for name in stale:
            _ip("netns", "del", name, check=False)
    return stale


def _kill_in_namespaces(namespaces: Sequence[str], procs: Sequence[subprocess.Popen]) -> list[int]:
    """SIGTERM what we started and everything in the namespaces, SIGKILL after a grace; pids left.

    A started process's group is signalled only while its leader is unreaped (its pid, hence its
    group id, cannot have been reused); once the leader is gone, its group's members are reached
    through the namespace they live in.
    """

    def targets() -> list[int]:
        found = {pid for ns in namespaces for pid in namespace_pids(ns)}
        return sorted(pid for pid in found if pid != os.getpid() and pid_alive(pid))

    def live_leaders() -> list[int]:
        return [proc.pid for proc in procs if proc.poll() is None]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in live_leaders():
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
        _signal_all(targets(), sig)
        deadline = time.monotonic() + KILL_GRACE_S
        while time.monotonic() < deadline and (targets() or live_leaders()):
            time.sleep(0.05)
        if not targets() and not live_leaders():
            return []
    return sorted(set(targets()) | set(live_leaders()))


class Host:
    """One test host: a namespace with lo and one address on the run's bridge."""

    def __init__(self, hosts: "TestHosts", name: str, netns: str, address: str, port: str):
        self._hosts = hosts
        self.name = name
        self.netns = netns
        self.address = address
        self.switch_port = port

    def command(self, argv: Sequence[str]) -> list[str]:
        """argv wrapped to run inside this host."""
        return ["ip", "netns", "exec", self.netns, *[str(a) for a in argv]]

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start argv inside this host in its own process group; cleanup kills that group."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.command(argv), start_new_session=True, **kwargs)
        self._hosts._track(proc)
        return proc

    def run(self, argv: Sequence[str], timeout: float = 30.0, check: bool = False,
            **kwargs) -> subprocess.CompletedProcess:
        """Run argv inside this host to completion (killed at timeout); output captured as text."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        proc = self.popen(argv, **kwargs)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check:
            result.check_returncode()
        return result

    def python(self, code: str, *args: object, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run `python -c code args...` (this interpreter) inside this host to completion."""
        return self.run([sys.executable, "-c", code, *[str(a) for a in args]], timeout=timeout)

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.address}, netns={self.netns!r})"


class TestHosts:
    """N hosts on one bridge, each its own network namespace; a context manager that removes all."""

    __test__ = False  # not a pytest test class

    def __init__(self, names: Sequence[str]):
        names = list(names)
        if not names:
            raise ValueError("TestHosts needs at least one host name")
        if len(names) > 200:
            raise ValueError(f"TestHosts takes at most 200 hosts, got {len(names)}")
        for name in names:
            if not _HOST_NAME_RE.match(name) or name == SWITCH:
                raise ValueError(f"host name {name!r}: must match {_HOST_NAME_RE.pattern} and not be {SWITCH!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"host names must be unique, got {names}")
        global _runs_started
        with _lock:
            _runs_started += 1
            run = _runs_started
        self.run_prefix = f"{PREFIX}{os.getpid()}-{run}-"
        self.switch = f"{self.run_prefix}{SWITCH}"
        addresses = list(TEST_SUBNET.hosts())
        self.hosts: dict[str, Host] = {
            name: Host(self, name, f"{self.run_prefix}{name}", str(addresses[i + 10]), f"p{i}")
            for i, name in enumerate(names)
        }
        self._procs: list[subprocess.Popen] = []
        self._made: list[str] = []
        self._closed = False  # no new processes once closing starts
        self._done = False
        self._partitioned: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "TestHosts":
        _register(self)
        try:
            sweep_leftovers()
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def _build(self) -> None:
        plen = TEST_SUBNET.prefixlen
        self._add_namespace(self.switch)
        sw = self.switch
        _ip("-n", sw, "link", "set", "lo", "up")
        _ip("-n", sw, "link", "add", BRIDGE, "type", "bridge", "forward_delay", "0", "stp_state", "0")
        _ip("-n", sw, "link", "set", BRIDGE, "up")
        for host in self.hosts.values():
            self._add_namespace(host.netns)
            _ip("-n", host.netns, "link", "set", "lo", "up")
            _ip("-n", sw, "link", "add", host.switch_port, "type", "veth",
                "peer", "name", HOST_LINK, "netns", host.netns)
            _ip("-n", sw, "link", "set", host.switch_port, "master", BRIDGE)
            _ip("-n", sw, "link", "set", host.switch_port, "up")
            _ip("-n", host.netns, "addr", "add", f"{host.address}/{plen}", "dev", HOST_LINK)
            _ip("-n", host.netns, "link", "set", HOST_LINK, "up")
        for ns in [sw, *(h.netns for h in self.hosts.values())]:
            # No IPv6 on the test links: no router solicitations or DAD chatter, IPv4 only.
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                            "net.ipv6.conf.all.disable_ipv6=1"], capture_output=True, timeout=IP_TIMEOUT_S)

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)

    def _track(self, proc: subprocess.Popen) -> None:
        if self._closed:
            _signal_all([proc.pid], signal.SIGKILL)
            raise NetnsError("TestHosts is closed; start processes inside the `with` block")
        self._procs.append(proc)

    def close(self) -> None:
        """Kill every process started here or living in our namespaces, delete every namespace.

        Idempotent and safe to re-enter: the SIGTERM handler may run it again while an interrupted
        close is half done, and each step tolerates work already done.
        """
        self._closed = True
        if self._done:
            return
        try:
            survivors = _kill_in_namespaces(self._made, self._procs)
            for proc in self._procs:
                try:
                    proc.wait(timeout=KILL_GRACE_S)
                except subprocess.TimeoutExpired:
                    survivors.append(proc.pid)
            failures = []
            for name in reversed(self._made):
                done = _ip("netns", "del", name, check=False)
                if done.returncode != 0 and name in namespace_names():
                    failures.append(f"{name}: {done.stderr.strip()}")
            self._done = True
            if survivors or failures:
                raise NetnsError(f"cleanup left processes {sorted(set(survivors))} and namespaces {failures}")
        finally:
            _unregister(self)

    # -- use ---------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"no test host {name!r}; hosts are {sorted(self.hosts)}") from None

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts.values())

    def __len__(self) -> int:
        return len(self.hosts)

    @property
    def namespaces(self) -> list[str]:
        """Every namespace this run made (the switch first)."""
        return list(self._made)

    @property
    def pids(self) -> list[int]:
        """Pids of the processes started through this run's hosts."""
        return [p.pid for p in self._procs]

    def partition(self, name: str) -> None:
        """Cut a host off the switch (its port down): it keeps its address, nothing gets through."""
        host = self[name]
        _ip("-n", self.switch, "link", "set", host.switch_port, "down")
        self._partitioned.add(name)

    def heal(self, name: str) -> None:
        """Put a partitioned host's switch port back up."""
        host = self[name]
        _ip("-n", self.switch, "link", "set", host.switch_port, "up")
        self._partitioned.discard(name)

    def is_partitioned(self, name: str) -> bool:
        return name in self._partitioned


# -- cleanup on interpreter exit and SIGTERM ---------------------------------------------------


def _register(hosts: TestHosts) -> None:
    global _previous_sigterm
    with _lock:
        _active.append(hosts)
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) is not _on_sigterm):
            _previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)


def _unregister(hosts: TestHosts) -> None:
    global _previous_sigterm
    with _lock:
        if hosts in _active:
            _active.remove(hosts)
        if (not _active and _previous_sigterm is not None
                and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) is _on_sigterm):
            signal.signal(signal.SIGTERM, _previous_sigterm)
            _previous_sigterm = None


def close_all() -> None:
    """Close every TestHosts still open in this process (atexit and SIGTERM call this)."""
    while True:
        with _lock:
            if not _active:
                return
            hosts = _active[-1]
        try:
            hosts.close()
        except Exception as exc:  # keep closing the others
            print(f"netns harness: {exc}", file=sys.stderr)
        _unregister(hosts)


def _on_sigterm(signum, frame) -> None:
    """Clean up our namespaces, then behave as the previous handler would have."""
    previous = _previous_sigterm  # close_all restores it as the last run unregisters
    close_all()
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        raise KeyboardInterrupt(f"SIGTERM (signal {signum}); netns test hosts removed")


atexit.register(close_all)
