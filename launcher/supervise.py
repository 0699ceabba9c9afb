"""The launcher: topology -> supervisord programs -> running, ready actors.

A home directory holds `supervisord.conf` and `run/` (socket, logs, rendered programs, the
topology copy the actors read, managed Redis data). The repo root is the default home; tests
pass `--home` so that several systems never share a supervisord.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import http.client
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable
from xml.parsers.expat import ExpatError

import yaml

from launcher import proof_stops
from launcher.endpoints import (MAX_IPC_PATH_BYTES, endpoint_problem_now, every_holder_pid, holder_pids, split_tcp,
                                tcp_binds_clash)
from launcher.exits import Exits, as_json, describe, process_environ, unexpected_exits
from launcher.redis_binary import INSTALL_HINT, binary_problem, find_redis_server
from launcher.redis_url import password_not_text
from launcher.schema import SchemaError, load_yaml_with_lines
from launcher.stop_signals import interrupted_a_call_of
from launcher.terminal_text import HOLDER_MAX_CHARS, printable
from launcher.topology import (EXIT_BAD_INPUT, EXIT_BAD_INPUT_LINE, ClustersConfig, PermitIssuerSettings, RedisConfig,
                               Topology, endpoint_port, load_or_report, load_running_copy, load_to_run)

REPO = Path(__file__).resolve().parent.parent
REDIS_PROGRAM = "redis"
# One BLAS thread per actor: on a 2-core machine shared by 8 processes, OpenBLAS's own threads
# contend (x @ x.T for 500 symbols went from ~7 to ~23 ms with 2 threads under load).
ACTOR_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
PROGRAMS_FILE = "clustergate.conf"
# Redis answers "Protocol error: unauthenticated bulk length" to a longer argument before AUTH.
MAX_REDIS_PASSWORD_BYTES = 16384
# Every XML-RPC call to supervisord has a deadline: a stopped (SIGSTOP) or wedged supervisord makes a
# command fail with advice instead of hanging. The liveness probe is short; stopping programs with
# wait=True takes up to their stopwaitsecs, hence the longer deadline for every other call.
PROBE_TIMEOUT_S = 5.0
CALL_TIMEOUT_S = 60.0
ACTOR_STOP_WAIT_S = 10.0  # an actor's stopwaitsecs (5 s, then supervisord SIGKILLs it) and more
# The exec shim that makes the managed redis-server die with supervisord (redis has no such option).
PARENT_DEATH_SHIM = Path(__file__).resolve().parent / "parent_death.py"
# The start shim of a data server under Sentinel: primary or replica, as the sentinels say (launcher/redis_node.py).
REDIS_NODE_SHIM = Path(__file__).resolve().parent / "redis_node.py"


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def programs(self) -> Path:
        return self.run / "programs.d" / PROGRAMS_FILE

    @property
    def topology(self) -> Path:
        return self.run / "topology.yaml"

    @property
    def deploying_lock(self) -> Path:
        """Held by a `clustergate deploy-lock` process while a deploy changes this home's host."""
        return self.run / "deploying.lock"

    @property
    def logs(self) -> Path:
        return self.run / "logs"

    @property
    def redis_dir(self) -> Path:
        return self.run / "redis"

    @property
    def redis_conf(self) -> Path:
        return self.redis_dir / "redis.conf"

    @property
    def ipc_dir(self) -> Path:
        """Where the socket files of relative ipc:// endpoints live, so two homes never share one."""
        return self.run / "ipc"

    @property
    def pid_file(self) -> Path:
        return self.run / "supervisord.pid"

    def log_of(self, program: str) -> Path:
        return self.logs / f"{program}.log"

    def prepare(self) -> list[Path]:
        """Make the home's directories and supervisord.conf where missing; return what this made, parents first
        (a refused `up` removes it again: undo_prepare). On a failure, what it made is removed before it raises."""
        created: list[Path] = []
        try:
            for d in [*reversed(self.root.parents), self.root, self.run, self.programs.parent, self.logs,
                      self.redis_dir, self.ipc_dir]:
                make_dir(d, created)
            os.chmod(self.run, 0o700)
            if not self.conf.exists():
                # supervisord re-expands %(here)s's value, so a home path holding % is written in, escaped.
                text = (REPO / "supervisord.conf").read_text().replace("%(here)s", _conf_value(str(self.root)))
                if write_new(self.conf, text, 0o644):
                    created.append(self.conf)
        except BaseException:
            undo_prepare(self, created, locks_held=False)
            raise
        return created


def write_new(path: Path, text: str, mode: int) -> bool:
    """Write path whole unless it exists; False (path untouched) when another process made it first. The text goes
    to a file of this process's own, linked in: two first `up`s of a home shared PATH.tmp, and one's rename failed
    (ENOENT) or put in a file the other had truncated."""
    own = path.with_name(f".{path.name}.{os.getpid()}")
    stage_files({own: (text, mode)})
    try:
        os.link(_tmp_of(own), path)
    except FileExistsError:
        return False
    finally:
        _tmp_of(own).unlink(missing_ok=True)
    return True


def make_dir(path: Path, created: list[Path]) -> None:
    """mkdir path unless it is there; noted in `created` only when this call made it."""
    if path.is_dir():
        return
    try:
        path.mkdir()
    except FileExistsError:
        return
    created.append(path)


UP_LOCKS = ("up.lock", "change.lock")


def undo_prepare(home: Home, created: list[Path], locks_held: bool = True) -> None:
    """Remove what a refused `up` made in its home (Home.prepare's list, and with locks_held the lock files of a run/
    it made), never anything that was there before; a directory that is no longer empty (another command's files) stays. Called with
    the home's locks held, so a command waiting on a lock file removed here sees it gone (ChangeLock.take). A home
    another `up` has applied meanwhile (its programs file is there: two first `up`s of a home at once) is left whole."""
    if home.programs.exists() or home.topology.exists():
        return
    removable = list(created)
    if home.run in created and locks_held:  # else they are another command's, which may hold them now
        removable[created.index(home.run) + 1:created.index(home.run) + 1] = [home.run / name for name in UP_LOCKS]
    for path in reversed(removable):
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass


def home_option(text: str) -> str:
    """--home (an argparse type): a blank one is refused, exit 2, not read as no --home: `down --home "$UNSET"` stopped
    the system of $CLUSTERGATE_HOME or the repo root."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is blank: give the home's directory, or leave --home out for "
                                         f"$CLUSTERGATE_HOME, else the repo root")
    if not is_utf8(text):  # supervisord's config and socket path hold it as text: `up` failed writing them, exit 1
        raise argparse.ArgumentTypeError(not_utf8(text))
    return text


def not_utf8(path: str) -> str:
    """Why a home (--home, $CLUSTERGATE_HOME, under --home-root) whose path is not UTF-8 is refused."""
    return (f"{printable(path)!r} is not valid UTF-8: supervisord's config names the home as text; give a directory "
            f"whose path is UTF-8")


def home_variable_problem(args: argparse.Namespace) -> str | None:
    """Why a command that takes --home, run without it, cannot use $CLUSTERGATE_HOME (None: it can, or it is not
    read): a path that is not UTF-8, refused as --home's is (exit 2); `up` failed writing supervisord.conf, exit 1."""
    if getattr(args, "home", "") is not None:  # no such option, or --home given
        return None
    root = os.environ.get("CLUSTERGATE_HOME")
    return None if not root or is_utf8(root) else f"$CLUSTERGATE_HOME: {not_utf8(root)}"


def is_utf8(text: str) -> bool:
    """Whether text (a path or argument as Python decoded it) was valid UTF-8: bytes that were not are lone surrogates."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def sha256_option(text: str) -> str:
    """--expect-sha256 (an argparse type): 64 hexadecimal digits, as `deploy` passes them; anything else was compared
    and called an edited file (a blank one turned the check off)."""
    if len(text) != 64 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise argparse.ArgumentTypeError(f"{printable(text, 80)!r} is not a SHA-256 (64 hexadecimal digits)")
    return text.lower()


def home_root_option(text: str) -> str:
    """--home-root (an argparse type): a blank one is refused, not read as none (each host's home then defaulted)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is blank: give the directory holding each host's home, or leave "
                                         f"--home-root out for hosts/NAME under $CLUSTERGATE_HOME, else the repo root")
    if not is_utf8(text):
        raise argparse.ArgumentTypeError(not_utf8(text))
    return text


def home_from(args: argparse.Namespace) -> Home:
    """The home every command uses: --home, else $CLUSTERGATE_HOME, else the repo root. With --host NAME
    (a multi-host topology) and no --home, that host's own home: hosts/NAME under the one above."""
    given = getattr(args, "home", None)
    root = given or os.environ.get("CLUSTERGATE_HOME") or REPO
    host = getattr(args, "host", None)
    if host and not given and isinstance(host, str):
        return Home(resolved_path(Path(root) / "hosts" / host))
    return Home(resolved_path(Path(root)))


def resolved_path(path: Path) -> Path:
    """path.resolve(), or, for a symlink loop (on which Python 3.11's resolve raises RuntimeError: `status --home LOOP`
    ended in that traceback, revstatus), the path as given, made absolute: what reads it then names the loop."""
    try:
        return path.resolve()
    except RuntimeError:
        return path.absolute()


def running_topology_path(args: argparse.Namespace, fallback: Path | None = None) -> Path:
    """The topology a command acts on: --topology, else the home's running copy (run/topology.yaml),
    else `fallback` (None: the home's copy, whether or not it exists). A home named by --home or
    $CLUSTERGATE_HOME never falls back: its missing copy is the answer, so a command cannot reach
    another system (the demo's ports) by mistake."""
    given = getattr(args, "topology", None)
    if given:
        return Path(given)
    running = home_from(args).topology
    explicit = getattr(args, "home", None) or os.environ.get("CLUSTERGATE_HOME")
    return running if running.exists() or fallback is None or explicit else fallback


def missing_running_copy(args: argparse.Namespace, path: Path) -> str | None:
    """What to say when a command's topology is a home's running copy that does not exist (no --topology given, and
    nothing was started in that home, or `make clean` ran): where to start one, or what to give instead."""
    if getattr(args, "topology", None) or path.exists() or path != home_from(args).topology:
        return None
    root = home_from(args).root
    return (f"{path} does not exist: nothing was started in {root} "
            f"(`clustergate up FILE --home {shlex.quote(str(root))}`); or give --topology FILE")


def running_topology_or_say(args: argparse.Namespace, path: Path, command: str) -> Topology | None:
    """The topology a Redis tool (`positions`, `backfill-permits`) acts on at `path` (running_topology_path's), loaded
    as it runs (load_to_run: whatever validate says of a key none reads); None after saying why not on stderr, for its
    caller to exit 2: no running copy in that home, a topology that does not load, a password no client can send."""
    if missing := missing_running_copy(args, path):
        print(f"{command}: {missing}", file=sys.stderr)
        return None
    try:
        topo = load_to_run(path)[0]  # the running copy: what runs, whatever validate says of a key none reads
    except SchemaError as exc:
        for problem in exc.problems:
            print(problem.render(str(path)), file=sys.stderr)
        return None
    if not_text := password_not_text(topo.redis.password, topo.redis.password_env):
        print(f"{command}: {not_text}", file=sys.stderr)
        return None
    return topo


# --------------------------------------------------------------------------- rendering


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# What actor_config_hash hashes, and how: raise it with any change that makes a hash differ for the same topology. `up`
# writes it under the hashes in run/programs.d, a host reports it with them (home_exits), and `status FILE --all-hosts`
# compares a host's hashes with FILE's only when both were made alike (1: by a clustergate before the line was written).
CONFIG_HASH_VERSION = 1


def actor_config_hash(topo: Topology, name: str, home: Home | None = None) -> str:
    """Changes exactly when something this actor reads changes, so `up` restarts only it. With the home it runs in,
    an ipc:// path under the home's run/ipc/ hashes as the relative path it reads the same as (a running copy put
    back by a rollback holds the copy's path: it hashes as the file it was made from)."""
    shared = {"symbols": topo.symbols, "redis": asdict(topo.redis), "positions": asdict(topo.positions),
              "clusters": asdict(topo.clusters), "base_dir": _effective_base_dir(topo), "name": topo.name,
              "security": asdict(topo.security)}
    actor = asdict(topo.actors[name])
    if home is not None:
        for sock in actor["sockets"].values():
            for key in ("bind", "connect"):
                if isinstance(sock.get(key), str):
                    sock[key] = out_of_home(sock[key], home)
    hashed: dict[str, Any] = {"actor": actor, "shared": shared}
    curve_keys = _curve_public_keys(topo, name)
    if curve_keys:
        hashed["curve_public_keys"] = curve_keys
    # What an actor reads of the other actors comes from the whole topology, which it loads: one host's view holds
    # only that host's actors (a standby writer or a gate on another host changed nothing in market's hash).
    whole = topo.whole or topo
    # A state writer reads the other actors too: a standby added or removed decides whether it writes under a lease.
    lease_ms = whole.state_writer_lease_ms(name) if topo.actors[name].kind == "state_writer" else 0
    if lease_ms:
        hashed["lease_ms"] = lease_ms
    # ... and the gates: its state_clock_skew log judges by the smallest of their freshness windows.
    if topo.actors[name].kind == "state_writer" and whole.strictest_gate_freshness_s != whole.freshness_default_s:
        hashed["gate_freshness_s"] = whole.strictest_gate_freshness_s
    # A gate's cache marks a symbol cooled down for the issuer's cooldown_ttl_s after each decision it records.
    if topo.actors[name].kind == "gate" and whole.issuer_cooldown_ttl_s != PermitIssuerSettings().cooldown_ttl_s:
        hashed["issuer_cooldown_ttl_s"] = whole.issuer_cooldown_ttl_s
    return _hash(hashed)


def _curve_public_keys(topo: Topology, name: str) -> dict[str, list[str]]:
    """Per CurveZMQ socket of an actor, the public keys it reads at start (its own, the server's, the clients it lets
    in), so that `up` restarts it when a key file was replaced (a client's key revoked). Public halves only: the hash
    is written where others may read it. A file that cannot be read counts as missing (validate names it)."""
    from launcher import curve as keys
    keys_dir, base = keys.keys_dir_of(topo), keys.topology_base(topo)

    def public(ref: str, secret: bool) -> str:
        for is_secret in ((False, True) if secret else (False,)):
            try:
                path = keys.certificate_path(ref, keys_dir=keys_dir, base=base, secret=is_secret)
                return (keys.read_keypair(path).public if path.name.endswith(keys.SECRET_SUFFIX)
                        else keys.read_public_key(path)).decode()
            except (OSError, ValueError):
                continue
        return "missing"

    found: dict[str, list[str]] = {}
    for role, sock in topo.actors[name].sockets.items():
        curve = sock.curve
        if curve is None or curve.keypair is None:
            continue
        found[role] = [public(curve.keypair, secret=True)]
        found[role] += [public(curve.server_key, secret=False)] if curve.server_key else []
        found[role] += sorted(public(ref, secret=False) for ref in curve.allow)
        if curve.allow_dir:
            try:
                found[role] += sorted(k.decode() for k in keys.read_key_dir(keys.key_directory(topo, curve.allow_dir)))
            except (OSError, ValueError):
                found[role].append("missing")
    return found


def _effective_base_dir(topo: Topology) -> str | None:
    """The directory relative paths resolve against: a copy with base_dir pinned (a deploy putting a host
    back) hashes as the file it was made from."""
    if topo.base_dir:
        return topo.base_dir
    return str(Path(topo.source_path).parent) if topo.source_path else None


@dataclass(frozen=True)
class RedisProgram:
    """One managed Redis process: the lone server ("redis"), or under Sentinel a data server
    ("redis-server-N", N from 1 in sentinel.servers' order) or a sentinel ("redis-sentinel-N")."""
    name: str
    kind: str  # "server" | "sentinel"
    address: str
    port: int
    index: int

    def directory(self, home: Home) -> Path:
        return home.redis_dir if self.name == REDIS_PROGRAM else home.redis_dir / self.name

    def conf(self, home: Home) -> Path:
        if self.name == REDIS_PROGRAM:
            return home.redis_conf
        return self.directory(home) / ("sentinel.conf" if self.kind == "sentinel" else "redis.conf")


def redis_programs(topo: Topology) -> list[RedisProgram]:
    """The managed Redis processes this topology (or this host's view of it) runs, servers first."""
    redis = topo.redis
    if not redis.managed:
        return []
    if redis.sentinel is None:
        return [RedisProgram(REDIS_PROGRAM, "server", redis.bind_address, redis.port, 0)]
    from launcher.hosts import sentinel_places_on
    servers, sentinels = sentinel_places_on(topo, redis.only_host)
    server_addresses, sentinel_addresses = redis.server_addresses(), redis.sentinel_addresses()
    return ([RedisProgram(f"redis-server-{i + 1}", "server", *server_addresses[i], i) for i in servers]
            + [RedisProgram(f"redis-sentinel-{i + 1}", "sentinel", *sentinel_addresses[i], i) for i in sentinels])


def redis_program_names(topo: Topology) -> list[str]:
    return [p.name for p in redis_programs(topo)]


def _bind(address: str) -> str:
    return address if address in ("127.0.0.1", "::1") else f"{address} 127.0.0.1"


def render_redis_files(topo: Topology, home: Home) -> dict[Path, str]:
    """Managed Redis config files: every data server's (always rewritten: the role is on the command
    line), and each sentinel's only when missing or its seed (the topology's settings) changed, since a
    sentinel keeps its learned state (the current primary, epochs) in that file."""
    from launcher.sentinel import render_sentinel_conf, render_server_conf, same_address
    redis = topo.redis
    files: dict[Path, str] = {}
    for prog in redis_programs(topo):
        if prog.name == REDIS_PROGRAM:
            files[prog.conf(home)] = render_redis_conf(topo, home)
        elif prog.kind == "server":
            files[prog.conf(home)] = render_server_conf(
                port=prog.port, bind=_bind(prog.address), directory=str(prog.directory(home)),
                maxmemory_mb=redis.maxmemory_mb, password=redis.password, quote=redis_quote)
        else:
            assert redis.sentinel is not None
            seed = render_sentinel_conf(
                port=prog.port, bind=_bind(prog.address), directory=str(prog.directory(home)),
                master=redis.sentinel.master, primary=redis.server_addresses()[0], quorum=int(redis.sentinel.quorum or 2),
                down_after_ms=redis.sentinel.down_after_ms, failover_timeout_ms=redis.sentinel.failover_timeout_ms,
                parallel_syncs=redis.sentinel.parallel_syncs, password=redis.password, quote=redis_quote)
            seed_file = prog.directory(home) / "seed.sha256"
            digest = hashlib.sha256(seed.encode()).hexdigest()
            current = seed_file.read_text().strip() if seed_file.exists() else None
            if current != digest or not prog.conf(home).exists():
                # Settings changed: seed again, but with the primary this sentinel last knew (its file's
                # monitor line, which Sentinel rewrites at each failover), never back to the first server,
                # whose data may be older.
                # (Sentinel writes an IPv6 address canonical, the topology as its author did: [0:0:0:0:0:0:0:1] is ::1)
                known = _monitored_primary(prog.conf(home), redis.sentinel.master)
                if known is not None and any(same_address(known, server) for server in redis.server_addresses()):
                    seed = seed.replace(_monitor_line(redis.sentinel.master, redis.server_addresses()[0]),
                                        _monitor_line(redis.sentinel.master, known), 1)
                files[prog.conf(home)] = seed
                files[seed_file] = digest + "\n"
    return files


