"""Multi-host topologies: a `hosts:` map, a `host:` per actor, and what each host runs.

A topology without `hosts:` is one host, exactly as before: nothing here changes it. With `hosts:`,
an actor's `host:` names the host it runs on (its metrics bind that host's `metrics_bind`, by default
127.0.0.1), a managed Redis names its host in `redis.host` and binds that host's address, and the
checks below say, one line each with file:line, what cannot work across machines.

Pure functions of the topology: no sockets, no clock.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import ipaddress
import json
import re
from dataclasses import asdict
from typing import Any

from launcher.schema import Path, Validator
from launcher.topology import keep_source

HOST_NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
CURVE_ACROSS_HOSTS_FIX = "set curve on both sockets (docs/multihost-and-deploy.md: 'Laying it out on real machines')"


# --------------------------------------------------------------------------- placing actors


def take_actor_hosts(data: dict, raw_actors: Any) -> tuple[Any, dict[str, Any] | None]:
    """With `hosts:` in the data, take each actor's `host:` (a host name) out of its raw mapping, so
    that the actor's own schema keeps meaning a metrics address; None without `hosts:`."""
    if "hosts" not in data or not isinstance(raw_actors, dict):
        return raw_actors, None
    taken: dict[str, Any] = {}
    out: dict[Any, Any] = {}
    for name, raw in raw_actors.items():
        if isinstance(raw, dict):
            raw = dict(raw)
            taken[str(name)] = raw.pop("host", None)
        out[name] = raw
    return out, taken


def _ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text).strip("[]"))
    except ValueError:
        return None


