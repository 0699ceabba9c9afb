"""The topology: which actors run, how their sockets meet, and every setting, as typed objects.

`load_topology(path)` returns a `Topology` or raises `SchemaError` listing every problem with
its YAML path and line. Defaults are SPEC's; change them in the YAML, never in code.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import io
import ipaddress
import json
import os
import re
import select
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Literal, get_args, get_type_hints

from launcher.endpoints import MAX_IPC_PATH_BYTES, localhost_as_ipv4
from launcher.schema import (MISSING, Path, Problem, SchemaError, Validator, dataclass_schema,
                             format_path, json_schema_for, load_yaml_with_lines, setting)

ActionName = Literal["HOLD", "PARTIAL_25", "PARTIAL_50", "PARTIAL_75", "FULL_CLOSE_PROPOSED"]

# An actor that exits because of bad input (its topology, a missing replay file) exits with this code
# after printing this line last, so `clustergate up` can report it at once: supervisord hides the
# exit status of a program that exits within its start window, and restarting would not help.
EXIT_BAD_INPUT = 2
EXIT_BAD_INPUT_LINE = "clustergate: exit 2: bad input; restarting will not fix it"

# Socket roles per actor kind: role -> ZeroMQ socket type. The kind fixes the type; the topology
# says whether the role binds or connects and where.
SOCKET_ROLES: dict[str, dict[str, str]] = {
    "price_feed": {"ticks": "PUB"},
    "book": {"ticks": "SUB"},
    "buffer": {"ticks": "SUB", "windows": "PUB", "snapshot": "REP"},
    "correlator": {"windows": "SUB", "snapshot": "REQ", "matrix": "PUB"},
    "clusterer": {"matrix": "SUB", "state": "PUB"},
    "state_writer": {"state": "SUB"},
    "gate": {"proposals": "ROUTER", "permits": "REQ"},
    "permit_issuer": {"requests": "REP"},
}

# Which socket types a connecting socket of each type may find bound on the other side (the first
# is the one named in errors). A ROUTER answers REQ clients as a REP does, each reply routed back.
PEER_TYPE = {"SUB": ("PUB",), "PUB": ("SUB",), "REQ": ("REP", "ROUTER"), "REP": ("REQ",),
             "ROUTER": ("REQ", "DEALER")}

# Which role's messages a socket of each role takes: the same role, except the gate's permits and the permit
# issuer's requests, the two ends of one link. A SUB on the wrong PUB is a valid ZeroMQ pair that carries the
# wrong messages (a state writer one port off, on the correlator's matrix, was never ready).
PEER_ROLE = {"permits": "requests", "requests": "permits"}

# An actor of the key kind cannot do its job unless an actor of each listed kind exists.
REQUIRED_KINDS: dict[str, tuple[str, ...]] = {
    "book": ("price_feed",),
    "buffer": ("price_feed",),
    "correlator": ("buffer",),
    "clusterer": ("correlator",),
    "state_writer": ("clusterer",),
    "gate": ("permit_issuer",),
}

# supervisord program names the launcher uses for itself.
RESERVED_PROGRAM_NAMES = {"redis", "prometheus"}  # the managed redis-server, `clustergate monitor up`
# ... and, under Sentinel, redis-server-N and redis-sentinel-N.
RESERVED_PROGRAM_PREFIX = "redis-"

SYMBOLS_DEFAULT = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


# --------------------------------------------------------------------------- shared sections


# Sentinel pings every instance once a second, and after a failover it resets the new primary's link
# with the down clock started and the first PING one second away: down-after must leave room for the
# reply (docs/ha-redis-sentinel.md, "The timings").
MIN_DOWN_AFTER_MS = 1500


@dataclass(frozen=True, kw_only=True)
class SentinelConfig:
    """Redis under Sentinel: the clients find the primary by asking the sentinels (docs/ha-redis-sentinel.md)."""

    master: str = setting("clustergate", doc="The name the sentinels monitor the primary under (SENTINEL get-master-addr-by-name NAME).")
    sentinels: list[str] = setting(doc="Every sentinel as HOST:PORT ([V6]:PORT). External: their addresses (one or more). Managed: at least 3 (quorum 2 of 3), where HOST is 127.0.0.1 on one host or a host name of hosts: in a multi-host topology; default on one host: 127.0.0.1 at redis.port + 20000, + 20001, + 20002.", factory=list)
    servers: list[str] = setting(doc="Managed only: the data servers as HOST:PORT (HOST as in sentinels); the first starts as the primary, the others as its replicas; at least 2. Default on one host: 127.0.0.1 at redis.port and redis.port + 1.", factory=list)
    replicas: int | None = setting(None, doc="External only: how many replicas the primary has (default 1); what replicas_expected() reports, e.g. to switch WAIT on. 0: no WAIT, and `status` does not count the missing failover a fault. Managed: the number of servers minus one.", ge=0, le=64)
    quorum: int | None = setting(None, doc="Managed: sentinels that must agree the primary is down before a failover (default: a majority, 2 of 3).", ge=1, le=64)
    down_after_ms: int = setting(2000, doc="Managed: a primary silent this long is down for a sentinel (Redis's default is 30000; at least 1500: a sentinel's first PING to a just-promoted primary leaves 1 s after the failover; see docs/ha-redis-sentinel.md for the choice).", ge=100, le=600_000)
    failover_timeout_ms: int = setting(5000, doc="Managed: Sentinel's failover-timeout (a failed failover is retried after twice this; replicas are reconfigured within it).", ge=1000, le=3_600_000)
    parallel_syncs: int = setting(1, doc="Managed: replicas resynchronised with a new primary at once.", ge=1, le=64)

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        from launcher.sentinel import canonical_address, parse_place
        master = kwargs.get("master", "clustergate")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", str(master)):
            v.problem(path + ("master",), f"{str(master)[:40]!r}: 1 to 64 letters, digits, _ . and -")
        for key in ("sentinels", "servers"):
            seen: dict[Any, int] = {}
            for i, text in enumerate(kwargs.get(key) or []):
                try:
                    place = parse_place(text)
                except ValueError as exc:
                    v.problem(path + (key, i), str(exc))
                    continue
                where = canonical_address((place.where, place.port))  # ([0:0:0:0:0:0:0:1]:P is [::1]:P)
                if where in seen:
                    v.problem(path + (key, i), f"{text} is also {key}[{seen[where]}]: each needs its own HOST:PORT")
                seen.setdefault(where, i)
        return kwargs


@dataclass(frozen=True, kw_only=True)
class RedisConfig:
    """Where shared state lives: a managed redis-server run by the launcher, or an external URL."""

    managed: bool = setting(False, doc="Run redis-server as the first supervisord program, with appendonly persistence in the run directory.")
    port: int = setting(6390, doc="Port of the managed redis-server (bound to 127.0.0.1).", ge=1, le=65535)
    url: str | None = setting(None, doc="External Redis, e.g. redis://127.0.0.1:6379/0. Put no password here; use password_env.")
    password_env: str = setting("CLUSTERGATE_REDIS_PASSWORD", doc="Environment variable holding the Redis password, if any.")
    timeout_ms: int = setting(250, doc="Socket and connect timeout of every Redis call.", ge=10, le=60000)
    maxmemory_mb: int = setting(1024, doc="Managed redis-server: maxmemory, with maxmemory-policy noeviction (a full Redis refuses writes, so decisions fail closed to HOLD; nothing, above all no cooldown or permit, is evicted). Alert ClustergateRedisMemoryHigh fires at 80%.", ge=16, le=1_048_576)
    host: str | None = setting(None, doc="Multi-host topology: the host (a name in hosts) that runs the managed Redis; it binds that host's address.")
    sentinel: SentinelConfig | None = setting(None, doc="Redis under Sentinel: every client finds the primary through the sentinels. With managed: true the launcher runs the primary, its replicas and the sentinels (sentinel.servers, sentinel.sentinels); without, give the external sentinels' addresses.")
    # Set by validation (launcher/hosts.py) from hosts.<host>.address: where the managed Redis listens.
    resolved_address: str | None = field(default=None, init=False, compare=False, repr=False)
    # Set by validation (launcher/hosts.py) in a multi-host topology: host name -> address, which the
    # HOST of sentinel.servers / sentinel.sentinels names.
    resolved_hosts: dict[str, str] | None = field(default=None, init=False, compare=False, repr=False)
    # Set by launcher.hosts.host_view: the one host whose supervisord this view is for (None: every host).
    only_host: str | None = field(default=None, init=False, compare=False, repr=False)

    def replaced(self, **changes: Any) -> RedisConfig:
        """dataclasses.replace(self, **changes) that keeps where validation placed this Redis (the fields above,
        which replace() would set back to None: a multi-host client then looked up its host names in DNS)."""
        new = dataclasses.replace(self, **changes)
        for placed in ("resolved_address", "resolved_hosts", "only_host"):
            object.__setattr__(new, placed, getattr(self, placed))
        return new

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        managed = kwargs.get("managed", False)
        url = kwargs.get("url")
        sentinel = kwargs.get("sentinel")
        if sentinel is not None:
            kwargs["sentinel"] = RedisConfig._sentinel_build(v, kwargs, raw, path, sentinel)
        elif managed and url:
            v.problem(path, "set either managed: true or url, not both")
        elif not managed and not url:
            v.problem(path, "set managed: true, give a url, or name the sentinels (redis.sentinel)")
        if url:
            from launcher.redis_url import RedisUrlError, parse_redis_url  # the one parser every client uses
            try:
                parse_redis_url(url)
            except RedisUrlError as exc:  # its message never repeats the URL (it may hold a password)
                v.problem(path + ("url",), str(exc))
        if managed and kwargs.get("port") == 6379:
            v.problem(path + ("port",), "6379 is Redis's default port; a managed server takes a non-default one")
        for key in () if managed else ("port", "maxmemory_mb"):
            if key in raw:
                v.unread_key(path + (key,), "is for the redis-server the launcher runs (redis.managed: true); an "
                                            "external Redis keeps its own: remove it")
        return kwargs

    @staticmethod
    def _sentinel_build(v: Validator, kwargs: dict, raw: dict, path: Path, sentinel: "SentinelConfig") -> "SentinelConfig":
        """Check redis.sentinel against the rest of redis:, and fill the one-host defaults of managed mode."""
        from launcher.sentinel import SENTINEL_PORT_OFFSET, parse_place
        spath = path + ("sentinel",)
        raw_sentinel = raw.get("sentinel") if isinstance(raw.get("sentinel"), dict) else {}
        if kwargs.get("url"):
            v.problem(path + ("url",), "a url names one server; with redis.sentinel the clients ask the sentinels "
                                       "for the primary: remove url")
        if not kwargs.get("managed", False):
            if not sentinel.sentinels:
                v.problem(spath + ("sentinels",), "list the sentinels' addresses (HOST:PORT), or set redis.managed: "
                                                  "true to have the launcher run them")
            for key in ("servers", "quorum", "down_after_ms", "failover_timeout_ms", "parallel_syncs"):
                if key in raw_sentinel:
                    v.unread_key(spath + (key,), "is for a managed setup (redis.managed: true); the external "
                                                 "sentinels have their own")
            return sentinel
        if "replicas" in raw_sentinel:
            v.problem(spath + ("replicas",), "is for external sentinels; a managed setup has one replica per "
                                             "server after the first (sentinel.servers)")
        if "host" in raw:
            v.problem(path + ("host",), "with redis.sentinel the hosts of the servers and sentinels are in "
                                        "sentinel.servers and sentinel.sentinels: remove redis.host")
        port = kwargs.get("port", 6390)
        servers = list(sentinel.servers) or [f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}"]
        sentinels = list(sentinel.sentinels) or [f"127.0.0.1:{port + SENTINEL_PORT_OFFSET + i}" for i in range(3)]
        if port + SENTINEL_PORT_OFFSET + 2 > 65535 and not sentinel.sentinels:
            v.problem(spath + ("sentinels",), f"redis.port {port} leaves no room for the default sentinel ports "
                                              f"(port + {SENTINEL_PORT_OFFSET}): list them")
        if len(servers) < 2:
            v.problem(spath + ("servers",), f"lists {len(servers)} server; a managed setup needs a primary and at "
                                            f"least one replica (2 or more)")
        if len(sentinels) < 3:
            v.problem(spath + ("sentinels",), f"lists {len(sentinels)} sentinel(s); a managed setup runs at least 3, "
                                              f"so that a majority survives one failure")
        if sentinel.down_after_ms < MIN_DOWN_AFTER_MS:
            v.problem(spath + ("down_after_ms",), f"{sentinel.down_after_ms} leaves no room for a sentinel's first PING "
                                                  f"to a just-promoted primary (sent 1000 ms after the failover, on a "
                                                  f"new link whose down clock already runs): the sentinels would see it "
                                                  f"down and fail over again; at least {MIN_DOWN_AFTER_MS}")
        quorum = sentinel.quorum if sentinel.quorum is not None else len(sentinels) // 2 + 1
        if quorum > len(sentinels):
            v.problem(spath + ("quorum",), f"{quorum} is more than the {len(sentinels)} sentinels")
        places: dict[Any, str] = {}
        for key, items in (("servers", servers), ("sentinels", sentinels)):
            for i, text in enumerate(items):
                try:
                    place = parse_place(text)
                except ValueError:
                    continue  # reported by SentinelConfig
                other = places.get((place.where, place.port))
                if other is not None and other[0] != key:
                    v.problem(spath + (key, i), f"{text} is also in sentinel.{other[0]}: each needs its own port")
                places.setdefault((place.where, place.port), (key, i))
                if place.port == 6379:
                    v.problem(spath + (key, i), "6379 is Redis's default port; a managed server takes a non-default one")
        return dataclasses.replace(sentinel, servers=servers, sentinels=sentinels, quorum=quorum)

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None

    @property
    def bind_address(self) -> str:
        """The address of the managed Redis: its host's address in a multi-host topology, else 127.0.0.1."""
        return self.resolved_address or "127.0.0.1"

    def replicas_expected(self) -> int:
        """Replicas the primary should have: 0 without Sentinel; managed, one per server after the
        first; external, sentinel.replicas (default 1). The permit issuer's WAIT is on by default when
        this is above 0."""
        if self.sentinel is None:
            return 0
        if self.managed:
            return max(0, len(self.sentinel.servers) - 1)
        return 1 if self.sentinel.replicas is None else self.sentinel.replicas

    def address_of(self, where: str) -> str:
        """The address of a HOST of sentinel.servers / sentinel.sentinels: a host name's address in a
        multi-host topology, else the HOST itself (an address)."""
        return (self.resolved_hosts or {}).get(where, localhost_as_ipv4(where))

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """(address, port) of every sentinel, in the topology's order."""
        from launcher.sentinel import parse_place
        assert self.sentinel is not None
        return [(self.address_of(p.where), p.port) for p in map(parse_place, self.sentinel.sentinels)]

    def server_addresses(self) -> list[tuple[str, int]]:
        """Managed: (address, port) of every data server, the first the initial primary."""
        from launcher.sentinel import parse_place
        assert self.sentinel is not None
        return [(self.address_of(p.where), p.port) for p in map(parse_place, self.sentinel.servers)]

    def connection_url(self) -> str:
        """The URL of the one server (no Sentinel). With Sentinel: a URL without a host, for its db."""
        if self.sentinel is not None:
            return "redis://sentinel/0"
        if self.url:
            return self.url
        address = self.bind_address
        return f"redis://{'[' + address + ']' if ':' in address else address}:{self.port}/0"


