"""State writer: puts the clusterer's state into Redis in one MULTI/EXEC, and mirrors P2.7 gauges.

Rules a reader must keep: nothing is written when upstream is not ready (the state goes stale
and the gate falls back); one update is one transaction, so readers never see the clusters hash
disagree with the per-cluster hashes; p27_updates_total counts successful writes only. This
actor's metrics port is the one dashboards scrape for P2.7, so it re-exports the upstream gauges,
and it alone exports p27_min_points_per_symbol. p27_fail_closed_total{reason}: each actor counts
the failures it causes (correlator: too_few_symbols, window_stale, ...; clusterer:
redis_unavailable, bad_matrix); this one counts every update it does not write, as
upstream_not_ready when the state it got was not ready, so a reason is never counted twice for one
event, and the update that was not written is counted here as well as its cause upstream.
Mirrored gauges expire: with no state message within the freshness window (2 x cadence_s) they read
0, and this actor is ready only while Redis answers and a state message (ready or not) arrived within
that window: a dead clusterer or correlator makes it not ready; a dead buffer shows as corr_ready 0.

Several state writers (a standby cluster side, `lease_ms`): only the holder of the Redis lease writes.
The lease is taken with SET NX PX and a fencing token from INCR (one script), and renewed after every write
and every quarter cadence, but never past HOLD_CADENCES after the holder's last write: a holder with no new state to
write in time for the next cadence (its chain dead or not ready upstream, or itself dead) lets the lease
lapse then, and a standby whose own chain is ready takes it at the moment it lapses and writes its
latest state at once. Every state write checks under WATCH, in its one MULTI/EXEC, that the token is
still the newest and the lease key its own (or lapsed: a failover that lost the counter's last INCR hands a token out
again, to another writer): a writer that paused past its lease and resumed is refused
(p27_fail_closed_total{reason="fenced"}) and stands by; it never overwrites a newer writer. A holder that
finds the state in Redis older than its last write (the write reached an old primary during a failover and
was lost) writes it again, once, on its next lease tick. A lease taken with a new token is counted
(p27_state_writer_lease_acquisitions_total), and one taken from a live holder writing stale states is counted too,
by the taker (p27_state_writer_lease_takeovers_total); the old holder reads lease_held 1 until its next lease tick
or write.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from types import SimpleNamespace
from typing import Any, Callable

import redis
from prometheus_client import Counter, Gauge

from launcher import keys
from actors.state_message import decode_state
from actors.freshness import cluster_state_time_s
from actors.policy import finite_number, state_is_fresh
from launcher.keys import wrong_type
from launcher.redis_conn import connect
from actors.runtime import Actor, PasswordRefusalLog, error_text, main

FAIL_REASONS = ("upstream_not_ready", "redis_unavailable", "bad_state", "write_conflict", "superseded", "fenced",
                "key_wrong_type")


class KeysOfAnotherType(Exception):
    """Keys the state write adds to hold another type than it writes (a string where the cluster state hash
    belongs): nothing is written. `found`: key -> the type it holds."""

    def __init__(self, found: dict[str, str]):
        super().__init__(", ".join(f"{key} is a {kind}" for key, kind in found.items()))
        self.found = found


# The keys a state write reads or adds to, with the type it writes there. The per-cluster hashes and the
# realized vol are deleted before they are written (replaced whole, whatever they held).
WRITTEN_TYPES = {keys.CLUSTER_STATE: "hash", keys.CLUSTERS: "hash", keys.CLUSTER_STATE_STREAM: "stream",
                 keys.STATE_WRITER_FENCE: "string"}


def keys_of_another_type(client: redis.Redis, fenced: bool) -> dict[str, str]:
    """{key: type it holds} of the keys a state write needs that hold another type (one round trip). Checked
    under WATCH of these keys, before the transaction: Redis runs the rest of a MULTI/EXEC whose XADD fails
    WRONGTYPE, so a stream key of another type had the hashes written while the writer counted the state as not
    written."""
    checked = [k for k in WRITTEN_TYPES if fenced or k != keys.STATE_WRITER_FENCE]
    pipe = client.pipeline(transaction=False)
    for key in checked:
        pipe.type(key)
    found = {}
    for key, kind in zip(checked, pipe.execute()):
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind not in ("none", WRITTEN_TYPES[key]):
            found[key] = kind
    return found


class StateSuperseded(Exception):
    """The stored state is newer than the one to write (another writer is ahead): nothing is written."""


WRITE_ATTEMPTS = 5  # WATCH races lost in a row before an update is given up (counted write_conflict)
# The lease lapses at most this many cadences after its holder's last write: one cadence to the next
# state, half a cadence of slack for a late one. A standby takes it as it lapses and writes its latest
# state at once, so a takeover's write-to-write gap is at most 1.5 cadences (+ the attempt and the write),
# inside SPEC's freshness window of 2 x cadence.
HOLD_CADENCES = 1.5


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        updates=Counter("p27_updates", "Cluster state updates written to Redis"),
        fail_closed=Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"]),
        corr_ready=Gauge("p27_corr_ready", "1 when at least 2 symbols are in the correlation matrix"),
        symbols_in_matrix=Gauge("p27_symbols_in_matrix", "Symbols with enough valid returns to be in the matrix"),
        clusters_count=Gauge("p27_clusters_count", "Clusters holding notional"),
        stress_sum=Gauge("p27_cluster_stress_sum", "ClusterStress: clip(sum of cluster stresses, 0, 1)"),
        stress_max=Gauge("p27_cluster_stress_max", "Largest single cluster stress"),
        min_points=Gauge("p27_min_points_per_symbol", "Fewest grid points over the symbols that matter (held or in the matrix)"),
        points=Gauge("p27_points_per_symbol", "Valid grid points per symbol in the current window", ["symbol"]),
        last_update=Gauge("p27_last_update_timestamp_seconds", "Epoch time of the last successful write"),
        lease_held=Gauge("p27_state_writer_lease_held", "1 while this state writer holds the write lease (or needs none)"),
        lease_acquired=Counter("p27_state_writer_lease_acquisitions_total",
                               "Write leases this state writer took with a new fencing token (free, or from a holder "
                               "writing stale states)"),
        lease_takeovers=Counter("p27_state_writer_lease_takeovers_total",
                                "Write leases this state writer took from a live holder whose written states were "
                                "stale by Redis's clock (event=lease_taken_from_a_holder_writing_stale_states)"),
        skewed_states=Counter("p27_state_writer_clock_skewed_states",
                              "States that arrived refused by a gate for their timestamp, by this writer's clock (older "
                              "than the smallest gate freshness_s, or stamped in a whole second not yet begun): "
                              "event=state_clock_skew names an episode's first"),
    )


class Fenced(Exception):
    """A newer state writer has taken the lease: this writer's fencing token is no longer the newest."""


