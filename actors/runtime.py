"""The actor runtime: one process, one ZeroMQ context, one poll loop.

An actor subclasses `Actor`, registers handlers and timers in `setup()`, and never touches the
context or closes sockets itself: the runtime owns them and closes each with an explicit linger.
Handlers must not block for long; the loop wakes at least every `TICK_S` so SIGTERM is honoured
within 2 s. Each turn, and each message handled, stamps time.monotonic(): an actor whose loop has not stamped within its
stall limit (a handler or timer that never returns) is exported not ready, however ready it said it was (loop_ready).
"""

from __future__ import annotations

import argparse
import errno
import gc
import heapq
import io
import math
import itertools
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from socketserver import ThreadingMixIn
from typing import Any, Callable, ClassVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import zmq
from prometheus_client import Counter, Gauge, make_wsgi_app
from prometheus_client.values import MutexValue
from zmq.backend import Socket as _CompiledSocket, zmq_poll as _zmq_poll

from actors.wire import INTERNAL_ERROR, encode, error_envelope
from launcher.curve import SocketKeys, socket_keys
from launcher.endpoints import endpoint_problem_now, localhost_as_ipv4, low_port_hint
from launcher.parent_death import die_with_parent
from launcher.stop_signals import signals_left_to_the_main_thread
from launcher.schema import SchemaError
from launcher.topology import EXIT_BAD_INPUT, EXIT_BAD_INPUT_LINE, SOCKET_ROLES, ActorSpec, Topology, load_to_run

TICK_S = 0.1
LINGER_MS = 0
# libzmq closes a listener in its I/O thread after close() returns: a re-created socket that binds (a REQ re-opened
# after a timeout) retries the endpoint its own old socket still holds for this long.
REBIND_WAIT_S = 1.0
# How long a stopping actor's socket may take to hand the replies it answered on stopping to libzmq's I/O thread
# (LINGER_MS 0 drops them unsent); within the 2 s an actor has to exit after SIGTERM.
STOP_REPLIES_LINGER_MS = 500
# A wait the process was stopped in (SIGSTOP, a host pause) past its deadline polls its socket this much longer once it
# is continued: what arrived meanwhile waits in the kernel until libzmq's I/O thread, continued with it, hands it over
# (Actor._wait_waking_on_signals).
CONTINUED_GRACE_MS = 200
# Requests read off a socket at stop to be answered (Shedding.stopping_reply): more than its hwm ever holds.
STOP_READS_MAX = 100_000
# libzmq hands an idle reader the messages its I/O thread has queued only when the socket processes its commands,
# which a non-blocking read does at most once a millisecond or so: a socket read empty can still hold hundreds. At
# stop the socket is read until it stays empty STOP_READS_QUIET_MS (a poll processes them), for STOP_READS_S at most
# (clients that keep sending cannot hold the actor past its 2 s).
STOP_READS_QUIET_MS = 10
STOP_READS_S = 0.25
REQUEST_DRAIN = 64  # messages handled per socket per loop turn, so one busy socket cannot starve others
BATCHES_PER_TURN = 4  # batches served per ROUTER socket per loop turn, for the same reason
# Requests read off a shedding socket per loop turn: reading is how the actor learns of a request and
# can answer it overloaded, but the turn must end (timers, other sockets).
SHED_READS_PER_TURN = 2048
# A ROUTER's replies to one client wait in its send queue until libzmq's I/O thread writes them out, and
# it drops one that finds the queue full. One loop turn can answer up to SHED_READS_PER_TURN +
# BATCHES_PER_TURN * REQUEST_DRAIN requests of one client (a DEALER that sent many); the queue holds 4
# such turns, so only a client that stopped reading loses replies (counted in REPLIES_DROPPED). It was
# 1,024 and a rush of one client's proposals lost 2,352 of 6,000 overloaded replies without a word; 2, 4
# and 8 turns each kept all of them, under load, and each turn costs a stuck client's connection ~0.5 MB.
ROUTER_MIN_SNDHWM = 4 * (SHED_READS_PER_TURN + BATCHES_PER_TURN * REQUEST_DRAIN)

Frames = list[bytes]
Handler = Callable[[Frames], None]
RequestHandler = Callable[[Frames], "dict[str, Any] | bytes"]  # bytes: an envelope already encoded
# One reply per request, in order; the requests come with the time.perf_counter() at which each was read off the
# socket (a request waits in the actor's own queue before its batch: Shedding).
BatchHandler = Callable[[list[Frames], list[float]], "list[dict[str, Any] | bytes]"]

_SOCKET_TYPES = {"PUB": zmq.PUB, "SUB": zmq.SUB, "REQ": zmq.REQ, "REP": zmq.REP, "ROUTER": zmq.ROUTER}

READY = Gauge("clustergate_actor_ready", "1 when the actor has what it needs to do its job and its main loop completed "
              "a turn within its stall limit (computed when scraped)", ["actor", "kind"])
LOOP_AGE = Gauge("clustergate_actor_loop_age_seconds", "Seconds since the actor's main loop last completed a turn "
                 "or a message handler returned "
                 "(computed when scraped): near 0 when it is alive, growing while a handler or timer never returns; 0 "
                 "before the loop starts (setup)",
                 ["actor", "kind"])
LOOP_STALL_LIMIT = Gauge("clustergate_actor_loop_stall_limit_seconds", "The loop age past which the actor is exported "
                         "not ready (its loop_stall_limit_s)", ["actor", "kind"])
HANDLER_ERRORS = Counter("clustergate_handler_errors_total", "Exceptions raised by message handlers and timers", ["actor", "where"])
DROP_REASONS = ("client_not_reading", "client_gone", "send_error")  # send_error: any other ZMQError (not expected)
REPLIES_DROPPED = Counter("clustergate_replies_dropped_total",
                          "Replies a ROUTER could not send: the client's queue was full (client_not_reading) "
                          "or the client had disconnected (client_gone)", ["actor", "reason"])
# What CurveZMQ adds to each frame on the wire, which ZMQ_MAXMSGSIZE counts: its MESSAGE command's name (8 bytes),
# nonce (8), MAC (16) and flags (1). Added to a CURVE socket's max_message_bytes, so that the limit is the message's own
# (a gate at max_request_bytes 2,715 dropped valid proposals of 2,683 to 2,692 bytes unread).
CURVE_OVERHEAD_BYTES = 33
CURVE_DENIED = Counter("clustergate_curve_denied_total", "CurveZMQ clients refused because their key is not allowed", ["actor", "socket"])
# An actor that cannot start (a socket that will not bind, a metrics port in use, an exception in
# setup) exits with this code after one `start_failed` log line naming the socket and the endpoint.
EXIT_START_FAILED = 1
# The /metrics endpoint: a connection that sends nothing for this long is closed, and at most this many are served
# at once (more are closed at once): each holds a thread and a file descriptor, which prometheus_client held for
# ever for a connection that never sent its request.
SCRAPE_IDLE_TIMEOUT_S = 5.0
MAX_SCRAPE_CONNECTIONS = 32
# ZMTP heartbeats on every socket (_configure): a PING every HEARTBEAT_IVL_MS, the connection dropped when nothing
# came from the peer for HEARTBEAT_TIMEOUT_MS.
HEARTBEAT_IVL_MS = 3000
HEARTBEAT_TIMEOUT_MS = 10000
# An event log_throttled logs is written at most once per this many seconds per (event, key) while it goes on.
THROTTLED_LOG_S = 1.0
# Set to a directory, the actor's poll loop runs under cProfile (the main thread's CPU time) and writes
# NAME.prof there on exit (docs/benchmarks.md: Profiling). For measurement only: the profiler multiplies
# the CPU a message takes several times over.
PROFILE_ENV = "CLUSTERGATE_PROFILE_DIR"


# The monitor events that change how many peers a socket has a live ZMTP connection with (ConnectionCount).
_HANDSHAKE_FAILED = int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                        | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_HANDSHAKE_SUCCEEDED, _DISCONNECTED = int(zmq.EVENT_HANDSHAKE_SUCCEEDED), int(zmq.EVENT_DISCONNECTED)
_OPENED = int(zmq.EVENT_CONNECTED | zmq.EVENT_ACCEPTED)  # a TCP connection made: its handshake begins
CONNECTION_EVENTS = _OPENED | _HANDSHAKE_SUCCEEDED | _DISCONNECTED | _HANDSHAKE_FAILED


