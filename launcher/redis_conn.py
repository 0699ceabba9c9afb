"""The one way actors and the launcher's tools open Redis: URL and timeouts from the topology, password from the environment.

The URL is read by launcher.redis_url, as the gate's own client (actors.resp) reads it, so every actor
talks to the same server and db. Under Sentinel (redis.sentinel) every new connection goes to the
primary the sentinels name (launcher.sentinel.discover_primary, checked with ROLE), and a connection
whose write is refused with READONLY (its server was demoted by a failover) is dropped, so the next
call finds the new primary: no actor needs a restart after a failover. A failover does not demote a
live old primary at once (Sentinel sends it REPLICAOF 8 s or more after it names the new one): until
then it still says master and takes writes, which are lost when it is demoted. So the pool asks the
sentinels again before it hands out a connection, at most every PRIMARY_CHECK_S, and moves every
connection to the primary they name now.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ReadOnlyError
from redis.retry import Retry

from launcher.redis_url import parse_redis_url
from launcher.sentinel import NoPrimary, discover_primary
from launcher.topology import RedisConfig


class SentinelPrimaryConnection(redis.Connection):
    """A redis-py connection to the primary the sentinels name, asked again on every (re)connect."""

    def __init__(self, *, sentinels: list[tuple[str, int]], master: str, **kwargs: Any):
        self.sentinels, self.master = sentinels, master  # one list per pool: the answering sentinel moves first
        super().__init__(**kwargs)

    def _connect(self) -> Any:
        try:
            self.host, self.port = discover_primary(self.sentinels, self.master, timeout_s=self.socket_connect_timeout
                                                    or 0.25, password=self.password, username=self.username)
        except NoPrimary as exc:
            raise redis.ConnectionError(str(exc)) from None
        return super()._connect()

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except ReadOnlyError as exc:
            self.disconnect()
            raise redis.ConnectionError(f"{self.host}:{self.port} is a replica now ({exc}): the next call asks the "
                                        f"sentinels again") from None


# How stale a pool's word from the sentinels may be when it hands out a connection: a write can still reach
# an old primary this long after the sentinels named a new one (plus the call's own time).
PRIMARY_CHECK_S = 0.1
# With no sentinel answering, the pool keeps its connections (a running actor goes on) and asks again after this.
NO_SENTINEL_RECHECK_S = 1.0


class SentinelPrimaryPool(redis.ConnectionPool):
    """SentinelPrimaryConnections that follow the sentinels' word: a connection handed out is to the primary the
    sentinels named at most PRIMARY_CHECK_S ago. When they name another server, every idle connection is
    closed and this one reconnects (discovery, checked with ROLE). A transaction (WATCH ... EXEC) keeps the
    connection it was handed. The sentinels are asked over connections kept open (a check every 0.1 s
    would otherwise open and close a socket as often)."""

    def __init__(self, **kwargs: Any):
        super().__init__(connection_class=SentinelPrimaryConnection, **kwargs)
        self.next_check_mono = 0.0
        self.sentinel_clients: dict[tuple[str, int], redis.Redis] = {}

    def named_primary(self) -> tuple[str, int] | None:
        """The primary the first answering sentinel names, unchecked, or None when none answers. The one that
        answered moves to the front of the pool's list, as discovery moves it, so both ask the same one first."""
        kw = self.connection_kwargs
        sentinels, timeout_s = kw["sentinels"], kw.get("socket_connect_timeout") or 0.25
        for i, address in enumerate(list(sentinels)):
            client = self.sentinel_clients.get(address)
            if client is None:
                client = self.sentinel_clients[address] = redis.Redis(
                    host=address[0], port=address[1], password=kw.get("password"), socket_timeout=timeout_s,
                    socket_connect_timeout=timeout_s, decode_responses=True, health_check_interval=0,
                    retry=Retry(NoBackoff(), 0))
            try:
                answer = client.execute_command("SENTINEL", "get-master-addr-by-name", kw["master"])
            except redis.RedisError:
                continue
            if not answer:
                continue
            if i:
                try:  # (a list shared by the pool's connections)
                    sentinels.insert(0, sentinels.pop(sentinels.index(address)))
                except ValueError:
                    pass
            return str(answer[0]), int(answer[1])
        return None

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = super().get_connection(*args, **kwargs)
        try:
            self.follow_the_sentinels(connection)
        except BaseException:
            self.release(connection)
            raise
        return connection

    def follow_the_sentinels(self, connection: "SentinelPrimaryConnection") -> None:
        now = time.monotonic()
        if now < self.next_check_mono:
            return
        named = self.named_primary()
        self.next_check_mono = time.monotonic() + (PRIMARY_CHECK_S if named is not None else NO_SENTINEL_RECHECK_S)
        if named is None or named == (connection.host, connection.port):
            return
        self.disconnect(inuse_connections=False)
        connection.disconnect()
        connection.connect()

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        if inuse_connections:  # the whole pool is closed: its sentinel connections too
            for client in self.sentinel_clients.values():
                client.close()


def connect(cfg: RedisConfig, *, decode_responses: bool = True) -> redis.Redis:
    """A client whose every call fails fast (cfg.timeout_ms) instead of hanging when Redis is down: one
    attempt, no retry (redis-py 6+ otherwise retries timeouts and connection errors 10 times with
    backoff: 4 s for one call to a dead server at a 200 ms timeout)."""
    timeout_s = cfg.timeout_ms / 1000.0
    target = parse_redis_url(cfg.connection_url())
    common = dict(db=target.db, username=target.username, password=cfg.password, socket_timeout=timeout_s,
                  socket_connect_timeout=timeout_s, decode_responses=decode_responses, health_check_interval=0,
                  retry=Retry(NoBackoff(), 0))
    if cfg.sentinel is not None:
        pool = SentinelPrimaryPool(sentinels=cfg.sentinel_addresses(), master=cfg.sentinel.master, **common)
        return redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
    where = ({"unix_socket_path": target.unix_path} if target.transport == "unix"
             else {"host": target.host, "port": target.port})
    return redis.Redis(**where, **common)
