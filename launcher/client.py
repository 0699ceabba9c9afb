"""The proposal client: `GateClient` for programs, `clustergate propose` for people.

Lazy Pirate (ZeroMQ guide): send on a REQ socket, poll with a timeout; on timeout close the socket
with linger 0, reopen it and resend the same request, plan_id included, so the gate returns the
first decision rather than a second permit. GateUnavailable is raised when no attempt was answered
within the budget below, and for a reply that is not a gate envelope; an interrupt gets a note naming
the plan_id.

The call's budget: (1 + retries) x endpoints x timeout_ms from the call's start, a hard bound: an attempt
waits min(timeout_ms, what is left of it), and propose() sends that attempt's `deadline_ms` = its send time
+ that wait (epoch ms: the call's start on the wall clock plus the monotonic time since, so a wall-clock step
during the call moves no deadline), so the gate answers `expired` (nothing decided or recorded) rather than deciding a
proposal after the client has stopped waiting for it (send_deadline=False, or --no-deadline, sends none).

Failover (Freelance, model 1 of the ZeroMQ guide; the exact rules, for clients in other languages, are in
docs/ha-gates-and-clients.md): one server is asked at a time; an attempt that times out, is answered
`overloaded` (nothing decided) or with a fault HOLD (`recorded` false: that gate could not record a
decision) moves on to the next endpoint (in the given order, wrapping), with the same plan_id, and so
does a reply that is not a gate envelope (not one frame of a JSON object, neither status ok with a decision nor status
error with a reason, or naming another plan_id: GateUnavailable
when every endpoint in a row sent one), and an `expired`
(this attempt was not decided: a gate whose clock runs ahead of ours answers every proposal so). `expired` is final
when every endpoint in a row answered it, unless an earlier attempt of the call may have been decided (it timed out,
or was answered garbage or a fault HOLD whose detail does not end with the gate's "nothing was recorded"): then it says only that this attempt was not decided, and counts as
`overloaded` does. When every endpoint in a row answered a fault HOLD, that reply is the answer; when every endpoint
in a row answered without a decision otherwise, the client backs off (OVERLOAD_BACKOFF_MS jittered, doubling up to
OVERLOAD_BACKOFF_MAX_MS) while the budget lasts. When the budget is spent the answer is the last attempt's:
GateUnavailable after a timeout, such an `expired`, or an `overloaded` when an earlier attempt may have been decided,
else its `overloaded` reply or fault HOLD. The next call
starts at the endpoint that gave a final answer, or after the last one asked. With one endpoint the behaviour is Lazy
Pirate: close the socket after a timeout (linger 0), reopen it and resend.

The rule for callers: retry with the same plan_id. A proposal the client gave up on may still have
been decided, with a permit; only the same plan_id gets that decision back (a new one could get a
second, even larger, permit). `GateUnavailable.plan_id` and every reply (`decision.plan_id`, or
`plan_id` in an error reply) carry the plan_id propose() used, including one it generated.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import zmq

from launcher.curve import Keypair, certificate_path, read_keypair, read_public_key
from launcher.stop_signals import interrupted_a_call_of

ACTIONS = ("HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED")
DEFAULT_TIMEOUT_MS = 2000
DEFAULT_RETRIES = 2
OVERLOAD_BACKOFF_MS = 20
# The longest single wait for a reply: a Ctrl-C that lands just before a long poll starts is only
# handled when that poll returns, so the wait is cut into slices this long.
POLL_SLICE_MS = 100
OVERLOAD_BACKOFF_MAX_MS = 500
# The backoff's jitter, from the system's entropy: the random module's shared generator, which callers seed
# (random.seed(0) in every worker), paused every client alike, in lockstep; one of the client's own, forked with its
# process, would do the same in a pool of workers.
_JITTER = random.SystemRandom()
# The longest attempt timeout: its deadline_ms (send time + timeout) stays below the gate's bound on deadline_ms
# (1e14 ms, the year 5138) for three thousand years.
MAX_TIMEOUT_MS = 10 ** 12
# `clustergate propose`'s exit on an answer with an unknown outcome (is_fault_hold: a decision the gate could not record,
# or its internal_error), also when the call then ended without a final answer (GateUnavailable.unknown_answer):
# `propose ... && act` must not take it for a policy HOLD (0) nor for a refusal or no answer (1), which it was before
# (exit 0 on any decision, 1 on internal_error, 1 when a timeout or a late `expired` followed it).
EXIT_FAULT_HOLD = 3
MAX_RETRIES = 1000  # a call's budget is (1 + retries) x endpoints x timeout_ms


def _wait_for_reply(sock: zmq.Socket, timeout_ms: int) -> bool:
    """True when a reply is waiting within timeout_ms; polls in POLL_SLICE_MS slices so that a signal
    (Ctrl-C) is handled within a slice, whenever it arrives."""
    deadline = time.monotonic() + timeout_ms / 1000.0
    while True:
        left_ms = (deadline - time.monotonic()) * 1000.0
        if left_ms <= 0:
            return False
        if sock.poll(min(POLL_SLICE_MS, max(1, int(left_ms))), zmq.POLLIN):
            return True


def is_overloaded(reply: dict[str, Any]) -> bool:
    """The gate shed the request unread: it was not decided (an earlier attempt of the call may have been)."""
    return reply.get("status") != "ok" and reply.get("reason") == "overloaded"


def is_expired(reply: dict[str, Any]) -> bool:
    """The attempt's deadline passed before the gate reached it: that attempt was not decided."""
    return reply.get("status") != "ok" and reply.get("reason") == "expired"


def is_fault_hold(reply: dict[str, Any]) -> bool:
    """An answer with an unknown outcome that another gate may settle for the same plan_id: a decision the
    gate could not record (`recorded` false: redis_unavailable, permit_unavailable, replica_unacknowledged),
    or the gate's own `internal_error` (it failed while deciding, possibly after its issuer recorded the
    decision: another gate replays that decision, or records one)."""
    if reply.get("status") != "ok":
        return reply.get("reason") == "internal_error"
    decision = reply.get("decision")
    return isinstance(decision, dict) and decision.get("recorded") is False