class ConnectionCount:
    """How many peers a socket has a live ZMTP connection with (its handshake done, not yet disconnected), from the
    socket monitor's events. libzmq reports each connection as CONNECTED (or ACCEPTED), then HANDSHAKE_SUCCEEDED or
    HANDSHAKE_FAILED_*, then DISCONNECTED. A HANDSHAKE_FAILED_PROTOCOL also comes after a handshake that succeeded:
    a CurveZMQ message the socket cannot open (a byte flipped on the wire) drops a live connection that way, so a
    failure with no handshake under way ends a counted connection, and its DISCONNECTED ends none. A connecting
    socket has one connection at a time, so the attribution is exact for it; a binding one with a handshake under way
    while a live connection fails that way counts the failure to the handshake until that one ends."""

    def __init__(self) -> None:
        self.live = 0
        self._handshaking = 0  # connections opened whose handshake has not ended yet
        self._failed = 0  # connections whose HANDSHAKE_FAILED came, their DISCONNECTED not yet

    def event(self, event: int) -> None:
        if event & _OPENED:
            self._handshaking += 1
        elif event == _HANDSHAKE_SUCCEEDED:
            self._handshaking = max(0, self._handshaking - 1)
            self.live += 1
        elif event & _HANDSHAKE_FAILED:
            self._failed += 1
            if self._handshaking:
                self._handshaking -= 1
            elif self.live:  # after its handshake: a live connection dropped for a protocol error
                self.live -= 1
        elif event == _DISCONNECTED:
            if self._failed:
                self._failed -= 1
            elif self.live:
                self.live -= 1
            elif self._handshaking:
                self._handshaking -= 1


def loop_ready(ready: bool, loop_age_s: float, stall_limit_s: float) -> bool:
    """Readiness as exported: the actor's own verdict, and its main loop turned within the stall limit (a loop stuck
    in a handler or a timer answers nothing, however ready it said it was)."""
    return ready and loop_age_s <= stall_limit_s


class StartError(Exception):
    """A socket (or the metrics endpoint) that could not be opened: names it and its endpoint."""

    def __init__(self, socket: str, endpoint: str, reason: str):
        super().__init__(f"{socket} {endpoint}: {reason}")
        self.socket = socket
        self.endpoint = endpoint
        self.reason = reason


STARTED = Gauge("clustergate_actor_started_timestamp_seconds", "Epoch time the actor process started", ["actor", "kind"])
LOOP_STARTED = Gauge("clustergate_actor_loop_started_timestamp_seconds",
                     "Epoch time the actor's main loop began, its setup done (0 until then)", ["actor", "kind"])


class EventLog:
    """One line per event on stdout: `ts level actor event key=value ...`."""

    def __init__(self, actor: str, level: str = "info"):
        self.actor = actor
        self.level = getattr(logging, level.upper())

    def _emit(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if level < self.level:
            return
        parts = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
                 logging.getLevelName(level).lower(), f"actor={self.actor}", f"event={event}"]
        for key, value in fields.items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            if isinstance(value, str) and (" " in text or not text):
                text = json.dumps(text)
            parts.append(f"{key}={text}")
        sys.stdout.write(" ".join(parts) + "\n")
        sys.stdout.flush()

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)


def error_text(exc: BaseException) -> str:
    """An exception for a log line: its class and its message. redis-py 8's errors repr as their class alone
    ("server:ResponseError"), which hid the message (WRONGTYPE ..., the address refused) from every log."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class OutageLog:
    """Logs a dependency's outage once when it starts (`{name}_error`) and once when it ends
    (`{name}_recovered`), not on every retry in between; counting each failure is the caller's."""

    def __init__(self, log: EventLog, name: str):
        self.log = log
        self.name = name
        self.failing = False

    def failed(self, exc: BaseException, **fields: Any) -> None:
        if not self.failing:
            self.log.error(f"{self.name}_error", error=error_text(exc), **fields)
        self.failing = True

    def ok(self) -> None:
        if self.failing:
            self.log.info(f"{self.name}_recovered")
        self.failing = False


# While Redis refuses an actor's password, how often PasswordRefusalLog says so again.
PASSWORD_REFUSAL_REMINDER_S = 60.0


def refuses_the_password(exc: BaseException) -> bool:
    """Whether exc is Redis refusing a client's password: launcher.resp.password_refused, or redis-py's
    AuthenticationError (the state writer's client), looked for only once the actor has imported redis-py (the gate
    and the issuer keep it out of their memory)."""
    from launcher.resp import password_refused  # (only on a failure: an actor that never meets one never imports it)
    redis_py = sys.modules.get("redis")
    return password_refused(exc) or (redis_py is not None and isinstance(exc, redis_py.AuthenticationError))


class PasswordRefusalLog:
    """Redis refusing an actor's password (a wrong one, one rotated on the server, one given to a Redis without any,
    none to a Redis that needs one), which no retry fixes: said once when it starts (`redis_password_refused`, Redis's
    words naming the variable, never the password) and again when they call for another fix (Redis's password removed
    while it lasts), then at most every PASSWORD_REFUSAL_REMINDER_S (`redis_password_still_refused`, with how long,
    how many of the counted calls failed and Redis's latest words), and once when Redis takes a call again
    (`redis_password_accepted`), in place of the caller's own line for each failed call (one a cadence: every second
    on the demo). Counting each failure in the metrics is the caller's; the lines count the
    calls it marks counted, under the name `counted` (failed_writes: the state writer's and the buffer's)."""

    def __init__(self, log: EventLog, redis: Any, counted: str = "failed_writes",
                 clock: Callable[[], float] = time.monotonic):
        """redis: the topology's RedisConfig (its password and password_env)."""
        self.log, self.redis, self.counted, self.clock = log, redis, counted, clock
        self.since: float | None = None  # when the refusal going on began (None: none goes on)
        self.said_at = 0.0
        self.failed = 0  # the counted calls refused since it began
        self.error = ""

    def refused(self, exc: BaseException, counted: bool = False) -> bool:
        """Whether exc is Redis refusing the password, said as above (counted: a call of the kind counted failed for
        it); any other error is the caller's to log."""
        if not refuses_the_password(exc):
            return False
        from launcher.resp import has_no_password, password_hint  # (only on a failure, as refuses_the_password)
        now = self.clock()
        self.failed += counted
        env, error = self.redis.password_env, error_text(exc)
        if env and f"${env}" not in error:  # Redis's own words (NOAUTH to a call): the variable added
            error += password_hint(error, self.redis.password, env)
        before, self.error = self.error, error  # (a reminder carries Redis's latest words)
        if self.since is None or has_no_password(error) != has_no_password(before):  # begun, or another fix:
            self.since = now if self.since is None else self.since  # (Redis's password removed while it lasts, or
            self.said_at = now  # one set on a Redis that had none)
            self.log.error("redis_password_refused", error=self.error,
                           detail=f"Redis refuses the password this actor took from ${env}: no retry fixes it, every "
                                  f"call fails until ${env} holds the password Redis has (`clustergate up` passes it "
                                  f"to the actors) or Redis takes this one again; said again every "
                                  f"{PASSWORD_REFUSAL_REMINDER_S:g} s while it lasts")
        elif now - self.said_at >= PASSWORD_REFUSAL_REMINDER_S:
            self.said_at = now
            self.log.warning("redis_password_still_refused", refused_for_s=round(now - self.since, 1),
                             **{self.counted: self.failed}, error=self.error)
        return True

    def accepted(self) -> bool:
        """Redis took a call: the refusal going on, if any, ends with one line. Whether one did."""
        if self.since is None:
            return False
        self.log.info("redis_password_accepted", refused_for_s=round(self.clock() - self.since, 1),
                      **{self.counted: self.failed})
        self.since, self.failed = None, 0
        return True


