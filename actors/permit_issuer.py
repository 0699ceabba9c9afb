"""The permit issuer (P2.6): the only writer of decisions, permits and cooldowns.

The gate sends a batch of decisions in one request (or one decision, the older format); the
scripts of a batch run in one pipelined round trip, in order, and the reply lists their results.
For each decision, one atomic Lua script either returns the plan_id's stored first
decision (a resubmission: nothing is written) or appends the decision to the gate stream, for a
non-HOLD action sets the permit ("1" with its TTL; a string another writer left there is set to that, unless it already
is "1" with at most that TTL left, as a live permit of this plan_id whose decision key was removed is: that one is left
to expire, RECORD_DECISION) and
the symbol's cooldown, and stores the decision last.
Because the script is atomic, two submissions of one plan_id can never both issue a permit, and a
permit never exists without its decision record; because Redis does not roll back a script that
fails half-way, it checks every key's type before its first write.

A resubmission is answered with the stored decision only when it is the same proposal (symbol,
action_proposed, kill_score), else with the error plan_id_conflict. A decision with a permit also leaves a
marker of its plan_id, kept permitted_plan_ttl_s (far beyond the decision's decision_ttl_s): a plan_id whose decision
has expired and whose marker lives is refused plan_id_expired, nothing written, never decided again with a second
permit. Each write carries a random write_id, so a pipeline that RespClient sent again after a timeout finds its own
write and reports it as written, not as a replay.

With replicas to wait for (setting wait_replicas), the scripts' pipeline ends with WAIT, and a decision
(written or replayed) is answered only once that many replicas acknowledged it; fewer within
wait_timeout_ms, or a WAIT or PUBLISH that Redis refused: the error replica_unacknowledged, which the gate
turns into a fault HOLD, outcome unknown (docs/ha-durability.md).
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
import traceback
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any, Callable

from prometheus_client import Counter, Gauge, Histogram

from launcher import keys
from launcher.backfill import Counts, backfill
from launcher.stop_signals import signals_left_to_the_main_thread
from launcher.resp import NotSent, RedisUnavailable, ReplyError, RespClient, Script, after_a_first_round, encode_commands
from actors.runtime import Actor, adder, main, observer
from actors.wire import (INTERNAL_ERROR, decode_internal, encode, encode_internal, error_envelope, issuer_key,
                         issuer_reply_key, ok_envelope, recorded_form, signed_issuer_request, verified_issuer_request)
from launcher.topology import WAIT_LATE_MS, PermitIssuerSettings, RedisConfig

# SPEC's stream fields, plus K and where K came from.
STREAM_FIELDS = ("plan_id", "symbol", "action_proposed", "final_action", "gate_reason", "stress", "heat",
                 "concentration", "corr_proxy", "kill_score", "ts_epoch", "K", "k_source")

# KEYS: plan decision, gate stream, permit, cooldown, permitted-plan marker.
# ARGV: stored decision JSON (compact, with the request's unique write_id), its TTL (decision_ttl_s with a
#       permit, hold_decision_ttl_s without), stream count cap, permit TTL, cooldown TTL, issue (0/1),
#       cooldown_seen (0 no, 1 in Redis, 2 set by an earlier decision of the batch), the gate's deadline
#       (epoch ms, 0 none), the stream's retention (ms: the longest permit or cooldown TTL), the earliest
#       Redis's clock can read when the script runs (epoch ms, 0 none), the marker's TTL (permitted_plan_ttl_s),
#       then the stream record's values in STREAM_FIELDS order (the field names live in the script, so each
#       request sends half as many arguments).
# Redis does not roll back a script that fails half-way, so every key's type is checked before the
# first write (a wrong type writes nothing: bad_key_type), and the decision key, which makes a
# resubmission a replay, is written last.
# A stored decision equal to ARGV[1] is this very request's own write (the pipeline was sent again
# after a timeout): it is reported as written. Another one is a replay, returned with the permit's PTTL.
# Past the gate's deadline (Redis's clock) nothing is written (expired): the gate has stopped waiting
# or is about to, so a write now would be a decision its client was told is unknown. The check follows
# the replay check, so a re-sent pipeline still finds its own earlier write, and is made again after a trim
# of the stream (trimming many records takes long), so that no write follows the deadline. Redis's clock that
# reads earlier than it could when the script was sent went back while the script waited (a step of its wall
# clock during a stall, larger than the wait): the deadline, on that clock, would come late by the step, so
# nothing is written either (clock_went_back, answered as expired). A smaller step within the deadline's margin
# of the wait goes unseen: a script has no clock but Redis's wall clock.
# A non-HOLD decision made without seeing a cooldown that exists now is refused (cooldown_conflict),
# so the gate re-reads and decides again rather than issuing two permits inside one cooldown; so is
# one decided under a cooldown that does not exist now: one an earlier decision of its batch was to
# set but did not (a replay), or one the gate's cached state still had but that expired or was
# deleted (the gate sends cooldown_seen only when its decision depended on the cooldown).
# The stream is trimmed by time only (MINID: records older than the retention), and only once it holds
# the count cap; if every record is younger than the retention, the decision is refused (stream_full)
# rather than trimming the record of a live permit or cooldown. A HOLD (no permit) may fill only nine tenths
# of the cap, so a storm of HOLDs from one bad client cannot refuse every exit of every other client.
# The permit is set with NX, and a key found there is looked at: the script writes only for a plan_id without a stored
# decision, so a permit key found is another writer's, or this plan_id's own live permit whose decision key was removed
# (by hand, or evicted before the issuer noticed an evicting policy). A live permit of SPEC's form ("1", at most its
# TTL left) is left to expire: renewed, one plan_id got a second permit's time (revscript: 999 ms left became 1998 ms).
# Anything else ("0" with no TTL: left as found, it was a permit that never expired, under a decision saying permit;
# revexit) is set whole. The usual decision finds no key: one SET, as before.
# A decision with a permit also sets the plan_id's marker (KEYS[5], the epoch second of the permit, TTL
# permitted_plan_ttl_s, far longer than the decision's): a plan_id without a stored decision whose marker exists had a
# permit and its decision expired, so nothing is written (plan_id_expired) rather than a second permit. The marker is
# looked at only when no decision is stored (one TYPE, which is also its type check): a replay makes no Redis call more.
# The key type checks and the stream record are written out in full, not looped over tables the script builds on
# every call (the Lua VM and its garbage collector were most of Redis's work per decision, issue 14).
KEY_TYPES = ("string", "stream", "string", "string", "string")  # KEYS' types, in order


def _key_type_check(i: int) -> str:
    """The script's check that KEYS[i] is of its type (or absent), else bad_key_type naming it."""
    want = KEY_TYPES[i - 1]
    return f"""
local have = redis.call('TYPE', KEYS[{i}])['ok']
if have ~= '{want}' and have ~= 'none' then
  return {{'bad_key_type', KEYS[{i}] .. ' is a ' .. have .. ', expected a {want}'}}
end"""


# A written decision's reply is {'written', PERMIT_KEPT} when the permit key held a live permit of SPEC's form, left to
# expire: no permit was written, so none is counted issued (permit_issuer_permits_issued_total, p26_permit_issued_total:
# the plan_id's one permit counted twice, revnx). The decision still carries that permit.
PERMIT_KEPT = "permit_kept"
# The script's refusal of a plan_id whose decision expired after it got a permit (its marker lives): nothing written.
PLAN_ID_EXPIRED = "plan_id_expired"


# The stored decision is looked for before the other keys' types are checked (none of them is written for a replay): a
# plan_id decided with a permit and resubmitted while its symbol's cooldown or the gate stream held another type got
# the fault HOLD bad_key_type, not its recorded decision (revexit). Its permit's TTL is read only from a string: a
# permit key of another type is no permit (permit_ttl_ms null).
RECORD_DECISION = Script(_key_type_check(1) + """
local previous = redis.call('GET', KEYS[1])
if previous then
  if previous == ARGV[1] then return {'written', ''} end
  local permit_ttl = -2  -- a permit key of another type is no permit
  if redis.call('TYPE', KEYS[3])['ok'] == 'string' then permit_ttl = redis.call('PTTL', KEYS[3]) end
  return {'replayed', previous, permit_ttl}
end""" + "".join(_key_type_check(i) for i in range(2, len(KEY_TYPES))) + """
local permitted = redis.call('TYPE', KEYS[5])['ok']
if permitted == 'string' then
  return {'""" + PLAN_ID_EXPIRED + """', redis.call('GET', KEYS[5])}
elseif permitted ~= 'none' then
  return {'bad_key_type', KEYS[5] .. ' is a ' .. permitted .. ', expected a string'}
end
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local deadline = tonumber(ARGV[8])
if deadline > 0 and now_ms > deadline then
  return {'expired', tostring(now_ms - deadline)}
end
if now_ms < tonumber(ARGV[10]) then  -- its clock went back while the script waited: the deadline cannot be judged
  return {'clock_went_back', tostring(tonumber(ARGV[10]) - now_ms)}
end
local issue = ARGV[6] == '1'
if issue and ARGV[7] == '0' and redis.call('EXISTS', KEYS[4]) == 1 then
  return {'cooldown_conflict', ''}
end
if ARGV[7] ~= '0' and redis.call('EXISTS', KEYS[4]) == 0 then
  return {'cooldown_conflict', ''}
end
local cap = tonumber(ARGV[3])
if not issue then cap = cap - math.floor(cap / 10) end  -- the last tenth is kept for decisions with a permit
if redis.call('XLEN', KEYS[2]) >= cap then
  redis.call('XTRIM', KEYS[2], 'MINID', tostring(now_ms - tonumber(ARGV[9])))
  if redis.call('XLEN', KEYS[2]) >= cap then
    return {'stream_full', ''}
  end
  time = redis.call('TIME')  -- a long trim (a million records: over 10 ms) may have taken the deadline
  now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  if deadline > 0 and now_ms > deadline then
    return {'expired', tostring(now_ms - deadline)}
  end
end
local record = {""" + ", ".join(f"'{name}', ARGV[{12 + i}]" for i, name in enumerate(STREAM_FIELDS)) + """}
redis.call('XADD', KEYS[2], '*', unpack(record))
local kept = ''
if issue then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then
    local left = redis.call('PTTL', KEYS[3])
    if redis.call('GET', KEYS[3]) ~= '1' or left < 0 or left > tonumber(ARGV[4]) * 1000 then
      redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])
    else
      kept = '""" + PERMIT_KEPT + """'
    end
  end
  redis.call('SET', KEYS[4], '1', 'EX', ARGV[5])
  redis.call('SET', KEYS[5], time[1], 'EX', ARGV[11])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {'written', kept}
""")