def _not_an_answer(reply: dict[str, Any], plan_id: str) -> str | None:
    """Why a JSON object is not the gate's answer to the proposal of plan_id, or None when it is: a gate envelope,
    `status` ok with a `decision` object for that plan_id, or `status` error with a `reason` (and, if it names
    one, that plan_id: an error such as `overloaded` names none)."""
    status = reply.get("status")
    if status == "ok":
        decision = reply.get("decision")
        if not isinstance(decision, dict):
            return "status ok without a decision object"
        named = decision.get("plan_id")
    elif status == "error":
        if not isinstance(reply.get("reason"), str):
            return "status error without a reason"
        named = plan_id if reply.get("plan_id") is None else reply["plan_id"]
    else:
        return f"neither status ok nor status error (status {status!r})"
    if named != plan_id:  # another request's (a reply sent twice)
        return f"an answer for plan_id {named!r}, not {plan_id!r}"
    return None


# The largest valid proposal as json.dumps writes it, deadline_ms included (docs/proposal-api.md, "Why 8192 bytes";
# tests/test_request_size_limit.py builds it): a larger one is invalid whatever it holds. GateClient measures what it
# sends (compact, each attempt's deadline_ms included), so it sends no more bytes than this.
LARGEST_VALID_PROPOSAL_BYTES = 2715
# propose()'s argument of each field of the request body, for an error naming what the caller passed.
_ARGUMENT_OF = {"action_proposed": "action"}


class NothingSent(ValueError):
    """propose() refused the proposal before anything was sent (a value JSON cannot hold, a proposal larger than any
    valid one): no gate saw it. Any other error of a call may come after the proposal was sent."""


def _refuse_before_sending(body: dict[str, Any], deadline_ms: int | None = None) -> None:
    """NothingSent naming the first argument of propose() whose value JSON cannot hold (a Decimal, bytes, a numpy
    float32), or the arguments over their own limits (validate_proposal's, field by field) of a proposal larger than
    any valid one, before anything is sent: raised from the
    attempt loop, json's TypeError named no field and got the note that the proposal may have been decided, while
    nothing had left the client and every retry failed alike; and a gate drops a request past its max_request_bytes
    unread, so a 9,000-character plan_id timed out on every attempt and ended in GateUnavailable, "retry with the
    same plan_id", a proposal no gate could ever decide. deadline_ms: the one each attempt adds (None: none sent),
    counted as sent: left out, a proposal measured at 2,715 bytes went out as 2,743, past a gate at that limit."""
    try:
        size = len(json.dumps(body, separators=(",", ":")))
    except (TypeError, ValueError, RecursionError):
        size = None
    if size is not None:
        if deadline_ms is not None:
            size += len(f',"deadline_ms":{deadline_ms}')
        if size <= LARGEST_VALID_PROPOSAL_BYTES:
            return
        # Named by the longest argument, a valid 128-character plan_id took the blame for a symbol of 1,200.
        faults = [f"its {_ARGUMENT_OF.get(field, field)} ({len(json.dumps(body[field])):,} of them: {problem})"
                  for field, problem in _problems_of_each_field(body)]
        raise NothingSent(f"the proposal is {size:,} bytes as JSON, more than any valid one ({LARGEST_VALID_PROPOSAL_BYTES:,}"
                          f" bytes: docs/proposal-api.md), "
                          f"{'; '.join(faults) if faults else 'each argument within its own limit, their total over it'}"
                          f": a gate refuses it (invalid_proposal), or drops it unanswered past its max_request_bytes; "
                          f"nothing was sent")
    for field, value in body.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            try:
                shown = f"{value!r:.60}"
            except ValueError:  # an int of more digits than Python writes (sys.get_int_max_str_digits)
                shown = f"an integer of {value.bit_length()} bits"
            raise NothingSent(f"{_ARGUMENT_OF.get(field, field)} must be a value JSON can hold (a str, int, float, bool "
                             f"or None, an int of at most {sys.get_int_max_str_digits()} digits), got {shown} of type "
                             f"{type(value).__name__}; nothing was sent") from None


def _problems_of_each_field(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, what is wrong) for each field of a proposal body that the gate refuses on its own (validate_proposal,
    each field beside valid others), in the body's order."""
    from actors.policy import BadRequest, validate_proposal  # only for a proposal refused before sending
    valid = {"plan_id": "p", "symbol": "S", "action_proposed": "HOLD"}
    problems = []
    for field, value in body.items():
        try:
            validate_proposal({**valid, field: value})
        except BadRequest as exc:
            problems.append((field, exc.detail))
    return problems


class GateUnavailable(RuntimeError):
    """The call ended without a final answer: outcome unknown. `plan_id`: the proposal's, to retry with (None for a raw
    request). `unknown_answer`: the last answer of the call whose outcome is unknown (a fault HOLD or internal_error,
    is_fault_hold) when a gate gave one before the call ended so, else None: a gate answered, and may have recorded a
    decision, though the call ended in a timeout, a late `expired` or an `overloaded`."""

    def __init__(self, message: str, plan_id: str | None = None, unknown_answer: dict[str, Any] | None = None):
        super().__init__(message)
        self.plan_id = plan_id
        self.unknown_answer = unknown_answer


def gate_endpoint_problem(endpoint: str) -> str | None:
    """Why a tcp endpoint a client connects reaches no gate (the topology's rule, on the gate's part of ZeroMQ's
    tcp://SOURCE;GATE form), or None; other transports are left to ZeroMQ's connect."""
    from launcher.topology import endpoint_problem
    if not endpoint.startswith("tcp://"):
        return None
    gate = "tcp://" + endpoint[len("tcp://"):].rpartition(";")[2]
    if gate.startswith("tcp://*:"):
        return "a client cannot connect to every interface (*): give the gate's address, e.g. tcp://127.0.0.1:PORT"
    return endpoint_problem(gate)


