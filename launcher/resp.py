"""A minimal synchronous Redis client for the P2.6 hot path: one socket, pipelined RESP, hiredis parsing.

The gate and the permit issuer use this instead of redis-py: importing redis-py alone costs about
14 MB of RSS and ~100 us of Python per pipeline, and both processes must stay under 40 MB and answer
in well under a millisecond. The CLI's `up` (waiting for its Redis) and `status` use it too: importing redis-py
costs each run about 0.1 s of CPU, more than the rest of `status`'s own work. Every call fails fast with `RedisUnavailable` (timeouts from the
topology) and the next call reconnects, so the actors recover by themselves when Redis returns.
Under Sentinel the next call finds the primary again (launcher.sentinel.discover_primary), so the
actors follow a failover by themselves too.
"""

from __future__ import annotations

import hashlib
import select
import socket
import struct
import time
from typing import Any, Callable, Sequence

import hiredis
from hiredis import pack_command as _pack_command

from launcher.redis_url import parse_redis_url, password_not_text
from launcher.sentinel import NoPrimary, PasswordRefused, SentinelWatch, discover_primary, is_readonly

Command = Sequence[Any]


class RedisUnavailable(Exception):
    """Redis could not be reached, or did not answer within the timeout."""


class NotSent(RedisUnavailable):
    """RedisUnavailable before anything of the call was sent (no connection could be made, or the primary changed
    first): Redis ran none of it."""


class RedisTimedOut(RedisUnavailable):
    """Redis did not answer within the timeout on a connection it had accepted (a stalled server, not a dead one)."""


class HandshakeRefused(NotSent):
    """Redis refused the connection's AUTH or SELECT (a wrong password, an unknown user or db)."""


class ReplyError(Exception):
    """An error reply from Redis (e.g. WRONGTYPE); returned in place by `pipeline`, raised by `call`."""


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()


def encode_commands(commands: Sequence[Command]) -> bytes:
    """RESP encoding of several commands, ready to send in one write (hiredis's C encoder, which
    writes str, bytes, int and float as `_arg` does; a command that is not a tuple, or an argument of
    another type, sends them all through `_arg`: the same bytes, in Python)."""
    try:
        return b"".join(map(_pack_command, commands))
    except TypeError:
        return _encode_commands_py(commands)


def _encode_commands_py(commands: Sequence[Command]) -> bytes:
    out = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for value in command:
            data = _arg(value)
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _kernel_timeouts(sock: socket.socket, timeout_s: float) -> None:
    """Make a connected socket blocking, with the kernel's send and receive timeouts (SO_SNDTIMEO,
    SO_RCVTIMEO) set to timeout_s: each send or receive is then one system call, where a Python socket
    timeout polls before each (issue 14: two system calls fewer per Redis round trip). A call that times
    out raises BlockingIOError. Where the options cannot be set, the Python timeout stays."""
    if not timeout_s > 0 or not hasattr(socket, "SO_RCVTIMEO"):
        return
    seconds = int(timeout_s)
    micros = max(0 if seconds else 1, int(round((timeout_s - seconds) * 1e6)))  # 0 s 0 us would mean never
    timeval = struct.pack("ll", seconds, micros)  # struct timeval
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    except OSError:
        return
    sock.settimeout(None)


# A connection idle longer than this is checked (one select) before a call is sent on it: one Redis closed meanwhile is
# replaced first, so that a call Redis cannot have run is not reported as outcome unknown (the issuer's housekeeping
# no longer finds a closed connection for the decisions: it runs on its own).
IDLE_CHECK_S = 0.5


