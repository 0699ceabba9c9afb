"""Every Redis key clustergate reads or writes. No other module spells a key string.

Names are SPEC's contract with dashboards and the execution layer: never rename one.
"""

from __future__ import annotations

# P2.7: cluster state, written by the state writer in one MULTI/EXEC.
CLUSTER_STATE = "quantum:portfolio:cluster_state"
CLUSTERS = "quantum:portfolio:clusters"
CLUSTER_STATE_STREAM = "quantum:stream:portfolio.cluster_state"
# Realized volatility per symbol (annualised), written with the cluster state; read by the gate
# when sigma_source is "realized". Not part of the earlier stack.
REALIZED_VOL = "quantum:portfolio:realized_vol"
# Fields of REALIZED_VOL holding the epoch second it was written and, beside it, the epoch ms (the cluster
# state's updated_ts_ms, same transaction): the gate judges its freshness as the cluster state's
# (policy.state_is_fresh). No symbol can be named either: symbols are upper-case (topology _check_symbols).
REALIZED_VOL_UPDATED_TS = "updated_ts"
REALIZED_VOL_UPDATED_TS_MS = "updated_ts_ms"

# Several state writers (a standby cluster side): the lease the one writing holds (SET NX PX, renewed;
# its value names the holder and its fencing token) and the fencing token counter (INCR on every
# acquisition). A state write is refused unless the counter still equals the writer's token.
STATE_WRITER_LEASE = "clustergate:p27:state_writer:lease"
STATE_WRITER_FENCE = "clustergate:p27:state_writer:fence"

# Buffer history, so that a restart resumes warm. Not part of the earlier stack.
BUFFER_HISTORY_PREFIX = "clustergate:buffer"
# A replay feed's position in its file, so that a restarted feed continues where it stopped.
REPLAY_POSITION_PREFIX = "clustergate:price_feed"

# P2.6: decisions, permits, cooldowns; the permit issuer is their only writer.
GATE_STREAM = "quantum:stream:portfolio.gate"
PLAN_DECISION_PREFIX = "clustergate:p26:decision"
# A plan_id that got a permit, kept permitted_plan_ttl_s (far longer than its decision): once the decision has expired,
# the plan_id is refused plan_id_expired rather than decided again with a second permit.
PERMITTED_PLAN_PREFIX = "clustergate:p26:permitted"
# A pub/sub channel, not a key (nobody subscribes): the permit issuer PUBLISHes on it just before WAIT so
# that its connection's replication offset covers every write made so far, a replayed decision that
# another connection wrote included (docs/ha-durability.md).
WAIT_MARK_CHANNEL = "clustergate:p26:wait_mark"


def cluster_state_of(cluster_id: str) -> str:
    return f"{CLUSTER_STATE}:{cluster_id}"


def cluster_state_pattern() -> str:
    """SCAN pattern matching every per-cluster hash (and only those)."""
    return f"{CLUSTER_STATE}:*"


def position_snapshot(symbol: str, pattern: str = "quantum:position:snapshot:{symbol}") -> str:
    return pattern.replace("{symbol}", symbol)


def permit(plan_id: str) -> str:
    return f"quantum:permit:p26:{plan_id}"


def cooldown(symbol: str) -> str:
    return f"quantum:p26:cooldown:{symbol}"


def plan_decision(plan_id: str) -> str:
    """The first decision for a plan_id, kept so a resubmission gets the same answer."""
    return f"{PLAN_DECISION_PREFIX}:{plan_id}"


def permitted_plan(plan_id: str) -> str:
    """The marker that plan_id got a permit (its value: the epoch second of the permit, by Redis's clock)."""
    return f"{PERMITTED_PLAN_PREFIX}:{plan_id}"


def buffer_history(topology_name: str, actor_name: str) -> str:
    return f"{BUFFER_HISTORY_PREFIX}:{topology_name}:{actor_name}"


def replay_position(topology_name: str, actor_name: str) -> str:
    return f"{REPLAY_POSITION_PREFIX}:{topology_name}:{actor_name}:replay_position"


def own_key_clash(key: str) -> str | None:
    """The key or key family of clustergate's own that `key` falls in (a snapshot there would be SET over, or deleted
    as a cluster id gone), or None. Every key under clustergate: is ours."""
    if key in (CLUSTER_STATE, CLUSTERS, CLUSTER_STATE_STREAM, REALIZED_VOL, GATE_STREAM):
        return key
    return next((prefix + "*" for prefix in (cluster_state_of(""), permit(""), cooldown(""), "clustergate:")
                 if key.startswith(prefix)), None)


def wrong_type(reply: object) -> bool:
    """Whether a (pipelined) reply is Redis's WRONGTYPE error: the key holds another type than the command's (a
    string where a snapshot hash belongs). Any other error reply is about Redis, not about that one key."""
    return isinstance(reply, Exception) and str(reply).startswith("WRONGTYPE")