def _close(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (hosts: {', '.join(candidates) or 'none'})"


def place(v: Validator, topo: Any, actor_hosts: dict[str, Any] | None, data: dict) -> Any:
    """Check the hosts map and every actor's host; return the topology with each actor's metrics
    address resolved, the managed Redis's address set, and `placement` (actor -> host) filled."""
    hosts = topo.hosts
    if not hosts:
        if "hosts" in data:
            v.problem(("hosts",), "is empty: list the hosts (name: {address: ...}), or remove hosts: for one host")
        if topo.redis.host is not None:
            v.problem(("redis", "host"), "names a host, but the topology has no hosts: map")
        if topo.redis.sentinel is not None and topo.redis.managed:
            from launcher.sentinel import is_loopback, parse_place
            ports: dict[int, str] = {}  # each also binds 127.0.0.1 (launcher.supervise._bind): one port each
            for key in ("servers", "sentinels"):
                for i, text in enumerate(getattr(topo.redis.sentinel, key)):
                    try:
                        place = parse_place(text)
                    except ValueError:
                        continue
                    if not is_loopback(place.where):
                        v.problem(("redis", "sentinel", key, i), f"{text}: a topology without hosts: runs them all "
                                                                 f"here, on 127.0.0.1 (to spread them, add hosts: and "
                                                                 f"name a host)")
                    elif place.port in ports:
                        v.problem(("redis", "sentinel", key, i), f"{text}: port {place.port} is also "
                                                                 f"{ports[place.port]}'s, and on one host both listen "
                                                                 f"on 127.0.0.1: each needs its own port")
                    ports.setdefault(place.port, f"sentinel.{key}[{i}]")
        return topo
    by_address: dict[Any, str] = {}
    for name, spec in hosts.items():
        path: Path = ("hosts", name)
        if not HOST_NAME_RE.fullmatch(name):
            v.problem(path, f"host name {name[:40]!r} must be 1 to 32 lower-case letters, digits, - and _, starting with a letter")
        address = _ip(spec.address)
        if address is None:
            v.problem(path + ("address",), f"{spec.address!r} is not an IP address (write the address, not a DNS name)")
        elif address.is_unspecified or address.is_multicast:
            v.problem(path + ("address",), f"{spec.address} is not one machine's address; give the host's own address")
        elif address in by_address:
            v.problem(path + ("address",), f"{spec.address} is also the address of hosts.{by_address[address]}: "
                                           f"each host needs its own address")
        else:
            by_address[address] = name
        if spec.metrics_bind is not None:
            bind = _ip(spec.metrics_bind)
            if bind is None:
                v.problem(path + ("metrics_bind",), f"{spec.metrics_bind!r} is not an IP address")
            elif not bind.is_loopback and bind != address:
                v.problem(path + ("metrics_bind",), f"binds {spec.metrics_bind}, which is neither this host's address "
                                                    f"({spec.address}) nor loopback")
    names = list(hosts)
    actors = dict(topo.actors)
    placement: dict[str, str] = {}
    for actor, spec in topo.actors.items():
        given = (actor_hosts or {}).get(actor)
        path = ("actors", actor, "host")
        if given is None:
            v.problem(("actors", actor), f"has no host: in a topology with hosts:, every actor names the host it "
                                         f"runs on (one of {', '.join(names)})")
            continue
        given = str(given)
        if given not in hosts:
            address = _ip(given)
            if address is not None and not address.is_loopback:
                owner = by_address.get(address)
                v.problem(path, f"metrics bound beyond loopback ({given}) without an explicit per-host metrics_bind: "
                                f"write host: {owner or 'NAME'} and set hosts.{owner or 'NAME'}.metrics_bind: {given}")
            else:
                v.problem(path, f"unknown host {given!r}{_close(given, names)}")
            continue
        placement[actor] = given
        actors[actor] = dataclasses.replace(spec, host=hosts[given].metrics_bind or "127.0.0.1")
    redis = topo.redis
    address = None
    if redis.sentinel is not None:
        _place_sentinel(v, redis, hosts, placement, data)
    elif redis.managed:
        if redis.host is None:
            v.problem(("redis",), f"managed: true in a topology with hosts: name the host that runs it "
                                  f"(redis.host: one of {', '.join(names)})")
        elif redis.host not in hosts:
            v.problem(("redis", "host"), f"unknown host {redis.host!r}{_close(redis.host, names)}")
        else:
            address = hosts[redis.host].address
            remote = sorted({h for h in placement.values() if h != redis.host})
            raw_redis = data.get("redis") if isinstance(data.get("redis"), dict) else {}
            if remote and "password_env" not in raw_redis:
                v.problem(("redis",), f"the managed Redis on host {redis.host} is reached from host(s) "
                                      f"{', '.join(remote)} without a password: set redis.password_env to the "
                                      f"environment variable that holds it (and set that variable on every host)")
    elif redis.host is not None:
        v.problem(("redis", "host"), "is for a managed Redis (managed: true); an external Redis is named by url")
    new_redis = dataclasses.replace(redis)
    object.__setattr__(new_redis, "resolved_address", address)
    object.__setattr__(new_redis, "resolved_hosts", {name: spec.address for name, spec in hosts.items()})
    placed = dataclasses.replace(topo, actors=actors, redis=new_redis)
    keep_source(placed, topo)
    object.__setattr__(placed, "placement", placement)
    return placed


# --------------------------------------------------------------------------- checks across hosts


def _tcp(endpoint: str) -> tuple[str, int] | None:
    if not endpoint.startswith("tcp://"):
        return None
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    return (host.strip("[]"), int(port)) if port.isdigit() else None


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def _drop(v: Validator, path: Path, *fragments: str) -> None:
    """Remove a single-host problem that a multi-host one below says better, so each problem is one line."""
    v.problems = [p for p in v.problems if not (p.path == path and any(f in p.message for f in fragments))]


# Why a gate and its permit issuer run on one host, whichever of them binds the link.
GATE_AND_ISSUER_ONE_CLOCK = ("a gate and its issuer share one host's clock (the gate's deadlines are on its clock, the "
                             "issuer moves them onto Redis's from its own, and deadline_skew_ms covers no second clock)")


def check_across_hosts(v: Validator, topo: Any) -> None:
    """Binds on the actor's own host; connects that reach a binder on the host they name; CurveZMQ on
    every socket whose peer is on another host."""
    hosts = topo.hosts
    host_of_address = {}
    for name, spec in hosts.items():
        ip = _ip(spec.address)
        if ip is not None:
            host_of_address.setdefault(ip, name)
    # (host, address, port) or (host, ipc path) -> (actor, role)
    bound: dict[tuple, tuple[str, str]] = {}
    # An actor with no (known) host was already reported; the connects that might reach it are not
    # reported again (one line per problem).
    unplaced = any(actor not in topo.placement for actor in topo.actors)
    for actor, spec in topo.actors.items():
        host = topo.placement.get(actor)
        if host is None:
            continue
        for role, sock in spec.sockets.items():
            if sock.bind is None:
                continue
            tcp = _tcp(sock.bind)
            if tcp is None:
                bound[(host, sock.bind)] = (actor, role)
                continue
            address, port = tcp
            own = hosts[host].address
            if _ip(address) is not None and _ip(address) == _ip(own):
                bound[(host, str(_ip(own)), port)] = (actor, role)
            elif _is_loopback(address) and _ip(address) not in host_of_address:
                bound[(host, "127.0.0.1", port)] = (actor, role)
            elif _ip(address) != _ip(own):
                v.problem(("actors", actor, "sockets", role, "bind"),
                          f"binds {address}, which is not the address of its host {host} ({own}): bind {own}, "
                          f"or 127.0.0.1 for peers on {host} only")
            else:
                bound[(host, str(_ip(own)), port)] = (actor, role)
    for actor, spec in topo.actors.items():
        host = topo.placement.get(actor)
        if host is None:
            continue
        for role, sock in spec.sockets.items():
            if sock.connect is None:
                continue
            path: Path = ("actors", actor, "sockets", role, "connect")
            tcp = _tcp(sock.connect)
            if tcp is None:
                peer = bound.get((host, sock.connect))
                if peer is None and any(k[1:] == (sock.connect,) for k in bound):
                    _drop(v, path, "no actor binds")
                    v.problem(path, f"no actor of host {host} binds {sock.connect}: an ipc socket reaches its own host only")
                continue
            address, port = tcp
            # Hosts may sit at loopback addresses of one machine (127.0.11.x): a host's address names
            # that host; any other loopback address is the actor's own host.
            if _is_loopback(address) and _ip(address) not in host_of_address:
                target = host
                peer = bound.get((host, "127.0.0.1", port))
                if peer is None and unplaced:
                    continue
                if peer is None:
                    _drop(v, path, "no actor binds")
                    v.problem(path, f"no actor of host {host} binds {address}:{port}: a loopback address reaches "
                                    f"only the actor's own host; connect to the address of the host that binds it")
                    continue
            else:
                ip = _ip(address)
                target = host_of_address.get(ip) if ip is not None else None
                if target is None:
                    _drop(v, path, "no actor binds", "leaves loopback")
                    listed = ", ".join(f"{n} {s.address}" for n, s in hosts.items())
                    v.problem(path, f"{address} is not the address of any host ({listed})")
                    continue
                peer = bound.get((target, str(ip), port))
                if peer is None and unplaced:
                    continue
                if peer is None:
                    _drop(v, path, "no actor binds")
                    v.problem(path, f"no actor of host {target} ({address}) binds port {port}")
                    continue
            if target != host:
                server = topo.actors[peer[0]].sockets[peer[1]]
                if sock.curve is None or server.curve is None:
                    _drop(v, path, "leaves loopback without CurveZMQ")
                    v.problem(path, f"crosses hosts ({host} -> {target}: actors.{peer[0]}.sockets.{peer[1]}) "
                                    f"without CurveZMQ: {CURVE_ACROSS_HOSTS_FIX}")
                elif (spec.kind, role) == ("gate", "permits"):
                    v.problem(path, f"reaches its permit issuer on another host ({host} -> {target}: "
                                    f"actors.{peer[0]}): {GATE_AND_ISSUER_ONE_CLOCK}: run actors.{peer[0]} on {host}")
                elif (topo.actors[peer[0]].kind, peer[1]) == ("gate", "permits"):  # the link run the other way
                    v.problem(path, f"reaches its gate on another host ({host} -> {target}: actors.{peer[0]}): "
                                    f"{GATE_AND_ISSUER_ONE_CLOCK}: run actors.{actor} on {target}")


# --------------------------------------------------------------------------- what one host runs


def _place_sentinel(v: Validator, redis: Any, hosts: dict, placement: dict[str, str], data: dict) -> None:
    """Managed Redis under Sentinel across hosts: each HOST of sentinel.servers and sentinel.sentinels
    is a host name of hosts:, and a password is required (every host reaches them)."""
    from launcher.sentinel import parse_place
    if not redis.managed:
        return  # external sentinels are named by address
    names = list(hosts)
    used: set[str] = set()
    for key in ("servers", "sentinels"):
        for i, text in enumerate(getattr(redis.sentinel, key)):
            try:
                where = parse_place(text).where
            except ValueError:
                continue
            if where not in hosts:
                v.problem(("redis", "sentinel", key, i), f"{text}: in a topology with hosts:, HOST is a host name "
                                                         f"(one of {', '.join(names)}), not {where!r}")
            used.add(where)
    _check_a_host_loss_can_be_failed_over(v, redis)
    raw_redis = data.get("redis") if isinstance(data.get("redis"), dict) else {}
    if (len(used) > 1 or set(placement.values()) - used) and "password_env" not in raw_redis:
        v.problem(("redis",), "the managed Redis servers and sentinels are reached from other hosts without a "
                              "password: set redis.password_env to the environment variable that holds it (and set "
                              "that variable on every host)")


def _check_a_host_loss_can_be_failed_over(v: Validator, redis: Any) -> None:
    """Any data server may become the primary, so the loss of any host that runs one must leave enough sentinels to
    fail over: the quorum to agree it is down and a majority of all of them to elect the one that promotes a replica.
    A host running 2 of 3 sentinels beside a server, lost with the primary on it, left the third alone: no failover."""
    from launcher.sentinel import parse_place
    try:
        servers = [parse_place(text).where for text in redis.sentinel.servers]
        places = [parse_place(text) for text in redis.sentinel.sentinels]
    except ValueError:
        return  # reported by SentinelConfig
    sentinels = [place.where for place in places]
    if len(set(places)) < len(places) or (redis.sentinel.quorum or 0) > len(places):
        return  # a sentinel listed twice, a quorum above the sentinels: reported by SentinelConfig, not counted here
    majority = len(sentinels) // 2 + 1
    need = max(redis.sentinel.quorum or 0, majority)
    # A host running every data server leaves none to promote when lost, however the sentinels are placed.
    for host in (h for h in dict.fromkeys(servers) if set(servers) - {h}):
        on_it = sentinels.count(host)
        left = len(sentinels) - on_it
        if left < need:
            quorum = f" (quorum {redis.sentinel.quorum})" if need > majority else ""
            v.problem(("redis", "sentinel", "sentinels"),
                      f"host {host} runs a data server and {on_it} of the {len(sentinels)} sentinels: lost with the "
                      f"primary on it, it leaves {left} sentinel{'s' if left != 1 else ''}, fewer than the {need} a "
                      f"failover needs{quorum}, so its loss would hold every exit until it is back: put the sentinels "
                      f"on three hosts or more, at most {len(sentinels) - need} on a host that runs a data server"
                      + (f", or set quorum to {majority} (a majority)" if need > majority <= left else ""))
            return


def sentinel_places_on(topo: Any, host: str | None) -> tuple[list[int], list[int]]:
    """Managed Sentinel: the indexes of sentinel.servers and sentinel.sentinels that `host` runs (None:
    all of them, a one-host topology)."""
    from launcher.sentinel import parse_place
    sentinel = topo.redis.sentinel
    if sentinel is None or not topo.redis.managed:
        return [], []
    def mine(items: list[str]) -> list[int]:
        return [i for i, text in enumerate(items) if host is None or parse_place(text).where == host]
    return mine(sentinel.servers), mine(sentinel.sentinels)


def actors_on(topo: Any, host: str) -> list[str]:
    return [a for a, h in topo.placement.items() if h == host]


def runs_redis(topo: Any, host: str) -> bool:
    if topo.redis.sentinel is not None:
        return any(sentinel_places_on(topo, host))
    return bool(topo.redis.managed and topo.redis.host == host)


def host_view(topo: Any, host: str) -> Any:
    """The part of a multi-host topology that one host's supervisord runs: its actors, and the managed
    Redis only on the Redis's host (elsewhere the actors reach it at its host's address)."""
    actors = {a: topo.actors[a] for a in actors_on(topo, host)}
    redis = topo.redis
    if redis.sentinel is not None:
        redis = redis.replaced()
        object.__setattr__(redis, "only_host", host)  # the launcher runs the servers and sentinels of this host
    elif redis.managed and not runs_redis(topo, host):
        redis = redis.replaced(managed=False)
    view = dataclasses.replace(topo, actors=actors, redis=redis)
    keep_source(view, topo)
    object.__setattr__(view, "placement", {a: host for a in actors})
    object.__setattr__(view, "whole", topo.whole or topo)
    return view


def host_hash(topo: Any, host: str) -> str:
    """Changes exactly when something a program of this host reads changes (what `up` restarts for)."""
    from launcher.supervise import actor_config_hash
    view = host_view(topo, host)
    parts = {a: actor_config_hash(view, a) for a in view.actors}
    if view.redis.managed:
        parts["redis"] = asdict(view.redis)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def missing_secrets(topo: Any, host: str) -> list[str]:
    """One line per CurveZMQ keypair an actor of this host needs and cannot read here (a multi-host
    topology validates with public keys alone; the host that runs an actor needs its secret)."""
    from launcher import curve as keys
    out = []
    keys_dir, base = keys.keys_dir_of(topo), keys.topology_base(topo)
    for actor in actors_on(topo, host):
        for role, sock in topo.actors[actor].sockets.items():
            if sock.curve is None or sock.curve.keypair is None:
                continue
            try:
                keys.read_keypair(keys.certificate_path(sock.curve.keypair, keys_dir=keys_dir, base=base, secret=True))
            except keys.KeyFileError as exc:
                out.append(f"actors.{actor}.sockets.{role}.curve.keypair: {exc} (host {host} runs {actor}: "
                           f"copy its secret key here)")
    return out


def remote_redis_password_problem(topo: Any, host: str) -> str | None:
    """On a host that reaches the managed Redis of another host: why its password cannot be used, or None."""
    redis = topo.redis
    if not redis.managed or redis.host in (None, host) or not actors_on(topo, host):
        return None
    if redis.password is None:
        return (f"redis: ${redis.password_env} is not set, but the actors of host {host} reach the managed Redis "
                f"on host {redis.host}, which requires it: set it as on {redis.host}")
    return None


def host_problem(topo: Any, host: str | None) -> str | None:
    """Why `--host` does not fit this topology, or None."""
    if topo.hosts and host is None:
        return f"topology {topo.name} spans hosts {', '.join(topo.hosts)}: give --host NAME"
    if not topo.hosts and host is not None:
        return f"--host {host}: topology {topo.name} has no hosts: map (it runs on one host)"
    if host is not None and host not in topo.hosts:
        return f"--host {host}: unknown host{_close(host, list(topo.hosts))}"
    return None