class GateClient:
    """One REQ connection at a time to a gate's `proposals` socket; not thread-safe.

    endpoint: one endpoint, or a list of every active gate's endpoints (Freelance failover, in that order).
    When the gate's socket uses CurveZMQ, pass the client's keypair and the gate's public key (one key for
    every endpoint, or a list aligned with the endpoints); a client whose key the gate does not allow gets
    no reply at all, so it ends in GateUnavailable.
    """

    def __init__(self, endpoint: str | list[str] | tuple[str, ...], *, timeout_ms: int = DEFAULT_TIMEOUT_MS, retries: int = DEFAULT_RETRIES,
                 context: zmq.Context | None = None, client_keypair: Keypair | None = None,
                 server_public_key: bytes | list[bytes] | tuple[bytes, ...] | None = None, send_deadline: bool = True):
        if (client_keypair is None) != (server_public_key is None):
            raise ValueError("CurveZMQ needs both the client keypair and the gate's public key")
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not timeout_ms >= 1:
            raise ValueError(f"timeout_ms must be at least 1 ms, got {timeout_ms!r}: a call's budget of 0 sends a "
                             f"proposal whose deadline has passed and waits for no reply")
        if not timeout_ms <= MAX_TIMEOUT_MS:
            raise ValueError(f"timeout_ms must be at most {MAX_TIMEOUT_MS} ms, got {timeout_ms!r}: each attempt sends "
                             f"its send time + timeout_ms as deadline_ms, and the gate refuses one past the year 5138")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
            raise ValueError(f"retries must be a whole number from 0 to {MAX_RETRIES}, got {retries!r}")
        self.endpoints = [endpoint] if isinstance(endpoint, str) else list(endpoint)
        if not self.endpoints:
            raise ValueError("GateClient needs at least one gate endpoint")
        if isinstance(server_public_key, (list, tuple)):
            server_public_key = list(server_public_key)  # one per endpoint, in order; a tuple is counted too
        if isinstance(server_public_key, list) and len(server_public_key) != len(self.endpoints):
            raise ValueError(f"{len(server_public_key)} gate public keys for {len(self.endpoints)} endpoints")
        self._own_context = context is None
        self.ctx = context or zmq.Context()
        self._check_endpoints()
        self._current = 0  # index of the endpoint asked first: the one that answered last
        self.moves = 0  # times the client moved to the next endpoint, over its life (a call failed over if it grew)
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.send_deadline = send_deadline
        self.client_keypair = client_keypair
        self.server_public_key = server_public_key
        self._sock: zmq.Socket | None = None

    @classmethod
    def from_topology(cls, path: str | Path, *, client_key: str | None = None,
                      server_key: str | list[str] | None = None, **kwargs: Any) -> "GateClient":
        """A client of every gate of the topology; client_key names a certificate (in the topology's keys_dir,
        or a path) the gates allow, server_key overrides the gates' public keys (one per gate, in order)."""
        curve = gate_curve(path, client_key, server_key)
        if curve is not None:
            kwargs.update(client_keypair=curve[0], server_public_key=curve[1])
        endpoints = gate_endpoints(path)
        return cls(endpoints if len(endpoints) > 1 else endpoints[0], **kwargs)

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            sock = self.ctx.socket(zmq.REQ)
            try:
                sock.setsockopt(zmq.LINGER, 0)
                if self.endpoint.startswith("tcp://["):  # without it an IPv6 address is never connected
                    sock.setsockopt(zmq.IPV6, 1)
                if self.client_keypair is not None:
                    sock.curve_secretkey = self.client_keypair.secret
                    sock.curve_publickey = self.client_keypair.public
                    key = self.server_public_key
                    sock.curve_serverkey = key[self._current] if isinstance(key, list) else key
                sock.connect(self.endpoint)
            except BaseException:
                # A socket left open (held by the traceback) makes close()'s ctx.term() wait for ever.
                sock.close(linger=0)
                raise
            self._sock = sock
        return self._sock

    def _check_endpoints(self) -> None:
        """Refuse, before anything is sent, an endpoint ZeroMQ cannot connect (no port, unknown transport), or a tcp one
        that can reach no gate (a port past 65535): met only at failover, it ended a call whose proposal another gate may
        already have decided."""
        probe = self.ctx.socket(zmq.REQ)
        try:
            probe.setsockopt(zmq.LINGER, 0)
            probe.setsockopt(zmq.IMMEDIATE, 1)
            for endpoint in self.endpoints:
                if problem := gate_endpoint_problem(endpoint):  # ZeroMQ connects these (port 99999), reaching no gate
                    raise ValueError(f"gate endpoint {endpoint!r}: {problem}")
                try:
                    probe.connect(endpoint)
                except zmq.ZMQError as exc:
                    raise ValueError(f"gate endpoint {endpoint!r}: {exc}") from None
        except BaseException:
            probe.close(linger=0)
            if self._own_context:
                self.ctx.term()
            raise
        probe.close(linger=0)

    @property
    def endpoint(self) -> str:
        """The endpoint asked next."""
        return self.endpoints[self._current]

    def _where(self) -> str:
        if len(self.endpoints) == 1:
            return f"the gate at {self.endpoints[0]}"
        return f"any of the gates at {', '.join(self.endpoints)}"

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def _next_server(self) -> None:
        """Close this server's socket (linger 0) and ask the next endpoint, wrapping (Freelance model 1)."""
        self._reset()
        self._current = (self._current + 1) % len(self.endpoints)
        self.moves += len(self.endpoints) > 1  # with one endpoint: the same server again (Lazy Pirate)

    def _attempts(self) -> int:
        return (1 + self.retries) * len(self.endpoints)

    def request_raw(self, payload: bytes | list[bytes]) -> dict[str, Any]:
        """Send one (possibly multipart) payload with Lazy Pirate retries; return the decoded reply."""
        frames = payload if isinstance(payload, list) else [payload]
        attempts = self._attempts()
        for _ in range(attempts):
            sock = self._socket()
            try:
                sock.send_multipart(frames)
                if _wait_for_reply(sock, self.timeout_ms):
                    return json.loads(sock.recv_multipart()[0])  # every frame read: the socket can send again
            except BaseException:
                # Interrupted between send and recv (KeyboardInterrupt, a bad reply...): a REQ socket
                # still waiting for its reply refuses every later send, so start the next call afresh.
                self._reset()
                raise
            self._next_server()
        raise GateUnavailable(f"no reply from {self._where()} after {attempts} attempts "
                              f"of {self.timeout_ms} ms")

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request_raw(json.dumps(body, separators=(",", ":")).encode())

    def _propose_attempts(self, body: dict[str, Any], faults_seen: list[dict[str, Any]]) -> dict[str, Any]:
        """The client rules of docs/ha-gates-and-clients.md (rules 3-9), one server at a time, within the call's
        budget of (1 + retries) x servers x timeout_ms: no attempt or pause lasts past it, and an attempt's
        deadline_ms is when it stops waiting. A timeout, `overloaded`, a fault HOLD or a reply that is not a gate
        envelope moves to the next server; `servers` answers in a row without a decision end the call when all
        were fault HOLDs (that reply) or all garbage (GateUnavailable), else back off. Each fault HOLD (or
        internal_error) answered is appended to faults_seen."""
        servers = len(self.endpoints)
        budget_ms = self._attempts() * self.timeout_ms
        start = time.monotonic()
        budget_end = start + budget_ms / 1000.0
        # The call's epoch time runs on the monotonic clock from its start: a wall-clock step during the
        # call moves no attempt's deadline_ms (an hour ahead, a gate would decide long after we stopped waiting).
        start_epoch_ms = time.time() * 1000.0
        backoff_ms = float(OVERLOAD_BACKOFF_MS)
        timeouts = garbled = unread = 0  # garbled: replies in a row that were not a gate envelope; unread: `expired`
        streak = faults = 0  # answers in a row without a decision (overloaded or fault HOLD); fault HOLDs in a row
        # An earlier attempt may have been decided (a timeout, a fault HOLD not saying nothing was recorded, garbage):
        # then an `expired` says only that this attempt was not, so it is no final answer (the plan_id may hold a
        # decision with a permit).
        maybe_decided = False
        while True:
            wait_ms = min(float(self.timeout_ms), (budget_end - time.monotonic()) * 1000.0)
            if self.send_deadline:
                body["deadline_ms"] = int(start_epoch_ms + (time.monotonic() - start) * 1000.0 + wait_ms)
            sock = self._socket()
            try:
                sock.send(json.dumps(body, separators=(",", ":")).encode())
                # Every frame: a REQ socket that has read only part of a reply refuses the next send.
                frames = sock.recv_multipart() if _wait_for_reply(sock, wait_ms) else None
            except BaseException:
                self._reset()  # a REQ socket still waiting for its reply refuses every later send
                raise
            reply = garbage = None
            if frames is not None:
                try:
                    if len(frames) != 1:
                        raise ValueError(f"a reply of {len(frames)} frames")
                    reply = json.loads(frames[0])
                    if not isinstance(reply, dict):
                        raise ValueError(f"a JSON {type(reply).__name__}, not an object")
                    problem = _not_an_answer(reply, body["plan_id"])
                    if problem:
                        raise ValueError(problem)
                except (ValueError, RecursionError) as exc:  # not a gate (another service, a broken one): ask the next
                    reply, garbage = None, f"the reply from {self.endpoint} ({exc})"
                    self._reset()  # whatever else it sends must not be read as the answer to a later request
            if reply is None and garbage is None:
                self._next_server()
                timeouts += 1
                maybe_decided = True
                streak = faults = garbled = unread = 0
                if time.monotonic() >= budget_end:
                    what = "no final answer from" if faults_seen else "no reply from"  # a fault HOLD is a reply
                    raise GateUnavailable(f"{what} {self._where()} after {timeouts} attempts of up to "
                                          f"{self.timeout_ms} ms timed out (the call's budget: {budget_ms} ms)")
                continue
            fault = garbage is None and is_fault_hold(reply)
            if fault:
                faults_seen.append(reply)  # type: ignore[arg-type]
            expired = garbage is None and is_expired(reply)
            late = expired and maybe_decided
            # A fault HOLD's "nothing was recorded" is this attempt's alone: after one that may have been decided (the
            # plan_id may hold a decision and its permit), returned, it read as the call's answer.
            unsettled = fault and maybe_decided and _says_nothing_recorded(reply)  # type: ignore[arg-type]
            if garbage is None and not fault and not expired and not is_overloaded(reply):
                return reply
            answered_by = self.endpoint
            # Not a decision (overloaded, a fault HOLD, garbage or expired): it counts in the streak, so backoff applies.
            # A fault HOLD whose attempt recorded nothing (its detail says so) leaves the call as undecided as it was.
            maybe_decided = maybe_decided or (fault and not _says_nothing_recorded(reply)) or garbage is not None  # type: ignore[arg-type]
            streak += 1
            faults = faults + 1 if fault else 0
            garbled = garbled + 1 if garbage is not None else 0
            # `expired` with nothing of the call possibly decided: final when every server in a row says so (one
            # gate's clock running ahead of ours must not keep the call, and every later one, from the others).
            unread = unread + 1 if expired and not late else 0

            def end() -> dict[str, Any]:
                if garbage is not None:
                    raise ValueError(garbage)
                if late:
                    raise GateUnavailable(f"{answered_by} answered expired (the attempt's deadline passed before "
                                          f"the gate reached it) after an earlier attempt that may have been decided: "
                                          f"outcome unknown (the call's budget: {budget_ms} ms)")
                if unsettled:
                    raise GateUnavailable(f"{answered_by} answered {fault_reason(reply)} (this attempt recorded "  # type: ignore[arg-type]
                                          f"nothing) after an earlier attempt that may have been decided: outcome "
                                          f"unknown (the call's budget: {budget_ms} ms)")
                if maybe_decided and is_overloaded(reply):  # type: ignore[arg-type]
                    # Its "nothing was recorded" is this attempt's alone: returned, it read as the call's answer.
                    raise GateUnavailable(f"{answered_by} answered overloaded (this attempt was not decided) after an "
                                          f"earlier attempt that may have been decided: outcome unknown (the call's "
                                          f"budget: {budget_ms} ms)")
                return reply  # type: ignore[return-value]
            if servers > 1:
                self._next_server()
            if faults >= servers or garbled >= servers or unread >= servers or time.monotonic() >= budget_end:
                return end()
            if streak < servers:  # another gate may decide it: ask it at once
                continue
            streak = faults = garbled = unread = 0
            pause_s = _JITTER.uniform(0.5, 1.0) * backoff_ms / 1000.0
            if time.monotonic() + pause_s >= budget_end:
                return end()
            time.sleep(pause_s)
            backoff_ms = min(backoff_ms * 2, OVERLOAD_BACKOFF_MAX_MS)
            if time.monotonic() >= budget_end:  # the sleep overran what was left
                return end()

    def propose(self, symbol: str, action: str, kill_score: float = 0.0, plan_id: str | None = None,
                r_net: float | None = None, ts_epoch: float | None = None) -> dict[str, Any]:
        """Submit one exit proposal; the reply envelope ({"status": "ok", "decision": {...}} or an error
        carrying `plan_id`). Without plan_id a new uuid4 hex is used; it is in the reply and in
        GateUnavailable.plan_id: retry with it, never with a new one.

        A fault HOLD (`recorded` false, reason redis_unavailable, permit_unavailable or
        replica_unacknowledged) is returned when every endpoint in a row answered one, or the budget ran out
        after it; it may hide a decision Redis recorded after the gate gave up (or that no replica
        acknowledged yet): its `detail` says so, and resubmitting the same plan_id
        returns that decision, if one was made. Reusing a plan_id for another proposal gives the error
        plan_id_conflict; resubmitting one that got a permit after its decision expired (the issuer's
        decision_ttl_s) or was removed gives the error plan_id_expired (no decision, no permit: a new plan_id is needed). A returned `expired` (the attempts' deadlines passed before the gates reached them; each
        endpoint in a row is asked) means no attempt of this call was decided (an earlier call with the plan_id may have been: resend it to get that
        decision); after an attempt that may have been decided (a timeout, a fault HOLD whose detail does not say
        nothing was recorded, a reply that is no gate envelope) `expired` is no answer: the
        client asks again, and raises GateUnavailable when the budget runs out. `overloaded` (still, after backing
        off for the call's budget) means no attempt of this call was decided; after one that may have been (as
        above) the call raises GateUnavailable instead: outcome unknown; and so for a fault HOLD
        whose detail says nothing was recorded (true of its own attempt alone)."""
        for name, number in (("kill_score", kill_score), ("r_net", r_net), ("ts_epoch", ts_epoch)):
            if isinstance(number, float) and not math.isfinite(number):  # NaN and Infinity are not JSON
                raise NothingSent(f"{name} must be a finite number, got {number!r}: nothing was sent")
        plan_id = uuid.uuid4().hex if plan_id is None else plan_id  # "" goes to the gate, which refuses it
        body: dict[str, Any] = {"plan_id": plan_id, "symbol": symbol, "action_proposed": action,
                                "kill_score": kill_score}
        if r_net is not None:
            body["r_net"] = r_net
        if ts_epoch is not None:
            body["ts_epoch"] = ts_epoch
        # Each attempt's deadline_ms is its send time + its wait (at most timeout_ms): as many digits as this one.
        _refuse_before_sending(body, int(time.time() * 1000.0 + self.timeout_ms) if self.send_deadline else None)
        faults_seen: list[dict[str, Any]] = []
        try:
            reply = self._propose_attempts(body, faults_seen)
        except GateUnavailable as exc:
            raise GateUnavailable(f"{exc}{_after_a_fault(faults_seen)} (plan_id {plan_id}: retry with the same plan_id)",
                                  plan_id, faults_seen[-1] if faults_seen else None) from None
        except ValueError as exc:  # not the gate's envelope: no usable answer
            raise GateUnavailable(f"{str(exc)[:160]} is not a gate envelope{_after_a_fault(faults_seen)} "
                                  f"(plan_id {plan_id}: retry with the same plan_id)", plan_id,
                                  faults_seen[-1] if faults_seen else None) from None
        except BaseException as exc:  # interrupted while the proposal may be decided
            exc.add_note(f"plan_id {plan_id}: it may have been decided; retry with the same plan_id")
            raise
        if reply.get("status") != "ok":
            reply.setdefault("plan_id", plan_id)
        return reply

    def close(self) -> None:
        self._reset()
        if self._own_context:
            self.ctx.term()

    def __enter__(self) -> "GateClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def default_topology_path(args: argparse.Namespace | None = None) -> Path:
    """The home's run/topology.yaml (--home, $CLUSTERGATE_HOME, else the repo root) when it exists, else
    configs/demo.yaml: every command resolves the home the same way (launcher.supervise.home_from)."""
    from launcher.supervise import running_topology_path
    demo = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"
    return running_topology_path(args or argparse.Namespace(), fallback=demo)