def _add_to(value: Any) -> Callable[[float], None] | None:
    """An add to one of prometheus_client's in-process values (a float and the lock its scrape reads it under), made
    without that lock; None for any other kind of value. An actor's series are written by its main thread alone (the
    scrape thread only reads them, and a float attribute is stored whole), so no increment is lost: the lock's
    `with` was 140 of the 175 ns of each inc (issue 14; the gate makes 4 to 6 per decision, the issuer 3 or 4)."""
    if type(value) is not MutexValue or not isinstance(getattr(value, "_value", None), float):
        return None

    def add(amount: float) -> None:
        value._value += amount

    return add


def adder(counter: Any) -> Callable[[float], None]:
    """counter.inc(amount), as one call: an add to its value (_add_to), without prometheus_client's checks per call
    (that the counter is a child, that the amount is not negative: callers never pass one), 5 of its about 6 Python
    calls per inc (issue 14). The value's own inc, or counter.inc itself, where the library keeps another value.
    Only for series that the actor's main thread alone writes."""
    value = getattr(counter, "_value", None)
    inc = getattr(value, "inc", None)
    return _add_to(value) or (inc if callable(inc) else counter.inc)


def increment(counter: Any) -> Callable[[], None]:
    """counter.inc(), as one call: adder's add of 1 (the gate makes 4 to 6 incs per decision)."""
    return partial(adder(counter), 1)


def observer(histogram: Any) -> Callable[[float], None]:
    """histogram.observe, as one call: adds to the sum and the bucket without their lock (as _add_to does, in the
    one call), the bucket found by bisection where prometheus_client tries the bounds one by one (16 for
    p26_time_to_permit_seconds), the same series and values (issue 14). histogram.observe itself where the library
    keeps other values."""
    bounds, buckets, total = (getattr(histogram, name, None) for name in ("_upper_bounds", "_buckets", "_sum"))
    if (not isinstance(bounds, list) or not isinstance(buckets, list) or len(bounds) != len(buckets) or not bounds
            or bounds[-1] != math.inf or _add_to(total) is None or any(_add_to(b) is None for b in buckets)):
        return histogram.observe

    def observe(amount: float) -> None:  # only the actor's main thread writes it (_add_to)
        total._value += amount
        i = bisect_left(bounds, amount)  # the first bound >= amount; 0 for NaN, which no bucket counts
        if amount <= bounds[i]:
            buckets[i]._value += 1

    return observe


