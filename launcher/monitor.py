"""`clustergate monitor up|down|status`: a real Prometheus server for a running system.

Prometheus (Debian's `prometheus` package, the one .ci/install-promtool installs) runs as the
program `prometheus` of the home's own supervisord, so it stops with `clustergate down`, dies with
supervisord even when that is killed (the parent-death shim, as for Redis), and a copy that
outlived both is a leftover `clustergate down` finds (by its data directory on its command line).
`monitor up` writes, under the home's run/prometheus/: prometheus.yml (the scrape config
`clustergate prometheus-config` renders from the running topology, one job per actor), a copy of
the rules file (configs/alerts.yml unless --rules), and the TSDB in data/; and the program section
run/programs.d/monitor.conf, which stays until `monitor down` (a later `clustergate up` of the
same home starts Prometheus again). It listens on 127.0.0.1 only, on --port or a free port; it
scrapes the topology's metrics endpoints and sends nothing anywhere else (no Alertmanager, no
remote write).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from datetime import datetime
from pathlib import Path
from typing import Any

from launcher.monitoring import positive_seconds, render_prometheus_config, scrape_target
from launcher.ports import port_free, port_outside_ephemeral_range
from launcher.schema import SchemaError
from launcher.supervise import (PARENT_DEATH_SHIM, REPO, DeferredInterrupt, Home, LaunchError, Supervisor, _command,
                                _conf_value, as_typed, home_from, home_option, home_processes, last_log_line,
                                signal_name, stop_processes, tail, write_files)
from launcher.topology import Topology, load_running_copy

MONITOR_PROGRAM = "prometheus"
MONITOR_PROGRAMS_FILE = "monitor.conf"
RULES_DEFAULT = REPO / "configs" / "alerts.yml"
SCRAPE_INTERVAL_S_DEFAULT = 15
INSTALL_HINT = ("prometheus is not on PATH: install Debian's package with "
                "`sudo apt-get install --no-install-recommends prometheus` (or run `bash .ci/install-promtool` "
                "as root, which `make test` does)")


def monitor_dir(home: Home) -> Path:
    return home.run / "prometheus"


def data_dir(home: Home) -> Path:
    """The TSDB; also how `clustergate down` recognises a leftover Prometheus of this home."""
    return monitor_dir(home) / "data"


def config_path(home: Home) -> Path:
    return monitor_dir(home) / "prometheus.yml"


def rules_path(home: Home) -> Path:
    return monitor_dir(home) / "alerts.yml"


def state_path(home: Home) -> Path:
    return monitor_dir(home) / "monitor.json"


def lock_path(home: Home) -> Path:
    return monitor_dir(home) / ".monitor.lock"


@contextlib.contextmanager
def monitor_lock(home: Home):
    """One `monitor up` or `monitor down` of a home at a time: two at once used to record one port
    while the server that won listened on another (and the loser died with ALREADY_ADDED). Yields
    False, without waiting, when another holds the lock."""
    monitor_dir(home).mkdir(parents=True, exist_ok=True)
    with open(lock_path(home), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def busy_message(home: Home) -> str:
    return (f"FAILED: another `clustergate monitor` command runs for {home.root} (it holds {lock_path(home)}): "
            f"run this one once it has finished")


def programs_path(home: Home) -> Path:
    return home.programs.parent / MONITOR_PROGRAMS_FILE


def find_prometheus() -> str | None:
    return shutil.which("prometheus")


def render_program(home: Home, binary: str, port: int, python: str = sys.executable) -> str:
    """The supervisord section that runs Prometheus on 127.0.0.1:port with the home's files."""
    command = _command(python, str(PARENT_DEATH_SHIM), binary,
                       "--config.file", str(config_path(home)),
                       "--storage.tsdb.path", str(data_dir(home)),
                       "--web.listen-address", f"127.0.0.1:{port}",)
    return (f"; rendered by `clustergate monitor up` -- removed by `clustergate monitor down`\n"
            f"[program:{MONITOR_PROGRAM}]\n"
            f"command={command}\n"
            f"directory={_conf_value(str(monitor_dir(home)))}\n"
            f"priority=900\n"
            f"autostart=true\n"
            f"autorestart=true\n"
            f"startsecs=1\n"
            f"startretries=3\n"
            f"stopsignal=TERM\n"
            f"stopwaitsecs=20\n"
            f"stopasgroup=true\n"
            f"killasgroup=true\n"
            f"redirect_stderr=true\n"
            f"stdout_logfile={_conf_value(str(home.log_of(MONITOR_PROGRAM)), expansions=2)}\n"
            f"stdout_logfile_maxbytes=20MB\n"
            f"stdout_logfile_backups=2\n")