@dataclass(frozen=True, kw_only=True)
class PositionsConfig:
    """Position snapshots, owned by the execution layer."""

    key_pattern: str = setting("quantum:position:snapshot:{symbol}", doc="Redis hash key per symbol; must contain {symbol}.")
    stale_after_s: float = setting(300.0, doc="A snapshot older than this is stale.", gt=0, le=86400)

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        pattern = kwargs.get("key_pattern", "{symbol}")
        if "{symbol}" not in pattern:
            v.problem(path + ("key_pattern",), "must contain {symbol}")
        from launcher.keys import own_key_clash
        clash = own_key_clash(pattern.replace("{symbol}", "SYMBOL"))
        if clash is not None:
            v.problem(path + ("key_pattern",), f"{pattern!r} names keys among clustergate's own ({clash}), which it "
                                               f"overwrites or deletes: choose another pattern")
        return kwargs


@dataclass(frozen=True, kw_only=True)
class ClustersConfig:
    """P2.7 parameters shared by buffer, correlator, clusterer and the gate's freshness check."""

    cadence_s: float = setting(60.0, doc="One grid point per cadence.", ge=0.05, le=3600)
    lookback_returns: int = setting(360, doc="Returns kept per symbol (points = lookback + 1).", ge=10, le=100000)
    min_returns: int = setting(10, doc="A symbol enters the matrix with at least this many valid returns.", ge=2, le=100000)
    corr_threshold: float = setting(0.70, doc="Edge between two symbols when corr >= this.", ge=-1, le=1)
    max_tick_jump: float | None = setting(0.25, doc="A print further than this fraction from the symbol's last accepted price is refused as a bad print by the price feed and the buffer (counted, reason jump), unless the next print agrees with it; null: no limit.", gt=0, le=100)
    max_tick_jump_by_symbol: dict[str, float] = setting(doc="max_tick_jump per symbol, overriding it.", factory=dict)
    max_price_age_s: float | None = setting(None, doc="The correlator is not ready (so the cluster state is not refreshed and the gate falls back to the proxy) when the newest price the buffer accepted for the symbols in the matrix is older than this (default 5 x cadence_s).", gt=0, le=86400)

    @property
    def window_points(self) -> int:
        """Prices per symbol in a window the buffer publishes: lookback_returns returns need one more point."""
        return self.lookback_returns + 1

    @property
    def grid_slots(self) -> int:
        """Slots the buffer's grid (and its saved history) holds: the window's and the open slot."""
        return self.window_points + 1

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        refused = any(p.path[:len(path) + 1] in (path + ("min_returns",), path + ("lookback_returns",)) for p in v.problems)
        if not refused and kwargs.get("min_returns", 10) > kwargs.get("lookback_returns", 360):  # a refused one reads 0
            v.problem(path + ("min_returns",), "must not exceed lookback_returns")
        return kwargs


@dataclass(frozen=True, kw_only=True)
class CurveKeysConfig:
    """Where the CurveZMQ certificates live (`clustergate keys generate DIR --name NAME` makes them)."""

    keys_dir: str = setting(doc="Directory of certificates: NAME.key (public) and NAME.key_secret (secret, mode 0600). Relative to the topology file.")
    client_key: str | None = setting(None, doc="Certificate the proofs use to reach a CurveZMQ gate (a name in keys_dir); the gate's proposals socket must allow it.")


@dataclass(frozen=True, kw_only=True)
class SecurityConfig:
    """How sockets beyond loopback are protected."""

    curve: CurveKeysConfig | None = setting(None, doc="CurveZMQ certificates, needed by every socket that sets curve.")


# --------------------------------------------------------------------------- per-kind settings


@dataclass(frozen=True, kw_only=True)
class SyntheticSource:
    """Correlated geometric Brownian motion; the same seed gives the same ticks. With clock_aligned, a
    fading random walk whose price for each wall-clock slot depends on the settings and the slot alone."""

    seed: int = setting(7, doc="Random seed.", ge=0)
    start_prices: dict[str, float] = setting(doc="Initial price per symbol (default 100).", factory=dict)
    volatility: dict[str, float] = setting(doc="Annualised volatility per symbol (default 0.8).", factory=dict)
    correlation: dict[str, float] = setting(doc="Pairwise correlation, keys 'SYM1/SYM2' (default 0).", factory=dict)
    drift: float = setting(0.0, doc="Annualised drift of every symbol.", ge=-10, le=10)
    time_scale: float = setting(1.0, doc="Simulated seconds per real second (raises the per-tick volatility).", gt=0, le=1e9)
    clock_aligned: bool = setting(False, doc="Publish, for each slot k = floor(epoch seconds / interval_s) of the wall clock, a price that depends on these settings and k alone: two feeds with the same settings (two hosts, started at different times, restarted) publish the same price for the same symbol and slot, stamped with the slot's start. A fading random walk around start_prices (actors/slot_prices.py): one-slot returns keep volatility and correlation; drift must be 0.")


@dataclass(frozen=True, kw_only=True)
class ReplaySource:
    """Replay a CSV file: long form ts,symbol,price or wide form ts,SYM1,SYM2,..."""

    path: str = setting(doc="CSV file, relative to the topology file.")
    speed: float = setting(1.0, doc="Replay speed factor (2 = twice as fast as recorded).", gt=0, le=1e6)
    loop: bool = setting(False, doc="Start again at the end of the file.")


@dataclass(frozen=True, kw_only=True)
class PriceFeedSettings:
    source: Literal["synthetic", "replay", "redis_snapshots"] = setting("synthetic", doc="Where prices come from.")
    interval_s: float = setting(1.0, doc="Seconds between ticks (synthetic) or snapshot polls (redis_snapshots).", ge=0.001, le=3600)
    heartbeat_s: float = setting(5.0, doc="Send a heartbeat when nothing was published for this long.", ge=0.1, le=3600)
    synthetic: SyntheticSource = setting(doc="Settings of the synthetic source.", factory=SyntheticSource)
    replay: ReplaySource | None = setting(None, doc="Settings of the replay source.")

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        source = kwargs.get("source", "synthetic")
        if source == "replay" and kwargs.get("replay") is None:
            v.problem(path + ("replay",), "source is replay, so replay.path is required")
        known = get_args(get_type_hints(PriceFeedSettings)["source"])  # an unknown one is refused as such
        for block in ("synthetic", "replay"):  # each read by its own source alone; null is no block
            if source != block and source in known and raw.get(block) is not None:
                v.problem(path + (block,), f"is for source: {block}; this feed's source is {source}, which ignores it: "
                                           f"remove it", unread=True)
        return kwargs


@dataclass(frozen=True, kw_only=True)
class BookSettings:
    """A synthetic trading book that marks fixed positions to the feed's prices (demo and tests)."""

    positions: dict[str, float] = setting(doc="Signed position amount per symbol.", factory=dict)
    refresh_s: float = setting(5.0, doc="Rewrite every snapshot this often.", ge=0.05, le=3600)


@dataclass(frozen=True, kw_only=True)
class BufferSettings:
    persist: bool = setting(True, doc="Keep the grid history in Redis so that restarts resume warm.")
    publish_topic: str = setting("window", doc="Topic of the window messages.")
    frozen_after_slots: int = setting(10, doc="A symbol whose price is the same in every grid slot holding one over this many slots (a frozen feed: fresh timestamps, a price that never moves) is frozen: the buffer logs price_frozen once, sets p27_buffer_price_frozen{symbol} to 1, and logs price_moving_again when it moves. A warning only: the price stays on the grid. At most clusters.lookback_returns; 0 turns the check off.", ge=0, le=100000)


@dataclass(frozen=True, kw_only=True)
class CorrelatorSettings:
    shrinkage: Literal["none", "ledoit_wolf"] = setting("none", doc="Shrink the correlation matrix towards the identity.")
    snapshot_timeout_ms: int = setting(1000, doc="How long to wait for the buffer's snapshot reply.", ge=10, le=60000)


@dataclass(frozen=True, kw_only=True)
class ClustererSettings:
    linkage: Literal["threshold", "average", "complete"] = setting("threshold", doc="threshold = connected components of corr >= corr_threshold (SPEC).")
    max_stale_held_weight: float = setting(0.01, doc="Held symbols whose own newest price is older than clusters.max_price_age_s (or that have none: dust left in a delisted symbol) are left out of every cluster; while their combined notional is at most this fraction of the book's, the cluster state is still written without them (each stays named: p27_held_price_stale{symbol} 1, p27_held_price_stale_weight, status), and above it the state is not ready (held_prices_stale) and the gate falls back to the proxy. Their notional in no cluster understates ClusterStress by at most their weight (with the clusters' correlations unchanged: actors/clustering.py stale_held_stops_state). 0: any such held symbol stops the state.", ge=0, lt=1)


