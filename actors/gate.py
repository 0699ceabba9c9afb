"""The gate (P2.6): answers every exit proposal with a decision, and a permit when the policy allows.

Proposals arrive on the `proposals` ROUTER socket (REQ and DEALER clients); those waiting together
are decided as one batch: the gate computes the portfolio metrics and the policy (pure functions
below) for each proposal in arrival order, and asks the permit issuer, the only writer, to record
all the decisions and issue their permits in one request. A lone proposal, the common case, takes a
shorter path to the same decision, reply and metrics (`handle_one`: no batch lists, its state kept per
symbol). Never a non-HOLD decision without the issuer's permit: Redis down gives HOLD
`redis_unavailable`, the issuer unreachable gives HOLD `permit_unavailable`.

The state a batch is decided on (every position snapshot, the cluster state, realized vol, every
allowlisted symbol's cooldown) comes from a cache (`StateCache`) that one pipelined Redis read
refreshes every `state_refresh_ms` (default 100 ms; a batch finding it older re-reads first, so
the bound holds even when the timer is late). What this changes, and what it does not:
- staleness: a position snapshot or cluster state written to Redis is seen at most
  state_refresh_ms late (a decision starting state_refresh_ms after the write sees it);
- freshness stays exact: snapshot stale_after and the cluster freshness window are judged against
  the time of the decision, not of the read;
- cooldowns stay exact: the cache knows each cooldown's expiry (PTTL) and the cooldowns the gate's
  own recorded decisions set; a cooldown another writer set or deleted since the read is caught by
  the permit issuer, which refuses a decision whose cooldown (when it mattered) differs from Redis's
  (`cooldown_conflict`); the gate then re-reads the cache at once and decides again;
- faults: a failed refresh leaves no cache, never an old one: decisions are then HOLD
  `redis_unavailable` (each batch retries the read), and a permit write that fails because Redis
  went down since the last refresh gives HOLD `redis_unavailable` as before.
state_refresh_ms 0 reads Redis for every batch instead (snapshots, cluster state, the batch's
cooldowns).

This process must not import numpy or scipy (RSS target 40 MB).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import zmq
from orjson import loads as _orjson_loads
from prometheus_client import Counter, Gauge, Histogram

from launcher import keys
from launcher.resp import RedisUnavailable, ReplyError, RespClient, encode_commands
from actors.runtime import HEARTBEAT_TIMEOUT_MS, Actor, Shedding, StartError, adder, increment, main, observer, send_one
from actors.policy import (ACTIONS, FAIL_CLOSED_REASONS, HOLD, PERMIT_UNAVAILABLE, REDIS_UNAVAILABLE,
                           REPLICA_UNACKNOWLEDGED, BadRequest,
                           cluster_k, cooldown_mattered, cooldown_mattered_to,
                           decision_depends_on_cooldown, decision_record, evaluate, evaluate_batch,
                           parse_snapshot, state_is_fresh,
                           policy_transitions, portfolio_metrics, PortfolioMetrics, PortfolioState, Position,
                           Proposal, usable_plan_id, validate_proposal, with_plan_id)
from actors.freshness import cluster_state_time_s
from actors.snapshots import SNAPSHOT_FUTURE_SKEW_S
from actors.wire import (INTERNAL_ERROR, decode_internal, encode, encode_finite, encode_internal, error_envelope,
                         issuer_key, issuer_reply_key, signed_issuer_request, verified_issuer_request)
from launcher.topology import GateSettings


# The detail of a fault HOLD when the issuer may have recorded the decision after the gate gave up.
OUTCOME_UNKNOWN = "outcome unknown: resubmit the same plan_id to get the recorded decision, if one was made"
NOTHING_RECORDED = "nothing was recorded: resubmit the same plan_id"
# ask_issuer's answers when the request never left the gate (nothing was recorded), each with its HOLD's detail:
# no issuer connected to a `permits` socket that binds, or the gate's own socket could not be re-opened (logged
# permit_socket_unavailable).
ISSUER_NOT_CONNECTED: dict[str, Any] = {
    "status": "error", "reason": "not_connected", "detail": "no permit issuer is connected to the gate's permits socket"}
PERMITS_SOCKET_UNAVAILABLE: dict[str, Any] = {
    "status": "error", "reason": "socket_unavailable",
    "detail": "the gate could not re-open its permits socket (its log says why; it tries again at the next proposal)"}
_NOBLOCK = int(zmq.NOBLOCK)
UNSIGNED_REPLY: dict[str, Any] = {
    "status": "error", "reason": "unsigned_reply",
    "detail": "the reply on the permits socket is not signed with the topology's Redis password: not from this "
              "topology's permit issuer (a process on its port?), or an issuer given another password"}
# Whole-request refusals the permit issuer gives before running any script: nothing was recorded.
REFUSED_BEFORE_ANY_WRITE = ("bad_request", "expired", "unauthorized")
# How long a stopping gate (SIGTERM) still waits for its permit issuer's reply to the request in flight, or for
# Redis's to a state read: a live issuer or Redis answers within milliseconds; a stalled one would hold the stop for up
# to permit_timeout_ms (or twice redis.timeout_ms; up to 60 s), past the 2 s an actor has to exit and supervisord's
# stopwaitsecs, which then SIGKILLs it, answering nobody.
STOP_ISSUER_GRACE_S = 0.2


class StopWaiting(Exception):
    """Raised by Gate.stop() (the SIGTERM handler) while the gate waits for its permit issuer (ask_issuer) or for a
    state read from Redis (read_redis)."""


# Error reasons of a proposal that was valid but cannot be decided (gate_requests_total result labels).
PLAN_ID_CONFLICT = "plan_id_conflict"
# A plan_id that got a permit resubmitted after its decision expired (the issuer's marker lives): no decision, no record,
# no permit; the client needs a new plan_id.
PLAN_ID_EXPIRED = "plan_id_expired"
# A proposal reached after its deadline_ms (less the allowed clock skew): no decision, no record, no permit.
EXPIRED = "expired"
# A proposal that found the gate's queue too deep or waited in it too long: nothing decided or recorded.
OVERLOADED = "overloaded"

SNAPSHOT_FIELDS = ("position_amt", "mark_price", "ts_epoch", "notional_usd")
# How many times a decision is re-read and re-decided when the issuer finds a cooldown appeared
# between the gate's read and the issuer's write.
DECIDE_ATTEMPTS = 3

# --------------------------------------------------------------------------- metrics (SPEC names)

P26_STRESS = Gauge("p26_stress", "Portfolio stress of the last evaluation")
P26_HEAT = Gauge("p26_heat", "Portfolio heat of the last evaluation")
P26_CONCENTRATION = Gauge("p26_concentration", "|net| / gross notional of the last evaluation")
P26_CORR_PROXY = Gauge("p26_corr_proxy", "Weight on the net side of the last evaluation")
P26_CLUSTER_STRESS_USED = Gauge("p26_cluster_stress_used", "1 when K came from fresh cluster state, 0 proxy")
P26_SYMBOLS_WITH_SNAPSHOT = Gauge("p26_symbols_with_snapshot", "Allowlisted symbols with a fresh snapshot")
P26_TOTAL_ABS_NOTIONAL = Gauge("p26_total_abs_notional", "Sum of |notional| over fresh snapshots (USD)")
P26_SNAPSHOT_AGE = Gauge("p26_snapshot_age_seconds", "Age of the symbol's position snapshot", ["symbol"])
P26_SNAPSHOT_STALE_AFTER = Gauge("p26_snapshot_stale_after_seconds", "The snapshot age past which the gate counts a "
                                 "position snapshot stale (positions.stale_after_s): P26SnapshotsStale's line when "
                                 "under SPEC's 300 s")
GATE_SNAPSHOTS_UNDATED = Gauge("gate_position_snapshots_undated",
                               "Allowlisted symbols whose position snapshot has no usable ts_epoch (missing or not a "
                               "finite number): not held, and with no p26_snapshot_age_seconds")
P26_PLANS_SEEN = Counter("p26_plans_seen_total", "Valid proposals received", ["action_proposed"])
P26_GATE_WRITES = Counter("p26_gate_writes_total", "Decisions recorded on the gate stream")
P26_DOWNGRADED = Counter("p26_actions_downgraded_total", "Decisions whose final action differs from the proposed one",
                         ["from_action", "to_action", "reason"])
P26_PERMIT_ISSUED = Counter("p26_permit_issued_total", "Permits issued")
P26_FAIL_CLOSED = Counter("p26_fail_closed_total", "Decisions forced to HOLD by missing state or a fault", ["reason"])
P26_CLUSTER_FALLBACK = Counter("p26_cluster_fallback_total", "Evaluations that used the proxy instead of cluster stress")
P26_CLUSTER_FALLBACK_WARM_UP = Counter("p26_cluster_fallback_warm_up_total",
                                       "Of p26_cluster_fallback_total, those counted before the gate first took K from "
                                       "a fresh cluster state since its start (its warm-up)")
TIME_TO_PERMIT_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05,
                            0.1, 0.25, 0.5, 1.0)
P26_TIME_TO_PERMIT = Histogram("p26_time_to_permit_seconds",
                               "From proposal received (read off the gate's socket: its wait in the gate's queue "
                               "counts) to permit issued",
                               buckets=TIME_TO_PERMIT_BUCKETS_S)
GATE_REQUESTS = Counter("gate_requests_total", "Requests on the proposals socket by outcome", ["result"])
GATE_STATE_READ_TIMESTAMP = Gauge("gate_state_read_timestamp_seconds",
                                  "Epoch time of the gate's last successful read of the portfolio state "
                                  "from Redis (its state cache)")
GATE_PERMIT_ISSUERS = Gauge("gate_permit_issuers_connected",
                            "Permit issuers the gate's permits socket has a live ZMTP connection with (its monitor's "
                            "events): 0 means every proposal gets a fault HOLD permit_unavailable")
GATE_PERMIT_ISSUERS_NONE_SINCE = Gauge("gate_permit_issuers_none_since_timestamp_seconds",
                                       "Epoch time the gate's last permit issuer connection was lost (its permits "
                                       "socket closed, or its start while none connected yet): how long "
                                       "gate_permit_issuers_connected has been 0")
# How long the gate's permits socket must stay without an issuer before the gate logs it gone: a socket re-created
# after a permit_timeout_ms expiry (a live issuer answering late) counts 0 until its handshake, about 100 ms.
ISSUER_GONE_LOG_S = 1.0
GATE_PERMIT_ISSUERS_NONE_FOR = Gauge("gate_permit_issuers_none_for_seconds",
                                     "How long gate_permit_issuers_connected has been 0 (0 while one is connected), on "
                                     "the gate's monotonic clock at the scrape: status's grace, whatever the wall clocks "
                                     "of the gate's host and of the host running status say")


# p26_stress, p26_heat, p26_concentration, p26_corr_proxy and p26_total_abs_notional while the gate has no usable book
# (none read yet, no fresh snapshot, Redis unreadable): it fails closed and knows nothing of the book, so NaN, as the
# permit issuer's Redis memory gauges are while Redis does not answer; 0 read as a flat book, "no stress".
NO_BOOK_GAUGES = (math.nan,) * 5
BOOK_GAUGES = (P26_STRESS, P26_HEAT, P26_CONCENTRATION, P26_CORR_PROXY, P26_TOTAL_ABS_NOTIONAL)


def set_no_book_gauges() -> None:
    for gauge, value in zip(BOOK_GAUGES, NO_BOOK_GAUGES):
        gauge.set(value)


def preinitialise_metrics() -> None:
    set_no_book_gauges()  # no state read yet
    for action in ACTIONS:
        P26_PLANS_SEEN.labels(action_proposed=action)
    for reason in FAIL_CLOSED_REASONS:
        P26_FAIL_CLOSED.labels(reason=reason)
    for from_action, to_action, reason in policy_transitions():
        P26_DOWNGRADED.labels(from_action=from_action, to_action=to_action, reason=reason)
    for result in ("ok", "bad_request", PLAN_ID_CONFLICT, PLAN_ID_EXPIRED, EXPIRED, OVERLOADED):
        GATE_REQUESTS.labels(result=result)


# --------------------------------------------------------------------------- proposals


def issuer_deadline_s(decided_at: float, permit_timeout_ms: int) -> float:
    """The deadline (epoch s) the gate gives the issuer for a decision made at decided_at: half its permit_timeout_ms,
    which it waits in full, so that no write lands after the gate stopped waiting (docs/proposal-api.md)."""
    return decided_at + permit_timeout_ms / 2000.0


def expired_detail(deadline_ms: float, now: float, skew_ms: float) -> str | None:
    """Why a proposal with this deadline (epoch ms, client's clock) must not be decided at `now` (epoch s,
    the gate's clock) when clocks may differ by skew_ms, or None while it may. The gate's deadline is
    deadline_ms - skew_ms: a client whose clock runs skew_ms ahead has not given up before then."""
    late_ms = now * 1000.0 - (deadline_ms - skew_ms)
    if late_ms <= 0:
        return None
    # A small one is no time this century: epoch seconds, or a relative timeout ("2000 ms from now").
    hint = " (deadline_ms is a time in epoch milliseconds, not seconds nor a timeout)" if deadline_ms < 1e11 else ""
    # As sent: a fraction of a ms shown as 0 read as the deadline 0, which the gate refuses as invalid.
    sent = f"{deadline_ms:.0f}" if deadline_ms == int(deadline_ms) or deadline_ms >= 1e11 else repr(deadline_ms)
    return (f"deadline_ms {sent} less the allowed clock skew of {skew_ms:.0f} ms passed {late_ms:.0f} ms "
            f"before the gate reached the proposal{hint}: this request was not decided and nothing was recorded for "
            f"it; resend the same plan_id with a later deadline (a decision an earlier request of the plan_id got is "
            f"then returned)")


class _GivenTwice(dict):
    """A JSON object that gives a name more than once (`twice`: those names); refused once the whole request is
    read, so that the reply can name the request's plan_id: the hook sees nested objects before the request's own."""
    __slots__ = ("twice",)
    twice: set[str]


def _object_once_per_name(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # JSON readers differ on which value wins: a proposal must not be ambiguous
        # One pass over the names: counting each name against all the others held the gate a second for a
        # 64 KB request of 10,900 names.
        seen: set[str] = set()
        twice: set[str] = set()
        for name, _ in pairs:
            (twice if name in seen else seen).add(name)
        obj = _GivenTwice(obj)
        obj.twice = twice
    return obj


def _refuse_given_twice(obj: _GivenTwice) -> BadRequest:
    """The error of a request giving a name twice, naming its plan_id when that was given once and is usable (the
    reply to a duplicated symbol named no plan_id, though an error reply carries a usable one)."""
    plan_id = None if "plan_id" in obj.twice else usable_plan_id(obj.get("plan_id"))
    return BadRequest("invalid_proposal", f"field(s) given more than once: {', '.join(sorted(obj.twice))[:200]}",
                      plan_id)


_REQUEST_DECODER = json.JSONDecoder(object_pairs_hook=_object_once_per_name)
_scan_json, _json_space = _REQUEST_DECODER.scan_once, json.decoder.WHITESPACE.match


def _decode_request(text: str) -> Any:
    """_REQUEST_DECODER.decode(text), in one call rather than three (the same value and the same errors)."""
    try:
        obj, end = _scan_json(text, _json_space(text, 0).end())
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    end = _json_space(text, end).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


_BIG_FLOAT = 2.0 ** 63  # orjson reads an integer beyond 64 bits as a float, where the json module keeps an int


def _flat_object(frame: bytes) -> dict[str, Any] | None:
    """The request's object read by orjson (a sixth of the json module's decode, issue 14), when it is sure to be
    the value _decode_request gives, each name once: a frame with no backslash (so every quote opens or closes a
    string) whose object holds only strings, numbers, booleans and nulls, as many quotes as its names and string
    values account for (a name given twice has quotes that no entry does), and no float that may have been an
    integer beyond 64 bits. None for anything else, which _decode_request reads with its errors."""
    if b"\\" in frame:
        return None
    try:
        obj = _orjson_loads(frame)
    except ValueError:  # not JSON, not UTF-8, a BOM, NaN, 1e400: the json module says which, as before
        return None
    if type(obj) is not dict:
        return None
    quotes = 2 * len(obj)
    for value in obj.values():
        kind = type(value)
        if kind is str:
            quotes += 2
        elif kind is float:
            if not -_BIG_FLOAT < value < _BIG_FLOAT:
                return None
        elif kind is dict or kind is list:
            return None
    return obj if frame.count(b'"') == quotes else None


def parse_request(frames: Sequence[bytes], max_request_bytes: int) -> Proposal:
    """Check the raw request (one frame, size, UTF-8, JSON object) and return its proposal."""
    if len(frames) != 1:
        raise BadRequest("multipart", f"expected 1 frame, got {len(frames)}")
    frame = frames[0]
    if len(frame) > max_request_bytes:
        raise BadRequest("too_large", f"request is {len(frame)} bytes; the limit is {max_request_bytes}")
    obj = _flat_object(frame)
    return validate_proposal(_decoded_request(frame) if obj is None else obj)


def _decoded_request(frame: bytes) -> Any:
    """The request's JSON value read by the json module, or BadRequest not_utf8 / not_json saying why not."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("not_utf8", f"request is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        obj = _decode_request(text)
    except RecursionError:  # JSON nested deeper than Python's stack
        raise BadRequest("not_json", f"request JSON nests deeper than this gate reads (about "
                                     f"{sys.getrecursionlimit():,} levels); a proposal is one flat object") from None
    except json.JSONDecodeError as exc:
        raise BadRequest("not_json", f"request is not JSON: {exc}"[:300]) from None
    except ValueError:  # valid JSON: int() refused a number's digits (Python's limit on integer string conversion)
        raise BadRequest("not_json", f"request holds an integer of more than {sys.get_int_max_str_digits():,} "
                                     f"digits, which this gate does not read") from None
    if type(obj) is _GivenTwice:  # a nested object given a name twice is refused as the field's wrong value
        raise _refuse_given_twice(obj)
    return obj