# KEYS: lease, fence counter, cluster state hash. ARGV: holder name, lease ms, and (a standby's) its latest ready
# state's updated_ts_ms ('' for none), how far from the stored state's time that must be to take the lease from a
# holder whose states are stale (the margin, ms), and the spare (ms, a cadence) its own state must be fresh with.
# Returns {the new fencing token, 0, 1 when taken from such a holder else 0}, or {0, the lease's PTTL in ms, 0} when
# another writer holds it. A held lease (a writer's: a string with an expiry) is taken only when the caller's state and
# the stored one are more than that margin apart and, by Redis's clock, the stored one is stale to a gate (older than
# the margin, or from a whole second yet to come) and the caller's is fresh with the spare to go (no older than the
# margin less the spare, and not ahead of Redis's clock at all): a holder whose host clock runs behind (or ahead)
# writes states every gate refuses and renews its lease with each, while the standby's chain is fresh (the holder is
# fenced at its next write). Without the spare two writers whose states are each stale at some ticks and fresh at
# others (one chain 2.8 s behind, the other 0.7 s ahead, a 3 s window) took the lease from each other twice a second
# (revlease): a state stale at one tick is one fresh with a cadence to spare at another only by more jitter. A fence
# counter of another type is an error naming it, before the lease is taken (the INCR would fail after the SET).
# A missing counter starts from Redis's clock in microseconds (no two lease scripts run within one), not 0: one
# deleted (the fix that error names, or lost with an unpersisted Redis) handed out 1, 2, 3 again, and a paused
# writer holding 3 passed the fence on resuming. A lease held by the caller itself with the newest token (a call of its
# own that Redis ran but whose reply the caller never read: a timeout) is its own again, that token, renewed: before
# (revlease2) the caller took it from itself as from a live holder writing stale states when the stored state was
# stale (a cold start after an outage: counted as a takeover, P27StateWriterLeaseTakenOver firing beside no other
# writer), and stood by until its own lease lapsed (lease_ms: 45 s at the production cadence) when it was fresh.
ACQUIRE_LEASE = """
local fence_type = redis.call('TYPE', KEYS[2])['ok']
if fence_type ~= 'string' and fence_type ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' is a ' .. fence_type .. ', not the fencing token counter '
    .. '(a string): no state writer can take the lease; delete the key')
end
if fence_type == 'string' and not string.match(redis.call('GET', KEYS[2]), '^%-?%d+$') then
  return redis.error_reply('ERR ' .. KEYS[2] .. ' holds no integer, not the fencing token counter: no state writer '
    .. 'can take the lease; delete the key')
end
local taken_over = 0
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  -- held by this writer with the newest token: an earlier call of its own took it and its reply was lost (a timeout)
  if fence_type == 'string' and redis.call('TYPE', KEYS[1])['ok'] == 'string'
      and redis.call('GET', KEYS[1]) == ARGV[1] .. '/' .. redis.call('GET', KEYS[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {tonumber(redis.call('GET', KEYS[2])), 0, 0}
  end
  local pttl = redis.call('PTTL', KEYS[1])
  local mine, margin, spare = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  if not mine or not margin or not spare or pttl <= 0 or redis.call('TYPE', KEYS[1])['ok'] ~= 'string'
      or redis.call('TYPE', KEYS[3])['ok'] ~= 'hash' then
    return {0, pttl, 0}
  end
  local stored = redis.call('HMGET', KEYS[3], 'updated_ts', 'updated_ts_ms')
  local stored_s, stored_ms = tonumber(stored[1]), tonumber(stored[2])
  if not stored_s then return {0, pttl, 0} end
  local at = math.floor(stored_s) * 1000
  if stored_ms and math.floor(stored_ms / 1000) == math.floor(stored_s) then at = stored_ms end
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local now_s = tonumber(now[1])
  local stored_stale = now_ms - at > margin or math.floor(at / 1000) > now_s
  local mine_fresh = now_ms - mine <= margin - spare and mine <= now_ms
  if not (math.abs(mine - at) > margin and stored_stale and mine_fresh) then return {0, pttl, 0} end
  taken_over = 1
end
if fence_type == 'none' then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%.0f', tonumber(now[1]) * 1000000 + tonumber(now[2])))
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '/' .. string.format('%.0f', token), 'PX', ARGV[2])  -- not %.14g
return {token, 0, taken_over}
"""
# KEYS: lease, fence counter. ARGV: the holder's lease value, lease ms, its fencing token.
# 1 when renewed (or taken again: it lapsed and no writer took a newer token since), 0 when no longer ours.
RENEW_LEASE = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if held == false and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


