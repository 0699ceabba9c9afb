"""Redis URLs, read one way by every Redis client (the gate's RespClient, redis-py via redis_conn)
and checked by topology validation. Pure: no sockets, no environment.

Accepted:
  redis://HOST[:PORT][/DB][?db=DB]        TCP (port 6379 by default)
  unix:///PATH/TO/redis.sock[?db=DB]      a unix socket (no host; the path percent-decoded)
The db may be in the path or in `?db=`; given in both, the two must agree. A username may be in the
URL; a password may not (it comes from the environment, see RedisConfig.password_env). rediss://
(TLS) is refused: neither client is set up for TLS. No other query parameter is read, so none is
accepted: a setting that would be silently ignored is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORT = 6379


def password_not_text(password: str | None, env: str | None) -> str | None:
    """Why no client can send `password`, read from the environment variable `env`, to Redis (None: it can): bytes
    that are not UTF-8, which arrive from the environment as surrogates that neither client encodes (a
    UnicodeEncodeError traceback of `status` and `positions`). Never includes the password."""
    try:
        (password or "").encode()
    except UnicodeEncodeError:
        return (f"{'$' + env if env else 'the Redis password'} is not valid UTF-8 (Redis's config file and its clients "
                f"need text): choose a password of UTF-8 text")
    return None


class RedisUrlError(ValueError):
    """What is wrong with a Redis URL; the message never contains the URL's password."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    transport: str  # "tcp" | "unix"
    host: str | None
    port: int | None
    unix_path: str | None
    db: int
    username: str | None


def _db(text: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise RedisUrlError(f"the db in the {where} must be a number >= 0, got {text[:20]!r}")
    return int(text)


def parse_redis_url(url: str) -> RedisTarget:
    """The target of a Redis URL, or RedisUrlError naming the problem."""
    try:
        parts = urlsplit(url)
        password = parts.password
        port = parts.port
    except ValueError as exc:  # a port that is not a number, a bad IPv6 literal
        raise RedisUrlError(f"not a valid URL: {exc}") from None
    if port == 0:
        raise RedisUrlError("port 0 is not a port; give the server's port, or none for 6379")
    if password:
        raise RedisUrlError("contains a password; put it in the environment variable named by password_env")
    scheme = parts.scheme.lower()
    if scheme == "rediss":
        raise RedisUrlError("rediss:// (TLS) is not supported by clustergate's Redis clients; use redis:// or unix://")
    if scheme not in ("redis", "unix"):
        raise RedisUrlError(f"expected a redis:// or unix:// URL, got scheme {parts.scheme!r}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise RedisUrlError("the query must be db=N") from None
    unknown = sorted(set(query) - {"db"})
    if unknown:
        raise RedisUrlError(f"unsupported query parameter(s) {', '.join(unknown)[:80]}: only db=N is read")
    query_dbs = query.get("db", [])
    if len(query_dbs) > 1:
        raise RedisUrlError("db is given more than once in the query")
    db_query = _db(query_dbs[0], "query") if query_dbs else None
    username = unquote(parts.username) if parts.username else None
    if scheme == "unix":
        if parts.hostname:
            raise RedisUrlError("a unix:// URL names no host (a socket is local): write unix:///PATH")
        if not parts.path:
            raise RedisUrlError("a unix:// URL needs the socket's path, e.g. unix:///run/redis/redis.sock")
        return RedisTarget("unix", None, None, unquote(parts.path), db_query or 0, username)
    path = parts.path.strip("/")
    db_path = _db(path, "path") if path else None
    if db_path is not None and db_query is not None and db_path != db_query:
        raise RedisUrlError(f"db is given twice with different values: {db_path} in the path, {db_query} in the "
                            f"query; give it once")
    db = db_path if db_path is not None else db_query if db_query is not None else 0
    return RedisTarget("tcp", parts.hostname or "127.0.0.1", port or DEFAULT_PORT, None, db, username)