@dataclass(frozen=True, kw_only=True)
class StateWriterSettings:
    stream_maxlen: int = setting(10000, doc="Approximate MAXLEN of the cluster_state stream.", ge=1, le=10_000_000)
    lease_ms: int | None = setting(None, doc="Several state writers (a standby cluster side): only the holder of a Redis lease of at most this length writes (it stops renewing 1.5 cadences after its last write), and each write checks its fencing token. Default: 750 x cadence_s when the topology has more than one state_writer, else 0 (no lease: one writer writes as before). With several state writers, at least 500 x cadence_s (validate refuses less, 0 included). See docs/ha-standby-cluster-side.md.", ge=0, le=3_600_000)


@dataclass(frozen=True, kw_only=True)
class GateSettings:
    sigma_source: Literal["constant", "realized"] = setting("constant", doc="Per-symbol sigma: constant, or the correlator's realized volatility.")
    sigma: float = setting(1.0, doc="Constant sigma per symbol.", ge=0, le=100)
    heat_floor: float = setting(0.05, doc="heat = clip((sum w sigma - floor) / (ceiling - floor), 0, 1).", ge=0, le=100)
    heat_ceiling: float = setting(0.35, doc="See heat_floor.", gt=0, le=100)
    weight_heat: float = setting(0.60, doc="Weight of heat in stress.", ge=0, le=1)
    weight_concentration: float = setting(0.25, doc="Weight of concentration in stress.", ge=0, le=1)
    weight_k: float = setting(0.15, doc="Weight of K (cluster stress or proxy) in stress.", ge=0, le=1)
    freshness_s: float | None = setting(None, doc="Cluster state older than this falls back to the proxy (default 2 x cadence_s).", gt=0, le=86400)
    cold_stress: float = setting(0.55, doc="FULL_CLOSE is forbidden below this stress.", ge=0, le=1)
    riskoff_stress: float = setting(0.80, doc="PARTIAL_25/50 accelerate to PARTIAL_75 at or above this stress.", ge=0, le=1)
    kill_score_hard: float = setting(0.85, doc="kill_score at or above which a cold FULL_CLOSE becomes PARTIAL_75.", ge=0, le=1)
    permit_timeout_ms: int = setting(500, doc="How long to wait for the permit issuer before HOLD permit_unavailable.", ge=10, le=60000)
    max_request_bytes: int = setting(8192, doc="ZMQ_MAXMSGSIZE of the proposals socket (plus the 33 bytes CurveZMQ adds to each frame, when the socket sets curve): libzmq drops the connection of a larger proposal unread, so its client gets no reply (a timeout), and the gate's memory stays bounded (by connections x hwm x this). The default is 3 times the largest valid proposal (2,715 bytes, every character of plan_id and symbol JSON-escaped: docs/proposal-api.md); raise it only for clients that pad their JSON.", ge=256, le=100_000_000)
    refresh_s: float = setting(2.0, doc="Re-read snapshots and cluster state this often to keep the p26_* gauges current between proposals.", ge=0.05, le=3600)
    state_refresh_ms: int = setting(100, doc="Decide from a cache of snapshots, cluster state, realized vol and cooldowns re-read from Redis this often (one pipelined read), instead of one read per batch: positions and cluster state are seen at most this late; freshness is judged at decision time; cooldowns stay exact (the permit issuer refuses a decision made on a cooldown that changed, and the gate re-reads). 0 reads Redis for every batch.", ge=0, le=60000)
    deadline_skew_ms: int = setting(50, doc="The largest clock difference between a client and the gate (and Redis) that a proposal's deadline_ms must survive: the gate treats deadline_ms minus this as the deadline, so no decision is made or recorded after a client gave up while the clocks differ by at most this much. Same host: a few ms; NTP-synced hosts: the largest offset chrony/ntpq reports, with margin (docs/proposal-api.md: Deadlines).", ge=0, le=60000)
    overload_queue_depth: int = setting(1000, doc="Proposals read off the socket wait in the gate's own queue; one that finds this many already waiting behind the batch the gate takes next (up to 64) is answered overloaded at once (nothing decided or recorded). Each waiting proposal keeps its request (up to max_request_bytes) in the gate's memory: (this + 64) x max_request_bytes, whatever the number of connections (docs/proposal-api.md).", ge=1, le=1_000_000)
    overload_queue_age_ms: int = setting(500, doc="A proposal that has waited in the gate's queue longer than this is answered overloaded (nothing decided or recorded) before new proposals are read, so it never makes one find the queue full.", ge=1, le=60000)
    policy: Literal["spec", "monotone"] = setting("spec", doc="spec: SPEC's policy order (a cooldown steps down first, then the cold and risk-off rules apply, so a cooldown can give a larger action than no cooldown). monotone: under a cooldown the action is the smaller of that and one step below what the same proposal gets without a cooldown, so a cooldown never enlarges a permit (docs/proposal-api.md: the policy table).")

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        if kwargs.get("heat_ceiling", 0.35) <= kwargs.get("heat_floor", 0.05):
            v.problem(path + ("heat_ceiling",), "must be greater than heat_floor")
        return kwargs


# How late Redis may end a timed-out WAIT: at its next cron tick, 1000 / hz ms (hz 10, Redis's default: 100 ms).
WAIT_LATE_MS = 100

# Main-loop liveness (actors/runtime.py): an actor whose loop has not completed a turn (nor a message handler returned:
# a turn serves up to 64 messages a socket) within its stall limit (Topology.loop_stall_limit_s) is exported not ready.
# The longest legitimate stretch between two (Topology.longest_turn_s) counts this many Redis calls made one after
# another, each up to redis_call_waits socket timeouts: more for the kinds whose RespClient sends a call that timed
# out once more on a new connection (resend_after_timeout: the gate's and the permit issuer's) ...
REDIS_CALLS_PER_TURN = 8
REDIS_RESENDING_KINDS = ("gate", "permit_issuer")
# ... and for the kinds whose client is redis-py (launcher.redis_conn.connect), a new connection's handshake of its own
# (redis_call_waits, redis_py).
REDIS_PY_KINDS = ("state_writer",)
# ... and, for a gate, this many batches a turn (the runtime's BATCHES_PER_TURN), each of which may wait for an issuer
# to connect (up to this share of permit_timeout_ms: the issuer's deadline, the gate's issuer_deadline_s), then
# permit_timeout_ms for its reply, then re-open its socket (up to SOCKET_REOPEN_S: the runtime's REBIND_WAIT_S).
GATE_ISSUER_WAITS_PER_TURN = 4
GATE_ISSUER_CONNECT_WAIT_SHARE = 0.5
SOCKET_REOPEN_S = 1.0
# The default stall limit is twice the longest turn, and never below this.
LOOP_STALL_FLOOR_S = 30.0


def redis_call_waits(*, resends_after_timeout: bool, handshake: bool, sentinels: int, redis_py: bool = False,
                     redis_py_auth: bool = False) -> int:
    """How many socket timeouts one RespClient call (launcher/resp.py pipeline_raw) can wait at most, each wait up to
    the client's timeout_s, counted from its code paths.

    An attempt on a new connection (RespClient._connect) waits: under Sentinel, discovery first
    (sentinel.discover_primary asks each sentinel in turn: a connect and an answer, its AUTH pipelined with the
    question; then the server it named, not one named before: a connect and an answer to AUTH + ROLE), so 4 a
    sentinel when none answers in time; then the connect (1); then, with a handshake (a password, a user or a db:
    AUTH and SELECT pipelined, one wait), 1; then the call's own answer (1).

    A call on a new connection (the first, or after the last one failed or idled shut) is never sent again: one such
    attempt. A call on the open connection waits for its answer (1), and before that, under Sentinel, may move to the
    primary the watch names (a connect and a handshake, no sentinel asked: the watch's thread asked them and checked
    ROLE); if it then times out, a client that resends after a timeout (the gate's, the permit issuer's) makes one
    more attempt on a new connection, discovery included. For the others the most is one attempt on a new
    connection (or the open connection's answer, less; the state writer's redis-py connection, launcher.redis_conn, asks
    the sentinels the same way, its handshake below). Not counted: a connection Redis closes (not a timeout) just
    before the timeout, which every RespClient sends again once (the others too).

    Measured against real processes (turnbound): a gate call through a password Redis took 2.94 timeouts (the
    connects on loopback took none), 4.04 under three frozen sentinels. A hostile or broken server that dribbles its
    answer a byte at a time is bounded by no count (each read waits up to a timeout afresh): the loop-stall watchdog
    (loop_stall_limit_s) is what reports that actor stuck.

    redis_py: the client is redis-py (launcher.redis_conn, the state writer's; it is never sent again, Retry 0). Its
    new connection (redis.Connection.on_connect, redis-py 8) sends HELLO 3 (AUTH in it with a password) and waits for
    it, then CLIENT MAINT_NOTIFICATIONS, CLIENT SETINFO and SELECT pipelined, and waits again: 2 handshake waits with or
    without a password (revcount: counted as RespClient's 1 or 0; measured 3 late answers after the connect).
    redis_py_auth: a password given without a user, which redis_conn sends once more as AUTH PASSWORD after that
    handshake, and waits for (one more wait; revminorcli: measured 4 late answers after the connect, 3 counted).

    Connect and answer are separate waits (revcount, checked against the code): the connect waits up to timeout_s
    (socket.create_connection(timeout=timeout_s) in RespClient._connect, sentinel._exchange, redis-py's
    socket_connect_timeout), then each read up to timeout_s afresh (SO_RCVTIMEO / the socket's timeout). A frozen
    server whose kernel accepts the connect costs one wait (the answer), a dead host one (the connect, nothing read
    after it); both at once need a connect that completes just before its timeout (a SYN resent after a loss or a
    full accept queue: Linux resends it 1 s, 3 s, ... later) and then a late answer, possible at timeouts above the
    SYN's resend time, so each is counted: this is a bound, not the usual cost (4.04 timeouts measured under three
    frozen sentinels, 18 counted). Not counted: a host name (redis.url) that resolves to several addresses, each
    tried for a connect timeout, and its resolution (getaddrinfo: no timeout of ours); topologies give addresses
    (`localhost` is 127.0.0.1, a multi-host topology's hosts are resolved once)."""
    per_sentinel = 4  # a sentinel: connect + answer; the server it names: connect + ROLE's answer
    handshake_waits = 2 if redis_py else (1 if handshake else 0)
    if redis_py and redis_py_auth:
        handshake_waits += 1
    new_connection = sentinels * per_sentinel + 1 + handshake_waits  # + connect + handshake
    fresh_attempt = new_connection + 1  # + the call's answer
    if not resends_after_timeout:
        return fresh_attempt
    watch_move = (1 + handshake_waits) if sentinels else 0
    return watch_move + 1 + fresh_attempt