# --------------------------------------------------------------------------- portfolio metrics


# --------------------------------------------------------------------------- policy


# --------------------------------------------------------------------------- one evaluation


def updated_ts_ms_of(cluster_state: Sequence[Any]) -> Any:
    """updated_ts_ms from the cluster state's HMGET reply (state_commands); None in a reply without it."""
    return cluster_state[2] if len(cluster_state) > 2 else None


def vol_updated_ts_ms_of(vols: Sequence[Any], symbols: Sequence[str]) -> Any:
    """updated_ts_ms from the realized-vol HMGET reply (state_commands: updated_ts, the symbols, then it);
    None in a reply without it."""
    return vols[len(symbols) + 1] if len(vols) > len(symbols) + 1 else None


def parse_state(replies: Sequence[Any], symbols: Sequence[str], now: float, stale_after_s: float, freshness_s: float,
                realized: bool, cooldown_symbols: Sequence[str] = ()) -> PortfolioState:
    """Parse the replies of `state_commands`, then one EXISTS per cooldown symbol (error replies count
    as missing data)."""
    positions: list[Position] = []
    ages: dict[str, float] = {}
    undated = 0
    for symbol, values in zip(symbols, replies):
        if isinstance(values, ReplyError) or not values:
            continue
        position, age_s = parse_snapshot(symbol, values, now, stale_after_s)
        if age_s is not None:
            ages[symbol] = age_s
        elif any(value is not None for value in values):  # a snapshot, but no time to date it by: not "none at all"
            undated += 1
        if position is not None:
            positions.append(position)
    i = len(symbols)
    state = replies[i]
    k = None if isinstance(state, ReplyError) else cluster_k(state[0], state[1], now, freshness_s, updated_ts_ms_of(state))
    i += 1
    sigmas: dict[str, float] | None = None
    sigma_source = "constant"
    if realized:
        vols = replies[i]
        i += 1
        sigma_source = "constant_fallback"
        if (not isinstance(vols, ReplyError) and vols
                and state_is_fresh(vols[0], vol_updated_ts_ms_of(vols, symbols), now, freshness_s)):
            sigmas, sigma_source = {}, "realized"
            for symbol, raw in zip(symbols, vols[1:]):
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value) and value > 0:  # 0: a flat series, which has no realized vol (as backtested)
                    sigmas[symbol] = value
    cooldowns = {symbol: reply == 1 for symbol, reply in zip(cooldown_symbols, replies[i:])}
    cooldown = len(cooldowns) == 1 and next(iter(cooldowns.values()))
    return PortfolioState(positions, ages, k, sigmas, cooldown, cooldowns=cooldowns, sigma_source=sigma_source,
                          undated=undated)