# The compact stored form of a decision, from which a resubmission gets the first decision back whole:
# the metrics go in one positional list "m" (their names are the bulk of the full record), plan_id is in
# the key, and what the issuer derives (permit_key, replayed, recorded) is not stored. The names a reader
# needs (symbol, action_proposed, kill_score, final_action, gate_reason, permit, ts_epoch) stay as they are.
METRIC_FIELDS = ("stress", "heat", "concentration", "corr_proxy", "K", "k_source")
DERIVED_FIELDS = ("plan_id", "permit", "permit_key", "replayed", "recorded", "write_id", "m")

REQUIRED_FIELDS = ("plan_id", "symbol", "action_proposed", "final_action", "gate_reason")

REQUESTS = Counter("permit_issuer_requests_total", "Decision requests by result", ["result"])
PERMITS = Counter("permit_issuer_permits_issued_total", "Permits written")
MARKERS_BACKFILLED = Counter("permit_issuer_markers_backfilled_total",
                             "Permitted-plan markers the issuer's start-up backfill wrote for stored decisions with a "
                             "permit and no marker (written by an issuer before the marker)")
WRITE_SECONDS = Histogram("permit_issuer_write_seconds", "Time of the Redis script per request",
                          buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25))
RESULTS = ("written", "replayed", "cooldown_conflict", "plan_id_conflict", PLAN_ID_EXPIRED, "bad_key_type",
           "corrupt_decision", "expired", "stream_full", "out_of_memory", "redis_unavailable", "bad_request", "internal_error",
           "replica_unacknowledged", "unauthorized", "evicting_policy")
REDIS_USED_MEMORY = Gauge("clustergate_redis_used_memory_bytes", "Redis INFO used_memory, read by the permit issuer")
REDIS_MAXMEMORY = Gauge("clustergate_redis_maxmemory_bytes", "Redis maxmemory (0: no limit), read by the permit issuer")
REDIS_MEMORY_READ = Gauge("clustergate_redis_memory_read_timestamp_seconds",
                          "Epoch time of the permit issuer's last reading of Redis INFO memory (0: none yet)")
REDIS_STARTED = Gauge("clustergate_redis_started_timestamp_seconds",
                      "Epoch time the Redis server the permit issuer talks to started (INFO server_time_usec less "
                      "uptime_in_seconds, by Redis's clock): a new value at each restart", ["server"])
REDIS_MAY_EVICT = Gauge("clustergate_redis_may_evict",
                        "1 while Redis has a maxmemory and a maxmemory-policy other than noeviction, so the permit "
                        "issuer records no decision; label policy: Redis's maxmemory-policy (INFO memory); NaN with policy unchecked "
                        "while Redis refuses INFO", ["policy"])
UNCHECKED = "unchecked"  # REDIS_MAY_EVICT's policy label while Redis refuses INFO
MEMORY_READ_S = 5.0
# Whether Redis takes writes, asked without writing: a script that declares flags (Redis 7) and not no-writes is
# refused before it runs as a write would be (READONLY on a replica, OOM when full, NOREPLICAS, MISCONF).
WRITABLE_PROBE = ("EVAL", "#!lua\nreturn 1", "0")
WRITABLE_RECHECK_S = 0.5  # how often the check runs while Redis refuses writes (else every MEMORY_READ_S)
UNREACHABLE_RECHECK_S = 1.0  # ... and while Redis does not answer (each check may wait up to Redis's timeout)
# The periodic readings (Redis's clock, its start time, its memory, whether it takes writes) run in a thread of the
# issuer on a Redis connection of their own (Housekeeper): no decision waits behind them (on a Redis 100 ms away each
# way, the six round trips they made together on the decisions' connection held a decision 1.2 s every 5 s). The loop
# takes up what they read this often (attribute reads, no Redis call).
HOUSEKEEPING_TAKEN_S = 0.1
# Results that are not logged one by one (counted; the gate logs its decisions).
_NOT_LOGGED = frozenset(("written", "replayed", "cooldown_conflict", "expired", "replica_unacknowledged"))


# Stream values sent as they are (the RESP encoder writes numbers as their repr); exact types, so a bool
# (an int subclass) or a str subclass goes through json.dumps as before.
_PLAIN_TYPES = frozenset((str, int, float))
_stream_fields = itemgetter(*STREAM_FIELDS)


def stream_values(decision: dict[str, Any]) -> list[Any]:
    """The decision's stream values in STREAM_FIELDS order (the script pairs them with the names)."""
    get = decision.get
    return [value if type(value) in _PLAIN_TYPES else "" if value is None else _stream_text(value)
            for value in map(get, STREAM_FIELDS)]