@dataclass(frozen=True, kw_only=True)
class PermitIssuerSettings:
    permit_ttl_s: int = setting(60, doc="TTL of quantum:permit:p26:{plan_id}.", ge=1, le=60)
    cooldown_ttl_s: int = setting(60, doc="TTL of quantum:p26:cooldown:{symbol}.", ge=1, le=86400)
    stream_maxlen: int = setting(100000, doc="Count cap (the memory bound) of the gate decision stream. Records are trimmed by time only, once older than the longest permit or cooldown TTL; a decision that would take the stream past this cap while every record is younger is refused (HOLD permit_unavailable, stream_full, nothing recorded), never trimmed; a HOLD may fill only nine tenths of the cap, the rest is kept for decisions with a permit. Sustained capacity: stream_maxlen / max(permit_ttl_s, cooldown_ttl_s) decisions per second.", ge=1000, le=100_000_000)
    decision_ttl_s: int = setting(86400, doc="How long a plan_id's decision that carries a permit is kept for idempotent resubmission.", ge=60, le=30 * 86400)
    hold_decision_ttl_s: int = setting(600, doc="How long a HOLD decision (no permit) is kept for idempotent resubmission: the client's retry window. A HOLD resubmitted later is decided afresh, and can then get a permit (docs/proposal-api.md).", ge=60, le=30 * 86400)
    permitted_plan_ttl_s: int = setting(30 * 86400, doc="How long the marker that a plan_id got a permit (clustergate:p26:permitted:{plan_id}, written with its decision) is kept: a plan_id resubmitted after its decision expired (decision_ttl_s) but within this is refused plan_id_expired, never decided again with a second permit. At least decision_ttl_s.", ge=60, le=366 * 86400)
    wait_replicas: int | None = setting(None, doc="After each write (and each replay), WAIT until this many replicas acknowledged it; fewer within wait_timeout_ms: HOLD replica_unacknowledged, outcome unknown (docs/ha-durability.md). Default: 1 when the topology runs Redis replicas, else 0 (no WAIT sent). Give it for an external Redis whose replicas the topology does not run.", ge=0, le=16)
    wait_timeout_ms: int = setting(100, doc="How long WAIT may block for the replicas' acknowledgement. Redis ends it at its next cron tick (hz 10, its default: up to 100 ms late), so this + 100 ms must be at most half of every gate's permit_timeout_ms. With WAIT on, the issuer's Redis socket timeout is redis.timeout_ms + this + 100 ms.", ge=1, le=30000)

    def replicas_to_wait(self, redis: RedisConfig) -> int:
        """How many replicas must acknowledge a decision before it is reported recorded (0: no WAIT)."""
        if self.wait_replicas is not None:
            return self.wait_replicas
        return 1 if redis.replicas_expected() > 0 else 0


SETTINGS_BY_KIND: dict[str, Any] = {
    "price_feed": PriceFeedSettings,
    "book": BookSettings,
    "buffer": BufferSettings,
    "correlator": CorrelatorSettings,
    "clusterer": ClustererSettings,
    "state_writer": StateWriterSettings,
    "gate": GateSettings,
    "permit_issuer": PermitIssuerSettings,
}


# --------------------------------------------------------------------------- hosts


@dataclass(frozen=True, kw_only=True)
class HostSpec:
    """One machine of a multi-host topology (launcher/hosts.py checks and uses it)."""

    address: str = setting(doc="The host's IP address: its sockets that other hosts reach bind it, and connects to it name it.")
    metrics_bind: str | None = setting(None, doc="Address the metrics endpoints of this host's actors bind (default 127.0.0.1). Give the host's address to let `status --all-hosts` and the readiness proof read them from other hosts.")


# --------------------------------------------------------------------------- actors


@dataclass(frozen=True, kw_only=True)
class SocketCurve:
    """CurveZMQ on one socket: traffic is encrypted, and a bound socket lets in only allowed client keys.

    Certificates are named by their file name in security.curve.keys_dir ('desk' is desk.key and
    desk.key_secret) or given as paths relative to the topology file.
    """

    keypair: str | None = setting(None, doc="This socket's own certificate (its secret half is read from NAME.key_secret). Default: the actor's name.")
    allow: list[str] = setting(doc="Bound socket: client certificates let in (public NAME.key files).", factory=list)
    allow_dir: str | None = setting(None, doc="Bound socket: a directory whose every public certificate (*.key) is let in.")
    server_key: str | None = setting(None, doc="Connecting socket: the server's public certificate. Default: the keypair of the socket bound at the endpoint.")


@dataclass(frozen=True, kw_only=True)
class SocketSpec:
    """One socket: it binds or connects (exactly one), with its high-water mark."""

    bind: str | None = setting(None, doc="Endpoint to bind, e.g. tcp://127.0.0.1:5551 or ipc:///tmp/x.sock.")
    connect: str | None = setting(None, doc="Endpoint another actor binds.")
    hwm: int = setting(1000, doc="Send and receive high-water mark (messages).", ge=1, le=10_000_000)
    curve: SocketCurve | None = setting(None, doc="CurveZMQ encryption and client authentication; required for a tcp endpoint beyond loopback.")

    @staticmethod
    def __schema_build__(v: Validator, kwargs: dict, raw: dict, path: Path) -> dict:
        bind, connect = kwargs.get("bind"), kwargs.get("connect")
        if (bind is None) == (connect is None):
            v.problem(path, "give exactly one of bind or connect")
        for key in ("bind", "connect"):
            endpoint = kwargs.get(key)
            if endpoint is not None:
                reason = endpoint_problem(endpoint)
                if reason:
                    v.problem(path + (key,), reason)
        curve = kwargs.get("curve")
        if curve is not None and bind is not None:
            if curve.server_key is not None:
                v.problem(path + ("curve", "server_key"), "a bound socket is the server; server_key belongs on connecting sockets")
            if not curve.allow and curve.allow_dir is None:
                v.problem(path + ("curve",), "a CurveZMQ server with no allowed clients lets nobody in; list client certificates in allow (or give allow_dir)")
        if curve is not None and connect is not None and (curve.allow or curve.allow_dir is not None):
            v.problem(path + ("curve",), "allow and allow_dir belong on bound sockets; a connecting socket names the server_key")
        return kwargs

    @property
    def endpoint(self) -> str:
        return self.bind if self.bind is not None else self.connect  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class ActorSpec:
    """One actor process."""

    kind: str = setting("", doc="Actor kind; defaults to the actor's name.")
    host: str = setting("127.0.0.1", doc="Address the metrics endpoint binds; in a topology with hosts:, the name of the host the actor runs on (its metrics bind that host's metrics_bind).")
    metrics_port: int = setting(doc="Prometheus metrics port.", ge=1, le=65535)
    sockets: dict[str, SocketSpec] = setting(doc="Socket role -> bind/connect.", factory=dict)
    settings: Any = setting(None, doc="Settings of this kind of actor.")
    log_level: Literal["debug", "info", "warning", "error"] = setting("info", doc="Lowest level logged.")
    loop_stall_limit_s: float | None = setting(None, doc="The actor is exported not ready (clustergate_actor_ready 0, `status` says `main loop stuck`) while its main loop has not completed a turn for longer than this: a handler or timer that never returns. Default: twice the longest turn its settings allow (Topology.longest_turn_s: its Redis calls at redis.timeout_ms, each as many times as a new connection's connect, AUTH/SELECT (a password, user or db) and sentinels asked can wait, a second attempt for a gate or permit issuer, which send a call that timed out once more; a gate's waits for its issuer at 1.5 x permit_timeout_ms), at least 30 s. validate refuses a limit below that longest turn: a legitimate slow turn would read as stuck.", ge=1, le=3600)


@dataclass(frozen=True, kw_only=True)
class Topology:
    """A whole clustergate system."""

    name: str = setting(doc="Name of this system (used in the run directory and supervisord programs).")
    symbols: list[str] = setting(doc="Allowlist of symbols.", factory=lambda: list(SYMBOLS_DEFAULT))
    redis: RedisConfig = setting(doc="Shared state.", factory=lambda: RedisConfig(managed=True))
    positions: PositionsConfig = setting(doc="Position snapshots.", factory=PositionsConfig)
    clusters: ClustersConfig = setting(doc="Correlation cluster parameters.", factory=ClustersConfig)
    actors: dict[str, ActorSpec] = setting(doc="Actor name -> actor.", factory=dict)
    security: SecurityConfig = setting(doc="CurveZMQ for sockets beyond loopback.", factory=SecurityConfig)
    hosts: dict[str, HostSpec] = setting(doc="Multi-host: host name -> host. Without it the topology runs on one host.", factory=dict)
    base_dir: str | None = setting(None, doc="Directory that relative paths resolve against (default: the topology file's). The launcher sets it in its copy.")
    source_path: str | None = field(default=None, init=False, compare=False)
    # The text that was validated: `up` copies it, not the file as it is by then (an edit saved meanwhile).
    source_text: str | None = field(default=None, init=False, compare=False)
    # Multi-host: actor name -> host name (launcher/hosts.py fills it; empty on one host).
    placement: dict[str, str] = field(default_factory=dict, init=False, compare=False)
    # Set by launcher.hosts.host_view: the whole topology this is one host's view of (None: this is the whole). Its
    # actors read the whole file, so what one reads of the others (the gates' freshness, the state writers' lease)
    # comes from it.
    whole: Topology | None = field(default=None, init=False, compare=False, repr=False)

    def actor(self, name: str) -> ActorSpec:
        return self.actors[name]

    def actors_of_kind(self, kind: str) -> list[str]:
        return [n for n, a in self.actors.items() if a.kind == kind]

    def settings_of(self, name: str) -> Any:
        return self.actors[name].settings

    def resolve_path(self, relative: str) -> FsPath:
        if self.base_dir:
            base = FsPath(self.base_dir)
        else:
            base = FsPath(self.source_path).parent if self.source_path else FsPath.cwd()
        p = FsPath(relative)
        return p if p.is_absolute() else (base / p).resolve()

    @property
    def freshness_default_s(self) -> float:
        return 2.0 * self.clusters.cadence_s

    def gate_freshness_s(self, name: str) -> float:
        """Gate `name`'s cluster freshness window: its freshness_s, else freshness_default_s (SPEC's 2 x cadence_s)."""
        configured = self.actors[name].settings.freshness_s
        return configured if configured is not None else self.freshness_default_s

    @property
    def strictest_gate_freshness_s(self) -> float:
        """The smallest freshness window of the topology's gates (freshness_default_s with none): a state outside it
        is refused by at least one gate. The state writer's state_clock_skew log judges by it, so `up` restarts
        the writer when it changes (launcher.supervise.actor_config_hash)."""
        return min((self.gate_freshness_s(n) for n in self.actors_of_kind("gate")), default=self.freshness_default_s)

    @property
    def issuer_cooldown_ttl_s(self) -> int:
        """The cooldown TTL the gates' caches assume a recorded decision sets: the first permit issuer's
        cooldown_ttl_s (the default with none). The gates read it, so `up` restarts them when it changes
        (launcher.supervise.actor_config_hash)."""
        issuers = self.actors_of_kind("permit_issuer")
        return self.actors[issuers[0]].settings.cooldown_ttl_s if issuers else PermitIssuerSettings().cooldown_ttl_s

    def state_writer_lease_ms(self, name: str) -> int:
        """The lease state writer `name` writes under: its lease_ms, else 750 x cadence_s when the topology has
        several state writers, 0 (no lease) with one. It depends on the other actors, so `up` restarts a writer
        when a standby is added or removed (launcher.supervise.actor_config_hash)."""
        configured = self.actors[name].settings.lease_ms
        if configured is not None:
            return configured
        return int(750 * self.clusters.cadence_s) if len(self.actors_of_kind("state_writer")) > 1 else 0

    @property
    def max_price_age_s(self) -> float:
        """clusters.max_price_age_s, default 5 x cadence_s."""
        c = self.clusters
        return c.max_price_age_s if c.max_price_age_s is not None else 5.0 * c.cadence_s

    def redis_handshake(self) -> bool:
        """Whether an actor's new Redis connection may send AUTH or SELECT first (one more wait, redis_call_waits): a
        password_env named (the default names one: the actors read their password from it), a user or a db. Read
        from the topology alone, not from whether the variable is set where this runs (revcount: `validate` run
        without it counted 2 s less at the defaults than the actors, which have it, and took a stall limit that
        short)."""
        from launcher.redis_url import parse_redis_url
        target = parse_redis_url(self.redis.connection_url())
        return bool(self.redis.password_env or target.username or target.db)

    def redis_password_without_user(self) -> bool:
        """Whether a redis-py connection (launcher.redis_conn) sends AUTH PASSWORD after its handshake: a password_env
        named (read as redis_handshake reads it, set or not) and no user in the URL."""
        from launcher.redis_url import parse_redis_url
        return bool(self.redis.password_env) and not parse_redis_url(self.redis.connection_url()).username

    def longest_turn_s(self, name: str) -> float:
        """The longest main-loop turn actor `name` can legitimately take, by its settings: REDIS_CALLS_PER_TURN Redis
        calls one after another, each waiting redis.timeout_ms (a permit issuer's that WAITs for a replica: WAIT's
        timeout and Redis's lateness too, its socket timeout) at most redis_call_waits times: its connect, handshake
        (redis_handshake), questions to the sentinels and ROLE, and for a gate or a permit issuer, which send a call
        that timed out once more (REDIS_RESENDING_KINDS), a second attempt; a
        gate's GATE_ISSUER_WAITS_PER_TURN batches each waiting for an issuer to connect (half permit_timeout_ms), then
        permit_timeout_ms for its reply, and re-opening its socket; a correlator's wait for the buffer's snapshot. Not
        counted: a gate's further rounds of a batch after a cooldown conflict (DECIDE_ATTEMPTS), each answered by the
        issuer. Computation is far shorter: a whole P2.7 update at 1,000
        symbols x 361 points with 5% gaps took 79 ms median, 101 ms at most (bench/bench_cluster_update.py, 5 Dec 2026),
        and the buffer's history rebuild at MAX_GRID_PRICES at most 0.7 s."""
        spec = self.actors[name]
        s = spec.settings
        redis_call_s = self.redis.timeout_ms / 1000.0
        if isinstance(s, PermitIssuerSettings) and s.replicas_to_wait(self.redis):  # its socket's timeout with WAIT
            redis_call_s += (s.wait_timeout_ms + WAIT_LATE_MS) / 1000.0
        sentinels = len(self.redis.sentinel_addresses()) if self.redis.sentinel is not None else 0
        redis_call_s *= redis_call_waits(resends_after_timeout=spec.kind in REDIS_RESENDING_KINDS,
                                         handshake=self.redis_handshake(), sentinels=sentinels,
                                         redis_py=spec.kind in REDIS_PY_KINDS,
                                         redis_py_auth=self.redis_password_without_user())
        turn_s = REDIS_CALLS_PER_TURN * redis_call_s
        if isinstance(s, GateSettings):
            issuer_wait_s = (1 + GATE_ISSUER_CONNECT_WAIT_SHARE) * s.permit_timeout_ms / 1000.0
            turn_s += GATE_ISSUER_WAITS_PER_TURN * (issuer_wait_s + SOCKET_REOPEN_S)
        if isinstance(s, CorrelatorSettings):
            turn_s += s.snapshot_timeout_ms / 1000.0 + SOCKET_REOPEN_S
        return turn_s

    def loop_stall_limit_s(self, name: str) -> float:
        """How long actor `name`'s main loop may go without completing a turn before it is exported not ready: its
        loop_stall_limit_s, else twice longest_turn_s, at least LOOP_STALL_FLOOR_S."""
        configured = self.actors[name].loop_stall_limit_s
        return float(configured) if configured is not None else self.default_loop_stall_limit_s(name)

    def default_loop_stall_limit_s(self, name: str) -> float:
        """Twice longest_turn_s, at least LOOP_STALL_FLOOR_S."""
        return max(LOOP_STALL_FLOOR_S, 2.0 * self.longest_turn_s(name))