def gate_endpoint(topology_path: str | Path) -> str:
    """The endpoint a client connects to: the bind endpoint of the (first) gate's `proposals` socket."""
    return gate_endpoints(topology_path)[0]


def gate_endpoints(topology_path: str | Path) -> list[str]:
    """Every gate's proposals endpoint, in the topology's order: the Freelance client's server list."""
    from launcher.topology import load_to_run
    topo = load_to_run(str(topology_path))[0]  # the gates that run, whatever validate now says of a key none reads
    gates = topo.actors_of_kind("gate")
    if not gates:
        raise ValueError(f"{topology_path}: no actor of kind gate")
    endpoints = []
    for gate in gates:
        sock = topo.actor(gate).sockets["proposals"]
        endpoints.append((sock.bind or sock.connect or "").replace("tcp://0.0.0.0:", "tcp://127.0.0.1:"))
    return endpoints


def gate_curve(topology_path: str | Path, client_key: str | None,
               server_key: str | list[str] | None = None) -> tuple[Keypair, bytes | list[bytes]] | None:
    """The client keypair and gate public key for the topology's gate (a list, one per gate in
    gate_endpoints' order, when it has several gates), or None when its proposals socket does not use
    CurveZMQ. server_key overrides the gates' public keys: one per gate, in the same order (each gate
    has its own keypair). Names resolve in the topology's keys_dir; paths against the cwd."""
    from launcher import curve as keys
    from launcher.topology import load_to_run
    topo = load_to_run(str(topology_path))[0]  # their keys, whatever validate now says of a key no gate reads
    gates = topo.actors_of_kind("gate")
    if not gates:
        raise ValueError(f"{topology_path}: no actor of kind gate")
    overrides = [server_key] if isinstance(server_key, str) else list(server_key or [])
    if overrides and len(overrides) != len(gates):
        raise ValueError(f"{len(overrides)} --server-key for the topology's {len(gates)} gate{'s' * (len(gates) != 1)} "
                         f"({', '.join(gates)}): "
                         f"give one per gate, in this order, or none to use each gate's keypair")
    sock_curve = topo.actor(gates[0]).sockets["proposals"].curve
    if sock_curve is None and client_key is None:
        if overrides:  # was sent in plain text, the gate's key ignored without a word (opcli)
            raise ValueError("--server-key is given without --client-key: a CurveZMQ call needs this client's "
                             "certificate too (--client-key NAME, or a path to NAME.key_secret); without it the "
                             "proposal would go in plain text, the gate's key unchecked")
        return None
    if client_key is None:
        raise ValueError(f"the gate's proposals socket uses CurveZMQ: pass a client key the gate allows "
                         f"(--client-key NAME, one of {', '.join(sock_curve.allow) or 'the keys in allow_dir'})")
    keys_dir = keys.keys_dir_of(topo)
    if sock_curve is None and not overrides:
        raise ValueError("--client-key is given, but the topology's gate takes plain ZeroMQ on its proposals socket (no "
                         "CurveZMQ): leave --client-key out; for a gate that does use CurveZMQ, give its public key too "
                         "(--server-key)")
    keypair = read_keypair(certificate_path(client_key, keys_dir=keys_dir, base=Path.cwd(), secret=True))
    if overrides:
        publics = [read_public_key(certificate_path(ref, keys_dir=keys_dir, base=Path.cwd(), secret=False))
                   for ref in overrides]
    else:
        refs = []
        for gate in gates:
            other = topo.actor(gate).sockets["proposals"].curve
            if other is None:
                raise ValueError(f"gate {gate}'s proposals socket does not use CurveZMQ while {gates[0]}'s does")
            refs.append(other.keypair)
        base = keys.topology_base(topo)
        publics = [read_public_key(certificate_path(ref, keys_dir=keys_dir, base=base, secret=False)) for ref in refs]
    return keypair, publics if len(publics) > 1 else publics[0]