def state_commands(symbols: Sequence[str], key_pattern: str, realized: bool) -> list[tuple]:
    """The read half of every evaluation; one cooldown EXISTS per symbol of the batch is appended."""
    commands: list[tuple] = [("HMGET", keys.position_snapshot(s, key_pattern), *SNAPSHOT_FIELDS) for s in symbols]
    commands.append(("HMGET", keys.CLUSTER_STATE, "updated_ts", "cluster_stress", "updated_ts_ms"))
    if realized:
        commands.append(("HMGET", keys.REALIZED_VOL, keys.REALIZED_VOL_UPDATED_TS, *symbols,
                         keys.REALIZED_VOL_UPDATED_TS_MS))
    return commands


# How soon the state is read again after Redis answered it with a refusal (LOADING): an answer costs no wait, unlike
# a Redis that does not answer (retried every refresh_s), so the gate is ready again soon after the load ends.
REFUSED_RETRY_S = 0.5


class RedisRefused(RedisUnavailable):
    """Redis answered the state read, refusing it for itself (LOADING, MASTERDOWN, MISCONF)."""


def refused_by_redis(replies: list[Any]) -> list[Any]:
    """The replies of a state read, or RedisRefused when Redis refused a command for itself, not for its key: an
    error other than WRONGTYPE (LOADING while it loads its data after a restart, MASTERDOWN, MISCONF). Only WRONGTYPE
    says that a key holds another type (note_unreadable)."""
    for reply in replies:
        if isinstance(reply, ReplyError) and not keys.wrong_type(reply):
            raise RedisRefused(f"Redis refused the state read: {reply}"[:300])
    return replies


# --------------------------------------------------------------------------- the state cache

# Freshness boundaries closer than this to the evaluation time are re-evaluated (float rounding).
BOUNDARY_MARGIN_S = 1e-3


def freshness_boundaries(replies: Sequence[Any], symbols: Sequence[str], stale_after_s: float,
                         freshness_s: float) -> list[float]:
    """Every epoch time at which parse_state's verdict on a snapshot's or the cluster state's freshness
    can flip (a snapshot: its future-skew limit and its stale_after; the cluster state and realized vol: each
    one's updated_ts and its time, to the ms as state_is_fresh takes it, + freshness). Between two of them,
    parse_state gives the same positions, K and sigmas."""
    out: list[float] = []
    for _symbol, values in zip(symbols, replies):
        if isinstance(values, ReplyError) or not values:
            continue
        try:
            ts = float(values[2])
        except (TypeError, ValueError):
            continue
        if math.isfinite(ts):
            out += (ts - SNAPSHOT_FUTURE_SKEW_S, ts + stale_after_s)
    cluster = replies[len(symbols)]
    if not isinstance(cluster, ReplyError):
        try:
            updated = float(cluster[0])
        except (TypeError, ValueError):
            updated = math.nan
        if math.isfinite(updated):
            out += (updated, cluster_state_time_s(updated, updated_ts_ms_of(cluster)) + freshness_s)
    vols = replies[len(symbols) + 1] if len(replies) > len(symbols) + 1 else None
    if vols and not isinstance(vols, ReplyError):  # realized vol: the same window as the cluster state
        try:
            updated = float(vols[0])
        except (TypeError, ValueError):
            updated = math.nan
        if math.isfinite(updated):
            out += (updated, cluster_state_time_s(updated, vol_updated_ts_ms_of(vols, symbols)) + freshness_s)
    return out


def cooldown_deadlines(replies: Sequence[Any], symbols: Sequence[str], read_at: float) -> dict[str, float]:
    """symbol -> epoch time its cooldown key expires, from PTTL replies read at read_at (the time the
    read was sent, so an expiry is never placed later than Redis's). No key: absent; no TTL: infinity."""
    out: dict[str, float] = {}
    for symbol, pttl in zip(symbols, replies):
        if isinstance(pttl, ReplyError) or not isinstance(pttl, int) or pttl == -2:
            continue
        out[symbol] = math.inf if pttl < 0 else read_at + pttl / 1000.0
    return out


class StateCache:
    """Redis's portfolio state as of one pipelined read (snapshots, cluster state, realized vol, the
    expiry of every allowlisted symbol's cooldown), evaluated at any later time `now`:

    - freshness (snapshot stale_after, future skew, cluster freshness) is judged against `now`, exactly
      as a read at `now` would; the parse is redone only when `now` crosses a freshness boundary;
    - a cooldown holds while now < its expiry; the gate adds the cooldowns its own recorded non-HOLD
      decisions set (`set_cooldown`), so only other writers' changes are seen late, and the permit
      issuer refuses a decision whose cooldown differs from Redis's (cooldown_conflict).
    """

    def __init__(self, replies: Sequence[Any], symbols: Sequence[str], *, read_at: float, stale_after_s: float,
                 freshness_s: float, realized: bool, settings: GateSettings, cooldown_symbols: Sequence[str] = ()):
        n = len(symbols) + 1 + (1 if realized else 0)
        self.replies = list(replies[:n])
        self.symbols = list(symbols)
        self.read_at = read_at
        self.stale_after_s, self.freshness_s, self.realized = stale_after_s, freshness_s, realized
        self.settings = settings
        self.boundaries = sorted(freshness_boundaries(self.replies, self.symbols, stale_after_s, freshness_s))
        self.cooldown_until = cooldown_deadlines(replies[n:], cooldown_symbols, read_at)
        self._parsed_at = math.inf
        self._valid_until = -math.inf
        self._state: PortfolioState | None = None
        self._metrics: PortfolioMetrics | None = None
        # state_of's answers: symbol -> (the parse it was made from, the state with that symbol's cooldown).
        self._per_symbol: dict[str | None, tuple[PortfolioState, PortfolioState]] = {}

    def _parse(self, now: float) -> None:
        self._state = parse_state(self.replies, self.symbols, now, self.stale_after_s, self.freshness_s, self.realized)
        s = self._state
        self._metrics = portfolio_metrics(s.positions, s.cluster_stress, self.settings, s.sigmas)
        self._parsed_at = now
        self._valid_until = next((b - BOUNDARY_MARGIN_S for b in self.boundaries if b > now - BOUNDARY_MARGIN_S),
                                 math.inf)

    def state_at(self, now: float, cooldown_symbols: Sequence[str] = ()) -> tuple[PortfolioState, PortfolioMetrics]:
        """The state and metrics a read at `now` would give, with the cooldowns of cooldown_symbols."""
        if not self._parsed_at <= now < self._valid_until:
            self._parse(now)
        base = self._state
        assert base is not None and self._metrics is not None
        until = self.cooldown_until
        cooldowns = {symbol: now < until.get(symbol, -math.inf) for symbol in cooldown_symbols}
        return with_cooldowns(base, cooldowns), self._metrics

    def state_of(self, symbol: str | None, now: float) -> tuple[PortfolioState, PortfolioMetrics]:
        """state_at(now, [symbol]) (None: state_at(now), no cooldown looked up), the same values, kept per
        symbol and made again only when the parse it came from or the symbol's cooldown at `now` changes."""
        if not self._parsed_at <= now < self._valid_until:
            self._parse(now)
        base = self._state
        cooldown = symbol is not None and now < self.cooldown_until.get(symbol, -math.inf)
        kept = self._per_symbol.get(symbol)
        if kept is None or kept[0] is not base or kept[1].cooldown is not cooldown:
            assert base is not None
            kept = self._per_symbol[symbol] = (base, with_cooldowns(base, {} if symbol is None else {symbol: cooldown}))
        return kept[1], self._metrics  # type: ignore[return-value]  # set by _parse with _state

    def set_cooldown(self, symbol: str, until: float) -> None:
        """A cooldown this gate's own recorded decision set in Redis, expiring at `until` (epoch)."""
        self.cooldown_until[symbol] = until  # the issuer's SET EX replaced whatever TTL the key had


def with_cooldowns(base: PortfolioState, cooldowns: dict[str, bool]) -> PortfolioState:
    """The parsed state `base` with these cooldowns (`cooldown`: the one symbol's, when there is one)."""
    cooldown = len(cooldowns) == 1 and next(iter(cooldowns.values()))
    return PortfolioState(base.positions, base.ages_s, base.cluster_stress, base.sigmas, cooldown,
                          base.missing_realized, cooldowns, base.sigma_source, base.undated)


def recorded_in_place(sent: dict[str, Any]) -> dict[str, Any]:
    """wire.recorded_form(sent), made of `sent` itself rather than a copy: the decision the gate sent the
    issuer, once written, is not read again (a decision re-decided after a cooldown conflict is a new one)."""
    issue = sent["final_action"] != HOLD
    sent["permit"] = issue
    sent["permit_key"] = keys.permit(sent["plan_id"]) if issue else None
    sent["replayed"] = False
    sent["recorded"] = True
    return sent


