"""The gate's policy, shared by the live gate and the backtest: proposal validation, portfolio
metrics (heat, concentration, corr_proxy, K from fresh cluster stress or the proxy), freshness,
SPEC's policy steps with cooldown step-downs, one evaluation, a batch in arrival order (a non-HOLD
decision sets its symbol's cooldown for the proposals after it), and the decision record; and the
portfolio metrics of many instants at once, for the backtest (batch_portfolio, batch_gate_metrics).
Pure: no sockets, no Redis, no clock (the time is a parameter). No numpy at import (the gate's RSS
target): the batch forms import it when called.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Mapping, Sequence

from actors.freshness import cluster_state_age_s
from actors.snapshots import read_snapshot
from launcher.topology import GateSettings

if TYPE_CHECKING:
    import numpy as np


HOLD, P25, P50, P75, FULL = "HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED"
ACTIONS = (HOLD, P25, P50, P75, FULL)
STEP_DOWN = {FULL: P75, P75: P50, P50: P25, P25: HOLD, HOLD: HOLD}

# Reasons, as SPEC names them, plus the two fault reasons.
PASS = "pass"
NOT_ALLOWED = "not_allowed"
FAIL_CLOSED_STATE = "fail_closed_portfolio_state"
COOLDOWN = "cooldown_downgrade"
COLD_KS_HARD = "forbid_full_close_portfolio_cold_ks_hard"
COLD = "forbid_full_close_portfolio_cold"
RISKOFF = "riskoff_accelerate"
REDIS_UNAVAILABLE = "redis_unavailable"
PERMIT_UNAVAILABLE = "permit_unavailable"
# The decision is on the Redis primary but fewer replicas than the issuer's wait_replicas acknowledged it.
REPLICA_UNACKNOWLEDGED = "replica_unacknowledged"
FAIL_CLOSED_REASONS = (FAIL_CLOSED_STATE, REDIS_UNAVAILABLE, PERMIT_UNAVAILABLE, REPLICA_UNACKNOWLEDGED)


PROPOSAL_FIELDS = ("plan_id", "symbol", "action_proposed", "kill_score", "r_net", "ts_epoch", "deadline_ms")
MAX_PLAN_ID_CHARS = 128
MAX_SYMBOL_CHARS = 32
# Unknown fields named in an error, in the request's order; the rest are counted. Naming them all (sorted) cost the
# gate's only thread 4 ms for a 64 KB request of 8,000 names, 5 times orjson's read of it.
UNKNOWN_FIELDS_NAMED = 10
# deadline_ms at or past this (the year 5138 in epoch ms) is no deadline a client can mean: epoch microseconds
# (1.8e15 today) taken as ms would be a deadline that never comes, so the proposal is refused naming the unit.
MAX_DEADLINE_MS = 1e14
_NO_DEADLINE = object()  # deadline_ms left out of the proposal (null is not that)


def policy_transitions() -> list[tuple[str, str, str]]:
    """Every (from_action, to_action, reason) the gate can report under either policy, so each series exists at 0
    (monotone's cooldown takes a cold FULL_CLOSE_PROPOSED one step below its cold answer: to PARTIAL_50 or 25)."""
    out = [(a, STEP_DOWN[a], COOLDOWN) for a in (FULL, P75, P50, P25)]
    out += [(FULL, P50, COOLDOWN), (FULL, P25, COOLDOWN)]
    out += [(FULL, P75, COLD_KS_HARD), (FULL, P50, COLD), (P25, P75, RISKOFF), (P50, P75, RISKOFF)]
    out += [(a, HOLD, r) for a in (P25, P50, P75, FULL) for r in (NOT_ALLOWED,) + FAIL_CLOSED_REASONS]
    return out


# --------------------------------------------------------------------------- proposals


class BadRequest(ValueError):
    """A request that gets an error envelope; `reason` is a stable word, `detail` says exactly what."""

    def __init__(self, reason: str, detail: str, plan_id: str | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.plan_id = plan_id  # when the request carried a usable one, so the reply can name it


def with_plan_id(envelope: dict[str, Any], plan_id: str | None) -> dict[str, Any]:
    """An error envelope naming the proposal's plan_id, when it had one: the client retries with it."""
    if plan_id is not None:
        envelope["plan_id"] = plan_id
    return envelope


class Proposal(NamedTuple):
    """A checked proposal, immutable. A NamedTuple, not a frozen dataclass: made once per request, and a frozen
    dataclass's __init__ sets each of its 7 fields through object.__setattr__ (issue 14: 10,000 instructions of the
    gate's 130,000 per decision)."""
    plan_id: str
    symbol: str
    action_proposed: str
    kill_score: float = 0.0
    r_net: float | None = None
    ts_epoch: float | None = None
    deadline_ms: float | None = None  # epoch ms by the client's clock; never part of the decision record


# Proposal(...) of all its fields, without the Python frame of the NamedTuple's generated __new__ (issue 14).
_new_proposal = tuple.__new__


def _is_number(value: Any) -> bool:
    """A JSON number that is a finite float: an integer too large for a float (e.g. 400 digits) is not."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _MAX_FLOAT_INT
    return isinstance(value, float) and math.isfinite(value)


_MAX_FLOAT_INT = int(sys.float_info.max)
_isfinite = math.isfinite


QUOTE_CHARS = 60  # of a request's value, in an error detail
_END = object()


def _shown(value: Any) -> str:
    """A request's value as an error detail quotes it: the first 60 characters of its JSON (json.dumps's), written
    only that far. Writing a 31,000-element array whole to keep 60 characters cost the gate 3 ms per request."""
    pieces: list[str] = []
    chars = 0
    for piece in _json_pieces(value):
        pieces.append(piece)
        chars += len(piece)
        if chars >= QUOTE_CHARS:
            break
    return "".join(pieces)[:QUOTE_CHARS]


def _json_pieces(value: Any) -> Iterator[str]:
    """json.dumps(value)'s text in order, piece by piece, each piece at least one character. A loop over a stack of
    the open arrays and objects, not recursion: a value nested deeper than Python's stack (which the json module
    reads but cannot write) is walked like any other. A string is written from its first QUOTE_CHARS characters
    only: each character is written as one or more, so the text's first QUOTE_CHARS characters are the same."""
    open_: list[tuple[Iterator[Any], str]] = []  # each open array's or object's members left, and its closer
    while True:
        if isinstance(value, (list, tuple)) and value:
            members = iter(value)
            open_.append((members, "]"))
            yield "["
            value = next(members)
            continue
        if isinstance(value, dict) and value:
            members = iter(value.items())
            open_.append((members, "}"))
            key, value = next(members)
            yield "{" + _key_json(key) + ": "
            continue
        yield _scalar_json(value)
        while open_:
            members, closer = open_[-1]
            member = next(members, _END)
            if member is not _END:
                break
            open_.pop()
            yield closer
        else:
            return
        if closer == "}":
            key, value = member
            yield ", " + _key_json(key) + ": "
        else:
            value = member
            yield ", "