# --------------------------------------------------------------------------- checks across sections


def endpoint_problem(endpoint: str) -> str | None:
    if endpoint.startswith("ipc://"):
        path = endpoint[len("ipc://"):]
        if not path:
            return "ipc endpoint has no path"
        if path.startswith("/") and len(os.fsencode(path)) > MAX_IPC_PATH_BYTES:  # a relative one is under the home: up checks it
            return f"ipc path is {len(os.fsencode(path))} bytes; a socket path holds at most {MAX_IPC_PATH_BYTES}"
        return None
    if endpoint.startswith("inproc://"):
        return "inproc endpoints do not cross processes; use tcp:// or ipc://"
    if not endpoint.startswith("tcp://"):
        return f"expected tcp://HOST:PORT or ipc://PATH, got {endpoint!r}"
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    if not host or not port.isdigit():
        return f"expected tcp://HOST:PORT, got {endpoint!r}"
    if not 1 <= int(port) <= 65535:
        return f"port must be 1..65535, got {port}"
    if host == "*":
        return "binding every interface (*) is not allowed; name the address"
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return f"write an IPv6 address in brackets, e.g. tcp://[::1]:{port}, got {endpoint!r}"
    return None


def endpoint_port(endpoint: str) -> int | None:
    if endpoint.startswith("tcp://"):
        tail = endpoint.rpartition(":")[2]
        return int(tail) if tail.isdigit() else None
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _endpoint_key(endpoint: str) -> str:
    """Endpoints that reach the same place compare equal (localhost == 127.0.0.1)."""
    return endpoint.replace("tcp://localhost:", "tcp://127.0.0.1:")


# Names end up in Redis keys, supervisord program names and file names: keep them short.
MAX_NAME_CHARS = 64
# An actor name is a supervisord program name, a log file name and an argument of the rendered
# command: ASCII, starting with a letter (so it is never read as an option), then letters, digits, - and _.
ACTOR_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _check_actor(v: Validator, name: str, raw: Any, path: Path) -> ActorSpec:
    raw = dict(raw) if isinstance(raw, dict) else raw
    kind = raw.get("kind", name) if isinstance(raw, dict) else name
    if isinstance(raw, dict) and "kind" not in raw:
        raw["kind"] = name
    spec: ActorSpec = v.build_dataclass(ActorSpec, raw, path)
    if kind not in SETTINGS_BY_KIND:
        hint = _close(kind, list(SETTINGS_BY_KIND))
        where = path + ("kind",) if isinstance(raw, dict) and "kind" in raw and raw.get("kind") != name else path
        v.problem(where, f"unknown actor kind {kind!r}{hint}")
        return spec
    settings_raw = raw.get("settings") if isinstance(raw, dict) else None
    settings = v.build_dataclass(SETTINGS_BY_KIND[kind], settings_raw, path + ("settings",))
    roles = SOCKET_ROLES[kind]
    for role in spec.sockets:
        if role not in roles:
            v.problem(path + ("sockets", role), f"unknown socket role for a {kind}{_close(role, list(roles))}")
    for role in roles:
        if role not in spec.sockets:
            v.problem(path + ("sockets", role), f"required socket role of a {kind} is missing ({roles[role]})")
    if not is_loopback(spec.host):
        v.problem(path + ("host",), f"metrics would listen on {spec.host}, beyond loopback; clustergate binds 127.0.0.1 only")
    sockets = {role: _with_curve_defaults(sock, keypair=name) for role, sock in spec.sockets.items()}
    return ActorSpec(kind=kind, host=spec.host, metrics_port=spec.metrics_port, sockets=sockets,
                     settings=settings, log_level=spec.log_level, loop_stall_limit_s=spec.loop_stall_limit_s)


def _with_curve_defaults(sock: SocketSpec, *, keypair: str | None = None, server_key: str | None = None) -> SocketSpec:
    curve = sock.curve
    if curve is None:
        return sock
    return dataclasses.replace(sock, curve=dataclasses.replace(
        curve, keypair=curve.keypair or keypair,
        server_key=curve.server_key or (server_key if sock.connect is not None else None)))


def _close(word: str, candidates: list[str]) -> str:
    import difflib
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(candidates)})"


def validate_data(data: Any, lines: dict[Path, int] | None = None,
                  source_path: str | None = None) -> tuple[Topology | None, list[Problem]]:
    v = Validator(lines)
    if not isinstance(data, dict):
        v.problem((), "the topology must be a mapping with name, redis, actors ...")
        return None, v.problems
    data = dict(data)
    data.pop("$schema", None)
    raw_actors = data.pop("actors", None)
    from launcher import hosts as multihost
    raw_actors, actor_hosts = multihost.take_actor_hosts(data, raw_actors)
    topo: Topology = v.build_dataclass(Topology, data, ())
    actors: dict[str, ActorSpec] = {}
    if raw_actors is None:
        v.problem(("actors",), "required key is missing")
    elif not isinstance(raw_actors, dict):
        v.problem(("actors",), "expected a mapping of actor name -> actor")
    else:
        for name, raw in raw_actors.items():
            path: Path = ("actors", str(name))
            if not isinstance(raw, dict):
                v.problem(path, f"expected a mapping, got {raw!r}")
                continue
            if (str(name) in RESERVED_PROGRAM_NAMES or str(name).startswith(RESERVED_PROGRAM_PREFIX)
                    or not ACTOR_NAME_RE.fullmatch(str(name))
                    or len(str(name)) > MAX_NAME_CHARS):
                v.problem(path[:1], f"actor name {str(name)[:40]!r} is reserved or not 1 to {MAX_NAME_CHARS} "
                                    f"ASCII letters, digits, - and _ that start with a letter")
            actors[str(name)] = _check_actor(v, str(name), raw, path)
    topo = Topology(name=topo.name, symbols=topo.symbols, redis=topo.redis, positions=topo.positions,
                    clusters=topo.clusters, actors=actors, security=topo.security, base_dir=topo.base_dir,
                    hosts=topo.hosts)
    object.__setattr__(topo, "source_path", source_path)
    if actor_hosts is not None or topo.redis.host is not None or (topo.redis.sentinel is not None and topo.redis.managed):
        topo = multihost.place(v, topo, actor_hosts, data)
    _check_symbols(v, topo)
    _check_wiring(v, topo)
    _check_curve_keys(v, topo)
    _check_ports(v, topo)
    _check_required(v, topo)
    _check_kind_settings(v, topo)
    _check_issuers_agree(v, topo)
    _check_cluster_inputs(v, topo)
    if topo.hosts:
        multihost.check_across_hosts(v, topo)
    return topo, v.problems


# symbols x (lookback_returns + 2) prices: the buffer's grid, its history blob in Redis (8 bytes a
# price: 64 MB at the bound, an eighth of Redis's 512 MB string limit) and the window it publishes
# every cadence. Measured at the bound: history rebuild <= 0.7 s, correlation <= 0.35 s.
MAX_GRID_PRICES = 8_000_000


def _check_cluster_inputs(v: Validator, topo: Topology) -> None:
    n, lookback = len(topo.symbols), topo.clusters.lookback_returns
    correlators = topo.actors_of_kind("correlator")
    if n == 1 and correlators:  # SPEC: ready when at least 2 symbols are in the matrix
        v.problem(("symbols",), f"1 symbol, but the correlator ({correlators[0]}) needs at least 2 in its matrix to be "
                                f"ready: no cluster state would ever be written and the gate would take K from the "
                                f"proxy on every decision; list at least 2 symbols, or run no cluster side")
    lookback_refused = any(p.path == ("clusters", "lookback_returns") for p in v.problems)  # its bound said it
    slots = topo.clusters.grid_slots
    if n and not lookback_refused and n * slots > MAX_GRID_PRICES:
        v.problem(("clusters", "lookback_returns"),
                  f"{n} symbols x {slots} grid points = {n * slots:,} prices, over the bound of "
                  f"{MAX_GRID_PRICES:,} (a {MAX_GRID_PRICES * 8 // 1_000_000} MB history blob and window per "
                  f"cadence); with {n} symbols use lookback_returns at most {MAX_GRID_PRICES // n - (slots - lookback):,}")
    for symbol, limit in topo.clusters.max_tick_jump_by_symbol.items():
        if symbol not in topo.symbols and not _symbols_unreadable(v):
            v.problem(("clusters", "max_tick_jump_by_symbol", symbol), f"{symbol!r} is not in symbols")
        elif not (isinstance(limit, (int, float)) and 0 < limit <= 100):
            v.problem(("clusters", "max_tick_jump_by_symbol", symbol), f"must be a number in (0, 100], got {limit!r}")


def symbol_name_ok(s: str) -> bool:
    """Whether s can be a symbol: ASCII upper-case letters and digits (and _), as validate requires of `symbols`."""
    return bool(s) and s.isascii() and s.replace("_", "").isalnum() and s.upper() == s


