"""Shared test helpers: the harness (launcher/harness.py, shared with bench/) and the test-only bounds."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from launcher.harness import (DEADLINE_SCALE, PYTHON, REPO, ActorProcess, RedisServer,  # noqa: F401 (re-exported)
                              demo_topology_data, free_port, retarget, scrape, wait_for, write_topology)

# docs/operating.md (Start, inspect, update and stop) promises an actor exits within 2 s of its
# SIGTERM. That is a bound the product promises, not a wait for a condition, so DEADLINE_SCALE never
# stretches it: tests allow the promise plus a fixed margin for a loaded machine, small enough that an
# actor taking 4 s fails.
SHUTDOWN_PROMISE_S = 2.0
SHUTDOWN_MARGIN_S = 1.0
SHUTDOWN_BOUND_S = SHUTDOWN_PROMISE_S + SHUTDOWN_MARGIN_S

# Gate settings for tests that count every reply as a decision while bursts of a few hundred proposals wait in
# the gate's queue: with the default overload_queue_age_ms (500 ms) a loaded machine (the other xdist worker
# on both cores) can make part of a burst wait longer, and it is answered overloaded. Shedding has its own
# tests (test_gate_deadlines.py, test_reliability_overload.py).
NO_SHEDDING = {"overload_queue_age_ms": 60_000}

# `up` with supervisord's update replaced by a SIGKILL of `up` itself: the files are switched, supervisord never told.
KILLED_BEFORE_UPDATE = """
import os, signal, sys
import launcher.supervise
launcher.supervise.Supervisor.apply_config = lambda self, *hooks: os.kill(os.getpid(), signal.SIGKILL)
from launcher.cli import main
main(sys.argv[1:])
"""


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process SIGSTOPped for the block, then resumed, whatever happens in it."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def threads_taking(pid: int, signum: int) -> list[int]:
    """The threads (ids) of process `pid` that the kernel may hand `signum` sent to the process: those not blocking it."""
    takers = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as fh:
                blocked = next(int(line.split()[1], 16) for line in fh if line.startswith("SigBlk:"))
        except (OSError, StopIteration):  # the thread ended meanwhile
            continue
        if not blocked >> (signum - 1) & 1:
            takers.append(int(tid))
    return sorted(takers)


NOBODY = 65534


def as_another_user(call: Callable[[], Any]) -> dict[str, Any]:
    """call() in a forked child as the user nobody when the tests run as root, else as this user: {"returned": what it
    returned, as JSON} or {"raised": its traceback}. Every module the call needs must be imported before: the child
    may read none of root's files (the interpreter's own library under /root among them)."""
    import json
    import traceback
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setresgid(NOBODY, NOBODY, NOBODY)
                os.setresuid(NOBODY, NOBODY, NOBODY)
            said: dict[str, Any] = {"returned": call()}
        except BaseException:
            said = {"raised": traceback.format_exc()}
        os.write(write, json.dumps(said).encode())
        os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            return json.loads(pipe.read() or b"{}")
    finally:
        os.waitpid(child, 0)


class TcpProxy:
    """A real TCP proxy on a free port of 127.0.0.1 in front of `upstream_port`: each chunk read goes on as
    passing(data, to_upstream, shared) returns it (shared: a dict of its connection's), which may delay or alter it."""

    def __init__(self, upstream_port: int):
        self.port, self._upstream, self.accepted = free_port(), upstream_port, 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._socks: list = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        return data

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream))
            except OSError:  # nothing listens upstream yet (a port probe came first): that one is closed, not the proxy
                client.close()
                continue
            self._socks += [client, upstream]
            shared: dict = {}
            threading.Thread(target=self._pump, args=(client, upstream, True, shared), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False, shared), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, to_upstream: bool, shared: dict) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(self.passing(data, to_upstream, shared))
        except OSError:
            pass
        finally:
            close_all(src, dst)

    def close(self) -> None:
        """Stop for good: every connection and the listener closed."""
        close_all(*self._socks)


