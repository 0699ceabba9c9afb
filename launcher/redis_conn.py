"""The one way actors and the launcher's tools open Redis: URL and timeouts from the topology, password from the environment.

The URL is read by launcher.redis_url, as the gate's own client (actors.resp) reads it, so every actor
talks to the same server and db.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from launcher.redis_url import parse_redis_url
from launcher.topology import RedisConfig


def connect(cfg: RedisConfig, *, decode_responses: bool = True) -> redis.Redis:
    """A client whose every call fails fast (cfg.timeout_ms) instead of hanging when Redis is down: one
    attempt, no retry (redis-py 6+ otherwise retries timeouts and connection errors 10 times with
    backoff: 4 s for one call to a dead server at a 200 ms timeout)."""
    timeout_s = cfg.timeout_ms / 1000.0
    target = parse_redis_url(cfg.connection_url())
    where = ({"unix_socket_path": target.unix_path} if target.transport == "unix"
             else {"host": target.host, "port": target.port})
    return redis.Redis(
        **where,
        db=target.db,
        username=target.username,
        password=cfg.password,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        decode_responses=decode_responses,
        health_check_interval=0,
        retry=Retry(NoBackoff(), 0),
    )