def _check_symbols(v: Validator, topo: Topology) -> None:
    if not topo.symbols and not _symbols_unreadable(v):
        v.problem(("symbols",), "the allowlist is empty")
    seen: set[str] = set()
    refused = {p.path for p in v.problems if p.message.startswith("expected")}  # read as '': no name to judge
    for i, s in enumerate(topo.symbols):
        if ("symbols", i) in refused:
            continue
        foreign = [c for c in s if not c.isascii()]
        if foreign:  # a Cyrillic Т looks like T: "BTCUSDТ" would be a symbol no exchange feed ever prices
            v.problem(("symbols", i), f"symbol {s!r} holds {', '.join(f'{c!r} (U+{ord(c):04X})' for c in foreign[:3])}, "
                                      f"not ASCII: write it in ASCII upper-case letters and digits, e.g. BTCUSDT")
        elif not symbol_name_ok(s):
            v.problem(("symbols", i), f"symbol {s!r} must be upper-case letters and digits, e.g. BTCUSDT")
        if s in seen:
            v.problem(("symbols", i), f"duplicate symbol {s!r}")
        seen.add(s)
    if ("name",) not in refused and (
            not topo.name or not topo.name.isascii() or not topo.name.replace("-", "").replace("_", "").isalnum()
            or len(topo.name) > MAX_NAME_CHARS):
        v.problem(("name",), f"name {topo.name[:40]!r}{'...' if len(topo.name) > 40 else ''} must be 1 to "
                             f"{MAX_NAME_CHARS} ASCII letters, digits, - or _")


BEYOND_LOOPBACK_FIX = ("add curve to this socket and security.curve.keys_dir to the topology "
                       "(docs/faults-and-security.md: 'Expose a socket beyond loopback'), or use 127.0.0.1")


def _check_wiring(v: Validator, topo: Topology) -> None:
    bound: dict[str, tuple[str, str, str]] = {}  # endpoint -> (actor, role, type)
    for name, spec in topo.actors.items():
        roles = SOCKET_ROLES.get(spec.kind, {})
        for role, sock in spec.sockets.items():
            if sock.bind is None or role not in roles:
                continue
            key = _endpoint_key(sock.bind)
            if key in bound:
                other = bound[key]
                v.problem(("actors", name, "sockets", role, "bind"),
                          f"{sock.bind} is already bound by actors.{other[0]}.sockets.{other[1]}")
            else:
                bound[key] = (name, role, roles[role])
    connected: set[str] = set()
    for name, spec in topo.actors.items():
        roles = SOCKET_ROLES.get(spec.kind, {})
        for role, sock in spec.sockets.items():
            if sock.connect is None or role not in roles:
                continue
            path = ("actors", name, "sockets", role, "connect")
            key = _endpoint_key(sock.connect)
            if key not in bound:
                key = _wildcard_key(sock.connect)
            peer = bound.get(key)
            connected.add(key)
            if peer is None:
                v.problem(path, f"no actor binds {sock.connect}")
            elif peer[2] not in PEER_TYPE[roles[role]]:
                v.problem(path, f"{roles[role]} socket connects to {sock.connect}, bound by "
                                f"actors.{peer[0]}.sockets.{peer[1]} ({peer[2]}); it needs a "
                                f"{' or a '.join(PEER_TYPE[roles[role]])}")
            elif peer[1] != PEER_ROLE.get(role, role):
                v.problem(path, _wrong_role_problem(topo, bound, name, role, sock.connect, peer))
            if peer is not None:
                server = topo.actors[peer[0]].sockets[peer[1]]
                where = f"actors.{peer[0]}.sockets.{peer[1]}"
                if server.curve is not None and sock.curve is None:
                    v.problem(path, f"{sock.connect} is a CurveZMQ server ({where}); add curve: {{}} to this socket "
                                    f"so that it connects with its keypair; otherwise the server never lets it in")
                elif server.curve is None and sock.curve is not None:
                    v.problem(path[:-1] + ("curve",), f"{where} does not use CurveZMQ; set curve on both sides or on neither")
                elif sock.curve is not None and server.curve is not None:
                    spec.sockets[role] = _with_curve_defaults(sock, server_key=server.curve.keypair)
            if _leaves_loopback(sock.connect) and sock.curve is None:
                v.problem(path, f"{sock.connect} leaves loopback without CurveZMQ; {BEYOND_LOOPBACK_FIX}")
    # A REQ or SUB only ever hears from a peer: bound with nobody connecting, it waits forever (a typo'd
    # connect). Clients of the gate's ROUTER come from outside the topology, so servers are not checked.
    for endpoint, (name, role, kind) in bound.items():
        if kind in ("REQ", "SUB") and endpoint not in connected:
            v.problem(("actors", name, "sockets", role, "bind"),
                      f"no actor connects to {topo.actors[name].sockets[role].bind}; this {kind} socket needs a "
                      f"{' or a '.join(PEER_TYPE[kind])} to connect to it (or connect it to one)")
    for name, spec in topo.actors.items():
        for role, sock in spec.sockets.items():
            if sock.bind is not None and _leaves_loopback(sock.bind) and sock.curve is None:
                v.problem(("actors", name, "sockets", role, "bind"),
                          f"{sock.bind} exposes the socket beyond loopback without CurveZMQ; {BEYOND_LOOPBACK_FIX}")


def _wrong_role_problem(topo: Topology, bound: dict[str, tuple[str, str, str]], name: str, role: str,
                        endpoint: str, peer: tuple[str, str, str]) -> str:
    want_role = PEER_ROLE.get(role, role)
    wanted = [f"actors.{actor}.sockets.{r} ({topo.actors[actor].sockets[r].bind})"
              for actor, r, _ in bound.values() if r == want_role]
    needs = " or ".join(wanted) if wanted else f"a {want_role} socket"
    return (f"{endpoint} is actors.{peer[0]}.sockets.{peer[1]}, which carries {peer[1]} messages; "
            f"a {topo.actors[name].kind}'s {role} socket needs {needs}")


def _leaves_loopback(endpoint: str) -> bool:
    return endpoint.startswith("tcp://") and not is_loopback(endpoint[6:].rpartition(":")[0])


def _wildcard_key(endpoint: str) -> str:
    """A connect to HOST:PORT reaches a bind on every interface (0.0.0.0) at PORT."""
    return "tcp://0.0.0.0:" + endpoint.rpartition(":")[2] if endpoint.startswith("tcp://") else endpoint


def _check_curve_keys(v: Validator, topo: Topology) -> None:
    """Every certificate a CURVE socket names exists, parses, and keeps its secret to its owner;
    every connecting actor's key is one its server lets in."""
    from launcher import curve as keys
    curve_sockets = [(name, role, sock) for name, spec in topo.actors.items()
                     for role, sock in spec.sockets.items() if sock.curve is not None]
    gates = [g for g in topo.actors_of_kind("gate") if "proposals" in topo.actors[g].sockets]
    encrypted = [g for g in gates if topo.actors[g].sockets["proposals"].curve is not None]
    if encrypted and len(encrypted) != len(gates):
        # A client talks to every gate of a topology with one security setting (GateClient.from_topology,
        # `clustergate propose`): with a mix, the gates of the other kind never answer it, so failing over
        # to them is failing.
        plain = [g for g in gates if g not in encrypted]
        v.problem(("actors", plain[0], "sockets", "proposals", "curve"),
                  f"the proposals sockets of {', '.join(encrypted)} use CurveZMQ and those of {', '.join(plain)} "
                  f"do not: clients fail over between every gate with one setting, so give every gate curve or none")
    if not curve_sockets:
        return
    if topo.security.curve is None:
        for name, role, _ in curve_sockets:
            v.problem(("actors", name, "sockets", role, "curve"),
                      "needs security.curve.keys_dir: the directory of the CurveZMQ certificates")
        return
    keys_dir = keys.keys_dir_of(topo)
    assert keys_dir is not None
    if (why := keys.unreachable(keys_dir)) is not None:
        v.problem(("security", "curve", "keys_dir"), why)
        return
    if not keys_dir.is_dir():
        v.problem(("security", "curve", "keys_dir"), f"{keys_dir} is not a directory (make it with `clustergate keys generate {keys_dir} --name NAME`)")
        return
    writable = keys.others_can_write(keys_dir)
    if writable:
        v.problem(("security", "curve", "keys_dir"), writable)
    base = keys.topology_base(topo)

    def read(path: Path, ref: str, secret: bool) -> bytes | None:
        file = keys.certificate_path(ref, keys_dir=keys_dir, base=base, secret=secret)
        if secret and topo.hosts and keys.unreachable(file) is None and not file.exists():
            # Several hosts: each holds only its own actors' secret keys (`up --host` checks those);
            # elsewhere the public half is enough to check the wiring.
            public_file = keys.certificate_path(ref, keys_dir=keys_dir, base=base, secret=False)
            if public_file.exists():
                file, secret = public_file, False
        try:
            return keys.read_keypair(file).public if secret else keys.read_public_key(file)
        except keys.KeyFileError as exc:
            v.problem(path, str(exc))
            return None

    own_key: dict[tuple[str, str], bytes | None] = {}
    allowed: dict[str, set[bytes]] = {}  # bound endpoint -> client keys it lets in
    server_public: dict[str, bytes | None] = {}  # bound endpoint -> its own public key
    server_named: dict[tuple[str, str], bytes | None] = {}
    for name, role, sock in curve_sockets:
        path: Path = ("actors", name, "sockets", role, "curve")
        curve = sock.curve
        assert curve is not None and curve.keypair is not None
        own_key[(name, role)] = read(path + ("keypair",), curve.keypair, secret=True)
        if sock.bind is not None:
            allow = {k for i, ref in enumerate(curve.allow) if (k := read(path + ("allow", i), ref, secret=False))}
            if curve.allow_dir is not None:
                allow_dir = keys.key_directory(topo, curve.allow_dir)
                reachable = keys.unreachable(allow_dir) is None  # read_key_dir says why not
                if reachable and allow_dir.resolve() == keys_dir.resolve():
                    v.problem(path + ("allow_dir",), f"{allow_dir} is security.curve.keys_dir, which holds every "
                                                     f"server's key too: it would let every server in; give a "
                                                     f"directory of client keys only, or list them in allow")
                try:
                    allow |= keys.read_key_dir(allow_dir)
                except keys.KeyFileError as exc:
                    v.problem(path + ("allow_dir",), str(exc))
                writable = keys.others_can_write(allow_dir) if reachable and allow_dir.is_dir() else None
                if writable:
                    v.problem(path + ("allow_dir",), writable)
            if own_key[(name, role)] is not None and own_key[(name, role)] in allow:
                v.problem(path + ("allow",), f"lets in its own key ('{curve.keypair}'): a server never allows "
                                             f"its own keypair; list only client keys")
            allowed[_endpoint_key(sock.bind)] = allow
            server_public[_endpoint_key(sock.bind)] = own_key[(name, role)]
        elif curve.server_key is not None:
            server_named[(name, role)] = read(path + ("server_key",), curve.server_key, secret=False)
    users_of_key: dict[bytes, set[str]] = {}
    for (name, _), key in own_key.items():
        if key is not None:
            users_of_key.setdefault(key, set()).add(name)
    for (name, role), key in own_key.items():
        others = sorted(users_of_key.get(key, set()) - {name}) if key is not None else []
        if others:
            v.problem(("actors", name, "sockets", role, "curve", "keypair"),
                      f"'{topo.actors[name].sockets[role].curve.keypair}' is also the keypair of "  # type: ignore[union-attr]
                      f"{', '.join('actors.' + o for o in others)}: each actor needs its own keypair, or one "
                      f"stolen secret speaks for both")
    client_key = topo.security.curve.client_key
    if client_key is not None:
        proofs_key = read(("security", "curve", "client_key"), client_key, secret=True)
        gate_allows = [allowed.get(_endpoint_key(topo.actors[g].sockets["proposals"].bind or ""))
                       for g in topo.actors_of_kind("gate") if "proposals" in topo.actors[g].sockets]
        if proofs_key is not None and any(a is not None and proofs_key not in a for a in gate_allows):
            v.problem(("security", "curve", "client_key"), f"the gate's proposals socket does not allow '{client_key}'; "
                                                           f"add it to its curve.allow")
    for name, role, sock in curve_sockets:
        if sock.connect is None:
            continue
        assert sock.curve is not None
        expected = server_public.get(_endpoint_key(sock.connect)) or server_public.get(_wildcard_key(sock.connect))
        named = server_named.get((name, role))
        if expected and named and named != expected:
            v.problem(("actors", name, "sockets", role, "curve", "server_key"),
                      f"'{sock.curve.server_key}' is not the public key of the server at {sock.connect}")
        if own_key.get((name, role)) is None:
            continue
        server_allows = allowed.get(_endpoint_key(sock.connect)) or allowed.get(_wildcard_key(sock.connect))
        if server_allows and own_key[(name, role)] not in server_allows:
            v.problem(("actors", name, "sockets", role, "curve", "keypair"),
                      f"the server at {sock.connect} does not allow the key of '{sock.curve.keypair}'; "
                      f"add it to the server socket's curve.allow")


