"""The launcher: topology -> supervisord programs -> running, ready actors.

A home directory holds `supervisord.conf` and `run/` (socket, logs, rendered programs, the
topology copy the actors read, managed Redis data). The repo root is the default home; tests
pass `--home` so that several systems never share a supervisord.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from launcher.redis_binary import INSTALL_HINT, find_redis_server
from launcher.schema import SchemaError
from launcher.topology import EXIT_BAD_INPUT, EXIT_BAD_INPUT_LINE, Topology, endpoint_port, load_topology

REPO = Path(__file__).resolve().parent.parent
REDIS_PROGRAM = "redis"
# One BLAS thread per actor: on a 2-core machine shared by 8 processes, OpenBLAS's own threads
# contend (x @ x.T for 500 symbols went from ~7 to ~23 ms with 2 threads under load).
ACTOR_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
PROGRAMS_FILE = "clustergate.conf"


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
    def logs(self) -> Path:
        return self.run / "logs"

    @property
    def redis_dir(self) -> Path:
        return self.run / "redis"

    def log_of(self, program: str) -> Path:
        return self.logs / f"{program}.log"

    def prepare(self) -> None:
        for d in (self.run, self.programs.parent, self.logs, self.redis_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run, 0o700)
        if not self.conf.exists():
            shutil.copyfile(REPO / "supervisord.conf", self.conf)


def home_from(args: argparse.Namespace) -> Home:
    root = getattr(args, "home", None) or os.environ.get("CLUSTERGATE_HOME") or REPO
    return Home(Path(root).resolve())


# --------------------------------------------------------------------------- rendering


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def actor_config_hash(topo: Topology, name: str) -> str:
    """Changes exactly when something this actor reads changes, so `up` restarts only it."""
    shared = {"symbols": topo.symbols, "redis": asdict(topo.redis), "positions": asdict(topo.positions),
              "clusters": asdict(topo.clusters), "base_dir": topo.base_dir, "name": topo.name,
              "security": asdict(topo.security)}
    return _hash({"actor": asdict(topo.actors[name]), "shared": shared})


def render_programs(topo: Topology, home: Home, python: str = sys.executable, redis_binary: str | None = None) -> str:
    """The supervisord program sections for a topology: managed Redis first, then one per actor."""
    out = [f"; rendered by clustergate from {topo.source_path} -- do not edit; run `clustergate up` again\n"]
    if topo.redis.managed:
        binary = redis_binary or find_redis_server() or "redis-server"
        out.append(_program(REDIS_PROGRAM, f"{binary} {home.redis_dir / 'redis.conf'}", priority=1,
                            directory=home.redis_dir, log=home.log_of(REDIS_PROGRAM),
                            env={"CLUSTERGATE_CONFIG_HASH": _hash(asdict(topo.redis))}, startsecs=1, stopwait=10))
    for i, (name, spec) in enumerate(topo.actors.items()):
        command = f"{python} -m actors.{spec.kind} --topology {home.topology} --name {name}"
        out.append(_program(name, command, priority=100 + i, directory=REPO, log=home.log_of(name),
                            env={"CLUSTERGATE_CONFIG_HASH": actor_config_hash(topo, name), "PYTHONUNBUFFERED": "1",
                                 **ACTOR_THREAD_ENV},
                            startsecs=1, stopwait=5))
    return "\n".join(out)


def _program(name: str, command: str, *, priority: int, directory: Path, log: Path, env: dict[str, str],
             startsecs: int, stopwait: int) -> str:
    env_line = ",".join(f'{k}="{v}"' for k, v in env.items())
    return (f"[program:{name}]\n"
            f"command={command}\n"
            f"directory={directory}\n"
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
            f"stdout_logfile={log}\n"
            f"stdout_logfile_maxbytes=20MB\n"
            f"stdout_logfile_backups=2\n"
            f"environment={env_line}\n")


def render_redis_conf(topo: Topology, home: Home) -> str:
    lines = [f"port {topo.redis.port}", "bind 127.0.0.1", "protected-mode yes", f"dir {home.redis_dir}",
             "appendonly yes", "appendfsync everysec", 'save ""', "daemonize no", f"logfile \"\"",
             # Full: refuse writes (decisions fail closed to HOLD), never evict a cooldown or a permit.
             f"maxmemory {topo.redis.maxmemory_mb}mb", "maxmemory-policy noeviction"]
    password = topo.redis.password
    if password:
        lines.append(f"requirepass {password}")
    return "\n".join(lines) + "\n"


def topology_copy(topo: Topology) -> str:
    """The topology as the actors read it: the source file's data with base_dir pinned."""
    data = yaml.safe_load(Path(topo.source_path).read_text()) if topo.source_path else {}
    data.pop("$schema", None)
    data["base_dir"] = str(Path(topo.source_path).parent) if topo.source_path else str(Path.cwd())
    return yaml.safe_dump(data, sort_keys=False)


