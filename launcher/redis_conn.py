"""The one way actors and the launcher's tools open Redis: URL and timeouts from the topology, password from the environment.

The URL is read by launcher.redis_url, as the gate's own client (launcher.resp) reads it, so every actor
talks to the same server and db. Under Sentinel (redis.sentinel) every new connection goes to the
primary the sentinels name (launcher.sentinel.discover_primary, checked with ROLE), and a connection
whose write is refused with READONLY (its server was demoted by a failover) is dropped, so the next
call finds the new primary: no actor needs a restart after a failover. A failover does not demote a
live old primary at once (Sentinel sends it REPLICAOF 8 s or more after it names the new one): until
then it still says master and takes writes, which are lost when it is demoted. So the pool asks the
sentinels every PRIMARY_CHECK_S in a thread of its own (no call waits for a sentinel that hangs) and
moves every connection to the primary they last named.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ReadOnlyError
from redis.retry import Retry

from launcher.redis_url import parse_redis_url
from launcher.resp import has_no_password, password_hint
from launcher.stop_signals import signals_left_to_the_main_thread
from launcher.sentinel import NoPrimary, PasswordRefused, discover_primary, majority_word, named_address
from launcher.topology import RedisConfig


def connect_as_the_actors_authenticate(password_env: str | None) -> Callable[[Any], None]:
    """A connection's handshake (redis_connect_func): redis-py's, then a password given without a user sent again as
    `AUTH PASSWORD`, as the actors' own client sends it (launcher.resp): a Redis without a password refuses it here too
    (AuthenticationError). redis-py's `HELLO 3 AUTH default PASSWORD` alone is let in by a `nopass` default user
    whatever the password: `positions` listed and wrote while `status`, the gate and the issuer were refused. A refusal
    names the variable the password was read from, as the gate's does (the state writer logs it); a Redis that does not
    know AUTH (renamed with rename-command) echoes its arguments, the password, in its error: they are left out, and
    the error raised holds no other (revminorcli: `positions` printed the password, the state writer logged it)."""
    def handshake(connection: Any) -> None:
        try:
            connection.on_connect()
            if connection.password and not connection.username:
                connection.send_command("AUTH", connection.password, check_health=False)
                connection.read_response()
            return
        except redis.AuthenticationError as exc:
            said = str(exc)
            refused: redis.RedisError = redis.AuthenticationError(
                said + password_hint(said, connection.password, password_env))
        except redis.ResponseError as exc:
            refused = type(exc)(str(exc).split(", with args beginning with:", 1)[0])
        raise refused  # (out of the except: the error Redis said, the password in it, is not its context)
    return handshake


class SentinelsRefused(redis.AuthenticationError):
    """The sentinels (not the primary) refused the password (their requirepass): auth_refusal says it as theirs,
    naming those of `sentinels` (HOST:PORT), not every one configured (those down refused nothing)."""
    sentinels: tuple[str, ...] = ()


class SentinelPrimaryConnection(redis.Connection):
    """A redis-py connection to the primary the sentinels name, asked again on every (re)connect. A password the
    primary or the sentinels refuse is an AuthenticationError, naming password_env, as a plain URL's refusal is; no
    primary found or answering is a ConnectionError."""

    def __init__(self, *, sentinels: list[tuple[str, int]], master: str, password_env: str | None = None,
                 **kwargs: Any):
        self.sentinels, self.master = sentinels, master  # one list per pool: the answering sentinel moves first
        self.password_env = password_env
        super().__init__(**kwargs)

    def _connect(self) -> Any:
        try:
            self.host, self.port = discover_primary(self.sentinels, self.master, timeout_s=self.socket_connect_timeout
                                                    or 0.25, password=self.password, username=self.username)
        except PasswordRefused as exc:
            said = f"{exc.words} (said by {exc.where}){password_hint(exc.words, self.password, self.password_env)}"
            if not exc.by_sentinel:
                raise redis.AuthenticationError(said) from None
            refused = SentinelsRefused(said)
            refused.sentinels = exc.sentinels
            raise refused from None
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


# How often a pool asks the sentinels which server is the primary (in its own thread, off the calls' path): a
# write can still reach an old primary this long after the sentinels named a new one (plus the call's own time).
PRIMARY_CHECK_S = 0.1
# With no sentinel answering, the pool keeps its connections (a running actor goes on) and asks again after this.
NO_SENTINEL_RECHECK_S = 1.0


class SentinelPrimaryPool(redis.ConnectionPool):
    """SentinelPrimaryConnections that follow the sentinels' word: a connection handed out is to the primary the
    sentinels named in their last answer, asked every PRIMARY_CHECK_S by a thread of the pool's own. When they name
    another server, every idle connection is closed and this one reconnects (discovery, checked with ROLE). A
    transaction (WATCH ... EXEC) keeps the connection it was handed. A call on a connection the pool has waits
    for no sentinel: with the sentinels stopped or cut off, calls go on to the primary the pool has (a new
    connection still discovers on the call's path), and the thread asks again every NO_SENTINEL_RECHECK_S. The
    sentinels are asked over connections kept open (a check every 0.1 s would otherwise open and close a socket as
    often), in the connections' order."""

    def __init__(self, **kwargs: Any):
        super().__init__(connection_class=SentinelPrimaryConnection, **kwargs)
        self.sentinel_clients: dict[tuple[str, int], redis.Redis] = {}
        # The connections' own list (discovery moves the sentinel whose primary said ROLE master first): the checker
        # asks in that order, so a sentinel naming a replica does not make it name another server than they use.
        self.check_order = kwargs["sentinels"]
        self.named: tuple[str, int] | None = None  # the sentinels' last word (None until they first answer)
        self.checks = 0  # checks made, answered or not
        self._checker: threading.Thread | None = None
        self._checker_pid = 0
        self._checker_lock = threading.Lock()
        self._closed = threading.Event()

    def named_primary(self) -> tuple[str, int] | None:
        """The primary a majority of the sentinels names, else the first answering one's, unchecked, or None when
        none answers (each waited for as long as the pool's own timeout: off the calls' path, a slow answer is
        still an answer). majority_word reorders them for the next check."""
        kw = self.connection_kwargs
        timeout_s = kw.get("socket_connect_timeout") or 0.25

        def ask(address: tuple[str, int]) -> tuple[str, int] | None:
            client = self.sentinel_clients.get(address)
            if client is None:
                client = self.sentinel_clients[address] = redis.Redis(
                    host=address[0], port=address[1], password=kw.get("password"), socket_timeout=timeout_s,
                    socket_connect_timeout=timeout_s, decode_responses=True, health_check_interval=0,
                    retry=Retry(NoBackoff(), 0))
            try:
                return named_address(client.execute_command("SENTINEL", "get-master-addr-by-name", kw["master"]))
            except Exception:  # noqa: BLE001 (not only RedisError: redis-py's handshake with a server that answers
                return None  # +OK to everything raises AttributeError; whatever answers there, ask the next sentinel)
        return majority_word(self.check_order, ask)

    def _ensure_checker(self) -> None:
        pid = os.getpid()
        checker = self._checker
        if checker is not None and self._checker_pid == pid and checker.is_alive():
            return
        with self._checker_lock:
            if self._checker is not None and self._checker_pid == pid and self._checker.is_alive():
                return
            if self._checker_pid != pid:  # a forked child: the parent's checker and sentinel sockets are not its own
                self.sentinel_clients, self.named = {}, None
            self._closed = threading.Event()
            self._checker_pid = pid
            self._checker = threading.Thread(target=_check_forever, args=(weakref.ref(self), self._closed),
                                             name="sentinel-check", daemon=True)
            with signals_left_to_the_main_thread():  # an actor's: its main thread takes its signals
                self._checker.start()

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._ensure_checker()
        connection = super().get_connection(*args, **kwargs)
        try:
            self.follow_the_sentinels(connection)
        except BaseException:
            self.release(connection)
            raise
        return connection

    def follow_the_sentinels(self, connection: "SentinelPrimaryConnection") -> None:
        named = self.named
        if named is None or named == (connection.host, connection.port):
            return
        self.disconnect(inuse_connections=False)
        connection.disconnect()
        connection.connect()

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        if inuse_connections:  # the whole pool is closed: its checker ends (and closes the sentinel connections)
            self._closed.set()  # (not waited for: a close, at an actor's exit, must not wait for a hung sentinel)


def _check_forever(pool_ref: "weakref.ref[SentinelPrimaryPool]", closed: threading.Event) -> None:
    """A pool's checker thread: ask the sentinels every PRIMARY_CHECK_S (NO_SENTINEL_RECHECK_S while none answers)
    until the pool is closed or dropped (it holds the pool only while it asks); a closed pool's sentinel
    connections are closed here, by the one thread that uses them."""
    while not closed.is_set():
        pool = pool_ref()
        if pool is None:
            return
        try:
            named = pool.named_primary()
        except Exception:  # noqa: BLE001 (the checker must not die: calls would stop following the sentinels)
            named = None
        pool.checks += 1
        if named is not None:
            pool.named = named
        del pool
        closed.wait(PRIMARY_CHECK_S if named is not None else NO_SENTINEL_RECHECK_S)
    pool = pool_ref()
    if pool is not None:
        clients, pool.sentinel_clients = pool.sentinel_clients, {}
        for client in clients.values():
            client.close()


def auth_refusal(cfg: RedisConfig, exc: Exception) -> str:
    """What a tool says when Redis refuses its authentication (redis.AuthenticationError `exc`), or a command or a key
    to its user (redis.exceptions.NoPermissionError: an ACL's NOPERM): redis-py's words name its HELLO command, not
    what to do. Under Sentinel, the primary's refusal is said so too, the sentinels' (SentinelsRefused) as theirs.
    Never includes the password."""
    where = redis_named(cfg)
    if isinstance(exc, redis.exceptions.NoPermissionError):  # (Redis's words name the command or key, no password)
        user = parse_redis_url(cfg.connection_url()).username or "default"
        if "keys" in str(exc) or "a key" in str(exc):  # (its key patterns leave the key out: it has the command)
            return (f"{where} refuses its user {user} a key of this command (NOPERM {exc}): "
                    f"allow that user the key (ACL SETUSER, a ~pattern), or name a user allowed it in redis.url")
        return (f"{where} refuses its user {user} a command of this one (NOPERM {exc}): allow "
                f"that user the command (ACL SETUSER), or name a user allowed it in redis.url")
    env = f"${cfg.password_env} (the topology's redis.password_env)"
    if isinstance(exc, SentinelsRefused):
        assert cfg.sentinel is not None
        who = ", ".join(exc.sentinels or cfg.sentinel.sentinels)
        if not cfg.password:
            return (f"Redis's sentinels ({who}) refuse this command, which gave no password: set {env} as the "
                    f"system has it")
        return (f"Redis's sentinels ({who}) refuse the password this command took from {env}: set it as the system "
                f"has it")
    if not cfg.password:
        why = f"refuses this command, which gave no password: set {env}"
    elif has_no_password(str(exc)):
        why = f"has no password, but this command gave one from {env}: unset it,"
    else:
        why = f"refuses the password this command took from {env}: set it"
    return f"{where} {why} as the system has it"


def redis_named(cfg: RedisConfig) -> str:
    """The Redis a tool's sentence names: its URL; under Sentinel, whose connection URL is a placeholder with no host
    (redis://sentinel/0, which sent an operator looking for a host named `sentinel`), the primary the sentinels name."""
    if cfg.sentinel is not None:
        return f"Redis's primary {cfg.sentinel.master} (as its sentinels {', '.join(cfg.sentinel.sentinels)} name it)"
    return f"Redis at {cfg.connection_url()}"


def connect(cfg: RedisConfig, *, decode_responses: bool = True) -> redis.Redis:
    """A client whose every call fails fast (cfg.timeout_ms) instead of hanging when Redis is down: one
    attempt, no retry (redis-py 6+ otherwise retries timeouts and connection errors 10 times with
    backoff: 4 s for one call to a dead server at a 200 ms timeout)."""
    timeout_s = cfg.timeout_ms / 1000.0
    target = parse_redis_url(cfg.connection_url())
    common = dict(db=target.db, username=target.username, password=cfg.password, socket_timeout=timeout_s,
                  socket_connect_timeout=timeout_s, decode_responses=decode_responses, health_check_interval=0,
                  retry=Retry(NoBackoff(), 0), redis_connect_func=connect_as_the_actors_authenticate(cfg.password_env))
    if cfg.sentinel is not None:
        pool = SentinelPrimaryPool(sentinels=cfg.sentinel_addresses(), master=cfg.sentinel.master,
                                   password_env=cfg.password_env, **common)
        client = redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        # The pool is this client's alone: closing or dropping the client closes it and ends its checker thread
        # (redis-py's pool is in a reference cycle, so a dropped pool waited for the cyclic GC, thread and all).
        client.auto_close_connection_pool = True
        return client
    where = ({"unix_socket_path": target.unix_path} if target.transport == "unix"
             else {"host": target.host, "port": target.port})
    return redis.Redis(**where, **common)
