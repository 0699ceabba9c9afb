"""Free TCP ports on 127.0.0.1 outside the kernel's ephemeral range: for the servers the tests and benchmarks start
(launcher.harness.free_port) and for `clustergate monitor up`'s Prometheus, each bound a moment after its port is
picked. No sockets are kept open; nothing but loopback is touched."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Ports are handed out outside the kernel's ephemeral range: a port the OS picks for bind(0) lies inside it, where
# any process's outgoing connection may take it as its local port before the actor handed it binds it. Below it
# (from _PORT_FLOOR) and above it: a narrowed range (1024 60999, 9000 9100) leaves its room above.
_PORT_FLOOR = 10000
_PORT_PICKER = random.SystemRandom()  # never a sequence a test's random.seed() repeats in every worker


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2])
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _outside_spans(ephemeral: tuple[int, int]) -> list[tuple[int, int]]:
    """[start, stop) spans of at least 1000 ports from _PORT_FLOOR up that bind(0) never picks."""
    low, high = ephemeral
    spans = [(_PORT_FLOOR, low), (max(high + 1, _PORT_FLOOR), 65536)]
    return [(a, b) for a, b in spans if b - a >= 1000]


def _candidate_port(spans: list[tuple[int, int]], attempt: int) -> int:
    if spans and attempt < 1000:
        pick = _PORT_PICKER.randrange(sum(b - a for a, b in spans))
        for a, b in spans:
            if pick < b - a:
                return a + pick
            pick -= b - a
    with socket.socket() as s:  # no room outside the ephemeral range (or none free there): the OS's pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_outside_ephemeral_range() -> int:
    """A port free now on 127.0.0.1, outside the kernel's ephemeral range where there is room (else the OS's pick),
    for a server started a moment later (`clustergate monitor up`'s Prometheus): no other process's bind(0) or
    outgoing connection is given it meanwhile."""
    spans = _outside_spans(_ephemeral_range())
    for attempt in range(2000):
        port = _candidate_port(spans, attempt)
        if port_free(port):
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1")