class Terminated(BaseException):
    """SIGTERM or SIGHUP while `clustergate propose` waits: it ends as Ctrl-C does, naming the plan_id it sent."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    """The first stop signal ends the command; from here the others are held (ignored) before it raises: two sent at
    once (a terminal's SIGHUP, a supervisor's SIGTERM; a Ctrl-C), the second arrived in cmd_propose's except clause
    before _hold_further_signals ignored it and raised out of it (the plan_id line lost, a traceback), or nested in this
    handler before it raised, and its exit code replaced the first's (reproduced in-process with real signals)."""
    if _within_a_stop(frame):
        return
    _hold_further_signals({}, True)
    raise Terminated(signum) if signum != signal.SIGINT else KeyboardInterrupt


def _within_a_stop(frame: Any) -> bool:
    """Whether this handler interrupted another call of it before that one raised, or cmd_propose's except clause
    (a gate that did not answer in time, say) as it starts to hold the signals: the command is already ending."""
    return interrupted_a_call_of(frame, _raise_terminated, _hold_further_signals)


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _hold_further_signals(previous: dict[int, Any], handled: bool) -> None:
    """Once the command is ending and names its plan_id, a second SIGTERM or a Ctrl-C (a supervisor resending its stop,
    a slow terminal) would raise out of that line and lose it: they are ignored until the command has ended."""
    if handled:
        for signum in (*TERMINATING_SIGNALS, signal.SIGINT):
            handler = signal.signal(signum, _held)
            previous.setdefault(signum, handler)