def fault_decision(proposal: Proposal, reason: str, now: float, detail: str = OUTCOME_UNKNOWN) -> dict[str, Any]:
    """HOLD for a fault: this reply carries no permit and no metrics (decision_record without metrics: each null, and
    no k_source), and sigma_source null too: it is no decision on the portfolio (its state was not read, or the
    decision made on it was not recorded). `detail` says whether the issuer may still have recorded a decision for
    the plan_id (OUTCOME_UNKNOWN) or certainly did not."""
    record = decision_record(proposal, HOLD, reason, None, now)
    record["sigma_source"] = None
    record["recorded"] = False
    record["detail"] = detail
    return record


@dataclass(frozen=True, slots=True)
class Refusal:
    """A valid proposal answered with an error envelope rather than a decision (e.g. plan_id_conflict)."""

    reason: str
    detail: str


# --------------------------------------------------------------------------- the actor


class Gate(Actor):
    kind = "gate"
    # Replies in orjson's bytes: a decision's metrics are rounded or null and its proposal's numbers checked
    # finite, so no NaN or Infinity is ever in one (wire.encode_finite).
    encode_reply = staticmethod(encode_finite)
    settings: GateSettings
    _stop_cuts_wait = False  # waiting for the issuer or Redis: stop() raises StopWaiting into the wait
    _awaiting_issuer = False  # waiting for an issuer to connect before the request is sent: nothing sent yet

    def setup(self) -> None:
        s = self.settings
        self.symbols = list(self.topology.symbols)
        self.allowed = frozenset(self.symbols)
        self.realized = s.sigma_source == "realized"
        self.freshness_s = self.topology.gate_freshness_s(self.name)
        self.stale_after_s = self.topology.positions.stale_after_s
        P26_SNAPSHOT_STALE_AFTER.set(self.stale_after_s)
        self.permit_timeout_ms = s.permit_timeout_ms
        self._issuer_lost = False  # the last request to the issuer went unanswered (issuer_lost, issuer_back)
        self.redis = RespClient.from_config(self.topology.redis)
        self.redis.resend_after_timeout = True  # a state read that timed out is sent once more (a stop cuts the wait)
        self.redis.wait_readable = self.wait_readable  # a stop cuts a state read whenever its SIGTERM lands (read_redis)
        self._issuer_key = issuer_key(self.topology.redis.password)  # signs every request to the issuer (None: not)
        commands = state_commands(self.symbols, self.topology.positions.key_pattern, self.realized)
        # What the gate makes of each key it reads when it cannot be read (another type: an error reply).
        self._state_keys = [(command[1], counted_as) for command, counted_as in zip(commands, [
            *(["not held"] * len(self.symbols)), "no cluster state: K from the proxy", "no realized vol: sigma constant"])]
        self._unreadable: dict[str, str] = {}  # key -> its error reply, while it cannot be read
        self._key_type_logged: Any = None  # the issuer's last bad_key_type detail logged (each proposal has one)
        self._state_payload = encode_commands(commands)
        self._state_count = len(commands)
        self._cooldown_payload = {sym: encode_commands([("EXISTS", keys.cooldown(sym))]) for sym in self.symbols}
        # The state cache: one pipelined read of the state and every symbol's cooldown PTTL per refresh.
        self.state_refresh_s = s.state_refresh_ms / 1000.0
        refresh = commands + [("PTTL", keys.cooldown(sym)) for sym in self.symbols]
        self._refresh_payload = encode_commands(refresh)
        self._refresh_count = len(refresh)
        self._cache: StateCache | None = None
        self._cache_read_mono = -math.inf  # time.perf_counter() of the cache's read: the clock handle_one reads
        self._retry_refresh_mono = -math.inf
        self._redis_down = False
        self.cooldown_ttl_s = float(self.topology.issuer_cooldown_ttl_s)
        preinitialise_metrics()
        # Labelled children looked up once: .labels() per request costs more than the policy itself.
        self._requests_ok = increment(GATE_REQUESTS.labels(result="ok"))
        self._requests_bad = GATE_REQUESTS.labels(result="bad_request")
        self._requests_refused = {r: GATE_REQUESTS.labels(result=r) for r in (PLAN_ID_CONFLICT, PLAN_ID_EXPIRED, EXPIRED)}
        self._requests_overloaded = GATE_REQUESTS.labels(result=OVERLOADED)
        self.skew_ms = float(s.deadline_skew_ms)
        self._plans_seen = {a: increment(P26_PLANS_SEEN.labels(action_proposed=a)) for a in ACTIONS}
        self._count_write, self._count_permit = increment(P26_GATE_WRITES), increment(P26_PERMIT_ISSUED)
        self._count_fallbacks = adder(P26_CLUSTER_FALLBACK)  # once a decision while K comes from the proxy
        self._count_warm_up_fallbacks = adder(P26_CLUSTER_FALLBACK_WARM_UP)
        self._warming_up = True  # no K taken from a fresh cluster state since the start yet
        self._observe_time_to_permit = observer(P26_TIME_TO_PERMIT)
        self._fail_closed = {r: P26_FAIL_CLOSED.labels(reason=r) for r in FAIL_CLOSED_REASONS}
        self._downgraded = {(f, t, r): increment(P26_DOWNGRADED.labels(from_action=f, to_action=t, reason=r))
                            for f, t, r in policy_transitions()}
        self._snapshot_age: dict[str, Any] = {}
        self._snapshot_ts: dict[str, float] = {}  # symbol -> epoch time its snapshot was stamped, as last read
        self._last_gauges: tuple | None = None
        self._observed_metrics: PortfolioMetrics | None = None
        overloaded = encode(error_envelope(OVERLOADED, (
            f"the gate's queue is full ({s.overload_queue_depth} proposals) or this one waited over "
            f"{s.overload_queue_age_ms} ms: this request was not decided and nothing was recorded for it; back off and "
            f"resend the same plan_id")))
        stopping = encode(error_envelope(OVERLOADED, (
            "the gate is stopping (a restart or a shutdown): this request was not decided and nothing was recorded for "
            "it; resend the same plan_id")))
        self.on_requests_batch("proposals", self.handle_proposals, shedding=Shedding(
            max_depth=s.overload_queue_depth, max_age_s=s.overload_queue_age_ms / 1000.0, reply=overloaded,
            on_shed=self._requests_overloaded.inc, stopping_reply=stopping))
        self._issuers_connected, self._issuers_none_since_mono = 0, time.monotonic()
        self._issuers_gone_logged = True  # the first connection is logged too
        GATE_PERMIT_ISSUERS.set(0)
        GATE_PERMIT_ISSUERS_NONE_SINCE.set(time.time())
        GATE_PERMIT_ISSUERS_NONE_FOR.set_function(
            lambda: 0.0 if self._issuers_connected else time.monotonic() - self._issuers_none_since_mono)
        self.watch_connections("permits", self.issuers_connected)
        self.open_permits()
        if self.state_refresh_s > 0:
            self.every(self.state_refresh_s, self.refresh_state, first_after_s=0.0)
        else:
            self.every(s.refresh_s, self.refresh_gauges, first_after_s=0.0)
        self.set_ready(True)

    def heartbeat_timeout_ms(self, role: str) -> int:
        """A turn may serve four batches, each waiting up to 1.5 x permit_timeout_ms for the issuer (up to 60 s for its
        reply) and re-opening its socket, after its Redis reads (Topology.longest_turn_s), with a client's queue full
        meanwhile: its PONGs
        unread, it is dropped (with every proposal it queued) unless the proposals socket waits longer than that."""
        if role != "proposals":
            return super().heartbeat_timeout_ms(role)
        return math.ceil(self.topology.longest_turn_s(self.name) * 1000) + HEARTBEAT_TIMEOUT_MS

    def max_message_bytes(self, role: str) -> int | None:
        """Proposals come from outside the topology: libzmq drops the connection of a larger one unread."""
        return self.settings.max_request_bytes if role == "proposals" else None

    # ----------------------------------------------------------------- Redis

    def read_state(self, symbols: Sequence[str] = ()) -> PortfolioState:
        """Snapshots, cluster state (and realized vol) plus the cooldown of each allowed symbol given,
        in one round trip."""
        cooldown_symbols = [s for s in dict.fromkeys(symbols) if s in self.allowed]
        payload = b"".join([self._state_payload, *(self._cooldown_payload[s] for s in cooldown_symbols)])
        read_at = time.time()
        replies = refused_by_redis(self.read_redis(payload, self._state_count + len(cooldown_symbols)))
        GATE_STATE_READ_TIMESTAMP.set(read_at)
        self.note_unreadable(replies)
        return parse_state(replies, self.symbols, time.time(), self.stale_after_s, self.freshness_s,
                           self.realized, cooldown_symbols)

    def read_redis(self, payload: bytes, count: int) -> list[Any]:
        """redis.pipeline_raw(payload, count) of a state read, which a stop (SIGTERM) cuts short: a stalled Redis
        would hold the stop for up to twice redis.timeout_ms (the read and its re-send; up to 60 s each). Cut, or
        asked when the gate is stopping, the read is made once more on a new connection that waits at most
        STOP_ISSUER_GRACE_S (a live Redis answers in ms, so a batch in flight is still decided): RedisUnavailable
        after that (a read: nothing was written)."""
        try:
            self._stop_cuts_wait = True  # (inside the try: StopWaiting can come as soon as it is set)
            if self._stopping:  # (checked once stop() would raise: a stop between the two is not missed)
                raise StopWaiting
            return self.redis.pipeline_raw(payload, count)
        except StopWaiting:
            self._stop_cuts_wait = False
        finally:
            self._stop_cuts_wait = False
        redis = self.redis
        redis.close()  # a reply may be half read: never read this connection again
        timeout_s, redis.timeout_s = redis.timeout_s, min(redis.timeout_s, STOP_ISSUER_GRACE_S)
        try:
            return redis.pipeline_raw(payload, count)
        except RedisUnavailable as exc:
            raise RedisUnavailable(f"the gate is stopping and Redis did not answer its state read within "
                                   f"{STOP_ISSUER_GRACE_S} s: {exc}"[:300]) from None
        finally:
            redis.close()  # its socket waits STOP_ISSUER_GRACE_S
            redis.timeout_s = timeout_s

    def refresh_cache(self) -> StateCache:
        """Re-read the state cache from Redis; Redis unreachable leaves no cache (RedisUnavailable):
        decisions are then HOLD redis_unavailable, never made from an old cache."""
        read_at, read_mono = time.time(), time.perf_counter()
        try:
            replies = refused_by_redis(self.read_redis(self._refresh_payload, self._refresh_count))
        except RedisUnavailable:
            self._cache = None
            raise
        self.note_unreadable(replies)
        cache = StateCache(replies, self.symbols, read_at=read_at, stale_after_s=self.stale_after_s,
                           freshness_s=self.freshness_s, realized=self.realized, settings=self.settings,
                           cooldown_symbols=self.symbols)
        self._cache, self._cache_read_mono = cache, read_mono
        GATE_STATE_READ_TIMESTAMP.set(read_at)
        return cache

    def note_unreadable(self, replies: Sequence[Any]) -> None:
        """Log when the set of keys read for the state that answer an error (another type: a string where the
        cluster state hash belongs) changes, not at each read: each counts as missing (parse_state)."""
        unreadable = {key: str(reply) for (key, _), reply in zip(self._state_keys, replies)
                      if isinstance(reply, ReplyError)}
        if unreadable.keys() != self._unreadable.keys():
            if unreadable:
                self.log.error("state_key_unreadable", keys=sorted(unreadable), error=next(iter(unreadable.values())),
                               counted_as=sorted({c for k, c in self._state_keys if k in unreadable}),
                               detail="a key the gate reads holds another type than its own (not written by "
                                      "clustergate): delete it; its writer writes it again")
            else:
                self.log.info("state_keys_readable_again", keys=sorted(self._unreadable))
        self._unreadable = unreadable

    def redis_where(self) -> str:
        """The Redis the gate reads, for its log: the socket path, host:port, or its sentinels and master."""
        r = self.redis
        if r.sentinels is not None:
            return f"master {r.master} of sentinels " + ",".join(f"{h}:{p}" for h, p in r.sentinels)
        return r.unix_path or f"{r.host}:{r.port}"

    def refresh_state(self) -> None:
        """Timer: refresh the state cache and the gauges. After a failure, retried every refresh_s here
        (REFUSED_RETRY_S when Redis answered refusing, as while it loads; each batch of proposals retries at once)."""
        mono = time.monotonic()
        if self._cache is None and mono < self._retry_refresh_mono:
            return
        try:
            cache = self.refresh_cache()
        except RedisUnavailable as exc:
            retry_s = REFUSED_RETRY_S if isinstance(exc, RedisRefused) else self.settings.refresh_s
            self._retry_refresh_mono = mono + retry_s
            if not self._redis_down:  # once per outage: what `up` shows for a gate that is not ready
                self._redis_down = True
                self.log.warning("redis_unavailable", redis=self.redis_where(), error=str(exc)[:300],
                                 retry_in_s=retry_s)
            self.state_unreadable()
            return
        if self._redis_down:
            self._redis_down = False
            self.end_throttled("redis_unavailable")  # the outage's last counts before the line saying it ended
            self.log.info("redis_available", redis=self.redis_where())
        self.set_ready(True)
        state, metrics = cache.state_at(time.time())
        self.observe(state, metrics)

    def state_for(self, symbols: Sequence[str], now: float, reread: bool) -> tuple[PortfolioState, PortfolioMetrics]:
        """The state to decide a batch on: from the cache, re-read first when it is missing, older than
        state_refresh_ms or `reread` (a cooldown conflict); with state_refresh_ms 0, one read now."""
        if self.state_refresh_s <= 0:
            state = self.read_state(symbols)
            return state, portfolio_metrics(state.positions, state.cluster_stress, self.settings, state.sigmas)
        cache = self._cache
        if cache is None or reread or time.perf_counter() - self._cache_read_mono >= self.state_refresh_s:
            cache = self.refresh_cache()
        return cache.state_at(now, [s for s in dict.fromkeys(symbols) if s in self.allowed])

    def refresh_gauges(self) -> None:
        """Keep the gauges (snapshot ages above all) current while no proposals arrive."""
        try:
            state = self.read_state()
        except RedisUnavailable:
            self.state_unreadable()
            return
        self.set_ready(True)
        self.observe(state, portfolio_metrics(state.positions, state.cluster_stress, self.settings, state.sigmas))

    def state_unreadable(self) -> None:
        """Redis unreadable: not ready, the snapshots last read age with the clock, K comes from no fresh cluster
        state (p26_cluster_stress_used 0; it stayed 1 through an outage, every decision a fault HOLD) and the book's
        gauges are NaN (no usable book, not the last one read); the next read sets every gauge again."""
        self.set_ready(False)
        self.age_snapshots(time.time())
        P26_CLUSTER_STRESS_USED.set(0)
        set_no_book_gauges()
        self._last_gauges = self._observed_metrics = None

    def age_snapshots(self, now: float) -> None:
        """Redis unreadable: the snapshots last read grow older with the clock, so that their ages reach the stale
        line (P26SnapshotsStale) during a long outage instead of staying at the value of the last read."""
        for symbol, stamped in self._snapshot_ts.items():
            self._snapshot_age[symbol].set(now - stamped)

    def observe(self, state: PortfolioState, metrics: PortfolioMetrics, ages: bool = True) -> None:
        """Set the gauges from one read (the fallback counter is count_fallbacks'). ages=False leaves
        the snapshot ages to the cache refresh."""
        if not ages and metrics is self._observed_metrics:  # the cache's same parse: the gauges hold it already
            return
        self._observed_metrics = metrics
        gauges = (metrics.stress, metrics.heat, metrics.concentration, metrics.corr_proxy,
                  1 if metrics.k_source == "cluster" else 0, len(state.positions), metrics.total_abs_notional)
        if not state.positions:  # no fresh snapshot: the gate fails closed knowing no book, which 0s show as a flat one
            gauges = (*NO_BOOK_GAUGES[:4], gauges[4], 0, NO_BOOK_GAUGES[4])
        if gauges != self._last_gauges:  # the gate is their only writer: unchanged values need no set
            self._last_gauges = gauges
            P26_STRESS.set(gauges[0])
            P26_HEAT.set(gauges[1])
            P26_CONCENTRATION.set(gauges[2])
            P26_CORR_PROXY.set(gauges[3])
            P26_CLUSTER_STRESS_USED.set(gauges[4])
            if gauges[4]:
                self._warming_up = False
            P26_SYMBOLS_WITH_SNAPSHOT.set(gauges[5])
            P26_TOTAL_ABS_NOTIONAL.set(gauges[6])
        if not ages:
            return
        GATE_SNAPSHOTS_UNDATED.set(state.undated)
        ages_s, children, stamped = state.ages_s, self._snapshot_age, self._snapshot_ts
        now = time.time()
        for symbol in self.symbols:
            age_s = ages_s.get(symbol)
            if age_s is not None:
                child = children.get(symbol)
                if child is None:
                    child = children[symbol] = P26_SNAPSHOT_AGE.labels(symbol=symbol)
                child.set(age_s)
                stamped[symbol] = now - age_s
            else:
                children.pop(symbol, None)
                stamped.pop(symbol, None)
                try:
                    P26_SNAPSHOT_AGE.remove(symbol)
                except KeyError:
                    pass

    # ----------------------------------------------------------------- permit issuer (Lazy Pirate)

    def open_permits(self) -> zmq.Socket:
        """(Re-)open the REQ socket to the issuer (ask_issuer waits permit_timeout_ms for a reply). Its replies
        carry its request's id (REQ_CORRELATE): an issuer that connects to a `permits` socket that binds keeps
        its pipe across reconnects, so the reply to a request the gate gave up on reaches the re-opened socket,
        which drops it instead of taking it for the reply to its own request."""
        sock = self.open_socket("permits")
        sock.setsockopt(zmq.REQ_CORRELATE, 1)
        return sock

    def issuers_connected(self, live: int) -> None:
        """The permits socket's monitor: `live` issuers connected now (0 on each re-created socket until one
        connects). Logged when none has been connected for ISSUER_GONE_LOG_S (not the ~100 ms of a socket re-created
        after a late reply), and when one is back after that line or at the first connection."""
        before = self._issuers_connected
        lost = before and not live
        if lost:  # since when, set before the count the metrics thread reads it with says 0
            self._issuers_none_since_mono = since = time.monotonic()
            GATE_PERMIT_ISSUERS_NONE_SINCE.set(time.time())
            self.after(ISSUER_GONE_LOG_S, lambda: self._log_issuers_gone(since), name="issuer_gone_log")
        self._issuers_connected = live
        GATE_PERMIT_ISSUERS.set(live)
        if live and not before and self._issuers_gone_logged:
            self._issuers_gone_logged = False
            self.log.info("permit_issuer_connected", endpoint=self.spec.sockets["permits"].endpoint, connected=live)

    def _log_issuers_gone(self, since: float) -> None:
        """ISSUER_GONE_LOG_S after the loss at `since`: the warning, unless an issuer connected meanwhile."""
        if self._issuers_connected or self._issuers_none_since_mono != since:
            return
        self._issuers_gone_logged = True
        self.log.warning("permit_issuer_disconnected", endpoint=self.spec.sockets["permits"].endpoint,
                         for_s=round(time.monotonic() - since, 1),
                         detail="no permit issuer connected: every proposal gets a fault HOLD until one is")

    def stop(self) -> None:
        """SIGTERM: stop after this batch; a wait for the issuer in progress is cut to STOP_ISSUER_GRACE_S, a state read
        from Redis at once."""
        super().stop()
        if self._stop_cuts_wait:
            self._stop_cuts_wait = False
            raise StopWaiting

    def ask_issuer(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The issuer's reply; ISSUER_NOT_CONNECTED when the request could not even be queued by its
        deadline_mono (a `permits` socket that binds, with no issuer connected: a blocking send would wait for
        one, answering nobody); PERMITS_SOCKET_UNAVAILABLE when the socket could not be re-opened; or None after
        permit_timeout_ms (the socket is then re-created), or after STOP_ISSUER_GRACE_S once the gate is asked to
        stop (the request may have been sent: outcome unknown; ISSUER_NOT_CONNECTED when the stop came while it waited
        for an issuer to connect: nothing was sent)."""
        sock = self.sockets.get("permits") or self.reopen_permits()
        if sock is None:
            return PERMITS_SOCKET_UNAVAILABLE
        try:
            frame = signed_issuer_request(encode_internal(request), self._issuer_key)
            try:
                self._stop_cuts_wait = True  # (inside the try: StopWaiting can come as soon as it is set)
                try:
                    send_one(sock, frame, _NOBLOCK)  # queued at once whenever a pipe exists
                except zmq.Again:
                    self._awaiting_issuer = True  # nothing sent (_send_when_connected clears it just before it sends)
                    if not self._send_when_connected(sock, frame, request["deadline_mono"]):
                        self._stop_cuts_wait = False
                        self.issuer_lost("permit_issuer_not_connected", endpoint=self.spec.sockets["permits"].endpoint)
                        return ISSUER_NOT_CONNECTED
                raw = self._issuer_reply_within_timeout(sock)
            except StopWaiting:
                self._stop_cuts_wait = False
                if self._awaiting_issuer:  # cut while no issuer was connected: the request never left the gate
                    self.issuer_lost("permit_issuer_not_connected", endpoint=self.spec.sockets["permits"].endpoint)
                    return ISSUER_NOT_CONNECTED
                raw = self._reply_within_stop_grace(sock)
                if raw is None:
                    self.log.warning("permit_issuer_wait_cut", grace_s=STOP_ISSUER_GRACE_S,
                                     detail="the gate is stopping: its issuer did not answer within the grace, so the "
                                            "batch in flight is HOLD permit_unavailable, outcome unknown")
                    return None  # no new socket: the gate closes its sockets now
            finally:
                self._stop_cuts_wait = self._awaiting_issuer = False
            reply = self.issuer_reply(raw, frame)
            if self._issuer_lost:
                self.issuer_back()
            return reply
        except zmq.Again:
            pass
        except (zmq.ZMQError, ValueError) as exc:
            self.issuer_lost("permit_issuer_error", type(exc).__name__, error=repr(exc))
        self.issuer_lost("permit_issuer_unavailable", timeout_ms=self.permit_timeout_ms)
        if not self._stopping:
            self.reopen_permits()
        return None

    def _issuer_reply_within_timeout(self, sock: zmq.Socket) -> bytes:
        """The reply to the request sent on sock, within permit_timeout_ms (zmq.Again after it), in a wait a stop cuts
        wherever its SIGTERM lands (wait_or_stop; StopWaiting). The socket can be readable with a late reply to a
        request given up on, which it drops as it reads it (REQ_CORRELATE): the wait then goes on."""
        wait_ms = self.permit_timeout_ms
        deadline = time.monotonic() + wait_ms / 1000.0
        while True:
            if wait_ms <= 0 or not self.wait_or_stop(sock, zmq.POLLIN, wait_ms):
                if self._stopping:  # asked to stop before this request (a re-decision after a cooldown conflict)
                    raise StopWaiting
                raise zmq.Again
            try:
                return sock.recv(_NOBLOCK)
            except zmq.Again:  # a late reply, dropped: the wait goes on for what is left of permit_timeout_ms
                wait_ms = math.ceil((deadline - time.monotonic()) * 1000.0)

    @staticmethod
    def _reply_within_stop_grace(sock: zmq.Socket) -> bytes | None:
        """The issuer's reply if it comes within STOP_ISSUER_GRACE_S (a REQ socket that never sent reads nothing)."""
        try:
            if sock.poll(int(STOP_ISSUER_GRACE_S * 1000), zmq.POLLIN):
                return sock.recv(_NOBLOCK)
        except zmq.ZMQError:
            pass
        return None

    def issuer_reply(self, raw: bytes, frame: bytes) -> dict[str, Any]:
        """The issuer's reply to `frame`; with a Redis password, one not signed for it (a process that took the
        issuer's port could answer "written" with nothing in Redis) is UNSIGNED_REPLY: the outcome is unknown.
        `unauthorized` comes unsigned (the issuer could not check the request): a refusal, nothing written."""
        body = verified_issuer_request(raw, issuer_reply_key(self._issuer_key, frame))
        if body is not None:
            return decode_internal(body)
        try:
            refusal = decode_internal(raw)
        except ValueError:
            refusal = None
        if type(refusal) is dict and (refusal.get("status"), refusal.get("reason")) == ("error", "unauthorized"):
            return refusal
        self.log_throttled("error", "permit_issuer_reply_unsigned", detail=UNSIGNED_REPLY["detail"])
        return UNSIGNED_REPLY

    def issuer_lost(self, event: str, key: Any = None, **fields: Any) -> None:
        """An issuer that does not answer: a line per turn (every permit_timeout_ms while it is stopped) became one
        a second with repeated=, ended by permit_issuer_available when it answers again."""
        self._issuer_lost = True
        self.log_throttled("warning", event, key, **fields)

    def issuer_back(self) -> None:
        """The issuer answered after it did not: the counts not yet logged, then the line that says it is back."""
        self._issuer_lost = False
        for event in ("permit_issuer_unavailable", "permit_issuer_not_connected", "permit_issuer_error"):
            self.end_throttled(event)
        self.log.info("permit_issuer_available")

    def reopen_permits(self) -> zmq.Socket | None:
        """open_permits(), or None when the socket cannot be opened (a `permits` endpoint that binds, taken by
        another process past the runtime's re-bind wait, or an ipc directory gone): logged, and tried again
        at the next request, so the gate holds meanwhile instead of failing every proposal until restarted."""
        try:
            return self.open_permits()
        except StartError as exc:
            self.log.warning("permit_socket_unavailable", endpoint=exc.endpoint, error=exc.reason)
            return None

    def _send_when_connected(self, sock: zmq.Socket, frame: bytes, deadline_mono: float) -> bool:
        """Send once an issuer connects, waiting no later than the request's deadline (the issuer refuses it
        after that anyway): a `permits` socket that binds has no issuer for a moment after it is re-created,
        until the issuer reconnects. False when none connected in time: nothing was sent. Waited by the monotonic
        clock: by the wall clock, a step back since the decision made the gate wait as much longer, answering nobody.
        _awaiting_issuer is True while nothing can have been sent (a stop cutting the wait then answers so)."""
        while True:
            self._awaiting_issuer = True
            wait_ms = int((deadline_mono - time.monotonic()) * 1000.0)
            if wait_ms <= 0 or not self.wait_or_stop(sock, zmq.POLLOUT, wait_ms):
                return False
            self._awaiting_issuer = False  # from here the frame may have left
            try:
                send_one(sock, frame, _NOBLOCK)
                return True
            except zmq.Again:  # the issuer went again between the poll and the send
                continue

    # ----------------------------------------------------------------- proposals

    def handle_proposals(self, requests: list[list[bytes]],
                         read_at: Sequence[float] | None = None) -> list[dict[str, Any]]:
        """One reply per request, in order: the waiting proposals are decided together (one Redis read,
        one issuer round trip), malformed ones get their error envelope. A lone request, the common case
        (1,000/s open loop, a sequential REQ client), takes handle_one, with the same replies and metrics.
        read_at: the perf_counter at which the runtime read each request off the socket, where its time to
        permit starts (it may have waited in the gate's queue since); None: now."""
        if len(requests) == 1:
            return [self.handle_one(requests[0], None if read_at is None else read_at[0])]
        received = time.perf_counter()
        replies: list[dict[str, Any]] = []
        proposals: list[Proposal] = []
        slots: list[int] = []
        now = time.time()
        expired = 0  # counted with the batch's answers: a batch that raises is handled again, each request alone
        for frames in requests:
            admitted = self.admit(frames, now, count_expired=False)
            if type(admitted) is dict:
                expired += admitted.get("reason") == EXPIRED
                replies.append(admitted)
                continue
            slots.append(len(replies))
            replies.append({})
            proposals.append(admitted)
        if proposals:
            for slot, proposal, decision in zip(slots, proposals, self.decide_and_record(proposals)):
                at = received if read_at is None else read_at[slot]
                try:
                    replies[slot] = self.answer(proposal, decision, at)
                except Exception as exc:  # decided: run again, each decision of the batch would be a replay
                    failed = self.failed_once_written(proposal, exc)
                    replies[slot] = with_plan_id(error_envelope(failed.reason, failed.detail), proposal.plan_id)
        if expired:
            self._requests_refused[EXPIRED].inc(expired)
        return replies

    def handle_one(self, frames: list[bytes], read_at: float | None = None) -> dict[str, Any]:
        """handle_proposals([frames])[0] without the batch's lists: one time.time() is both the proposal's
        arrival (its deadline check) and the time it is decided at, one perf_counter the age of the state cache
        it is decided on (and the start of its time to permit when read_at is None)."""
        received = time.perf_counter()
        now = time.time()
        admitted = self.admit(frames, now)
        if type(admitted) is dict:
            return admitted
        return self.answer(admitted, self.decide_one(admitted, now, received), received if read_at is None else read_at)

    def admit(self, frames: list[bytes], now: float, count_expired: bool = True) -> Proposal | dict[str, Any]:
        """The request's proposal, counted in p26_plans_seen_total, or its error reply: a bad request (counted), or a
        proposal past its deadline at `now` (counted when count_expired). A request handled again alone after its
        batch raised (handling_again) was counted as seen, or bad, in the batch's run."""
        try:
            proposal = parse_request(frames, self.settings.max_request_bytes)
        except BadRequest as exc:
            if not self.handling_again:
                self._requests_bad.inc()
            return with_plan_id(error_envelope(exc.reason, exc.detail), exc.plan_id)
        if not self.handling_again:
            self._plans_seen[proposal.action_proposed]()
        if proposal.deadline_ms is not None:
            late = expired_detail(proposal.deadline_ms, now, self.skew_ms)
            if late is not None:
                if count_expired:
                    self._requests_refused[EXPIRED].inc()
                return with_plan_id(error_envelope(EXPIRED, late), proposal.plan_id)
        return proposal

    def answer(self, proposal: Proposal, decision: dict[str, Any] | Refusal, received: float) -> dict[str, Any]:
        """The reply to a decided proposal (received: perf_counter when it was read off the socket), counted: the
        request, and for a new decision its fail-closed reason, its downgrade and its time to permit."""
        if type(decision) is Refusal:
            if decision.reason != INTERNAL_ERROR:  # counted nowhere, as the runtime's own internal_error
                self._requests_refused[decision.reason].inc()
            return with_plan_id(error_envelope(decision.reason, decision.detail), proposal.plan_id)
        self._requests_ok()
        if not decision["replayed"]:
            final, proposed, reason = decision["final_action"], decision["action_proposed"], decision["gate_reason"]
            if reason in FAIL_CLOSED_REASONS:
                self._fail_closed[reason].inc()
            if final != proposed:
                transition = (proposed, final, reason)
                child = self._downgraded.get(transition)
                if child is None:
                    child = self._downgraded[transition] = increment(P26_DOWNGRADED.labels(
                        from_action=proposed, to_action=final, reason=reason))
                child()
            if decision["permit"]:
                self._observe_time_to_permit(time.perf_counter() - received)
        return {"status": "ok", "decision": decision}  # ok_envelope(decision=decision)

    def decide_one(self, proposal: Proposal, now: float, received: float) -> dict[str, Any] | Refusal:
        """decide_and_record([proposal])[0], decided at `now` from the state cache when it is younger than
        state_refresh_ms at `received` (perf_counter): no Redis read comes between the proposal's deadline
        check and the issuer, so none is repeated. Anything else (no cache or an old one, state_refresh_ms 0,
        a cooldown conflict) goes the batch's way, which reads Redis first."""
        cache = self._cache
        if cache is None or received - self._cache_read_mono >= self.state_refresh_s:
            return self.decide_and_record((proposal,))[0]
        symbol = proposal.symbol
        allowed = symbol in self.allowed
        state, metrics = cache.state_of(
            symbol if decision_depends_on_cooldown(proposal.action_proposed, allowed) else None, now)
        decision, _ = evaluate(proposal, state, allowed=allowed, settings=self.settings, now=now, metrics=metrics)
        if metrics is not self._observed_metrics:
            self.observe(state, metrics, ages=False)
        gate_deadline = issuer_deadline_s(now, self.permit_timeout_ms)
        seen = state.cooldown and cooldown_mattered_to(decision, True)
        item = self.issuer_item(proposal, decision, seen, False, gate_deadline)
        outcomes = self.record([item], gate_deadline, (proposal,))
        if type(outcomes) is tuple:
            if outcomes[2] and proposal.deadline_ms is not None:  # nothing recorded: past its deadline, expired
                late = expired_detail(proposal.deadline_ms, time.time(), self.skew_ms)
                if late is not None:
                    return Refusal(EXPIRED, late)
            return fault_decision(proposal, outcomes[0], now, outcomes[1])
        result = self.settle(proposal, outcomes[0], now, gate_deadline, decision)
        if result is None:  # a cooldown conflict: read again and decide again, as in a batch
            return self.decide_and_record((proposal,), first_attempt=1)[0]
        self.count_fallbacks(metrics, (result,))
        return result

    def decide_and_record(self, proposals: Sequence[Proposal], first_attempt: int = 0) -> list[dict[str, Any] | Refusal]:
        """The recorded decision of each proposal, in order, its HOLD fault decision, or its Refusal.
        Proposals whose cooldown changed between the read and the issuer's write are read and decided
        again (first_attempt 1: decide_one's proposal was refused so); each proposal counts once in
        p26_cluster_fallback_total, on the attempt that settles it."""
        results: list[dict[str, Any] | Refusal | None] = [None] * len(proposals)
        todo = list(range(len(proposals)))
        cached = self.state_refresh_s > 0
        attempt, again = first_attempt, first_attempt > 0
        # Rounds over a cooldown of the batch's own making are free until then (see `charged` below), so that a batch
        # takes about one issuer wait more than DECIDE_ATTEMPTS rounds at most (Topology.longest_turn_s counts one
        # round a batch); none is free once the gate is stopping (each round may wait STOP_ISSUER_GRACE_S for the
        # issuer and for Redis).
        free_until = time.monotonic() + self.permit_timeout_ms / 1000.0
        while attempt < DECIDE_ATTEMPTS:
            now = time.time()
            # Read with `now`: the issuer's deadline by the monotonic clock must not move with a wall clock step
            # during the state read below (stalled Redis), as it did when derived from the wall clock at the request.
            now_mono = time.monotonic()
            if again:  # a re-decision comes later: a proposal past its deadline by now is not decided
                todo = self._drop_expired(proposals, results, todo, now)
                if not todo:
                    break
            batch = [proposals[i] for i in todo]
            try:
                state, metrics = self.state_for([p.symbol for p in batch], now, reread=again)
            except RedisUnavailable as exc:
                self.log_throttled("warning", "redis_unavailable", "state_read", plan_ids=len(batch),
                                   first_plan_id=batch[0].plan_id, error=str(exc))
                todo = self._drop_expired(proposals, results, todo, time.time())  # their clients gave up
                return self._faults(proposals, results, todo, REDIS_UNAVAILABLE, now,
                                    "Redis did not answer the gate's state read: " + NOTHING_RECORDED)
            # The last check before any write: a proposal whose deadline passed while its state was read
            # never reaches the issuer (and the issuer's script checks each one's deadline on Redis's clock).
            decided_at = time.time()
            # The issuer's permit_timeout_ms / 2 runs from the end of the state read, not from `now`: a Redis answering
            # in 300 ms left the issuer nothing of 250 ms (every proposal HOLD permit_unavailable while its client had
            # time left). The read's length by the monotonic clock: a wall clock step during it moves no deadline.
            read_s = time.monotonic() - now_mono
            kept = self._drop_expired(proposals, results, todo, decided_at)
            if len(kept) != len(todo):
                todo = kept
                if not todo:
                    break
                batch = [proposals[i] for i in todo]
            items, metrics = evaluate_batch(batch, state, allowed=self.allowed, settings=self.settings, now=now,
                                            metrics=metrics)
            self.observe(state, metrics, ages=not cached)
            gate_deadline = issuer_deadline_s(now + read_s, self.permit_timeout_ms)
            request_items = [self.issuer_item(proposal, it.decision, cooldown_mattered(it), it.cooldown_from_batch,
                                              gate_deadline) for proposal, it in zip(batch, items)]
            outcomes = self.record(request_items, gate_deadline, batch,
                                   issuer_deadline_s(now_mono + read_s, self.permit_timeout_ms))
            if type(outcomes) is tuple:
                if outcomes[2]:  # nothing was recorded: a proposal past its deadline by now gets expired
                    todo = self._drop_expired(proposals, results, todo, time.time())
                return self._faults(proposals, results, todo, outcomes[0], now, outcomes[1])
            retry: list[int] = []
            charged = False  # a cooldown changed under a proposal: this round counts as one of its attempts
            for i, outcome, item in zip(todo, outcomes, items):
                try:
                    result = results[i] = self.settle(proposals[i], outcome, now, gate_deadline, item.decision)
                except Exception as exc:  # the batch is written: run again, each other decision would be a replay
                    result = results[i] = self.failed_once_written(proposals[i], exc)
                if result is None:
                    retry.append(i)
                    # Decided under the cooldown an earlier proposal of the batch was to set, which was not
                    # written (refused: stream_full, expired...): no cooldown changed. Charged no attempt (until
                    # free_until), as each round settles its symbol's first proposal (decided on Redis's cooldown),
                    # so the rounds end; charged, 3 rounds settled 3 proposals of a symbol and told the others that
                    # the cooldown "kept changing".
                    charged = charged or not item.cooldown_from_batch
            self.count_fallbacks(metrics, [results[i] for i in todo])
            todo = retry
            if not todo:
                break
            again = True
            attempt += charged or self._stopping or time.monotonic() >= free_until  # stopping: within its 2 s
        return self._faults(proposals, results, todo, PERMIT_UNAVAILABLE, time.time(),
                            "the symbol's cooldown kept changing while the gate decided: " + NOTHING_RECORDED)

    def issuer_item(self, proposal: Proposal, decision: dict[str, Any], cooldown_seen: bool, cooldown_from_batch: bool,
                    gate_deadline: float) -> dict[str, Any]:
        """What the issuer is asked to record for one decision; the proposal's own deadline (less the allowed
        skew) goes with it when it comes before the gate's."""
        item = {"decision": decision, "cooldown_seen": cooldown_seen, "cooldown_from_batch": cooldown_from_batch}
        if proposal.deadline_ms is not None:
            client_deadline = (proposal.deadline_ms - self.skew_ms) / 1000.0
            if client_deadline < gate_deadline:
                item["deadline_epoch"] = client_deadline
        return item

    def record(self, items: list[dict[str, Any]], gate_deadline: float, batch: Sequence[Proposal],
               deadline_mono: float | None = None) -> list[Any] | tuple[str, str, bool]:
        """Ask the issuer to record the batch's items: one outcome per item, or, when it did not answer or
        refused the whole request, the (reason, detail, nothing recorded for certain) of the fault HOLD every
        proposal of the batch gets. deadline_mono: gate_deadline by the monotonic clock,
        read with the decision's wall clock (None: derived now, when nothing has waited since the decision)."""
        # The deadline by the monotonic clock too, which the issuer (on this host) shares: a wall clock step while the
        # request waits for the issuer does not move it.
        if deadline_mono is None:
            deadline_mono = gate_deadline - time.time() + time.monotonic()
        reply = self.ask_issuer({"decisions": items, "deadline_epoch": gate_deadline,
                                 "deadline_mono": deadline_mono, "compact": True})
        if reply is None:
            return PERMIT_UNAVAILABLE, OUTCOME_UNKNOWN, False
        if reply is ISSUER_NOT_CONNECTED or reply is PERMITS_SOCKET_UNAVAILABLE:  # the request never left the gate
            return PERMIT_UNAVAILABLE, f"{reply['detail']}: {NOTHING_RECORDED}", True
        outcomes = reply.get("results") if reply.get("status") == "ok" else None
        if isinstance(outcomes, list) and len(outcomes) == len(batch):
            self.count_writes(outcomes)
            return outcomes
        reason = reply.get("reason")
        self.log_throttled("warning", "permit_issuer_refused", ("request", str(reason)[:64]), plan_ids=len(batch),
                           first_plan_id=batch[0].plan_id, reason=reason, detail=reply.get("detail"))
        if reason == REDIS_UNAVAILABLE:
            self._cache = None
            return REDIS_UNAVAILABLE, OUTCOME_UNKNOWN, False
        if reason in REFUSED_BEFORE_ANY_WRITE:
            return PERMIT_UNAVAILABLE, f"the permit issuer refused the request ({reason}): {NOTHING_RECORDED}", True
        # Anything else (internal_error, a reply of the wrong shape) may come after the writes.
        return PERMIT_UNAVAILABLE, f"the permit issuer failed ({reason}): {OUTCOME_UNKNOWN}", False

    def count_writes(self, outcomes: list[Any]) -> None:
        """Count the issuer's writes and permits as its reply comes, before any decision of it is settled: a run
        that fails settling one is not run again for the others (failed_once_written), and would count their replays
        as nothing."""
        for outcome in outcomes:
            if isinstance(outcome, dict) and outcome.get("status") == "ok":
                if outcome.get("written"):
                    self._count_write()
                if outcome.get("permit_issued"):
                    self._count_permit()

    def failed_once_written(self, proposal: Proposal, exc: Exception) -> Refusal:
        """The internal_error of one proposal of a batch the issuer has written, whose settling or answer raised
        (counted and logged as the runtime counts a handler's exception). The others are answered from the batch: run
        again, each would get its decision back as a replay, counted in no metric."""
        self._errors_handler.inc()
        self.log.error("handler_error", socket="proposals", plan_id=proposal.plan_id, error=repr(exc))
        return Refusal(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")

    def settle(self, proposal: Proposal, outcome: dict[str, Any], now: float, gate_deadline: float,
               sent: dict[str, Any]) -> dict[str, Any] | Refusal | None:
        """_recorded's result for one outcome, kept in the state cache: the cooldown a written permit set,
        no cache after a Redis fault."""
        result = self._recorded(proposal, outcome, now, gate_deadline, sent)
        if result is None or type(result) is Refusal:
            return result
        cache = self._cache
        if cache is not None and outcome.get("written") and result.get("permit"):
            # The issuer set this symbol's cooldown (TTL from `now` or later: never seen as longer).
            cache.set_cooldown(result["symbol"], now + self.cooldown_ttl_s)
        elif result["gate_reason"] == REDIS_UNAVAILABLE:
            self._cache = None
        return result

    def count_fallbacks(self, metrics: PortfolioMetrics, results: Sequence[dict[str, Any] | Refusal | None]) -> None:
        """Count the results decided on `metrics` when their K came from the proxy: decisions made now, not None (to be
        decided again), a Refusal (an error envelope, no K), a fault HOLD (recorded false: decided by the fault, on no
        K) nor a replay (a resent plan_id's first decision, with its own K). Before the gate's first K from the
        cluster, they count in its warm-up too."""
        if metrics.k_source == "cluster":
            return
        settled = sum(1 for r in results if r is not None and type(r) is not Refusal and r.get("recorded") is not False
                      and not r.get("replayed"))
        if settled:
            self._count_fallbacks(settled)
            if self._warming_up:
                self._count_warm_up_fallbacks(settled)

    def _drop_expired(self, proposals: Sequence[Proposal], results: list[dict[str, Any] | Refusal | None],
                      todo: list[int], now: float) -> list[int]:
        """todo less the proposals past their deadline at `now`, whose result becomes Refusal expired."""
        kept = []
        for i in todo:
            deadline_ms = proposals[i].deadline_ms
            late = None if deadline_ms is None else expired_detail(deadline_ms, now, self.skew_ms)
            if late is None:
                kept.append(i)
            else:
                results[i] = Refusal(EXPIRED, late)
        return kept

    def _recorded(self, proposal: Proposal, outcome: dict[str, Any], now: float, gate_deadline: float = math.inf,
                  sent: dict[str, Any] | None = None) -> dict[str, Any] | Refusal | None:
        """The decision the issuer recorded for one proposal, its fault decision, its Refusal, or None to
        decide again."""
        if outcome.get("status") == "ok":
            recorded = outcome.get("decision")
            if recorded is None and outcome.get("written") and sent is not None:
                recorded = recorded_in_place(sent)  # a compact result: the decision sent is the one written
            if not isinstance(recorded, dict):
                return fault_decision(proposal, PERMIT_UNAVAILABLE, now, OUTCOME_UNKNOWN)
            if recorded.get("final_action") != HOLD and not recorded.get("permit"):
                # never act without a permit
                return fault_decision(proposal, PERMIT_UNAVAILABLE, now, "the recorded decision has no permit")
            return recorded
        reason = outcome.get("reason")
        if reason == "cooldown_conflict":
            return None
        if reason in (PLAN_ID_CONFLICT, PLAN_ID_EXPIRED):
            return Refusal(reason, str(outcome.get("detail", "")))
        if reason == REPLICA_UNACKNOWLEDGED:
            return self._unacknowledged(proposal, outcome, now)
        detail = outcome.get("detail")
        if reason != "bad_key_type" or detail != self._key_type_logged:  # a key of another type: once, not per proposal
            # A spell per reason and the detail's first word (a Redis error code: READONLY, NOREPLICAS ...), after the
            # issuer's "nothing was written: " (else every refusal before a write was one spell).
            code = str(detail).removeprefix("nothing was written: ").split(" ", 1)[0][:32]
            self.log_throttled("warning", "permit_issuer_refused", (str(reason)[:64], code),
                               plan_id=proposal.plan_id, reason=reason, detail=detail)
            self._key_type_logged = detail if reason == "bad_key_type" else None
        if reason == REDIS_UNAVAILABLE:
            if outcome.get("nothing_written") is True:  # the issuer sent Redis nothing (it refused the connection)
                return fault_decision(proposal, REDIS_UNAVAILABLE, now,
                                      f"{str(detail)[:200]}; {NOTHING_RECORDED}")
            return fault_decision(proposal, REDIS_UNAVAILABLE, now, OUTCOME_UNKNOWN)
        if reason in ("bad_key_type", "corrupt_decision", "out_of_memory", "evicting_policy"):  # Redis unusable for it
            return fault_decision(proposal, REDIS_UNAVAILABLE, now, f"{reason}: {outcome.get('detail', '')}"[:300])
        if (reason == EXPIRED and proposal.deadline_ms is not None
                and (proposal.deadline_ms - self.skew_ms) / 1000.0 < gate_deadline):
            # Redis's clock passed the client's own deadline: the client has given up, as with the gate's check.
            return Refusal(EXPIRED, f"{outcome.get('detail', '')}"[:200] + " (the proposal's deadline_ms less the "
                                    "allowed clock skew, by Redis's clock): resend the same plan_id with a later deadline")
        if reason in ("expired", "stream_full"):  # the script refused before its first write
            return fault_decision(proposal, PERMIT_UNAVAILABLE, now,
                                  f"{reason}: {outcome.get('detail', '')}"[:300] + "; " + NOTHING_RECORDED)
        return fault_decision(proposal, PERMIT_UNAVAILABLE, now, OUTCOME_UNKNOWN)

    @staticmethod
    def _unacknowledged(proposal: Proposal, outcome: dict[str, Any], now: float) -> dict[str, Any]:
        """The decision is on the Redis primary, but too few replicas acknowledged it: a fault HOLD, outcome
        unknown, without its permit (the execution layer acts only on a reply that says recorded)."""
        if outcome.get("written"):  # written on the primary: counted as the issuer's metrics count it
            P26_GATE_WRITES.inc()
        if outcome.get("permit_issued"):
            P26_PERMIT_ISSUED.inc()
        return fault_decision(proposal, REPLICA_UNACKNOWLEDGED, now, str(outcome.get("detail") or OUTCOME_UNKNOWN)[:400])

    @staticmethod
    def _faults(proposals: Sequence[Proposal], results: list[dict[str, Any] | Refusal | None], todo: Sequence[int],
                reason: str, now: float, detail: str) -> list[dict[str, Any] | Refusal]:
        for i in todo:
            results[i] = fault_decision(proposals[i], reason, now, detail)
        return results  # type: ignore[return-value]  # every slot is filled now


if __name__ == "__main__":
    main(Gate)