def _scalar_json(value: Any) -> str:
    """A value that is not a non-empty array or object, as json.dumps writes it; a string from its first QUOTE_CHARS
    characters. A number is written as json.dumps writes it, without its per-call cost (2 us, the quote's most)."""
    if isinstance(value, str):
        return json.dumps(value[:QUOTE_CHARS])
    if isinstance(value, int) and not isinstance(value, bool):
        return int.__repr__(value)
    if isinstance(value, float) and _isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)


def _key_json(key: Any) -> str:
    """An object's key as json.dumps writes it (a key not a string, never in a decoded request, as json.dumps
    converts it), from its first QUOTE_CHARS characters."""
    if isinstance(key, str):
        return json.dumps(key[:QUOTE_CHARS])
    return json.dumps({key: 0})[1:-len(": 0}")]


_PROPOSAL_FIELD_SET = frozenset(PROPOSAL_FIELDS)


def _unknown_fields(obj: dict[Any, Any]) -> str:
    """The problem of an object with names outside PROPOSAL_FIELDS: the first UNKNOWN_FIELDS_NAMED of them and
    their count, in work bounded by that number whatever the object's size."""
    count = len(obj) - sum(name in obj for name in PROPOSAL_FIELDS)
    named = [str(k) for k in islice((k for k in obj if k not in _PROPOSAL_FIELD_SET), UNKNOWN_FIELDS_NAMED)]
    more = f" and {count - len(named)} more, {count} in all" if count > len(named) else ""
    return f"unknown fields: {', '.join(named)[:200]}{more} (known: {', '.join(PROPOSAL_FIELDS)})"