@dataclass(frozen=True)
class Shedding:
    """Explicit overload for a batch-served ROUTER role: requests read off the socket wait in the actor's
    own queue; one that has waited longer than `max_age_s` is answered `reply` before new requests are read
    (so it never makes one find the queue full), one that finds `max_depth` requests waiting at once behind the
    batch about to be taken (a depth below the batch limited the batch, not the wait); neither
    is handed to the handler, and `on_shed(n)` counts them."""

    max_depth: int
    max_age_s: float
    reply: bytes
    on_shed: Callable[[int], None]
    # The reply to every request still waiting (in the actor's queue or the socket's) when the actor stops: each is
    # answered, not dropped, and counted by on_shed. None: they are dropped (their clients time out).
    stopping_reply: bytes | None = None


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    interval_s: float = field(compare=False)
    callback: Callable[[], None] = field(compare=False)
    name: str = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Actor:
    """Base class of every actor process."""

    kind: ClassVar[str] = ""
    # How a handler's reply dict becomes its frame (json module bytes; TypeError or ValueError for what JSON
    # cannot hold, answered internal_error). An actor whose replies are known finite may take a faster one.
    encode_reply: ClassVar[Callable[[Any], bytes]] = staticmethod(encode)

    def __init__(self, topology: Topology, name: str):
        self.topology = topology
        self.name = name
        self.spec: ActorSpec = topology.actor(name)
        if self.spec.kind != self.kind:
            raise SystemExit(f"actor {name!r} is a {self.spec.kind}, not a {self.kind}")
        self.settings = self.spec.settings
        self.log = EventLog(name, self.spec.log_level)
        self.ctx = zmq.Context()
        self.sockets: dict[str, zmq.Socket] = {}
        self._handlers: dict[zmq.Socket, Callable[[zmq.Socket], None]] = {}
        self._subscriptions: dict[str, list[bytes]] = {}
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._stopping = False
        self._wakeup_fds: tuple[int, int] | None = None  # (read, write): the signal wakeup pipe (_watch_signals)
        # True while the requests of a batch whose handler raised are handled again one by one (on_requests_batch):
        # what counts a request as read (the gate's p26_plans_seen_total) counted it in the batch's run.
        self.handling_again = False
        # Liveness: the main thread stamps time.monotonic() once a turn (_loop) and a message (_handled); the scrape
        # thread only reads it. No stamp (inf, age 0) until the loop starts: setup is not a stuck loop (the actor is
        # not ready by its own verdict then).
        self._ready_flag = False
        self._loop_turned = math.inf
        self._continued_at = -math.inf  # time.monotonic() of the last SIGCONT: the process had been stopped
        self._stall_limit_s = topology.loop_stall_limit_s(name)
        READY.labels(actor=name, kind=self.kind).set_function(self.exported_ready)
        LOOP_AGE.labels(actor=name, kind=self.kind).set_function(self.loop_age_s)
        LOOP_STALL_LIMIT.labels(actor=name, kind=self.kind).set(self._stall_limit_s)
        self._errors_handler = HANDLER_ERRORS.labels(actor=name, where="handler")
        self._errors_timer = HANDLER_ERRORS.labels(actor=name, where="timer")
        self._metrics_server: Any = None
        self._authenticator: Any = None  # zmq.auth.thread.ThreadAuthenticator, started by the first CURVE bind
        self._curve_keys: dict[str, SocketKeys] = {}
        self.poller = zmq.Poller()
        # Sockets whose requests wait in the actor's own queue (Shedding): served again every loop turn
        # while it is not empty, whether or not the socket has more to read.
        self._backlogs: dict[zmq.Socket, deque] = {}
        self._stopping_replies: dict[zmq.Socket, Shedding] = {}  # sockets answered at stop (Shedding.stopping_reply)
        self._watchers: dict[str, Callable[[int], None]] = {}  # role -> on_change (watch_connections)
        # watched socket -> (the PAIR its monitor's events come on, the call that reads them: _read_monitors)
        self._monitors: dict[zmq.Socket, tuple[zmq.Socket, Callable[[], None]]] = {}
        # (event, key) -> [occurrences not yet logged, the latest's fields, level, count field] (log_throttled)
        self._throttled: dict[tuple[str, Any], list] = {}

    # ----------------------------------------------------------------- sockets

    def open_socket(self, role: str) -> zmq.Socket:
        """Create (or re-create) the socket for `role` as the topology says."""
        old = self.sockets.get(role)
        if old is not None:
            self._close(role, old)
        sock_spec = self.spec.sockets[role]
        sock = self.ctx.socket(_SOCKET_TYPES[SOCKET_ROLES[self.kind][role]])
        # A socket that fails to open is closed here: an unclosed socket makes ctx.term() wait forever.
        try:
            self._configure(role, sock, sock_spec, REBIND_WAIT_S if old is not None else 0.0)
        except BaseException as exc:
            self._detach_monitor(sock)
            sock.close(linger=0)
            if isinstance(exc, (zmq.ZMQError, OSError)):
                raise StartError(role, sock_spec.endpoint, str(exc)) from None
            raise
        self.sockets[role] = sock
        return sock

    def _configure(self, role: str, sock: zmq.Socket, sock_spec: Any, rebind_wait_s: float) -> None:
        sock.setsockopt(zmq.LINGER, LINGER_MS)
        # ZMTP heartbeats: a peer whose host crashed or was cut off sends no FIN, and its connection was kept for ever
        # (a client gone that way held a descriptor and its queue in the gate until the gate restarted). A peer that
        # answers no PING for HEARTBEAT_TIMEOUT_MS is disconnected (and a connecting socket reconnects); libzmq
        # answers PINGs itself, so an idle live peer is kept.
        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self.heartbeat_timeout_ms(role))
        if sock_spec.endpoint.startswith("tcp://["):
            sock.setsockopt(zmq.IPV6, 1)
        # A ROUTER sends a whole batch of replies at once: its send queue holds several loop turns of
        # replies (ROUTER_MIN_SNDHWM), the receive hwm still bounds the requests. Mandatory: a reply it
        # cannot send raises instead of vanishing, so it is counted and logged (_reply_dropped).
        send_hwm = sock_spec.hwm
        if sock.type == zmq.ROUTER:
            send_hwm = max(send_hwm, ROUTER_MIN_SNDHWM)
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            for reason in DROP_REASONS:  # exported at 0 from the start, so rate() sees the first drop
                REPLIES_DROPPED.labels(actor=self.name, reason=reason)
        sock.setsockopt(zmq.SNDHWM, send_hwm)
        sock.setsockopt(zmq.RCVHWM, sock_spec.hwm)
        max_bytes = self.max_message_bytes(role)
        if max_bytes is not None:  # libzmq drops the connection of a larger message before reading its body
            if sock_spec.curve is not None:  # ... counting the frame as on the wire: encrypted, CURVE_OVERHEAD_BYTES more
                max_bytes += CURVE_OVERHEAD_BYTES
            sock.setsockopt(zmq.MAXMSGSIZE, max_bytes)
        if sock.type == zmq.SUB:
            for prefix in self._subscriptions.get(role, [b""]):
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
        if sock_spec.curve is not None:
            self._apply_curve(role, sock, server=sock_spec.bind is not None)
        if role in self._watchers:  # before any connection exists, so that none goes uncounted
            self._attach_monitor(role, sock)
        if sock_spec.bind is not None:
            _bind(role, sock, sock_spec.bind, rebind_wait_s)
        else:
            sock.connect(sock_spec.connect)

    def heartbeat_timeout_ms(self, role: str) -> int:
        """How long `role` keeps a connection from which nothing came. libzmq reads nothing from a connection
        whose queue to the actor is full, not even the peer's PONGs: override for a socket whose queue may stay
        full while the actor spends longer than HEARTBEAT_TIMEOUT_MS on one loop turn, or live peers are dropped."""
        return HEARTBEAT_TIMEOUT_MS

    def max_message_bytes(self, role: str) -> int | None:
        """The largest message `role` accepts (ZMQ_MAXMSGSIZE, plus CURVE_OVERHEAD_BYTES on a CurveZMQ socket), or None
        for no limit. Override for every socket that takes input from outside the topology."""
        return None

    def _apply_curve(self, role: str, sock: zmq.Socket, *, server: bool) -> None:
        """Encrypt with this socket's keypair; a server lets in only its allowed client keys, which
        the authenticator checks before the socket binds (without it libzmq would admit anyone)."""
        keys = self._curve_keys.get(role)
        if keys is None:
            keys = self._curve_keys[role] = socket_keys(self.topology, self.name, role)
            if server:
                self._curve_authenticator().configure_curve_callback(
                    domain=role, credentials_provider=_CurveAllowlist(keys.allowed, self.name, role, self.log))
        sock.curve_secretkey = keys.keypair.secret
        sock.curve_publickey = keys.keypair.public
        if server:
            sock.zap_domain = role.encode()
            sock.curve_server = True
        else:
            sock.curve_serverkey = keys.server_key

    def _curve_authenticator(self) -> Any:
        if self._authenticator is None:
            from zmq.auth.thread import ThreadAuthenticator
            self._authenticator = ThreadAuthenticator(self.ctx, log=logging.getLogger(f"clustergate.zap.{self.name}"))
            with signals_left_to_the_main_thread():
                self._authenticator.start()
            self.log.info("curve_authenticator_started")
        return self._authenticator

    def watch_connections(self, role: str, on_change: Callable[[int], None]) -> None:
        """Call on_change(n) whenever n, the number of peers `role`'s socket has a live ZMTP connection with
        (ConnectionCount), changes: read from a socket monitor by the poll loop once per TICK_S, not per message
        (in the poller, its PAIR made every loop turn's poll 0.65 us dearer: a turn per decision at 1,000/s). Every
        socket open_socket makes for the role gets its own monitor, its count starting at 0 (on_change(0)); call
        before the role's socket is opened, as subscribe."""
        if role in self.sockets:
            raise RuntimeError(f"watch_connections({role!r}) after its socket was opened")
        self._watchers[role] = on_change

    def _attach_monitor(self, role: str, sock: zmq.Socket) -> None:
        on_change = self._watchers[role]
        # An endpoint of its own: pyzmq's default names it by the socket's descriptor, which a re-created socket may
        # get again while libzmq has yet to unbind the closed one's.
        endpoint = f"inproc://monitor.{role}.{next(self._seq)}"
        sock.monitor(endpoint, CONNECTION_EVENTS)
        # No hwm on the events' way in: libzmq's I/O thread blocks on a full monitor pipe (about 2,000 events unread,
        # a port scan of a bound socket while the loop waits permit_timeout_ms on a request), and with it every socket
        # of the context; stopping that monitor then hangs the process for good. Events wait in memory until read.
        monitor = self.ctx.socket(zmq.PAIR)
        monitor.setsockopt(zmq.LINGER, 0)
        monitor.setsockopt(zmq.RCVHWM, 0)
        monitor.connect(endpoint)
        count = ConnectionCount()

        def read_events() -> None:
            before = count.live
            while True:
                try:
                    frames = monitor.recv_multipart(_NOBLOCK)
                except zmq.Again:
                    break
                count.event(struct.unpack_from("=H", frames[0])[0])  # frames: event id and value, endpoint
            if count.live != before:
                on_change(count.live)

        self._monitors[sock] = (monitor, read_events)
        on_change(0)

    def _read_monitors(self) -> None:
        for _, read_events in list(self._monitors.values()):
            self._guard(read_events, self._errors_timer, "connections")

    def _detach_monitor(self, sock: zmq.Socket) -> None:
        """Stop the socket's monitor (if it has one) and close the PAIR its events came on."""
        watched = self._monitors.pop(sock, None)
        if watched is None:
            return
        monitor = watched[0]
        try:
            sock.disable_monitor()
        except zmq.ZMQError:
            pass
        monitor.close(linger=0)

    def _close(self, role: str, sock: zmq.Socket) -> None:
        self._detach_monitor(sock)
        if sock in self._handlers:
            del self._handlers[sock]
            self.poller.unregister(sock)
        self._backlogs.pop(sock, None)
        sock.close(linger=STOP_REPLIES_LINGER_MS if self._stopping_replies.pop(sock, None) else LINGER_MS)
        self.sockets.pop(role, None)

    def subscribe(self, role: str, *prefixes: bytes) -> None:
        """Restrict a SUB role to topic prefixes; call before the socket is opened."""
        self._subscriptions[role] = list(prefixes)

    def socket(self, role: str) -> zmq.Socket:
        if role not in self.sockets:
            self.open_socket(role)
        return self.sockets[role]

    def on_message(self, role: str, handler: Handler) -> None:
        """Call handler(frames) for each message arriving on a SUB or PULL-like role."""
        sock = self.socket(role)

        def drain(s: zmq.Socket, ready: bool = False) -> None:
            for _ in range(REQUEST_DRAIN):
                frames = _recv_ready(s, ready)
                if frames is None:
                    return
                ready = False
                self._guard(lambda: handler(frames), self._errors_handler, role)
                self._handled()

        self._handlers[sock] = drain
        self.poller.register(sock, zmq.POLLIN)

    def on_request(self, role: str, handler: RequestHandler) -> None:
        """Serve a REP role: every request gets exactly one envelope reply, even if handler raises."""
        sock = self.socket(role)

        def serve(s: zmq.Socket, ready: bool = False) -> None:
            for _ in range(REQUEST_DRAIN):
                frames = _recv_ready(s, ready)
                if frames is None:
                    return
                ready = False
                reply: dict[str, Any] | bytes
                try:
                    reply = handler(frames)
                except Exception as exc:  # the reply must still go out
                    self._errors_handler.inc()
                    self.log.error("handler_error", socket=role, error=repr(exc), trace=traceback.format_exc(limit=3))
                    reply = error_envelope(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
                try:
                    frame = reply if type(reply) is bytes else self.encode_reply(reply)
                except (TypeError, ValueError) as exc:
                    frame = self._unencodable(role, exc)
                send_one(s, frame)
                self._handled()

        self._handlers[sock] = serve
        self.poller.register(sock, zmq.POLLIN)

    def on_requests_batch(self, role: str, handler: BatchHandler, max_batch: int = REQUEST_DRAIN,
                          shedding: Shedding | None = None) -> None:
        """Serve a ROUTER role in batches: the requests waiting now (up to max_batch) go to one
        handler(bodies, read_at) call, and each gets exactly one envelope reply on its routing envelope, even if
        handler raises. A body is the request's frames after the envelope (REQ and DEALER clients alike); read_at
        holds the time.perf_counter() at which each was read off the socket.

        Isolation: when handler raises for a batch, each request of it is handled again alone, so an
        exception reaches only the request whose own call raises (internal_error); the others get their
        own answers. A batch handler must therefore be safe to run twice for a request (the gate is:
        a plan_id's decision is recorded once, and a second run replays it).

        shedding: see Shedding; without it requests wait in the socket's queue (bounded by its hwm)."""
        sock = self.socket(role)
        backlog: deque | None = None
        if shedding is not None:
            backlog = self._backlogs[sock] = deque()
            if shedding.stopping_reply is not None:
                self._stopping_replies[sock] = shedding

        def serve(s: zmq.Socket, ready: bool = False) -> None:
            for _ in range(BATCHES_PER_TURN):
                if self._stopping:  # asked to stop during a batch: what waits is answered at stop, not decided
                    return
                envelopes: list[Frames] = []
                bodies: list[Frames] = []
                read_at: list[float] = []
                if backlog is None:
                    now = time.perf_counter()
                    while len(bodies) < max_batch:
                        frames = _recv_ready(s, ready, routed=True)
                        if frames is None:
                            break
                        ready = False
                        envelope, body = _split_envelope(frames)
                        envelopes.append(envelope)
                        bodies.append(body)
                        read_at.append(now)
                else:
                    self._take_batch(role, s, backlog, shedding, max_batch, envelopes, bodies, read_at, ready)
                ready = False
                if not bodies:
                    return
                replies = self._run_batch(role, handler, bodies, read_at)
                if isinstance(replies, dict):  # the batch raised: each request alone, so only its own fault reaches it
                    replies = [replies] if len(bodies) == 1 else self._run_again_alone(role, handler, bodies, read_at)
                for envelope, reply in zip(envelopes, replies):
                    try:
                        envelope.append(reply if type(reply) is bytes else self.encode_reply(reply))
                    except (TypeError, ValueError) as exc:  # NaN, a non-JSON value: the loop must go on
                        envelope.append(self._unencodable(role, exc))
                    try:
                        send_frames(s, envelope)
                    except zmq.ZMQError as exc:  # not reading (its queue is full) or gone: drop as REP would
                        self._reply_dropped(role, exc)
                if len(bodies) < max_batch and not backlog:
                    return

        self._handlers[sock] = serve
        self.poller.register(sock, zmq.POLLIN)

    def _unencodable(self, role: str, exc: Exception) -> bytes:
        """The internal_error envelope for a reply JSON cannot encode (counted and logged as a handler error)."""
        self._errors_handler.inc()
        self.log.error("handler_error", socket=role, error=f"unencodable reply: {exc!r}")
        return encode(error_envelope(INTERNAL_ERROR, f"the reply could not be encoded: {type(exc).__name__}: {exc}"))

    def _reply_dropped(self, role: str, exc: zmq.ZMQError) -> None:
        """Count and log a reply a ROUTER could not send (log_throttled: `dropped=` the drops each line counts)."""
        reason = "client_not_reading" if isinstance(exc, zmq.Again) else (
            "client_gone" if exc.errno == zmq.EHOSTUNREACH else "send_error")
        REPLIES_DROPPED.labels(actor=self.name, reason=reason).inc()
        self.log_throttled("warning", "reply_dropped", (role, reason), "dropped", socket=role, reason=reason,
                           error=str(exc))

    def log_throttled(self, level: str, event: str, key: Any = None, count_field: str = "repeated",
                      **fields: Any) -> None:
        """Log an event that can come with every request (a fault every proposal meets, a client repeating one
        mistake): the first of a quiet spell at once, then one line a second per (event, key) while it goes on,
        with the latest occurrence's fields and `count_field=` the occurrences since the line before. `key` comes
        from a small fixed set (a reason, a socket), never from a client's text: each spell is kept until it ends."""
        spell = (event, key)
        pending = self._throttled.get(spell)
        if pending is not None:
            pending[0] += 1
            pending[1] = fields
            return
        getattr(self.log, level)(event, **fields, **{count_field: 1})
        pending = self._throttled[spell] = [0, fields, level, count_field]
        self.after(THROTTLED_LOG_S, lambda: self._log_throttled_since(spell, pending), name="throttled_log")

    def _log_throttled_since(self, spell: tuple[str, Any], pending: list) -> None:
        """A second after a throttled line: log the occurrences since (and wait another second), or end the spell."""
        if self._throttled.get(spell) is not pending:
            return  # ended early (end_throttled), maybe followed by a spell of its own
        count, fields, level, count_field = pending
        if not count:
            del self._throttled[spell]
            return
        getattr(self.log, level)(spell[0], **fields, **{count_field: count})
        pending[0] = 0
        self.after(THROTTLED_LOG_S, lambda: self._log_throttled_since(spell, pending), name="throttled_log")

    def end_throttled(self, event: str | None = None) -> None:
        """End the spells of `event` (of every event: None) now, logging the occurrences no line has counted yet:
        before the line saying that an outage ended, or when the actor stops, none comes after it or is lost."""
        for spell in [spell for spell in self._throttled if event is None or spell[0] == event]:
            count, fields, level, count_field = self._throttled.pop(spell)
            if count:
                getattr(self.log, level)(spell[0], **fields, **{count_field: count})

    def _take_batch(self, role: str, s: zmq.Socket, backlog: deque, shedding: Shedding, max_batch: int,
                    envelopes: list[Frames], bodies: list[Frames], read_at: list[float], ready: bool = False) -> None:
        """Answer overloaded the requests that waited too long (first, so that they never make a new one find
        the backlog full), read what waits on the socket into the backlog (a request that finds max_depth waiting
        behind the next batch is answered overloaded), then take the next batch from its head, with the time each
        was read. ready: the
        loop's poll has just found the socket readable (_recv_ready)."""
        shed: list[Frames] = []
        now = time.perf_counter()
        oldest = now - shedding.max_age_s
        while backlog and backlog[0][2] < oldest:
            shed.append(backlog.popleft()[0])
        for _ in range(SHED_READS_PER_TURN):
            frames = _recv_ready(s, ready, routed=True)
            if frames is None:
                break
            ready = False
            envelope, body = _split_envelope(frames)
            if len(backlog) >= shedding.max_depth + max_batch:  # the batch taken below waits for nothing
                shed.append(envelope)
            else:
                backlog.append((envelope, body, now))
        while backlog and len(bodies) < max_batch:  # none waited too long: the oldest were shed above
            envelope, body, at = backlog.popleft()
            envelopes.append(envelope)
            bodies.append(body)
            read_at.append(at)
        if shed:
            for envelope in shed:
                try:
                    send_frames(s, [*envelope, shedding.reply])
                except zmq.ZMQError as exc:  # not reading or gone: dropped, as any reply would be
                    self._reply_dropped(role, exc)
            shedding.on_shed(len(shed))

    def _answer_waiting_requests(self) -> None:
        """On stopping: answer Shedding.stopping_reply to every request still waiting in the actor's queue or in the
        socket's (read now until it stays empty STOP_READS_QUIET_MS, at most STOP_READS_MAX in STOP_READS_S), so none
        is left without a reply; the socket then closes with STOP_REPLIES_LINGER_MS, long enough for libzmq to send
        them."""
        for sock, shedding in self._stopping_replies.items():
            envelopes = [envelope for envelope, _, _ in self._backlogs.get(sock, ())]
            reads_end = time.monotonic() + STOP_READS_S
            for _ in range(STOP_READS_MAX):
                frames = _recv_ready(sock, routed=True)
                if frames is None:
                    wait_ms = min(STOP_READS_QUIET_MS, (reads_end - time.monotonic()) * 1000)
                    if wait_ms > 0 and not sock.closed and sock.poll(wait_ms, zmq.POLLIN):
                        continue
                    break
                envelopes.append(_split_envelope(frames)[0])
                if time.monotonic() >= reads_end:
                    break
            for envelope in envelopes:
                try:
                    send_frames(sock, [*envelope, shedding.stopping_reply])
                except zmq.ZMQError as exc:  # not reading or gone: dropped, as any reply would be
                    self._reply_dropped(next((r for r, s in self.sockets.items() if s is sock), "?"), exc)
            if envelopes:
                shedding.on_shed(len(envelopes))

    def _run_again_alone(self, role: str, handler: BatchHandler, bodies: list[Frames],
                         read_at: list[float]) -> "list[dict[str, Any] | bytes]":
        """The replies to a batch whose handler raised, each request handled again alone (handling_again True)."""
        self.handling_again = True
        try:
            return [one[0] if isinstance(one, list) else one
                    for one in (self._run_batch(role, handler, [body], [at]) for body, at in zip(bodies, read_at))]
        finally:
            self.handling_again = False

    def _run_batch(self, role: str, handler: BatchHandler, bodies: list[Frames],
                   read_at: list[float]) -> "list[dict[str, Any] | bytes] | dict[str, Any]":
        """handler's replies to bodies, or, when it raises, the internal_error envelope (counted, logged)."""
        try:
            replies = handler(bodies, read_at)
            if len(replies) != len(bodies):
                raise RuntimeError(f"handler gave {len(replies)} replies to {len(bodies)} requests")
            return replies
        except Exception as exc:  # the replies must still go out
            self._errors_handler.inc()
            self.log.error("handler_error", socket=role, error=repr(exc), trace=traceback.format_exc(limit=3))
            return error_envelope(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")

    # ----------------------------------------------------------------- timers

    def every(self, interval_s: float, callback: Callable[[], None], *, first_after_s: float | None = None,
              name: str = "") -> _Timer:
        """Run callback every interval_s seconds (first after first_after_s, default one interval)."""
        delay = interval_s if first_after_s is None else first_after_s
        timer = _Timer(time.monotonic() + delay, next(self._seq), interval_s, callback, name or callback.__name__)
        heapq.heappush(self._timers, timer)
        return timer

    def after(self, delay_s: float, callback: Callable[[], None], *, name: str = "") -> _Timer:
        """Run callback once, delay_s seconds from now (cancel with timer.cancelled = True)."""
        timer = _Timer(time.monotonic() + delay_s, next(self._seq), 0.0, callback, name or callback.__name__)
        heapq.heappush(self._timers, timer)
        return timer

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0].due <= now:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._guard(timer.callback, self._errors_timer, timer.name)
            if timer.interval_s <= 0:  # once (after())
                continue
            # Next run is scheduled on the grid, skipping slots missed while busy.
            timer.due += timer.interval_s
            if timer.due <= now:
                timer.due = now + timer.interval_s - ((now - timer.due) % timer.interval_s)
            heapq.heappush(self._timers, timer)

    # ----------------------------------------------------------------- lifecycle

    def set_ready(self, ready: bool) -> None:
        self._ready_flag = bool(ready)

    @property
    def is_ready(self) -> bool:
        """The actor's own verdict (set_ready), whatever its loop's age."""
        return self._ready_flag

    def loop_age_s(self) -> float:
        """Seconds since the main loop last completed a turn or handled a message (_handled), 0 before it starts
        (read by the scrape thread)."""
        return max(0.0, time.monotonic() - self._loop_turned)

    def exported_ready(self) -> float:
        """clustergate_actor_ready, computed when scraped: loop_ready of the actor's verdict and its loop's age."""
        return 1.0 if loop_ready(self._ready_flag, self.loop_age_s(), self._stall_limit_s) else 0.0

    def setup(self) -> None:
        """Open sockets, register handlers and timers. Override."""

    def teardown(self) -> None:
        """Release what setup acquired besides sockets. Override."""

    def stop(self) -> None:
        self._stopping = True

    def _guard(self, fn: Callable[[], None], counter: Any, where: str) -> None:
        try:
            fn()
        except Exception as exc:
            counter.inc()
            self.log.error("handler_error", where=where, error=repr(exc), trace=traceback.format_exc(limit=3))

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        signal.signal(signal.SIGCONT, self._was_continued)  # a stall that was a stop (SIGSTOP, Ctrl-Z) says so
        self._watch_signals()
        # The actor lives no longer than its supervisor (supervisord): SIGTERM when it dies, even by
        # SIGKILL, and a check of the parent in the loop.
        parent = die_with_parent(signal.SIGTERM)
        STARTED.labels(actor=self.name, kind=self.kind).set(time.time())
        LOOP_STARTED.labels(actor=self.name, kind=self.kind).set(0)
        metrics_url = f"http://{self.spec.host}:{self.spec.metrics_port}/metrics"
        try:
            self._metrics_server = start_metrics_server(self.spec.metrics_port, self.spec.host)
        except OSError as exc:
            hint = low_port_hint(self.spec.metrics_port) if exc.errno == errno.EACCES else ""
            self.log.error("start_failed", socket="metrics", endpoint=metrics_url, error=(exc.strerror or str(exc)) + hint)
            return EXIT_START_FAILED
        self.log.info("starting", kind=self.kind, metrics=metrics_url)
        started = False
        try:
            try:
                self.setup()
            except StartError as exc:
                self.log.error("start_failed", socket=exc.socket, endpoint=exc.endpoint, error=exc.reason)
                return EXIT_START_FAILED
            except Exception as exc:
                self.log.error("start_failed", socket="-", endpoint="-", error=repr(exc),
                               trace=traceback.format_exc(limit=3))
                return EXIT_START_FAILED
            started = True
            # What setup built lives as long as the process: keep it out of every later collection,
            # so a full collection scans only what handlers allocate (bench_gate, 1,000/s open loop,
            # 3 runs each: p99.9 4.4-15 ms without, 2.6-3.4 ms with; max 6-34 ms without, 5-6.5 ms with).
            gc.collect()
            gc.freeze()
            profile_dir = os.environ.get(PROFILE_ENV)
            if profile_dir:
                self._profiled_loop(parent, profile_dir)
            else:
                self._loop(parent)
        finally:
            self.set_ready(False)
            self._guard(self._answer_waiting_requests, self._errors_timer, "stopping_replies")
            self._guard(self.end_throttled, self._errors_timer, "throttled_log")
            self._guard(self.teardown, self._errors_timer, "teardown")
            for role, sock in list(self.sockets.items()):
                self._close(role, sock)
            if self._authenticator is not None:
                self._authenticator.stop()
            self.ctx.term()
            self._shutdown_metrics()
            self._unwatch_signals()
            if started:
                self.log.info("stopped")
        return 0

    def _watch_signals(self) -> None:
        """Every signal handled here writes a byte on a pipe from its C-level handler, at once (signal.set_wakeup_fd),
        while its Python handler runs only once the main thread is back in the interpreter: a wait a stop must cut
        watches that pipe (wait_or_stop)."""
        self._wakeup_fds = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._wakeup_fds[1], warn_on_full_buffer=False)

    def _unwatch_signals(self) -> None:
        if self._wakeup_fds is not None:
            signal.set_wakeup_fd(-1)
            for fd in self._wakeup_fds:
                os.close(fd)
            self._wakeup_fds = None

    def wait_or_stop(self, sock: zmq.Socket, event: int, timeout_ms: int) -> bool:
        """Whether sock is ready for `event` (zmq.POLLIN, zmq.POLLOUT) within timeout_ms; False once the actor is
        stopping. A SIGTERM cuts the wait wherever it lands: on the main thread after its last check for signals and
        before the poll's system call (microseconds, more on a loaded machine that preempts it there), or on another
        thread, its Python handler ran only once a wait on the socket alone had ended (a permit_timeout_ms of up to
        60 s); its byte on the wakeup pipe ends this one, and the handler runs as the poll returns."""
        return self._wait_waking_on_signals(sock, event, timeout_ms / 1000.0, until_stopping=True)

    def wait_readable(self, sock: socket.socket, timeout_s: float) -> bool:
        """Whether a plain socket (a Redis connection: RespClient.wait_readable) is readable within timeout_s, the
        wait returned by every signal as wait_or_stop's is, so a handler that raises into a wait it cuts (the gate's
        StopWaiting) does so from here; other signals only wake it."""
        return self._wait_waking_on_signals(sock, zmq.POLLIN, timeout_s, until_stopping=False)

    def _wait_waking_on_signals(self, sock: Any, event: int, timeout_s: float, until_stopping: bool) -> bool:
        # Once per decision on the gate's path (its issuer's reply): the first turn takes timeout_s as it is, the
        # clock is read again only after a wake-up by a signal (issue 14: about 2,000 instructions fewer a wait).
        started = _monotonic()
        deadline = started + timeout_s
        polled = sock if isinstance(sock, zmq.Socket) else sock.fileno()  # zmq_poll returns a plain socket's fd
        wakeup = self._wakeup_fds
        items = [(polled, event)] if wakeup is None else [(polled, event), (wakeup[0], _POLLIN)]
        wait_ms = math.ceil(timeout_s * 1000.0)
        while not (until_stopping and self._stopping):
            if wait_ms <= 0:
                if self._continued_at >= started and event == _POLLIN:  # stopped (SIGSTOP) past it: what came
                    # meanwhile is read (CONTINUED_GRACE_MS), not taken for a timeout
                    return bool(_zmq_poll(items[:1], CONTINUED_GRACE_MS))
                return False
            ready = _zmq_poll(items, wait_ms)
            if ready:
                if ready[0][0] == polled:  # zmq_poll lists what is ready in the items' order: `polled` first
                    return True
                self._drain_wakeup_fd()  # a signal: its handler has run (the poll checks for signals as it returns)
            wait_ms = math.ceil((deadline - _monotonic()) * 1000.0)
        return False

    def _drain_wakeup_fd(self) -> None:
        try:
            while os.read(self._wakeup_fds[0], 512):
                pass
        except BlockingIOError:
            pass

    def _loop(self, parent: int) -> None:
        """The poll loop: sockets, the actor's own queues, timers, until stop() or the parent dies."""
        monotonic = time.monotonic
        parent_checked = self._loop_turned = monotonic()  # its first turn is timed from here, not from setup's start
        LOOP_STARTED.labels(actor=self.name, kind=self.kind).set(time.time())
        while not self._stopping:
            timeout_s = TICK_S
            if self._backlogs and any(self._backlogs.values()):
                timeout_s = 0.0  # requests wait in an actor's own queue: serve them this turn
            elif self._timers:
                timeout_s = max(0.0, min(TICK_S, self._timers[0].due - monotonic()))
            try:
                events = self.poller.poll(timeout_s * 1000) if self._handlers else _sleep(timeout_s)
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EINTR:
                    continue
                raise
            for sock, _ in events:
                handler = self._handlers.get(sock)
                if handler is not None:
                    handler(sock, True)  # this poll found it readable: its first read needs no poll of its own
            if self._backlogs:
                for sock, backlog in self._backlogs.items():
                    if backlog and not any(sock is e[0] for e in events):
                        handler = self._handlers.get(sock)
                        if handler is not None:
                            handler(sock)
            if self._timers and self._timers[0].due <= monotonic():
                self._run_due_timers()
            # The parent-death signal is the rule; this check backs it up once per TICK_S, not per turn
            # (a system call per message at 1,000/s). So are the socket monitors' reads (watch_connections) and the
            # check for a turn that took past the stall limit (longer than TICK_S: it always comes here), which the
            # scrape thread has exported not ready meanwhile.
            now = monotonic()
            if now - parent_checked >= TICK_S:
                parent_checked = now
                self._note_stall(now)
                if self._monitors:
                    self._read_monitors()
                if os.getppid() != parent:
                    self.log.warning("parent_died", parent=parent)
                    self.stop()
            self._loop_turned = now  # the one store a turn: the loop is alive (loop_age_s, exported_ready)

    def _handled(self) -> None:
        """A message handled (on_message, on_request): the loop goes on, stamped as a turn is. A turn serves up to
        REQUEST_DRAIN of them a socket, each of which may wait on Redis: a state writer's turn through 64 queued
        states in a slow Redis took 65 s, read as a stuck loop (loop_stalled) while it wrote them all."""
        now = time.monotonic()
        self._note_stall(now)
        self._loop_turned = now

    def _note_stall(self, now: float) -> None:
        """Log the stall when the last stamp is older than the stall limit (the loop is back)."""
        if now - self._loop_turned > self._stall_limit_s:
            self._loop_stalled(now - self._loop_turned, stopped=self._continued_at > self._loop_turned)

    def _loop_stalled(self, stalled_s: float, stopped: bool) -> None:
        """The loop is back after a turn longer than its stall limit (it was exported not ready meanwhile): one line,
        loop_stopped when the process was continued (SIGCONT) during that turn: it had been stopped whole (SIGSTOP,
        Ctrl-Z), its metrics thread too; else loop_stalled, a handler or timer that did not return."""
        if stopped:
            self.log.warning("loop_stopped", stopped_s=round(stalled_s, 1), limit_s=self._stall_limit_s,
                             detail="the process was stopped (SIGSTOP) and continued (SIGCONT): it answered nothing "
                                    "meanwhile, its metrics neither")
            return
        self.log.warning("loop_stalled", stalled_s=round(stalled_s, 1), limit_s=self._stall_limit_s,
                         detail="a handler or timer did not return for this long; the actor answered nothing meanwhile")

    def _was_continued(self, *_: Any) -> None:
        self._continued_at = time.monotonic()

    def _profiled_loop(self, parent: int, directory: str) -> None:
        """The poll loop under cProfile, timed in this thread's CPU time (not wall time, which on a loaded
        machine counts the waits for a core, nor the process's, which adds ZeroMQ's I/O thread to whatever
        call was running); the stats go to DIRECTORY/NAME.prof when it ends."""
        import cProfile
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        try:
            self._loop(parent)
        finally:
            profiler.disable()
            path = os.path.join(directory, f"{self.name}.prof")
            profiler.dump_stats(path)
            self.log.info("profile_written", path=path)

    def _shutdown_metrics(self) -> None:
        # The server thread is a daemon: closing the listening socket is enough, and unlike
        # shutdown() it does not wait up to half a second for the serve loop to notice.
        server = self._metrics_server
        if isinstance(server, tuple):
            server[0].server_close()


