"""Redis under Sentinel for tests and benchmarks: who is primary, replicas in sync, sentinels settled,
a managed Sentinel redis: section on free ports, and a prober timing the next recorded decision.

tests/ and bench/ both use it; it imports no actor module."""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis

from launcher.client import GateClient, GateUnavailable
from launcher.harness import free_port

MASTER = "cgtest"


def role_of(port: int, host: str = "127.0.0.1") -> str | None:
    """ROLE of the server at host:port (master / slave), None when it does not answer."""
    try:
        client = redis.Redis(host=host, port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)
        try:
            return client.role()[0]
        finally:
            client.close()
    except redis.RedisError:
        return None


def primary_port(ports: list[int]) -> int | None:
    """The one server among `ports` whose ROLE is master (None when none is, or more than one is)."""
    masters = [p for p in ports if role_of(p) == "master"]
    return masters[0] if len(masters) == 1 else None


def synced_replicas(port: int) -> int:
    """Replicas of the server at `port` whose link is up and caught up (state=online)."""
    info = redis.Redis(port=port, socket_timeout=1, decode_responses=True).info("replication")
    return sum(1 for k, v in info.items() if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online")


def pid_of_server(port: int) -> int:
    return int(redis.Redis(port=port, socket_timeout=1).info("server")["process_id"])


def managed_sentinel_redis(**sentinel: Any) -> dict[str, Any]:
    """A redis: section with a managed primary, replica and three sentinels on free ports of 127.0.0.1."""
    return {"managed": True, "sentinel": {
        "master": MASTER, "servers": [f"127.0.0.1:{free_port()}" for _ in range(2)],
        "sentinels": [f"127.0.0.1:{free_port()}" for _ in range(3)], **sentinel}}


def ports_of(redis_section: dict[str, Any], key: str) -> list[int]:
    return [int(s.rsplit(":", 1)[1]) for s in redis_section["sentinel"][key]]


def sentinels_settled(redis_section: dict[str, Any]) -> bool:
    """Every sentinel knows the others and the replicas (Sentinel finds them by hello messages every
    2 s): a failover asked before that may find no majority."""
    sentinels, servers = ports_of(redis_section, "sentinels"), ports_of(redis_section, "servers")
    master = redis_section["sentinel"].get("master", MASTER)
    for port in sentinels:
        state = redis.Redis(port=port, socket_timeout=1, decode_responses=True).sentinel_master(master)
        if int(state["num-other-sentinels"]) != len(sentinels) - 1 or int(state["num-slaves"]) != len(servers) - 1:
            return False
    return True


def recorded_decision_after(client: GateClient, deadline_s: float, interval_s: float = 0.02) -> float | None:
    """Seconds until a fresh proposal is decided and recorded, polling every interval_s; None past the deadline."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            reply = client.propose("BTCUSDT", "PARTIAL_25", plan_id=f"probe-{uuid.uuid4().hex}")
            if (reply.get("decision") or {}).get("recorded"):
                return time.monotonic() - start
        except GateUnavailable:
            pass
        time.sleep(interval_s)
    return None
