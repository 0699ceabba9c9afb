"""The one way actors open Redis: URL and timeouts from the topology, password from the environment."""

from __future__ import annotations

import redis

from launcher.topology import RedisConfig


def connect(cfg: RedisConfig, *, decode_responses: bool = True) -> redis.Redis:
    """A client whose every call fails fast (cfg.timeout_ms) instead of hanging when Redis is down."""
    timeout_s = cfg.timeout_ms / 1000.0
    return redis.Redis.from_url(
        cfg.connection_url(),
        password=cfg.password,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        decode_responses=decode_responses,
        health_check_interval=0,
        retry_on_timeout=False,
    )