class _RequestDeadlineIO(socket.SocketIO):
    """A connection's reads, none waiting past `deadline` (time.monotonic())."""

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__(sock, "rb")
        self._deadline = deadline

    def readinto(self, b: Any) -> int | None:
        remaining_s = self._deadline - time.monotonic()
        if remaining_s <= 0:
            raise TimeoutError("the request did not arrive whole in time")
        self._sock.settimeout(remaining_s)
        return super().readinto(b)


class _ScrapeHandler(WSGIRequestHandler):
    """A /metrics request: its connection is closed unless the whole request arrives within SCRAPE_IDLE_TIMEOUT_S
    (a client sending a byte a second never idles, and held a slot for ever), or when it reads nothing of the reply for
    that long; no log line."""

    timeout = SCRAPE_IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # read through the request's deadline instead
        self.rfile = io.BufferedReader(_RequestDeadlineIO(self.connection, time.monotonic() + self.timeout))

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.connection.settimeout(self.timeout)  # the reply's writes: the idle timeout, not what the deadline left
        return parsed

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ScrapeServer(ThreadingMixIn, WSGIServer):
    """prometheus_client's server (a daemon thread per connection) serving at most MAX_SCRAPE_CONNECTIONS at once:
    another is closed at once."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog (socketserver's 5 dropped connections under a burst: SYN retries of 1 s, 3 s ...)

    def server_activate(self) -> None:
        super().server_activate()
        self.slots = threading.BoundedSemaphore(MAX_SCRAPE_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scrape that failed (timed out, reset): its connection is closed; not the actor's error."""