def any_free_port() -> int:
    """Prometheus's port when none is given: outside the ephemeral range, where an outgoing connection or another
    program's bind(0) could take it before Prometheus binds it (Prometheus then exits and `monitor up` fails)."""
    return port_outside_ephemeral_range()


def read_state(home: Home) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return None


def api_get(url: str, timeout_s: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.loads(response.read().decode())


def server_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1.0) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def actor_named_like_the_monitor(home: Home) -> bool:
    """True when the running topology has an actor named `prometheus`: its supervisord program has the
    monitor's name, so the monitor must neither replace nor stop nor report it as Prometheus."""
    topo = running_topology(home)
    return topo is not None and MONITOR_PROGRAM in topo.actors


def running_topology(home: Home) -> Topology | None:
    """The home's running copy read leniently as status reads it (what runs is what it says, even where today's
    checks refuse it); None when it cannot be read as a topology at all."""
    try:
        return load_running_copy(home.topology)[0]
    except (OSError, SchemaError):
        return None


def _process_info(sup: Supervisor) -> dict[str, Any] | None:
    if actor_named_like_the_monitor(sup.home):
        return None
    for info in sup.processes():
        if info["name"] == MONITOR_PROGRAM:
            return info
    return None


def monitor_ready(home: Home) -> bool | None:
    """For `clustergate status`: True when this home's Prometheus answers /-/ready."""
    state = read_state(home)
    return server_ready(state["url"]) if state else None


def _stray(home: Home, supervised: set[int]) -> list:
    return [p for p in home_processes(home) if p.what == MONITOR_PROGRAM and p.pid not in supervised]


def _remove_group(sup: Supervisor) -> bool:
    """Stop and forget the program in the running supervisord; True when it was there."""
    if _process_info(sup) is None:
        return False
    try:
        sup.api.stopProcessGroup(MONITOR_PROGRAM)
    except xmlrpc.client.Fault:
        pass  # not running
    sup.api.removeProcessGroup(MONITOR_PROGRAM)
    return True


