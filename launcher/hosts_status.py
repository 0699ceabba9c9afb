"""`clustergate status FILE --all-hosts`: the whole multi-host system in one table.

Every host's actors are asked through their metrics endpoints (in parallel, each with a short
deadline), the managed Redis with a PING; a host none of whose endpoints answered is shown as
unreachable rather than hanging the command. Under Sentinel a last line says whether the sentinels
can still fail over (SENTINEL CKQUORUM), as the one-host status does; the exit code is 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from launcher.hosts import actors_on, runs_redis
from launcher.topology import Topology, load_or_report

SCRAPE_TIMEOUT_S = 1.0


def _ask_actor(topo: Topology, name: str) -> dict[str, Any]:
    from launcher.supervise import metric, scrape
    spec = topo.actors[name]
    url = f"http://{spec.host}:{spec.metrics_port}/metrics"
    try:
        sample = scrape(spec.host, spec.metrics_port, timeout_s=SCRAPE_TIMEOUT_S)
    except OSError as exc:
        return {"name": name, "kind": spec.kind, "reached": False, "ready": None, "metrics_url": url,
                "error": f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"}
    return {"name": name, "kind": spec.kind, "reached": True, "metrics_url": url,
            "ready": metric(sample, "clustergate_actor_ready") == 1.0}


def _ask_redis(topo: Topology, name: str = "redis", address: str | None = None, port: int | None = None,
               kind: str = "redis") -> dict[str, Any]:
    """PING one managed Redis program (the lone server, or under Sentinel a server or a sentinel)."""
    import redis
    address, port = address or topo.redis.bind_address, port or topo.redis.port
    url = f"redis://{address}:{port}"
    try:
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        # One attempt: redis-py 6+ retries a timeout with backoff (15 s for a stalled Redis at a 1 s timeout).
        ok = bool(redis.Redis(host=address, port=port, password=topo.redis.password,
                              socket_timeout=SCRAPE_TIMEOUT_S, socket_connect_timeout=SCRAPE_TIMEOUT_S,
                              retry=Retry(NoBackoff(), 0), health_check_interval=0).ping())
        return {"name": name, "kind": kind, "reached": True, "ready": ok, "metrics_url": url}
    except redis.AuthenticationError as exc:
        return {"name": name, "kind": kind, "reached": True, "ready": False, "metrics_url": url,
                "error": f"authentication: {exc} (set ${topo.redis.password_env})"}
    except redis.RedisError as exc:
        return {"name": name, "kind": kind, "reached": False, "ready": None, "metrics_url": url,
                "error": f"{type(exc).__name__}: {exc}"}


def collect_all_hosts(topo: Topology) -> dict[str, Any]:
    """{host: {address, reachable, programs: [...]}} for every host of the topology."""
    jobs: list[tuple[str, Any]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for host in topo.hosts:
            if topo.redis.sentinel is not None:
                from launcher.hosts import host_view
                from launcher.supervise import redis_programs
                for prog in redis_programs(host_view(topo, host)):
                    jobs.append((host, pool.submit(_ask_redis, topo, prog.name, prog.address, prog.port,
                                                   f"redis-{prog.kind}")))
            elif runs_redis(topo, host):
                jobs.append((host, pool.submit(_ask_redis, topo)))
            for name in actors_on(topo, host):
                jobs.append((host, pool.submit(_ask_actor, topo, name)))
        rows = [(host, job.result()) for host, job in jobs]
    out: dict[str, Any] = {}
    for host, spec in topo.hosts.items():
        mine = [row for h, row in rows if h == host]
        out[host] = {"address": spec.address, "reachable": any(r["reached"] for r in mine) if mine else None,
                     "programs": mine}
    return out


def cmd_status_all_hosts(args: argparse.Namespace) -> int:
    if not args.file or not args.all_hosts:
        print("clustergate status: give both a multi-host topology FILE and --all-hosts "
              "(or neither, for this home's supervisord)", file=sys.stderr)
        return 2
    topo = load_or_report(args.file)
    if topo is None:
        return 2
    if not topo.hosts:
        print(f"{args.file}: topology {topo.name} has no hosts: map; `clustergate status` shows a one-host system",
              file=sys.stderr)
        return 2
    hosts = collect_all_hosts(topo)
    sentinel = None
    if topo.redis.sentinel is not None:
        from launcher.supervise import sentinel_status
        sentinel = sentinel_status(topo)
    if args.json:
        print(json.dumps({"topology": topo.name, "hosts": hosts, **({"sentinel": sentinel} if sentinel else {})},
                         indent=2))
    else:
        print(f"topology: {topo.name}   hosts: {len(hosts)}")
        width = max([16] + [len(row["name"]) + 1 for info in hosts.values() for row in info["programs"]])
        print(f"{'HOST':<12}{'ADDRESS':<18}{'REACHED':<9}{'PROGRAM':<{width}}{'READY':<7}{'ENDPOINT'}")
        for host, info in hosts.items():
            reached = {True: "yes", False: "NO", None: "-"}[info["reachable"]]
            if not info["programs"]:
                print(f"{host:<12}{info['address']:<18}{reached:<9}(runs nothing)")
            for row in info["programs"]:
                ready = {True: "yes", False: "no", None: "?"}[row["ready"]]
                print(f"{host:<12}{info['address']:<18}{reached:<9}{row['name']:<{width}}{ready:<7}{row['metrics_url']}"
                      + (f"  ({row['error']})" if row.get("error") else ""))
        if sentinel is not None:
            from launcher.supervise import render_sentinel_status
            print(render_sentinel_status(sentinel))
        unreachable = [h for h, i in hosts.items() if i["reachable"] is False]
        if unreachable:
            print(f"not reached: {', '.join(unreachable)} (down, partitioned, or its metrics bind loopback only: "
                  f"set hosts.NAME.metrics_bind to its address)")
    all_ok = (all(row["ready"] for info in hosts.values() for row in info["programs"])
              and (sentinel is None or sentinel["failover_possible"] is True))
    return 0 if all_ok else 1