def _held(_signum: int, _frame: Any) -> None:
    """A stop signal once the command is ending: taken and dropped. Not SIG_IGN: set while another signal is pending
    (two sent at once), the interpreter wrote "Traceback ... OSError: Signal 15 ignored due to race condition"."""


def cmd_propose(args: argparse.Namespace) -> int:
    curve: tuple[Keypair, bytes | list[bytes]] | None = None
    endpoint: str | list[str]
    allowlist: list[str] | None = None  # the topology's symbols, when the gates come from one
    if not 1 <= args.timeout_ms <= MAX_TIMEOUT_MS:
        print(f"clustergate propose: --timeout-ms must be from 1 to {MAX_TIMEOUT_MS}, got {args.timeout_ms}",
              file=sys.stderr)
        return 2
    if not 0 <= args.retries <= MAX_RETRIES:
        print(f"clustergate propose: --retries must be from 0 to {MAX_RETRIES}, got {args.retries}", file=sys.stderr)
        return 2
    try:
        if args.endpoint:
            endpoint = args.endpoint if len(args.endpoint) > 1 else args.endpoint[0]
            if args.client_key or args.server_key:
                if not (args.client_key and args.server_key):
                    print("clustergate propose: with --endpoint, CurveZMQ needs both --client-key and --server-key "
                          "(paths to the client's .key_secret and each gate's .key)", file=sys.stderr)
                    return 2
                if len(args.server_key) != len(args.endpoint):
                    print(f"clustergate propose: {len(args.server_key)} --server-key for {len(args.endpoint)} --endpoint: "
                          f"give one --server-key per --endpoint, in the same order (each gate has its own keypair)",
                          file=sys.stderr)
                    return 2
                publics = [read_public_key(certificate_path(key, keys_dir=None, base=Path.cwd(), secret=False))
                           for key in args.server_key]
                curve = (read_keypair(certificate_path(args.client_key, keys_dir=None, base=Path.cwd(), secret=True)),
                         publics if len(publics) > 1 else publics[0])
        else:
            from launcher.schema import SchemaError
            from launcher.supervise import missing_running_copy
            path = default_topology_path(args)
            if missing := missing_running_copy(args, path):
                print(f"clustergate propose: {missing}", file=sys.stderr)
                return 2
            try:
                endpoints = gate_endpoints(path)
                endpoint = endpoints if len(endpoints) > 1 else endpoints[0]
                from launcher.topology import load_to_run
                allowlist = list(load_to_run(str(path))[0].symbols)
                curve = gate_curve(path, args.client_key, args.server_key)
            except SchemaError as exc:
                for problem in exc.problems:
                    print(problem.render(str(path)), file=sys.stderr)
                return 2
    except (OSError, ValueError) as exc:  # KeyFileError is a ValueError naming the file
        print(f"clustergate propose: {exc}", file=sys.stderr)
        return 2
    curve_kwargs: dict[str, Any] = {} if curve is None else {"client_keypair": curve[0], "server_public_key": curve[1]}
    if args.plan_id is not None and not args.plan_id.strip():  # an empty $PLAN_ID: a new plan_id is no retry
        print("clustergate propose: --plan-id is blank: give the plan_id to retry with, or leave --plan-id out "
              "for a new proposal", file=sys.stderr)
        return 2
    plan_id = uuid.uuid4().hex if args.plan_id is None else args.plan_id
    if refused := _refused_by_every_gate(plan_id, args):
        print(f"clustergate propose: {refused}", file=sys.stderr)
        return 2
    try:
        client = GateClient(endpoint, timeout_ms=args.timeout_ms, retries=args.retries,
                            send_deadline=not args.no_deadline, **curve_kwargs)
    except ValueError as exc:  # an endpoint ZeroMQ cannot connect: nothing was sent
        print(f"clustergate propose: {exc}", file=sys.stderr)
        return 2
    # A signal that ends the command (`timeout`, a supervisor, the terminal closed) would lose a plan_id made up here.
    # A signal the caller ignores (`nohup`: SIGHUP) stays ignored.
    handled = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in TERMINATING_SIGNALS
                if handled and signal.getsignal(signum) is not signal.SIG_IGN}
    if handled and signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # Ctrl-C: KeyboardInterrupt, held
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_terminated)
    elif handled and signal.getsignal(signal.SIGINT) is not None:  # restored as it was once a stop held it
        previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    reply: dict[str, Any] | None = None
    try:
        with client:
            reply = client.propose(args.symbol, args.action, kill_score=args.kill_score, plan_id=plan_id,
                                   r_net=args.r_net)
        # Until the plan_id is out, an interrupt (a terminal paused with Ctrl-S, a pipe nobody reads) names it.
        print(json.dumps(reply, indent=2), flush=True)
        print(f"plan_id {plan_id}", file=sys.stderr)
        unrecorded = _unrecorded_decision(reply)
        if unrecorded is not None:
            # "could not record" would contradict an outcome-unknown detail: the issuer may have recorded one
            print(f"clustergate propose: fault HOLD {unrecorded.get('gate_reason')}: no recorded decision came back "
                  f"({unrecorded.get('detail')}); not a policy decision: retry with --plan-id {plan_id}",
                  file=sys.stderr)
        elif (reply.get("decision") or {}).get("gate_reason") == "not_allowed":
            print(f"clustergate propose: {not_allowed_note(args.symbol, allowlist)}", file=sys.stderr)
        elif is_plan_id_expired(reply):
            print(f"clustergate propose: plan_id_expired: plan_id {plan_id} got a permit, and its decision is no longer "
                  f"kept: nothing was decided, there is no permit to hold, do not act on it; never resend this plan_id "
                  f"(it is never decided again): a new proposal needs a new --plan-id", file=sys.stderr)
        elif permit_expired(reply):
            print("clustergate propose: the permit of this replayed decision no longer exists (permit_ttl_ms null: it "
                  "expired, or was deleted): there is no permit to hold, do not act on it (a retry never issues it "
                  "again)", file=sys.stderr)
        elif is_fault_hold(reply):  # internal_error: maybe after the issuer recorded the decision
            print(f"clustergate propose: internal_error: the gate failed while deciding ({reply.get('detail')}), "
                  f"maybe after its permit issuer recorded the decision: outcome unknown, not a refusal: retry with "
                  f"--plan-id {plan_id}", file=sys.stderr)
    except NothingSent as exc:  # refused before sending (a proposal larger than any valid one): no plan_id to retry
        print(f"clustergate propose: {exc}", file=sys.stderr)
        return 2
    # Any other ValueError came after the proposal may have been sent (its answer not printed): "nothing sent", exit 2
    # with no plan_id, would lose a decision that may hold a permit.
    except (GateUnavailable, KeyboardInterrupt, Terminated, zmq.ZMQError, ValueError) as exc:
        _hold_further_signals(previous, handled)
        print(f"clustergate propose: {str(exc) or 'interrupted'}", file=sys.stderr)
        if isinstance(exc, GateUnavailable) and exc.unknown_answer is not None:
            # A gate answered with an unknown outcome (maybe recorded) before the call ran out: not "nothing happened".
            print(f"clustergate propose: {fault_reason(exc.unknown_answer)} from a gate earlier in this call, then no "
                  f"final answer: outcome unknown, not a refusal: retry with --plan-id {plan_id}", file=sys.stderr)
            return EXIT_FAULT_HOLD
        if reply is None:
            print(f"plan_id {plan_id} (it may have been decided: retry with --plan-id {plan_id})", file=sys.stderr)
        else:
            print(f"plan_id {plan_id} (the gate answered; its answer may not be printed in full: resend with "
                  f"--plan-id {plan_id} to get it again)", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 128 + exc.signum if isinstance(exc, Terminated) else 1
    except BrokenPipeError:  # the answer's reader went away: the plan_id goes where it can still be read
        _hold_further_signals(previous, handled)
        print(f"plan_id {plan_id} (the gate answered; its answer was not printed, its reader gone: resend with "
              f"--plan-id {plan_id} to get it again)", file=sys.stderr)
        raise  # ended as on SIGPIPE, quietly, by the launcher's main
    except OSError as exc:  # the answer could not be written (a full disk): the plan_id goes on stderr
        _hold_further_signals(previous, handled)
        print(f"clustergate propose: {exc}", file=sys.stderr)
        if reply is None:
            print(f"plan_id {plan_id} (it may have been decided: retry with --plan-id {plan_id})", file=sys.stderr)
            return 1
        print(f"plan_id {plan_id} (the gate answered; its answer was not printed: resend with --plan-id {plan_id} to "
              f"get it again)", file=sys.stderr)
        try:  # what stays unwritten in stdout's buffer must not fail again, in a traceback, at the exit's flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if is_fault_hold(reply):
        return EXIT_FAULT_HOLD
    return 0 if reply["status"] == "ok" else 1


# The option of `clustergate propose` that gives each identity field of the proposal (a refusal names the option).
_OPTION_OF = {"plan_id": "--plan-id", "symbol": "--symbol"}


def _refused_by_every_gate(plan_id: str, args: argparse.Namespace) -> str | None:
    """Why no gate can decide the proposal `clustergate propose` was given for its --plan-id or --symbol (refused by
    the gate on its own, validate_proposal's rules: a 129-character or unprintable --plan-id, an empty --symbol),
    naming each option, or None. Sent, it was refused invalid_proposal by a gate, and with no gate answering the call
    ended "it may have been decided: retry with --plan-id ...", a plan_id no gate can ever decide (revexit). A proposal
    larger than any valid one is left to GateClient's own refusal (NothingSent, naming each argument and the sizes);
    kill_score and r_net go to the gate unchecked, which answers for their range."""
    body = {"plan_id": plan_id, "symbol": args.symbol}
    if len(json.dumps(body, separators=(",", ":"))) > LARGEST_VALID_PROPOSAL_BYTES:
        return None
    problems = _problems_of_each_field({field: _assigned_by_a_later_unicode(value) for field, value in body.items()})
    if not problems:
        return None
    return ("; ".join(f"{_OPTION_OF[field]}: {problem}" for field, problem in problems)
            + ": no gate can decide this proposal (a gate refuses it, invalid_proposal); nothing was sent")


def _assigned_by_a_later_unicode(value: str) -> str:
    """`value` with each code point this Python's Unicode leaves unassigned (category Cn) put as a printable one ("x":
    one code point for one, so lengths and indexes stay): a gate on a later Python (pyproject allows any from 3.11), a
    later Unicode, may have it assigned and printable, and decide the proposal (revscript: U+1FAE8, Unicode 15.0 and
    Python 3.12's, was refused here "no gate can decide this proposal"). Only what every gate refuses is refused before
    sending; the gate answers for the rest."""
    if value.isprintable():
        return value
    from unicodedata import category
    return "".join("x" if category(char) == "Cn" else char for char in value)


def not_allowed_note(symbol: str, allowlist: list[str] | None) -> str:
    """Why a proposal was decided HOLD not_allowed, for the one who typed its symbol: the allowlist is matched exactly,
    so `ethusdt`, ` ETHUSDT` or `ETH USDT` is outside it (a recorded HOLD, exit 0, that read as the gate holding
    ETHUSDT). allowlist None: not known (--endpoint reads no topology); an allowlisted symbol is upper-case letters and
    digits, so a symbol that is not can only have meant its upper-case form without spaces."""
    from launcher.topology import symbol_name_ok
    meant = "".join(symbol.split()).upper()
    if allowlist is None:
        listed = " (the gate's topology's symbols, not read with --endpoint)"
        hint = f"; symbols are upper-case: did you mean {meant}?" if meant != symbol and symbol_name_ok(meant) else ""
    else:
        listed = f" ({', '.join(allowlist)})"
        hint = f"; did you mean {meant}?" if meant in allowlist else ""
    return f"{symbol!r} is not in the gate's allowlist{listed}, matched exactly: decided HOLD not_allowed{hint}"


def permit_expired(reply: dict[str, Any]) -> bool:
    """A replayed decision whose permit was issued and has expired since (`permit_ttl_ms` null): it still says
    `permit: true`, as first answered, but there is no permit to hold."""
    decision = reply.get("decision") if reply.get("status") == "ok" else None
    return (isinstance(decision, dict) and decision.get("replayed") is True and decision.get("permit") is True
            and "permit_ttl_ms" in decision and decision["permit_ttl_ms"] is None)


def is_plan_id_expired(reply: dict[str, Any]) -> bool:
    """The plan_id got a permit earlier and its decision has expired since: refused, no decision and no permit."""
    return reply.get("status") != "ok" and reply.get("reason") == "plan_id_expired"


def fault_reason(reply: dict[str, Any]) -> str:
    """What an answer with an unknown outcome (is_fault_hold) is: a fault HOLD's gate_reason, or the error's reason."""
    decision = _unrecorded_decision(reply)
    return str(decision.get("gate_reason") if decision is not None else reply.get("reason"))


def _after_a_fault(faults_seen: list[dict[str, Any]]) -> str:
    """The note a call that ended without a final answer gets when a gate answered it with an unknown outcome."""
    if not faults_seen:
        return ""
    return f", after a gate answered {fault_reason(faults_seen[-1])} (outcome unknown: it may have recorded a decision)"


# How the gate ends the detail of a fault HOLD whose attempt recorded nothing (actors/gate.py NOTHING_RECORDED; a test
# holds the two equal). Its ending, not anywhere in the detail: a detail may echo the caller's plan_id.
NOTHING_RECORDED = "nothing was recorded: resubmit the same plan_id"


def _says_nothing_recorded(reply: dict[str, Any]) -> bool:
    """Whether a fault HOLD's detail says its attempt recorded nothing (ends with the gate's NOTHING_RECORDED)."""
    decision = _unrecorded_decision(reply)
    return decision is not None and str(decision.get("detail")).endswith(NOTHING_RECORDED)


def _unrecorded_decision(reply: dict[str, Any]) -> dict[str, Any] | None:
    """The decision of a fault HOLD (`recorded` false: redis_unavailable, permit_unavailable,
    replica_unacknowledged), which `clustergate propose` exits EXIT_FAULT_HOLD on; None for any other reply."""
    decision = reply.get("decision") if reply.get("status") == "ok" else None
    return decision if isinstance(decision, dict) and decision.get("recorded") is False else None


def register(subparsers: Any) -> None:
    from launcher.supervise import home_option  # the launcher's; GateClient alone does not load it
    from launcher.number_args import finite_number, takes_negative_numbers
    p = takes_negative_numbers(subparsers.add_parser(
        "propose", help="send one exit proposal to the gate and print the decision as JSON",
        description="Send one exit proposal to the gate (failing over between gates) and print the answer as JSON. "
                    "Exits 0 on a recorded or replayed decision; 1 on a refused proposal or no answer from any gate "
                    "(it may still have been decided: retry with --plan-id); 2 for bad input, nothing sent; 3, outcome "
                    "unknown, on a fault HOLD (recorded false) or internal_error, and when the call ended without a "
                    "final answer after a gate had answered one of those: never act on it, retry with the same "
                    "--plan-id. docs/proposal-api.md has the details."))
    p.add_argument("--symbol", required=True, help="e.g. ETHUSDT")
    p.add_argument("--action", required=True, choices=ACTIONS, help="the proposed action")
    p.add_argument("--kill-score", type=finite_number, default=0.0, help="in [0, 1] (default 0)")
    p.add_argument("--plan-id", default=None, help="idempotency key (default: a new uuid4 hex, printed on stderr: retry with it)")
    p.add_argument("--r-net", type=finite_number, default=None, help="optional r_net of the position")
    p.add_argument("--topology", default=None,
                   help="topology file (default the home's run/topology.yaml; with no --home or $CLUSTERGATE_HOME, configs/demo.yaml if that is missing)")
    p.add_argument("--home", type=home_option,
                   help="directory with supervisord.conf and run/ (default: $CLUSTERGATE_HOME, else the repo root)")
    p.add_argument("--endpoint", default=None, action="append",
                   help="gate endpoint, e.g. tcp://127.0.0.1:5556 (overrides --topology); repeat it for several "
                        "active gates, asked one at a time in this order (default: every gate of the topology)")
    p.add_argument("--client-key", default=None,
                   help="CurveZMQ: this client's certificate, a name in the topology's keys_dir or a path to NAME.key_secret")
    p.add_argument("--server-key", default=None, action="append",
                   help="CurveZMQ: a gate's public certificate; repeat it, one per --endpoint (or per gate of the "
                        "topology), in the same order (default: each gate's keypair from the topology)")
    p.add_argument("--timeout-ms", type=int, default=DEFAULT_TIMEOUT_MS,
                   help="per-attempt timeout (the last attempt waits only what is left of the budget), also sent "
                        "as the proposal's deadline_ms (send time + the attempt's wait)")
    p.add_argument("--no-deadline", action="store_true",
                   help="send no deadline_ms: the gate decides the proposal however late it reaches it")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help="the call's budget is (1 + retries) x endpoints x --timeout-ms, a hard bound on its time "
                        "(docs/ha-gates-and-clients.md, the client rules)")
    p.set_defaults(func=cmd_propose)