def rules_problem(rules: Path) -> str | None:
    """What `promtool check rules` (same package as prometheus) finds wrong, on one line; None when
    the file passes or promtool is not installed (Prometheus then reports it in its log)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return None
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    if check.returncode == 0:
        return None
    lines = [line.strip() for line in (check.stderr + check.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("Checking ") and "FAILED" not in line] or lines
    return "promtool check rules: " + "; ".join(errors)[:500]


def cmd_monitor_up(args: argparse.Namespace) -> int:
    home = home_from(args)
    if not Supervisor(home).running():  # before the lock: its file would create run/ in any directory
        return _monitor_up(args, home)
    with monitor_lock(home) as locked:
        if not locked:
            print(busy_message(home), file=sys.stderr)
            return 1
        return _monitor_up(args, home)


def _monitor_up(args: argparse.Namespace, home: Home) -> int:
    binary = find_prometheus()
    if binary is None:
        print(f"FAILED: {INSTALL_HINT}", file=sys.stderr)
        return 1
    rules = Path(args.rules) if args.rules else RULES_DEFAULT
    try:
        rules_text = rules.read_text()
    except OSError as exc:
        print(f"FAILED: cannot read rules file {rules}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    problem = rules_problem(rules)
    if problem:  # before anything stops: a running Prometheus keeps its old rules
        print(f"FAILED: {rules}: {problem}", file=sys.stderr)
        return 2
    sup = Supervisor(home)
    if not sup.running() or not home.topology.exists():
        print(f"FAILED: the system of {home.root} is not up (no supervisord answers on {home.socket}): "
              f"`clustergate up FILE --home {home.root}` first", file=sys.stderr)
        return 1
    try:
        topo, _ = load_running_copy(home.topology)
    except SchemaError as exc:
        print(f"FAILED: the running topology {home.topology} cannot be read as a topology: {exc.problems[0].render(str(home.topology))}",
              file=sys.stderr)
        return 1
    if MONITOR_PROGRAM in topo.actors:
        print(f"FAILED: the running topology {home.topology} has an actor named {MONITOR_PROGRAM}, which is "
              f"also the supervisord program name of the monitor: rename that actor to run `clustergate monitor`",
              file=sys.stderr)
        return 2
    state = read_state(home)
    info = _process_info(sup)
    ours = info is not None and info["statename"] in ("RUNNING", "STARTING", "BACKOFF")
    if args.port is not None:
        port = args.port
    elif state and ours:
        port = state["port"]  # restarting our own server keeps its URL
    else:
        port = any_free_port()
    # Our own running server holds its port until we stop it; anything else on it is a real conflict.
    if not (ours and state and state.get("port") == port) and not port_free(port):
        print(f"FAILED: port {port} on 127.0.0.1 is busy: choose another with --port", file=sys.stderr)
        return 1
    stray = _stray(home, supervised={info["pid"]} if info and info["pid"] else set())
    if stray:
        print(f"FAILED: a Prometheus of {home.root} runs outside supervisord (pid "
              f"{', '.join(str(p.pid) for p in stray)}): `clustergate monitor down --home {home.root}` stops it",
              file=sys.stderr)
        return 1

    monitor_dir(home).mkdir(parents=True, exist_ok=True)
    data_dir(home).mkdir(parents=True, exist_ok=True)
    config = render_prometheus_config(topo, scrape_interval_s=args.scrape_interval,
                                      rule_files=(str(rules_path(home)),))
    url = f"http://127.0.0.1:{port}"
    with DeferredInterrupt() as interrupt:  # the old server stopped, the new one not yet added: finish the switch
        _remove_group(sup)  # a new config, rules or port: restart
        write_files({config_path(home): (config, 0o644), rules_path(home): (rules_text, 0o644),
                     state_path(home): (json.dumps({"port": port, "url": url, "rules": str(rules.resolve()),
                                                    "scrape_interval_s": args.scrape_interval}) + "\n", 0o644),
                     programs_path(home): (render_program(home, binary, port), 0o644)})
        sup.api.reloadConfig()
        sup.api.addProcessGroup(MONITOR_PROGRAM)
    # Interrupted from here on, it said nothing, exit 130, and the Prometheus it started ran on (opcli).
    started = (f"prometheus was started on {url}; `{as_typed()} monitor status --home {shlex.quote(str(home.root))}` "
               f"shows when it is ready, `{as_typed()} monitor down --home {shlex.quote(str(home.root))}` stops it")
    if interrupt.signum:
        print(f"interrupted ({signal_name(interrupt.signum)}): {started}", file=sys.stderr)
        return 128 + interrupt.signum
    try:
        return _wait_ready(args, home, sup, topo, rules, url)
    except KeyboardInterrupt:
        print(f"interrupted (SIGINT): {started}", file=sys.stderr)
        return 130


def _wait_ready(args: argparse.Namespace, home: Home, sup: Supervisor, topo: Topology, rules: Path, url: str) -> int:
    """Wait for the Prometheus just started at url: ready, every target scraped once and the rules evaluated, within
    --timeout; 0 once ready (saying what is not yet), 1 when it never was."""
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if server_ready(url):
            scraped = wait_first_scrape(url, set(topo.actors), args.scrape_interval, deadline)
            evaluated = scraped is not None and wait_rules_evaluated(url, time.time(), args.scrape_interval, deadline)
            print(f"prometheus is up: {url} scraping {len(topo.actors)} actors of {topo.name} every "
                  f"{args.scrape_interval} s, rules {rules}; data in {data_dir(home)}")
            if scraped is None:
                print("not every target scraped yet (after one scrape interval): `clustergate monitor status` shows them")
            elif not evaluated:
                print("the alert rules have not all been evaluated since the first scrapes yet (after one evaluation "
                      "interval): `clustergate monitor status` may not list every alert they will raise")
            elif any(t["health"] != "up" for t in scraped):
                down = ", ".join(f"{t['labels'].get('job', '?')} ({t.get('lastError') or t['health']})"
                                 for t in scraped if t["health"] != "up")
                print(f"targets not up: {down}")
            return 0
        info = _process_info(sup)
        if info is not None and info["statename"] in ("FATAL", "EXITED", "BACKOFF"):
            break
        time.sleep(0.2)
    print(f"FAILED: prometheus did not become ready on {url} within {args.timeout:g} s; "
          f"--- last lines of {home.log_of(MONITOR_PROGRAM)} ---\n{tail(home.log_of(MONITOR_PROGRAM))}", file=sys.stderr)
    return 1


def wait_first_scrape(url: str, jobs: set[str], scrape_interval_s: float, deadline: float) -> list[dict] | None:
    """Wait until Prometheus has a target for every job and has scraped each once (its health is no
    longer `unknown`), so `monitor status` right after `monitor up` reports every target; Prometheus
    spreads first scrapes over one interval. The active targets, or None if that takes longer than
    the later of the deadline and one interval (+10 s)."""
    until = max(deadline, time.monotonic() + scrape_interval_s + 10)
    while True:
        try:
            targets = api_get(f"{url}/api/v1/targets?state=active")["data"]["activeTargets"]
        except (OSError, ValueError, KeyError):
            targets = []
        if ({t["labels"].get("job") for t in targets} >= jobs
                and all(t["health"] != "unknown" for t in targets)):
            return targets
        if time.monotonic() >= until:
            return None
        time.sleep(0.2)


def wait_rules_evaluated(url: str, since: float, evaluation_interval_s: float, deadline: float) -> bool:
    """Wait until every rule group has been evaluated after `since` (Unix seconds: when every target had
    been scraped once), so the alerts `monitor status` lists right after `monitor up` are the rules' verdict
    on those scrapes, not the empty list of rules that have not seen them. False if that takes longer than
    the later of the deadline and one interval (+10 s)."""
    until = max(deadline, time.monotonic() + evaluation_interval_s + 10)
    while True:
        try:
            groups = api_get(f"{url}/api/v1/rules")["data"]["groups"]
            if all(unix_seconds(g["lastEvaluation"]) > since for g in groups):
                return True
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() >= until:
            return False
        time.sleep(0.2)


def unix_seconds(rfc3339: str) -> float:
    """Prometheus's RFC 3339 time (nanosecond fraction, `Z`) as Unix seconds; its zero time ("0001-01-01T00:00:00Z",
    never evaluated) is far in the past."""
    found = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", rfc3339)
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {rfc3339!r}")
    whole = datetime.fromisoformat(found[1] + (found[3] or "Z").replace("Z", "+00:00"))
    return whole.timestamp() + float(f"0{found[2] or ''}")


def cmd_monitor_down(args: argparse.Namespace) -> int:
    home = home_from(args)
    if not monitor_dir(home).is_dir():
        return _monitor_down(home)
    with monitor_lock(home) as locked:
        if not locked:
            print(busy_message(home), file=sys.stderr)
            return 1
        return _monitor_down(home)


def _monitor_down(home: Home) -> int:
    sup = Supervisor(home)
    stopped = False
    if sup.running():
        stopped = _remove_group(sup)
    had_conf = programs_path(home).exists()
    programs_path(home).unlink(missing_ok=True)  # a later `clustergate up` must not start it again
    stray = _stray(home, supervised=set())
    still = stop_processes(stray)
    for proc in stray:
        if proc not in still:
            print(f"stopped leftover prometheus pid {proc.pid}")
    if still:
        print(f"FAILED: prometheus still running: pid {', '.join(str(p.pid) for p in still)}", file=sys.stderr)
        return 1
    if stopped:
        print(f"stopped prometheus; its data stays in {data_dir(home)}")
    elif not stray:
        print(f"prometheus was not running for {home.root}" + (" (its program section is removed)" if had_conf else ""))
    return 0


def collect_monitor_status(home: Home) -> dict[str, Any]:
    sup = Supervisor(home)
    state = read_state(home)
    out: dict[str, Any] = {"running": False, "state": "not running", "url": state["url"] if state else None,
                           "targets": [], "alerts": [], "leftovers": []}
    info = _process_info(sup) if sup.running() else None
    if info is not None:
        out["state"] = info["statename"]
    out["leftovers"] = [p.pid for p in _stray(home, {info["pid"]} if info and info["pid"] else set())]
    if info is not None and info["statename"] in ("BACKOFF", "FATAL", "EXITED"):
        out["error"] = last_log_line(home.log_of(MONITOR_PROGRAM)) or "no log line"
    if info is None or info["statename"] not in ("RUNNING", "STARTING") or not state:
        return out
    try:
        targets = api_get(f"{state['url']}/api/v1/targets?state=active")["data"]["activeTargets"]
    except (OSError, ValueError, KeyError) as exc:
        out["error"] = f"{state['url']} does not answer: {exc}"
        return out
    out["running"] = True
    out["targets"] = [{"job": t["labels"].get("job", "?"), "instance": t["labels"].get("instance", "?"),
                       "health": t["health"], "last_error": t.get("lastError", "")}
                      for t in sorted(targets, key=lambda t: t["labels"].get("job", ""))]
    out["unscraped"], out["not_in_topology"] = compare_targets(home, out["targets"])
    try:
        alerts = api_get(f"{state['url']}/api/v1/alerts")["data"]["alerts"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        out["error"] = f"{state['url']} does not list its alerts: {exc}"
        alerts = None
    out["alerts"] = None if alerts is None else active_alerts(alerts)
    return out


def active_alerts(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prometheus's pending and firing alerts, firing first, each with its name, severity, other labels and summary."""
    out = [{"state": a.get("state", "?"), "alertname": a.get("labels", {}).get("alertname", "?"),
            "severity": a.get("labels", {}).get("severity", "-"),
            "labels": {k: v for k, v in sorted(a.get("labels", {}).items()) if k not in ("alertname", "severity")},
            "summary": (a.get("annotations") or {}).get("summary", "")} for a in alerts]
    return sorted(out, key=lambda a: (a["state"] != "firing", a["alertname"], sorted(a["labels"].items())))


