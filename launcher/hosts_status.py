"""`clustergate status FILE --all-hosts`: the whole multi-host system in one table.

Every host's actors are asked through their metrics endpoints (in parallel, each with a short
deadline), the managed Redis with a PING; a host none of whose endpoints answered is shown as
unreachable rather than hanging the command. Under Sentinel a last line says whether the sentinels
can still fail over (SENTINEL CKQUORUM), as the one-host status does; the exit code is 1 when not.

Each host's unexpected exits (a crash loop shows RUNNING and ready between crashes) are in its own
supervisord's log, which no metrics endpoint shows: they are read from the host's home on this machine
(side-by-side hosts, namespaces), or with --via on the host itself (`status --home HOME --exits --json`
run through the prefix, as `deploy` runs its commands). A host whose log neither way reaches is said so.
The same read says which of the host's programs run another config than its last `up` wrote (NOT APPLIED, exit 1),
and which of them that last `up` gave another config than FILE gives them, or FILE does not give the host at all
(NOT FILE'S, exit 1: a host back with an older topology), or, where the host's clustergate hashes configurations
otherwise than this one (CONFIG_HASH_VERSION), that it does not know which (exit 1: upgrade the older).
A gate with no permit issuer connected past the grace (launcher/overview.py ISSUER_GRACE_S) is said under its row
(exit 1): the gate's own readiness stays 1 while every proposal gets a fault HOLD.
What a host says (its `status --exits --json`) is another machine's word: a record of what its interrupted `up` left
stopped of another shape is said unreadable for that host (readable_left_stopped), never the whole table's traceback;
so are its unexpected exits (unreadable_exits), and every string it says is shown printable (printable_said).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from launcher.hosts import actors_on, runs_redis
from launcher.terminal_text import printable
from launcher.topology import Topology, load_or_report

SCRAPE_TIMEOUT_S = 1.0
PROGRAM_NAME_MAX_CHARS = 100  # of a program's name as a host's record gives it
EXITS_TIMEOUT_S = 20.0  # of a host's `status --exits` through --via (an ssh connection, a Python start)


def _ask_actor(topo: Topology, name: str) -> dict[str, Any]:
    from launcher.supervise import metrics_url, scrape
    spec = topo.actors[name]
    url = metrics_url(spec.host, spec.metrics_port)
    try:
        sample = scrape(spec.host, spec.metrics_port, timeout_s=SCRAPE_TIMEOUT_S)
    except OSError as exc:
        return {"name": name, "kind": spec.kind, "reached": False, "ready": None, "metrics_url": url,
                "error": f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"}
    from launcher.overview import own_readiness
    ready = own_readiness(sample, name)
    if ready is None:  # another program on its port (the host back after a failover): not the actor, not ready
        return {"name": name, "kind": spec.kind, "reached": True, "ready": False, "metrics_url": url,
                "error": f"answers, but not {name}'s metrics (no clustergate_actor_ready of {name}: another program "
                         f"on its port?)"}
    from launcher.overview import gate_permit_issuers, gate_positions, loop_liveness, redis_may_evict
    row = {"name": name, "kind": spec.kind, "reached": True, "metrics_url": url, "ready": ready == 1.0,
           **loop_liveness(sample, name), **redis_may_evict(sample)}
    link = gate_permit_issuers(topo, name, sample)
    if link is not None:
        row["permit_issuers"] = link
    positions = gate_positions(topo, name, sample)
    if positions is not None:
        row["positions"] = positions
    return row


def _ask_redis(topo: Topology, name: str = "redis", address: str | None = None, port: int | None = None,
               kind: str = "redis") -> dict[str, Any]:
    """PING one managed Redis program (the lone server, or under Sentinel a server or a sentinel), one attempt."""
    from launcher.resp import RedisUnavailable, ReplyError, ask_once, password_refused  # not redis-py: 0.1 s of CPU
    address, port = address or topo.redis.bind_address, port or topo.redis.port
    url = f"redis://{address}:{port}"
    try:
        ok = ask_once(address, port, topo.redis.password, SCRAPE_TIMEOUT_S, "PING") == "PONG"
        return {"name": name, "kind": kind, "reached": True, "ready": ok, "metrics_url": url}
    except (RedisUnavailable, ReplyError) as exc:
        if password_refused(exc):
            return {"name": name, "kind": kind, "reached": True, "ready": False, "metrics_url": url,
                    "error": f"authentication: {exc} (set ${topo.redis.password_env})"}
        return {"name": name, "kind": kind, "reached": False, "ready": None, "metrics_url": url,
                "error": f"{type(exc).__name__}: {exc}"}


def ask_exits(args: argparse.Namespace, topo: Topology, host: str) -> dict[str, Any]:
    """The host's `status --exits --json` (launcher.supervise.home_exits) read from its home here, or on the host
    through args.via; {"error": why} when neither reaches a supervisord log of the host's."""
    from launcher.deploy import clustergate, host_home, run_on
    from launcher.supervise import Home, home_exits
    home = host_home(args, host)
    if not args.via:
        said = home_exits(Home(home))
        where = "on this machine"
    else:
        ran = run_on(args, topo, host, clustergate("status", "--home", str(home), "--exits", "--json"),
                     timeout_s=EXITS_TIMEOUT_S)
        where = f"through `{args.via}`"
        try:
            said = json.loads(ran.stdout) if ran.returncode in (0, 1) else None  # 1: the log unreadable, said why
        except ValueError:
            said = None
        if not isinstance(said, dict) or not isinstance(said.get("unexpected_exits"), dict):
            last = (ran.stderr.strip().splitlines() or ran.stdout.strip().splitlines() or ["no output"])[-1]
            return {"error": f"`status --exits` {where} exited {ran.returncode}: {printable(last, 300)}"}
        said = printable_said(said)
        unread = unreadable_exits(said["unexpected_exits"])
        if unread:
            return {"error": f"`status --exits` {where} gave {unread}"}
    if said.get("error"):
        return {"error": f"{str(said['error'])[:300]} {where}"}
    if not said.get("log_found"):
        return {"error": f"no supervisord log at {said.get('log')} {where}"}
    return said