def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- supervisord control


class Supervisor:
    """XML-RPC to the home's supervisord over its unix socket."""

    def __init__(self, home: Home):
        self.home = home

    @property
    def api(self) -> Any:
        """A fresh connection per use: a failed request leaves the transport unusable."""
        from supervisor.xmlrpc import SupervisorTransport
        transport = SupervisorTransport(None, None, f"unix://{self.home.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def running(self) -> bool:
        try:
            return self.api.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError, http.client.HTTPException):
            return False

    def start_daemon(self) -> None:
        supervisord = shutil.which("supervisord", path=str(Path(sys.executable).parent)) or shutil.which("supervisord")
        if supervisord is None:
            raise LaunchError("supervisord not found: install clustergate with `pip install -e .`")
        result = subprocess.run([supervisord, "-c", str(self.home.conf)], capture_output=True, text=True,
                                cwd=self.home.root)
        if result.returncode != 0:
            raise LaunchError(f"supervisord failed to start: {result.stderr.strip() or result.stdout.strip()}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.1)
        raise LaunchError(f"supervisord did not answer on {self.home.socket} within 15 s; see {self.home.run / 'supervisord.log'}")

    def apply_config(self) -> tuple[list[str], list[str], list[str]]:
        """Like `supervisorctl update`: add new programs, restart changed ones, remove gone ones."""
        added, changed, removed = self.api.reloadConfig()[0]
        for name in removed:
            self._stop_quietly(name)
            self.api.removeProcessGroup(name)
        for name in changed:
            self._stop_quietly(name)
            self.api.removeProcessGroup(name)
            self.api.addProcessGroup(name)
        for name in added:
            self.api.addProcessGroup(name)
        return added, changed, removed

    def _stop_quietly(self, name: str) -> None:
        try:
            self.api.stopProcessGroup(name)
        except xmlrpc.client.Fault:
            pass

    def processes(self) -> list[dict[str, Any]]:
        return self.api.getAllProcessInfo()

    def shutdown(self) -> None:
        self.api.stopAllProcesses()
        self.api.shutdown()


class LaunchError(Exception):
    pass


# --------------------------------------------------------------------------- readiness


def scrape(host: str, port: int, timeout_s: float = 1.0) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout_s).read().decode()
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
    """True/False from the actor's readiness gauge; None when the endpoint does not answer."""
    spec = topo.actors[name]
    try:
        return metric(scrape(spec.host, spec.metrics_port), "clustergate_actor_ready") == 1.0
    except OSError:
        return None


