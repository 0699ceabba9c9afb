"""Is an endpoint free to bind? One answer for the launcher's pre-flight check and for an actor
about to bind: a TCP port someone holds, or an ipc:// socket file some process serves (ZeroMQ would
silently unlink and take over such a file), is in use."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import stat
import sys

# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_IPC_PATH_BYTES = 107


def localhost_as_ipv4(host: str) -> str:
    """`localhost` as 127.0.0.1, never [::1] (getaddrinfo's first answer with the usual /etc/hosts): where ZeroMQ (no
    ZMQ_IPV6) binds it, and so the topology, the bind check, the holder search and the actors' metrics read it; any
    other host as it is."""
    return "127.0.0.1" if host == "localhost" else host


def split_tcp(endpoint: str) -> tuple[str, int]:
    """("127.0.0.1" | "::1", port) of a tcp://HOST:PORT or tcp://[V6]:PORT endpoint."""
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    return host.strip("[]"), int(port)


UNPRIVILEGED_PORT_START_FILE = "/proc/sys/net/ipv4/ip_unprivileged_port_start"


def low_port_hint(port: int) -> str:
    """Why a bind of `port` was refused (EACCES), when the port is below the kernel's unprivileged range: what it
    takes to bind it, and the way out; "" otherwise."""
    try:
        with open(UNPRIVILEGED_PORT_START_FILE) as fh:
            start = int(fh.read())
    except (OSError, ValueError):
        start = 1024  # Linux's default, and every other Unix's rule
    if port >= start:
        return ""
    way_out = f"give a port of {start} or above (SPEC's production metrics ports are 8047 and 8048)"
    if os.geteuid() == 0:  # root without the capability (a container, a unit that dropped it): root is not the cure
        return (f": ports below {start} (net.ipv4.ip_unprivileged_port_start) need CAP_NET_BIND_SERVICE, which this "
                f"process lacks though it runs as root (its container or service dropped it); {way_out}, or grant "
                f"it CAP_NET_BIND_SERVICE")
    return (f": ports below {start} (net.ipv4.ip_unprivileged_port_start) need root or CAP_NET_BIND_SERVICE, which "
            f"this process lacks; {way_out}, or run it as root")