class RespClient:
    """With `sentinels` and `master` set, the server is the primary the sentinels name (checked with
    ROLE): found again by asking them after a connection error or a READONLY reply (the server was demoted by
    a failover), and moved to when a SentinelWatch (asking them every 0.1 s in a thread of its own, and checking
    their word with ROLE there: a call never waits for them) has a new primary."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, unix_path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None, timeout_s: float = 0.25,
                 sentinels: Sequence[tuple[str, int]] | None = None, master: str | None = None, decode: bool = True):
        """decode: replies as text (UTF-8, an undecodable byte replaced); False: as bytes (a value that may hold any
        bytes: a saved history, a snapshot field written by another program)."""
        self.host, self.port, self.unix_path, self.db = host, port, unix_path, db
        self.decode = decode
        self.username, self.password, self.timeout_s = username, password, timeout_s
        self.sentinels = list(sentinels) if sentinels else None
        self.master = master
        # The environment variable the password was read from (from_config): named when Redis refuses the password.
        self.password_env: str | None = None
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._used_at = 0.0  # time.monotonic() of the connection's last answer (IDLE_CHECK_S)
        self._watch: SentinelWatch | None = None
        # The watch's primary this client already moved to (or left: it answered READONLY).
        self._followed: tuple[str, int] | None = None
        # A pipeline whose connection failed before every reply came back is sent once more on a new connection
        # (Redis restarted since the last call). Off: not when that connection is to another server (under
        # Sentinel, the primary a failover promoted): the call fails with RedisUnavailable, outcome unknown, so a
        # write the old primary may or may not have run is not run again on another server, later than its
        # caller planned (the permit issuer: after its deadline, by the new server's clock).
        self.resend_to_another_server = True
        # Nor, when off (the default), after a timeout: the server did not die, it stalled (SIGSTOP, a hung host), and
        # sending again on a new connection, which its kernel accepts, waited a second timeout (redis-py's one attempt
        # waited one: the buffer's last save at its SIGTERM took 3.1 s at a 1,000 ms timeout). The gate and the permit
        # issuer turn it on (a stall shorter than the timeout is then a late answer, not a failed call).
        self.resend_after_timeout = False
        # When set, each read of a reply waits in wait_readable(sock, timeout_s) (False: none came in time) before its
        # recv, not in the kernel's receive timeout: the gate's waits on its connection a signal must be able to end
        # (Actor.wait_readable).
        self.wait_readable: Callable[[socket.socket, float], bool] | None = None

    @property
    def server(self) -> tuple[str, int] | str:
        """The server this client talks to (or will at its next connection): a unix socket path, or host and port."""
        return self.unix_path or (self.host, self.port)

    @property
    def server_name(self) -> str:
        """`server` as text: the socket path, or host:port."""
        return _where(self.server)

    @classmethod
    def from_config(cls, cfg: Any, decode: bool = True) -> "RespClient":
        """A client of the topology's Redis (cfg: its launcher.topology.RedisConfig, not imported here: `status` imports
        this module from inside the launcher's commands, which launcher.topology's own imports reach), its URL read by launcher.redis_url (as redis_conn reads it),
        or under Sentinel the primary its sentinels name."""
        target = parse_redis_url(cfg.connection_url())
        kwargs = dict(db=target.db, username=target.username, password=cfg.password, timeout_s=cfg.timeout_ms / 1000.0,
                      decode=decode)
        if cfg.sentinel is not None:
            client = cls(sentinels=cfg.sentinel_addresses(), master=cfg.sentinel.master, **kwargs)
        elif target.transport == "unix":
            client = cls(unix_path=target.unix_path, **kwargs)
        else:
            client = cls(host=target.host, port=target.port, **kwargs)
        client.password_env = cfg.password_env
        return client

    # ----------------------------------------------------------------- connection

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._reader = None

    def close_watch(self) -> None:
        """Stop the sentinel watch (it also ends once the client is dropped)."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def sibling(self, timeout_s: float) -> "RespClient":
        """A client of the same Redis (server, credentials, db) on a connection of its own, waiting timeout_s for an
        answer, a call sent again after a timeout as this client's are (resend_after_timeout); under Sentinel it
        follows this client's watch (one word on the primary for both: after a failover both move to the same new
        primary) and finds the primary as this one does after a connection error or READONLY."""
        other = RespClient(host=self.host, port=self.port, unix_path=self.unix_path, db=self.db, username=self.username,
                           password=self.password, timeout_s=timeout_s, sentinels=self.sentinels, master=self.master,
                           decode=self.decode)
        other._watch = self._watched()
        other.resend_after_timeout = self.resend_after_timeout  # one late answer is retried on both, or on neither
        other.password_env = self.password_env
        return other

    def _watched(self) -> SentinelWatch | None:
        """The sentinel watch (started now if not yet), None without sentinels."""
        if self.sentinels is not None and self._watch is None:
            self._watch = SentinelWatch(self.sentinels, self.master or "", timeout_s=self.timeout_s,
                                        password=self.password, username=self.username)
        return self._watch

    def _connect(self, primary: tuple[str, int] | None = None) -> None:
        """Connect to `primary` (the watch's, checked), or under Sentinel to the one discovery finds."""
        if self._watched() is not None:
            if primary is not None:
                self.host, self.port = primary
            else:
                try:
                    self.host, self.port = discover_primary(self.sentinels, self.master or "", timeout_s=self.timeout_s,
                                                            password=self.password, username=self.username)
                except PasswordRefused as exc:  # the primary's refusal, or the sentinels': a refusal, as without them
                    raise HandshakeRefused(f"handshake refused by {exc.where}: {exc.words}"
                                           f"{self._password_hint(exc.words)}") from None
                except NoPrimary as exc:  # none found or answering (a failover in progress): retried
                    raise RedisUnavailable(str(exc)) from None
        try:
            if self.unix_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout_s)
                sock.connect(self.unix_path)
            else:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _kernel_timeouts(sock, self.timeout_s)
        except OSError as exc:
            raise RedisUnavailable(f"cannot connect to {self.server_name}: {exc}") from None
        self._sock = sock
        self._reader = (hiredis.Reader(replyError=ReplyError, encoding="utf-8", errors="replace") if self.decode
                        else hiredis.Reader(replyError=ReplyError))
        not_text = password_not_text(self.password, self.password_env)
        if not_text:
            self.close()
            raise HandshakeRefused(f"handshake not sent: {not_text}")
        handshake: list[Command] = []
        if self.username:  # (a `nopass` user has none: AUTH with an empty one, as redis-py does, not as `default`)
            handshake.append(("AUTH", self.username, self.password or ""))
        elif self.password:
            handshake.append(("AUTH", self.password))
        if self.db:
            handshake.append(("SELECT", self.db))
        if handshake:
            for reply in self._roundtrip(encode_commands(handshake), len(handshake)):
                if isinstance(reply, ReplyError):
                    self.close()
                    # (A Redis that does not know AUTH, renamed, echoes its arguments, the password among them.)
                    said = str(reply).split(", with args beginning with:", 1)[0]
                    raise HandshakeRefused(f"handshake refused: {said}{self._password_hint(said)}")

    def _password_hint(self, refusal: str) -> str:
        """For a refused AUTH (Redis's words, in the handshake or from the sentinels): password_hint."""
        if not refuses_a_password(refusal, in_handshake=True):
            return ""
        return password_hint(refusal, self.password, self.password_env)

    def _roundtrip(self, payload: bytes, count: int) -> list[Any]:
        sock, reader = self._sock, self._reader
        assert sock is not None
        try:
            sock.sendall(payload)
            replies: list[Any] = []
            while len(replies) < count:
                reply = reader.gets()
                if reply is False:
                    if self.wait_readable is not None and not self.wait_readable(sock, self.timeout_s):
                        raise BlockingIOError  # timed out, as the kernel's timeout says it
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("connection closed by Redis")
                    reader.feed(data)
                    continue
                replies.append(reply)
            self._used_at = time.monotonic()
            return replies
        except (OSError, hiredis.ProtocolError) as exc:
            self.close()
            if isinstance(exc, (BlockingIOError, TimeoutError)):  # the kernel's timeout (SO_RCVTIMEO/SO_SNDTIMEO) ran out
                raise RedisTimedOut(f"TimeoutError: timed out waiting for {self.server_name}") from None
            raise RedisUnavailable(f"{type(exc).__name__}: {exc} ({self.server_name})") from None

    # ----------------------------------------------------------------- calls

    def connected(self) -> tuple[str, int] | str:
        """Connect (under Sentinel: to the primary the watch names, when it names another) unless connected; the
        server the next call is sent to (`server`), or RedisUnavailable."""
        watch = self._watch
        if watch is not None and self._sock is not None:
            primary = watch.primary
            if primary is not None and primary != self._followed:
                if primary != (self.host, self.port):
                    self.close()  # the sentinels name another primary, which said ROLE master: move to it now
                    self._connect(primary)
                self._followed = primary  # (after the move: a move that failed is made again at the next call)
        if self._sock is None:
            self._connect()
        return self.server

    def _closed_while_idle(self) -> bool:
        """Whether the idle connection is readable with nothing asked: Redis closed it (or sent what no call asked
        for): either way not one to send a call on."""
        try:
            return bool(select.select([self._sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def pipeline_raw(self, payload: bytes, count: int, server: tuple[str, int] | str | None = None) -> list[Any]:
        """Send pre-encoded commands; return `count` replies, error replies as ReplyError instances. With `server`,
        sent only there: RedisUnavailable, nothing sent, when the client is (or moves) elsewhere first.

        A connection found dead (Redis restarted since the last call) is replaced once (not by one to another
        server with resend_to_another_server off; not after a timeout with resend_after_timeout off).
        """
        if self._sock is not None and time.monotonic() - self._used_at > IDLE_CHECK_S and self._closed_while_idle():
            self.close()  # Redis closed it while it was idle (stopped, restarted, its timeout): a new connection, and
            # a Redis that refuses it has been sent nothing (NotSent), where a call on the closed one was outcome unknown
        fresh = self._sock is None
        try:
            sent_to = self.connected()
        except NotSent:  # (HandshakeRefused, as it is)
            raise
        except RedisUnavailable as exc:
            raise NotSent(str(exc)) from None
        if server is not None and sent_to != server:
            raise NotSent(f"the primary changed to {_where(sent_to)} before the call: nothing sent")
        try:
            replies = self._roundtrip(payload, count)
        except RedisUnavailable as exc:
            if fresh or (isinstance(exc, RedisTimedOut) and not self.resend_after_timeout):
                raise
            try:
                self._connect()
            except NotSent as refused:  # (HandshakeRefused) the call may have run on the connection that failed
                raise RedisUnavailable(f"{_where(sent_to)} did not answer ({exc}), outcome unknown: not sent again "
                                       f"({refused})") from None
            if self.server != sent_to and (server is not None or not self.resend_to_another_server):
                raise RedisUnavailable(f"{_where(sent_to)} did not answer ({exc}), outcome unknown: not sent again "
                                       f"to {_where(self.server)}, the primary now") from None
            replies = self._roundtrip(payload, count)
        if self.sentinels is not None:
            for reply in replies:
                if isinstance(reply, ReplyError) and is_readonly(reply):
                    # Demoted by a failover: nothing was written here. Fail this call (the caller fails
                    # closed, as for any outage) and find the new primary on the next one (not the watch's
                    # primary while it still names this server).
                    self.close()
                    if self._watch is not None and self._watch.primary == (self.host, self.port):
                        self._followed = self._watch.primary
                    raise RedisUnavailable(f"{self.host}:{self.port} is a replica now (READONLY): asking the sentinels again")
        return replies

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        return self.pipeline_raw(encode_commands(commands), len(commands))

    def call(self, *command: Any) -> Any:
        reply = self.pipeline([command])[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply


def ask_once(host: str, port: int, password: str | None, timeout_s: float, *command: Any) -> Any:
    """One command to one server on a connection of its own, one attempt within timeout_s (a tool's check: `up`
    waiting for its Redis, `status`): the reply, or RedisUnavailable (HandshakeRefused for a refused password) or the
    ReplyError Redis answered."""
    client = RespClient(host=host, port=port, password=password, timeout_s=timeout_s)
    try:
        return client.call(*command)
    finally:
        client.close()


def password_refused(exc: BaseException) -> bool:
    """Whether Redis refused the password a connection gave (WRONGPASS, an AUTH it has no password for) or wanted one
    it was not given (NOAUTH): the fix is the password's environment variable, not Redis."""
    return refuses_a_password(str(exc), in_handshake=isinstance(exc, HandshakeRefused))


def password_hint(refusal: str, password: str | None, password_env: str | None) -> str:
    """For Redis's refusal of a client's AUTH (its words): the environment variable the password was read from (never
    the password), and what to do; every client's refusal says it alike (launcher.resp's, redis_conn's)."""
    if password_env is None:
        return ""
    if not password:
        return f" (no password given: set ${password_env} to this Redis's password)"
    if has_no_password(refusal):
        return f" (the password given is ${password_env}'s: this Redis has none)"
    return f" (the password given is ${password_env}'s: set it to this Redis's password)"


# Redis's words for an AUTH to a server with no password: Redis 6 and later's, Redis 5's.
NO_PASSWORD_SET = ("without any password configured", "no password is set")


def has_no_password(refusal: str) -> bool:
    """Whether Redis's refusal of a password (its words) says it has none: the fix is to give none, not another."""
    return any(words in refusal for words in NO_PASSWORD_SET)


# Redis 5's answer to an AUTH with a wrong password (Redis 6 and later: WRONGPASS).
REDIS_5_WRONG_PASSWORD = "ERR invalid password"


def refuses_a_password(text: str, *, in_handshake: bool) -> bool:
    """password_refused on Redis's words; in_handshake: said in answer to the AUTH itself (by Redis, or by the
    sentinels in discovery's words), where any error naming AUTH or WRONGPASS, or Redis 5's wrong password, is
    about it."""
    text = text.removeprefix("handshake refused: ")
    return text.startswith(("NOAUTH", "WRONGPASS")) or (
        in_handshake and ("AUTH" in text or "WRONGPASS" in text or REDIS_5_WRONG_PASSWORD in text))


def as_dict(flat: Sequence[Any]) -> dict[Any, Any]:
    """A RESP2 field-value list (HGETALL's, SENTINEL MASTER's reply) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def after_a_first_round(pipeline_raw: Callable[..., list[Any]], *args: Any) -> list[Any]:
    """pipeline_raw(*args) sent after a first round of the same call: its NotSent is RedisUnavailable, since the first
    round reached Redis."""
    try:
        return pipeline_raw(*args)
    except NotSent as exc:
        raise RedisUnavailable(f"{exc}, after the call's first round: outcome unknown") from None


def _where(server: tuple[str, int] | str) -> str:
    return server if isinstance(server, str) else f"{server[0]}:{server[1]}"


class Script:
    """A Lua script run with EVALSHA, loaded again when Redis answers NOSCRIPT (after a restart)."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        # The first two arguments of its EVALSHA and of its EVAL, encoded (eval_payload swaps them).
        self._evalsha_name = encode_commands([("EVALSHA", self.sha)])[len(b"*2\r\n"):]
        self._eval_name = encode_commands([("EVAL", self.source)])[len(b"*2\r\n"):]

    def __call__(self, client: RespClient, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        reply = client.pipeline([command])[0]
        if isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT"):
            reply = client.pipeline([("EVAL", self.source, len(keys), *keys, *args)])[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def command(self, keys: Sequence[Any], args: Sequence[Any]) -> tuple[Any, ...]:
        """The EVALSHA command of one run (what run_commands takes)."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def run_many(self, client: RespClient, calls: Sequence[tuple[Sequence[Any], Sequence[Any]]]) -> list[Any]:
        """Run the script once per (keys, args), in order, in one pipelined round trip; the reply of
        each, error replies as ReplyError instances. Calls refused with NOSCRIPT run again, in order,
        with EVAL (which loads the script)."""
        return self.run_commands(client, [self.command(k, a) for k, a in calls])

    def run_commands(self, client: RespClient, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """run_many for runs already built as EVALSHA commands (`command`)."""
        return self.run_payloads(client, [encode_commands((command,)) for command in commands])

    def run_payloads(self, client: RespClient, payloads: Sequence[bytes], server: tuple[str, int] | str | None = None,
                     before_load: Callable[[], None] | None = None) -> list[Any]:
        """run_many for runs already encoded, one EVALSHA command's RESP bytes each (a caller on the hot path
        writes them itself); `server` as pipeline_raw takes it. `before_load` is called before the script is loaded
        (Redis restarted or failed over since it last ran it: nothing ran yet), and may raise to send nothing more."""
        replies = client.pipeline_raw(b"".join(payloads), len(payloads), server)
        missing = self.noscript(replies)
        if missing:
            if before_load is not None:
                before_load()
            again = after_a_first_round(client.pipeline_raw, b"".join([self.eval_payload(payloads[i]) for i in missing]),
                                        len(missing), server)
            for i, reply in zip(missing, again):
                replies[i] = reply
        return replies

    def eval_command(self, command: tuple[Any, ...]) -> tuple[Any, ...]:
        """The EVAL (which loads the script) of an EVALSHA command built by `command`."""
        return ("EVAL", self.source, *command[2:])

    def eval_payload(self, payload: bytes) -> bytes:
        """eval_command of one EVALSHA command given as its RESP bytes (its name and this script's sha
        replaced by EVAL and the source; the count of arguments and the rest kept), ValueError for bytes that
        are not one."""
        count_end = payload.find(b"\r\n") + 2
        if count_end < 2 or not payload.startswith(b"*") or not payload.startswith(self._evalsha_name, count_end):
            raise ValueError("not an EVALSHA command of this script")
        return b"".join((payload[:count_end], self._eval_name, payload[count_end + len(self._evalsha_name):]))

    @staticmethod
    def noscript(replies: Sequence[Any]) -> list[int]:
        """The indexes of the replies that are NOSCRIPT errors (Redis restarted or failed over)."""
        if ReplyError not in map(type, replies):  # hiredis makes error replies of exactly this class
            return []
        return [i for i, reply in enumerate(replies)
                if isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT")]