def redis_ready(topo: Topology) -> bool:
    import redis
    try:
        return bool(redis.Redis(host="127.0.0.1", port=topo.redis.port, password=topo.redis.password,
                                socket_timeout=0.5, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


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


def wait_until_ready(sup: Supervisor, topo: Topology, home: Home, timeout_s: float, out: Any = sys.stdout) -> bool:
    names = ([REDIS_PROGRAM] if topo.redis.managed else []) + list(topo.actors)
    deadline = time.monotonic() + timeout_s
    last_line = ""
    while True:
        infos = {p["name"]: p for p in sup.processes()}
        waiting: list[str] = []
        for name in names:
            info = infos.get(name)
            state = info["statename"] if info else "MISSING"
            # FATAL will not recover; bad input (exit 2) will not be fixed by a retry. supervisord reports no
            # exit status for a program that exits within its start window, hence the log's last line.
            if info and (state == "FATAL" or (state in ("BACKOFF", "EXITED") and (
                    info.get("exitstatus") == EXIT_BAD_INPUT or last_log_line(home.log_of(name)) == EXIT_BAD_INPUT_LINE))):
                print(f"FAILED: program {name} is {state} ({info.get('spawnerr') or info.get('description')})", file=out)
                print(f"--- last lines of {home.log_of(name)} ---\n{tail(home.log_of(name))}", file=out)
                return False
            if state != "RUNNING":
                waiting.append(f"{name} ({state.lower()})")
                continue
            ready = redis_ready(topo) if name == REDIS_PROGRAM else actor_ready(topo, name)
            if not ready:
                waiting.append(f"{name} ({'not ready' if ready is False else 'no metrics yet'})")
        done = len(names) - len(waiting)
        line = f"[{done}/{len(names)} ready] " + ("waiting for " + ", ".join(waiting) if waiting else "all ready")
        if line != last_line:
            print(line, file=out, flush=True)
            last_line = line
        if not waiting:
            return True
        if time.monotonic() > deadline:
            print(f"FAILED: not ready after {timeout_s:.0f} s: {', '.join(waiting)}", file=out)
            for entry in waiting:
                name = entry.split(" ")[0]
                print(f"--- last lines of {home.log_of(name)} ---\n{tail(home.log_of(name))}", file=out)
            return False
        time.sleep(0.2)


# --------------------------------------------------------------------------- commands


def _load(path: str) -> Topology | None:
    try:
        return load_topology(path)
    except SchemaError as exc:
        for problem in exc.problems:
            print(problem.render(path), file=sys.stderr)
        return None


def _busy_ports(topo: Topology, programs: list[str]) -> list[str]:
    problems = []
    for name in programs:
        if name == REDIS_PROGRAM:
            ports = [("redis.port", topo.redis.port)]
        elif name in topo.actors:
            spec = topo.actors[name]
            ports = [(f"actors.{name}.metrics_port", spec.metrics_port)]
            ports += [(f"actors.{name}.sockets.{role}.bind", endpoint_port(s.bind)) for role, s in spec.sockets.items() if s.bind]
        else:
            continue
        for where, port in ports:
            if port is None:
                continue
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    problems.append(f"{where}: port {port} is already in use by another process")
    return problems


def cmd_up(args: argparse.Namespace) -> int:
    topo = _load(args.file)
    if topo is None:
        return 2
    home = home_from(args)
    redis_binary = None
    if topo.redis.managed:
        redis_binary = find_redis_server()
        if redis_binary is None:
            print(f"cannot start managed Redis: {INSTALL_HINT}", file=sys.stderr)
            return 1
    home.prepare()
    sup = Supervisor(home)
    was_running = sup.running()
    previous = home.programs.read_text() if home.programs.exists() else ""
    _write_atomic(home.topology, topology_copy(topo))
    _write_atomic(home.redis_dir / "redis.conf", render_redis_conf(topo, home), mode=0o600)
    rendered = render_programs(topo, home, redis_binary=redis_binary)
    new_programs = [n for n in ([REDIS_PROGRAM] if topo.redis.managed else []) + list(topo.actors)
                    if f"[program:{n}]" not in previous or not was_running]
    busy = _busy_ports(topo, new_programs)
    if busy:
        for line in busy:
            print(f"{args.file}: {line}", file=sys.stderr)
        return 1
    _write_atomic(home.programs, rendered)
    try:
        if was_running:
            added, changed, removed = sup.apply_config()
            print(f"updated {topo.name}: added {added or '-'}, restarted {changed or '-'}, removed {removed or '-'}")
        else:
            print(f"starting supervisord ({home.conf}) for topology {topo.name}")
            sup.start_daemon()
    except (LaunchError, xmlrpc.client.Fault, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    ok = wait_until_ready(sup, topo, home, args.timeout)
    if ok:
        print(f"{topo.name} is up: `clustergate status` shows it; logs in {home.logs}")
    return 0 if ok else 1


def cmd_down(args: argparse.Namespace) -> int:
    home = home_from(args)
    sup = Supervisor(home)
    if not sup.running():
        print(f"nothing running (no supervisord on {home.socket})")
        return 0
    pid_file = home.run / "supervisord.pid"
    pid = int(pid_file.read_text().strip()) if pid_file.exists() else None
    sup.shutdown()
    deadline = time.monotonic() + 30
    while pid is not None and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        if pid is not None:
            print(f"supervisord (pid {pid}) still running after 30 s", file=sys.stderr)
            return 1
    print("stopped every program and supervisord; Redis data and logs stay in " + str(home.run))
    return 0


def collect_status(home: Home) -> dict[str, Any]:
    sup = Supervisor(home)
    topo = load_topology(home.topology) if home.topology.exists() else None
    if not sup.running():
        return {"supervisord": "not running", "topology": topo.name if topo else None, "programs": []}
    rows = []
    for info in sup.processes():
        name = info["name"]
        row: dict[str, Any] = {"name": name, "state": info["statename"], "pid": info["pid"] or None,
                               "uptime_s": (info["now"] - info["start"]) if info["statename"] == "RUNNING" else 0}
        if topo and name in topo.actors:
            spec = topo.actors[name]
            row["kind"] = spec.kind
            row["metrics_url"] = f"http://{spec.host}:{spec.metrics_port}/metrics"
            row["ready"] = actor_ready(topo, name)
        elif topo and name == REDIS_PROGRAM:
            row["kind"] = "redis"
            row["metrics_url"] = None
            row["ready"] = redis_ready(topo)
        rows.append(row)
    return {"supervisord": "running", "topology": topo.name if topo else None, "programs": rows}


def cmd_status(args: argparse.Namespace) -> int:
    from launcher.overview import collect_overview, render_overview
    home = home_from(args)
    status = collect_status(home)
    topo = load_topology(home.topology) if home.topology.exists() and status["supervisord"] == "running" else None
    if topo is not None:
        status["overview"] = collect_overview(topo)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(f"supervisord: {status['supervisord']}   topology: {status['topology'] or '-'}")
        if status["programs"]:
            print(f"{'PROGRAM':<16}{'STATE':<10}{'READY':<7}{'PID':<9}{'METRICS'}")
            for row in status["programs"]:
                ready = {True: "yes", False: "no", None: "?"}[row.get("ready")]
                print(f"{row['name']:<16}{row['state']:<10}{ready:<7}{str(row['pid'] or '-'):<9}{row.get('metrics_url') or '-'}")
        if topo is not None:
            print()
            print(render_overview(topo, status["overview"]))
    all_ok = status["supervisord"] == "running" and all(r["state"] == "RUNNING" and r.get("ready") for r in status["programs"])
    return 0 if all_ok else 1


def cmd_render(args: argparse.Namespace) -> int:
    topo = _load(args.file)
    if topo is None:
        return 2
    print(render_programs(topo, home_from(args)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    def home_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", help="directory with supervisord.conf and run/ (default: the repo root, or $CLUSTERGATE_HOME)")

    p = sub.add_parser("up", help="start (or update) a topology under supervisord and wait until it is ready")
    p.add_argument("file")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness (default 60)")
    home_arg(p)
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop every program and supervisord")
    home_arg(p)
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="state, readiness and metrics URL per actor")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    home_arg(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("render", help="print the supervisord programs for a topology; start nothing")
    p.add_argument("file")
    home_arg(p)
    p.set_defaults(func=cmd_render)