def state_stamps(ts: float) -> tuple[int, int]:
    """(updated_ts, updated_ts_ms): what a state stamped ts (epoch s, as decode_state checks it) is written with."""
    seconds = float(ts)
    return int(seconds), int(seconds * 1000)


def queue_writes(pipe: Any, message: dict[str, Any], stale_ids: set[str], stream_maxlen: int,
                 fence: int | None = None) -> int:
    """Queue SPEC's writes for one ready state message on a transactional pipeline; returns updated_ts.
    With a fencing token, the stream record carries it (fence_token)."""
    updated_ts, updated_ts_ms = state_stamps(message["ts"])
    clusters = message["clusters"]
    state = {"updated_ts": updated_ts, "cluster_stress": message["cluster_stress"], "clusters_count": len(clusters),
             "updated_ts_ms": updated_ts_ms}  # a standby compares states to the ms; the gate times them by it
    if message.get("newest_price_ts") is not None:  # the age of the newest input price, at updated_ts
        state["newest_price_ts"] = message["newest_price_ts"]
        state["price_age_s"] = round(float(message["price_age_s"]), 3)
    pipe.hset(keys.CLUSTER_STATE, mapping=state)
    pipe.delete(keys.CLUSTERS)
    if clusters:
        pipe.hset(keys.CLUSTERS, mapping={c["id"]: json.dumps(c["symbols"]) for c in clusters})
    for c in clusters:
        key = keys.cluster_state_of(c["id"])
        pipe.delete(key)
        pipe.hset(key, mapping={"notional": c["notional"], "weight": c["weight"],
                                "concentration": c["concentration"], "correlation": c["correlation"],
                                "stress": c["stress"], "updated_ts": updated_ts,
                                "symbols": json.dumps(c["symbols"])})
    for stale in sorted(stale_ids):
        pipe.delete(keys.cluster_state_of(stale))
    record = {"cluster_stress": message["cluster_stress"], "clusters_count": len(clusters),
              "clusters": json.dumps([{k: c[k] for k in ("id", "symbols", "stress")} for c in clusters]),
              "ts_epoch": updated_ts}
    if fence is not None:
        record["fence_token"] = fence
    pipe.xadd(keys.CLUSTER_STATE_STREAM, record, maxlen=stream_maxlen, approximate=True)
    vol = message.get("realized_vol") or {}
    pipe.delete(keys.REALIZED_VOL)
    if vol:  # with its own updated_ts (and _ms): the gate uses it only within the cluster freshness window, to the ms
        pipe.hset(keys.REALIZED_VOL, mapping={**vol, keys.REALIZED_VOL_UPDATED_TS: updated_ts,
                                              keys.REALIZED_VOL_UPDATED_TS_MS: updated_ts_ms})
    return updated_ts