def _stream_text(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value  # a subclass of str, int or float (not bool)
    return json.dumps(value)


MAX_BATCH = 1024
MAX_BAD_KEYS_KEPT = 1024  # keys of another type remembered as logged (first_of_key_type)
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # MAX_BATCH decisions of up to 16 KB each

# cooldown_seen as the script takes it.
SEEN_NONE, SEEN_IN_REDIS, SEEN_FROM_BATCH = "0", "1", "2"


def _check_item(item: Any, index: int | None = None) -> tuple[dict[str, Any], str, float | None]:
    """(decision, cooldown_seen for the script, own deadline) of a request's item (`index` in its decisions,
    None: the request is the item), or ValueError naming it and what is wrong."""
    decision = item.get("decision") if isinstance(item, dict) else None
    if not isinstance(decision, dict):
        raise ValueError(f"{_where(index)}: expected {{\"decision\": {{...}}, \"cooldown_seen\": bool}}")
    try:  # one pass when all are there and plain; else say which lack
        required = _required(decision)
    except KeyError:
        required = None
    if required is None or not (_STR.issuperset(map(type, required)) and all(required)):
        missing = [f for f in REQUIRED_FIELDS if not isinstance(decision.get(f), str) or not decision.get(f)]
        if missing:
            raise ValueError(f"{_where(index)}: decision lacks {', '.join(missing)}")
    seen = SEEN_NONE
    if item.get("cooldown_seen", False):
        seen = SEEN_FROM_BATCH if item.get("cooldown_from_batch", False) else SEEN_IN_REDIS
    deadline = item.get("deadline_epoch")  # the proposal's own, when earlier than the request's
    return decision, seen, None if deadline is None else checked_deadline(deadline, _where(index))


_STR = frozenset((str,))
_required = itemgetter(*REQUIRED_FIELDS)


def _where(index: int | None) -> str:
    return "request" if index is None else f"decisions[{index}]"


# A deadline_epoch is epoch seconds: beyond this (either way) it is no time at all (epoch ms, or a number the
# script's millisecond deadline cannot hold), refused as a bad request rather than taken as no deadline.
MAX_DEADLINE_EPOCH_S = 1e11
MONOTONIC_UNIT = "seconds of the monotonic clock the gate and this issuer share (one host)"  # deadline_mono's


def checked_deadline(deadline: Any, where: str, field: str = "deadline_epoch", unit: str = "epoch seconds") -> float | None:
    """A request's or an item's deadline `field` (in `unit`), or ValueError naming it."""
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
        raise ValueError(f"{where}: {field} must be a number ({unit})")
    if not -MAX_DEADLINE_EPOCH_S < deadline < MAX_DEADLINE_EPOCH_S:
        raise ValueError(f"{where}: {field} {deadline!r} is not {unit}")
    return deadline


def script_deadline_ms(deadline_s: float, redis_ahead_s: float, uncertainty_s: float) -> int:
    """The script's last whole millisecond of Redis's clock at which a write still lands by `deadline_s` (epoch s,
    this host's clock). Redis is `redis_ahead_s` ahead, known to within `uncertainty_s` (half the TIME round
    trip): the earliest the deadline can be on Redis's clock is taken. The script compares TIME's whole
    milliseconds, and its XADD may land in the next one: one more millisecond is kept. Never 0 (0 means none)."""
    return max(1, math.floor((deadline_s + redis_ahead_s - uncertainty_s) * 1000) - 1)


# The script's refusals that come from Redis's clock alone, nothing written: run again on a new reading while the
# deadline, by this host's clock, has not passed (PermitIssuer.record_again).
CLOCK_REFUSALS = frozenset(("clock_went_back", "expired"))


def clock_misread(reply: Any, own: float | None, deadline: float | None, sent_wall_minus_mono_s: float) -> bool:
    """True when the script refused an item (its own deadline `own`, the request's `deadline`: epoch s by this host's
    wall clock when the script was sent, then sent_wall_minus_mono_s ahead of the monotonic clock) for Redis's clock
    alone while its deadline has not passed: Redis's clock moved since it was read. The deadline is judged by the
    monotonic clock: a step of this host's wall clock meanwhile (a stalled local Redis's too) moves nothing."""
    if type(reply) is not list or not reply or reply[0] not in CLOCK_REFUSALS:
        return False
    limit = item_deadline_s(own, deadline)
    return bool(limit) and time.monotonic() + sent_wall_minus_mono_s < limit


def item_deadline_s(own: float | None, deadline: float | None) -> float | None:
    """The deadline an item's script was given: its own (`own`), when earlier than the request's `deadline`."""
    return deadline if own is None else min(own, deadline) if deadline else own


def expired_by(reply: list[Any], deadline_s: float, ahead_s: float, within_s: float) -> list[Any]:
    """The script's `expired` reply (how many ms Redis's clock read past script_deadline_ms(deadline_s, ...)) made
    ["expired", how many ms after deadline_s itself Redis ran it, within_s in ms]: by Redis's clock less the ahead_s the
    issuer read, to within within_s, without the margin script_deadline_ms keeps (1 ms, and within_s), which the
    script's own number included."""
    late_ms = int(reply[1]) + script_deadline_ms(deadline_s, ahead_s, within_s) - (deadline_s + ahead_s) * 1000.0
    return ["expired", late_ms, within_s * 1000.0]


def expired_text(reply: list[Any]) -> str:
    """When Redis ran a script refused `expired` (expired_by's reply), against the gate's deadline."""
    late_ms, within_ms = float(reply[1]), float(reply[2]) if len(reply) > 2 else 0.0
    known = f" (Redis's clock read to within {within_ms:.1f} ms)" if within_ms >= 0.05 else ""
    if late_ms >= 0.5:
        return f"Redis ran the script {late_ms:.0f} ms after the gate's deadline{known}"
    return (f"Redis ran the script {-late_ms:.0f} ms before the gate's deadline{known}, inside the margin the script "
            f"keeps so that no write lands after it")


def wall_step_s(wall_minus_mono_then: float, wall_minus_mono_now: float) -> float:
    """How far this host's wall clock was stepped (NTP step, settimeofday) between two readings of
    time.time() - time.monotonic(): the monotonic clock is never stepped, and a slew changes both alike."""
    return wall_minus_mono_now - wall_minus_mono_then


CLOCK_SAMPLES = 3  # TIME round trips per reading of Redis's clock: the one with the shortest round trip is kept
# How far Redis's clock may read behind the issuer's estimate of it before a script takes it for a clock that went
# back while it waited (clock_went_back): an external Redis's clock drifts from this host's between readings (NTP
# slewing it at up to several % while it corrects an offset), which is no step; a step is caught once it is larger
# than the script's wait plus this. The deadline itself tolerates such drift as it did.
CLOCK_BACK_MARGIN_S = 0.1
# A change of time.time() - time.monotonic() beyond this since the reading of Redis's clock is a step of this host's
# wall clock (NTP, settimeofday; a slew moves both clocks alike): Redis's clock is read again before the next write.
WALL_STEP_REREAD_S = 0.001


def check_request(request: Any) -> tuple[list[tuple[dict[str, Any], str, float | None]], bool, float | None]:
    """([(decision, cooldown_seen for the script, the item's own deadline_epoch)], batch, deadline_epoch) of
    a gate request, or ValueError saying what is wrong. A batch is {"decisions": [{"decision",
    "cooldown_seen", "cooldown_from_batch", "deadline_epoch"?}, ...], "deadline_epoch"}; a single request
    is one such item plus deadline. An item's deadline_epoch (its client's, when earlier) replaces the
    request's for that item's script; a later one is ignored (record takes the earlier)."""
    if not isinstance(request, dict):
        raise ValueError("expected {\"decisions\": [{\"decision\": {...}, \"cooldown_seen\": bool}, ...], "
                         "\"deadline_epoch\": number}")
    deadline = checked_deadline(request.get("deadline_epoch"), "request")
    if "decisions" not in request:
        return [_check_item(request)], False, deadline
    items = request["decisions"]
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        raise ValueError(f"decisions must be a list of 1 to {MAX_BATCH} items")
    return [_check_item(item, i) for i, item in enumerate(items)], True, deadline


class MayEvict(Exception):
    """Raised before a write to a Redis found to be one that may evict keys (eviction_hazard): nothing was written."""


def eviction_hazard(memory: dict[str, str]) -> str | None:
    """Why a Redis (its INFO memory fields) may evict keys, or None: a memory limit with any maxmemory-policy but
    noeviction evicts, once full, a plan_id's stored decision (its permit and a cooldown too, all with a TTL), and a
    plan_id whose decision is gone is decided again, with a second permit. No limit (0), noeviction, or fields
    missing (INFO refused, an old Redis): None."""
    policy = memory.get("maxmemory_policy")
    try:
        limit = int(memory["maxmemory"])
    except (KeyError, ValueError):
        return None
    if policy is None or policy == "noeviction" or limit <= 0:
        return None
    return (f"Redis's maxmemory-policy is {policy} with maxmemory {limit} bytes: once full it evicts keys, a plan_id's "
            f"stored decision among them, and that plan_id would be decided again, with a second permit; set "
            f"maxmemory-policy noeviction (or maxmemory 0)")


def redis_started_s(info: str) -> int | None:
    """When the Redis server of an INFO server reply started, epoch seconds by its own clock: server_time_usec less
    uptime_in_seconds. Redis takes both from one cached clock reading and counts its start in whole seconds, so every
    read in one life of the server gives the same value. None: a reply without them."""
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    try:
        return int(fields["server_time_usec"]) // 1_000_000 - int(fields["uptime_in_seconds"])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ClockReading:
    """A reading of Redis's clock (read_clock): when it began (time.monotonic()), the server read, and of its
    shortest round trip half the round trip, how far Redis's clock is ahead of this host's, and wall - monotonic."""

    began: float
    server: tuple[str, int] | str
    uncertainty_s: float
    ahead_s: float
    wall_minus_mono_s: float


@dataclass(frozen=True, slots=True)
class MemoryReading:
    """A reading of INFO memory (read_memory): when it began (time.monotonic()), the reply ("" none: Redis down or
    INFO refused), why INFO was refused (None: it was not), and when it was read (time.time())."""

    began: float
    info: str
    refused: str | None
    at: float


@dataclass(frozen=True, slots=True)
class StartReading:
    """When the server named `server` (RespClient.server_name) started (redis_started_s)."""

    server: str
    started_s: int


@dataclass(frozen=True, slots=True)
class WritableReading:
    """Why Redis would refuse the issuer's writes (None: it takes them) and the delay of the next check."""

    refused: str | None
    recheck_s: float


def read_clock(client: RespClient) -> ClockReading | None:
    """How far Redis's clock is ahead of this host's (s, to within half a round trip); None: Redis down.

    Of CLOCK_SAMPLES round trips the shortest is kept: one stalled after Redis answered (this process descheduled, a
    reply retransmitted) would put the estimate up to its whole round trip early, and every decision with less time
    left than that refused as expired until the next reading. Round trips are timed by the monotonic clock; the wall
    clock's offset from it is kept, so that record() corrects for a step of this host's wall clock before the next
    reading."""
    began = time.monotonic()
    best: tuple[float, float, float] | None = None  # (uncertainty, ahead, wall - monotonic)
    server = None
    for _ in range(CLOCK_SAMPLES):
        before = time.monotonic()
        wall_minus_mono = time.time() - before
        try:
            seconds, micros = client.call("TIME")
        except (RedisUnavailable, ReplyError):
            break
        after = time.monotonic()
        if client.server != server:  # (a failover between two samples: only the last server's count)
            server, best = client.server, None
        half = (after - before) / 2
        sample = (half, int(seconds) + int(micros) / 1e6 - (wall_minus_mono + before + half), wall_minus_mono)
        if best is None or sample[0] < best[0]:
            best = sample
    if best is None or server is None:
        return None
    return ClockReading(began, server, *best)


# A move of Redis's clock against this host's monotonic clock between two readings taken beyond this is a step of Redis's
# clock (its host's NTP, or a person), not drift: readings are 5 s apart, to within a round trip.
REDIS_CLOCK_STEP_S = 1.0


def redis_minus_mono_s(reading: ClockReading) -> float:
    """How far Redis's clock read ahead of this host's monotonic clock: two readings' difference is how far Redis's clock
    stepped between them (+ forward, - back). A step of this host's wall clock moves both of a reading's numbers (Redis
    ahead of the wall clock, the wall clock ahead of the monotonic one) alike and counts nothing; a local Redis's does."""
    return reading.ahead_s + reading.wall_minus_mono_s


def redis_clock_step(last: tuple[Any, float, float] | None,
                     reading: ClockReading) -> tuple[float | None, tuple[Any, float, float] | None]:
    """How far Redis's clock certainly stepped since `last` ((server, redis_minus_mono_s, uncertainty_s) of the reading
    compared against), None when not beyond REDIS_CLOCK_STEP_S, and the reading to compare the next against. A step is
    known to within both readings' uncertainties (half their round trip), so only one beyond the threshold plus both
    counts; a reading too uncertain to show a step (round trips over REDIS_CLOCK_STEP_S: Redis busy with slow scripts
    under a long timeout) is not compared against either. Compared whole, two readings behind 2.5 s scripts logged a
    step of 2.35 s forward and another back, Redis's clock unmoved (rev2clk)."""
    now = (reading.server, redis_minus_mono_s(reading), reading.uncertainty_s)
    if last is None or last[0] != reading.server:
        return None, now
    step_s = now[1] - last[1]
    if abs(step_s) > REDIS_CLOCK_STEP_S + last[2] + now[2]:
        return step_s, now
    return None, (last if now[2] > REDIS_CLOCK_STEP_S / 2 else now)


def redis_clock_ahead_log(late_ms: Any, uncertainty_s: float) -> tuple[str, str]:
    """(level, detail) of redis_clock_ahead: a script that read Redis's clock past its deadline while this host's
    monotonic clock had time left. The script's deadline is kept early by the reading's uncertainty and 2 ms
    (script_deadline_ms): a script run within that margin of the deadline met the margin, not a step (revpause saw
    late_ms=1 after Redis was stopped and resumed, each logged as a step forward), and is said at info."""
    margin_ms = uncertainty_s * 1000 + 2
    try:
        within = float(late_ms) <= margin_ms
    except (TypeError, ValueError):
        within = False
    if within:
        return "info", (f"the script ran within the {margin_ms:.0f} ms its deadline is kept early by (the uncertainty "
                        f"of the issuer's reading of Redis's clock, and 2 ms), with time left by this host's clock: no "
                        f"step; read again, and the script run once more")
    return "warning", ("Redis's clock read past the gate's deadline while this host's clock had time left (Redis's "
                       "wall clock stepped forward since the issuer read it): read again, and the script run once more")


def redis_clock_step_detail(step_s: float) -> str:
    """What a step of Redis's clock did to the keys the issuer writes (redis_clock_stepped)."""
    if step_s > 0:
        return (f"Redis's clock stepped {step_s:.1f} s forward: every key expires by it, so every cooldown and permit "
                f"then live lost up to {step_s:.1f} s of its TTL (those under it expired at once: the next exit on each "
                f"such symbol is not stepped down), and every stored decision as much sooner; keep Redis's host on an NTP "
                f"source that slews rather than steps")
    return (f"Redis's clock stepped {-step_s:.1f} s back: every cooldown and permit then live lasts {-step_s:.1f} s "
            f"longer than its TTL, and the gate stream's records written before cannot be trimmed until its clock "
            f"reaches them again (docs/faults-and-security.md); keep Redis's host on an NTP source that slews rather "
            f"than steps")


def read_memory(client: RespClient) -> MemoryReading:
    """Redis's INFO memory, read now."""
    began, refused = time.monotonic(), None
    try:
        info = client.call("INFO", "memory")
    except RedisUnavailable:
        info = ""
    except ReplyError as exc:  # NOPERM: an ACL user without +info (or -@dangerous)
        info, refused = "", str(exc)
    return MemoryReading(began, str(info) if info else "", refused, time.time())


def read_start(client: RespClient) -> StartReading | None:
    """When the server `client` talks to started; None: Redis down, or no start time in its reply."""
    try:
        started = redis_started_s(str(client.call("INFO", "server")))
    except (RedisUnavailable, ReplyError):
        return None
    return None if started is None else StartReading(client.server_name, started)


def refuses_writes(client: RespClient) -> str | None:
    """Why Redis, which answered, would refuse the issuer's writes now (a read-only replica, full), or None;
    RedisUnavailable when it does not answer."""
    try:
        reply = client.pipeline([WRITABLE_PROBE])[0]
        if isinstance(reply, ReplyError) and "compiling" in str(reply):  # before Redis 7: no flags; ask its role
            role = client.call("ROLE")
            return None if role and role[0] == "master" else f"Redis is a {role[0]} (ROLE), not the primary"
    except ReplyError as exc:
        return str(exc)
    return str(reply) if isinstance(reply, ReplyError) else None


def read_writable(client: RespClient) -> WritableReading:
    """Whether Redis takes writes now: checked again after MEMORY_READ_S; while refused, after WRITABLE_RECHECK_S
    (UNREACHABLE_RECHECK_S: no answer)."""
    try:
        return WritableReading(refuses_writes(client), WRITABLE_RECHECK_S)
    except RedisUnavailable as exc:
        return WritableReading(f"Redis does not answer: {exc}", UNREACHABLE_RECHECK_S)


class Housekeeper:
    """The permit issuer's periodic Redis readings (read_clock, read_start, read_memory, read_writable) in a daemon
    thread, on a connection of their own to the same Redis (RespClient.sibling: under Sentinel it follows the
    decisions' connection's watch, so the write probe probes the primary decisions are written to), so that no
    decision waits behind one. Each reading is published whole in an attribute (an immutable value: one reference
    swapped under the GIL, no lock), which the issuer's loop takes up (PermitIssuer.take_housekeeping). Each call
    waits at most the client's timeout, and the thread is never joined: a SIGTERM that finds it in a call to a
    stalled Redis ends the issuer as soon as its loop ends."""

    READINGS: dict[str, Callable[[RespClient], Any]] = {
        "clock": read_clock, "start": read_start, "memory": read_memory, "writable": read_writable}

    def __init__(self, client: RespClient, writable: WritableReading):
        """writable: the check the issuer made at its start (the next one follows it as read_writable says)."""
        self.client = client
        self.clock: ClockReading | None = None
        self.start: StartReading | None = None
        self.memory: MemoryReading | None = None
        self.writable = writable
        self.failed: str | None = None  # the traceback of the last reading that raised
        self._stopped = threading.Event()
        now = time.monotonic()  # the start time at once, the rest one interval after the issuer's own readings
        self.started = now  # (time.monotonic(): a thread that ended is started again no sooner than MEMORY_READ_S on)
        self._due = {"clock": now + MEMORY_READ_S, "start": now, "memory": now + MEMORY_READ_S,
                     "writable": now + self.next_after_s(writable)}
        self.thread = threading.Thread(target=self.run, name="issuer-housekeeping", daemon=True)
        with signals_left_to_the_main_thread():
            self.thread.start()

    @staticmethod
    def next_after_s(reading: Any) -> float:
        """The delay before the next reading of its kind (a refused write probe's is shorter)."""
        return reading.recheck_s if isinstance(reading, WritableReading) and reading.refused else MEMORY_READ_S

    def run(self) -> None:
        try:
            while True:
                name = min(self._due, key=self._due.__getitem__)
                if self._stopped.wait(max(0.0, self._due[name] - time.monotonic())):
                    break
                try:
                    reading = self.READINGS[name](self.client)
                except Exception:
                    reading, self.failed = None, traceback.format_exc(limit=3)
                if reading is not None:
                    setattr(self, name, reading)
                self._due[name] = time.monotonic() + self.next_after_s(reading)
        except BaseException:  # the thread ends: the issuer's loop finds it so and starts another (take_housekeeping)
            self.failed = traceback.format_exc(limit=3)
        finally:
            self.client.close()

    @property
    def stopped(self) -> bool:
        """Whether stop() was called (the thread ends, or has ended, as asked)."""
        return self._stopped.is_set()

    def stop(self) -> None:
        """End the thread once its call under way (if any) returns; not waited for."""
        self._stopped.set()


# The start-up backfill of permitted-plan markers: SCAN steps (COUNT) small enough that none holds Redis from a
# decision for long, a bound on the whole run, and the wait before a run that failed (Redis down) is made again.
BACKFILL_SCAN_COUNT = 100
BACKFILL_TIMEOUT_S = 3600.0
BACKFILL_RETRY_S = 60.0
# A sleep after each step: the backfill's thread shares the interpreter with the decisions' loop (docs/operating.md:
# the backfill's cost).
BACKFILL_PAUSE_S = 0.005
# How long a call of the backfill waits for Redis (at least redis.timeout_ms): nothing waits on it, so a stall of Redis
# shorter than this (a fork for a save, a slow disk) is waited through rather than failing a run made again from its
# start only BACKFILL_RETRY_S later.
BACKFILL_CALL_TIMEOUT_S = 5.0


class MarkerBackfill:
    """At the issuer's start, the marker of every stored decision with a permit that has none (an issuer before the
    marker wrote it: such a plan_id would get a second permit once its decision expired; launcher.backfill), in a
    thread of its own on a connection of its own, so no decision waits for it. Its outcome is published whole (done,
    error) for the issuer's loop to take up (PermitIssuer.take_backfill); never joined."""

    def __init__(self, client: RespClient, settings: PermitIssuerSettings, wait_replicas: int = 0):
        self.client, self.settings, self.wait_replicas = client, settings, wait_replicas
        self.counts = Counts()
        self.error: str | None = None
        self.done = False
        self.reported = False  # taken up by the issuer's loop
        self.refused = False  # Redis refused this user a command of the backfill (an ACL): not made again
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self.run, name="issuer-marker-backfill", daemon=True)
        with signals_left_to_the_main_thread():
            self.thread.start()

    def run(self) -> None:
        try:
            backfill(self.client.pipeline, self.counts, self.settings.permitted_plan_ttl_s,
                     self.settings.decision_ttl_s, BACKFILL_SCAN_COUNT, BACKFILL_TIMEOUT_S, BACKFILL_PAUSE_S,
                     self.wait_replicas, self.settings.wait_timeout_ms)
        except Exception as exc:  # noqa: BLE001 (said by the issuer's loop, and made again BACKFILL_RETRY_S on)
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            self.refused = isinstance(exc, ReplyError) and str(exc).startswith("NOPERM")
        finally:
            self.client.close()
            self.done = True