def _monitor_line(master: str, primary: tuple[str, int]) -> str:
    return f"sentinel monitor {master} {primary[0]} {primary[1]} "


def _monitored_primary(conf: Path, master: str) -> tuple[str, int] | None:
    """The primary a sentinel's config file monitors `master` at, or None."""
    try:
        for line in conf.read_text().splitlines():
            parts = line.split()
            if parts[:3] == ["sentinel", "monitor", master] and len(parts) >= 5 and parts[4].isdigit():
                return parts[3], int(parts[4])
    except OSError:
        return None
    return None


# supervisord starts programs by priority (its own shutdown stops them in reverse; stopAllProcesses, which `down` and
# `supervisorctl stop all` use, signals them all at once): the pipeline's order, by kind. A priority taken
# from the actor's place in the file changed with every actor added or removed before it, and supervisord restarts a
# program whose priority changed: removing the demo's book restarted six actors, the gate and permit issuer among them.
ACTOR_PRIORITY = {kind: 100 + i for i, kind in enumerate(
    ("price_feed", "book", "buffer", "correlator", "clusterer", "state_writer", "permit_issuer", "gate"))}


def render_programs(topo: Topology, home: Home, python: str = sys.executable, redis_binary: str | None = None) -> str:
    """The supervisord program sections for a topology: managed Redis first, then one per actor."""
    # A comment is one line: a line break in the path (a directory `x\n[program:evil]\ncommand=...`) added a program.
    source = printable(str(topo.source_path), limit=len(str(topo.source_path)))
    out = [f"; rendered by clustergate from {source} -- do not edit; run `clustergate up` again\n"]
    if topo.redis.managed and topo.redis.sentinel is not None:
        binary = redis_binary or find_redis_server() or "redis-server"
        binary = shutil.which(binary) or binary
        sentinel = topo.redis.sentinel
        env = {"CLUSTERGATE_CONFIG_HASH": _hash(asdict(topo.redis))}
        from launcher.sentinel import place_text
        primary = place_text(topo.redis.server_addresses()[0])
        asked = [a for address in topo.redis.sentinel_addresses() for a in ("--sentinel", place_text(address))]
        local = [a for prog in redis_programs(topo) if prog.kind == "sentinel"
                 for a in ("--sentinel-conf", str(prog.conf(home)))]
        wait_ms = str(sentinel.down_after_ms + sentinel.failover_timeout_ms)
        for prog in redis_programs(topo):
            if prog.kind == "server":
                command = _command(python, str(REDIS_NODE_SHIM), "--self", place_text((prog.address, prog.port)),
                                   "--primary", primary, "--master", sentinel.master, *asked,
                                   "--timeout-ms", str(topo.redis.timeout_ms), "--wait-ms", wait_ms, *local,
                                   "--password-env", topo.redis.password_env, "--", binary, str(prog.conf(home)))
            else:
                command = _command(python, str(REDIS_NODE_SHIM), "--sentinel-start", "--master", sentinel.master,
                                   "--timeout-ms", str(topo.redis.timeout_ms), "--wait-ms", wait_ms,
                                   "--password-env", topo.redis.password_env, "--", binary, str(prog.conf(home)),
                                   "--sentinel")
            out.append(_program(prog.name, command, priority=1 + prog.index + (0 if prog.kind == "server" else 10),
                                directory=prog.directory(home), log=home.log_of(prog.name), env=env,
                                startsecs=1, stopwait=10,
                                # Sentinel rewrites sentinel.conf, and has the servers rewrite redis.conf
                                # (CONFIG REWRITE), as 0644 & ~umask: keep the password in them private.
                                umask="077"))
    elif topo.redis.managed:
        binary = redis_binary or find_redis_server() or "redis-server"
        binary = shutil.which(binary) or binary  # the shim execs a path
        command = _command(python, str(PARENT_DEATH_SHIM), binary, str(home.redis_conf))
        out.append(_program(REDIS_PROGRAM, command, priority=1,
                            directory=home.redis_dir, log=home.log_of(REDIS_PROGRAM),
                            env={"CLUSTERGATE_CONFIG_HASH": _hash(asdict(topo.redis))}, startsecs=1, stopwait=10))
    for name, spec in topo.actors.items():
        command = _command(python, "-m", f"actors.{spec.kind}", "--topology", str(home.topology), "--name", name)
        out.append(_program(name, command, priority=ACTOR_PRIORITY[spec.kind], directory=REPO, log=home.log_of(name),
                            env={"CLUSTERGATE_CONFIG_HASH": actor_config_hash(topo, name, home), "PYTHONUNBUFFERED": "1",
                                 **ACTOR_THREAD_ENV},
                            startsecs=1, stopwait=5))
    return "\n".join(out)


def _conf_value(text: str, expansions: int = 1) -> str:
    """A value as supervisord's config reads it: each expansion of %(name)s turns %% into %, so a
    literal % is doubled once per expansion (stdout_logfile is expanded twice)."""
    if "\n" in text or "\r" in text:
        raise LaunchError(f"{text!r}: a path or argument with a line break cannot be put in supervisord's config")
    comment = CONF_COMMENT_RE.search(text)
    if comment:
        raise LaunchError(f"{text!r} holds {comment.group()[1]!r} after a space, where supervisord's config starts a "
                          f"comment (cutting the path short): it cannot be put there")
    return text.replace("%", "%" * (2 ** expansions))


# supervisord's config parser takes ; or # after whitespace for the start of a comment, anywhere in a value.
CONF_COMMENT_RE = re.compile(r"\s[;#]")
# supervisord globs its include under the config file's directory: [, * and ? in the home's path are a pattern to it.
CONF_GLOB_RE = re.compile(r"[\[*?]")


def home_path_problem(home: Home) -> str | None:
    """Why supervisord cannot run a home at this path (None: it can): a line break; a ; or # after a space, which its
    config reads as a comment (`desk #2`: `Error: .../desk is not an existing directory`); a supervisor.sock path
    longer than a Unix socket path holds; a space at its end (stripped: `desk `); a [, * or ? (a glob pattern to its
    include: `desk[1]` read no program); %(here)s, which it replaces as text."""
    if "\n" in str(home.root) or "\r" in str(home.root):
        return f"the home {str(home.root)!r} holds a line break, which supervisord's config cannot hold: choose another"
    comment = CONF_COMMENT_RE.search(str(home.root))
    if comment:
        return (f"the home {home.root} holds {comment.group()[1]!r} after a space, where supervisord's config starts a "
                f"comment (its paths there would be cut short): choose a home path without one")
    if str(home.root)[-1:].isspace():  # its config strips a value's ends: directory= named another directory
        return (f"the home {str(home.root)!r} ends in a space, which supervisord's config strips off (it would look for "
                f"{str(home.root).rstrip()}): choose a home path without one")
    if "%(here)s" in str(home.root):  # replaced as text before its % expansion: a doubled % does not keep it
        return (f"the home {home.root} holds '%(here)s', which supervisord replaces in its config before anything else "
                f"(the % doubled or not): choose a home path without it")
    pattern = CONF_GLOB_RE.search(str(home.root))
    if pattern:
        return (f"the home {home.root} holds {pattern.group()!r}, which supervisord's include (run/programs.d/*.conf "
                f"under the home) reads as a glob pattern: it would find no program of the home's, or another "
                f"home's: choose a home path without [, * or ?")
    size = len(os.fsencode(str(home.socket)))
    if size > MAX_IPC_PATH_BYTES:
        return (f"the home's supervisord socket {home.socket} is {size} bytes; a Unix socket path holds at most "
                f"{MAX_IPC_PATH_BYTES} bytes: choose a shorter home path")
    # `up FILE --home FILE`, a slip: was `FAILED: [Errno 20] Not a directory: 'FILE/run'`, exit 1 (opcli)
    found = next((p for p in (home.root, *home.root.parents) if os.path.lexists(p)), None)
    if found is not None and not found.is_dir():
        kind = "a file" if found.is_file() else "a broken symlink" if found.is_symlink() else "not a directory"
        return (f"the home {home.root}: {found} is {kind}{'' if kind.startswith('not') else ', not a directory'}: "
                f"--home names the directory of supervisord.conf and run/")
    return None


def _command(*argv: str) -> str:
    """A command= value: supervisord splits it as a shell would (shlex), then expands %."""
    return _conf_value(" ".join(shlex.quote(a) for a in argv))


def _program(name: str, command: str, *, priority: int, directory: Path, log: Path, env: dict[str, str],
             startsecs: int, stopwait: int, umask: str | None = None) -> str:
    env_line = ",".join(f'{k}="{v}"' for k, v in env.items())
    umask_line = f"umask={umask}\n" if umask else ""
    return (f"[program:{name}]\n"
            f"command={command}\n"
            f"directory={_conf_value(str(directory))}\n"
            f"priority={priority}\n"
            f"autostart=true\n"
            f"autorestart=true\n"
            f"startsecs={startsecs}\n"
            f"startretries=10\n"
            f"stopsignal=TERM\n"
            f"stopwaitsecs={stopwait}\n"
            f"stopasgroup=true\n"
            f"killasgroup=true\n"
            f"redirect_stderr=true\n"
            f"stdout_logfile={_conf_value(str(log), expansions=2)}\n"
            f"stdout_logfile_maxbytes=20MB\n"
            f"stdout_logfile_backups=2\n"
            f"environment={env_line}\n"
            f"{umask_line}")


def redis_quote(text: str) -> str:
    """A string as Redis's config format reads it: double quotes, with \\ and \" escaped. Control
    characters are refused before this (password_problem), so no line can be added."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_redis_conf(topo: Topology, home: Home) -> str:
    bind = "127.0.0.1" if topo.redis.bind_address == "127.0.0.1" else f"{topo.redis.bind_address} 127.0.0.1"
    lines = [f"port {topo.redis.port}", f"bind {bind}", "protected-mode yes", f"dir {redis_quote(str(home.redis_dir))}",
             "appendonly yes", "appendfsync everysec", 'save ""', "daemonize no", f"logfile \"\"",
             # Full: refuse writes (decisions fail closed to HOLD), never evict a cooldown or a permit.
             f"maxmemory {topo.redis.maxmemory_mb}mb", "maxmemory-policy noeviction"]
    password = topo.redis.password
    if password:
        lines.append(f"requirepass {redis_quote(password)}")
    return "\n".join(lines) + "\n"


def _password_conf(topo: Topology, home: Home) -> Path:
    """The config file whose requirepass tells the password the running managed Redis uses."""
    progs = sorted(redis_programs(topo), key=lambda p: p.kind != "server")  # a server's file, else a sentinel's
    return progs[0].conf(home) if progs else home.redis_conf


def _requirepass(conf_text: str) -> str | None:
    for line in conf_text.splitlines():
        if line.startswith("requirepass "):
            return line
    return None


def password_problem(topo: Topology, home: Home, running: bool) -> str | None:
    """Why the Redis password in the environment cannot be used for this `up`, or None. Never
    includes the password."""
    var = topo.redis.password_env
    if not topo.redis.managed:
        # The variable the running actors read too (password_env renamed): the one this `up` names is not theirs.
        if topo.redis.password is None and running and any(running_password(home, v) for v in
                                                           dict.fromkeys((var, _running_password_env(home)))):
            return (f"${var} is not set, but the actors of {home.root} run with a Redis password: set it as when "
                    f"the system was started, or to the Redis's new one (to run without a password, `clustergate "
                    f"down` first)")
        return None
    password = topo.redis.password
    if password is not None and any(ord(c) < 32 or ord(c) == 127 for c in password):
        return (f"${var} holds a control character (a newline, tab ...), which could add lines to Redis's "
                f"config: choose a password without one")
    if password is not None and topo.redis.sentinel is not None and any(c in password for c in " \"'"):
        return (f"${var} holds a space or a quote, which Redis Sentinel writes unquoted when it rewrites "
                f"sentinel.conf (`sentinel auth-pass`, at its first start): the sentinel would refuse its own config "
                f"at its next start, printing the password to its log; choose a password without spaces and quotes")
    if not_text := password_not_text(password, var):
        return not_text
    if password is not None and len(password.encode()) > MAX_REDIS_PASSWORD_BYTES:
        return (f"${var} is {len(password.encode())} bytes; Redis refuses an AUTH argument over "
                f"{MAX_REDIS_PASSWORD_BYTES} bytes from a client that is not yet signed in, so no client could "
                f"ever use it: choose a shorter password")
    if password is None and _asks_for_password(topo):
        return (f"${var} is not set, but the topology asks for a Redis password (redis.password_env is set): "
                f"set it, or remove password_env from the topology to run without one")
    conf = _password_conf(topo, home)
    if password is None and running and conf.exists() and _requirepass(conf.read_text()):
        return (f"${var} is not set, but the running Redis of {home.root} requires a password: set it as "
                f"when the system was started (to run without a password, "
                f"`clustergate down --home {shlex.quote(str(home.root))}` first)")
    return None


def _running_password_env(home: Home) -> str:
    """redis.password_env of the home's running copy (its default when not given or not readable)."""
    data = running_copy(home)
    redis = data.get("redis") if isinstance(data, dict) else None
    var = redis.get("password_env") if isinstance(redis, dict) else None
    return var if isinstance(var, str) and var else RedisConfig().password_env


def running_password(home: Home, var: str) -> bytes | None:
    """The Redis password (the value of `var`) in the environment of this home's supervisord, which every program it
    starts inherits; None when it has none or /proc cannot tell."""
    environ = process_environ(Supervisor(home).pid())
    return (environ or {}).get(var.encode()) or None


def password_differs_from_running(topo: Topology, home: Home) -> bool:
    """Whether this `up`'s Redis password is not the one this home's supervisord hands its programs (an external
    Redis's password rotated, or password_env renamed): only a new supervisord passes the new one on. False when
    /proc cannot tell."""
    environ = process_environ(Supervisor(home).pid())
    if environ is None:
        return False
    var = topo.redis.password_env
    return (environ.get(var.encode()) or None) != (os.environb.get(var.encode()) or None)


def _asks_for_password(topo: Topology) -> bool:
    """A topology asks for a password when its file names a redis.password_env explicitly; `password_env: ""` names
    none (no password, no AUTH: what `longest_turn_s` counts no handshake for, docs/operating.md): `up` said `$ is not
    set` of it."""
    try:
        data = yaml.safe_load(topo.source_text) if topo.source_text else None
    except yaml.YAMLError:
        return False
    redis_section = data.get("redis") if isinstance(data, dict) else None
    return isinstance(redis_section, dict) and bool(redis_section.get("password_env"))


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def topology_copy(topo: Topology, home: Home | None = None) -> str:
    """The topology as the actors read it: the text that was validated (not the file as it is by now) with
    base_dir pinned, and every relative ipc:// path moved under the home's run/ipc/ (so two homes never share a
    socket file)."""
    # The loader that validated it: PyYAML's gives a key of a list of merges (`<<: [*a, *b]`) the later mapping's value.
    data = load_yaml_with_lines(topo.source_text)[0] if topo.source_text else {}
    data.pop("$schema", None)
    if not data.get("base_dir"):  # a copy being put back (deploy rollback) keeps the base it was made with
        data["base_dir"] = str(Path(topo.source_path).parent) if topo.source_path else str(Path.cwd())
    if home is not None:
        for actor in (data.get("actors") or {}).values():
            for sock in ((actor or {}).get("sockets") or {}).values():
                for key in ("bind", "connect"):
                    endpoint = (sock or {}).get(key)
                    if isinstance(endpoint, str):
                        sock[key] = in_home(endpoint, home)
    return yaml.safe_dump(data, sort_keys=False)


class WriteFailed(Exception):
    """A file of the new system could not be written; nothing was switched in, no .tmp file is left."""


def _tmp_of(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def stage_files(files: dict[Path, tuple[str, int]]) -> None:
    """Write each file to PATH.tmp (created with its mode, synced); on any failure remove every .tmp
    and raise WriteFailed naming the file. Nothing is switched in here."""
    written: list[Path] = []
    try:
        for path, (text, mode) in files.items():
            tmp = _tmp_of(path)
            written.append(tmp)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            try:
                os.fchmod(fd, mode)
                data = text.encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
    except (OSError, UnicodeEncodeError) as exc:
        for tmp in written:
            try:
                tmp.unlink()
            except OSError:
                pass
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "text that is not valid UTF-8"
        raise WriteFailed(f"cannot write {getattr(exc, 'filename', None) or written[-1]}: {reason}; "
                          f"nothing was changed") from None


def switch_files(paths: list[Path]) -> None:
    """Move each staged PATH.tmp over PATH (a rename: atomic per file, and it cannot run out of space)."""
    for path in paths:
        os.replace(_tmp_of(path), path)


def write_files(files: dict[Path, tuple[str, int]]) -> None:
    stage_files(files)
    switch_files(list(files))


# --------------------------------------------------------------------------- supervisord control


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout_s: float):
        super().__init__("localhost", timeout=timeout_s)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over a unix socket, every call with a deadline (supervisor's own transport has none)."""

    def __init__(self, path: Path, timeout_s: float):
        super().__init__()
        self.socket_path = path
        self.timeout_s = timeout_s

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self.socket_path, self.timeout_s)


