"""`clustergate backfill-permits`: write the permitted-plan marker of every stored decision that carries a permit and has none.

An issuer of a version before the marker (clustergate:p26:permitted:{plan_id}) wrote its decisions without one, and a
replay through a new issuer writes nothing, so such a plan_id resubmitted after its decision expired (decision_ttl_s)
was decided anew, with a second permit. This reads every stored decision (SCAN with COUNT, one batch at a time) and,
for each whose stored form says `"permit": true`, sets the marker with NX: a marker already there, the issuer's own
included, is never overwritten. HOLDs get none. Safe to run twice and beside live issuers; a decision an issuer of the
earlier version writes after the scan passed it is missed, so run it once none of them runs (`clustergate deploy` does,
as its last step).

Exit codes: 0 every stored decision read (skipped ones counted and named), 1 Redis refused or failed (unreachable,
wrong password), another server process answered half-way (restarted, a failover), fewer replicas than the issuers'
wait_replicas acknowledged its markers, or the run stopped at its --timeout, 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from launcher import keys
from launcher.topology import WAIT_LATE_MS, PermitIssuerSettings, Topology

DEFAULT_SCAN_COUNT = 1000
SCAN_COUNT_MAX = 2 ** 63 - 1  # Redis reads COUNT as a signed 64-bit number: a larger one is refused
DEFAULT_TIMEOUT_S = 300.0
SHOWN_PER_REASON = 5  # keys named per skip reason

# Why a stored decision got no marker although it is no HOLD: the counts' labels.
NOT_A_STRING = "not_a_string"
NOT_JSON_OBJECT = "not_a_json_object"
NO_PERMIT_FLAG = "no_permit_flag"
SKIP_WORDS = {NOT_A_STRING: "the decision key holds another type than a string",
              NOT_JSON_OBJECT: "the stored decision is not a JSON object",
              NO_PERMIT_FLAG: "the stored decision's \"permit\" is neither true nor false"}


@dataclass
class Counts:
    """What a backfill did. scanned = with_permit + hold + gone + skipped."""

    scanned: int = 0
    with_permit: int = 0  # stored decisions with a marker there (only a permit leaves one) or saying "permit": true
    hold: int = 0  # saying "permit": false: no marker is due
    written: int = 0  # markers set (with_permit = written + already_present)
    already_present: int = 0  # a marker was there (the issuer's own, an earlier backfill's): left as it was
    gone: int = 0  # the decision expired between SCAN and its read: nothing to read
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    skipped_keys: dict[str, list[str]] = field(default_factory=dict)  # reason -> the first few keys
    complete: bool = False  # the scan reached its end

    def skip(self, reason: str, key: str) -> None:
        self.skipped[reason] += 1
        shown = self.skipped_keys.setdefault(reason, [])
        if len(shown) < SHOWN_PER_REASON:
            shown.append(key)

    def as_json(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "with_permit": self.with_permit, "hold": self.hold, "written": self.written,
                "already_present": self.already_present, "gone": self.gone, "skipped": dict(self.skipped),
                "skipped_keys": self.skipped_keys, "complete": self.complete}


@dataclass(frozen=True)
class Marker:
    """A marker to set: its value (the permit's epoch second, as best known) and its TTL in seconds."""

    value: int
    ttl_s: int


def marker_for(stored: Any, pttl_ms: Any, now_s: int, permitted_plan_ttl_s: int,
               decision_ttl_s: int) -> Marker | str | None:
    """The marker a stored decision is due (a pure function): a Marker for one with a permit, None for a HOLD, else
    the reason it is skipped. Its TTL keeps it at least as long as the issuer's rule would have (permit time +
    permitted_plan_ttl_s): the permit was at the latest now, so permitted_plan_ttl_s from now (at most decision_ttl_s
    longer than the rule), and never shorter than the decision's own remaining TTL. Its value is the permit's second
    as the decision says it (ts_epoch), else as its TTL says it (decided decision_ttl_s before it expires)."""
    try:
        decision = json.loads(stored)
    except (ValueError, RecursionError):
        return NOT_JSON_OBJECT
    if not isinstance(decision, dict):
        return NOT_JSON_OBJECT
    permit = decision.get("permit")
    if permit is False:
        return None
    if permit is not True:
        return NO_PERMIT_FLAG
    remaining_s = math.ceil(pttl_ms / 1000) if isinstance(pttl_ms, int) and pttl_ms > 0 else 0
    ts = decision.get("ts_epoch")
    if type(ts) in (int, float) and math.isfinite(ts) and 0 < ts <= now_s:
        when = int(ts)
    elif isinstance(pttl_ms, int) and pttl_ms >= 0:
        when = max(0, now_s - max(0, decision_ttl_s - remaining_s))
    else:
        when = now_s
    return Marker(value=when, ttl_s=max(permitted_plan_ttl_s, remaining_s, 1))


def issuer_settings(topo: Topology) -> PermitIssuerSettings:
    """The permit issuers' settings (validate makes every issuer of a topology agree on them), else the defaults."""
    names = topo.actors_of_kind("permit_issuer")
    return topo.actors[names[0]].settings if names else PermitIssuerSettings()


class TimedOut(Exception):
    """The run passed its timeout; the counts so far are in the Counts given to backfill."""


class ReplicasBehind(Exception):
    """Fewer replicas than the issuers wait for (wait_replicas) acknowledged a step's markers within wait_timeout_ms:
    a failover now could lose them, the decisions they mark kept; the run stops (a run again writes what was lost)."""


class ServerChanged(Exception):
    """A SCAN step was answered by another Redis server process than the run's first (restarted, or another server
    after a failover, reached again by the client's own reconnection): the cursor holds only on the process that gave
    it, so the scan would miss keys and still end; the run stops (a run again starts over)."""


# A pipeline of commands: their replies in order, an error reply as an Exception in its place (launcher.resp's
# RespClient.pipeline; redis_py_pipeline for redis-py). A failure of the connection raises.
Pipeline = Callable[[list[tuple[Any, ...]]], list[Any]]


def redis_py_pipeline(client: Any) -> Pipeline:
    """A Pipeline over a redis-py client (decode_responses=False)."""
    def run(commands: list[tuple[Any, ...]]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return pipe.execute(raise_on_error=False)
    return run


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")


def _raise_errors(replies: list[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def _run_id(info: Any) -> str:
    """The run_id in an INFO server reply (its text, or redis-py's dict of it): the server process's own id."""
    if isinstance(info, dict):
        return str(info.get("run_id"))
    for line in _as_bytes(info).decode(errors="replace").splitlines():
        if line.startswith("run_id:"):
            return line[len("run_id:"):].strip()
    return ""


_DECISION_PREFIX = keys.plan_decision("").encode()
_MARKER_PREFIX = keys.permitted_plan("").encode()


def backfill(pipeline: Pipeline, counts: Counts, permitted_plan_ttl_s: int, decision_ttl_s: int,
             scan_count: int = DEFAULT_SCAN_COUNT, timeout_s: float = DEFAULT_TIMEOUT_S, pause_s: float = 0.0,
             wait_replicas: int = 0, wait_timeout_ms: int = 100) -> Counts:
    """Set the missing markers from the stored decisions, one SCAN step at a time (COUNT scan_count), counting into
    `counts`: per step, a pipeline of EXISTS of each decision's marker (one there: the decision had a permit, nothing
    to read), one of GET and PTTL of the decisions without one, one of SET NX EX of the markers due. Redis's errors
    and a lost connection raise (the counts say how far it went); TimedOut past timeout_s; ServerChanged when a step's
    SCAN is answered by another server process than the first's (INFO server's run_id, sent with each SCAN). pause_s: a sleep after each
    step (a backfill inside a process that serves decisions leaves it the interpreter most of the time).
    wait_replicas (the issuers' setting): the markers' pipeline ends with WAIT for that many replicas, as a decision's
    does; fewer within wait_timeout_ms raise ReplicasBehind (the run is not done until its markers would survive a
    failover)."""
    deadline = time.monotonic() + timeout_s
    match = keys.plan_decision("*")
    cursor = b"0"
    first_run_id: str | None = None  # the server process that gave the first cursor
    while True:
        if time.monotonic() > deadline:
            raise TimedOut(f"stopped after {timeout_s:g} s")
        scanned, info = pipeline([("SCAN", cursor, "MATCH", match, "COUNT", scan_count), ("INFO", "server")])
        _raise_errors([scanned, info])
        run_id = _run_id(info)
        if first_run_id is None:
            first_run_id = run_id
        elif run_id != first_run_id:
            raise ServerChanged(f"another Redis server process answered the scan half-way (run_id {first_run_id} "
                                f"then {run_id}: restarted, or a failover): its cursor would have missed keys")
        cursor, batch = _as_bytes(scanned[0]), [_as_bytes(key) for key in scanned[1]]
        batch = [key for key in batch if key.startswith(_DECISION_PREFIX)]
        markers = [_MARKER_PREFIX + key[len(_DECISION_PREFIX):] for key in batch]
        counts.scanned += len(batch)
        present = pipeline([("EXISTS", marker) for marker in markers]) if batch else []
        _raise_errors(present)
        unmarked = [(key, marker) for key, marker, n in zip(batch, markers, present) if not n]
        counts.with_permit += len(batch) - len(unmarked)
        counts.already_present += len(batch) - len(unmarked)
        if unmarked:
            replies = pipeline([("TIME",)] + [command for key, _ in unmarked for command in (("GET", key),
                                                                                             ("PTTL", key))])
            if isinstance(replies[0], Exception):
                raise replies[0]
            now_s = int(replies[0][0])
            writes: list[tuple[bytes, Marker]] = []
            for i, (key, marker) in enumerate(unmarked):
                stored, pttl = replies[1 + 2 * i], replies[2 + 2 * i]
                shown = key.decode(errors="replace")
                if isinstance(stored, Exception) and str(stored).startswith("WRONGTYPE"):
                    counts.skip(NOT_A_STRING, shown)
                    continue
                _raise_errors([stored, pttl])
                if stored is None:
                    counts.gone += 1
                    continue
                due = marker_for(stored, pttl, now_s, permitted_plan_ttl_s, decision_ttl_s)
                if due is None:
                    counts.hold += 1
                elif isinstance(due, str):
                    counts.skip(due, shown)
                else:
                    counts.with_permit += 1
                    writes.append((marker, due))
            waits = [("WAIT", wait_replicas, wait_timeout_ms)] if writes and wait_replicas > 0 else []
            written = pipeline([("SET", marker, str(due.value), "NX", "EX", due.ttl_s) for marker, due in writes]
                               + waits) if writes else []
            acknowledged = written.pop() if waits else None
            done = sum(1 for reply in written if reply is True or reply in ("OK", b"OK"))
            refused = sum(1 for reply in written if isinstance(reply, Exception))
            counts.written += done  # counted before a refusal of another write of the step is raised: they stay
            counts.already_present += len(written) - done - refused  # set by an issuer since the EXISTS
            _raise_errors(written)
            if waits:
                _raise_errors([acknowledged])
                if acknowledged < wait_replicas:
                    raise ReplicasBehind(f"{acknowledged} of {wait_replicas} replicas acknowledged the markers written "
                                         f"within {wait_timeout_ms} ms (wait_replicas): a failover could lose them")
        if cursor == b"0":
            counts.complete = True
            return counts
        if pause_s:
            time.sleep(pause_s)


def summary(counts: Counts) -> str:
    skipped = sum(counts.skipped.values())
    why = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.skipped.items()))
    return (f"{'done' if counts.complete else 'INCOMPLETE'}: scanned {counts.scanned} stored decisions: "
            f"{counts.with_permit} with a permit ({counts.written} markers written, {counts.already_present} already "
            f"present), {counts.hold} HOLD (no marker due), {counts.gone} expired while read, {skipped} skipped"
            + (f" ({why})" if why else ""))


def cmd_backfill(args: argparse.Namespace) -> int:
    import redis
    from launcher.positions import default_topology_path
    from launcher.redis_conn import auth_refusal, connect
    from launcher.supervise import running_topology_or_say
    topo = running_topology_or_say(args, default_topology_path(args), "clustergate backfill-permits")
    if topo is None:
        return 2
    settings = issuer_settings(topo)
    where = topo.redis.connection_url()
    counts = Counts()
    replicas = settings.replicas_to_wait(topo.redis)
    # A WAIT blocks up to wait_timeout_ms and Redis ends it at its next cron tick: the calls wait that much longer.
    waiting = dataclasses.replace(topo.redis, timeout_ms=topo.redis.timeout_ms + settings.wait_timeout_ms
                                  + WAIT_LATE_MS) if replicas else topo.redis
    client = connect(waiting, decode_responses=False)
    try:
        backfill(redis_py_pipeline(client), counts, settings.permitted_plan_ttl_s, settings.decision_ttl_s, args.count,
                 args.timeout, wait_replicas=replicas, wait_timeout_ms=settings.wait_timeout_ms)
        failure = None
    except TimedOut as exc:
        failure = f"{exc} (--timeout)"
    except ReplicasBehind as exc:
        failure = f"Redis at {where}: {exc}; run it again once the replicas keep up"
    except ServerChanged as exc:
        failure = f"Redis at {where}: {exc}; run it again"
    except redis.AuthenticationError as exc:
        failure = auth_refusal(topo.redis, exc)
    except redis.RedisError as exc:
        failure = f"Redis at {where} failed: {exc}"
    finally:
        client.close()
    if args.json:
        print(json.dumps({**counts.as_json(), "error": failure, "permitted_plan_ttl_s": settings.permitted_plan_ttl_s}))
    else:
        print(f"backfill-permits of {where} (permitted_plan_ttl_s {settings.permitted_plan_ttl_s} s): {summary(counts)}")
        for reason, shown in sorted(counts.skipped_keys.items()):
            print(f"  skipped, {SKIP_WORDS.get(reason, reason)}: {counts.skipped[reason]}, e.g. {', '.join(shown)}")
    if failure:
        print(f"clustergate backfill-permits: {failure}; nothing was overwritten, markers written so far stay (a run again skips them)",
              file=sys.stderr)
        return 1
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is below 1")
    if value > SCAN_COUNT_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is above {SCAN_COUNT_MAX}, the largest SCAN COUNT Redis takes")
    return value


def register(subparsers: Any) -> None:
    from launcher.supervise import home_option, timeout_seconds
    p = subparsers.add_parser("backfill-permits", help="write the permitted-plan marker of every stored decision with a "
                              "permit that has none (plan_ids an issuer before the marker permitted); exit 1 if Redis "
                              "failed or the run did not finish")
    p.add_argument("--topology", metavar="FILE",
                   help="topology file (default: the home's run/topology.yaml; with no --home or $CLUSTERGATE_HOME, "
                        "configs/demo.yaml if that is missing)")
    p.add_argument("--home", type=home_option,
                   help="directory with supervisord.conf and run/ (default: $CLUSTERGATE_HOME, else the repo root)")
    p.add_argument("--count", type=_positive_int, default=DEFAULT_SCAN_COUNT,
                   help=f"SCAN COUNT: keys Redis looks at a step (default {DEFAULT_SCAN_COUNT})")
    p.add_argument("--timeout", type=timeout_seconds, default=DEFAULT_TIMEOUT_S,
                   help=f"stop after this many seconds, exit 1 (default {DEFAULT_TIMEOUT_S:g}); a run again goes on")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_backfill)