def printable_said(said: Any) -> Any:
    """A host's `status --exits --json` with every string in it (keys too) as printable() shows it: what a host says
    reaches this terminal (its log's path, its error, a program's name, supervisord's words of an exit)."""
    if isinstance(said, str):
        return printable(said, len(said))
    if isinstance(said, list):
        return [printable_said(item) for item in said]
    if isinstance(said, dict):
        return {printable_said(key): printable_said(value) for key, value in said.items()}
    return said


def unreadable_exits(exits: dict[str, Any]) -> str | None:
    """Why a host's unexpected_exits is not {program: {count, last_at, last_how, log, window_s}} as
    launcher.exits.as_json writes it (a hostile host, another release), else None."""
    def number(value: Any, top: float) -> bool:
        return type(value) in (int, float) and math.isfinite(value) and 0 <= value <= top
    for name, u in exits.items():
        if not (isinstance(u, dict) and type(u.get("count")) is int and number(u.get("last_at"), 1e11)
                and isinstance(u.get("last_how"), str) and isinstance(u.get("log"), (str, type(None)))
                and number(u.get("window_s"), 1e9) and u["window_s"] > 0):
            return (f"an unexpected exit of {printable(name, PROGRAM_NAME_MAX_CHARS)} of another shape (not {{count, "
                    f"last_at, last_how, log, window_s}})")
    return None