def start_metrics_server(port: int, host: str) -> tuple[WSGIServer, threading.Thread]:
    """Serve the Prometheus registry on host:port from a daemon thread, as prometheus_client's start_http_server
    does, with its connections bounded (_ScrapeServer, _ScrapeHandler). OSError when it cannot bind. `localhost` is
    127.0.0.1, as the topology, the launcher's bind check and its holder search read it (localhost_as_ipv4)."""
    host = localhost_as_ipv4(host)
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    server_class = type("ScrapeServer", (_ScrapeServer,), {"address_family": family})
    httpd = make_server(address[0], port, make_wsgi_app(), server_class, handler_class=_ScrapeHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True)
    with signals_left_to_the_main_thread():  # and so the threads it starts, one a scrape
        thread.start()
    return httpd, thread


class _CurveAllowlist:
    """pyzmq credentials provider for one CURVE server socket: its allowed client public keys.
    Each refusal is counted; the first refusal of each key (up to 100 keys) is logged, so an
    unknown client hammering the socket cannot flood the log."""

    MAX_LOGGED_KEYS = 100

    def __init__(self, allowed: frozenset[bytes], actor: str, role: str, log: EventLog):
        self.allowed = allowed
        self.role = role
        self.log = log
        self.denied = CURVE_DENIED.labels(actor=actor, socket=role)
        self.denied.inc(0)
        self._logged: set[bytes] = set()

    def callback(self, domain: str, client_key: bytes) -> bool:
        if client_key in self.allowed:
            return True
        self.denied.inc()
        if client_key not in self._logged and len(self._logged) < self.MAX_LOGGED_KEYS:
            self._logged.add(client_key)
            self.log.warning("curve_client_denied", socket=self.role, client_public_key=client_key.decode("ascii", "replace"))
        return False