def compare_targets(home: Home, targets: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(actors of the running topology Prometheus does not scrape where they listen, targets it scrapes
    that the topology no longer has): `clustergate up` of a changed topology leaves Prometheus on its
    old scrape config until `monitor up`."""
    topo = running_topology(home)
    if topo is None:
        return [], []
    want = {(name, scrape_target(spec.host, spec.metrics_port)) for name, spec in topo.actors.items()}
    have = {(t["job"], t["instance"]) for t in targets}
    return (sorted(f"{job} ({where})" for job, where in want - have),
            sorted(f"{job} ({where})" for job, where in have - want))


def cmd_monitor_status(args: argparse.Namespace) -> int:
    home = home_from(args)
    status = collect_monitor_status(home)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        if status["running"]:
            print(f"prometheus: running   url: {status['url']}")
        else:
            print(f"prometheus: {status['state'].lower()}" + (f"   ({status['error']})" if status.get("error") else ""))
        if status["targets"]:
            print(f"{'JOB':<16}{'INSTANCE':<22}{'HEALTH':<9}LAST ERROR")
            for t in status["targets"]:
                print(f"{t['job']:<16}{t['instance']:<22}{t['health']:<9}{t['last_error'] or '-'}")
        if status.get("unscraped") or status.get("not_in_topology"):
            print(f"the scrape config is older than the running topology ({home.topology}): not scraped: "
                  f"{', '.join(status['unscraped']) or '-'}; no longer in it: {', '.join(status['not_in_topology']) or '-'}; "
                  f"`clustergate monitor up --home {home.root}` reloads it")
        for pid in status["leftovers"]:
            print(f"leftover prometheus pid {pid}, run by no supervisord: `clustergate monitor down --home {home.root}` stops it")
        if status["running"] and status["alerts"] is None:
            print(f"alerts: unknown ({status['error']})")
        for a in status["alerts"] or []:
            labels = " ".join(f"{k}={v}" for k, v in a["labels"].items())
            print(f"{a['state']:<9}{a['severity']:<10}{a['alertname']}  {labels}" + (f": {a['summary']}" if a["summary"] else ""))
    if status["running"] and not status["targets"]:
        print("no scrape target yet: Prometheus has not discovered its targets; try again in a few seconds")
    ok = (status["running"] and bool(status["targets"]) and not status["leftovers"]
          and all(t["health"] == "up" for t in status["targets"])
          and status["alerts"] is not None and not any(a["state"] == "firing" for a in status["alerts"])
          and not status.get("unscraped") and not status.get("not_in_topology"))
    return 0 if ok else 1


def tcp_port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port (1-65535), got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("monitor", help="run a live Prometheus (scrape config + alert rules) for the running system")
    sub = p.add_subparsers(dest="monitor_command", required=True, metavar="up|down|status")

    def home_arg(q: argparse.ArgumentParser) -> None:
        q.add_argument("--home", type=home_option,
                       help="directory with supervisord.conf and run/ (default: the repo root, or $CLUSTERGATE_HOME)")

    q = sub.add_parser("up", help="start (or restart) Prometheus on 127.0.0.1 and wait until it is ready")
    q.add_argument("--port", type=tcp_port, metavar="PORT", help="listen on 127.0.0.1:PORT (default: a free port)")
    q.add_argument("--rules", metavar="PATH", help=f"alert rules file (default {RULES_DEFAULT.relative_to(REPO)})")
    q.add_argument("--scrape-interval", type=positive_seconds, default=SCRAPE_INTERVAL_S_DEFAULT, metavar="SECONDS",
                   help=f"scrape and rule evaluation interval (default {SCRAPE_INTERVAL_S_DEFAULT})")
    q.add_argument("--timeout", type=positive_seconds, default=30, metavar="SECONDS",
                   help="seconds to wait for readiness, the first scrape of every target and the rules' first evaluation "
                   "after them (default 30)")
    home_arg(q)
    q.set_defaults(func=cmd_monitor_up)
    q = sub.add_parser("down", help="stop Prometheus (its data stays under run/prometheus/data)")
    home_arg(q)
    q.set_defaults(func=cmd_monitor_down)
    q = sub.add_parser("status", help="whether Prometheus runs, its URL, and the health of every target")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    home_arg(q)
    q.set_defaults(func=cmd_monitor_status)