class PermitIssuer(Actor):
    kind = "permit_issuer"
    settings: PermitIssuerSettings
    _housekeeper: Housekeeper | None = None  # (set up by setup)

    def setup(self) -> None:
        self.redis = RespClient.from_config(self.topology.redis)
        # A write whose primary stopped answering mid-call is reported redis_unavailable (outcome unknown), never
        # sent again to the primary a failover promoted meanwhile: there it would land after its deadline when
        # that server's clock is behind the old one's (its deadline was set by the old one's clock).
        self.redis.resend_to_another_server = False
        self.redis.resend_after_timeout = True  # its write_id finds its own write sent again (module docstring)
        self._wait = wait_for_replicas(self.settings, self.topology.redis)
        if self._wait is not None:  # WAIT blocks on this socket: its timeout must not end the WAIT first
            self.redis.timeout_s += (self._wait.timeout_ms + WAIT_LATE_MS) / 1000.0  # (which ends a cron tick late)
        self._requests = {result: adder(REQUESTS.labels(result=result)) for result in RESULTS}
        self._count_permits, self._observe_write = adder(PERMITS), observer(WRITE_SECONDS)
        self._script_args = script_args(self.settings)
        self._script_payload = ScriptPayload(self._script_args).build
        self._bad_keys: dict[str, str] = {}  # key -> bad_key_type detail, logged once (first_of_key_type)
        self._key = issuer_key(self.topology.redis.password)  # every request must be signed with it (None: unsigned)
        self.on_request("requests", self.serve if self._key is not None else self.handle)
        self._redis_clock_ahead_s = 0.0
        self._redis_clock_uncertainty_s = 0.0
        self._clock_server: tuple[str, int] | str | None = None  # the server whose clock was read (RespClient.server)
        self._wall_minus_mono_s = time.time() - time.monotonic()  # as of the reading of Redis's clock
        self._redis_minus_mono: tuple[Any, float, float] | None = None  # redis_clock_step: the reading compared against
        # When the reading of Redis's clock in use, and the last reading of INFO memory taken up, began
        # (time.monotonic()): one that began earlier, the housekeeping thread's, is older than one a decision made.
        self._clock_began = self._memory_began = -math.inf
        self.read_redis_clock()
        self._started_server: str | None = None  # the `server` label of REDIS_STARTED's one series
        self._not_writable: str | None = None  # why Redis took no write at the last check
        self._evicting: str | None = None  # eviction_hazard at the last reading of INFO memory
        self._policy: str | None = None  # the `policy` label of REDIS_MAY_EVICT's one series
        self._check_policy_before_load = self.check_policy_before_load  # (bound once: passed with every write)
        self.read_redis_memory()  # before the first request: a Redis that may evict keys records no decision
        writable = read_writable(self.redis)
        self.keep_writable(writable)
        # The periodic readings from now on: in a thread, on a connection of their own (no Redis timeout of WAIT's).
        self._housekeeper = Housekeeper(self.redis.sibling(self.topology.redis.timeout_ms / 1000.0), writable)
        self._taken: tuple[Any, ...] = (None, None, None, writable, None)  # its readings taken up (by identity)
        self.every(HOUSEKEEPING_TAKEN_S, self.take_housekeeping)
        self._backfill: MarkerBackfill | None = self.start_backfill()
        self.every(1.0, self.take_backfill)

    def teardown(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.stop()

    def max_message_bytes(self, role: str) -> int | None:
        """The requests socket listens on TCP, where any local process can reach it: a request larger than
        a full batch of the gate's decisions is dropped unread (ZMQ_MAXMSGSIZE)."""
        return MAX_REQUEST_BYTES if role == "requests" else None

    def read_redis_clock(self) -> None:
        """How far Redis's clock is ahead of this host's, read now on the decisions' connection (read_clock): the gate's
        deadline, set by this host's clock, is moved onto Redis's before the script compares it. Redis down:
        unchanged."""
        self.keep_clock(read_clock(self.redis))

    def keep_clock(self, reading: ClockReading | None) -> None:
        """Take `reading` as the estimate of Redis's clock, unless it began before the one in use (None: unchanged). A
        reading of the same server whose clock moved against this host's monotonic clock by more than
        REDIS_CLOCK_STEP_S since the last is logged (redis_clock_stepped): every key expires by Redis's clock."""
        if reading is None or reading.began <= self._clock_began:
            return
        # (_redis_minus_mono is kept through clock_went_back's forced re-read)
        step_s, self._redis_minus_mono = redis_clock_step(self._redis_minus_mono, reading)
        if step_s is not None:
            self.log.error("redis_clock_stepped", step_s=round(step_s, 3), redis=str(reading.server),
                           uncertainty_s=round(reading.uncertainty_s, 3), detail=redis_clock_step_detail(step_s))
        self._clock_began = reading.began
        self._redis_clock_uncertainty_s, self._redis_clock_ahead_s = reading.uncertainty_s, reading.ahead_s
        self._wall_minus_mono_s, self._clock_server = reading.wall_minus_mono_s, reading.server

    def take_housekeeping(self) -> None:
        """Take up what the housekeeping thread read since the last call (no Redis call: the decisions never wait for
        one of its readings, nor see half of one)."""
        keeper = self._housekeeper
        assert keeper is not None
        # Whether it ended, asked before its readings are: one found ended has set all it ever will (its last reading,
        # what ended it), taken up below before it is replaced.
        ended = not keeper.thread.is_alive() and not keeper.stopped
        now = (keeper.clock, keeper.start, keeper.memory, keeper.writable, keeper.failed)
        last, self._taken = self._taken, now
        for keep, reading, before in zip((self.keep_clock, self.keep_start, self.keep_memory, self.keep_writable,
                                          self.housekeeping_failed), now, last):
            if reading is not before and reading is not None:
                keep(reading)
        # No sooner than MEMORY_READ_S after it started (the readings' own interval): a thread that ends at once each
        # time was started again at every turn, 10 connections to Redis and traceback lines a second.
        if ended and time.monotonic() - keeper.started >= MEMORY_READ_S:
            self.restart_housekeeping(keeper)

    def start_backfill(self) -> MarkerBackfill:
        replicas = self.settings.replicas_to_wait(self.topology.redis)
        wait_s = (self.settings.wait_timeout_ms + WAIT_LATE_MS) / 1000.0 if replicas else 0.0
        return MarkerBackfill(self.redis.sibling(max(self.topology.redis.timeout_ms / 1000.0, BACKFILL_CALL_TIMEOUT_S)
                                                 + wait_s), self.settings, replicas)

    def take_backfill(self) -> None:
        """Say what the start-up backfill did once it ends (permitted_markers_backfilled) and count the markers it wrote;
        one that failed is said (permitted_markers_backfill_failed) and made again BACKFILL_RETRY_S after it began."""
        job = self._backfill
        if job is None or not job.done:
            return
        if not job.reported:
            job.reported = True
            counts = job.counts
            MARKERS_BACKFILLED.inc(counts.written)
            fields = dict(scanned=counts.scanned, with_permit=counts.with_permit, written=counts.written,
                          already_present=counts.already_present, hold=counts.hold, gone=counts.gone,
                          skipped=dict(counts.skipped), skipped_keys=counts.skipped_keys)
            if job.error is None:
                self.log.info("permitted_markers_backfilled", **fields)
                self._backfill = None
                return
            if job.refused:
                self.log.error("permitted_markers_backfill_refused", error=job.error, **fields,
                               detail="Redis refuses the permit issuer's user a command of the backfill (SCAN, INFO, "
                                      "EXISTS, GET, PTTL, SET): plan_ids an issuer before the permitted-plan marker permitted "
                                      "can get a second permit once their decision expires; allow that user those "
                                      "commands, or run `clustergate backfill-permits` as a user allowed them")
                self._backfill = None
                return
            self.log.warning("permitted_markers_backfill_failed", error=job.error, **fields,
                             detail=f"made again {BACKFILL_RETRY_S:g} s after it began; or run `clustergate "
                                    f"backfill-permits`")
        if time.monotonic() - job.started >= BACKFILL_RETRY_S:
            self._backfill = self.start_backfill()

    def restart_housekeeping(self, ended: Housekeeper) -> None:
        """The housekeeping thread ended unasked (what ended it is logged by housekeeping_failed): without it the issuer
        would keep its last readings for good (Redis's clock, whether it takes writes or may evict keys) and stay ready
        on them. Counted as a timer's error, said, and another thread started on a new connection (take_housekeeping: no
        sooner than MEMORY_READ_S after the one that ended started)."""
        self._errors_timer.inc()
        self.log_throttled("error", "housekeeping_stopped", "housekeeping",
                           detail="the permit issuer's housekeeping thread ended: started again")
        ended.started = time.monotonic()  # a start that fails (no thread to be had) is tried again MEMORY_READ_S on
        self._housekeeper = Housekeeper(self.redis.sibling(self.topology.redis.timeout_ms / 1000.0), ended.writable)
        self._taken = (None, None, None, ended.writable, None)

    def housekeeping_failed(self, trace: str) -> None:
        """A reading of the housekeeping thread raised (counted and logged as a timer's error would be)."""
        self._errors_timer.inc()
        self.log.error("handler_error", where="housekeeping", error=trace.strip().splitlines()[-1], trace=trace)

    def read_redis_memory(self) -> None:
        """Read INFO memory now, on the decisions' connection (keep_memory)."""
        self.keep_memory(read_memory(self.redis))

    def keep_memory(self, reading: MemoryReading) -> None:
        """Export Redis's memory use and limit (alert ClustergateRedisMemoryHigh) and the time of the reading, and keep
        whether it may evict keys; a reading that began before the last one taken up is dropped. A value not read
        (Redis down, INFO refused, the field missing) is NaN: the last reading, kept, showed as current."""
        if reading.began <= self._memory_began:
            return
        self._memory_began = reading.began
        if reading.refused is not None and self._evicting is None:
            self.note_eviction_unchecked(reading.refused)
        fields = dict(line.split(":", 1) for line in reading.info.splitlines() if ":" in line)
        for name, gauge in (("used_memory", REDIS_USED_MEMORY), ("maxmemory", REDIS_MAXMEMORY)):
            try:
                gauge.set(int(fields[name]))
            except (KeyError, ValueError):
                gauge.set(math.nan)
        if reading.info:
            REDIS_MEMORY_READ.set(reading.at)
            self.note_eviction(eviction_hazard(fields), fields.get("maxmemory_policy", "unknown"))

    def note_eviction(self, hazard: str | None, policy: str) -> None:
        """Keep whether Redis may evict keys (eviction_hazard; unchanged while INFO is not read): while it may, the
        issuer is not ready and records no decision (record), and exports why (REDIS_MAY_EVICT: `clustergate status`
        names the policy)."""
        if policy != self._policy and self._policy is not None:
            REDIS_MAY_EVICT.remove(self._policy)
        self._policy = policy
        REDIS_MAY_EVICT.labels(policy=policy).set(1 if hazard else 0)
        if hazard and hazard != self._evicting:
            self.log.error("redis_may_evict", detail=hazard[:300] + ": every decision is HOLD redis_unavailable, "
                                                                    "nothing written, until Redis stops evicting")
        elif not hazard and self._evicting:
            self.log.info("redis_noeviction_again")
        self._evicting = hazard
        self.update_ready()

    def check_policy_before_load(self) -> None:
        """Redis lost the decision script (restarted, or a replica promoted; nothing ran yet): read its policy
        before the first write there, MayEvict if it may evict keys (a Redis restarted with allkeys-lru had
        decisions written for up to 5 s, until the periodic reading)."""
        self.read_redis_memory()
        if self._evicting is not None:
            raise MayEvict()

    def note_eviction_unchecked(self, refusal: str) -> None:
        """Say, once, that Redis refused INFO, so whether it may evict keys is not checked (the issuer stays ready and
        decides): REDIS_MAY_EVICT{policy="unchecked"} NaN, which `clustergate status` notes."""
        if self._policy != UNCHECKED:
            self.log.warning("redis_eviction_unchecked", error=refusal[:300],
                             detail="Redis refused INFO: whether its maxmemory-policy may evict decisions (a plan_id "
                                    "decided twice) is not checked; allow this Redis user +info")
            if self._policy is not None:
                REDIS_MAY_EVICT.remove(self._policy)
            self._policy = UNCHECKED
        REDIS_MAY_EVICT.labels(policy=UNCHECKED).set(math.nan)

    def update_ready(self) -> None:
        """Ready only while Redis takes writes (keep_writable) and may evict no key (note_eviction)."""
        self.set_ready(self._not_writable is None and self._evicting is None)

    def keep_start(self, reading: StartReading) -> None:
        """Export when the Redis this issuer talks to started (alert ClustergateRedisRestarting: the actors outlive a
        Redis restart, so their own start times never show one). One series, labelled with the server: after a
        failover the new primary's replaces it. Redis down, or no start time in its reply: no reading, the last start
        kept, not NaN as the memory gauges (changes() would count a value, NaN and the same value again as two
        restarts)."""
        if reading.server != self._started_server and self._started_server is not None:
            REDIS_STARTED.remove(self._started_server)
        self._started_server = reading.server
        REDIS_STARTED.labels(server=reading.server).set(reading.started_s)

    def keep_writable(self, reading: WritableReading) -> None:
        """Ready only while Redis takes writes: a Redis that answers reads but refuses writes (a failover left
        the issuer on the old primary) makes every decision HOLD redis_unavailable while the gate stays ready.
        Checked every MEMORY_READ_S; while refused, every WRITABLE_RECHECK_S (UNREACHABLE_RECHECK_S: no answer)."""
        refused = reading.refused
        if refused and self._not_writable is None:
            self.log.error("redis_not_writable", error=refused[:300],
                           detail="every decision is HOLD redis_unavailable until Redis takes writes (is the "
                                  "topology's Redis a replica since a failover, or full?)")
        elif not refused and self._not_writable is not None:
            self.end_throttled("redis_unavailable")  # the refusals' last counts before the line saying they ended
            self.log.info("redis_writable_again")
        self._not_writable = refused
        self.update_ready()

    def serve(self, frames: list[bytes]) -> dict[str, Any] | bytes:
        """handle() of a request signed with the topology's Redis password, its reply signed for that request
        (issuer_reply_key); any other request is refused unauthorized, that reply unsigned."""
        body = verified_issuer_request(frames[0], self._key) if len(frames) == 1 else None
        if body is None:
            return self.unauthorized()
        reply = self.handle([body])
        return signed_issuer_request(reply if type(reply) is bytes else self.encode_reply(reply),
                                     issuer_reply_key(self._key, frames[0]))

    def handle(self, frames: list[bytes]) -> dict[str, Any] | bytes:
        """The reply to a request (serve() has checked its signature when the topology's Redis has a password)."""
        try:
            if len(frames) != 1:
                raise ValueError(f"expected 1 frame, got {len(frames)}")
            request = decode_internal(frames[0])
            items, batch, deadline = check_request(request)
            deadline_mono = checked_deadline(request.get("deadline_mono"), "request", "deadline_mono", MONOTONIC_UNIT)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            self._requests["bad_request"](1)
            return error_envelope("bad_request", str(exc)[:300])
        if deadline_mono is not None:
            # The gate's deadline by the monotonic clock the two share (one host): a step of the wall clock since the
            # gate set its deadline_epoch (while this request waited for the issuer) would move it by the step.
            stepped = time.time() + (deadline_mono - time.monotonic())
            if deadline is not None and abs(stepped - deadline) > WALL_STEP_REREAD_S:
                # The items' own deadlines (their clients', by the wall clock when the gate set deadline_epoch) move
                # by that step too: stepped back 2 s, a decision was written 2 s past its client's deadline at most.
                # (Under WALL_STEP_REREAD_S the two differ by the gate's two clock reads alone: no step, no new list.)
                shift = stepped - deadline
                items = [(decision, seen, own if own is None else own + shift) for decision, seen, own in items]
            deadline = stepped
        if deadline is not None and time.time() > deadline:
            # The gate has given up on this request (it answered permit_unavailable): issue nothing.
            self._requests["expired"](len(items))
            return error_envelope("expired", "the gate's deadline passed before the request was read")
        # "compact": the gate knows what it sent, so a written decision's result need not carry it back.
        results = self.record(items, deadline, compact=request.get("compact") is True)
        if not batch:
            return results[0]
        return b'{"status":"ok","results":[' + (results[0] if len(results) == 1 else b",".join(results)) + b"]}"

    def unauthorized(self) -> dict[str, Any]:
        """The refusal of a request not signed with the topology's Redis password: nothing is written. A gate's own
        request is refused so when the gate was given another password than the issuer: both say which variable."""
        self._requests["unauthorized"](1)
        variable = self.topology.redis.password_env
        self.log_throttled("warning", "unauthorized_request", detail=f"a request not signed with this issuer's Redis "
                           f"password (${variable}) was refused: from a process without it, or from a gate whose "
                           f"${variable} differs from this issuer's")
        return error_envelope("unauthorized", f"nothing was written: the request is not signed with the permit "
                              f"issuer's Redis password (${variable}); only a gate of this topology may ask for "
                              f"permits, and a gate given another ${variable} than its issuer's is refused so")

    def record(self, items: list[tuple[dict[str, Any], str, float | None]],
               deadline: float | None = None, compact: bool = False, again: bool = True) -> list[bytes]:
        """Run the script for each (decision, cooldown_seen, own deadline) in one pipelined round trip, in
        order; the encoded result envelope of each. Nothing is written after the item's own deadline, else
        `deadline` (epoch s by this host's clock, compared by the script on Redis's clock, corrected by the
        measured offset between the two). `again`: the items the script refused for a clock that moved since the
        reading, with their deadline not passed, run once more on a new reading (record_again). Nothing is written
        while Redis may evict keys (eviction_hazard): every item is refused evicting_policy."""
        if self._evicting is not None:
            return self.refused_for_eviction(items)
        try:
            if self.redis.connected() != self._clock_server:
                # Another server than the one whose clock was read: a failover, whose new primary's clock may be
                # seconds off the old one's (ahead: every decision refused as expired until the next reading, up
                # to 5 s; behind: written after its deadline). Read it before the first write there.
                self.read_redis_clock()
        except RedisUnavailable as exc:  # from connected(): nothing was sent
            return self.unavailable(items, NotSent(str(exc)))
        mono = time.monotonic()  # read in the order the reading read them
        wall = time.time()
        step_s = wall_step_s(self._wall_minus_mono_s, wall - mono)
        if abs(step_s) > WALL_STEP_REREAD_S:
            # This host's wall clock stepped since the reading. Redis's clock stepped with it when Redis runs on this
            # host (production.yaml), not when it runs elsewhere: read it again rather than guess (taking every step
            # for one Redis had not made put the deadline 3 s early after a 3 s step forward, refusing every decision
            # until the next reading, and 3 s late after a step back). Redis unreachable: the guess stands.
            self.read_redis_clock()
            mono = time.monotonic()
            wall = time.time()
            step_s = wall_step_s(self._wall_minus_mono_s, wall - mono)
        sent_wall_minus_mono_s = wall - mono  # a refused item's deadline is judged by the monotonic clock
        within_s = self._redis_clock_uncertainty_s
        # Still stepped (the reading failed): an external Redis's clock is that much less ahead of this host's.
        ahead_s = self._redis_clock_ahead_s - step_s
        deadline_ms = str(script_deadline_ms(deadline, ahead_s, within_s)) if deadline else "0"
        # The earliest Redis's clock can read when a script sent now runs: one reading earlier went back meanwhile
        # (a step while a stalled Redis held the script), which would put its deadline late by the step.
        sent_floor_ms = str(script_deadline_ms(wall - CLOCK_BACK_MARGIN_S, ahead_s, within_s)) if deadline else "0"
        payload = self._script_payload
        built = [
            # An item's own deadline only ever shortens the request's.
            payload(decision, seen, deadline_ms if own is None
                    else str(script_deadline_ms(own if not deadline else min(own, deadline), ahead_s, within_s)),
                    sent_floor_ms)
            for decision, seen, own in items]
        started = time.perf_counter()
        try:
            # Only to the server whose clock set the deadlines (another, if the reading failed or a failover came
            # in between: nothing sent, redis_unavailable).
            replies, acked = record_payloads_and_wait(self.redis, list(map(_first, built)), self._wait,
                                                      self._clock_server, self._check_policy_before_load)
        except RedisUnavailable as exc:
            return self.unavailable(items, exc)
        except MayEvict:
            return self.refused_for_eviction(items)
        finally:
            self._observe_write(time.perf_counter() - started)
        out, unacked, permits, counts = [], 0, 0, {}
        misread: list[int] = []  # the items refused for a clock that moved since the reading, with time left
        for (decision, _, own), (_, stored), reply in zip(items, built, replies):
            if compact and type(reply) is list and reply and reply[0] == "written":  # the usual one, as outcome has it
                permit_issued = decision["final_action"] != "HOLD" and reply[1] != PERMIT_KEPT
                result, envelope = "written", WRITTEN_COMPACT[permit_issued]
            else:
                if again and clock_misread(reply, own, deadline, sent_wall_minus_mono_s):
                    misread.append(len(out))
                    out.append(b"")
                    continue
                if type(reply) is list and reply and reply[0] == "expired":
                    reply = expired_by(reply, item_deadline_s(own, deadline), ahead_s, within_s)  # type: ignore[arg-type]
                try:  # each item's reply is its own: a failure here never reaches the others of the batch
                    result, envelope, permit_issued = outcome(decision, stored, reply, compact)
                except Exception as exc:
                    result, permit_issued = INTERNAL_ERROR, False
                    envelope = encode(error_envelope(INTERNAL_ERROR, (
                        f"outcome unknown: the script ran but its reply could not be read ({type(exc).__name__})")))
                if type(reply) is list and reply and reply[0] == "clock_went_back":
                    self.clock_went_back(reply[1])
            if acked is not None and result in ("written", "replayed"):
                result, envelope = unacknowledged(result, permit_issued, acked, self._wait)
                unacked += 1
            counts[result] = counts.get(result, 0) + 1
            permits += permit_issued
            if result == "bad_key_type" and not self.first_of_key_type(reply[1]):
                pass  # logged when this key was first found of another type
            elif result not in _NOT_LOGGED:
                self.log_throttled("warning", result, redis_error_code(reply), plan_id=decision["plan_id"],
                                   detail=envelope[:300].decode(errors="replace"))
            elif result == "written" and self._bad_keys:
                self.key_types_right_again(decision)
            out.append(envelope)
        for result, count in counts.items():  # once per result of the batch, not per decision
            self._requests[result](count)
        if permits:
            self._count_permits(permits)
        if unacked:
            self.log_throttled("warning", "replica_unacknowledged", decisions=unacked,
                               first_plan_id=items[0][0]["plan_id"],
                               acked=acked if isinstance(acked, int) else str(acked)[:300],
                               wanted=self._wait.replicas if self._wait else 0)
        if misread:
            self.record_again(items, replies, misread, out, deadline, compact)
        return out

    def record_again(self, items: list[tuple[dict[str, Any], str, float | None]], replies: list[Any],
                     misread: list[int], out: list[bytes], deadline: float | None, compact: bool) -> None:
        """Put in `out` the results of the items at `misread`, which the script refused for Redis's clock alone (it
        moved since the issuer read it: an external Redis's host stepped by its NTP between two readings) with their
        deadline not passed by this host's monotonic clock: nothing of theirs was written, so Redis's clock is read
        again and they run once more, in order. A step met while Redis held the script comes with the deadline passed:
        refused as before."""
        for index in misread:
            reply = replies[index]
            if reply[0] == "clock_went_back":
                self.clock_went_back(reply[1])
            else:
                level, detail = redis_clock_ahead_log(reply[1], self._redis_clock_uncertainty_s)
                self.log_throttled(level, "redis_clock_ahead", level, late_ms=reply[1], redis=str(self.redis.server),
                                   uncertainty_ms=round(self._redis_clock_uncertainty_s * 1000, 1), detail=detail)
        self.read_redis_clock()
        for index, result in zip(misread, self.record([items[i] for i in misread], deadline, compact, again=False)):
            out[index] = result

    def clock_went_back(self, by_ms: str) -> None:
        """A script found Redis's clock behind where it was when the script was sent: read it again before the next
        write (the offset now in use is off by that much), and say so."""
        self._clock_server = None
        self._clock_began = time.monotonic()  # a reading begun before this finding (the thread's) is not taken up
        self.log_throttled("warning", "redis_clock_went_back", behind_ms=by_ms, redis=str(self.redis.server),
                           detail="Redis's clock read earlier than it could when the script was sent (its wall clock "
                                  "stepped back, or drifted, while the script waited): nothing was written (expired)")

    def unavailable(self, items: list[tuple[dict[str, Any], str, float | None]], exc: RedisUnavailable) -> list[bytes]:
        """The result of every item of a request whose write Redis did not take (NotSent: `nothing_written`) or may not
        have (outcome unknown)."""
        self._requests["redis_unavailable"](len(items))
        self.log_throttled("warning", "redis_unavailable", "request", decisions=len(items),
                           first_plan_id=items[0][0]["plan_id"], error=str(exc))
        if isinstance(exc, NotSent):  # Redis ran none of it: the gate's HOLD says nothing was recorded
            failed = nothing_written(str(exc))
        else:
            failed = encode(error_envelope("redis_unavailable", str(exc)[:300]))
        return [failed] * len(items)

    def refused_for_eviction(self, items: list[tuple[dict[str, Any], str, float | None]]) -> list[bytes]:
        """The result of every item of a request refused, before any write, because Redis may evict keys."""
        self._requests["evicting_policy"](len(items))
        return [encode(error_envelope("evicting_policy", f"nothing was written: {self._evicting}"))] * len(items)

    def first_of_key_type(self, detail: str) -> bool:
        """Whether a bad_key_type detail ("KEY is a TYPE, expected a TYPE") is new: logged once per key, not per
        decision (a gate stream of another type refuses every one), until a decision writing that key is written."""
        key = detail.rsplit(" is a ", 1)[0]
        if self._bad_keys.get(key) == detail:
            return False
        if len(self._bad_keys) >= MAX_BAD_KEYS_KEPT:  # plan_ids are any client's: keep a bounded number
            self._bad_keys.clear()
        self._bad_keys[key] = detail
        return True

    def key_types_right_again(self, decision: dict[str, Any]) -> None:
        plan_id = decision["plan_id"]
        for key in (keys.plan_decision(plan_id), keys.GATE_STREAM, keys.permit(plan_id), keys.cooldown(decision["symbol"]),
                    keys.permitted_plan(plan_id)):
            if self._bad_keys.pop(key, None) is not None:
                self.log.info("key_type_right_again", key=key)


@dataclass(frozen=True, slots=True)
class WaitFor:
    """WAIT numreplicas timeout, sent after the scripts."""

    replicas: int
    timeout_ms: int


def wait_for_replicas(settings: PermitIssuerSettings, redis: RedisConfig) -> WaitFor | None:
    """What to WAIT for after each pipeline of scripts; None: no WAIT (no replicas)."""
    replicas = settings.replicas_to_wait(redis)
    return WaitFor(replicas, settings.wait_timeout_ms) if replicas > 0 else None


def record_and_wait(client: RespClient, calls: list[tuple[Any, Any]],
                    wait: WaitFor | None) -> tuple[list[Any], int | ReplyError | None]:
    """record_commands_and_wait of (KEYS, ARGV) calls."""
    return record_commands_and_wait(client, [RECORD_DECISION.command(k, a) for k, a in calls], wait)


def record_commands_and_wait(client: RespClient, commands: list[tuple[Any, ...]],
                             wait: WaitFor | None) -> tuple[list[Any], int | ReplyError | None]:
    """record_payloads_and_wait of EVALSHA commands (RECORD_DECISION.command, script_command)."""
    return record_payloads_and_wait(client, [encode_commands((command,)) for command in commands], wait)


def redis_error_code(reply: Any) -> str | None:
    """The code of a Redis error reply (READONLY, NOREPLICAS, LOADING, from Redis's own small set), else None: each
    code is a spell of its own in log_throttled, so that another fault's first refusal is logged at once."""
    return str(reply).split(" ", 1)[0][:32] if isinstance(reply, ReplyError) else None


def record_payloads_and_wait(client: RespClient, payloads: list[bytes], wait: WaitFor | None,
                             server: tuple[str, int] | str | None = None,
                             before_load: Callable[[], None] | None = None) -> tuple[list[Any], int | ReplyError | None]:
    """(the script's reply per EVALSHA command, each given as its RESP bytes, None) from
    RECORD_DECISION.run_payloads without `wait`. With it, the same pipelined write ends with PUBLISH on keys.WAIT_MARK_CHANNEL and WAIT: the
    PUBLISH is replicated, so it moves this connection's replication offset to the end of everything written so
    far (WAIT waits for that offset), a decision that another connection wrote and this one replays included. Returns
    (replies, None) when the replicas acknowledged it, else (replies, how many did), or (replies, the
    ReplyError) when Redis refused the PUBLISH (then WAIT may not cover a replay) or the WAIT (e.g. the
    client is connected to a replica). With `server`, sent only to that server (RespClient.pipeline_raw);
    `before_load` as Script.run_payloads takes it."""
    if wait is None:
        return RECORD_DECISION.run_payloads(client, payloads, server, before_load), None
    tail = [("PUBLISH", keys.WAIT_MARK_CHANNEL, "1"), ("WAIT", wait.replicas, wait.timeout_ms)]
    replies = client.pipeline_raw(b"".join(payloads) + encode_commands(tail), len(payloads) + len(tail), server)
    scripts, marked, acked = replies[:len(payloads)], replies[-2], replies[-1]
    missing = RECORD_DECISION.noscript(scripts)
    if missing:  # Redis restarted or failed over: load the script with EVAL, waited for as the first round was
        if before_load is not None:
            before_load()
        # ... but not after a WAIT that fell short (a replica still resyncing after the restart): a second full
        # WAIT would double the batch's time past the gate's patience, and these decisions are unacknowledged.
        again_tail = tail if isinstance(acked, int) and acked >= wait.replicas else []
        again = after_a_first_round(client.pipeline_raw, b"".join([RECORD_DECISION.eval_payload(payloads[i])
                                                                    for i in missing]) + encode_commands(again_tail),
                                    len(missing) + len(again_tail), server)
        for i, reply in zip(missing, again):
            scripts[i] = reply
        if again_tail:
            marked, acked = again[-2], again[-1]
    if isinstance(marked, ReplyError):  # e.g. NOPERM: an ACL user without the channel
        return scripts, ReplyError(f"PUBLISH {keys.WAIT_MARK_CHANNEL} refused: {marked}")
    if isinstance(acked, ReplyError):  # e.g. WAIT sent to a replica, or to a primary demoted while it waited
        return scripts, ReplyError(f"WAIT refused: {acked}")
    acked = acked if isinstance(acked, int) else 0
    return scripts, None if acked >= wait.replicas else acked


def unacknowledged(result: str, permit_issued: bool, acked: int | ReplyError,
                   wait: WaitFor | None) -> tuple[str, bytes]:
    """The result of a decision that is on the Redis server but that too few replicas acknowledged, or whose
    wait Redis refused (with its `written` and `permit_issued`, so the gate still counts what was written)."""
    wanted, timeout_ms = (wait.replicas, wait.timeout_ms) if wait else (1, 0)
    held = "written" if result == "written" else "stored"
    if isinstance(acked, ReplyError):
        why = (f"the decision is {held} on the issuer's Redis, but Redis refused to wait for its replicas "
               f"({str(acked)[:160]}), so no replica is known to have it")
    else:
        why = (f"the decision is {held} on the Redis primary, but {acked} of the {wanted} replica(s) asked for "
               f"acknowledged it within {timeout_ms} ms, so a failover could lose it")
    return "replica_unacknowledged", encode({
        **error_envelope("replica_unacknowledged", (
            f"outcome unknown: {why}; resubmit the same plan_id: "
            f"its decision is answered recorded once a replica has it")),
        "written": result == "written", "permit_issued": permit_issued})


@dataclass(frozen=True, slots=True)
class ScriptArgs:
    """The settings RECORD_DECISION takes, as its string arguments."""

    decision_ttl: str
    hold_ttl: str
    stream_cap: str
    permit_ttl: str
    cooldown_ttl: str
    retention_ms: str
    permitted_ttl: str = str(PermitIssuerSettings().permitted_plan_ttl_s)


def script_args(s: PermitIssuerSettings) -> ScriptArgs:
    """RECORD_DECISION's settings for an issuer: the stream keeps every record younger than the longest permit or
    cooldown TTL, so no live permit or cooldown loses the decision that set it."""
    return ScriptArgs(decision_ttl=str(s.decision_ttl_s), hold_ttl=str(s.hold_decision_ttl_s),
                      stream_cap=str(s.stream_maxlen), permit_ttl=str(s.permit_ttl_s), cooldown_ttl=str(s.cooldown_ttl_s),
                      retention_ms=str(1000 * max(s.permit_ttl_s, s.cooldown_ttl_s)),
                      permitted_ttl=str(s.permitted_plan_ttl_s))


def stored_form(decision: dict[str, Any], issue: bool) -> bytes:
    """The compact JSON kept under the plan_id (about 250 bytes; the full record was about 550), with a
    random write_id so the script tells this request's own write (re-sent) from a replay."""
    stored = {k: v for k, v in decision.items() if k not in _NOT_STORED}
    try:
        stored["m"] = list(_metric_values(decision))
    except KeyError:  # a metric left out: null
        stored["m"] = list(map(decision.get, METRIC_FIELDS))
    stored["permit"] = issue
    stored["write_id"] = "%016x" % _write_id()
    return encode_internal(stored)


_NOT_STORED = frozenset(DERIVED_FIELDS + METRIC_FIELDS)
_metric_values = itemgetter(*METRIC_FIELDS)


# write_id only tells this request's own write from another (2^-64 to collide), so it needs no system call
# per decision (os.urandom was one): a generator seeded once from os.urandom.
_write_ids = random.Random(os.urandom(32))
_write_id = partial(_write_ids.getrandbits, 64)
_first = itemgetter(0)


def from_stored(stored: dict[str, Any], plan_id: str) -> dict[str, Any]:
    """The decision as first answered, from its stored form (compact, or the full form stored before)."""
    decision = {k: v for k, v in stored.items() if k not in ("m", "write_id")}
    metrics = stored.get("m")
    if isinstance(metrics, list):
        decision.update(zip(METRIC_FIELDS, metrics))
    permit = stored.get("permit") is True
    decision.update(plan_id=plan_id, permit=permit, permit_key=keys.permit(plan_id) if permit else None,
                    replayed=True, recorded=True)
    return decision


def script_call(decision: dict[str, Any], seen: str, args: ScriptArgs,
                deadline_ms: str = "0") -> tuple[tuple[Any, ...], tuple[Any, ...], bytes]:
    """(KEYS, ARGV, stored decision JSON) of RECORD_DECISION for one decision."""
    command = script_command(decision, seen, args, deadline_ms)
    return command[3:8], command[8:], command[8]


def script_command(decision: dict[str, Any], seen: str, args: ScriptArgs, deadline_ms: str = "0",
                   stored: bytes | None = None, sent_floor_ms: str = "0") -> tuple[Any, ...]:
    """RECORD_DECISION's EVALSHA command for one decision, built in one tuple (RECORD_DECISION.command(KEYS,
    ARGV) of script_call); the stored decision JSON (`stored`, else a new stored_form) is its ARGV[1], command[8].
    sent_floor_ms: the earliest Redis's clock can read when the script runs (epoch ms, "0": not checked)."""
    plan_id = decision["plan_id"]
    issue = decision["final_action"] != "HOLD"
    try:
        values = _stream_fields(decision)
    except KeyError:  # a field left out: sent as ""
        values = None
    if values is None or not _PLAIN_TYPES.issuperset(map(type, values)):
        values = stream_values(decision)
    return ("EVALSHA", RECORD_DECISION.sha, 5,
            keys.plan_decision(plan_id), keys.GATE_STREAM, keys.permit(plan_id), keys.cooldown(decision["symbol"]),
            keys.permitted_plan(plan_id),
            stored_form(decision, issue) if stored is None else stored, args.decision_ttl if issue else args.hold_ttl,
            args.stream_cap, args.permit_ttl, args.cooldown_ttl, "1" if issue else "0", seen, deadline_ms,
            args.retention_ms, sent_floor_ms, args.permitted_ttl, *values)


def _bulk(text: str) -> str:
    """One RESP bulk string, for ASCII text (its length in characters is its length in bytes)."""
    return f"${len(text)}\r\n{text}\r\n"


class _ValueChunks(dict):
    """A stream value's RESP bulk string by value, for a str, a float or None (the text `_arg` sends: the str,
    the float's repr; "" for None, as stream_values sends it). A decision's metrics, actions and reason repeat
    from decision to decision and a float's repr costs most of its encoding, so chunks are kept: those of ASCII
    text, None and a float other than zero and NaN. ScriptPayload looks up no int (1 would find 1.0's chunk),
    and no zero is kept (0.0 would find -0.0's); a NaN, equal to nothing, would never be found. At most
    MAX_KEPT are kept, then all forgotten (a client's every kill_score, say, takes no more room), and no text
    longer than MAX_KEPT_CHARS (a symbol, a reason): text from whatever reaches the issuer's socket (16 MB a
    request) would otherwise stay held."""

    MAX_KEPT = 1024
    MAX_KEPT_CHARS = 64

    def __missing__(self, value: Any) -> str:
        chunk = _bulk(f"{value}")
        if (len(value) <= self.MAX_KEPT_CHARS and value.isascii() if type(value) is str
                else value == value and value != 0.0):
            if len(self) >= self.MAX_KEPT:
                self.clear()
                self[None] = _bulk("")
            self[value] = chunk
        return chunk


_VALUE_CHUNKS = _ValueChunks({None: _bulk("")})
_value_chunk = _VALUE_CHUNKS.__getitem__
_CHUNKED_TYPES = frozenset((str, float, type(None)))
# STREAM_FIELDS after plan_id (sent in the template) with ts_epoch (an int, formatted apart) at TS_AT.
_stream_fields_after_plan_id = itemgetter(*STREAM_FIELDS[1:])
_TS_AT = STREAM_FIELDS.index("ts_epoch") - 1
# The keys of one plan_id and of one symbol are a fixed prefix and the name (launcher.keys spells them).
_DECISION_KEY, _PERMIT_KEY, _COOLDOWN_KEY = keys.plan_decision(""), keys.permit(""), keys.cooldown("")
_PERMITTED_KEY = keys.permitted_plan("")
_KEYS_ARE_PREFIXED = (keys.plan_decision("p") == _DECISION_KEY + "p" and keys.permit("p") == _PERMIT_KEY + "p"
                      and keys.cooldown("s") == _COOLDOWN_KEY + "s" and keys.permitted_plan("p") == _PERMITTED_KEY + "p"
                      and STREAM_FIELDS[0] == "plan_id")


class ScriptPayload:
    """RECORD_DECISION's EVALSHA command for one decision as RESP bytes, with its stored decision JSON (`build`):
    the bytes encode_commands gives for script_command's tuple, written from a template of the arguments every
    decision shares (hiredis's pack_command formatted each of the 29 arguments (32 since) with sprintf and a repr per float:
    50,000 instructions a decision, issue 14). A decision the template does not take (text outside ASCII, a value
    other than a str, float or None, an int ts_epoch excepted, or a stream field left out) takes script_command
    and encode_commands."""

    def __init__(self, args: ScriptArgs):
        self.args = args
        argc = 3 + 5 + 11 + len(STREAM_FIELDS)  # EVALSHA sha numkeys, KEYS, ARGV before the stream values, values
        self._head = f"*{argc}\r\n" + _bulk("EVALSHA") + _bulk(RECORD_DECISION.sha) + _bulk("5")
        self._stream = _bulk(keys.GATE_STREAM)
        # After the stored decision: its TTL, the stream cap, the permit and cooldown TTLs, issue.
        self._settings = {issue: "\r\n" + "".join(map(_bulk, (args.decision_ttl if issue else args.hold_ttl,
                                                              args.stream_cap, args.permit_ttl, args.cooldown_ttl,
                                                              "1" if issue else "0")))
                          for issue in (True, False)}
        self._seen = {seen: _bulk(seen) for seen in (SEEN_NONE, SEEN_IN_REDIS, SEEN_FROM_BATCH)}
        self._retention = _bulk(args.retention_ms)
        self._permitted_ttl = _bulk(args.permitted_ttl)

    def build(self, decision: dict[str, Any], seen: str, deadline_ms: str = "0",
              sent_floor_ms: str = "0") -> tuple[bytes, bytes]:
        plan_id = decision["plan_id"]
        issue = decision["final_action"] != "HOLD"
        stored = stored_form(decision, issue)
        try:
            values = _stream_fields_after_plan_id(decision)
        except KeyError:
            values = ()
        ts = values[_TS_AT] if values else None
        chunked = values[:_TS_AT] + values[_TS_AT + 1:]
        if (type(ts) is int and type(plan_id) is str and _CHUNKED_TYPES.issuperset(map(type, chunked))
                and type(chunked[0]) is str and _KEYS_ARE_PREFIXED and seen in self._seen):
            symbol, n, ts_text = chunked[0], len(plan_id), f"{ts}"
            chunks = list(map(_value_chunk, chunked))
            chunks.insert(_TS_AT, f"${len(ts_text)}\r\n{ts_text}\r\n")
            head = (f"{self._head}${len(_DECISION_KEY) + n}\r\n{_DECISION_KEY}{plan_id}\r\n{self._stream}"
                    f"${len(_PERMIT_KEY) + n}\r\n{_PERMIT_KEY}{plan_id}\r\n"
                    f"${len(_COOLDOWN_KEY) + len(symbol)}\r\n{_COOLDOWN_KEY}{symbol}\r\n"
                    f"${len(_PERMITTED_KEY) + n}\r\n{_PERMITTED_KEY}{plan_id}\r\n${len(stored)}\r\n")
            tail = (f"{self._settings[issue]}{self._seen[seen]}${len(deadline_ms)}\r\n{deadline_ms}\r\n"
                    f"{self._retention}${len(sent_floor_ms)}\r\n{sent_floor_ms}\r\n{self._permitted_ttl}"
                    f"${n}\r\n{plan_id}\r\n"
                    + "".join(chunks))
            if head.isascii() and tail.isascii():
                return head.encode() + stored + tail.encode(), stored
        return encode_commands((script_command(decision, seen, self.args, deadline_ms, stored, sent_floor_ms),)), stored


# What makes two proposals the same: a plan_id resubmitted with other values is a conflict, not a replay.
PROPOSAL_IDENTITY = ("symbol", "action_proposed", "kill_score")


# A written decision's result without the decision (the gate's "compact" requests): the gate builds the
# recorded decision from the one it sent, as `outcome` would (permit, permit_key, replayed, recorded).
WRITTEN_COMPACT = {True: b'{"status":"ok","written":true,"permit_issued":true}',
                   False: b'{"status":"ok","written":true,"permit_issued":false}'}


# Error replies Redis gives a script before it runs (LOADING, BUSY, MASTERDOWN) or at its first write, which fails it
# there (READONLY, NOREPLICAS, MISCONF: none can change while a script runs; OOM: checked at the first write alone):
# nothing of the script was written.
REFUSED_BEFORE_ANY_WRITE = frozenset(("READONLY", "NOREPLICAS", "MISCONF", "LOADING", "BUSY", "MASTERDOWN"))


def nothing_written(detail: str) -> bytes:
    """The redis_unavailable result of an item Redis wrote nothing of: the gate's fault HOLD says nothing was recorded."""
    return encode({**error_envelope("redis_unavailable", f"nothing was written: {detail}"[:300]), "nothing_written": True})


def plan_id_expired_detail(plan_id: str, permitted_at: Any) -> str:
    """The refusal of a plan_id resubmitted with no stored decision, its marker (the epoch second of its permit, by
    Redis's clock) alive: the decision expired, or its key was removed (by hand, or evicted); the script cannot tell
    which, so neither is claimed alone."""
    try:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(permitted_at)))
    except (TypeError, ValueError, OverflowError, OSError):
        when = "at a time not recorded"
    return (f"nothing was written: plan_id {plan_id} got a permit ({keys.permit(plan_id)}, issued {when}) and its "
            f"decision is no longer stored (it expired after decision_ttl_s, or was removed), so it cannot be given "
            f"back; the plan_id is never decided again (no second permit): use a new plan_id for a new proposal")