# plain ints: IntFlag arithmetic runs Python code
_POLLIN, _NOBLOCK = int(zmq.POLLIN), int(zmq.NOBLOCK)
_monotonic = time.monotonic
_SNDMORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)
# The hot path calls pyzmq's compiled socket methods: its Python layer (zmq.sugar) turns every getsockopt
# into an enum and sends a multipart message through enum flag arithmetic, about half of a message's
# Python cost (issue 14: recv + send of a 3-frame ROUTER message, 18 us through it, 9-10 us without).
# No getsockopt at all on the receive path: the compiled get still looks its option up in pyzmq's enums
# (about 9,000 instructions a call, issue 14: 5 calls, 45,000 of a decision's 222,000 in the gate's main
# thread); zmq_poll asks libzmq for ZMQ_EVENTS in C, and a frame received as a Frame carries its `more`.
_zmq_recv, _zmq_send = _CompiledSocket.recv, _CompiledSocket.send


def _recv_ready(sock: zmq.Socket, ready: bool = False, routed: bool = False) -> list[bytes] | None:
    """The next waiting message (all its frames), or None when there is none or the socket cannot
    receive now (closed or re-opened by a handler, or a REQ socket whose handler already sent again).
    ready: the loop's poll has just found the socket readable (POLLIN, which a REQ awaiting its reply never
    is), so it is read without a poll of its own: one zmq_poll and one poll() system call fewer per wake-up
    (issue 14); a message gone meanwhile is zmq.Again, None as before. routed: a ROUTER's message, whose first
    frame (the peer's routing id) always has more after it, is read as bytes, not as a Frame (issue 14)."""
    if sock.closed or not (ready or _zmq_poll([(sock, _POLLIN)], 0)):
        return None
    try:
        frames = [_zmq_recv(sock, _NOBLOCK, True)] if routed else []
        frame = _zmq_recv(sock, _NOBLOCK, False)
    except zmq.Again:
        return None
    frames.append(frame.bytes)
    while frame.more:  # a message's frames arrive together: the rest are there
        frame = _zmq_recv(sock, _NOBLOCK, False)
        frames.append(frame.bytes)
    return frames