def _check_ports(v: Validator, topo: Topology) -> None:
    used: dict[int, str] = {}
    endpoints: set[str] = set()
    refused = {p.path for p in v.problems}  # a port refused for its type reads as 0: no port of the file's

    def claim(port: int | None, path: Path) -> None:
        if port is None or path in refused:
            return
        if port in used:
            v.problem(path, f"port {port} is already used by {used[port]}")
        else:
            used[port] = format_path(path)

    if topo.redis.managed and topo.redis.sentinel is not None:
        from launcher.sentinel import parse_place
        for key in ("servers", "sentinels"):  # (ports are claimed per number, whatever the host, as below)
            for i, text in enumerate(getattr(topo.redis.sentinel, key)):
                try:
                    port = parse_place(text).port
                except ValueError:
                    continue
                if used.get(port, "").startswith("redis.sentinel."):
                    continue  # the same port on two hosts; one host twice is reported by validation
                claim(port, ("redis", "sentinel", key, i))
    elif topo.redis.managed:
        claim(topo.redis.port, ("redis", "port"))
    for name, spec in topo.actors.items():
        claim(spec.metrics_port, ("actors", name, "metrics_port"))
        for role, sock in spec.sockets.items():
            if sock.bind and _endpoint_key(sock.bind) not in endpoints:  # same endpoint twice: _check_wiring says so
                endpoints.add(_endpoint_key(sock.bind))
                claim(endpoint_port(sock.bind), ("actors", name, "sockets", role, "bind"))


def _check_required(v: Validator, topo: Topology) -> None:
    if not topo.actors:
        v.problem(("actors",), "no actors: a topology needs at least one")
    kinds = {a.kind for a in topo.actors.values()}
    for name, spec in topo.actors.items():
        for needed in REQUIRED_KINDS.get(spec.kind, ()):
            if needed not in kinds:
                v.problem(("actors",), f"required actor missing: actors.{name} ({spec.kind}) needs a {needed}")