def outcome(decision: dict[str, Any], stored_json: str, reply: Any,
            compact: bool = False) -> tuple[str, bytes, bool]:
    """(result label, encoded result envelope, permit issued) of one script reply; compact: a written
    decision's envelope leaves the decision out (WRITTEN_COMPACT)."""
    if isinstance(reply, ReplyError) and str(reply).startswith("OOM"):  # refused at the first write: none done
        return "out_of_memory", encode(error_envelope("out_of_memory", (
            "nothing was written: Redis is out of memory (used_memory above maxmemory, noeviction)"))), False
    if isinstance(reply, ReplyError):
        if redis_error_code(reply) in REFUSED_BEFORE_ANY_WRITE:
            return "redis_unavailable", nothing_written(str(reply)), False
        return "redis_unavailable", encode(error_envelope("redis_unavailable", str(reply)[:300])), False
    kind = reply[0]
    plan_id = decision["plan_id"]
    if kind == "written":
        issue = decision["final_action"] != "HOLD" and reply[1] != PERMIT_KEPT  # a permit left to expire: none issued
        if compact:
            return "written", WRITTEN_COMPACT[issue], issue
        return "written", encode(ok_envelope(written=True, permit_issued=issue, decision=recorded_form(decision))), issue
    if kind == "cooldown_conflict":
        return kind, encode(error_envelope(kind, f"cooldown of {decision['symbol']} changed after the gate read it")), False
    if kind == "bad_key_type":
        return kind, encode(error_envelope(kind, f"nothing was written: {reply[1]}"[:300])), False
    if kind == "expired":
        return kind, encode(error_envelope(kind, f"nothing was written: {expired_text(reply)}")), False
    if kind == "clock_went_back":  # counted and answered as expired: nothing written, the gate's deadline unjudged
        return "expired", encode(error_envelope("expired", (
            f"nothing was written: Redis's clock read {reply[1]} ms earlier than it could when the script was sent "
            f"(its wall clock stepped back while the script waited), so the gate's deadline could not be judged"))), False
    if kind == PLAN_ID_EXPIRED:
        return kind, encode(error_envelope(kind, plan_id_expired_detail(plan_id, reply[1]))), False
    if kind == "stream_full":
        return kind, encode(error_envelope(kind, (
            "nothing was written: the gate stream holds stream_maxlen records, all younger than the longest "
            "permit or cooldown TTL; trimming one could drop a live permit's record"))), False
    try:
        first = json.loads(reply[1])
    except (ValueError, RecursionError):  # NaN is read; nesting deeper than the stack is not
        first = None
    if not isinstance(first, dict):
        return "corrupt_decision", encode(error_envelope(
            "corrupt_decision", f"the stored decision of plan_id {plan_id} is not a JSON object")), False
    if any(first.get(name) != decision.get(name) for name in PROPOSAL_IDENTITY):
        return "plan_id_conflict", encode(error_envelope("plan_id_conflict", (
            f"plan_id {plan_id} was already decided for another proposal: "
            f"{json.dumps(first.get('symbol'))[:40]} {json.dumps(first.get('action_proposed'))[:40]} "
            f"kill_score {json.dumps(first.get('kill_score'))[:40]}; use a new plan_id"))), False
    first = from_stored(first, plan_id)
    if any(not isinstance(first.get(name), str) or not first[name] for name in REQUIRED_FIELDS):
        return "corrupt_decision", encode(error_envelope("corrupt_decision", (
            f"the stored decision of plan_id {plan_id} lacks one of {', '.join(REQUIRED_FIELDS)}"))), False
    # Only a permit its decision issued, and one that expires (PTTL -1: a key with no TTL, another writer's), has a
    # remaining time: -1 read as not null, a live permit by the docs' rule, and a HOLD's replay gave the TTL of a key
    # another writer left at its permit key (revscript).
    pttl = reply[2] if len(reply) > 2 else -2
    first["permit_ttl_ms"] = pttl if first["permit"] and isinstance(pttl, int) and pttl >= 0 else None
    try:
        envelope = encode(ok_envelope(decision=first, written=False, permit_issued=False))
    except ValueError:  # NaN or Infinity in a stored decision: JSON cannot carry it
        return "corrupt_decision", encode(error_envelope(
            "corrupt_decision", f"the stored decision of plan_id {plan_id} holds a value JSON cannot carry "
                                f"(NaN or Infinity)")), False
    return "replayed", envelope, False


if __name__ == "__main__":
    main(PermitIssuer)