def send_frames(sock: zmq.Socket, frames: list[bytes]) -> None:
    """Send a multipart message without blocking (zmq.Again when the peer's queue is full; on a ROUTER,
    mandatory here, also a ZMQError EHOSTUNREACH when the peer is gone): what
    sock.send_multipart(frames, zmq.NOBLOCK) does, in compiled calls only."""
    last = len(frames) - 1
    for i in range(last):
        _zmq_send(sock, frames[i], _SNDMORE_NOBLOCK)
    _zmq_send(sock, frames[last], _NOBLOCK)


def _bind(role: str, sock: zmq.Socket, endpoint: str, rebind_wait_s: float) -> None:
    """sock.bind(endpoint); an endpoint that is taken is retried for rebind_wait_s (the actor's own closed socket
    of the role may hold it for a moment). ZeroMQ unlinks an existing ipc socket file and binds anew, taking it
    from its owner: a live one is refused here."""
    deadline = time.monotonic() + rebind_wait_s
    while True:
        taken = endpoint_problem_now(endpoint) if endpoint.startswith("ipc://") else None
        if not taken:
            try:
                sock.bind(endpoint)
                return
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
        elif time.monotonic() >= deadline:
            raise StartError(role, endpoint, taken)
        time.sleep(0.002)


def send_one(sock: zmq.Socket, frame: bytes, flags: int = 0) -> None:
    """sock.send(frame, flags), blocking as it does (REQ/REP) unless flags has NOBLOCK, in one compiled call."""
    _zmq_send(sock, frame, flags)


def _split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(routing envelope, body) of a message received on a ROUTER: the envelope runs up to and
    including the first empty frame (REQ clients, DEALER clients that send one), else it is the
    peer identity alone."""
    for i in range(1, len(frames)):
        if not frames[i]:
            return frames[:i + 1], frames[i + 1:]
    return frames[:1], frames[1:]


def _sleep(seconds: float) -> list:
    time.sleep(seconds)
    return []


# --------------------------------------------------------------------------- entry point


def main(actor_cls: type[Actor], argv: list[str] | None = None) -> None:
    """`python -m actors.<kind> --topology FILE --name NAME`; exits EXIT_BAD_INPUT, with
    EXIT_BAD_INPUT_LINE as its last output, when the topology or the actor's setup refuses its input."""
    try:
        _main(actor_cls, argv)
    except SystemExit as exc:
        if exc.code == EXIT_BAD_INPUT:
            sys.stdout.flush()
            print(EXIT_BAD_INPUT_LINE, file=sys.stderr, flush=True)
        raise


def raise_descriptor_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit. Every TCP connection to a bound socket holds a descriptor from
    accept, before any ZMTP handshake (CurveZMQ cannot refuse it sooner): at systemd's default soft limit of 1024,
    which supervisord's minfds leaves as it is, 1,100 idle connections took the gate's every descriptor, and it
    answered no proposal (nor a metrics scrape) while they were held. Nothing here uses select(), so descriptors
    past 1023 are safe."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft == hard:
        return
    target = hard
    if hard == resource.RLIM_INFINITY:  # the kernel refuses a soft limit past fs.nr_open
        try:
            with open("/proc/sys/fs/nr_open") as f:
                target = int(f.read())
        except (OSError, ValueError):
            return
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # refused: keep the soft limit
            pass


def _main(actor_cls: type[Actor], argv: list[str] | None) -> None:
    raise_descriptor_limit()
    parser = argparse.ArgumentParser(prog=f"python -m actors.{actor_cls.kind}")
    parser.add_argument("--topology", required=True, help="topology YAML file")
    parser.add_argument("--name", required=True, help="actor name in the topology")
    args = parser.parse_args(argv)
    try:
        topo, unread = load_to_run(args.topology)
    except SchemaError as exc:
        for p in exc.problems:
            print(p.render(args.topology), file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
    for p in unread:  # a rule added since `up` wrote the running copy: said at every start, never a stop
        print(f"{p.render(args.topology)} (`clustergate validate` refuses it; this actor does not read it and starts "
              f"without it: remove it, then `clustergate up`)", file=sys.stderr, flush=True)
    if args.name not in topo.actors:
        print(f"{args.topology}: actors.{args.name}: no such actor (have: {', '.join(topo.actors)})", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
    actor = actor_cls(topo, args.name)
    raise SystemExit(actor.run())