def readable_left_stopped(left: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A host's left_stopped_by_up as its `status --exits --json` gave it (launcher.supervise.left_stopped_by_up), and
    None; or None and why it is not one (a hostile host's, another release's shape): {pid: an integer, programs: a list
    of names, command: up or down, failed: a bool, owners: a list of the same}, each name printable and short."""
    if left is None:
        return None, None

    def part(entry: Any, where: str) -> dict[str, Any]:
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not a mapping")
        pid, programs = entry.get("pid"), entry.get("programs")
        if type(pid) is not int:
            raise ValueError(f"{where}'s pid is not an integer")
        if not isinstance(programs, list) or not all(isinstance(name, str) for name in programs):
            raise ValueError(f"{where}'s programs is not a list of names")
        if entry.get("command", "up") not in ("up", "down") or type(entry.get("failed", False)) is not bool:
            raise ValueError(f"{where}'s command is not up or down, or its failed not true or false")
        return {"pid": pid, "programs": [printable(name, PROGRAM_NAME_MAX_CHARS) for name in programs],
                "command": entry.get("command", "up"), "failed": entry.get("failed", False)}
    try:
        said = part(left, "left_stopped_by_up")
        owners = left.get("owners")
        if owners is not None and not isinstance(owners, list):
            raise ValueError("left_stopped_by_up's owners is not a list")
        if owners:
            said["owners"] = [part(owner, f"its owner {i + 1}") for i, owner in enumerate(owners)]
    except ValueError as exc:
        return None, str(exc)
    return said, None


def collect_all_hosts(topo: Topology, exits_of: Callable[[str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """{host: {address, reachable, programs: [...]}} for every host of the topology. With exits_of (ask_exits),
    each host that runs something also has `exits` (what exits_of said), and each of its programs that exited
    unexpectedly its `unexpected_exits`, as in the one-host status."""
    jobs: list[tuple[str, Any]] = []
    exits: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for host in topo.hosts:
            if exits_of is not None and (actors_on(topo, host) or runs_redis(topo, host)
                                         or topo.redis.sentinel is not None):
                exits[host] = pool.submit(exits_of, host)
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
        exits = {host: job.result() for host, job in exits.items()}
    out: dict[str, Any] = {}
    from launcher.hosts import host_view
    from launcher.supervise import CONFIG_HASH_VERSION, file_config_hashes
    for host, spec in topo.hosts.items():
        mine = [row for h, row in rows if h == host]
        out[host] = {"address": spec.address, "reachable": any(r["reached"] for r in mine) if mine else None,
                     "programs": mine}
        if host in exits:
            out[host]["exits"] = exits[host]
            if "left_stopped_by_up" in exits[host]:  # absent: an older clustergate on the host
                left, unread = readable_left_stopped(exits[host]["left_stopped_by_up"])
                exits[host]["left_stopped_by_up"] = left
                if unread:
                    exits[host]["left_stopped_by_up_error"] = unread
            supervised = exits[host].get("supervised")
            applied = exits[host].get("config_applied")  # absent: an older clustergate on the host
            written = exits[host].get("config_hashes")  # likewise
            hashed_as = exits[host].get("config_hash_version", 1)  # likewise: 1, how it hashed
            as_file = (file_config_hashes(host_view(topo, host), exits[host].get("running_base_dir"))
                       if isinstance(written, dict) else None)
            if isinstance(written, dict):
                out[host]["config_hash_version"] = hashed_as
            if as_file is not None and isinstance(supervised, list):  # compared: what it runs that FILE does not give it
                out[host]["not_in_file"] = sorted(n for n in written if n not in as_file and n in supervised)
            as_file = as_file or {}
            for row in mine:
                if row["name"] in exits[host].get("unexpected_exits", {}):
                    row["unexpected_exits"] = exits[host]["unexpected_exits"][row["name"]]
                if isinstance(applied, dict) and row["name"] in applied:
                    row["config_applied"] = applied[row["name"]]
                if row["name"] in as_file and row["name"] in written:
                    row["config_as_file"] = written[row["name"]] == as_file[row["name"]]
                    if not row["config_as_file"] and hashed_as != CONFIG_HASH_VERSION:  # hashed otherwise: not known
                        row["config_as_file"], row["hashing_differs"] = None, True
                if isinstance(supervised, list) and row["name"] not in supervised:
                    row["state"], row["ready"] = "MISSING", False
                    row["error"] = (f"MISSING: {host}'s supervisord does not run it; "
                                    f"`clustergate up FILE --host {host}` adds it back")
    return out


def cmd_status_all_hosts(args: argparse.Namespace) -> int:
    if not args.file or not args.all_hosts:
        print("clustergate status: give both a multi-host topology FILE and --all-hosts "
              "(or neither, for this home's supervisord)", file=sys.stderr)
        return 2
    for option in ("home", "host"):  # one home's: taken without a word, the hosts' homes stayed the default ones
        if getattr(args, option, None):
            print(f"clustergate status: --{option} names one home; with FILE --all-hosts each host's home is "
                  f"--home-root DIR/NAME (default: hosts/NAME under $CLUSTERGATE_HOME, else the repo root)",
                  file=sys.stderr)
            return 2
    topo = load_or_report(args.file)
    if topo is None:
        return 2
    if not topo.hosts:
        print(f"{args.file}: topology {topo.name} has no hosts: map; `clustergate status` shows a one-host system",
              file=sys.stderr)
        return 2
    from launcher.overview import permit_issuers_lines, positions_lines
    listing = f"clustergate positions list --topology {shlex.quote(str(args.file))}"  # from here, as this status runs
    hosts = collect_all_hosts(topo, lambda host: ask_exits(args, topo, host))
    sentinel = None
    if topo.redis.sentinel is not None:
        from launcher.supervise import sentinel_status
        sentinel = sentinel_status(topo)
    from launcher.supervise import sentinel_degraded
    # A replica down beside a promotable one: 3, as `status` (no gate's K here); --json's text names no line above.
    degraded = sentinel_degraded(sentinel, standalone=args.json)
    if args.json:
        print(json.dumps({"topology": topo.name, "hosts": hosts, **({"sentinel": sentinel} if sentinel else {}),
                          "degraded": degraded}, indent=2))
    else:
        print(f"topology: {topo.name}   hosts: {len(hosts)}")
        width = max([16] + [len(row["name"]) + 1 for info in hosts.values() for row in info["programs"]])
        print(f"{'HOST':<12}{'ADDRESS':<18}{'REACHED':<9}{'PROGRAM':<{width}}{'READY':<8}{'ENDPOINT'}")
        for host, info in hosts.items():
            reached = {True: "yes", False: "NO", None: "-"}[info["reachable"]]
            if not info["programs"]:
                print(f"{host:<12}{info['address']:<18}{reached:<9}(runs nothing)")
            for row in info["programs"]:
                ready = "MISSING" if row.get("state") == "MISSING" else {True: "yes", False: "no", None: "?"}[row["ready"]]
                print(f"{host:<12}{info['address']:<18}{reached:<9}{row['name']:<{width}}{ready:<8}{row['metrics_url']}"
                      + (f"  ({why})" if (why := row.get("error") or row.get("not_ready_why")
                                               or row.get("redis_may_evict") or row.get("redis_eviction_unchecked"))
                         else ""))
                for line in permit_issuers_lines([row]) + positions_lines([row], listing):
                    print(f"{'':<39}{line}")
        from launcher.exits import Exits, describe
        for host, info in hosts.items():
            for name, u in info.get("exits", {}).get("unexpected_exits", {}).items():
                print(f"{host}: " + describe(name, Exits(u["count"], u["last_at"], u["last_how"]), u["log"],
                                             u["window_s"]))
        from launcher.supervise import copy_edited_note, interrupted_up_notes, not_applied_note, not_file_note
        for host, info in hosts.items():
            stale = [row["name"] for row in info["programs"] if row.get("config_applied") is False]
            if stale:
                print(f"{host}: " + not_applied_note(stale, info["exits"]["programs_file"],
                                                     f"clustergate up FILE --host {host}"))
            other = [row["name"] for row in info["programs"] if row.get("config_as_file") is False]
            if other:
                print(f"{host}: " + not_file_note(other, args.file, f"clustergate up FILE --host {host}"))
            unknown = [row["name"] for row in info["programs"] if row.get("hashing_differs")]
            if unknown:
                print(f"{host}: " + hashing_differs_note(host, info["config_hash_version"], unknown, args.file))
            if info.get("not_in_file"):
                print(f"{host}: NOT FILE'S: {', '.join(info['not_in_file'])} run(s) there, which {args.file} does not "
                      f"give {host} (the host's last `up` was of another topology): `clustergate up FILE --host {host}` "
                      f"stops it")
            if info.get("exits", {}).get("left_stopped_by_up"):  # absent: an older clustergate on the host
                for note in interrupted_up_notes(info["exits"]["left_stopped_by_up"], f"clustergate up FILE --host {host}"):
                    print(f"{host}: {note}")
            if info.get("exits", {}).get("left_stopped_by_up_error"):
                print(f"{host}: what an interrupted `up` left stopped not read: its `status --exits --json` gave a "
                      f"record of another shape ({info['exits']['left_stopped_by_up_error']}): "
                      f"`clustergate status --home HOME` on {host} names it")
            if info.get("exits", {}).get("running_copy_edited"):
                print(f"{host}: " + copy_edited_note(info["exits"]["running_copy"], f"clustergate up FILE --host {host}"))
        unread = [f"{host} ({info['exits']['error']})" for host, info in hosts.items() if "error" in info.get("exits", {})]
        if unread:
            print(f"unexpected exits not read: {'; '.join(unread)}" + ("" if args.via else
                  "; --via 'ssh USER@{address} --' reads them on each host"))
        if sentinel is not None:
            from launcher.supervise import render_sentinel_status
            print(render_sentinel_status(sentinel))
        if degraded:
            print(f"DEGRADED: {degraded}")
        unreachable = [h for h, i in hosts.items() if i["reachable"] is False]
        if unreachable:
            print(f"not reached: {', '.join(unreachable)} (down, partitioned, hung (its processes stopped), or "
                  f"its metrics bind loopback only: set hosts.NAME.metrics_bind to its address)")
    return 1 if not hosts_ok(hosts, sentinel) else 3 if degraded else 0


def hashing_differs_note(host: str, theirs: Any, programs: list[str], file: str) -> str:
    """The line for a host whose `up` hashed its programs' configurations otherwise than this clustergate hashes FILE's
    (another release): unequal hashes then say nothing of whether the host runs FILE's, and its own `up` cannot
    make them equal."""
    from launcher.supervise import CONFIG_HASH_VERSION
    upgrade = (f"upgrade this machine's clustergate (it hashes configurations as version {CONFIG_HASH_VERSION}, "
               f"{host}'s as version {theirs})" if isinstance(theirs, int) and theirs > CONFIG_HASH_VERSION else
               f"upgrade {host} (its clustergate hashes configurations as version {theirs}, this one as version "
               f"{CONFIG_HASH_VERSION})")
    return (f"hashing version differs: {upgrade}: whether {', '.join(programs)} run(s) {file}'s configuration is "
            f"not known")


def hosts_ok(hosts: dict[str, Any], sentinel: dict[str, Any] | None) -> bool:
    """Whether `status --all-hosts` exits 0: every program ready and running its last config, which is FILE's (hashed
    alike: a host of another hashing version is not known to run FILE's), no
    host running a program FILE does not give it, no host's running copy edited by hand, no gate without a permit issuer past the grace or failing closed on the position snapshots, and the
    sentinels (if any) able to fail over and agreeing on the primary."""
    from launcher.overview import permit_issuers_ok, positions_ok
    from launcher.supervise import sentinels_ok
    return (all(row["ready"] and row.get("config_applied") is not False and row.get("config_as_file") is not False
                and not row.get("hashing_differs") for info in hosts.values() for row in info["programs"])
            and all(permit_issuers_ok(info["programs"]) and positions_ok(info["programs"]) for info in hosts.values())
            and not any(info.get("exits", {}).get("running_copy_edited") for info in hosts.values())
            and not any(info.get("not_in_file") for info in hosts.values())
            and sentinels_ok(sentinel))