def write_state(client: redis.Redis, message: dict[str, Any], known_ids: set[str], stream_maxlen: int,
                before_exec: Callable[[], None] | None = None, newer_within_s: float = 120.0,
                fence: int | None = None, own_last_ms: int | None = None, now: float | None = None,
                lease_value: str | None = None) -> int:
    """Write one ready state message and delete every cluster id it no longer has; returns updated_ts.

    The ids to delete are read under WATCH of the clusters hash: when another writer (a deploy overlap,
    a standby) changed it before our EXEC, the transaction is refused and redone on a fresh read, so
    no per-cluster hash outlives its entry. A message older than the stored updated_ts_ms (else updated_ts,
    whole seconds) by at most newer_within_s raises StateSuperseded and writes nothing (a lagging writer moved updated_ts
    backwards); a stored updated_ts further ahead is a clock fault and is overwritten, and so is this writer's own last
    state (own_last_ms: the updated_ts_ms it wrote) stamped ahead of its clock `now` (own_state_ahead_of_clock).
    before_exec runs just before EXEC (tests race a second
    writer there). Raises redis.WatchError after WRITE_ATTEMPTS lost races, KeysOfAnotherType (nothing written)
    when a key it reads or adds to holds another type. A connection that times out while the keys are watched, which
    redis-py raises as a WatchError, is raised as its own error at once: Redis did not answer (under CLIENT PAUSE
    WRITE each state cost 5 timeouts and was counted write_conflict, another writer's race). One that drops is tried
    again on a new connection (raised as its own error after the last attempt): raised at once, a single CLIENT KILL
    with Redis up cost the state of that cadence (revchecks).

    With a fencing token, the fence counter is watched too and must equal it, else Fenced is raised and
    nothing is written: a newer writer's token (INCR) between our check and EXEC aborts the EXEC. With the lease value
    too (the holder's, holder/token), the lease key is watched and must hold it or have lapsed, else Fenced: a failover
    to a replica that missed the counter's last INCR hands that token out again, to another writer (revfence)."""
    new_ids = {c["id"] for c in message["clusters"]}
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with client.pipeline(transaction=True) as pipe:
            try:
                # The types are checked under WATCH of every key they name: a key given another type between
                # the check and EXEC aborts the EXEC, and the next attempt's check names it (the stream
                # unwatched, a string put there in between had the hashes written beside the failed XADD).
                pipe.watch(keys.CLUSTERS, keys.CLUSTER_STATE, keys.CLUSTER_STATE_STREAM,
                           *(() if fence is None else (keys.STATE_WRITER_FENCE,)),
                           *(() if lease_value is None else (keys.STATE_WRITER_LEASE,)))
                found = keys_of_another_type(client, fence is not None)
                if found:
                    raise KeysOfAnotherType(found)
                if fence is not None:
                    newest = pipe.get(keys.STATE_WRITER_FENCE)
                    if newest is None or not re.fullmatch(r"-?\d+", newest) or int(newest) != fence:  # a string by hand
                        raise Fenced(f"fencing token {fence} is not the newest ({newest})")
                if lease_value is not None:
                    held = lease_held_by(pipe)
                    if held is not None and held != lease_value:
                        raise Fenced(f"the lease is {held}, not this writer's {lease_value}: another writer holds "
                                     f"the lease (a failover that lost the fence counter's last increment hands a "
                                     f"token out again)")
                stored_ts, stored_ms = pipe.hmget(keys.CLUSTER_STATE, "updated_ts", "updated_ts_ms")
                ahead_s = stored_ahead_s(message["ts"], stored_ts, stored_ms)  # as write_latest compares
                if ahead_s is not None and 0 < ahead_s <= newer_within_s:  # further: a clock fault, not a newer writer
                    if not own_state_ahead_of_clock(stored_ts, stored_ms, own_last_ms, now):
                        raise StateSuperseded(f"state of {float(message['ts']):.3f} older than the stored state by "
                                              f"{ahead_s:.3f} s (updated_ts {stored_ts}, updated_ts_ms {stored_ms})")
                stale = (known_ids | set(pipe.hkeys(keys.CLUSTERS))) - new_ids
                pipe.multi()
                updated_ts = queue_writes(pipe, message, stale, stream_maxlen, fence)
                if before_exec is not None:
                    before_exec()
                pipe.execute()
                return updated_ts
            except redis.WatchError as exc:
                # redis-py's WatchError for a connection lost while watching is no race. A timeout: Redis did not
                # answer, and each attempt would wait as long again. A dropped connection (CLIENT KILL, a failover's,
                # a network blip): the next attempt writes on a new one (its WATCH fails at once if Redis is down).
                lost = exc.__context__
                timed_out = isinstance(lost, redis.TimeoutError)
                dropped = isinstance(lost, redis.ConnectionError)
                if timed_out or (dropped and attempt == WRITE_ATTEMPTS):
                    raise lost from None
                if attempt == WRITE_ATTEMPTS:
                    raise
    raise AssertionError("unreachable")


def lease_held_by(client: Any) -> str | None:
    """The lease key's value (holder/token), None when it lapsed; a key of another type is no writer's: '(a TYPE)'."""
    try:
        return client.get(keys.STATE_WRITER_LEASE)
    except redis.ResponseError as exc:
        if not wrong_type(exc):
            raise
        return f"({client.type(keys.STATE_WRITER_LEASE)})"


def existing_cluster_ids(client: redis.Redis) -> set[str]:
    """The cluster ids in Redis: the clusters hash's, and every per-cluster hash's. A clusters key of another type
    adds none (the write refuses it, naming it) rather than failing a writer's start as Redis unavailable."""
    try:
        ids = set(client.hkeys(keys.CLUSTERS))
    except redis.ResponseError as exc:
        if not wrong_type(exc):
            raise
        ids = set()
    prefix = keys.cluster_state_of("")
    for key in client.scan_iter(match=keys.cluster_state_pattern(), count=500):
        ids.add(key[len(prefix):])
    return ids


def input_is_fresh(last_mono: float, now_mono: float, freshness_s: float) -> bool:
    """True when the last input arrived within freshness_s of now_mono (both monotonic seconds)."""
    return 0 <= now_mono - last_mono <= freshness_s


def lease_ttl_ms(hold_from_mono: float, now_mono: float, hold_s: float, lease_ms: int) -> int:
    """The TTL to renew the lease with: lease_ms, cut so that it lapses hold_s after hold_from_mono (the
    holder's last write, or when it took the lease); 0 once that is past: the holder gives the lease up."""
    return max(0, min(lease_ms, int((hold_from_mono + hold_s - now_mono) * 1000)))


