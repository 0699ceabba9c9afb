"""The one way actors open Redis: URL and timeouts from the topology, password from the environment.

The URL is read by actors.redis_url, as the gate's own client (actors.resp) reads it, so every actor
talks to the same server and db.
"""

from __future__ import annotations

import redis

from actors.redis_url import parse_redis_url
from launcher.topology import RedisConfig


def connect(cfg: RedisConfig, *, decode_responses: bool = True) -> redis.Redis:
    """A client whose every call fails fast (cfg.timeout_ms) instead of hanging when Redis is down."""
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
        retry_on_timeout=False,
    )