class DelayingProxy(TcpProxy):
    """A slow link on loopback: a TcpProxy that passes each chunk of a connection on `delay_s` after reading it,
    both ways and in order (a latency, not a throttle), once the connection has sent upstream a chunk that
    `slows(chunk)` is true of (chunks before it pass at once; other connections are never delayed). Every chunk a
    slowed connection sends upstream is kept in `sent` as (time.time() when read, connection number, chunk)."""

    def __init__(self, upstream_port: int, delay_s: float, slows):
        self.delay_s, self._slows = delay_s, slows
        self.sent: list[tuple[float, int, bytes]] = []
        self._connections = iter(range(1 << 30))
        super().__init__(upstream_port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _pump(self, src: socket.socket, dst: socket.socket, to_upstream: bool, shared: dict) -> None:
        line: deque = deque()  # (when to pass it on, chunk; None: the end) in order
        ready = threading.Condition()
        threading.Thread(target=self._pass_on, args=(line, ready, src, dst), daemon=True).start()
        if to_upstream:
            shared["number"] = next(self._connections)
        try:
            while data := src.recv(65536):
                now = time.monotonic()
                if to_upstream and not shared.get("slow") and self._slows(data):
                    shared["slow"] = True
                if shared.get("slow"):
                    if to_upstream:
                        self.sent.append((time.time(), shared["number"], data))
                    now += self.delay_s
                with ready:
                    line.append((now, data))
                    ready.notify()
        except OSError:
            pass
        with ready:
            line.append((time.monotonic(), None))
            ready.notify()

    @staticmethod
    def _pass_on(line: deque, ready: threading.Condition, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                with ready:
                    while not line:
                        ready.wait()
                    when, data = line.popleft()
                if data is None:
                    break
                time.sleep(max(0.0, when - time.monotonic()))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            close_all(src, dst)


def close_all(*socks: socket.socket) -> None:
    """Close each socket, whatever closing another raised."""
    for sock in socks:
        try:
            sock.close()
        except OSError:
            pass


def two_gates_data() -> dict:
    """The demo with a second gate and permit issuer (configs/ha.yaml's gate_b and permit_issuer_b, on one host)."""
    data = demo_topology_data()
    data["actors"]["permit_issuer_b"] = {"kind": "permit_issuer", "metrics_port": 9197,
                                         "sockets": {"requests": {"bind": "tcp://127.0.0.1:5567"}}}
    data["actors"]["gate_b"] = {"kind": "gate", "metrics_port": 9198,
                                "sockets": {"proposals": {"bind": "tcp://127.0.0.1:5566", "hwm": 100},
                                            "permits": {"connect": "tcp://127.0.0.1:5567"}}}
    return data


def nested_stop_signals(handler: Callable[[int, Any], None], first: int, second: int) -> BaseException | None:
    """Send `first` to this process with `handler` set for both signals, and `second` as that handler starts (a profile
    hook: the interpreter runs the second's handler there, nested, as when two are sent at once); what was raised, or
    None. Real signals; both handlers put back."""
    import sys
    sent: list[int] = []

    def second_signal_as_the_handler_starts(frame, event, _arg):
        if event == "call" and frame.f_code is handler.__code__ and not sent:
            sent.append(1)
            os.kill(os.getpid(), second)

    previous = {signum: signal.signal(signum, handler) for signum in (first, second)}
    try:
        sys.setprofile(second_signal_as_the_handler_starts)
        try:
            os.kill(os.getpid(), first)
            for _ in range(1000):  # the interpreter runs pending handlers between these
                pass
        finally:
            sys.setprofile(None)
    except BaseException as exc:  # noqa: B036 (what the handlers raised is the result)
        return exc
    finally:
        for signum, was in previous.items():
            signal.signal(signum, was)
    assert sent, "the second signal was never sent"
    return None