def port_problem(host: str, port: int) -> str | None:
    """Why HOST:PORT cannot be bound now, or None. An IPv6 address is bound dual-stack, as ZeroMQ binds it (it clears
    IPV6_V6ONLY): with net.ipv6.bindv6only 1, [::] bound IPv6-only beside a process on 0.0.0.0:PORT, which ZeroMQ's
    [::] cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is already in use by another process"
            hint = low_port_hint(port) if exc.errno == errno.EACCES else ""
            return f"cannot bind {host} port {port}: {exc.strerror}{hint}"
    return None


def ipc_problem(path: str) -> str | None:
    """Why an ipc:// socket file cannot be bound now, or None (a stale socket file is fine: nobody
    answers; anything else at the path is refused, as ZeroMQ would unlink it)."""
    if len(os.fsencode(path)) > MAX_IPC_PATH_BYTES:
        return f"ipc path is {len(os.fsencode(path))} bytes; a socket path holds at most {MAX_IPC_PATH_BYTES}"
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        return f"its directory {directory} does not exist (create it, or name a socket file elsewhere)"
    try:
        mode = os.stat(path).st_mode
    except OSError:  # nothing there (or a dangling symlink, which ZeroMQ replaces)
        return None
    if not stat.S_ISSOCK(mode):
        return "is not a socket file (ZeroMQ deletes what is at an ipc path before it binds): name another path"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(path)
        except OSError:
            return None
    return "is already in use by another process (a process serves that socket file)"


def endpoint_problem_now(endpoint: str) -> str | None:
    """Why this bind endpoint cannot be bound now, or None."""
    if endpoint.startswith("ipc://"):
        return ipc_problem(endpoint[len("ipc://"):])
    if endpoint.startswith("tcp://"):
        host, port = split_tcp(endpoint)
        return port_problem(host, port)
    return None


def _proc_net_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of a /proc/net/tcp{,6} local_address field (its 32-bit words in the host's byte order), an
    IPv4-mapped IPv6 address as its IPv4 one; None when it does not parse."""
    try:
        raw = bytes.fromhex(hex_address)
        if len(raw) not in (4, 16):
            return None
        words = b"".join(raw[i:i + 4][::-1] if sys.byteorder == "little" else raw[i:i + 4] for i in range(0, len(raw), 4))
        address = ipaddress.ip_address(words)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _binds_clash(host: str, held: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    """Whether a socket bound at `held` (a port's holder) keeps HOST from binding that port, as Linux decides: in one
    address family, a wildcard on either side (0.0.0.0, ::) or the same address; across the two, only [::] (dual-stack
    unless IPV6_V6ONLY, which /proc does not show, and ZeroMQ binds it so) on either side. `localhost` is 127.0.0.1,
    never [::1], as ZeroMQ (no ZMQ_IPV6) and port_problem bind it; `*` or another name: any holder. 0.0.0.0 and [::1],
    like 127.0.0.1 and [::1], bind the same port side by side."""
    try:
        wanted = ipaddress.ip_address(localhost_as_ipv4(host))
    except ValueError:
        return True  # `*` or a name: any holder of the port
    wanted = getattr(wanted, "ipv4_mapped", None) or wanted
    if held is None:
        return True
    if held.version != wanted.version:
        v6 = held if held.version == 6 else wanted
        return v6.is_unspecified
    return wanted.is_unspecified or held.is_unspecified or held == wanted


def tcp_binds_clash(endpoint: str, bound: str) -> bool:
    """Whether a socket bound at tcp endpoint `bound` keeps `endpoint` from binding (_binds_clash): the same port, on
    the same address, a wildcard, or [::] across families; `localhost` read as 127.0.0.1, another name as any address.
    127.0.0.1 and [::1] (or two addresses of one family) of one port do not: the kernel binds them side by side."""
    host, port = split_tcp(endpoint)
    bound_host, bound_port = split_tcp(bound)
    try:
        address = ipaddress.ip_address(localhost_as_ipv4(bound_host))
    except ValueError:
        address = None  # a name: whatever it resolves to
    return port == bound_port and _binds_clash(host, address)


def _socket_inodes(endpoints: list[str]) -> dict[str, dict[int, bool]]:
    """Endpoint -> the inodes of the sockets bound to it in this network namespace, from /proc/net (Linux; elsewhere
    nothing): a TCP port's listening (or bound) sockets at an address that keeps the endpoint's from binding
    (_binds_clash), and an ipc path's unix sockets; each with whether it surely does (False: a [::] of the other
    address family, which does only if it is dual-stack, and /proc does not show IPV6_V6ONLY)."""
    found: dict[str, dict[int, bool]] = {e: {} for e in endpoints}
    ports: dict[int, list[str]] = {}
    for e in endpoints:
        if e.startswith("tcp://"):
            ports.setdefault(split_tcp(e)[1], []).append(e)
    paths = {e[len("ipc://"):]: e for e in endpoints if e.startswith("ipc://")}
    for table in ("/proc/net/tcp", "/proc/net/tcp6") if ports else ():
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or fields[3] not in ("0A", "07"):  # LISTEN, or CLOSE (bound, not yet listening)
                continue
            address, _, port = fields[1].rpartition(":")
            if not (fields[9].isdigit() and int(fields[9])):
                continue
            held = _proc_net_address(address)
            for endpoint in ports.get(int(port, 16), ()):
                if _binds_clash(split_tcp(endpoint)[0], held):
                    found[endpoint][int(fields[9])] = held is None or held.version == _version_of(endpoint)
    if paths:
        try:
            with open("/proc/net/unix") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            rows = []
        for row in rows:
            fields = row.split(maxsplit=7)
            if len(fields) == 8 and fields[7] in paths and fields[6].isdigit():
                found[paths[fields[7]]][int(fields[6])] = True
    return found


def _version_of(endpoint: str) -> int | None:
    """4 or 6: the address family a tcp endpoint binds (`localhost` 4), None for a name."""
    try:
        return ipaddress.ip_address(localhost_as_ipv4(split_tcp(endpoint)[0])).version
    except ValueError:
        return None


def holder_pids(endpoints: list[str]) -> dict[str, int]:
    """Endpoint -> the pid of a process holding a socket bound to it, for those /proc shows (this user's processes,
    or everyone's as root), one whose socket surely keeps it from binding first; an endpoint whose holder is not found
    is left out."""
    return {endpoint: pids[0] for endpoint, pids in _holders(endpoints, every=False).items()}


def every_holder_pid(endpoints: list[str]) -> dict[str, list[int]]:
    """Endpoint -> the pids of every process holding a socket bound to it that /proc shows, as holder_pids finds them
    and in its order: one socket /proc counts may not keep the endpoint from binding (an IPv6-only [::]), and another
    beside it may be the one that binds it."""
    return _holders(endpoints, every=True)


def _holders(endpoints: list[str], every: bool) -> dict[str, list[int]]:
    """Endpoint -> the pids holding its sockets, those of a socket that surely keeps it from binding first, then by
    pid; unless `every`, the scan stops once each endpoint has such a holder."""
    inodes = _socket_inodes(endpoints)
    wanted = {f"socket:[{inode}]": (endpoint, sure)
              for endpoint, found in inodes.items() for inode, sure in found.items()}
    held: dict[str, dict[int, bool]] = {}
    if not wanted:
        return {}
    try:
        pids = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    except OSError:
        return {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                endpoint, sure = wanted.get(os.readlink(f"/proc/{pid}/fd/{fd}"), (None, False))
            except OSError:
                continue
            if endpoint is not None:
                found = held.setdefault(endpoint, {})
                found[pid] = found.get(pid, False) or sure
        if not every and all(any(held.get(e, {}).values()) for e, _ in wanted.values()):
            break
    return {endpoint: sorted(found, key=lambda pid: (not found[pid], pid)) for endpoint, found in held.items()}