class _Api:
    """supervisord's XML-RPC namespace, turning a missed deadline into SupervisorUnresponsive."""

    def __init__(self, sup: "Supervisor", timeout_s: float):
        self._sup = sup
        self._proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(sup.home.socket, timeout_s))
        self._timeout_s = timeout_s

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._proxy.supervisor, name)

        def call(*args: Any) -> Any:
            try:
                return method(*args)
            except TimeoutError:
                raise SupervisorUnresponsive(self._sup.unresponsive_message(self._timeout_s)) from None
            except ExpatError as exc:  # supervisord died while it wrote its answer: the connection was lost
                raise ConnectionResetError(f"supervisord's answer was cut off ({exc})") from None
        return call


class Supervisor:
    """XML-RPC to the home's supervisord over its unix socket."""

    def __init__(self, home: Home):
        self.home = home

    @property
    def api(self) -> Any:
        """A fresh connection per use: a failed request leaves the transport unusable."""
        return _Api(self, CALL_TIMEOUT_S)

    def pid(self) -> int | None:
        try:
            return int(self.home.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def unresponsive_message(self, timeout_s: float) -> str:
        pid = self.pid()
        who = f"supervisord (pid {pid})" if pid else "supervisord"
        return (f"{who} did not answer on {self.home.socket} within {timeout_s:g} s: it is stopped or wedged. "
                f"If `ps -o stat= -p {pid or 'PID'}` shows T it was stopped (SIGSTOP): resume it with "
                f"`kill -CONT {pid or 'PID'}`; otherwise `kill {pid or 'PID'}` and run "
                f"`clustergate down --home {self.home.root}` to stop what it leaves behind")

    def running(self) -> bool:
        """True when supervisord answers and runs; False when nothing answers on the socket. Raises
        SupervisorUnresponsive when a supervisord holds the socket but does not answer in time, and ForeignSupervisord
        when the one answering is no clustergate home's: every command leaves it alone."""
        try:
            api = _Api(self, PROBE_TIMEOUT_S)
            state, identifier = api.getState()["statename"], api.getIdentification()
            if identifier != SUPERVISORD_IDENTIFIER:
                raise ForeignSupervisord(
                    f"the supervisord answering on {self.home.socket} is no clustergate home's (its identifier is "
                    f"{printable(str(identifier), 80)!r}, not {SUPERVISORD_IDENTIFIER!r}; pid {api.getPID()}): it is "
                    f"left alone; is --home {self.home.root} the home you meant?")
            return state == "RUNNING"
        except (SupervisorUnresponsive, ForeignSupervisord):
            raise
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException):
            return False

    def start_daemon(self) -> None:
        supervisord = shutil.which("supervisord", path=str(Path(sys.executable).parent)) or shutil.which("supervisord")
        if supervisord is None:
            raise LaunchError("supervisord not found: install clustergate with `pip install -e .`")
        # In a session of its own from the start: a terminal's Ctrl-C or hang-up reaches its whole foreground
        # process group, and would kill supervisord before it daemonizes (`up` defers them until the change is whole).
        # The setsid runs in a forked child, which keeps up's handlers until its exec: start_new_session's vfork child
        # set them to the default action before its setsid, and a Ctrl-C in that moment killed it.
        result = subprocess.run([supervisord, "-c", str(self.home.conf)], capture_output=True, text=True,
                                cwd=self.home.root, preexec_fn=os.setsid)
        if result.returncode != 0:
            said = result.stderr.strip() or result.stdout.strip()
            if not said:
                said = (f"killed by {signal_name(-result.returncode)}" if result.returncode < 0
                        else f"exit status {result.returncode}, nothing printed")
            raise LaunchError(f"supervisord failed to start: {said}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.1)
        raise LaunchError(f"supervisord did not answer on {self.home.socket} within 15 s; see {self.home.run / 'supervisord.log'}")

    def apply_config(self, stopping: Callable[[str], None] = lambda name: None,
                     back: Callable[[str], None] = lambda name: None,
                     reread: Callable[[], None] = lambda: None) -> tuple[list[str], list[str], list[str]]:
        """Like `supervisorctl update`: add new programs, restart changed ones, remove gone ones. stopping(name) is
        called just before a program is stopped, back(name) once supervisord runs it again or no longer has it,
        reread() once supervisord may hold the files' configuration (its reloadConfig sent and not refused: a Fault
        leaves it the configuration it had)."""
        try:
            added, changed, removed = self.api.reloadConfig()[0]
        except xmlrpc.client.Fault:
            raise
        except BaseException:  # no answer in time, the connection cut: it may have read them
            reread()
            raise
        reread()
        for name in removed:
            stopping(name)
            self._stop_quietly(name)
            self.api.removeProcessGroup(name)
            back(name)
        for name in changed:
            stopping(name)
            self._stop_quietly(name)
            self.api.removeProcessGroup(name)
            self.api.addProcessGroup(name)
            back(name)
        for name in added:
            self.api.addProcessGroup(name)
        return added, changed, removed

    def _stop_quietly(self, name: str, wait: bool = True) -> None:
        try:
            self.api.stopProcessGroup(name, wait)
        except xmlrpc.client.Fault:
            pass

    def processes(self) -> list[dict[str, Any]]:
        return self.api.getAllProcessInfo()

    def shutdown(self) -> None:
        """Stop every program, the managed Redis (and its sentinels) last, then supervisord. stopAllProcesses alone
        signals all at once, Redis first, and an actor's last write at its SIGTERM (the buffer's history) met a Redis
        already gone (opday2)."""
        stores = (REDIS_PROGRAM, "redis-")  # the managed Redis, redis-server-N and redis-sentinel-N
        actors = [p["name"] for p in self.api.getAllProcessInfo()
                  if p["statename"] in (*LIVE_STATES, "BACKOFF") and not p["name"].startswith(stores)]
        for name in actors:
            self._stop_quietly(name, wait=False)
        deadline = time.monotonic() + ACTOR_STOP_WAIT_S
        while time.monotonic() < deadline and any(
                p["name"] in actors and p["statename"] in (*LIVE_STATES, "BACKOFF") for p in self.api.getAllProcessInfo()):
            time.sleep(0.05)
        self.api.stopAllProcesses()
        self.api.shutdown()


class LaunchError(Exception):
    pass


class SupervisorUnresponsive(LaunchError):
    """supervisord holds its socket but misses the deadline of a call (stopped, or wedged)."""


# The repo's supervisord.conf names every home's supervisord so (`up` writes it from that one).
SUPERVISORD_IDENTIFIER = "clustergate"


class ForeignSupervisord(LaunchError):
    """The supervisord answering on a home's socket is no clustergate home's (`--home /` on a host whose own
    supervisord listens on /run/supervisor.sock): `down` shut it down with its programs, `up` reloaded it (opcli)."""


# --------------------------------------------------------------------------- leftovers


@dataclass(frozen=True)
class HomeProcess:
    pid: int
    what: str  # "supervisord", "actor NAME", "redis-server"
    command: str


def _proc_args(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def home_processes(home: Home) -> list[HomeProcess]:
    """This user's processes that belong to this home, found by what carries its path: supervisord
    (`-c HOME/supervisord.conf`), actors (`--topology HOME/run/topology.yaml`), and the managed
    redis-server (it rewrites its command line, so by its working directory, HOME/run/redis).
    Linux /proc only; elsewhere an empty list."""
    found: list[HomeProcess] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    conf, topology, redis_dir = str(home.conf), str(home.topology), str(home.redis_dir)
    prometheus_data = str(home.run / "prometheus" / "data")  # launcher/monitor.py's data_dir
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        try:
            if os.stat(f"/proc/{pid}").st_uid != os.getuid():
                continue
            args = _proc_args(pid)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if not args:
            continue
        pairs = list(zip(args, args[1:]))
        if ("-c", conf) in pairs and any(a.endswith("supervisord") for a in args[:2]):
            # Not another supervisord whose conf sits there (`down --home /etc/supervisor` would stop the machine's
            # own); a conf gone since cannot tell, and is taken for the home's, as before.
            if home.conf.exists() and not _is_clustergate_conf(home.conf):
                continue
            found.append(HomeProcess(pid, "supervisord", " ".join(args)))
        elif ("--topology", topology) in pairs and any(a.startswith("actors.") for a in args):
            name = dict(pairs).get("--name", "?")
            found.append(HomeProcess(pid, f"actor {name}", " ".join(args)))
        elif ("--storage.tsdb.path", prometheus_data) in pairs:
            found.append(HomeProcess(pid, "prometheus", " ".join(args)))
        elif "redis-server" in os.path.basename(args[0].split()[0]):
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd == redis_dir or cwd.startswith(redis_dir + os.sep):
                found.append(HomeProcess(pid, "redis-server", " ".join(args)))
    return sorted(found, key=lambda p: p.pid)


def leftovers(home: Home, supervised: set[int]) -> list[HomeProcess]:
    """Processes of this home that no answering supervisord of this home runs."""
    return [p for p in home_processes(home) if p.pid not in supervised]


def stop_processes(procs: list[HomeProcess], timeout_s: float = 10.0) -> list[HomeProcess]:
    """SIGTERM each (supervisord first, so it does not restart the others), SIGKILL what is left
    after timeout_s; return those still alive."""
    ordered = sorted(procs, key=lambda p: p.what != "supervisord")
    for proc in ordered:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout_s
    alive = list(ordered)
    while alive:
        alive = [p for p in alive if _alive(p.pid)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for proc in alive:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p.pid)]
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


# --------------------------------------------------------------------------- readiness


SCRAPE_MAX_BYTES = 16 * 1024 * 1024  # an actor's page is kilobytes: more is something else on its port


class _DeadlineSocket:
    """A connected socket whose every write and read waits only until one deadline for the whole exchange (a
    per-read timeout alone let an endpoint that sends a byte now and then hold `status` for as long as it did)."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline

    def arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the metrics endpoint did not finish its answer in time")
        self.sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        self.arm()
        self.sock.sendall(data)

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        """Not yet: http.client closes its connection once it has the headers of an answer that ends with the
        connection, before the body is read (a socket's makefile keeps it open; scrape closes it when done)."""


class _DeadlineReader(io.RawIOBase):
    def __init__(self, owner: _DeadlineSocket):
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.owner.arm()
        return self.owner.sock.recv_into(buffer)


def metrics_url(host: str, port: int) -> str:
    """An actor's metrics URL, an IPv6 host bracketed (place_text): http://[::1]:PORT/metrics (revstatus: status said
    http://::1:PORT/metrics of actors on ::1, which curl refuses and a URL parser cannot split)."""
    from launcher.sentinel import place_text
    return f"http://{place_text((host, port))}/metrics"


def scrape(host: str, port: int, timeout_s: float = 1.0) -> dict[str, float]:
    """Every sample of the endpoint by its name and labels; OSError when nothing answers there, or something that
    is no metrics endpoint (a service that took a dead actor's port: no HTTP, not 200, or no UTF-8 text), or the
    whole answer took longer than timeout_s (connect, request and every read share that one deadline)."""
    deadline = time.monotonic() + timeout_s
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    raw: socket.socket | None = None
    try:
        conn.connect()
        raw = conn.sock
        conn.sock = _DeadlineSocket(raw, deadline)  # type: ignore[assignment]
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        if response.status != 200:
            raise OSError(f"{metrics_url(host, port)} answered HTTP {response.status} {response.reason}"[:300])
        body = response.read(SCRAPE_MAX_BYTES + 1)
        if len(body) > SCRAPE_MAX_BYTES:
            raise OSError(f"{metrics_url(host, port)} is no metrics endpoint: more than {SCRAPE_MAX_BYTES} bytes")
        text = body.decode()
    except (http.client.HTTPException, UnicodeDecodeError) as exc:
        raise OSError(f"{metrics_url(host, port)} is no metrics endpoint: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        conn.close()
        if raw is not None:
            raw.close()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def metric(sample: dict[str, float], name: str, default: float | None = None) -> float | None:
    """First sample whose name (ignoring labels) is `name`."""
    for key, value in sample.items():
        if key == name or key.startswith(name + "{"):
            return value
    return default


def actor_ready(topo: Topology, name: str) -> bool | None:
    """True/False from the actor's own readiness gauge (clustergate_actor_ready{actor=NAME}); None when the endpoint
    does not answer, or answers with another program's metrics (another actor's, left running by another home or
    another topology on that port: its readiness is not this actor's)."""
    return actor_answer(topo, name)[0]["ready"]


def actor_answer(topo: Topology, name: str) -> tuple[dict[str, Any], dict[str, float] | None]:
    """({"ready": actor_ready's answer, "loop_age_s": its main loop's age (None: unknown)}, and "not_ready_why"
    when its main loop is stuck (launcher.overview.loop_liveness), "redis_may_evict" when a permit issuer's Redis may
    evict keys (launcher.overview.redis_may_evict); the actor's metrics they were read from, None
    when they are not the actor's)."""
    spec = topo.actors[name]
    try:
        sample = scrape(spec.host, spec.metrics_port)
    except OSError:
        return {"ready": None, "loop_age_s": None}, None
    from launcher.overview import loop_liveness, own_readiness, redis_may_evict
    ready = own_readiness(sample, name)
    if ready is None:
        return {"ready": None, "loop_age_s": None}, None
    return {"ready": ready == 1.0, **loop_liveness(sample, name), **redis_may_evict(sample)}, sample


def each_at_once(names: list[str], ask: Callable[[str], Any]) -> dict[str, Any]:
    """{name: ask(name)}, all asked at once (16 at a time): a host down or a hung program costs one scrape's
    deadline, not one per actor."""
    if not names:
        return {}
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
        return dict(zip(names, pool.map(ask, names)))


def redis_ready(topo: Topology, name: str = REDIS_PROGRAM) -> bool:
    """The managed Redis program answers PING; a sentinel must also name a primary."""
    from launcher.resp import RedisUnavailable, ReplyError, ask_once  # not redis-py: 0.1 s of CPU each `up`
    prog = next((p for p in redis_programs(topo) if p.name == name), None)
    address, port = (prog.address, prog.port) if prog else (topo.redis.bind_address, topo.redis.port)
    try:  # one attempt within 0.5 s
        if prog is not None and prog.kind == "sentinel" and topo.redis.sentinel is not None:
            return bool(ask_once(address, port, topo.redis.password, 0.5,
                                 "SENTINEL", "get-master-addr-by-name", topo.redis.sentinel.master))
        return ask_once(address, port, topo.redis.password, 0.5, "PING") == "PONG"
    except (RedisUnavailable, ReplyError):
        return False


def _redis_role(topo: Topology, prog: RedisProgram) -> str | None:
    """A managed server's ROLE (master / slave), or for a sentinel the primary it names; None when silent."""
    from launcher.resp import RedisUnavailable, ReplyError, as_dict, ask_once
    from launcher.sentinel import place_text
    password = topo.redis.password
    try:
        if prog.kind == "sentinel" and topo.redis.sentinel is not None:
            master = topo.redis.sentinel.master
            named = ask_once(prog.address, prog.port, password, 0.5, "SENTINEL", "get-master-addr-by-name", master)
            if not named:
                return None
            # What it knows: a sentinel learns the replicas from the primary's INFO (every 10 s) and
            # the other sentinels from their hellos (every 2 s); until it knows a replica, a
            # primary crash cannot be failed over.
            state = as_dict(ask_once(prog.address, prog.port, password, 0.5, "SENTINEL", "MASTER", master))
            return (f"names {place_text((named[0], int(named[1])))}, knows {int(state.get('num-slaves', 0))} "
                    f"replica(s), {int(state.get('num-other-sentinels', 0))} other sentinel(s)")
        return str(ask_once(prog.address, prog.port, password, 0.5, "ROLE")[0])
    except (RedisUnavailable, ReplyError):
        return None


def _log_end(path: Path, max_bytes: int = 65536) -> list[str] | None:
    """The lines in the last max_bytes of a log, or None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode(errors="replace").splitlines()
    except OSError:
        return None


def tail(path: Path, lines: int = 15) -> str:
    end = _log_end(path)
    return "(no log yet)" if end is None else "\n".join(end[-lines:])


def last_log_line(path: Path) -> str:
    """The last non-empty line of a log (read from its end), or "" when there is none."""
    lines = [line.strip() for line in _log_end(path, 4096) or [] if line.strip()]
    return lines[-1] if lines else ""


def wait_until_ready(sup: Supervisor, topo: Topology, home: Home, timeout_s: float, out: Any = None) -> bool:
    """Poll until every program is ready; on failure print the logs' last lines, with the Redis
    password (which a log may echo) replaced by ***."""
    secrets = [topo.redis.password or ""]
    names = redis_program_names(topo) + list(topo.actors)
    deadline = time.monotonic() + timeout_s
    last_line = ""
    while True:
        try:
            infos = {p["name"]: p for p in sup.processes()}
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
            print(f"FAILED: supervisord of {home.root} stopped answering while up waited for the programs "
                  f"(`clustergate down` ran meanwhile, or it was killed): {exc}; `clustergate status --home "
                  f"{home.root}` shows what is left", file=sys.stderr)
            return False
        waiting: list[str] = []
        # One read of /proc's socket tables and fds a poll for every program being (re)started, not one a program:
        # each read costs about 10 ms of CPU (the kernel walks its whole TCP hash for /proc/net/tcp{,6}).
        holders = _holders_of(topo, home, [infos[name] for name in names
                                           if name in infos and infos[name]["statename"] in RESTARTING_STATES])
        for name in names:
            info = infos.get(name)
            state = info["statename"] if info else "MISSING"
            # FATAL will not recover; bad input (exit 2) will not be fixed by a retry. supervisord reports no
            # exit status for a program that exits within its start window, hence the log's last line.
            if info and (state == "FATAL" or (state in ("BACKOFF", "EXITED") and (
                    info.get("exitstatus") == EXIT_BAD_INPUT or last_log_line(home.log_of(name)) == EXIT_BAD_INPUT_LINE))):
                tell(redact(f"FAILED: program {name} is {state} ({info.get('spawnerr') or info.get('description')})", secrets), out)
                tell(f"--- last lines of {home.log_of(name)} ---\n{redact(tail(home.log_of(name)), secrets)}", out)
                return False
            # Restarted by supervisord in vain while another process holds what it binds: said now, not at the timeout.
            held = _held_by_others(sup, topo, home, info, holders) if info and state in RESTARTING_STATES else []
            # The poll's read may predate a restart since (a program seen in BACKOFF, started again and bound while
            # the programs before it were checked): a refusal is said only as a read of /proc now confirms it.
            held = held and _held_by_others(sup, topo, home, info, _holders_of(topo, home, [info]))
            if held:
                tell(f"FAILED: program {name} cannot bind {'; '.join(held)} (supervisord keeps restarting it, in "
                     f"vain while it is held)", out)
                tell(f"--- last lines of {home.log_of(name)} ---\n{redact(tail(home.log_of(name)), secrets)}", out)
                return False
            if state != "RUNNING":
                waiting.append(f"{name} ({state.lower()})")
                continue
            ready = redis_ready(topo, name) if name not in topo.actors else actor_ready(topo, name)
            if not ready:
                waiting.append(f"{name} ({'not ready' if ready is False else 'no metrics yet'})")
        done = len(names) - len(waiting)
        line = f"[{done}/{len(names)} ready] " + ("waiting for " + ", ".join(waiting) if waiting else "all ready")
        if line != last_line:
            tell(line, out)
            last_line = line
        if not waiting:
            return True
        if time.monotonic() > deadline:
            tell(f"FAILED: not ready after {timeout_s:.0f} s: {', '.join(waiting)}", out)
            for entry in waiting:
                name = entry.split(" ")[0]
                tell(f"--- last lines of {home.log_of(name)} ---\n{redact(tail(home.log_of(name)), secrets)}", out)
            return False
        time.sleep(0.2)


# A program supervisord is (re)starting: none of these is up yet, and a crash loop passes through them.
RESTARTING_STATES = ("STARTING", "BACKOFF", "EXITED")


def _holders_of(topo: Topology, home: Home, infos: list[dict[str, Any]]) -> dict[str, list[int]]:
    """every_holder_pid of every endpoint the programs of `infos` bind, read from /proc once for all of them."""
    endpoints = {in_home(endpoint, home): None for info in infos for _, endpoint in _claims(topo, info["name"])}
    return every_holder_pid(list(endpoints))


def _held_by_others(sup: Supervisor, topo: Topology, home: Home, info: dict[str, Any],
                    holders: dict[str, list[int]]) -> list[str]:
    """"WHERE: ENDPOINT is already in use by another process (HOLDER)" for each endpoint the program binds that a
    process other than its own (its pid, or a child of it) holds, read from /proc; a program with no process (BACKOFF,
    EXITED) has its endpoints probed too, for a holder /proc does not show (another user's), unless supervisord now runs
    a process for it. Holders none of which is the program's process at the read are checked again against its process
    now (supervisord may have started it, or started it again as another pid, and it bound the endpoint since), then
    refused only while a probe finds the endpoint in use (/proc shows neither IPV6_V6ONLY nor SO_REUSEADDR). A holder
    run by this supervisord (a program of another file) is named as this home's program, not another system to stop.
    `holders`: _holders_of the programs being (re)started, this one among them."""
    claims = [(where, in_home(endpoint, home)) for where, endpoint in _claims(topo, info["name"])]
    pid = info.get("pid") or 0
    said = []
    for where, endpoint in claims:
        found = holders.get(endpoint, [])
        if not found:
            problem = None if pid else endpoint_problem_now(endpoint)
            # In use while the program had no process at the read: it may have been started since and bound it itself
            # (its process is then known to supervisord before it binds anything); judged at the next poll if so.
            if problem is not None and not _pid_now(sup, info["name"]):
                said.append(f"{where}: {endpoint + ' ' if problem.startswith('is ') else ''}{problem}")
            continue
        # Its process at the read, or its process now: supervisord may have started it (again) since, as another pid.
        if any(pid in _pid_and_parents(h) for h in found) or _now_holds(sup, info["name"], found):
            continue
        # A socket /proc counts may not keep the program from binding (a [::] IPv6-only, which /proc does not show):
        # held only while a bind of it fails now.
        if endpoint_problem_now(endpoint) is None:
            continue
        holder = found[0]
        what = f"port {split_tcp(endpoint)[1]}" if endpoint.startswith("tcp://") else endpoint
        own = _own_program_of(sup, holder)  # one of another file (monitor up's prometheus): not `down` this home
        if own:
            said.append(f"{where}: {what} is already in use by this home's program {own} (pid {holder})")
            continue
        by = _holder_of(holder, changed=True)
        said.append(f"{where}: {what} is already in use by another process{by if by.startswith(':') else f' ({by})'}")
    return said


def _own_program_of(sup: Supervisor, pid: int) -> str | None:
    """The name of the program of this supervisord whose process is pid or one of its parents, or None."""
    try:
        programs = {info["pid"]: info["name"] for info in sup.processes() if info["pid"]}
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException):
        return None
    return next((programs[p] for p in _pid_and_parents(pid) if p in programs), None)


def _pid_now(sup: Supervisor, name: str) -> int:
    """The program's process as supervisord says it now (started since it was read, or started again as another pid);
    0 for none, or when supervisord does not answer."""
    try:
        return sup.api.getProcessInfo(name)["pid"] or 0
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException):
        return 0


def _now_holds(sup: Supervisor, name: str, holders: list[int]) -> bool:
    """Whether the program's process now (supervisord asked again) is one of `holders` or a parent of one."""
    pid = _pid_now(sup, name)
    return bool(pid) and any(pid in _pid_and_parents(holder) for holder in holders)


# --------------------------------------------------------------------------- commands


def _program_sections(text: str) -> dict[str, str]:
    """Rendered programs text -> {program name: its section}: a section starts a line, as supervisord reads it."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"^\[program:", text, flags=re.MULTILINE)[1:]:
        name = chunk.partition("]")[0]
        sections[name] = chunk
    return sections


def _claims(topo: Topology, name: str) -> list[tuple[str, str]]:
    """(YAML path, bind endpoint) of everything program `name` binds: its ports and ipc paths."""
    for prog in redis_programs(topo):
        if prog.name == name:
            where = "redis.port" if name == REDIS_PROGRAM else f"redis.sentinel.{prog.kind}s[{prog.index}]"
            host = f"[{prog.address}]" if ":" in prog.address else prog.address
            return [(where, f"tcp://{host}:{prog.port}")]
    spec = topo.actors.get(name)
    if spec is None:
        return []
    host = f"[{spec.host}]" if ":" in spec.host else spec.host
    claims = [(f"actors.{name}.metrics_port", f"tcp://{host}:{spec.metrics_port}")]
    claims += [(f"actors.{name}.sockets.{role}.bind", s.bind) for role, s in spec.sockets.items() if s.bind]
    return claims


def in_home(endpoint: str, home: Home) -> str:
    """The endpoint an actor of this home binds: a relative ipc:// path lives under run/ipc/."""
    if endpoint.startswith("ipc://") and not endpoint[len("ipc://"):].startswith("/"):
        return f"ipc://{home.ipc_dir / endpoint[len('ipc://'):]}"
    return endpoint


def out_of_home(endpoint: str, home: Home) -> str:
    """The relative ipc:// path in_home turns into this endpoint (the endpoint itself if none does)."""
    inside = f"ipc://{home.ipc_dir}/"
    if endpoint.startswith(inside) and in_home(f"ipc://{endpoint[len(inside):]}", home) == endpoint:
        return f"ipc://{endpoint[len(inside):]}"
    return endpoint


def _busy_endpoints(topo: Topology, programs: list[str], held: set[str], home: Home,
                    releasing: set[int] | None = None, kept: dict[int, str] | None = None) -> list[str]:
    """Problems with the ports and ipc paths the programs about to start will bind; `held` are the
    endpoints this home's running system binds now (a program restarted frees its own), and an endpoint held by a
    process of `releasing` (the pids of this home's programs the change stops: changed or removed) is free too, read
    from /proc, for a running copy that no longer says what binds what. Endpoints in use are
    told by who holds them, one line per holder (another clustergate home: which, and how to stop it)."""
    problems, in_use = [], []
    for name in programs:
        for where, endpoint in _claims(topo, name):
            endpoint = in_home(endpoint, home)
            if _held_by_running(endpoint, held):
                continue
            problem = endpoint_problem_now(endpoint)
            if problem is None:
                continue
            if "already in use" in problem:
                in_use.append((where, endpoint, problem))
            elif endpoint.startswith("ipc://"):
                problems.append(f"{where}: {endpoint} {problem}" if problem.startswith("is ") else f"{where}: {endpoint}: {problem}")
            else:
                problems.append(f"{where}: {problem}")
    if in_use and releasing:
        holders = holder_pids([endpoint for _, endpoint, _ in in_use])
        in_use = [item for item in in_use if not releasing.intersection(_pid_and_parents(holders.get(item[1])))]
    return in_use_lines(in_use, kept) + problems


def _pid_and_parents(pid: int | None, depth: int = 8) -> list[int]:
    """pid and its parents up to `depth` of them (from /proc; fewer where one has ended), or [] for None."""
    chain: list[int] = []
    while pid is not None and pid > 1 and len(chain) <= depth:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def in_use_lines(in_use: list[tuple[str, str, str]], kept: dict[int, str] | None = None) -> list[str]:
    """(YAML path, endpoint, problem) of endpoints in use -> one line per holder: a clustergate home (its
    supervisord, an actor or its Redis) is named with the command that stops it; another process by pid and name; a
    program of this home the change keeps running (kept: pid -> name) by its name."""
    pids = holder_pids([endpoint for _, endpoint, _ in in_use])
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for item in in_use:
        pid = pids.get(item[1])
        own = next((kept[p] for p in _pid_and_parents(pid) if p in kept), None) if kept else None
        # A program of this home was named `another clustergate system, home HOME` to stop, HOME this very home.
        holder = (f": this home's program {own} (pid {pid}), which this change keeps running; give this topology "
                  f"another endpoint; nothing was changed" if own else _holder_of(pid))
        groups.setdefault(holder, []).append(item)
    lines = []
    for holder, items in groups.items():
        # another clustergate system: ": another clustergate system, ..."; another process: " (pid N: COMMAND)"
        suffix = holder if holder.startswith(":") or not holder else f" ({holder})"
        if len(items) == 1:
            where, endpoint, problem = items[0]
            lines.append(f"{where}: {endpoint + ' ' if endpoint.startswith('ipc://') else ''}{problem}{suffix}")
            continue
        ports = sorted(split_tcp(e)[1] for _, e, _ in items if e.startswith("tcp://"))
        named = [_port_ranges(ports)] if ports else []
        named += [e for _, e, _ in items if not e.startswith("tcp://")]
        wheres = ", ".join(where for where, _, _ in items) if len(items) <= 3 else f"{len(items)} of this topology's"
        lines.append(f"{', '.join(named)} ({wheres}) are already in use by another process{suffix}")
    return lines


def _port_ranges(ports: list[int]) -> str:
    """"ports 5551-5557, 6391, 9181-9188" of sorted port numbers."""
    spans: list[list[int]] = []
    for port in ports:
        if spans and port == spans[-1][1] + 1:
            spans[-1][1] = port
        else:
            spans.append([port, port])
    return "ports " + ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _holder_of(pid: int | None, changed: bool = False) -> str:
    """Who holds an endpoint, for a refusal (once this `up` changed the system, if `changed`): ": another clustergate
    system, home ..." (its topology, and the `down` that stops it), else "pid N: COMMAND"; "" when unknown."""
    if pid is None:
        return ""
    root = clustergate_home_of(pid)
    if root is None:
        try:
            command = " ".join(_proc_args(pid))[:120]
        except OSError:
            command = ""
        return f"pid {pid}" + (f": {printable(command)}" if command else "")
    other = Home(root)
    name = running_topology_name(other)
    sup_pid = Supervisor(other).pid()
    about = ", ".join(filter(None, [f"topology {name!r}" if name else "", f"supervisord pid {sup_pid}" if sup_pid else ""]))
    return (f": another clustergate system, home {root}" + (f" ({about})" if about else "")
            + f"; stop it with `{as_typed()} down --home {shlex.quote(str(root))}`, or give this topology other ports"
            + ("" if changed else "; nothing was changed"))


def clustergate_home_of(pid: int) -> Path | None:
    """The home of the clustergate system pid belongs to (its supervisord, an actor, or a managed redis-server, found
    by itself or its parents as home_processes finds them), or None."""
    for _ in range(8):
        try:
            args = _proc_args(pid)
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        pairs = dict(zip(args, args[1:]))
        conf, topology = pairs.get("-c", ""), pairs.get("--topology", "")
        if any(a.endswith("supervisord") for a in args[:2]) and conf.endswith("/supervisord.conf"):
            # another supervisord (the machine's own, -c /etc/supervisor/supervisord.conf) is no clustergate home,
            # and `down --home` of it would stop it
            return Path(conf).parent if _is_clustergate_conf(Path(conf)) else None
        if any(a.startswith("actors.") for a in args) and topology.endswith("/run/topology.yaml"):
            return Path(topology).parent.parent
        if parent <= 1:
            return None
        pid = parent
    return None


def _is_clustergate_conf(conf: Path) -> bool:
    """conf is a supervisord.conf `up` wrote (from the repo's, which names its supervisord `identifier=clustergate`)."""
    try:
        text = conf.read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*identifier\s*=\s*clustergate\s*$", text, re.MULTILINE) is not None


def _claims_dir() -> Path:
    """Where `up` keeps one lock file per port and ipc path it is starting a program on (this user's)."""
    given = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(given or "/tmp") / f"clustergate-claims-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        whence = f" ($XDG_RUNTIME_DIR={given}, perhaps another session's: unset it, or set it to a directory of yours)" if given else ""
        raise LaunchError(f"cannot make {path}, where `up` locks the ports it starts programs on: "
                          f"{exc.strerror}{whence}; nothing was changed") from None
    info = path.lstat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077 or not stat.S_ISDIR(info.st_mode):
        raise LaunchError(f"{path} is not a directory private to this user (mode {stat.S_IMODE(info.st_mode):04o}, "
                          f"uid {info.st_uid}): remove it, and run up again")
    return path


def claim_endpoints(topo: Topology, programs: list[str], held: set[str], home: Home) -> tuple[list[Any], list[str]]:
    """Lock every port and ipc path the programs about to start will bind, for as long as this `up`
    runs: the busy check and the bind are not atomic, so two `up`s (of any homes) that check at the
    same moment would both start and fight over the same ports. Returns (open lock files, problems);
    on any problem every lock is released. The kernel drops the locks when `up` exits; release_claims
    also removes their files."""
    if not programs:
        return [], []
    directory = _claims_dir()
    claims: list[Any] = []
    for name in programs:
        for where, endpoint in _claims(topo, name):
            endpoint = in_home(endpoint, home)
            if _held_by_running(endpoint, held):
                continue
            key = hashlib.sha256(_held_key(endpoint).encode()).hexdigest()[:24]
            lock, holder = _claim(directory / f"{key}.lock", f"pid {os.getpid()}, home {home.root}")
            if lock is None:
                release_claims(claims)
                by = f" ({holder})" if holder else ""
                return [], [f"{where}: another `clustergate up` is starting a program on {endpoint} right now{by}"]
            claims.append(lock)
    return claims, []


def _claim(path: Path, holder: str) -> tuple[Any, str]:
    """(the open file of path, locked, holder written in it), or (None, what its holder wrote) when another holds it.
    A lock is only a claim while its file is still at path: one taken on a file its holder removed on release
    (release_claims) claims nothing, and the file now at path is tried instead."""
    for _ in range(10):
        lock = open(path, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            said = lock_holder(lock.fileno())
            lock.close()
            return None, said
        if _at_its_path(lock):
            lock.seek(0)
            lock.truncate()
            lock.write(holder + "\n")
            lock.flush()
            return lock, ""
        lock.close()
    return None, ""


def release_claims(claims: list[Any]) -> None:
    """Remove each claim's file, then let go of its lock (in that order: a file is only removed by its holder), and
    empty the list."""
    for lock in claims:
        try:
            os.unlink(lock.name)
        except OSError:
            pass
        lock.close()
    claims.clear()


def _net_namespace() -> str:
    """This process's network namespace (its inode): ports of different namespaces never clash (a
    multi-host topology's hosts tried on one machine, each in its own namespace)."""
    try:
        return str(os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        return ""


def _held_key(endpoint: str) -> str:
    if endpoint.startswith("tcp://"):
        return f"tcp:{_net_namespace()}:" + endpoint.rpartition(":")[2]
    return endpoint


# A program in these states has a process that may hold its ports; STOPPED, BACKOFF, EXITED and FATAL have none.
LIVE_STATES = ("STARTING", "RUNNING", "STOPPING")
STOPPABLE_STATES = (*LIVE_STATES, "BACKOFF")  # a stop leaves a crash-looping program STOPPED too


def never_starting_by_themselves(infos: list[dict[str, Any]]) -> list[str]:
    """The programs supervisord will not start again by itself: stopped by hand (STOPPED) or given up on after
    `startretries` failed starts (FATAL). BACKOFF and EXITED programs are restarted by supervisord."""
    return [p["name"] for p in infos if p["statename"] in ("STOPPED", "FATAL")]


def _held_endpoints(home: Home, live: set[str]) -> set[str]:
    """The tcp and ipc endpoints the home's running topology binds through its live programs (empty when it cannot
    be read): a port of a program stopped by hand, or failing, is free only if no other process took it."""
    try:
        running, _ = load_running_copy(home.topology)
    except SchemaError:
        return set()
    names = [n for n in redis_program_names(running) + list(running.actors) if n in live]
    return {endpoint for name in names for _, endpoint in _claims(running, name)}


def _held_by_running(endpoint: str, held: set[str]) -> bool:
    """Whether the home's running system binds `endpoint` (held: _held_endpoints), or one that keeps it from binding,
    which a program restarted frees: a tcp port held on an address that clashes with this one's (tcp_binds_clash),
    not one on another address of the port, which the kernel binds beside it: whatever holds this one is checked."""
    if not endpoint.startswith("tcp://"):
        return endpoint in held
    return any(other.startswith("tcp://") and tcp_binds_clash(endpoint, other) for other in held)


def running_topology_name(home: Home) -> str | None:
    """The name in the home's running copy (run/topology.yaml), read as plain YAML; None when it cannot be read."""
    try:
        data = yaml.safe_load(home.topology.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def running_copy(home: Home) -> Any:
    """The home's running copy read as plain YAML (not validated); None when it cannot be read."""
    try:
        return yaml.safe_load(home.topology.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None


def running_cadence_s(data: Any) -> float | None:
    """clusters.cadence_s of a running copy (running_copy; its default when not given); None when it has none."""
    clusters = data.get("clusters", {}) if isinstance(data, dict) else None
    value = clusters.get("cadence_s", ClustersConfig().cadence_s) if isinstance(clusters, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def running_symbols(data: Any) -> list[str] | None:
    """symbols of a running copy (running_copy); None when it has none."""
    symbols = data.get("symbols") if isinstance(data, dict) else None
    return [s for s in symbols if isinstance(s, str)] if isinstance(symbols, list) else None


def removed_held_notes(old_symbols: list[str] | None, topo: Topology) -> list[str]:
    """A line for each symbol the change takes out of `symbols` while its position snapshot is fresh and held: the gates
    read allowlisted snapshots alone, so its notional leaves the book's heat, concentration, corr_proxy and stress (and
    status shows allowlisted symbols alone; `positions list` lists it NOT IN SYMBOLS)."""
    removed = [s for s in old_symbols or [] if s not in topo.symbols]
    if not removed or not topo.actors_of_kind("gate"):
        return []
    import redis

    from actors.snapshots import HELD_MIN_NOTIONAL, read_snapshot  # I/O-free; not loaded while the CLI is built
    from launcher import keys
    from launcher.redis_conn import connect
    pattern = topo.positions.key_pattern
    try:
        client = connect(topo.redis, decode_responses=False)  # a snapshot's values may hold any bytes
        try:
            pipe = client.pipeline(transaction=False)
            for symbol in removed:
                pipe.hmget(keys.position_snapshot(symbol, pattern), "position_amt", "mark_price", "ts_epoch",
                           "notional_usd")
            replies = pipe.execute(raise_on_error=False)
        finally:
            client.close()
        now = time.time()
        signed = {s: read_snapshot(*reply, now, topo.positions.stale_after_s)[0] for s, reply in zip(removed, replies)
                  if not isinstance(reply, Exception)}  # a key of another type: not held, as the gates read it
    except redis.RedisError as exc:
        return [f"{', '.join(removed)} left symbols; whether a position is held there was not read (Redis: {exc}): "
                f"the gates no longer count one in the book's heat, concentration and stress"]
    return [f"{s} left symbols while its position snapshot ({keys.position_snapshot(s, pattern)}) is fresh and held "
            f"({'long' if v > 0 else 'short'}, notional {abs(v):,.2f}): the gates no longer count it in the book's heat, "
            f"concentration, corr_proxy and stress (weights over the other symbols alone) while the execution layer "
            f"holds it" for s, v in signed.items() if v is not None and abs(v) > HELD_MIN_NOTIONAL]


def cadence_change_note(old_s: float | None, topo: Topology) -> str | None:
    """What `up` says when it changes the cadence of a topology with a buffer: the buffer discards its saved history
    (a grid of the old cadence), and the cluster side warms up again with the gates on the proxy."""
    new_s = topo.clusters.cadence_s
    if old_s is None or old_s == new_s or not topo.actors_of_kind("buffer"):
        return None
    n = topo.clusters.min_returns
    return (f"clusters.cadence_s changed from {old_s:g} s to {new_s:g} s: the buffer's saved history (a grid of the "
            f"old cadence) is discarded; the cluster side warms up again, min_returns ({n}) cadences ({n * new_s:g} s) "
            f"and more, with the gates taking K from the proxy meanwhile")


def _wait_gone(pid: int | None, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid is not None and _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _describe_leftovers(procs: list[HomeProcess]) -> str:
    return ", ".join(f"pid {p.pid} ({p.what})" for p in procs)


def cmd_up(args: argparse.Namespace) -> int:
    """All or nothing: every check (topology, binary, password, leftovers, ports, disk) runs before
    anything changes; the new files are staged as .tmp and switched in only then; a failure leaves
    the running system and its files as they were. One `up` per home at a time."""
    topo = load_or_report(args.file)
    if topo is None:
        return 2
    expected = getattr(args, "expect_sha256", None)
    validated = text_sha256(topo.source_text or "") if expected else None
    if expected and validated != expected:
        print(f"{args.file}: is not the text the deploy validated (SHA-256 {validated[:16]}, "
              f"the deploy's {expected[:16]}): the file was edited during the deploy, or this host's copy at that path "
              f"differs; nothing was changed", file=sys.stderr)
        return 2
    from launcher.hosts import host_problem, host_view
    problem = host_problem(topo, getattr(args, "host", None))
    if problem:
        print(f"{args.file}: {problem}", file=sys.stderr)
        return 2
    if getattr(args, "host", None):
        from launcher.hosts import missing_secrets, remote_redis_password_problem
        missing = missing_secrets(topo, args.host)
        remote = remote_redis_password_problem(topo, args.host)
        if remote:
            missing.append(remote)
        for line in missing:
            print(f"{args.file}: {line}", file=sys.stderr)
        if missing:
            return 2
        topo = host_view(topo, args.host)
    home = home_from(args)
    problem = home_path_problem(home)
    if problem:
        print(f"FAILED: {problem}; nothing was changed", file=sys.stderr)
        return 2
    for _ in range(3):  # again when a refused `up` of a new home removed it while this one waited for its locks
        try:
            created = home.prepare()
        except (OSError, WriteFailed) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        try:
            lock = open(home.run / "up.lock", "a+")
        except OSError as exc:
            undo_prepare(home, created, locks_held=False)
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        with lock, ChangeLock(home, "up") as change:
            code = _up_under_locks(args, topo, home, lock, change, created)
            if code is None:
                continue
            if code and not change.switched and change.file is not None and _holds(lock):
                undo_prepare(home, created)  # refused with nothing switched in: leave nothing it made
            return code
    print(f"FAILED: {home.root} was removed again and again while this `up` waited for it; nothing was changed",
          file=sys.stderr)
    return 1


def _holds(lock: Any) -> bool:
    """Whether this process holds the flock of the open file `lock` still at its path (an exclusive lock taken
    again by its holder succeeds; another holder's makes it fail)."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return _at_its_path(lock)


def _at_its_path(f: Any) -> bool:
    """The open file `f` is still the file at its path (not removed, nor replaced)."""
    try:
        return os.path.samestat(os.fstat(f.fileno()), os.stat(f.name))
    except OSError:
        return False


def _up_under_locks(args: argparse.Namespace, topo: Topology, home: Home, lock: Any, change: "ChangeLock",
                    created: list[Path]) -> int | None:
    """cmd_up once its home is prepared: None when the home was removed meanwhile (prepare it again)."""
    claims: list[Any] = []  # the port claims _up_locked takes, released (their files removed) on every way out
    try:
        if not change.take():  # first: a `down` waiting for this `up` sees it as soon as up.lock is held
            return 1
        if change.file is None or not _at_its_path(lock):
            return None  # the refused `up` that made this home removed it while this one waited
        lost = deploy_lost_host(home, getattr(args, "deploy_id", None))
        if lost:  # under the change lock: the next deploy's `up` on this host waits for this one
            print(f"FAILED: {lost}; nothing was changed", file=sys.stderr)
            return 2
        # Refused after "waiting for ... to finish" when that `up` let go of change.lock, its change applied, and waits
        # for its programs holding up.lock alone (lnrev: the wait, then this refusal at once, read as a contradiction).
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"FAILED: another `clustergate up` is running for {home.root} (its change applied, it is waiting for "
                  f"its programs to be ready); nothing was changed: wait for it to finish", file=sys.stderr)
            return 1
        return _up_locked(args, topo, home, change, created, claims)
    except KeyboardInterrupt:  # from the change on, _up_locked answers an interrupt itself
        print("interrupted before anything was changed", file=sys.stderr)
        return 130
    finally:
        release_claims(claims)


def lock_holder(fd: int) -> str:
    """What the holder of the lock file open at fd wrote in it, as printable() shows it (a lock file is anyone's to
    write)."""
    return printable(os.pread(fd, 4 * HOLDER_MAX_CHARS, 0).decode(errors="replace").strip())


def deploy_lost_host(home: Home, deploy_id: str | None, command: str = "up") -> str | None:
    """Why an `up` (a `down`) that deploy `deploy_id` started must not change this home (None: it may, or no deploy started it):
    that deploy no longer holds the host's deploy lock (it was killed, or another deploy holds the lock now)."""
    if deploy_id is None:
        return None
    path = home.deploying_lock
    holder = ""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        return f"the deploy {deploy_id} that started this `{command}` does not hold {path} ({exc.strerror})"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(fd)
    finally:
        os.close(fd)
    if holder.startswith(f"deploy {deploy_id} "):
        return None
    return (f"the deploy {deploy_id} that started this `{command}` no longer holds {path} (it was killed or ended"
            + (f"; {holder} holds it now)" if holder else ")"))


def _up_locked(args: argparse.Namespace, topo: Topology, home: Home, change: "ChangeLock", created: list[Path],
               claims: list[Any]) -> int:
    redis_binary = None
    if topo.redis.managed:
        redis_binary = find_redis_server()
        if redis_binary is None:
            print(f"cannot start managed Redis: {INSTALL_HINT}", file=sys.stderr)
            return 1
        broken = binary_problem(redis_binary)
        if broken:
            print(f"FAILED: cannot start managed Redis: {broken}; nothing was changed", file=sys.stderr)
            return 1
    sup = Supervisor(home)
    try:
        was_running = sup.running()
    except SupervisorUnresponsive as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except ForeignSupervisord as exc:  # before anything is written: cmd_up removes what it made
        print(f"FAILED: {exc}; nothing was changed", file=sys.stderr)
        return 1
    if not was_running:
        stray = leftovers(home, supervised=set())
        if stray:
            print(f"FAILED: processes of {home.root} are still running with no supervisord: "
                  f"{_describe_leftovers(stray)}; `clustergate down --home {home.root}` stops them", file=sys.stderr)
            return 1
    running_name = running_topology_name(home) if was_running else None
    if running_name is not None and running_name != topo.name and not getattr(args, "replace", False):
        print(f"FAILED: {home.root} runs topology {running_name!r}, and {args.file} is topology {topo.name!r}: `up` "
              f"would replace the running system with another one; nothing was changed. To replace it give --replace "
              f"(or `clustergate down --home {home.root}` first); to run both, give the new one another --home",
              file=sys.stderr)
        return 1
    problem = password_problem(topo, home, was_running)
    if problem:
        print(f"{args.file}: redis: {problem}", file=sys.stderr)
        return 2
    try:
        topology_text = topology_copy(topo, home)
        redis_files = render_redis_files(topo, home)
        for path in redis_files:
            for directory in [*reversed(path.parent.parents), path.parent]:
                make_dir(directory, created)
        redis_text = redis_files.get(_password_conf(topo, home))
        rendered = (render_programs(topo, home, redis_binary=redis_binary) + copy_sha_line(topology_text)
                    + f"; config hash version {CONFIG_HASH_VERSION}\n")
    except WriteFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (LaunchError, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    previous = home.programs.read_text() if home.programs.exists() else ""
    old_sections, new_sections = _program_sections(previous), _program_sections(rendered)
    try:  # a program that never starts by itself is started by `up` (its ports are checked like a new one's)
        infos = sup.processes() if was_running else []
        stopped_by_hand = never_starting_by_themselves(infos)
    except (LaunchError, OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
        print(f"FAILED: supervisord of {home.root} did not list its programs: {exc}; nothing was changed", file=sys.stderr)
        return 1
    not_run = {n for n in new_sections if n not in {p["name"] for p in infos}}  # supervisord adds them: check them too
    interrupted_up = left_stopped_by_up(home, infos)  # read before this `up` writes its own record there
    to_start = [n for n in new_sections if not was_running or old_sections.get(n) != new_sections[n]
                or n in stopped_by_hand or n in not_run]
    held = _held_endpoints(home, {p["name"] for p in infos if p["statename"] in LIVE_STATES}) if was_running else set()
    try:
        taken, busy = claim_endpoints(topo, to_start, held, home)
        claims.extend(taken)
    except (LaunchError, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    # A running copy edited or removed by hand no longer says what binds what: the programs the change stops free
    # theirs whatever it says (it named this very home `another clustergate system` to stop, and refused the `up`
    # that status's EDITED line asks for).
    # Only programs of its own file (run/programs.d/clustergate.conf): one of another file (monitor up's prometheus)
    # is kept, and its port counted free put the gate onto it, to crash-loop to FATAL (lnrev2).
    releasing = {p["pid"] for p in infos if p["pid"] and p["statename"] in LIVE_STATES
                 and (p["name"] in to_start or (p["name"] in old_sections and p["name"] not in new_sections))}
    kept = {p["pid"]: p["name"] for p in infos
            if p["pid"] and p["statename"] in LIVE_STATES and p["pid"] not in releasing}
    busy = busy or _busy_endpoints(topo, to_start, held, home, releasing, kept)
    if busy:
        for line in busy:
            print(f"{args.file}: {line}", file=sys.stderr)
        return 1
    password_conf = _password_conf(topo, home)
    old_password = _requirepass(password_conf.read_text()) if password_conf.exists() else None
    files: dict[Path, tuple[str, int]] = {home.topology: (topology_text, 0o644), home.programs: (rendered, 0o644)}
    for path, text in redis_files.items():
        files[path] = (text, 0o600)
    backup = {path: path.read_bytes() if path.exists() else None for path in files}
    running = running_copy(home) if home.topology.exists() else None  # read once, before the copy is switched
    cadence_note = cadence_change_note(running_cadence_s(running), topo)
    old_symbols = running_symbols(running)
    # Stopped (`down`, edit, `up`): a managed Redis answers only once started, so the notes come after the wait below.
    removed_notes = removed_held_notes(old_symbols, topo) if was_running else []
    interrupt = DeferredInterrupt()  # a change is applied whole: Ctrl-C, a kill or a hang-up waits for its end
    try:
        with interrupt:
            try:
                stage_files(files)
            except WriteFailed as exc:
                tell(f"FAILED: {exc}", sys.stderr)
                return 1
            switch_files(list(files))
            change.switched = True
            # supervisord's environment is the actors': a new password reaches them only through a new supervisord.
            password_changed = was_running and ((redis_text is not None and _requirepass(redis_text) != old_password)
                                                or password_differs_from_running(topo, home))
            # What a killed `up` left stopped, which this one starts: its record is replaced by this one's once this
            # one stops a program (until then it names the killed `up`, also when this one fails before). Each
            # program this one stops is recorded just before its stop (crash-looping ones too: a stop leaves them
            # STOPPED) and released once supervisord runs it again: an `up` killed part-way is named (status, the next
            # up) for what it stopped, not for a program it never reached.
            stopping = [n for n in (interrupted_up or {}).get("programs", [])]
            taken = taken_over(interrupted_up)  # each keeps its owner: this one, failed, is not named for them
            stoppable = {p["name"] for p in infos if p["statename"] in STOPPABLE_STATES}
            def keeping_record(write: Callable[[], None]) -> None:
                """A write of the record that fails (disk full, its temp file held by another process) is said: the
                record only names what an `up` killed part-way left stopped, and a change left half-applied for it
                (the previous files put back under programs already restarted with the new ones) is worse."""
                try:
                    write()
                except OSError as exc:
                    tell(record_unwritten(home, exc, "up"), sys.stderr)

            if password_changed:  # supervisord shut down: every program at once
                stopping += [p["name"] for p in infos if p["name"] in stoppable and p["name"] not in stopping]
                if stopping:  # unwritten, said: the files were switched in, supervisord must run them
                    keeping_record(lambda: proof_stops.record(home.run, "up", stopping, proof_stops.UP_FILE, taken))

            def recording(name: str) -> None:
                if name in stoppable and name not in stopping:
                    stopping.append(name)
                    keeping_record(lambda: proof_stops.record(home.run, "up", stopping, proof_stops.UP_FILE, taken))

            def back(name: str) -> None:  # supervisord runs it again (or no longer has it): no record names it
                if name in stopping:
                    stopping.remove(name)
                keeping_record(lambda: proof_stops.release(home.run, [name], proof_stops.UP_FILE))

            reread: list[bool] = []  # set once supervisord may hold the new files: a failure then puts it back too
            shut: list[bool] = []  # set once the previous supervisord was shut down for a new Redis password
            try:
                if password_changed:
                    tell("the Redis password changed: restarting supervisord and every program it runs with the new one")
                    _shutdown(sup, home)
                    shut.append(True)
                    sup.start_daemon()
                elif was_running:
                    added, changed, removed = sup.apply_config(recording, back, lambda: reread.append(True))
                    tell(f"updated {topo.name}: added {added or '-'}, restarted {changed or '-'}, removed {removed or '-'}")
                    restart = [n for n in new_sections if n in stopped_by_hand and n not in changed and n not in added]
                    for name in restart:
                        sup.api.startProcess(name, False)
                    by_up = [n for n in restart if interrupted_up and n in interrupted_up["programs"]]
                    for line in started_left_stopped(interrupted_up, by_up):
                        tell(line)
                    if len(by_up) < len(restart):
                        tell(f"started (stopped by hand or given up by supervisord): "
                             f"{[n for n in restart if n not in by_up]}")
                else:
                    tell(f"starting supervisord ({home.conf}) for topology {topo.name}")
                    sup.start_daemon()
            except (LaunchError, xmlrpc.client.Fault, OSError) as exc:
                _restore(backup)
                rolled_back = ""
                if reread:  # supervisord may run the new files' programs: it is put back on the previous ones too
                    rolled_back = roll_back(sup, home, args.file, lambda: [n for n in stopping if n not in taken],
                                            recording, back)
                elif password_changed:  # it shut supervisord down, every program with it: say what runs now
                    rolled_back = not_restarted(sup, home, args.file, topo.redis.password_env, bool(shut))
                proof_stops.fail(home.run, proof_stops.UP_FILE)  # what it stopped is named as a failed `up`'s
                tell(f"FAILED: {exc}; the previous files are back in {home.run}{rolled_back}", sys.stderr)
                return 1
            if cadence_note:
                tell(cadence_note)
            for note in removed_notes:
                tell(note)
            interrupt.applied = True
            proof_stops.forget_ended_proof(home.run)  # what a killed proof left stopped was started with the rest
            keeping_record(lambda: proof_stops.release(home.run, stopping, proof_stops.UP_FILE))  # applied: said
            proof_stops.forget_ended_proof(home.run, proof_stops.UP_FILE)  # and what a killed `up` left
        change.release()  # applied (supervisord runs it): a `down` from now on stops what it started
        if interrupt.signum:
            tell(f"interrupted ({signal.Signals(interrupt.signum).name}): the change was applied and supervisord is "
                  f"starting its programs; `{as_typed()} status --home {shlex.quote(str(home.root))}` shows when they are ready", sys.stderr)
            return 128 + interrupt.signum
        ok = wait_until_ready(sup, topo, home, args.timeout)
        if not was_running:
            for note in removed_held_notes(old_symbols, topo):
                tell(note)
    except KeyboardInterrupt:
        if not interrupt.applied:
            raise  # before the change began, or it failed and its files are back: cmd_up says nothing was changed
        tell(f"interrupted while waiting: the change was applied and supervisord keeps starting its programs; "
              f"`{as_typed()} status --home {shlex.quote(str(home.root))}` shows when they are ready", sys.stderr)
        return 130
    release_claims(claims)  # held until the programs are up (or up gave up): the next up sees them bound
    if ok:
        # Another home than plain `status` finds (--home, $CLUSTERGATE_HOME, the repo root) is named in the hint.
        named = "" if home.root == home_from(argparse.Namespace(home=None)).root else f" --home {shlex.quote(str(home.root))}"
        print(f"{topo.name} is up: `{as_typed()} status{named}` shows it; logs in {home.logs}")
    return 0 if ok else 1


def as_typed() -> str:
    """The launcher as the operator can type it in the shell that ran it, for the commands its hints name:
    `clustergate` when that name on PATH is this very script, else the script's path as it was run
    (`.venv/bin/clustergate` under `make demo`, whose venv nobody activated: `clustergate` was then not
    found, or found another checkout's). `python -m launcher` keeps the name `clustergate`."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) != "clustergate":
        return "clustergate"
    on_path = shutil.which("clustergate")
    try:
        if on_path and os.path.samefile(on_path, argv0):
            return "clustergate"
    except OSError:
        pass
    return shlex.quote(argv0)


def signal_name(signum: int) -> str:
    """SIGKILL, SIGINT ...; "signal 40" for a number Python has no name for (the real-time signals 35..63)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class DeferredInterrupt:
    """Ctrl-C (SIGINT), a kill (SIGTERM) or a closed terminal (SIGHUP) inside the block is remembered, not
    acted on: `signum` is the first that came (0: none). A signal the caller ignores (nohup, a background
    job) stays ignored."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    signum = 0
    applied = False  # set by the block once its change is whole: an interrupt after it leaves that change

    def __enter__(self) -> "DeferredInterrupt":
        self._previous = {signum: signal.getsignal(signum) for signum in self.SIGNALS}
        for signum, previous in self._previous.items():
            if previous is not signal.SIG_IGN:
                signal.signal(signum, self._remember)
        return self

    def _remember(self, signum: int, frame: Any) -> None:
        if interrupted_a_call_of(frame, self._remember):  # the second of two sent at once, nested in the first's
            return  # handler before it remembered the first: it was taken for the first (SIGHUP, SIGTERM said SIGTERM)
        self.signum = self.signum or signum

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def tell(text: str, out: Any = None) -> None:
    """Print a line of a change being applied. Once that output is gone (a closed terminal: EIO, a reader
    gone: EPIPE) it is sent to /dev/null and the change goes on: a line nobody can read must not stop it
    half-way, nor be taken for supervisord refusing it (which puts the previous files back)."""
    out = out or sys.stdout
    try:
        print(text, file=out, flush=True)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


# How long putting supervisord back on the previous files waits for a program being stopped to be STOPPED (its
# stopwaitsecs, 10 s at most, and a margin): removed or started while STOPPING, supervisord refuses it.
ROLLBACK_STOP_WAIT_S = 15.0


def roll_back(sup: Supervisor, home: Home, new_file: Any, ours: Callable[[], list[str]],
              recording: Callable[[str], None], back: Callable[[str], None]) -> str:
    """After an `up` that failed once supervisord may have read its new files put the previous ones back: supervisord
    reads them again and applies them (apply_config, with the `up`'s record hooks: what the failed change added is
    removed, what it restarted or removed runs again on the previous configuration), and each program of ours() (the
    `up` stopped it and has not released it) that is still not running is started. Returns the end of the FAILED line:
    what supervisord runs and what is left stopped; when supervisord does not answer, that it may still run the new
    configuration, what is stopped, and the commands that put it back."""
    home_arg = shlex.quote(str(home.root))
    ctl = f"supervisorctl -c {shlex.quote(str(home.conf))}"
    fix = (f"`{as_typed()} up` of the previous topology file (`--home {home_arg}`) puts it back on them and starts what "
           f"is stopped (or `{ctl} update`, then `{ctl} start NAME` for each program left stopped)")

    def unanswered(why: str) -> str:
        stopped = (f"; stopped by this `up` and not started again: {ours()} (`{as_typed()} status` names them STOPPED "
                   f"BY A FAILED UP)" if ours() else "")
        return (f", but supervisord was not put back on them ({why}): it may still run this `up`'s configuration "
                f"(of {new_file}) for the programs it added, restarted or removed{stopped}; once supervisord answers, "
                f"{fix}")
    try:
        if not sup.running():
            return (f", but supervisord is no longer running (nothing answers on {home.socket}), nor are the programs "
                    f"it ran (they die with it): `{as_typed()} up` of the previous topology file (`--home {home_arg}`) "
                    f"starts them again")
    except SupervisorUnresponsive as exc:
        return unanswered(str(exc))
    try:
        deadline = time.monotonic() + ROLLBACK_STOP_WAIT_S
        while (any(p["statename"] == "STOPPING" for p in sup.processes())
               and time.monotonic() < deadline):
            time.sleep(0.1)
        added, changed, removed = sup.apply_config(recording, back)
        states = {p["name"]: p["statename"] for p in sup.processes()}
        started, still = [], []
        for name in ours():
            if states.get(name) in ("STOPPED", "EXITED", "FATAL"):
                try:
                    sup.api.startProcess(name, False)
                except xmlrpc.client.Fault as exc:
                    still.append(f"{name} ({exc.faultString})")
                    # supervisord retries a start that failed (BACKOFF), each try a start later than the record's
                    # time, read as a program started since by someone else: stopped, and recorded anew, the record
                    # (status, the next `up`) names it as this failed `up`'s
                    sup._stop_quietly(name)
                    back(name)
                    recording(name)
                    continue
                started.append(name)
            elif states.get(name) == "STOPPING":
                still.append(f"{name} (still STOPPING {ROLLBACK_STOP_WAIT_S:g} s on)")
                continue
            back(name)  # runs again (or supervisord no longer has it)
    except (LaunchError, xmlrpc.client.Error, http.client.HTTPException, OSError) as exc:
        return unanswered(f"that failed too: {exc}")
    did = [f"{what} {names}" for what, names in (("removed", removed), ("restarted", changed), ("added back", added),
                                                   ("started", started)) if names]
    tail = f", and supervisord was put back on them ({', '.join(did) or 'it needed no change'})"
    if still:
        tail += (f"; left stopped by this `up` (`{as_typed()} status` names them STOPPED BY A FAILED UP): "
                 f"{', '.join(still)}: {fix}")
    return tail


def not_restarted(sup: Supervisor, home: Home, new_file: Any, password_env: str, shut: bool) -> str:
    """After an `up` that shut supervisord down to restart it with a new Redis password failed (its files put back):
    the end of the FAILED line, what runs now. Nothing when no supervisord answers; when one does and the previous one
    was shut down (shut), it was started on this `up`'s files, which the previous ones (put back) do not change in a
    running supervisord; when it was not, the previous one runs on ("": what it stopped, status names)."""
    again = f"`{as_typed()} up` of the previous topology file (`--home {shlex.quote(str(home.root))}`)"
    back_on = f"{again}, with the previous Redis password in ${password_env}, restarts it on the previous files"
    try:
        running = sup.running()
    except SupervisorUnresponsive as exc:
        return "" if not shut else (
            f", but supervisord, restarted for the new Redis password, does not answer ({exc}): it may run this "
            f"`up`'s configuration (of {new_file}); once it answers, {back_on}")
    if not running:
        return (f", but supervisord, shut down to restart it with the new Redis password, is not running (nothing "
                f"answers on {home.socket}), nor is any program it ran: {again} starts them again")
    if not shut:
        return ""
    return (f", but supervisord was restarted on this `up`'s configuration (of {new_file}, the new Redis password) "
            f"and runs it: {back_on}")


def _restore(backup: dict[Path, bytes | None]) -> None:
    for path, content in backup.items():
        try:
            if content is None:
                path.unlink(missing_ok=True)
            else:
                write_files({path: (content.decode(), 0o600 if path.name in ("redis.conf", "sentinel.conf") else 0o644)})
        except (OSError, WriteFailed):
            pass


def _shutdown(sup: Supervisor, home: Home) -> None:
    pid = sup.pid()
    sup.shutdown()
    if not _wait_gone(pid, 30):
        raise LaunchError(f"supervisord (pid {pid}) still running 30 s after its shutdown")


# How long `down` waits for an `up` applying its change (and `up` for a `down`): an `up` may stop every program
# (up to CALL_TIMEOUT_S) and start supervisord (15 s); a `down` may wait 30 s for supervisord and 15 s for leftovers.
CHANGE_LOCK_WAIT_S = 120.0


class ChangeLock:
    """run/change.lock: held by `up` from its first look at supervisord until its change is applied, and by `down`
    throughout, so a `down` never runs in the middle of an `up` (it found nothing running yet, and the `up` then
    started everything) and an `up` never starts while a `down` stops the home. The kernel drops it on exit."""

    def __init__(self, home: Home, what: str):
        self.home, self.what, self.file = home, what, None
        self.switched = False  # set by `up` once its new files are in place: a failure from then on undoes no prepare

    def __enter__(self) -> "ChangeLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def take(self, wait_s: float = CHANGE_LOCK_WAIT_S) -> bool:
        """Take the lock, waiting up to wait_s for the command that holds it (said on stdout); False after
        saying why (nothing was changed) when it could not be taken."""
        path = self.home.run / "change.lock"
        deadline = time.monotonic() + wait_s
        said, said_stopped = False, ""
        while True:
            try:
                if self.file is None:
                    if not self.home.run.is_dir():
                        return True  # no run/: no `up` ever ran here, and none can be applying a change
                    self.file = open(path, "a+")
            except OSError as exc:
                print(f"FAILED: cannot open {path}: {exc.strerror}", file=sys.stderr)
                return False
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _at_its_path(self.file):
                    break
                self.release()  # a refused first `up` of the home removed it (undo_prepare): open what is there now
                if time.monotonic() > deadline:
                    print(f"FAILED: {path} was removed again and again for {wait_s:g} s; nothing was done",
                          file=sys.stderr)
                    return False
            except BlockingIOError:
                holder = _read_holder(path)
                stopped = _stopped_note(holder)
                if time.monotonic() > deadline:
                    print(f"FAILED: {holder} is still applying its change to {self.home.root} after {wait_s:g} s"
                          f"{stopped}; nothing was done: run `clustergate {self.what}` again once it has finished",
                          file=sys.stderr)
                    self.release()
                    return False
                if not said:
                    print(f"waiting for {holder}, applying its change to {self.home.root}, to finish (up to "
                          f"{wait_s:g} s)", flush=True)
                    said = True
                if stopped and stopped != said_stopped:
                    print(f"{holder} cannot finish while stopped{stopped}", flush=True)
                said_stopped = stopped
                time.sleep(0.1)
            except OSError as exc:  # no flock on the home's filesystem (an NFS client whose lock manager is not reached)
                print(f"FAILED: cannot lock {path} ({exc.strerror or exc}): `clustergate {self.what}` locks files in "
                      f"{self.home.run} (flock), which its filesystem refuses; nothing was done", file=sys.stderr)
                self.release()
                return False
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"{os.getpid()} {self.what}\n")
        self.file.flush()
        return True

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _read_holder(path: Path) -> str:
    """Who holds change.lock, as its holder wrote it: "`clustergate up` (pid N)"."""
    try:
        pid, _, what = path.read_text().strip().partition(" ")
    except OSError:
        pid, what = "", ""
    # Unnamed: taken a moment ago, its holder not yet written (it said `clustergate another command`, opcli).
    holder = f"`clustergate {what}`" if what in ("up", "down") else "another `clustergate` command"
    return holder + (f" (pid {pid})" if pid.isdigit() else "")


def _stopped_note(holder: str) -> str:
    """"; pid N is stopped ...: `kill -CONT N` resumes it" when the holder's pid is in state T or t of /proc/PID/stat
    (Ctrl-Z, SIGSTOP, a debugger), else "": a stopped `up` holds the lock until it is resumed or killed."""
    found = re.search(r"\(pid (\d+)\)", holder)
    if found is None:
        return ""
    pid = found.group(1)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return ""
    if state not in ([b"T"], [b"t"]):
        return ""
    return f"; pid {pid} is stopped (Ctrl-Z or SIGSTOP): `kill -CONT {pid}` resumes it, or end it"


def cmd_down(args: argparse.Namespace) -> int:
    """Stop every program and supervisord, then every leftover process of this home."""
    home = home_from(args)
    with ChangeLock(home, "down") as change:
        if not change.take():
            return 1
        lost = deploy_lost_host(home, getattr(args, "deploy_id", None), "down")
        if lost:  # under the change lock, as `up`'s: a rollback's `down` stops no host another deploy took since
            print(f"FAILED: {lost}; nothing was changed", file=sys.stderr)
            return 2
        return _down_locked(home)


def record_unwritten(home: Home, exc: OSError, command: str) -> str:
    """The line for a write of run/up-stopping.json (launcher/proof_stops.py) that failed: the `up` (`down`) goes on,
    and killed now would leave what it stops named by nothing."""
    return (f"could not write {home.run / proof_stops.UP_FILE} ({exc.strerror or exc}): killed now, this `{command}` "
            f"would leave what it stops named by nothing")


def _down_locked(home: Home) -> int:
    sup = Supervisor(home)
    try:
        running = sup.running()
        if running:
            pid = sup.pid()
            stopping: list[str] = []
            try:
                # Recorded as `up` records its stops: a `down` killed part-way left them STOPPED, said by nothing.
                infos = sup.processes()
                stopping = [p["name"] for p in infos if p["statename"] in (*LIVE_STATES, "BACKOFF")]
                earlier = left_stopped_by_up(home, infos)  # replaced by this record: its programs too
                stopping += [n for n in (earlier or {}).get("programs", []) if n not in stopping]
                try:  # unwritten (its temp file held by another process, disk full): said, and supervisord shut
                    proof_stops.record(home.run, "down", stopping, proof_stops.UP_FILE, taken_over(earlier))
                except OSError as exc:
                    print(record_unwritten(home, exc, "down"), file=sys.stderr)
                _shutdown(sup, home)
                print("stopped every program and supervisord; Redis data and logs stay in " + str(home.run))
            except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
                # It died (or another `down` shut it) meanwhile: what it leaves is found below.
                print(f"supervisord stopped answering during the shutdown ({exc}); stopping what it left")
                _wait_gone(pid, 30)
            try:
                proof_stops.release(home.run, stopping, proof_stops.UP_FILE)
            except OSError as exc:
                print(record_unwritten(home, exc, "down"), file=sys.stderr)
    except LaunchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    stray = leftovers(home, supervised=set())
    for proc in stray:
        print(f"stopping leftover pid {proc.pid} ({proc.what}): {proc.command[:200]}")
    still = stop_processes(stray)
    for proc in stray:
        if proc not in still:
            print(f"stopped leftover pid {proc.pid} ({proc.what})")
    if still:
        print(f"FAILED: still running: {_describe_leftovers(still)}", file=sys.stderr)
        return 1
    if not running and not stray:
        print(f"nothing running (no supervisord on {home.socket}, no leftover process of {home.root})")
    return 0


def rendered_program_names(home: Home) -> list[str]:
    """The programs `up` last rendered for this home (run/programs.d), which its supervisord is meant to run."""
    try:
        return list(_program_sections(home.programs.read_text()))
    except (OSError, UnicodeDecodeError):
        return []


def running_copy_or_none(home: Home) -> tuple[Topology | None, list[str]]:
    """The home's running copy and what today's checks say of it (None: no copy, or none readable as a topology). A
    copy stat() cannot look at (a symlink loop, a name too long) is named, not taken for no copy (revstatus)."""
    from launcher.curve import unreachable
    if (why := unreachable(home.topology)) is not None:
        return None, [why]
    if not home.topology.exists():
        return None, []
    try:
        topo, problems = load_running_copy(home.topology)
    except SchemaError as exc:
        return None, [p.render(str(home.topology)) for p in exc.problems]
    return topo, [p.render(str(home.topology)) for p in problems]


def collect_status(home: Home) -> dict[str, Any]:
    sup = Supervisor(home)
    topo, problems = running_copy_or_none(home)
    if not sup.running():
        stray = [asdict(p) for p in leftovers(home, supervised=set())]
        return {"supervisord": "not running", "topology": topo.name if topo else None, "programs": [],
                "leftovers": stray, "topology_problems": problems}
    rows = []
    infos = sup.processes()
    supervised = {sup.pid()} | {info["pid"] for info in infos if info["pid"]}
    applied = config_applied(home, infos)
    exits = unexpected_exits(home.run / "supervisord.log", supervisord_pid=sup.pid())
    from launcher.overview import gate_permit_issuers, gate_positions
    answers = each_at_once([info["name"] for info in infos if topo and info["name"] in topo.actors],
                           lambda name: actor_answer(topo, name))
    for info in infos:
        name = info["name"]
        row: dict[str, Any] = {"name": name, "state": info["statename"], "pid": info["pid"] or None,
                               "uptime_s": (info["now"] - info["start"]) if info["statename"] == "RUNNING" else 0}
        if name in applied:
            row["config_applied"] = applied[name]
        if name in exits:  # a crash loop shows RUNNING between crashes: say how often it restarted
            row["unexpected_exits"] = as_json(exits[name], info.get("stdout_logfile") or None)
        if topo and name in topo.actors:
            spec = topo.actors[name]
            row["kind"] = spec.kind
            row["metrics_url"] = metrics_url(spec.host, spec.metrics_port)
            row.update(answers[name][0])  # ready, loop_age_s, not_ready_why (a stuck main loop), redis_may_evict
            link = gate_permit_issuers(topo, name, answers[name][1])
            if link is not None:
                row["permit_issuers"] = link
            positions = gate_positions(topo, name, answers[name][1])
            if positions is not None:
                row["positions"] = positions
        elif topo and name in redis_program_names(topo):
            prog = next(p for p in redis_programs(topo) if p.name == name)
            row["kind"] = "redis" if name == REDIS_PROGRAM else f"redis-{prog.kind}"
            row["metrics_url"] = None
            row["ready"] = redis_ready(topo, name)
            if name != REDIS_PROGRAM:
                row["role"] = _redis_role(topo, prog)
        elif name == "prometheus":  # `clustergate monitor up` (launcher/monitor.py)
            from launcher.monitor import monitor_ready
            row["kind"] = "prometheus"
            row["metrics_url"] = None
            row["ready"] = monitor_ready(home)
        rows.append(row)
    listed = {info["name"] for info in infos}
    for name in rendered_program_names(home):  # this home's part of the topology (one host's, on a multi-host one)
        if name not in listed:  # removed from supervisord (supervisorctl remove), or never added: nothing runs it
            kind = topo.actors[name].kind if topo and name in topo.actors else "redis"
            rows.append({"name": name, "state": "MISSING", "pid": None, "uptime_s": 0, "ready": False, "kind": kind,
                         "metrics_url": None})
    stray = [asdict(p) for p in leftovers(home, supervised={pid for pid in supervised if pid})]
    status = {"supervisord": "running", "topology": topo.name if topo else None, "programs": rows, "leftovers": stray,
              "running_copy_edited": copy_edited(home), "left_stopped_by_proof": left_stopped_by_proof(home, infos),
              "left_stopped_by_up": left_stopped_by_up(home, infos),
              "topology_problems": problems}
    if topo is not None and topo.redis.sentinel is not None:
        status["sentinel"] = sentinel_status(topo)
    return status


def left_stopped_by_proof(home: Home, infos: list[dict[str, Any]],
                          file: str = proof_stops.FILE) -> dict[str, Any] | None:
    """The proof killed part-way (launcher/proof_stops.py) and the programs it stopped that are still not RUNNING
    (proof_stops.still_stopped: only programs supervisord runs, none started since), or None."""
    left = proof_stops.left_by_ended_proof(home.run, file)
    still = proof_stops.still_stopped(left, infos) if left is not None else []
    return {**left.as_json(), "programs": still} if left is not None and still else None


def left_stopped_by_up(home: Home, infos: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The `up` that ended (killed) before it started again the programs it stopped, or the `down` before it stopped
    supervisord, {pid, programs, command, failed} of those still not RUNNING (as left_stopped_by_proof), or None; the
    record's. owners: the same for each process that stopped some of them (an `up` takes over an ended one's record)."""
    left = proof_stops.left_by_ended_proof(home.run, proof_stops.UP_FILE)
    still = proof_stops.still_stopped(left, infos) if left is not None else []
    if left is None or not still:
        return None
    return {"pid": left.pid, "programs": still, "command": "down" if left.proof == "down" else "up",
            "failed": left.failed,
            "owners": [{"pid": owner["pid"], "command": "down" if owner["proof"] == "down" else "up",
                        "failed": owner["failed"], "programs": owner["programs"]}
                       for owner in proof_stops.by_owner(left, still)]}


def owners_of(left: dict[str, Any] | None) -> list[dict[str, Any]]:
    """left_stopped_by_up's owners: the record's process for all of them when it has none (an older clustergate)."""
    if left is None:
        return []
    return left.get("owners") or [{key: left.get(key, False) for key in ("pid", "command", "failed", "programs")}]


def taken_over(left: dict[str, Any] | None) -> dict[str, tuple[str, int, bool]]:
    """Program -> (proof, pid, failed) of the ended process that stopped it, for proof_stops.record's `taken`."""
    return {name: (owner["command"], owner["pid"], owner["failed"]) for owner in owners_of(left)
            for name in owner["programs"]}


def started_left_stopped(left: dict[str, Any] | None, started: list[str]) -> list[str]:
    """`up`'s lines for the programs `started` it started again that `up`s (or `down`s) left stopped
    (left_stopped_by_up): one for each, named for those it stopped."""
    lines = []
    for owner in owners_of(left):
        theirs = [name for name in started if name in owner["programs"]]
        if theirs:
            lines.append(f"started (left stopped by `clustergate {owner['command']}` (pid {owner['pid']}), "
                         f"{'which failed' if owner['failed'] else 'killed part-way'}): {theirs}")
    return lines


def interrupted_up_notes(left: dict[str, Any], up_here: str) -> list[str]:
    """status's lines for the programs `up`s (or `down`s) killed part-way, or failed, left stopped
    (left_stopped_by_up): one for each."""
    return [interrupted_up_note(owner, up_here) for owner in owners_of(left)]


def interrupted_up_note(left: dict[str, Any], up_here: str) -> str:
    """status's line for the programs an `up` (or `down`) killed part-way left stopped (one of owners_of)."""
    if left.get("command") == "down":
        return (f"STOPPED BY AN INTERRUPTED DOWN: {', '.join(left['programs'])} stopped by `clustergate down` (pid "
                f"{left['pid']}), which ended before it stopped supervisord (killed part-way: a deploy's command "
                f"timeout, an OOM kill?): `{up_here}` starts them, a `down` stops the rest")
    if left.get("failed"):  # absent: an older clustergate on the host
        return (f"STOPPED BY A FAILED UP: {', '.join(left['programs'])} stopped by `clustergate up` (pid "
                f"{left['pid']}) to restart or remove them, which failed before it started them again (it said "
                f"FAILED and put its files back): `{up_here}` starts them")
    return (f"STOPPED BY AN INTERRUPTED UP: {', '.join(left['programs'])} stopped by `clustergate up` (pid "
            f"{left['pid']}) to restart or remove them, which ended before it started them again (killed "
            f"part-way: a deploy's command timeout, an OOM kill?): `{up_here}` starts them")


CONFIG_HASH_RE = re.compile(r'CLUSTERGATE_CONFIG_HASH="([0-9a-f]+)"')


def _rendered_config_hashes(home: Home) -> dict[str, str]:
    """Program -> the CLUSTERGATE_CONFIG_HASH `up` last wrote for it in run/programs.d."""
    try:
        sections = _program_sections(home.programs.read_text())
    except (OSError, UnicodeDecodeError):
        return {}
    found = {name: CONFIG_HASH_RE.search(section) for name, section in sections.items()}
    return {name: m.group(1) for name, m in found.items() if m}


def _rendered_config_hash_version(home: Home) -> int | None:
    """The CONFIG_HASH_VERSION of the hashes `up` last wrote in run/programs.d (1 when it wrote none), or None when
    there is no programs.d to read. A line that is no such version (garbage, digits past any) reads as none."""
    try:
        found = re.search(r"^; config hash version (\d{1,9})$", home.programs.read_text(), re.M)
    except (OSError, UnicodeDecodeError):
        return None
    return int(found.group(1)) if found else 1


def _running_base_dir(home: Home) -> str | None:
    """The base_dir `up` pinned in the running copy (the directory of the file it was given), or None."""
    try:
        data = yaml.safe_load(home.topology.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    base = data.get("base_dir") if isinstance(data, dict) else None
    return base if isinstance(base, str) else None


def file_config_hashes(view: Topology, running_base_dir: Any) -> dict[str, str] | None:
    """Program -> the CLUSTERGATE_CONFIG_HASH `up` of this topology (one host's view of it) writes for it in
    run/programs.d, whichever home it goes to: what `status FILE --all-hosts` compares each host's programs.d with.
    None when the host's running copy was made from a file in another directory than this one (running_base_dir):
    every hash holds the directory relative paths resolve against, so each would differ, whatever the text."""
    if running_base_dir != _effective_base_dir(view):
        return None
    sections = _program_sections(render_programs(view, Home(REPO), redis_binary="redis-server"))
    found = {name: CONFIG_HASH_RE.search(section) for name, section in sections.items()}
    return {name: m.group(1) for name, m in found.items() if m}


def config_applied(home: Home, infos: list[dict[str, Any]]) -> dict[str, bool | None]:
    """Supervised program -> whether it runs the configuration `up` last wrote for it (False: an `up` killed after it
    switched the files, before supervisord applied them, or a program in no file of the home; None: its /proc
    environment unreadable)."""
    rendered = _rendered_config_hashes(home)
    in_files = _programs_in_files(home)
    applied: dict[str, bool | None] = {}
    for info in infos:
        name = info["name"]
        if name in rendered:
            running_hash = _config_hash_of(info["pid"])
            applied[name] = None if running_hash is None else running_hash == rendered[name]
        elif in_files is not None and name not in in_files:
            applied[name] = False  # in no file of the home: a failed `up` added it, and its rollback was cut off
    return applied


def _programs_in_files(home: Home) -> set[str] | None:
    """The programs of every file in run/programs.d (clustergate.conf, monitor up's), which supervisord reads; None
    when one cannot be read. One supervisord runs that is in none was added by an `up` whose files were put back
    after it failed, and was not removed: that `up`'s rollback cut off (killed, or supervisord not answering)."""
    try:
        return {name for path in home.programs.parent.glob("*.conf") for name in _program_sections(path.read_text())}
    except (OSError, UnicodeDecodeError):
        return None


COPY_SHA_RE = re.compile(r"^; running copy sha256 ([0-9a-f]{64})$", re.M)


def copy_sha_line(copy_text: str) -> str:
    """The line `up` ends run/programs.d with: the SHA-256 of the running copy it wrote beside it (a comment: no
    program section changes with it)."""
    return f"; running copy sha256 {text_sha256(copy_text)}\n"


def copy_edited(home: Home) -> bool:
    """Whether the running copy (run/topology.yaml, what a program restarted now reads) is not the text `up` wrote
    with run/programs.d: a hand edit, which no `up` validated, or a copy removed by hand (a program restarted now cannot
    start). False when programs.d names no copy (an older `up`)."""
    try:
        found = COPY_SHA_RE.search(home.programs.read_text())
    except (OSError, UnicodeDecodeError):
        return False
    if found is None:
        return False
    try:
        return text_sha256(home.topology.read_text()) != found.group(1)
    except (FileNotFoundError, UnicodeDecodeError):  # removed, or bytes `up` never writes
        return True
    except OSError:
        return False


def copy_edited_note(copy: str, up_again: str) -> str:
    """The line `status` prints for copy_edited."""
    return (f"EDITED: {copy} is not the copy `up` last wrote (edited or removed by hand?): the programs run what `up` applied, "
            f"but one restarted now (supervisorctl restart, a crash) reads the edited copy, which no `up` checked and "
            f"status reads too; edit your topology file and run `{up_again}`")


def not_file_note(other: list[str], file: str, up_file: str) -> str:
    """The line `status FILE --all-hosts` prints for a host's programs whose config_as_file is False."""
    return (f"NOT FILE'S: {', '.join(other)} run(s) another configuration than {file} gives them (the host's last `up` "
            f"was of another topology: a host back with an older one?): `{up_file}` applies FILE's")


def not_applied_note(stale: list[str], programs: str, up_again: str) -> str:
    """The line `status` prints for programs whose config_applied is False (one home's, or one host's)."""
    return (f"NOT APPLIED: {', '.join(stale)} run(s) another configuration than the one `up` last wrote in "
            f"{programs} (an `up` stopped before supervisord applied it): `{up_again}` again applies it")


def _config_hash_of(pid: int | None) -> str | None:
    """The CLUSTERGATE_CONFIG_HASH a running program was started with (its /proc environment), or None."""
    value = (process_environ(pid) or {}).get(b"CLUSTERGATE_CONFIG_HASH")
    return None if value is None else value.decode(errors="replace")


def home_exits(home: Home) -> dict[str, Any]:
    """What `status --exits --json` prints: this home's programs that exited unexpectedly, read from its
    supervisord's log whether or not supervisord runs (`log_found` false: no supervisord ever ran here; `error`:
    the log is there but this user may not read it, as another account's home, whose run/ `up` made 0700), and
    while its supervisord answers, what it runs and whether each runs the config `up` last wrote (config_applied);
    the config hash `up` last wrote for each program (config_hashes, which `status FILE --all-hosts` compares with
    FILE's when config_hash_version is its own); whether its running copy was edited since `up` wrote it
    (running_copy_edited); and what an `up` killed part-way left stopped (left_stopped_by_up)."""
    log = home.run / "supervisord.log"
    said: dict[str, Any] = {"home": str(home.root), "log": str(log), "log_found": False, "unexpected_exits": {}}
    try:
        open(log, "rb").close()
    except (FileNotFoundError, NotADirectoryError):
        return said
    except OSError as exc:
        return {**said, "error": f"cannot read {log}: {exc.strerror}"}
    exits = unexpected_exits(log, supervisord_pid=Supervisor(home).pid())
    infos = _supervised(home)
    return {**said, "log_found": True, "supervised": None if infos is None else sorted(p["name"] for p in infos),
            "programs_file": str(home.programs), "config_applied": {} if infos is None else config_applied(home, infos),
            "config_hashes": _rendered_config_hashes(home), "config_hash_version": _rendered_config_hash_version(home),
            "left_stopped_by_up": None if infos is None else left_stopped_by_up(home, infos),
            "running_base_dir": _running_base_dir(home),
            "running_copy": str(home.topology), "running_copy_edited": copy_edited(home),
            "unexpected_exits": {name: as_json(e, str(home.logs / f"{name}.log")) for name, e in exits.items()}}


def _supervised(home: Home) -> list[dict[str, Any]] | None:
    """The programs this home's supervisord runs now (any state), or None when none answers: `status --all-hosts`
    shows a host's program its supervisord lacks as MISSING, where its metrics alone say only "not reached"."""
    sup = Supervisor(home)
    try:
        return sup.processes() if sup.running() else None
    except (LaunchError, OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException):
        return None


def sentinel_status(topo: Topology) -> dict[str, Any]:
    """Whether the sentinels can still fail over (SENTINEL CKQUORUM): with one of three left, the
    primary is still found but its crash would hold every exit until a person acts."""
    from launcher.sentinel import (failover_readiness, never_promoted, no_replica_to_promote, replicas_seen_down,
                                   sentinels_disagree)
    assert topo.redis.sentinel is not None
    ask = dict(timeout_s=min(topo.redis.timeout_ms / 1000.0, 0.5), password=topo.redis.password)
    ok, said = failover_readiness(topo.redis.sentinel_addresses(), topo.redis.sentinel.master, **ask)
    nobody = no_replica_to_promote(topo.redis.sentinel_addresses(), topo.redis.sentinel.master, **ask) if ok else None
    if nobody:
        ok, said = False, f"{nobody.why}; {said}"
    # External sentinels told `replicas: 0`: a primary with no replica is what the topology runs, no fault; unless a
    # permit issuer is told to WAIT for one (wait_replicas): then every decision is HOLD replica_unacknowledged. A
    # replica Sentinel knows and reports down is a fault all the same (it was excused too: status exited 0).
    excused = bool(nobody) and topo.redis.replicas_expected() == 0 and not any(
        isinstance(spec.settings, PermitIssuerSettings) and spec.settings.replicas_to_wait(topo.redis)
        for spec in topo.actors.values())
    seen = replicas_seen_down(topo.redis.sentinel_addresses(), topo.redis.sentinel.master, **ask)
    # A replica down while another can be promoted: the failover holds, but one more loss leaves none (exit 3).
    down = seen.down if excused or ok else []
    none_expected = excused and not down
    disagree = sentinels_disagree(topo.redis.sentinel_addresses(), topo.redis.sentinel.master, **ask)
    # Managed servers only: someone else's may be kept out of promotion on purpose.
    stuck = never_promoted(topo.redis.server_addresses(), **ask) if topo.redis.managed else []
    masters = second_primary(topo, ask) if topo.redis.managed else None
    return {"failover_possible": ok, "said": said, "password_env": topo.redis.password_env,
            **({"no_replica": True, "replica_priority_0_up": nobody.priority_0_up} if nobody else {}),
            **({"none_expected": True} if none_expected else {}),
            **({"replicas_down": down, "master": topo.redis.sentinel.master, "sentinels_answering": seen.answered,
                "sentinels_asked": len(topo.redis.sentinel_addresses())} if down else {}),
            **({"promotable": seen.promotable} if down and ok else {}),
            **({"replicas_down_minority": seen.minority, "sentinels_answering": seen.answered,
                "master": topo.redis.sentinel.master} if seen.minority else {}),
            **({"replicas_unlisted": seen.unlisted} if seen.unlisted else {}),
            **({"disagree": disagree} if disagree else {}), **({"never_promoted": stuck} if stuck else {}),
            **({"masters": masters} if masters else {})}


def second_primary(topo: Topology, ask: dict[str, Any]) -> dict[str, Any] | None:
    """When more than one managed data server answers ROLE master: {"named": the one the sentinels name (None when none
    does), "others": the rest}, else None."""
    from launcher.sentinel import place_text, same_address, sentinel_answer, servers_answering_master
    assert topo.redis.sentinel is not None
    masters = servers_answering_master(topo.redis.server_addresses(), **ask)
    if len(masters) < 2:
        return None
    said = sentinel_answer(topo.redis.sentinel_addresses(), topo.redis.sentinel.master, **ask)
    # (the sentinels write an IPv6 address canonical, the topology as its author did: [0:0:0:0:0:0:0:1] is ::1)
    named = next((m for m in masters if said is not None and same_address(m, said[0])), None)
    return {"named": None if named is None else place_text(named),
            "others": [place_text(m) for m in masters if m != named]}


def render_sentinel_status(state: dict[str, Any]) -> str:
    lines = [_render_failover_readiness(state)]
    for replica, by in state.get("replicas_down_minority", {}).items():
        lines.append(_minority_note(replica, by, state.get("replicas_unlisted", {}).get(replica, []), state))
    if state.get("disagree"):
        lines.append(f"sentinel: SENTINELS DISAGREE ON THE PRIMARY: {state['disagree']}: a primary cut off with a "
                     "minority of the sentinels takes the writes of whoever asks one of those first, lost when it "
                     "rejoins; the gates, issuers and actors follow the majority's word")
    if state.get("masters"):
        lines.append(_second_primary_line(state["masters"]))
    if state.get("never_promoted"):
        lines.append(f"sentinel: NEVER PROMOTED: replica-priority 0 on {', '.join(state['never_promoted'])} (left by "
                     "an `ha_load failover --to` that lost its host?): `CONFIG SET replica-priority 100` there")
    return "\n".join(lines)


def _second_primary_line(masters: dict[str, Any]) -> str:
    others = ", ".join(masters["others"])
    verb = "answers" if len(masters["others"]) == 1 else "answer"
    # (named None: the sentinels name another server, or none answered: the line above says which)
    beside = (f"beside {masters['named']}, the sentinels' primary" if masters["named"] else
              "beside each other, none of them named by an answering sentinel")
    each = "it takes" if len(masters["others"]) == 1 else "each takes"
    return (f"sentinel: SECOND PRIMARY: {others} {verb} ROLE master {beside}: {each} the writes of any client sent "
            "to it (a `url:` client, a tool; the actors follow the sentinels), lost when Sentinel demotes it (10-12 s "
            "after a failed-over primary's host rejoins); if it lasts, the sentinels cannot reach it or do not list "
            "it as a replica (`SENTINEL REPLICAS` of the topology's sentinel master)")


def _minority_note(replica: str, by: list[str], unlisted: list[str], state: dict[str, Any]) -> str:
    """The note for a replica fewer than a majority of the answering sentinels see down: the others see it up (that
    sentinel's link to it is cut), or do not list it (reset since, as for a replica removed for good: reset it too)."""
    answering = state.get("sentinels_answering", "?")
    if not unlisted:
        return (f"sentinel: note: {replica} seen down by sentinel {', '.join(by)} only ({len(by)} of {answering} "
                f"answering; the others see it up): not counted as down; that sentinel's link to it is cut (a "
                f"firewall, its host's network), and a failover it leads does not promote {replica}")
    up = "; the others see it up" if isinstance(answering, int) and answering > len(by) + len(unlisted) else ""
    return (f"sentinel: note: {replica} seen down by sentinel {', '.join(by)} only ({len(by)} of {answering} answering; "
            f"{', '.join(unlisted)} do not list it (reset since, or not told of it yet){up}): not counted as down; if "
            f"it was removed for good, send `SENTINEL RESET {state.get('master', '<master>')}` to {', '.join(by)} too")


def _seen_down_by(state: dict[str, Any]) -> str:
    """Who sees a REPLICA DOWN replica down: a majority of the sentinels that answer, with how many do when some of the
    topology's do not (unreachable from here: their view is not known)."""
    answering, asked = state.get("sentinels_answering"), state.get("sentinels_asked")
    if isinstance(answering, int) and isinstance(asked, int) and answering < asked:
        return f"the sentinels that answer ({answering} of {asked}) see it down"
    return "the sentinels see it down"


def _render_failover_readiness(state: dict[str, Any]) -> str:
    ok = state["failover_possible"]
    if ok and state.get("replicas_down"):
        promotable = state.get("promotable") or []
        through = _promotable_text(state)
        left = (f"through {through} ({len(promotable)} replicas left)" if len(promotable) > 1 else
                f"through {through} only, and one more loss leaves no replica to promote")
        return (f"sentinel: REPLICA DOWN: {', '.join(state['replicas_down'])}: {_seen_down_by(state)} (stopped, or "
                f"its host lost or cut off); a failover is still possible, {left}: bring it back; one removed for good stays "
                f"known to them until `SENTINEL RESET {state.get('master', '<master>')}` is sent to each ({state['said']})")
    if ok:
        return f"sentinel: failover possible ({state['said']})"
    if state.get("none_expected"):
        return (f"sentinel: no failover: redis.sentinel.replicas is 0, so a primary crash holds every exit until the "
                f"primary restarts ({state['said']})")
    if state.get("replicas_down"):
        return (f"sentinel: REPLICA DOWN: {', '.join(state['replicas_down'])}: {_seen_down_by(state)} (stopped, or "
                f"its host lost or cut off), though redis.sentinel.replicas is 0: bring it back; one removed for good "
                f"stays known to them until `SENTINEL RESET {state.get('master', '<master>')}` is sent to each "
                f"({state['said']})")
    if ok is False and state.get("no_replica") and state.get("replica_priority_0_up"):
        # Up and replicating: they acknowledge WAIT, so decisions are recorded; only a failover is out of reach.
        return (f"sentinel: NO FAILOVER POSSIBLE: a primary crash now holds every exit until the primary restarts; "
                f"{', '.join(state['replica_priority_0_up'])} at replica-priority 0 still acknowledges a permit "
                f"issuer's WAIT, but Sentinel never promotes it ({state['said']})")
    if ok is False and state.get("no_replica"):
        return (f"sentinel: NO FAILOVER POSSIBLE: a primary crash now holds every exit until the primary restarts, and "
                f"a permit issuer that waits for a replica answers every decision HOLD replica_unacknowledged until "
                f"one is back ({state['said']})")
    if ok is False:
        return f"sentinel: NO FAILOVER POSSIBLE: a primary crash now holds every exit until sentinels are back ({state['said']})"
    said = state["said"]
    if any(word in said for word in ("NOAUTH", "WRONGPASS", "invalid password", "Authentication required")):
        # The sentinels answered, but not to us: whether they can fail over is unknown to this command.
        return (f"sentinel: FAILOVER UNKNOWN: the sentinels refuse this command's password (set "
                f"${state.get('password_env') or 'the topology password_env'} as the system has it) ({said})")
    return f"sentinel: NO SENTINEL ANSWERS: no client can find the primary, no failover ({said})"


def cmd_status(args: argparse.Namespace) -> int:
    from launcher.overview import (collect_overview, permit_issuers_lines, positions_lines, proxy_fallback,
                                   render_overview)
    if (getattr(args, "via", None) or getattr(args, "home_root", None)) and not getattr(args, "all_hosts", False):
        print("clustergate status: --via and --home-root go with FILE --all-hosts", file=sys.stderr)
        return 2
    if getattr(args, "all_hosts", False) or getattr(args, "file", None):
        from launcher.hosts_status import cmd_status_all_hosts
        return cmd_status_all_hosts(args)
    home = home_from(args)
    if getattr(args, "exits", False):
        said = home_exits(home)
        if args.json:
            print(json.dumps(said, indent=2))
        for name, u in ({} if args.json else said["unexpected_exits"]).items():
            print(describe(name, Exits(u["count"], u["last_at"], u["last_how"]), u["log"], u["window_s"]))
        if "error" in said and not args.json:
            print(f"clustergate status: {said['error']}", file=sys.stderr)
        return 1 if "error" in said else 0
    unreadable = home_unreadable(home)
    if unreadable:
        print(f"clustergate status: {unreadable}", file=sys.stderr)
        return 2
    try:
        status = collect_status(home)
    except LaunchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    topo = running_copy_or_none(home)[0] if status["supervisord"] == "running" else None
    status["degraded"] = None
    if topo is not None:
        status["overview"] = collect_overview(topo, frozenset(r["name"] for r in status["programs"]
                                                              if r.get("unexpected_exits")),
                                              frozenset(topo.actors) - {r["name"] for r in status["programs"]})
        status["degraded"] = proxy_fallback(topo, status["overview"], standalone=args.json)
    sentinels = sentinel_degraded(status.get("sentinel"), standalone=args.json)
    status["degraded"] = "; ".join(filter(None, [status["degraded"], sentinels])) or None
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(f"supervisord: {status['supervisord']}   topology: {status['topology'] or '-'}")
        if status["programs"]:
            width = max([16] + [len(row["name"]) + 1 for row in status["programs"]])
            print(f"{'PROGRAM':<{width}}{'STATE':<10}{'READY':<7}{'PID':<9}{'METRICS'}")
            for row in status["programs"]:
                ready = {True: "yes", False: "no", None: "?"}[row.get("ready")]
                where = row.get("metrics_url") or (f"(role: {row['role']})" if row.get("role") else "-")
                print(f"{row['name']:<{width}}{row['state']:<10}{ready:<7}{str(row['pid'] or '-'):<9}{where}")
        listing = f"clustergate positions list --home {shlex.quote(str(home.root))}"  # this home's, not the repo root's
        for line in permit_issuers_lines(status["programs"]) + positions_lines(status["programs"], listing):
            print(line)
        for row in status["programs"]:
            if row.get("not_ready_why"):
                print(f"NOT READY: {row['name']}: {row['not_ready_why']}: a handler or timer has not returned, so it "
                      f"answers nothing (its log ends where it stopped; a restart ends it)")
            if row.get("redis_may_evict"):
                print(f"NOT READY: {row['name']}: {row['redis_may_evict']}")
            if row.get("redis_eviction_unchecked"):
                print(f"note: {row['name']}: {row['redis_eviction_unchecked']}")
        stale = [row["name"] for row in status["programs"] if row.get("config_applied") is False]
        up_here = f"clustergate up FILE --home {shlex.quote(str(home.root))}"  # this home's, quoted for the shell
        if stale:
            print(not_applied_note(stale, str(home.programs), up_here))
        if status.get("running_copy_edited"):
            print(copy_edited_note(str(home.topology), up_here))
        left = status.get("left_stopped_by_proof")
        if left:
            print(f"STOPPED BY A PROOF: {', '.join(left['programs'])} stopped by the {left['proof']} proof (pid "
                  f"{left['pid']}), which ended (killed) before it started them again: the next `clustergate proof` "
                  f"starts them first, and so does `{up_here}`")
        if status.get("left_stopped_by_up"):
            for note in interrupted_up_notes(status["left_stopped_by_up"], up_here):
                print(note)
        missing = [row["name"] for row in status["programs"] if row["state"] == "MISSING"]
        if missing:
            print(f"MISSING: supervisord of {home.root} does not run {', '.join(missing)}, which the topology has: "
                  f"`{up_here}` adds them")
        for row in status["programs"]:
            if "unexpected_exits" in row:
                u = row["unexpected_exits"]
                print(describe(row["name"], Exits(u["count"], u["last_at"], u["last_how"]),
                               u["log"] or home.logs, u["window_s"]))
        if status.get("sentinel"):
            print(render_sentinel_status(status["sentinel"]))
        if topo is not None:
            print()
            print(render_overview(topo, status["overview"]))
        if status["degraded"]:
            print(f"DEGRADED: {status['degraded']}")
        for line in status["topology_problems"]:  # e.g. a rule added since `up` wrote the copy: what runs is still it
            print(f"note: the running copy no longer passes `clustergate validate`: {line}")
        for proc in status["leftovers"]:
            print(f"leftover pid {proc['pid']} ({proc['what']}), run by no supervisord: {proc['command'][:200]}")
        if status["leftovers"]:
            print(f"`clustergate down --home {home.root}` stops the leftovers")
    # The monitor is a side-car: its health is `clustergate monitor status`'s exit code, not the
    # trading system's (a script that gates trading on `status` must not stop for a dead Prometheus).
    monitor = [r for r in status["programs"] if r.get("kind") == "prometheus"]
    if monitor and not args.json and not (monitor[0]["state"] == "RUNNING" and monitor[0].get("ready")):
        print("the monitor (prometheus) is not ready; this does not change status's exit code: "
              "`clustergate monitor status` says why")
    return 1 if not status_ok(status) else 3 if status["degraded"] else 0


def home_unreadable(home: Home) -> str | None:
    """Why this user may not read what `status` reads of the home, or None: its running copy, and supervisord's socket,
    in the run/ that `up` makes 0700 (the user's that ran it alone). Another user's status ended in a PermissionError
    traceback; with run/ opened and the socket still 0700, it said `supervisord: not running` of a running one. A
    home where nothing was started (no such file) is no refusal: status says so; nor is a running copy that is a
    symlink loop or a name too long, the home's fault whoever asks (running_copy_or_none names it, and status shows
    supervisord's programs, exit 1; revstatus: it exited 2 and hid them), but a home that is one is. connect(2) asks
    write permission of a socket, not read (revstatus: a socket 0722 was refused to a user that reached supervisord)."""
    from launcher.curve import unreachable
    advice = f": run status as the user that ran `up` in {home.root}, or as root"
    if (why := unreachable(home.root)) is not None:
        return why + (advice if "Permission denied" in why else "")
    for path, mode, what in ((home.topology, os.R_OK, "read"), (home.socket, os.W_OK, "connect to")):
        why = unreachable(path)
        if why is None and path.exists() and not os.access(path, mode):
            why = f"{path}: may not {what} it: Permission denied (uid {os.geteuid()})"
        if why is not None and "Permission denied" in why:
            return why + advice
    return None


def status_ok(status: dict[str, Any]) -> bool:
    """Whether status exits 0: supervisord runs every program of the topology, each ready and running its last
    config, no leftovers, no gate without a permit issuer past the grace or failing closed on the position snapshots,
    and the sentinels can fail over. The monitor (prometheus) is a side-car: its health is `clustergate monitor status`'s
    exit code."""
    from launcher.overview import permit_issuers_ok, positions_ok
    programs = [r for r in status["programs"] if r.get("kind") != "prometheus"]
    return (status["supervisord"] == "running" and not status["leftovers"]
            and all(r["state"] == "RUNNING" and r.get("ready") for r in programs)
            and all(r.get("config_applied") is not False for r in status["programs"])
            and not status.get("running_copy_edited")
            and permit_issuers_ok(status["programs"])
            and positions_ok(status["programs"])
            and sentinels_ok(status.get("sentinel")))


def sentinel_degraded(state: dict[str, Any] | None, standalone: bool = False) -> str | None:
    """Why status exits 3 for the sentinels: a replica down while a failover is still possible through another (the
    desk trades on, and one more loss leaves none to promote), or None. standalone (--json): the text has no sentinel
    line above it to point at, so it names the replicas left itself."""
    if not state or state.get("failover_possible") is not True or not state.get("replicas_down"):
        return None
    return (f"replica {', '.join(state['replicas_down'])} down: a failover is still possible through the other "
            f"replica(s) only " + (f"({_promotable_text(state)}): bring it back" if standalone else
                                   "(the sentinel line above says what to do)"))


def _promotable_text(state: dict[str, Any]) -> str:
    """The replicas a failover can still promote, as a REPLICA DOWN line names them."""
    return ", ".join(state.get("promotable") or ["a replica SENTINEL REPLICAS does not list (replica-announced no)"])


def sentinels_ok(state: dict[str, Any] | None) -> bool:
    """No sentinels, or they can fail over (or have no replica to promote where the topology expects none), agree on
    the primary, no managed server is out of promotion, and only one answers ROLE master (sentinel_status)."""
    return state is None or ((state["failover_possible"] is True or bool(state.get("none_expected")))
                             and not state.get("disagree") and not state.get("never_promoted")
                             and not state.get("masters"))


def cmd_render(args: argparse.Namespace) -> int:
    """What `up` of the same arguments would give supervisord: on several hosts, one host's programs (--host)."""
    topo = load_or_report(args.file)
    if topo is None:
        return 2
    from launcher.hosts import host_problem, host_view
    if problem := host_problem(topo, args.host):
        print(f"{args.file}: {problem}", file=sys.stderr)
        return 2
    print(render_programs(host_view(topo, args.host) if args.host else topo, home_from(args)))
    return 0


def timeout_seconds(text: str) -> float:
    """A --timeout: a finite number of seconds, 0 or more (nan compared false with the deadline: up waited forever)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds, 0 or more")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    def home_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", type=home_option,
                       help="directory with supervisord.conf and run/ (default: the repo root, or $CLUSTERGATE_HOME)")

    def host_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="multi-host topology: act on this host's actors, under its own supervisord "
                                      "and home (default home: hosts/NAME under the usual one)")

    p = sub.add_parser("up", help="start (or update) a topology under supervisord and wait until it is ready")
    p.add_argument("file")
    p.add_argument("--timeout", type=timeout_seconds, default=60.0, help="seconds to wait for readiness (default 60)")
    p.add_argument("--replace", action="store_true", help="replace a running system of another topology (another "
                                                          "name) in this home; without it `up` refuses")
    p.add_argument("--deploy-id", metavar="ID", help="refuse (exit 2, nothing changed) unless deploy ID holds this "
                                                    "host's run/deploying.lock: `deploy` passes its id")
    p.add_argument("--expect-sha256", metavar="HEX", type=sha256_option, help="refuse (exit 2, nothing changed) unless FILE's text has this "
                                                          "SHA-256: `deploy` passes the hash of the text it validated")
    home_arg(p)
    host_arg(p)
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop every program and supervisord")
    home_arg(p)
    host_arg(p)
    p.add_argument("--deploy-id", metavar="ID", help="refuse (exit 2, nothing stopped) unless deploy ID holds this "
                                                    "host's run/deploying.lock: a deploy's rollback passes its id")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="state, readiness and metrics URL per actor; exit 0 healthy, 1 a fault, "
                                      "3 degraded (a gate takes K from the proxy past the warm-up, or a replica is "
                                      "down beside a promotable one)",
                       description="State, readiness and metrics URL per actor. Exits 0 when every program is RUNNING "
                                   "and ready; 1 for a fault (no supervisord, a program stopped or not ready, a gate "
                                   "with no permit issuer, ...), which outranks 3; 2 for arguments that do not go "
                                   "together, or a home this user may not read; 3, DEGRADED, when it would be 0 but a "
                                   "ready gate takes K from the proxy past the cluster side's warm-up (decisions go on; "
                                   "P26ClusterStressNotUsed pages), or, under Sentinel, a replica is down while another "
                                   "can still be promoted. --all-hosts exits 3 only for that replica; --exits never "
                                   "exits 3. docs/operating.md has the details.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("file", nargs="?", help="with --all-hosts: the multi-host topology")
    p.add_argument("--all-hosts", action="store_true", help="ask every host's metrics endpoints (and Redis): "
                                                           "the whole system in one table, with each host's "
                                                           "unexpected exits read from its supervisord's log")
    p.add_argument("--via", help="with --all-hosts: command prefix that runs a command on a host, {host} and {address} "
                                 "filled in (e.g. 'ssh deploy@{address} --'), to read each host's unexpected exits "
                                 "there; default: from each host's home on this machine")
    p.add_argument("--home-root", type=home_root_option,
                   help="with --all-hosts: each host's home is HOME_ROOT/NAME (default: hosts/NAME under the usual home)")
    p.add_argument("--exits", action="store_true", help="only the unexpected exits of this home's programs, from its "
                                                        "supervisord's log (what --all-hosts --via asks each host)")
    home_arg(p)
    host_arg(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("render", help="print the supervisord programs for a topology; start nothing")
    p.add_argument("file")
    home_arg(p)
    host_arg(p)
    p.set_defaults(func=cmd_render)