def usable_plan_id(plan_id: Any) -> str | None:
    """plan_id when an error reply can name it (a non-blank string of at most 128 printable characters), else None."""
    if type(plan_id) is str and plan_id.strip() and len(plan_id) <= MAX_PLAN_ID_CHARS and plan_id.isprintable():
        return plan_id
    return None


def _string_problem(name: str, value: Any, max_chars: int, wanted: str, blank_ok: bool) -> str:
    """What is wrong with a required string field that failed its check, naming what was got (missing, another type,
    empty or blank, too long, or the first character that is not printable). "plan_id is required" for a plan_id given as a
    number, or "at most 128 printable characters" for a 3-character one holding a NUL, named neither."""
    if value is None:
        return f"{name} is required: {wanted}"
    if not isinstance(value, str):
        return f"{name} must be {wanted}, got {_shown(value)}"
    if not (value if blank_ok else value.strip()):
        return f"{name} must be {wanted}, got {_shown(value)}"
    if len(value) > max_chars:
        return f"{name} must be at most {max_chars} characters, got {len(value)}"
    index, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
    return f"{name} must be printable: character U+{ord(char):04X} at index {index} is not"


def validate_proposal(obj: Any) -> Proposal:
    """The proposal in a decoded request, or BadRequest naming every problem."""
    if not isinstance(obj, dict):
        raise BadRequest("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    problems: list[str] = []
    if len(obj) > len(PROPOSAL_FIELDS) or not _PROPOSAL_FIELD_SET.issuperset(obj):
        problems.append(_unknown_fields(obj))
    plan_id = obj.get("plan_id")
    named_plan_id = usable_plan_id(plan_id)
    if named_plan_id is None:
        problems.append(_string_problem("plan_id", plan_id, MAX_PLAN_ID_CHARS, "a non-blank string", blank_ok=False))
    symbol = obj.get("symbol")
    if not (type(symbol) is str and symbol and len(symbol) <= MAX_SYMBOL_CHARS and symbol.isprintable()):
        problems.append(_string_problem("symbol", symbol, MAX_SYMBOL_CHARS, "a non-empty string, e.g. ETHUSDT",
                                        blank_ok=True))
    action = obj.get("action_proposed")
    if action not in ACTIONS:
        problems.append(f"action_proposed is required: one of {', '.join(ACTIONS)}" if "action_proposed" not in obj
                        else f"action_proposed must be one of {', '.join(ACTIONS)}, got {_shown(action)}")
    # A float (what JSON gives for most numbers) is checked inline: _is_number's call per field was a
    # tenth of the gate's validation (issue 14).
    kill_score = obj.get("kill_score", 0.0)
    if (not (_isfinite(kill_score) if type(kill_score) is float else _is_number(kill_score))
            or not 0.0 <= kill_score <= 1.0):
        problems.append(f"kill_score must be a number in [0, 1], got {_shown(kill_score)}")
    r_net = obj.get("r_net")
    if r_net is not None and not (_isfinite(r_net) if type(r_net) is float else _is_number(r_net)):
        problems.append(f"r_net must be a finite number, got {_shown(r_net)}")
    ts_epoch = obj.get("ts_epoch")
    if ts_epoch is not None and not (_isfinite(ts_epoch) if type(ts_epoch) is float else _is_number(ts_epoch)):
        problems.append(f"ts_epoch must be a finite number, got {_shown(ts_epoch)}")
    # null is refused, not taken for no deadline: the client asked for one (its computation gave nothing, or a
    # serializer wrote an unset field so), and deciding it however late would drop that safety without a word.
    deadline_ms = obj.get("deadline_ms", _NO_DEADLINE)
    if deadline_ms is _NO_DEADLINE:
        deadline_ms = None
    elif not (_isfinite(deadline_ms) if type(deadline_ms) is float else _is_number(deadline_ms)) or deadline_ms <= 0:
        problems.append(f"deadline_ms must be a positive number (epoch milliseconds), got {_shown(deadline_ms)}"
                        + ("; leave deadline_ms out for no deadline" if deadline_ms is None else ""))
    elif deadline_ms >= MAX_DEADLINE_MS:
        problems.append(f"deadline_ms must be epoch milliseconds, got {_shown(deadline_ms)}: after the year "
                        f"5000 (epoch microseconds?); leave deadline_ms out for no deadline")
    if problems:
        raise BadRequest("invalid_proposal", "; ".join(problems), named_plan_id)
    return _new_proposal(Proposal, (plan_id, symbol, action, float(kill_score), None if r_net is None else float(r_net),
                                    None if ts_epoch is None else float(ts_epoch),
                                    None if deadline_ms is None else float(deadline_ms)))


# --------------------------------------------------------------------------- portfolio metrics


@dataclass(frozen=True, slots=True)
class Position:
    """A fresh position: signed notional in USD (sign = side of position_amt)."""

    symbol: str
    signed_notional: float


def parse_snapshot(symbol: str, values: Sequence[Any], now: float, stale_after_s: float) -> tuple[Position | None, float | None]:
    """(position if the snapshot is usable and fresh, age in seconds if it has a timestamp).

    values are the hash fields position_amt, mark_price, ts_epoch, notional_usd (None when absent).
    The rule (notional, side, skew, staleness) is actors.snapshots.read_snapshot, shared with P2.7.
    """
    value, age_s = read_snapshot(*values, now, stale_after_s)
    return (None if value is None else Position(symbol, value)), age_s


def finite_number(value: Any) -> float | None:
    """A raw Redis value (a timestamp), or a decoded JSON number, as a finite float, else None (an integer beyond
    float's range included: float() raises OverflowError on it)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def state_is_fresh(updated_ts: Any, updated_ts_ms: Any, now: float, freshness_s: float) -> bool:
    """0 <= age <= freshness_s (cluster_state_age_s: updated_ts, to the ms by updated_ts_ms) for raw Redis values.
    The one freshness rule of everything the state writer stamps in its transaction: the cluster state (K)
    and realized vol (sigma), so that both are fresh, or both stale, at every instant."""
    updated = finite_number(updated_ts)
    if updated is None:
        return False
    age_s = cluster_state_age_s(updated, updated_ts_ms, now)
    return 0 <= age_s <= freshness_s


def cluster_k(updated_ts: Any, cluster_stress: Any, now: float, freshness_s: float,
              updated_ts_ms: Any = None) -> float | None:
    """Cluster stress when the cluster state exists and is fresh (state_is_fresh: 0 <= its age <= freshness_s,
    updated_ts to the ms by updated_ts_ms), else None."""
    try:
        stress = float(cluster_stress)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(stress) or not state_is_fresh(updated_ts, updated_ts_ms, now, freshness_s):
        return None
    return min(max(stress, 0.0), 1.0)


def clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


# Stress is kept to this many decimals, as a decision records it, so the policy's thresholds apply to the number
# the record shows: 0.6 + 0.25 x 0.5 + 0.15 x 0.5 is 0.7999999999999999 in floats, and was permitted PARTIAL_50
# as a `pass` beside a recorded stress of 0.8, SPEC's risk-off threshold.
STRESS_DECIMALS = 6
STRESS_SCALE = 10.0 ** STRESS_DECIMALS


def stress_of(heat: float, concentration: float, k: float, settings: GateSettings) -> float:
    """SPEC's stress, clipped to [0, 1] and rounded to STRESS_DECIMALS (NaN stays NaN: fail closed)."""
    stress = clip01(settings.weight_heat * heat + settings.weight_concentration * concentration + settings.weight_k * k)
    return round(stress * STRESS_SCALE) / STRESS_SCALE if stress == stress else stress


@dataclass(frozen=True, slots=True)
class PortfolioMetrics:
    heat: float
    concentration: float
    corr_proxy: float
    k: float
    k_source: str  # "cluster" | "proxy"
    stress: float
    total_abs_notional: float
    sigma_fallback_symbols: tuple[str, ...] = ()


def portfolio_metrics(positions: Sequence[Position], cluster_stress: float | None, settings: GateSettings,
                      sigmas: Mapping[str, float] | None = None) -> PortfolioMetrics:
    """SPEC's metrics over fresh positions; sigmas (realized) override settings.sigma per symbol.

    cluster_stress is the fresh cluster stress, or None to fall back to corr_proxy.
    A symbol missing from sigmas uses the constant and is listed in sigma_fallback_symbols.
    """
    k_source = "cluster" if cluster_stress is not None else "proxy"
    gross = sum(abs(p.signed_notional) for p in positions)
    if gross <= 0.0:
        return PortfolioMetrics(0.0, 0.0, 0.0, 0.0, k_source, 0.0, 0.0)
    net = sum(p.signed_notional for p in positions)
    fallback: list[str] = []
    weighted_sigma = 0.0
    for p in positions:
        sigma = settings.sigma
        if sigmas is not None:
            if p.symbol in sigmas:
                sigma = sigmas[p.symbol]
            else:
                fallback.append(p.symbol)
        weighted_sigma += abs(p.signed_notional) / gross * sigma
    heat = clip01((weighted_sigma - settings.heat_floor) / (settings.heat_ceiling - settings.heat_floor))
    concentration = abs(net) / gross
    if net > 0:
        corr_proxy = sum(p.signed_notional for p in positions if p.signed_notional > 0) / gross
    elif net < 0:
        corr_proxy = -sum(p.signed_notional for p in positions if p.signed_notional < 0) / gross
    else:
        corr_proxy = 0.0
    k = cluster_stress if cluster_stress is not None else corr_proxy
    return PortfolioMetrics(heat, concentration, corr_proxy, k, k_source, stress_of(heat, concentration, k, settings),
                            gross, tuple(fallback))


def batch_portfolio(signed: np.ndarray, k_value: np.ndarray, sigmas: np.ndarray,
                    gate: GateSettings) -> dict[str, np.ndarray]:
    """portfolio_metrics for many states at once (tests pin them equal): signed (B, k) with NaN = no fresh
    snapshot, k_value (B,) the fresh cluster stress (NaN: the proxy), sigmas (B, k) per-symbol sigma."""
    import numpy as np
    held = np.isfinite(signed)
    v = np.where(held, signed, 0.0)
    gross = np.abs(v).sum(axis=1)
    net = v.sum(axis=1)
    safe = np.where(gross > 0, gross, 1.0)
    weighted = (np.abs(v) * np.where(held, sigmas, 0.0)).sum(axis=1) / safe
    heat = np.clip((weighted - gate.heat_floor) / (gate.heat_ceiling - gate.heat_floor), 0.0, 1.0)
    concentration = np.abs(net) / safe
    pos = np.where(v > 0, v, 0.0).sum(axis=1)
    neg = -np.where(v < 0, v, 0.0).sum(axis=1)
    proxy = np.where(net > 0, pos / safe, np.where(net < 0, neg / safe, 0.0))
    k_used = np.where(np.isnan(k_value), proxy, k_value)
    stress = np.clip(gate.weight_heat * heat + gate.weight_concentration * concentration + gate.weight_k * k_used,
                     0.0, 1.0)
    stress = np.rint(stress * STRESS_SCALE) / STRESS_SCALE  # stress_of's rounding: the same value
    zero = gross <= 0
    for arr in (heat, concentration, proxy, k_used, stress):
        arr[zero] = 0.0
    # evaluate's state_ok: at least one fresh snapshot (a flat one counts), else fail closed
    return {"heat": heat, "concentration": concentration, "corr_proxy": proxy, "K": k_used, "stress": stress,
            "state_ok": held.any(axis=1)}


def batch_gate_metrics(now: np.ndarray, state_at: np.ndarray, state_ts: np.ndarray, cluster_stress: np.ndarray,
                       vol: np.ndarray, in_matrix: np.ndarray, signed: np.ndarray, gate: GateSettings,
                       freshness_s: float) -> dict[str, np.ndarray]:
    """The gate's metrics at many instants at once: at now[i] it holds the positions signed[i] (batch_portfolio)
    and reads the cluster state state_at[i] (an index into state_ts, cluster_stress, vol and in_matrix; -1: none
    yet), stamped as the state writer stamps one made at state_ts (updated_ts int(ts), updated_ts_ms int(ts x 1000)).
    K, and realized sigmas when gate.sigma_source is realized, come from that state when it is fresh (state_is_fresh:
    0 <= age <= freshness_s, to the ms), else the proxy and the constant sigma; k_source says which."""
    import numpy as np
    have = state_at >= 0
    at_all = np.maximum(state_at, 0)
    updated = np.where(have, np.floor(state_ts[at_all]), np.nan)  # the state writer's int(ts)
    age = now - updated
    # K and realized vol: state_is_fresh's time, the state writer's updated_ts_ms (int(ts * 1000)) for both;
    # from the future before updated_ts
    updated_ms = np.where(have, np.floor(state_ts[at_all] * 1000) / 1000, np.nan)
    fresh_k = have & (age >= 0) & (now - updated_ms <= freshness_s)
    k_value = np.where(fresh_k, np.clip(cluster_stress[at_all], 0.0, 1.0), np.nan)
    parts: list[dict[str, np.ndarray]] = []
    step = 65536  # rows at a time: the temporaries stay small
    for lo in range(0, len(now), step):
        hi = min(lo + step, len(now))
        sigmas = np.full((hi - lo, signed.shape[1]), gate.sigma)
        if gate.sigma_source == "realized":
            at = at_all[lo:hi]
            v = vol[at]
            realized = in_matrix[at] & np.isfinite(v) & (v > 0) & fresh_k[lo:hi, None]
            sigmas = np.where(realized, v, gate.sigma)
        parts.append(batch_portfolio(signed[lo:hi], k_value[lo:hi], sigmas, gate))
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    out["k_source"] = np.where(fresh_k, "cluster", "proxy")
    return out


# --------------------------------------------------------------------------- policy


def decide(action_proposed: str, *, allowed: bool, state_ok: bool, cooldown: bool, stress: float, kill_score: float,
           settings: GateSettings) -> tuple[str, str]:
    """SPEC's policy, steps 1-6 in order: (final_action, gate_reason). A stress that is not a finite
    number (notionals overflowing) is portfolio state that cannot be used: HOLD, fail closed.

    settings.policy "monotone": under a cooldown, the smaller of SPEC's answer and one step below the
    answer without the cooldown (gate_reason cooldown_downgrade when that step is the smaller), so a
    cooldown never gives a larger action than no cooldown (docs/proposal-api.md: the policy table)."""
    if not allowed:
        return HOLD, NOT_ALLOWED
    if not state_ok or not math.isfinite(stress):
        return HOLD, FAIL_CLOSED_STATE
    action, reason = _steps_4_to_6(action_proposed, cooldown, stress, kill_score, settings)
    if cooldown and settings.policy == "monotone" and action_proposed != HOLD:
        # A cooldown never yields more than one step below what the proposal gets without it.
        stepped = STEP_DOWN[_steps_4_to_6(action_proposed, False, stress, kill_score, settings)[0]]
        if ACTIONS.index(stepped) < ACTIONS.index(action):
            return stepped, COOLDOWN
    return action, reason


def _steps_4_to_6(action: str, cooldown: bool, stress: float, kill_score: float,
                  settings: GateSettings) -> tuple[str, str]:
    reason = PASS
    if cooldown and action != HOLD:
        action, reason = STEP_DOWN[action], COOLDOWN
    if action == FULL and stress < settings.cold_stress:
        if kill_score >= settings.kill_score_hard:
            return P75, COLD_KS_HARD
        return P50, COLD
    if stress >= settings.riskoff_stress and action in (P25, P50):
        return P75, RISKOFF
    return action, reason


# --------------------------------------------------------------------------- one evaluation


@dataclass(slots=True)
class PortfolioState:
    """What one Redis round trip returned, already parsed."""

    positions: list[Position]
    ages_s: dict[str, float]
    cluster_stress: float | None
    sigmas: dict[str, float] | None
    cooldown: bool
    missing_realized: list[str] = field(default_factory=list)
    cooldowns: dict[str, bool] = field(default_factory=dict)  # symbol -> cooldown key exists, per symbol read
    # "realized" (sigmas used), "constant", or "constant_fallback": realized asked for, but its
    # updated_ts is missing or outside the cluster freshness window (the same window and the same rule as K,
    # state_is_fresh: to the ms by its updated_ts_ms).
    sigma_source: str = "constant"
    # Symbols whose snapshot has SPEC's fields but no usable ts_epoch (missing or not a finite number): not held, and
    # of no age, so that only this count tells them from symbols with no snapshot at all.
    undated: int = 0


def evaluate(proposal: Proposal, state: PortfolioState, *, allowed: bool, settings: GateSettings,
             now: float, cooldown: bool | None = None,
             metrics: PortfolioMetrics | None = None) -> tuple[dict[str, Any], PortfolioMetrics]:
    """The decision record for a proposal (before the issuer adds permit fields) and its metrics.

    cooldown defaults to state.cooldown; metrics, when given, must be those of state."""
    if metrics is None:
        metrics = portfolio_metrics(state.positions, state.cluster_stress, settings, state.sigmas)
    state_ok = bool(state.positions) and math.isfinite(metrics.total_abs_notional)
    final_action, reason = decide(proposal.action_proposed, allowed=allowed, state_ok=state_ok,
                                  cooldown=state.cooldown if cooldown is None else cooldown, stress=metrics.stress,
                                  kill_score=proposal.kill_score, settings=settings)
    decision = decision_record(proposal, final_action, reason, metrics, now)
    if state.sigmas is not None:
        decision["sigma_source"] = "realized"
        decision["sigma_fallback_symbols"] = list(metrics.sigma_fallback_symbols)
    else:
        decision["sigma_source"] = "constant_fallback" if state.sigma_source == "constant_fallback" else "constant"
    return decision, metrics


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One proposal of a batch as decided: the decision, and the cooldown it was decided with.
    cooldown_from_batch: the cooldown was not in Redis but set by an earlier decision of the batch."""

    decision: dict[str, Any]
    cooldown_seen: bool
    cooldown_from_batch: bool


def evaluate_batch(proposals: Sequence[Proposal], state: PortfolioState, *, allowed: frozenset[str],
                   settings: GateSettings, now: float,
                   metrics: PortfolioMetrics | None = None) -> tuple[list[BatchItem], PortfolioMetrics]:
    """Decide proposals in arrival order against one read of the state, as if one at a time: a non-HOLD
    decision sets its symbol's cooldown for the proposals after it (state.cooldowns is what Redis had).
    metrics, when given, must be those of state."""
    if metrics is None:
        metrics = portfolio_metrics(state.positions, state.cluster_stress, settings, state.sigmas)
    cooldowns = dict(state.cooldowns)
    items: list[BatchItem] = []
    for proposal in proposals:
        symbol = proposal.symbol
        cooldown = cooldowns.get(symbol, False)
        decision, _ = evaluate(proposal, state, allowed=symbol in allowed, settings=settings, now=now,
                               cooldown=cooldown, metrics=metrics)
        from_batch = cooldown and not state.cooldowns.get(symbol, False) and proposal.action_proposed != HOLD
        items.append(BatchItem(decision, cooldown, from_batch))
        if decision["final_action"] != HOLD:
            cooldowns[symbol] = True
    return items, metrics


def decision_depends_on_cooldown(action_proposed: str, allowed: bool) -> bool:
    """Whether a cooldown can change the decision on a proposal before the state is known: never for HOLD
    (nothing to step down) or a symbol outside the allowlist (step 1 comes first), whose cooldown the gate
    need not look up."""
    return allowed and action_proposed != HOLD


def cooldown_mattered(item: BatchItem) -> bool:
    """Whether the decision depended on the cooldown it saw: a proposed action other than HOLD that got
    past the allowlist and the state check. Only then does the issuer check that cooldown still exists."""
    return cooldown_mattered_to(item.decision, item.cooldown_seen)


def cooldown_mattered_to(decision: Mapping[str, Any], cooldown_seen: bool) -> bool:
    """cooldown_mattered of a decision made with cooldown_seen, without its BatchItem."""
    return (cooldown_seen and decision["action_proposed"] != HOLD
            and decision["gate_reason"] not in (NOT_ALLOWED, FAIL_CLOSED_STATE))


def _metric(value: float) -> float | None:
    """A metric as recorded: rounded, or None (JSON null) when it is not a finite number."""
    return round(value, 6) if math.isfinite(value) else None


# A decision made without metrics (a fault HOLD: the state was not read, or the decision was not recorded) records
# none: each metric null, and no K source (it said stress 0.0 and K 0.0 from the proxy, which nothing computed).
_NO_METRICS = PortfolioMetrics(math.nan, math.nan, math.nan, math.nan, None, math.nan, math.nan)  # type: ignore[arg-type]
# The recorded form of the last metrics seen (metrics are immutable, and the gate decides batch after batch
# on the same ones until its state changes): rounded once, not five _metric calls per decision (issue 14).
_last_recorded_metrics: list[Any] = [None, None]


def _recorded_metrics(m: PortfolioMetrics) -> tuple[float | None, float | None, float | None, float | None,
                                                     float | None, str]:
    """(stress, heat, concentration, corr_proxy, K, k_source) of m as a decision records them."""
    last = _last_recorded_metrics
    if last[0] is not m:
        last[1] = (_metric(m.stress), _metric(m.heat), _metric(m.concentration), _metric(m.corr_proxy),
                   _metric(m.k), m.k_source)
        last[0] = m
    return last[1]


def decision_record(proposal: Proposal, final_action: str, reason: str, metrics: PortfolioMetrics | None,
                    now: float) -> dict[str, Any]:
    stress, heat, concentration, corr_proxy, k, k_source = _recorded_metrics(metrics or _NO_METRICS)
    record: dict[str, Any] = {
        "plan_id": proposal.plan_id, "symbol": proposal.symbol, "action_proposed": proposal.action_proposed,
        "final_action": final_action, "gate_reason": reason, "stress": stress, "heat": heat,
        "concentration": concentration, "corr_proxy": corr_proxy, "K": k,
        "k_source": k_source, "kill_score": proposal.kill_score, "ts_epoch": int(now),
        "permit": False, "permit_key": None, "replayed": False,
    }
    if proposal.r_net is not None:
        record["r_net"] = proposal.r_net
    if proposal.ts_epoch is not None:
        record["proposal_ts_epoch"] = proposal.ts_epoch
    return record