def stored_ahead_s(message_ts: float, stored_ts: Any, stored_ms: Any) -> float | None:
    """How far the stored cluster state is ahead of a state stamped message_ts (epoch s), timed as the gate
    times it (actors.freshness.cluster_state_time_s): to the ms by updated_ts_ms when that falls within updated_ts's
    second, else by whole seconds (a state from an older writer, whose HSET may have left another state's
    updated_ts_ms behind). None: no usable stored updated_ts."""
    updated = finite_number(stored_ts)
    if updated is None:
        return None
    stored = cluster_state_time_s(updated, stored_ms)
    try:
        by_ms = stored == int(stored_ms) / 1000
    except (TypeError, ValueError):
        by_ms = False
    stamp_ts, stamp_ms = state_stamps(message_ts)
    if by_ms:
        return stored - stamp_ms / 1000
    return math.floor(updated) - stamp_ts


def own_state_ahead_of_clock(stored_ts: Any, stored_ms: Any, own_last_ms: int | None, now: float | None) -> bool:
    """Whether the stored state is this writer's own last write (own_last_ms: the updated_ts_ms it wrote) and stamped
    ahead of its clock `now` (as the gate times it, cluster_state_time_s): its clusterer's clock ran ahead and came
    back. No other writer is ahead of it, so the states stamped by the clock come back replace it: refused as
    superseded until real time passed the stamp, they kept the gate on the proxy up to the step longer, and the gate
    then took K from the state stamped ahead. Another writer's state stays guarded, whatever its host's clock: its own
    is its updated_ts_ms and the updated_ts of that second both (a writer without updated_ts_ms leaves ours behind)."""
    updated = finite_number(stored_ts)
    if own_last_ms is None or now is None or updated is None or str(stored_ms) != str(own_last_ms):
        return False
    if math.floor(updated) != own_last_ms // 1000:  # another writer's updated_ts beside the updated_ts_ms we left
        return False
    return cluster_state_time_s(updated, stored_ms) > now


def newer_than_stored(message_ts: float, stored_ts: str | None, stored_ms: str | None) -> bool:
    """A state stamped message_ts (epoch s) is newer than the stored one (stored_ahead_s: by updated_ts_ms
    within updated_ts's second, else by the whole second of updated_ts). Nothing stored, or garbage, counts
    as older."""
    ahead_s = stored_ahead_s(message_ts, stored_ts, stored_ms)
    return ahead_s is None or ahead_s < 0