def _positive_definite(symbols: list[str], pairs: dict[str, float]) -> bool:
    """Pure-Python Cholesky test, so that loading a topology never imports numpy (gate RSS budget)."""
    index = {s: i for i, s in enumerate(symbols)}
    n = len(symbols)
    m = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for pair, rho in pairs.items():
        a, _, b = pair.partition("/")
        if a in index and b in index and a != b:
            m[index[a]][index[b]] = m[index[b]][index[a]] = float(rho)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            total = m[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if total <= 0.0:
                    return False
                low[i][i] = total ** 0.5
            else:
                low[i][j] = total / low[j][j]
    return True


def _may_be_the_cadence(v: Validator, path: Path) -> bool:
    """A problem at `path` may be clusters.cadence_s's: clusters itself, cadence_s, or, when the file gives
    no cadence_s, an unknown key under clusters that is no near miss of another setting."""
    if path[:1] != ("clusters",) or len(path) > 2:
        return False
    if len(path) == 1 or path[1] == "cadence_s":
        return True
    known = [f.name for f in dataclasses.fields(ClustersConfig)]
    return (("clusters", "cadence_s") not in v.lines and path[1] not in known
            and difflib.get_close_matches(str(path[1]), known, n=1, cutoff=0.6) in ([], ["cadence_s"]))


def _symbols_unreadable(v: Validator) -> bool:
    """Whether `symbols` itself was refused for its type (`symbols: BTCUSDT, ETHUSDT`, brackets forgotten): every
    symbol a setting names would then be called `not in symbols`, false lines under the one that says why."""
    return any(p.path == ("symbols",) and p.message.startswith("expected") for p in v.problems)


# A snapshot's ts_epoch is whole seconds (SPEC; the book writes int(time.time())): read, it is up to this much older
# than its write, so a book must rewrite it this much sooner than positions.stale_after_s.
SNAPSHOT_TS_RESOLUTION_S = 1.0


def _check_kind_settings(v: Validator, topo: Topology) -> None:
    allow = set(topo.symbols)
    symbols_read = not _symbols_unreadable(v)
    # A setting measured in cadences is checked only against a cadence the file gives: with cadence_s wrong
    # or perhaps misspelt, the default's 60 s would name a second, false problem. Another problem under
    # clusters (min_returns misspelt, say) leaves the cadence given, and the check in force.
    cadence_given = not any(_may_be_the_cadence(v, p.path) for p in v.problems)
    buffered = bool(topo.actors_of_kind("buffer"))  # a feed's interval against the cadence: only a buffer samples it
    for name, spec in topo.actors.items():
        s = spec.settings
        base = ("actors", name, "settings")
        limit_path = ("actors", name, "loop_stall_limit_s")
        if spec.loop_stall_limit_s is not None and spec.kind in SETTINGS_BY_KIND and \
                not any(p.path == limit_path for p in v.problems) and \
                spec.loop_stall_limit_s < topo.longest_turn_s(name):  # a value refused already: its placeholder not judged
            v.problem(limit_path,
                      f"{spec.loop_stall_limit_s:g} s is shorter than the longest turn this actor's settings allow "
                      f"({topo.longest_turn_s(name):g} s: its Redis calls at redis.timeout_ms, each as many times as its "
                      f"connect, handshake, sentinels and a gate's or permit issuer's second attempt wait, a gate's waits for its issuer at 1.5 x permit_timeout_ms): a "
                      f"legitimate slow turn would read as a stuck main loop; leave "
                      f"it out for the default ({topo.default_loop_stall_limit_s(name):g} s)")
        if (isinstance(s, BookSettings) and s.refresh_s + SNAPSHOT_TS_RESOLUTION_S >= topo.positions.stale_after_s
                and not any(p.path[:1] == ("positions",) for p in v.problems)):
            v.problem(base + ("refresh_s",), f"{s.refresh_s:g} s is not below positions.stale_after_s "
                      f"({topo.positions.stale_after_s:g} s) less {SNAPSHOT_TS_RESOLUTION_S:g} s (a snapshot's ts_epoch is "
                      f"in whole seconds: it reads up to 1 s older than its write): the book's snapshots would go stale "
                      f"between its writes (with no other fresh snapshot, every decision meanwhile HOLD "
                      f"fail_closed_portfolio_state)")
        if isinstance(s, PriceFeedSettings):
            syn = s.synthetic
            for key in ("start_prices", "volatility"):
                for sym, value in getattr(syn, key).items():
                    path = base + ("synthetic", key, sym)
                    refused = any(p.path == path for p in v.problems)  # the value's own refusal, 0.0 its placeholder
                    if symbols_read and sym not in allow:
                        v.problem(path, f"{sym} is not in symbols")
                    if not value > 0 and not refused:
                        v.problem(path, f"must be > 0, got {value!r}")
            for pair, rho in syn.correlation.items():
                parts = pair.split("/")
                if len(parts) != 2 or parts[0] == parts[1]:
                    v.problem(base + ("synthetic", "correlation", pair), "key must be SYM1/SYM2 with two different symbols")
                    continue
                for sym in parts:
                    if symbols_read and sym not in allow:
                        v.problem(base + ("synthetic", "correlation", pair), f"{sym} is not in symbols")
                if not -1 < rho < 1:
                    v.problem(base + ("synthetic", "correlation", pair), f"must be in (-1, 1), got {rho!r}")
            if cadence_given and s.source != "replay" and s.interval_s > topo.clusters.cadence_s and buffered:
                v.problem(base + ("interval_s",), f"{s.interval_s:g} s is longer than clusters.cadence_s "
                          f"({topo.clusters.cadence_s:g} s): the buffer's grid holds one price per cadence and a return "
                          f"needs two consecutive ones; slots this feed leaves empty cost returns (at 2 x cadence or "
                          f"more there is none: the correlator is never ready and the gate takes K from the proxy)")
            if syn.clock_aligned and syn.seed >= 2 ** 128:
                v.problem(base + ("synthetic", "seed"), f"must be below 2**128 with synthetic.clock_aligned: true "
                          f"(Philox's key), got {syn.seed!r}")
            if syn.clock_aligned and syn.drift != 0:
                v.problem(base + ("synthetic", "drift"), f"must be 0 with synthetic.clock_aligned: true, got {syn.drift!r} "
                          "(a clock-aligned price fades back to its start price and cannot trend)")
            if syn.correlation and not any(p.path[:len(base) + 2] == base + ("synthetic", "correlation") for p in v.problems):
                reason = None
                if not _positive_definite(list(topo.symbols), syn.correlation):
                    from launcher.feed_inputs import correlation_problem  # imports numpy: only to explain a bad matrix
                    reason = correlation_problem(list(topo.symbols), syn.correlation)
                if reason:
                    v.problem(base + ("synthetic", "correlation"), reason)
        if isinstance(s, BookSettings):
            for sym in s.positions:
                if symbols_read and sym not in allow:
                    v.problem(base + ("positions", sym), f"{sym} is not in symbols")
        if isinstance(s, PermitIssuerSettings):
            _check_wait(v, topo, s, base)
            _check_permitted_plan_ttl(v, s, base)
        if (isinstance(s, BufferSettings) and s.frozen_after_slots > topo.clusters.lookback_returns
                and not any(p.path[:2] == ("clusters", "lookback_returns") for p in v.problems)):
            lookback = topo.clusters.lookback_returns
            v.problem(base + ("frozen_after_slots",), f"must not exceed clusters.lookback_returns ({lookback}): the "
                      f"window holds {lookback + 1} slots, so a price unchanged over {s.frozen_after_slots} is never "
                      f"seen; 0 turns the check off")
        if (cadence_given and isinstance(s, StateWriterSettings) and s.lease_ms is not None
                and len(topo.actors_of_kind("state_writer")) > 1 and s.lease_ms < 500 * topo.clusters.cadence_s):
            v.problem(base + ("lease_ms",), f"with several state writers, at least 500 x cadence_s = "
                      f"{int(500 * topo.clusters.cadence_s)} ms (two of the holder's renewals, one every cadence/4), "
                      f"got {s.lease_ms}: 0 writes without the lease beside its holder, a shorter lease lapses "
                      f"between renewals and the standby takes it from a healthy holder")
        if (cadence_given and isinstance(s, GateSettings) and s.freshness_s is not None
                and s.freshness_s < topo.clusters.cadence_s
                and not any(p.path == base + ("freshness_s",) for p in v.problems)):  # 0.0, a refused value's placeholder
            v.problem(base + ("freshness_s",), f"shorter than one cadence ({topo.clusters.cadence_s} s): the state would always look stale")


# The permit issuers' settings that shape the keys and stream every issuer of the topology writes in its one Redis.
SHARED_ISSUER_SETTINGS = {
    "permit_ttl_s": "an issuer trims the gate stream's records older than its longest permit or cooldown TTL, so one "
                    "with a shorter TTL drops the records of the other's live permits and cooldowns",
    "cooldown_ttl_s": "an issuer trims the gate stream's records older than its longest permit or cooldown TTL, so one "
                      "with a shorter TTL drops the records of the other's live permits and cooldowns, and the gates "
                      "assume the first issuer's cooldown TTL",
    "decision_ttl_s": "a plan_id's decision would be kept for resubmission as long as the issuer that first decided it "
                      "says: a retry through the other gate after the shorter TTL is decided anew",
    "permitted_plan_ttl_s": "a plan_id with a permit would be refused plan_id_expired, once its decision expired, as "
                            "long as the issuer that first decided it says: a retry through the other gate after the "
                            "shorter TTL is decided anew, with a second permit",
    "hold_decision_ttl_s": "a plan_id's HOLD would be kept for resubmission as long as the issuer that first decided it "
                           "says: a retry through the other gate after the shorter TTL is decided anew",
}


def _check_issuers_agree(v: Validator, topo: Topology) -> None:
    """Every permit issuer writes the same decisions, permits, cooldowns and gate stream: they must agree on their TTLs."""
    issuers = topo.actors_of_kind("permit_issuer")
    refused = {p.path for p in v.problems}  # a value refused already: its placeholder is not compared
    for name in issuers[1:]:
        for setting, why in SHARED_ISSUER_SETTINGS.items():
            if any(("actors", n, "settings", setting) in refused for n in (issuers[0], name)):
                continue
            first, own = (getattr(topo.actors[n].settings, setting) for n in (issuers[0], name))
            if own != first:
                v.problem(("actors", name, "settings", setting),
                          f"{own} differs from actors.{issuers[0]}'s {first}: every permit issuer writes the same "
                          f"Redis keys and gate stream, and {why}; give every permit issuer the same {setting}")
        if any(("actors", n, "settings", "wait_replicas") in refused for n in (issuers[0], name)):
            continue
        first, own = (topo.actors[n].settings.replicas_to_wait(topo.redis) for n in (issuers[0], name))
        if own != first:
            v.problem(("actors", name, "settings", "wait_replicas"),
                      f"waits for {own} replica(s), actors.{issuers[0]}'s for {first}: a plan_id's decision is "
                      f"replayed by whichever issuer its retry reaches, so one that one issuer answers HOLD "
                      f"replica_unacknowledged (outcome unknown) another answers recorded: true with its permit, "
                      f"acknowledged by fewer replicas than asked; give every permit issuer the same wait_replicas")


def _check_permitted_plan_ttl(v: Validator, s: PermitIssuerSettings, base: Path) -> None:
    """The marker of a permitted plan_id must outlive its decision: shorter, a plan_id resubmitted between the two
    expiries would be decided again, with a second permit."""
    refused = {p.path for p in v.problems}  # a value refused already: its placeholder is not compared
    if base + ("permitted_plan_ttl_s",) in refused or base + ("decision_ttl_s",) in refused:
        return
    if s.permitted_plan_ttl_s < s.decision_ttl_s:
        v.problem(base + ("permitted_plan_ttl_s",), f"{s.permitted_plan_ttl_s} s, shorter than decision_ttl_s "
                  f"({s.decision_ttl_s} s): the marker that a plan_id got a permit would expire before its decision, so a "
                  f"plan_id resubmitted after its decision expired would be decided again, with a second permit; give "
                  f"at least decision_ttl_s")


def _check_wait(v: Validator, topo: Topology, s: PermitIssuerSettings, base: Path) -> None:
    """WAIT's settings against the Redis it waits on and the gates that wait for the issuer."""
    replicas = s.replicas_to_wait(topo.redis)
    if replicas == 0:
        return
    expected = topo.redis.replicas_expected()
    if topo.redis.managed and replicas > expected:
        v.problem(base + ("wait_replicas",), f"{replicas} replica(s) asked for, but the managed Redis runs {expected}: "
                                             f"every decision would be HOLD replica_unacknowledged")
    for name, spec in topo.actors.items():
        if (isinstance(spec.settings, GateSettings)
                and 2 * (s.wait_timeout_ms + WAIT_LATE_MS) > spec.settings.permit_timeout_ms):
            v.problem(base + ("wait_timeout_ms",), f"{s.wait_timeout_ms} ms, plus the {WAIT_LATE_MS} ms by which Redis "
                                                   f"may end a timed-out WAIT late, is over half of actors.{name}'s "
                                                   f"permit_timeout_ms ({spec.settings.permit_timeout_ms} ms): that "
                                                   f"gate would give up before WAIT returns")


# --------------------------------------------------------------------------- entry points


def keep_source(copy: Topology, topo: Topology) -> None:
    """A topology derived from topo (placed on its hosts, one host's view) keeps the file and text topo was read from."""
    object.__setattr__(copy, "source_path", topo.source_path)
    object.__setattr__(copy, "source_text", topo.source_text)


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Read and validate a topology file; raise SchemaError naming every problem."""
    topo, problems = _read_and_validate(path)
    if problems:
        raise SchemaError(problems)
    assert topo is not None
    return topo


def load_to_run(path: str | os.PathLike[str]) -> tuple[Topology, list[Problem]]:
    """The topology an actor runs from, or a client or proof reaches what runs through: load_topology, except that
    problems naming a setting nothing that runs reads (Problem.unread) are returned, not raised. A home's running
    copy written before such a rule came in stopped every actor at its next restart (the gate's `spawn error`, every
    proposal unanswered) and refused `propose` and `proof`, over a key none of them read; validate, up and deploy
    still refuse it."""
    topo, problems = _read_and_validate(path)
    if topo is None or any(not p.unread for p in problems):
        raise SchemaError(problems)
    return topo, problems


def load_running_copy(path: str | os.PathLike[str]) -> tuple[Topology, list[Problem]]:
    """A home's running copy (run/topology.yaml), which `up` validated when it wrote it, with what today's checks
    say of it beside it (a rule added since, a key file gone): what runs is what it says. SchemaError only when it
    cannot be read as a topology at all."""
    topo, problems = _read_and_validate(path)
    if topo is None:
        raise SchemaError(problems)
    return topo, problems


# A topology is a few KB (and at most MAX_YAML_VALUES values); a file past this is not read: /dev/zero given by mistake
# read until memory ran out, and PyYAML took minutes over a file of tens of MB.
MAX_TOPOLOGY_CHARS = 8_000_000


# A pipe (`validate <(COMMAND)`, `COMMAND | validate /dev/stdin`, a named pipe) is read as its writer writes it; one
# nothing is written to for this long is refused: a named pipe with no writer kept validate, up and render waiting for
# ever in open(), silent.
PIPE_WAIT_S = 10.0
# And one still written to, never closed, this long after it was opened: a writer that drips a line every few seconds
# (`tail -f`, a watch) kept them reading, silent, until MAX_TOPOLOGY_CHARS: for ever.
PIPE_TOTAL_S = 60.0


class _PipeReader(io.RawIOBase):
    """A pipe's bytes (its descriptor opened O_NONBLOCK), each read waiting at most PIPE_WAIT_S for the writer, and
    all of them read within PIPE_TOTAL_S: TimeoutError past either, with the bytes read so far (and "endless" past the
    second). A named pipe with no writer yet reads as nothing written, not as its end."""

    def __init__(self, fd: int):
        self.fd, self.got = fd, 0
        self.deadline = time.monotonic() + PIPE_TOTAL_S

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(self.got, "endless")
            if not select.select([self.fd], [], [], min(PIPE_WAIT_S, left))[0]:
                if time.monotonic() >= self.deadline:
                    raise TimeoutError(self.got, "endless")
                raise TimeoutError(self.got)
            try:
                data = os.read(self.fd, len(buffer))
            except BlockingIOError:
                continue
            buffer[:len(data)] = data
            self.got += len(data)
            return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def _open_topology(path: FsPath) -> io.TextIOBase:
    """The topology file open as text (as Path.open() opens it): a regular file, or a pipe read through _PipeReader,
    opened without waiting for a writer. Anything else is refused unread (a device never ends, or waits for ever)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            return open(fd)
        if stat.S_ISFIFO(mode):
            return io.TextIOWrapper(io.BufferedReader(_PipeReader(fd)))
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    kind = "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode) else "a socket"
    raise SchemaError([Problem((), f"cannot read topology: {kind}, not a file; not read")])


def _read_and_validate(path: str | os.PathLike[str]) -> tuple[Topology | None, list[Problem]]:
    p = FsPath(path)
    try:
        with _open_topology(p) as f:  # to the bound
            text = f.read(MAX_TOPOLOGY_CHARS + 1)
        if len(text) > MAX_TOPOLOGY_CHARS:
            raise SchemaError([Problem((), f"cannot read topology: larger than {MAX_TOPOLOGY_CHARS:,} characters "
                                           f"(a topology is a few KB); not read")])
    except TimeoutError as exc:  # an OSError: first
        got = exc.args[0] if exc.args else 0
        what = (f"a pipe still written to after {PIPE_TOTAL_S:g} s ({got:,} bytes), whose writer did not close it "
                f"(`tail -f`, a watch?)" if exc.args[1:] == ("endless",) else
                f"a pipe whose writer wrote {got:,} bytes, then nothing for {PIPE_WAIT_S:g} s, and did not close it"
                if got else f"a pipe nothing was written to within {PIPE_WAIT_S:g} s (a named pipe with no writer?)")
        raise SchemaError([Problem((), f"cannot read topology: {what}; give a file, or a pipe its writer fills at "
                                       f"once (`validate <(COMMAND)`)")]) from None
    except OSError as exc:
        raise SchemaError([Problem((), f"cannot read topology: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise SchemaError([Problem((), f"cannot read topology: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                                       f"at offset {exc.start})")]) from None
    try:
        data, lines, problems = load_yaml_with_lines(text)
    except RecursionError:
        raise SchemaError([Problem((), "YAML nested too deeply to read (a topology needs a few levels)")]) from None
    except MemoryError:  # its message is empty: "not valid YAML: " named nothing
        raise SchemaError([Problem((), f"YAML too large to read: out of memory reading {len(text):,} characters "
                                       f"(a topology is a few KB)")]) from None
    except Exception as exc:  # yaml.YAMLError and friends: report, never crash
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SchemaError([Problem((), f"not valid YAML: {getattr(exc, 'problem', None) or exc}", line)]) from None
    topo, more = validate_data(data, lines, source_path=str(p.resolve()))
    if topo is not None:
        object.__setattr__(topo, "source_path", str(p.resolve()))
        object.__setattr__(topo, "source_text", text)
    return topo, problems + more


def load_or_report(path: str) -> Topology | None:
    """The topology at path, or None after printing each of its problems on stderr, one line each."""
    try:
        return load_topology(path)
    except SchemaError as exc:
        for problem in exc.problems:
            print(problem.render(path), file=sys.stderr)
        return None


def topology_json_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    root = dataclass_schema(Topology, defs)
    root["properties"].pop("source_path", None)
    root["properties"].pop("source_text", None)
    root["properties"]["$schema"] = {"type": "string"}
    actor = dataclass_schema(ActorSpec, defs)
    actor.pop("required", None)
    actor["required"] = ["metrics_port", "sockets"]
    branches = []
    for kind, cls in SETTINGS_BY_KIND.items():
        branches.append({
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {
                "settings": json_schema_for(cls, defs),
                "sockets": {"type": "object", "properties": {r: {"$ref": "#/$defs/SocketSpec"} for r in SOCKET_ROLES[kind]},
                            "required": list(SOCKET_ROLES[kind]), "additionalProperties": False},
            }},
        })
    actor["properties"]["kind"] = {"enum": list(SETTINGS_BY_KIND), "description": "Actor kind; defaults to the actor's name."}
    actor["allOf"] = branches
    defs["ActorSpec"] = actor
    root["properties"]["actors"] = {"type": "object", "additionalProperties": {"$ref": "#/$defs/ActorSpec"},
                                    "description": "Actor name -> actor."}
    json_schema_for(SocketSpec, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "clustergate topology",
            **root, "$defs": defs}


def dump_schema() -> str:
    return json.dumps(topology_json_schema(), indent=2, sort_keys=False)


__all__ = ["Topology", "ActorSpec", "SocketSpec", "load_topology", "SchemaError", "SOCKET_ROLES",
           "SETTINGS_BY_KIND", "topology_json_schema", "MISSING"]