class StateWriterActor(Actor):
    kind = "state_writer"

    def setup(self) -> None:
        self.m = make_metrics()
        for reason in FAIL_REASONS:
            self.m.fail_closed.labels(reason=reason)
        for gauge in (self.m.corr_ready, self.m.symbols_in_matrix, self.m.clusters_count,
                      self.m.stress_sum, self.m.stress_max, self.m.min_points):
            gauge.set(0)
        for symbol in self.topology.symbols:
            self.m.points.labels(symbol=symbol).set(0)
        self.redis = connect(self.topology.redis)
        self.password_refusal = PasswordRefusalLog(self.log, self.topology.redis)  # logged once, not every cadence
        # Ids written by this process or found at start; any not in the next update is deleted.
        self.known_ids: set[str] | None = None
        self.freshness_s = self.topology.freshness_default_s
        self.gate_freshness_s = self.topology.strictest_gate_freshness_s  # what check_state_age judges by
        self.last_state_mono = -float("inf")  # when the last state message arrived
        # check_state_age: states refused by a gate for their timestamp since the episode began (0: none going on),
        # and when the fresh ones since its last such state began to arrive (monotonic s; None: the last was refused)
        self.skewed_states = 0
        self.fresh_since_mono: float | None = None
        self.own_last_ms: int | None = None  # updated_ts_ms of this process's last write (write_state's own_last_ms)
        self.redis_ok = False
        self.keys_wrong_type: dict[str, str] = {}  # key -> type, while keys the write needs hold another type
        self.on_message("state", self.on_state)
        self.check_redis()
        self.every(self.topology.clusters.cadence_s, self.check_redis, name="redis_check")
        self.every(self.freshness_s / 4, self.expire_gauges, name="gauge_expiry")
        cadence_s = self.topology.clusters.cadence_s
        lease_ms = self.topology.state_writer_lease_ms(self.name)
        self.lease_ms = lease_ms
        self.fence: int | None = None  # the fencing token of the lease this writer holds
        self.lease_value = ""
        # A standby's latest ready message: written at once when it takes the lease, if newer than Redis's.
        self.standby_message: tuple[dict[str, Any], float] | None = None
        self.holder = f"{self.name}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.hold_s = HOLD_CADENCES * cadence_s
        self.hold_from_mono = -float("inf")  # the holder's last write, or when it took the lease
        self.last_ready_mono = -float("inf")  # when the last ready state message arrived
        self.lease_tick_s = cadence_s / 4
        # How far apart a standby's latest state and the stored one must be for it to take the lease from a live holder:
        # past the gates' window (the stored state is stale to a gate) and past freshness_s (2 cadences: a healthy
        # holder's state is at most about a cadence from a standby's, so two healthy chains never trade the lease; and a
        # stored state further ahead than it is a clock fault that write_state overwrites, not a newer writer's).
        self.stale_holder_margin_s = max(self.gate_freshness_s, self.freshness_s)
        self.expiry_try: Any = None  # a standby's one attempt at the moment the held lease lapses
        self.lease_blocked = False  # the lease key was found held with no expiry (logged once until it changes)
        self.lease_error: str | None = None  # the lease script's last error, logged once until it changes
        self.last_written: tuple[dict[str, Any], float] | None = None  # the holder's last write, until confirmed
        self.m.lease_held.set(0 if lease_ms else 1)
        if lease_ms:
            self.acquire = self.redis.register_script(ACQUIRE_LEASE)
            self.renew = self.redis.register_script(RENEW_LEASE)
            self.every(self.lease_tick_s, self.lease_tick, name="lease")

    def lease_tick(self) -> None:
        """Timer: the holder renews its lease, up to HOLD_CADENCES after its last write, then gives it up; a
        standby whose chain is ready takes a free lease, or tries again the moment the held one lapses."""
        now = time.monotonic()
        try:
            if self.fence is not None:
                ttl_ms = lease_ttl_ms(self.hold_from_mono, now, self.hold_s, self.lease_ms)
                if not ttl_ms:
                    self.stand_by("lease_given_up_no_new_state")
                elif not self.renew(keys=[keys.STATE_WRITER_LEASE, keys.STATE_WRITER_FENCE],
                                    args=[self.lease_value, ttl_ms, self.fence]):
                    self.stand_by("lease_lost")
                else:
                    self.write_again_if_lost()
                self.lease_answered()
                return
            if not input_is_fresh(self.last_ready_mono, now, self.hold_s):
                return
            if self.keys_wrong_type:  # it could write nothing: two writers took and gave up the lease in turn
                return  # every 1.5 cadences, 2 lines each, until deleted (check_redis looks again each cadence)
            latest_ms = "" if self.standby_message is None else state_stamps(self.standby_message[0]["ts"])[1]
            token, pttl_ms, taken_over = (int(x) for x in self.acquire(
                keys=[keys.STATE_WRITER_LEASE, keys.STATE_WRITER_FENCE, keys.CLUSTER_STATE],
                args=[self.holder, self.lease_ms, latest_ms, round(self.stale_holder_margin_s * 1000),
                      round(self.topology.clusters.cadence_s * 1000)]))
        except redis.RedisError as exc:
            if error_text(exc) != self.lease_error:  # once per change, not at each tick
                self.lease_error = error_text(exc)
                self.log.warning("lease_unavailable", lease_key=keys.STATE_WRITER_LEASE,
                                 fence_key=keys.STATE_WRITER_FENCE, error=self.lease_error)
            return
        self.lease_answered()
        if pttl_ms == -1 and not self.lease_blocked:  # held with no expiry: no writer of ours set it, none ever takes it
            self.lease_blocked = True
            self.log.error("lease_key_never_expires", lease_key=keys.STATE_WRITER_LEASE,
                           detail="the lease key exists with no expiry (of any type), so no state writer can ever "
                                  "take it: it was not set by a state writer; delete the key")
        elif pttl_ms != -1:
            self.lease_blocked = False
        if token:
            self.fence, self.lease_value = token, f"{self.holder}/{token}"
            self.hold_from_mono = time.monotonic()
            self.m.lease_held.set(1)
            self.m.lease_acquired.inc()
            if taken_over:
                self.log.warning("lease_taken_from_a_holder_writing_stale_states", fence_token=token,
                                 margin_s=self.stale_holder_margin_s,
                                 detail="the stored cluster state and this writer's latest state were more than the "
                                        "margin apart, and by Redis's clock the stored one was stale to a gate while "
                                        "this writer's was not: the holder's states are stale to the gates (its host's "
                                        "clock behind or ahead, or its chain lagging), or Redis's clock is off with "
                                        "this writer's chain's (check both against NTP), or a Redis failover lost the "
                                        "stored state (docs/ha-standby-cluster-side.md); it finds the lease gone "
                                        "at its next lease tick, or is fenced at its next write")
                self.m.lease_takeovers.inc()
            else:
                self.log.info("lease_acquired", fence_token=token)
            self.write_latest()
        elif 0 <= pttl_ms < self.lease_tick_s * 1000 and self.expiry_try is None:
            self.expiry_try = self.after(pttl_ms / 1000 + 0.001, self.try_at_expiry)

    def lease_answered(self) -> None:
        if self.lease_error is not None:
            self.lease_error = None
            self.log.info("lease_available_again")

    def renew_now(self) -> None:
        """Just after a write: renew the lease for a full lease_ms from now (at most HOLD_CADENCES). The quarter-cadence renewals had cut
        it to lapse 1.5 cadences after the previous write, and a write just before that cut, renewed only at
        the next tick, lost the lease to a standby timed to the lapse: a takeover from a healthy holder."""
        try:
            if not self.renew(keys=[keys.STATE_WRITER_LEASE, keys.STATE_WRITER_FENCE],
                              args=[self.lease_value, lease_ttl_ms(self.hold_from_mono, time.monotonic(),
                                                                   self.hold_s, self.lease_ms), self.fence]):
                self.stand_by("lease_lost")
        except redis.RedisError as exc:
            self.log.warning("lease_unavailable", error=error_text(exc))

    def write_again_if_lost(self) -> None:
        """The holder, on its lease timer: when the state in Redis is older than the one it last wrote, that write
        was lost (it reached an old primary after a failover promoted another, before the sentinels named it), and
        it is written again, once, while within the hold. Otherwise the state lags a cadence more, and a takeover
        right after the failover is timed from the write before it."""
        if self.last_written is None:
            return
        message, written_mono = self.last_written
        if not input_is_fresh(written_mono, time.monotonic(), self.hold_s):
            self.last_written = None
            return
        try:
            stored_ts, stored_ms = self.redis.hmget(keys.CLUSTER_STATE, "updated_ts", "updated_ts_ms")
        except redis.RedisError:
            return
        if not newer_than_stored(message["ts"], stored_ts, stored_ms):
            return
        self.last_written = None
        self.log.warning("state_write_lost_writing_again", state_ts=message["ts"], stored_updated_ts=stored_ts,
                         stored_updated_ts_ms=stored_ms)
        self.write(message, again=True)

    def try_at_expiry(self) -> None:
        self.expiry_try = None
        self.lease_tick()

    def write_latest(self) -> None:
        """Just after taking the lease: write the latest state this standby got, rather than wait up to a
        cadence for the next, when it came within the hold and is newer than the state in Redis."""
        latest, self.standby_message = self.standby_message, None
        if latest is None or not input_is_fresh(latest[1], time.monotonic(), self.hold_s):
            return
        try:
            stored_ts, stored_ms = self.redis.hmget(keys.CLUSTER_STATE, "updated_ts", "updated_ts_ms")
        except redis.RedisError:
            return
        if newer_than_stored(latest[0]["ts"], stored_ts, stored_ms):
            self.write(latest[0])

    def stand_by(self, why: str) -> None:
        self.log.warning(why, fence_token=self.fence)
        self.fence = None
        self.last_written = None
        self.m.lease_held.set(0)

    def update_ready(self) -> None:
        fresh = input_is_fresh(self.last_state_mono, time.monotonic(), self.freshness_s)
        self.set_ready(self.redis_ok and fresh and not self.keys_wrong_type)

    def expire_gauges(self) -> None:
        """Timer: no state within the freshness window means nothing upstream can be vouched for."""
        if not input_is_fresh(self.last_state_mono, time.monotonic(), self.freshness_s):
            self.mirror({})
        self.update_ready()

    def check_redis(self) -> None:
        try:
            self.redis.ping()
            if self.known_ids is None:
                self.known_ids = self.existing_ids()
            if self.keys_wrong_type:  # a standby writes nothing to find them deleted: not ready until it took over
                self.note_wrong_type(keys_of_another_type(self.redis, bool(self.lease_ms)))
        except redis.RedisError as exc:
            self.redis_ok = False
            self.set_ready(False)
            if not self.password_refusal.refused(exc):
                self.log.warning("redis_unavailable", error=error_text(exc))
            return
        self.redis_answers()
        self.update_ready()

    def redis_answers(self) -> None:
        """Redis answered (a check or a write): log redis_ready once after it did not, whichever finds it back first;
        a write that did so silently left the log ending on the outage while every state was written again."""
        if not self.redis_ok:
            self.redis_ok = True
            if not self.password_refusal.accepted():  # (a refused password's end says so itself)
                self.log.info("redis_ready")

    def existing_ids(self) -> set[str]:
        return existing_cluster_ids(self.redis)

    def on_state(self, frames: list[bytes]) -> None:
        try:
            message = decode_state(frames, self.topology.symbols)
        except ValueError as exc:
            self.m.fail_closed.labels(reason="bad_state").inc()
            self.log.warning("bad_state", error=str(exc))
            return
        self.last_state_mono = time.monotonic()
        self.check_state_age(message)
        self.mirror(message["gauges"])
        if not message.get("ready"):
            self.m.fail_closed.labels(reason="upstream_not_ready").inc()
            self.update_ready()
            return
        self.last_ready_mono = self.last_state_mono
        if self.lease_ms and self.fence is None:  # standing by: kept warm, writes nothing
            self.standby_message = (message, self.last_state_mono)
            self.update_ready()
            return
        self.write(message)

    def check_state_age(self, message: dict[str, Any]) -> None:
        """Log, once when it starts and once when it ends, states that a gate would refuse for their timestamp as they
        arrive, by this writer's clock: the gates' own rule (policy.state_is_fresh on the stamps written) with the
        smallest of their windows, so older than that, or stamped in a whole second not yet begun. The clusterer's
        wall clock (or this host's) stepped, or a backlog. The gate falls back to the proxy meanwhile, while every
        P2.7 series looks healthy (updates written, corr_ready 1): this line names the cause. The episode ends once
        states have arrived fresh for that whole window: a chain under a second ahead has some states in a second
        not yet begun and some not, and each change was a line of its own, twice a second at a 0.5 s cadence."""
        now, now_mono = time.time(), time.monotonic()
        updated_ts, updated_ts_ms = state_stamps(message["ts"])
        age_s = now - message["ts"]
        skewed = not state_is_fresh(updated_ts, updated_ts_ms, now, self.gate_freshness_s)
        if skewed:
            if self.skewed_states == 0:
                self.log.error("state_clock_skew", state_age_s=round(age_s, 3), updated_ts=updated_ts,
                               freshness_s=self.gate_freshness_s,
                               detail="the state arrived outside the gates' freshness window by this writer's clock "
                                      "(older than the smallest gate freshness_s, or stamped in a whole second not "
                                      "yet begun), timed from the clusterer's stamp: a wall clock stepped on the "
                                      "clusterer's host (or this one), or a backlog; the gate judges it stale and "
                                      "falls back to the proxy while this lasts")
            self.skewed_states += 1
            self.m.skewed_states.inc()  # live while the episode goes on: its one line is at its start (revlease2)
            self.fresh_since_mono = None
        elif self.skewed_states:
            if self.fresh_since_mono is None:
                self.fresh_since_mono = now_mono
            if now_mono - self.fresh_since_mono >= self.gate_freshness_s:
                self.log.info("state_clock_skew_ended", state_age_s=round(age_s, 3), skewed_states=self.skewed_states,
                              fresh_for_s=round(now_mono - self.fresh_since_mono, 3))
                self.skewed_states = 0

    def write(self, message: dict[str, Any], again: bool = False) -> None:
        """Write one ready state message (fenced when there is a lease); count and log what was not written.
        again: a lost write written again, which does not extend the hold (no new state came)."""
        try:
            if self.known_ids is None:
                self.known_ids = self.existing_ids()
            new_ids = {c["id"] for c in message["clusters"]}
            updated_ts = write_state(self.redis, message, self.known_ids, self.settings.stream_maxlen,
                                     newer_within_s=self.freshness_s, fence=self.fence if self.lease_ms else None,
                                     own_last_ms=self.own_last_ms, now=time.time(),
                                     lease_value=self.lease_value if self.lease_ms else None)
        except Fenced as exc:
            self.m.fail_closed.labels(reason="fenced").inc()
            self.log.warning("fenced", error=str(exc))
            self.stand_by("state_not_written_fenced")
            return
        except KeysOfAnotherType as exc:
            self.m.fail_closed.labels(reason="key_wrong_type").inc()
            self.note_wrong_type(exc.found)
            return
        except StateSuperseded as exc:
            self.m.fail_closed.labels(reason="superseded").inc()
            self.log.warning("state_not_written", reason=str(exc))
            return
        except redis.WatchError:
            self.m.fail_closed.labels(reason="write_conflict").inc()
            self.log.warning("state_not_written", reason="another writer changed the clusters hash every attempt",
                             attempts=WRITE_ATTEMPTS)
            return
        except redis.RedisError as exc:
            self.m.fail_closed.labels(reason="redis_unavailable").inc()
            self.redis_ok = False
            self.set_ready(False)
            if not self.password_refusal.refused(exc, counted=True):
                self.log.warning("state_not_written", error=error_text(exc))
            return
        self.known_ids = new_ids
        self.own_last_ms = state_stamps(message["ts"])[1]
        self.note_wrong_type({})
        if not again:
            self.hold_from_mono = time.monotonic()
            self.last_written = (message, self.hold_from_mono) if self.lease_ms else None
        if self.lease_ms and self.fence is not None:
            self.renew_now()
        self.m.updates.inc()
        self.m.last_update.set(updated_ts)
        self.redis_answers()
        self.update_ready()

    def note_wrong_type(self, found: dict[str, str]) -> None:
        """Log when the set of keys of another type that stop every state write changes (not at each state): the
        gate falls back to the proxy meanwhile; the writer is not ready until they are deleted."""
        if found != self.keys_wrong_type:
            if found:
                self.log.error("state_not_written_key_wrong_type", keys=found,
                               expected={k: WRITTEN_TYPES[k] for k in found},
                               detail="a key the cluster state write needs holds another type (not written by a "
                                      "state writer): nothing is written, so the state goes stale and the gate "
                                      "falls back to the proxy; delete the key (DEL), the next state is written")
            else:
                self.log.info("state_keys_writable_again", keys=sorted(self.keys_wrong_type))
        self.keys_wrong_type = found
        self.update_ready()

    def mirror(self, gauges: dict[str, Any]) -> None:
        self.m.corr_ready.set(gauges.get("corr_ready", 0))
        self.m.symbols_in_matrix.set(gauges.get("symbols_in_matrix", 0))
        self.m.clusters_count.set(gauges.get("clusters_count", 0))
        self.m.stress_sum.set(gauges.get("cluster_stress_sum", 0))
        self.m.stress_max.set(gauges.get("cluster_stress_max", 0))
        self.m.min_points.set(gauges.get("min_points_per_symbol", 0))
        points = gauges.get("points_per_symbol") or {}
        for symbol in self.topology.symbols:
            self.m.points.labels(symbol=symbol).set(points.get(symbol, 0))


if __name__ == "__main__":
    main(StateWriterActor)
