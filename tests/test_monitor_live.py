"""`clustergate monitor`: a real Prometheus (Debian's package) against a live demo system.

The shipped alert rules and dashboard are proven on a live server, not only by promtool's unit
tests: every target is scraped, stopping the state writer raises its staleness alerts (pending,
then firing) and starting it again resolves them, and every PromQL expression of
configs/grafana-dashboard.json and configs/alerts.yml evaluates without error and with data.

Speed: scrapes and rule evaluations every second, and a rules file derived from configs/alerts.yml
with every `for:` cut to FOR_S seconds and P27UpdatesStalled's 10-minute rate window cut to
STALLED_WINDOW (every other expression is the shipped one, untouched).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from helpers import REPO, free_port, retarget, two_gates_data, wait_for, write_topology
from launcher.monitor import data_dir, unix_seconds
from launcher.supervise import Home, home_processes, stop_processes
from launcher.client import GateClient
from reliability import LiveSystem, clustergate

ALERTS = REPO / "configs" / "alerts.yml"
DASHBOARD = REPO / "configs" / "grafana-dashboard.json"
SCRAPE_INTERVAL_S = 1
# Prometheus's lastError for a scrape that took longer than scrape_timeout (2.42, Debian's package)
SCRAPE_TIMED_OUT = "context deadline exceeded"
FOR_S = 4  # long enough to see `pending` at a 1 s evaluation, short enough for a quick test
# What a state writer that stopped raises under the shipped rules: its target is down, and
# p27_updates_total (exported by the state writer only) is gone. P27UpdatesStalled does not fire
# for a stopped writer: its series disappears, and a rule on a missing series is silent, which is
# why the absent() rule exists.
STALENESS_ALERTS = {("ClustergateActorDown", "state_writer"), ("ClustergateMetricAbsent", "p27_updates_total")}
# What a state writer that runs but gets no new state raises (its clusterer stopped): P27UpdatesStalled,
# on the writer's own series. Its window is cut from 10m so the rate reaches 0 within the test: a few
# of the demo's 1 s cadences, and 4 scrapes at least so a late scrape cannot make it look stalled.
STALLED_ALERT = ("P27UpdatesStalled", "state_writer")
SHIPPED_STALLED_WINDOW, STALLED_WINDOW = "[10m]", "[6s]"
# What a Redis that refuses writes raises while every target stays up: P26DecisionsFailClosed on each fault HOLD
# (its 5-minute increase window cut so that it resolves within the test) and the permit issuer not ready.
FAIL_CLOSED_ALERT = ("P26DecisionsFailClosed", "gate")
SHIPPED_FAIL_CLOSED_WINDOW, FAIL_CLOSED_WINDOW = "[5m]", "[6s]"
# What an actor in a restart loop raises (revmon): ClustergateActorRestarting, its 15-minute window cut so that the
# third start falls within it and the alert resolves within the test.
RESTART_ALERT = ("ClustergateActorRestarting", "state_writer")
SHIPPED_RESTART_WINDOW, RESTART_WINDOW = "[15m]", "[20s]"
# ClustergateActorRestartingSlowly counts 5 starts in 2 hours: the state writer's stops and SIGKILLs of this module's
# tests add up to 4 today, and one more would leave it firing past every later wait for a healthy demo. Cut like the
# rule above (tests/alerts_test.yml proves it fires).
SLOW_RESTART_ALERT, SHIPPED_SLOW_RESTART_WINDOW = "ClustergateActorRestartingSlowly", "[2h]"
CUT_WINDOWS = {STALLED_ALERT[0]: (SHIPPED_STALLED_WINDOW, STALLED_WINDOW),
               FAIL_CLOSED_ALERT[0]: (SHIPPED_FAIL_CLOSED_WINDOW, FAIL_CLOSED_WINDOW),
               RESTART_ALERT[0]: (SHIPPED_RESTART_WINDOW, RESTART_WINDOW),
               SLOW_RESTART_ALERT: (SHIPPED_SLOW_RESTART_WINDOW, RESTART_WINDOW)}
# Grafana's variables, as the dashboard would expand them: $__rate_interval is at least 4 scrape
# intervals (15 s leaves room for a late scrape on a loaded machine); $__range is the dashboard's
# default time range (now-1h); $needed_points is the dashboard's own textbox default.
RATE_INTERVAL = "15s"
# Dashboard expressions allowed to have no data on a healthy demo, each with its reason. Empty:
# with the few proposals the test sends, every panel has data. Keep it short and explained.
DASHBOARD_NO_DATA_ALLOWED: dict[str, str] = {}
# An alert expression is a firing condition, so on a healthy demo its full form is empty by design;
# each is evaluated without error, and the quantity it watches (the left side of its final
# comparison, or the argument of absent()) must have data, else the rule could never fire.
COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


# --------------------------------------------------------------------------- pure helpers


def fast_rules(text: str, for_s: int) -> str:
    """configs/alerts.yml with every `for:` set to for_s seconds and the windows of CUT_WINDOWS' rules cut; every
    other expression, and every label, untouched."""
    data = yaml.safe_load(text)
    rewritten = 0
    cut: set[str] = set()
    for group in data["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{for_s}s"
                rewritten += 1
            if rule.get("alert") in CUT_WINDOWS:
                shipped, cut_window = CUT_WINDOWS[rule["alert"]]
                assert rule["expr"].count(shipped) == 1, rule["expr"]
                rule["expr"] = rule["expr"].replace(shipped, cut_window)
                cut.add(rule["alert"])
    assert rewritten, "no `for:` to rewrite: the rules file changed shape"
    assert cut == set(CUT_WINDOWS), f"{sorted(set(CUT_WINDOWS) - cut)} not found in the rules: the rules file changed shape"
    return yaml.safe_dump(data, sort_keys=False)


def watched_quantity(expr: str) -> str:
    """What an alert expression watches: absent(X) -> X; `A unless|and|or B` at the top level -> what A watches (B
    only mutes or adds to it); `LHS <cmp> RHS` at the top level -> LHS (the last top-level comparison); otherwise the
    expression itself."""
    stripped = " ".join(expr.split())
    depth, quote, last, i = 0, "", None, 0
    while i < len(stripped):  # one scan: the last top-level comparison before the first top-level set operator
        ch = stripped[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == " " and re.match(r" (unless|and|or) ", stripped[i:]):
            stripped = stripped[:i]
            break
        elif depth == 0:
            for op in COMPARISONS:
                if stripped.startswith(op, i) and not stripped.startswith("=~", i) and not stripped.startswith("!~", i):
                    last = i
                    i += len(op) - 1
                    break
        i += 1
    if last is None and stripped.startswith("absent(") and stripped.endswith(")"):
        return stripped[len("absent("):-1]
    return stripped[:last].strip() if last is not None else stripped


def test_watched_quantity_takes_the_left_side_of_the_last_top_level_comparison() -> None:
    assert watched_quantity("rate(x_total[10m]) == 0") == "rate(x_total[10m])"
    assert watched_quantity("max(a) / max(b > 0) > 0.8") == "max(a) / max(b > 0)"
    assert watched_quantity('up{job=~"gate|permit_issuer"} == 0') == 'up{job=~"gate|permit_issuer"}'
    assert watched_quantity('up{job!~"a"} != 1') == 'up{job!~"a"}'
    assert watched_quantity('absent(up{job="gate"})') == 'up{job="gate"}'
    assert watched_quantity("max(p26_stress)") == "max(p26_stress)"
    assert watched_quantity("a == 1 unless on() time() - max(b) > 300") == "a"
    assert watched_quantity("increase(t[30m]) > 0\nunless on(job, instance)\nincrease(t[30m]) <= increase(w[30m])") == "increase(t[30m])"
    assert watched_quantity('x{reason="and or unless"} > 1') == 'x{reason="and or unless"}'


def test_fast_rules_keep_every_shipped_expression_and_cut_every_for() -> None:
    shipped = yaml.safe_load(ALERTS.read_text())
    fast = yaml.safe_load(fast_rules(ALERTS.read_text(), FOR_S))
    rules = [r for g in shipped["groups"] for r in g["rules"]]
    fast_list = [r for g in fast["groups"] for r in g["rules"]]
    assert [r["expr"] for r in fast_list] == [
        r["expr"].replace(*CUT_WINDOWS[r["alert"]]) if r["alert"] in CUT_WINDOWS else r["expr"] for r in rules]
    assert sum(f["expr"] != r["expr"] for f, r in zip(fast_list, rules)) == sum(r["alert"] in CUT_WINDOWS for r in rules)
    assert [r.get("labels") for r in fast_list] == [r.get("labels") for r in rules]
    assert all(r["for"] == f"{FOR_S}s" for r in fast_list if "for" in r)
    assert sum("for" in r for r in fast_list) == sum("for" in r for r in rules) > 0


def dashboard_exprs() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def grafana_expand(expr: str) -> str:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v["current"]["value"] for v in dashboard["templating"]["list"]
                 if v.get("type") == "textbox"}
    range_ = dashboard["time"]["from"].removeprefix("now-")
    out = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__range", range_)
    for name, value in variables.items():
        out = out.replace(f"${name}", value)
    assert "$" not in out, f"unexpanded Grafana variable in {expr!r}"
    return out


def alert_exprs() -> list[tuple[str, str]]:
    return [(rule["alert"], rule["expr"]) for group in yaml.safe_load(ALERTS.read_text())["groups"]
            for rule in group["rules"]]


# --------------------------------------------------------------------------- the live system


class Monitored:
    def __init__(self, system: LiveSystem, url: str, rules: Path):
        self.system = system
        self.url = url
        self.rules = rules  # the fast copy of configs/alerts.yml the monitor runs

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as response:
            return json.loads(response.read().decode())

    def query(self, expr: str) -> dict[str, Any]:
        """/api/v1/query; an expression Prometheus rejects comes back as status "error"."""
        try:
            return self.get("/api/v1/query", query=expr)
        except urllib.error.HTTPError as exc:  # 400/422 carry the error as JSON
            return json.loads(exc.read().decode())

    def targets(self) -> list[dict[str, Any]]:
        return self.get("/api/v1/targets", state="active")["data"]["activeTargets"]

    def active_alerts(self) -> dict[tuple[str, str], str]:
        """(alertname, job or metric label) -> pending/firing."""
        alerts = self.get("/api/v1/alerts")["data"]["alerts"]
        return {(a["labels"]["alertname"], a["labels"].get("metric") or a["labels"].get("job", "")): a["state"]
                for a in alerts}


def _kill_home_prometheus(home: Path) -> None:
    """Whatever happened in the test, no Prometheus of this home outlives it."""
    stop_processes([p for p in home_processes(Home(home)) if p.what == "prometheus"])


def fast_rules_file(tmp: Path) -> Path:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not on PATH: run `bash .ci/install-promtool` as root (make test does)")
    rules = tmp / "alerts-fast.yml"
    rules.write_text(fast_rules(ALERTS.read_text(), FOR_S))
    return rules


def up_and_monitored(system: LiveSystem, rules: Path) -> Monitored:
    """`up` the system, then `monitor up` with the rules, scraping every SCRAPE_INTERVAL_S."""
    system.up()
    up = clustergate("monitor", "up", "--home", str(system.home), "--rules", str(rules),
                     "--scrape-interval", str(SCRAPE_INTERVAL_S))
    assert up.returncode == 0, up.stdout + up.stderr
    url = json.loads((system.home / "run" / "prometheus" / "monitor.json").read_text())["url"]
    return Monitored(system, url, rules)


@contextlib.contextmanager
def own_monitored_demo(tmp: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Iterator[Monitored]:
    """A demo in tmp, its topology data changed by `change`, under the fast rules; all stopped after."""
    rules = fast_rules_file(tmp)
    system = LiveSystem(tmp)
    if change is not None:
        change(system.data)
        write_topology(system.topology, system.data)
    try:
        yield up_and_monitored(system, rules)
    finally:
        clustergate("monitor", "down", "--home", str(system.home))
        system.down()
        _kill_home_prometheus(system.home)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory) -> Monitored:
    with own_monitored_demo(tmp_path_factory.mktemp("monitor")) as monitor:
        yield monitor


def test_monitor_scrapes_every_actor_and_status_shows_each_target_up(monitored: Monitored) -> None:
    actors = set(monitored.system.data["actors"])

    def every_target_up() -> bool:
        targets = monitored.targets()
        return {t["labels"]["job"] for t in targets} == actors and all(t["health"] == "up" for t in targets)

    wait_for(every_target_up, 20, "every actor's target up in Prometheus", interval_s=0.2)
    assert all(t["scrapeUrl"].startswith("http://127.0.0.1:") for t in monitored.targets())

    def status_shows_every_actor_up() -> subprocess.CompletedProcess | None:
        # polled: one scrape slower than the 1 s interval (a busy actor on a loaded box) marks its target
        # down until the next one
        status = clustergate("monitor", "status", "--home", str(monitored.system.home))
        lines = status.stdout.splitlines()
        shown = status.returncode == 0 and all(any(line.split()[:1] == [actor] and " up " in line for line in lines)
                                               for actor in actors)
        return status if shown else None

    status = wait_for(status_shows_every_actor_up, 20, "`monitor status` showing every actor up", interval_s=0.5)
    assert f"url: {monitored.url}" in status.stdout
    system_status = monitored.system.status()
    assert system_status["prometheus"]["state"] == "RUNNING" and system_status["prometheus"]["ready"] is True
    flags = monitored.get("/api/v1/status/flags")["data"]
    assert flags["web.listen-address"] == monitored.url.removeprefix("http://"), flags["web.listen-address"]
    assert flags["web.listen-address"].startswith("127.0.0.1:")
    config = yaml.safe_load(monitored.get("/api/v1/status/config")["data"]["yaml"])
    assert not config.get("remote_write") and not config.get("alerting", {}).get("alertmanagers")


def test_monitor_up_on_a_busy_port_says_so_and_leaves_the_running_one_alone(monitored: Monitored) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = clustergate("monitor", "up", "--home", str(monitored.system.home), "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == f"FAILED: port {port} on 127.0.0.1 is busy: choose another with --port"
    assert monitored.get("/api/v1/status/buildinfo")["status"] == "success"


def test_monitor_status_right_after_monitor_up_sees_every_target_scraped(monitored: Monitored) -> None:
    """`monitor up && monitor status` as the docs write it: up returns once every target has been
    scraped, so status answers 0 at once (it said "no scrape target yet" or health `unknown`)."""
    home = str(monitored.system.home)
    up = clustergate("monitor", "up", "--home", home, "--rules", str(monitored.rules),
                     "--scrape-interval", str(SCRAPE_INTERVAL_S))
    assert up.returncode == 0, up.stdout + up.stderr
    status = clustergate("monitor", "status", "--home", home)
    assert "unknown" not in status.stdout and "no scrape target" not in status.stdout, status.stdout
    # Every target scraped. A scrape may have timed out (the 1 s interval caps Prometheus's scrape_timeout
    # at 1 s; a busy actor's /metrics on a loaded box can take longer): such a target is `down`, scraped.
    # Any other state, or any other failure of status, is not accepted.
    rows = target_rows(status.stdout)
    assert set(rows) == set(monitored.system.data["actors"]), status.stdout
    timed_out = {job for job, (health, error) in rows.items() if health == "down" and SCRAPE_TIMED_OUT in error}
    assert all(health == "up" for job, (health, _) in rows.items() if job not in timed_out), status.stdout
    # An alert of the shared system may fire under the fast rules (P26ClusterStressNotUsed after FOR_S s on the
    # proxy): status then answers 1 for it, listed below the targets.
    firing = [line for line in status.stdout.splitlines() if line.startswith("firing ")]
    assert status.returncode == (1 if timed_out or firing else 0), status.stdout + status.stderr
    assert json.loads((monitored.system.home / "run" / "prometheus" / "monitor.json").read_text())["url"] == monitored.url


def target_rows(status_text: str) -> dict[str, tuple[str, str]]:
    """`monitor status`'s target table: {job: (health, last error)}. The table ends at the first line whose
    second column is not a target's host:port (the alerts follow it: `firing   critical  P26...`)."""
    lines = status_text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("JOB "))
    rows = {}
    for line in lines[header + 1:]:
        fields = line.split(None, 3)
        if len(fields) < 4 or not re.fullmatch(r"[0-9A-Za-z.\-\[\]:]+:[0-9]+", fields[1]):
            break
        rows[fields[0]] = (fields[2], fields[3])
    return rows


def test_monitor_up_returns_once_every_rule_group_has_evaluated_the_first_scrape_of_every_target(
        monitored: Monitored) -> None:
    """`monitor up && monitor status` lists the rules' verdict on the first scrapes: up returns once every rule
    group has been evaluated after the first scrape of every target (it returned after the scrapes, up to one
    evaluation interval before some groups saw them). A 5 s interval, so that a group evaluated by chance in the
    moment between the last first scrape and up's return cannot pass for one up waited for."""
    home = str(monitored.system.home)
    try:
        up = clustergate("monitor", "up", "--home", home, "--rules", str(monitored.rules), "--scrape-interval", "5")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "not every target scraped" not in up.stdout and "not all been evaluated" not in up.stdout, up.stdout
        monitored.url = json.loads((monitored.system.home / "run" / "prometheus" / "monitor.json").read_text())["url"]
        groups = monitored.get("/api/v1/rules")["data"]["groups"]
        started = unix_seconds(monitored.get("/api/v1/status/runtimeinfo")["data"]["startTime"])
        samples = monitored.get("/api/v1/query", query="up[5m]")["data"]["result"]
        # Each target's first scrape by this Prometheus (its TSDB keeps the samples of the one it replaced).
        first_scrape = {series["metric"]["job"]: min(float(t) for t, _ in series["values"] if float(t) >= started)
                        for series in samples if any(float(t) >= started for t, _ in series["values"])}
    finally:  # the module's other tests run on the 1 s interval
        again = clustergate("monitor", "up", "--home", home, "--rules", str(monitored.rules),
                            "--scrape-interval", str(SCRAPE_INTERVAL_S))
        assert again.returncode == 0, again.stdout + again.stderr
    assert set(first_scrape) == set(monitored.system.data["actors"]), first_scrape
    last_first_scrape = max(first_scrape.values())
    assert groups and all(unix_seconds(g["lastEvaluation"]) > last_first_scrape for g in groups), \
        (last_first_scrape, {g["name"]: g["lastEvaluation"] for g in groups})


def test_two_monitor_ups_at_once_leave_one_prometheus_answering_on_the_url_the_home_records(monitored: Monitored) -> None:
    """Two `monitor up` of one home at once: one restarts Prometheus, the other says another monitor
    command is running (the second used to die in a traceback, ALREADY_ADDED, after recording a port
    the running server did not listen on, so the monitor stayed unreachable)."""
    home = str(monitored.system.home)
    command = [sys.executable, "-m", "launcher", "monitor", "up", "--home", home, "--rules", str(monitored.rules),
               "--scrape-interval", str(SCRAPE_INTERVAL_S)]
    procs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    codes = sorted(proc.returncode for proc in procs)
    assert codes[0] == 0 and codes[1] in (0, 1), outs
    for (out, err), proc in zip(outs, procs):
        assert "Traceback" not in err, err
        if proc.returncode == 1:
            assert err.strip().startswith("FAILED: another `clustergate monitor` command runs for"), err
    url = json.loads((monitored.system.home / "run" / "prometheus" / "monitor.json").read_text())["url"]
    wait_for(lambda: _answers(url), 20, f"prometheus answers on {url}")
    monitored.url = url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_monitor_commands_wait_for_no_one_and_refuse_while_another_holds_the_home(monitored: Monitored) -> None:
    import fcntl
    lock = monitored.system.home / "run" / "prometheus" / ".monitor.lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        for command in ("up", "down"):
            result = clustergate("monitor", command, "--home", str(monitored.system.home))
            assert result.returncode == 1, result.stdout + result.stderr
            assert result.stderr.strip().startswith("FAILED: another `clustergate monitor` command runs for"), result.stderr
    assert _answers(monitored.url)


def test_monitor_status_says_when_the_running_topology_has_targets_prometheus_does_not_scrape(
        monitored: Monitored, tmp_path: Path) -> None:
    """`clustergate up` of a changed topology leaves Prometheus on the old scrape config until
    `monitor up`; an actor added meanwhile has no target at all, so every target shown is up and
    nothing says the new one is unwatched. `monitor status` compares and exits 1, naming it."""
    system = monitored.system
    data = json.loads(json.dumps(system.data))
    data["actors"]["book2"] = {**data["actors"]["book"], "kind": "book", "metrics_port": free_port()}
    changed = write_topology(tmp_path / "demo-plus.yaml", data)
    home = str(system.home)
    try:
        up = clustergate("up", str(changed), "--home", home)
        assert up.returncode == 0, up.stdout + up.stderr
        status = clustergate("monitor", "status", "--home", home)
        assert status.returncode == 1, status.stdout + status.stderr
        assert "book2" in status.stdout and "monitor up" in status.stdout, status.stdout
    finally:
        back = clustergate("up", str(system.topology), "--home", home)
        assert back.returncode == 0, back.stdout + back.stderr
    wait_for(lambda: clustergate("monitor", "status", "--home", home).returncode == 0, 30,
             "monitor status 0 again once the topology is back")


def test_monitor_reads_a_running_copy_that_todays_validation_refuses_as_status_does(
        monitored: Monitored, tmp_path: Path) -> None:
    """The running copy (run/topology.yaml) is what runs even when today's checks refuse it (a symbol with a
    Cyrillic \u0422, accepted before symbols_are_ascii): monitor read it with the full validator, so `monitor up`
    refused (it "no longer loads") and `monitor status` compared no target and exited 0 with an actor unscraped."""
    system = monitored.system
    data = json.loads(json.dumps(system.data))
    data["actors"]["book2"] = {**data["actors"]["book"], "kind": "book", "metrics_port": free_port()}
    changed = write_topology(tmp_path / "demo-plus.yaml", data)
    home = str(system.home)
    running = system.home / "run" / "topology.yaml"

    def refused_by_todays_validation() -> str:
        """Write a Cyrillic \u0422 into the copy's first symbol; the copy as it was, to put back."""
        written = running.read_text()
        copy = yaml.safe_load(written)
        copy["symbols"][0] = copy["symbols"][0][:-1] + "\u0422"
        running.write_text(yaml.safe_dump(copy, allow_unicode=True, sort_keys=False))
        return written

    written = None
    try:
        up = clustergate("up", str(changed), "--home", home)
        assert up.returncode == 0, up.stdout + up.stderr
        written = refused_by_todays_validation()
        status = clustergate("monitor", "status", "--home", home)
        assert "Traceback" not in status.stderr, status.stderr
        assert status.returncode == 1, status.stdout + status.stderr
        assert "book2" in status.stdout and "monitor up" in status.stdout, status.stdout
    finally:
        if written is not None:  # the copy `up` wrote: the way back restarts only what book2 changed
            running.write_text(written)
        back = clustergate("up", str(system.topology), "--home", home)
        assert back.returncode == 0, back.stdout + back.stderr
    written = refused_by_todays_validation()
    try:
        again = clustergate("monitor", "up", "--home", home, "--rules", str(monitored.rules),
                            "--scrape-interval", str(SCRAPE_INTERVAL_S))
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        running.write_text(written)
        monitored.url = json.loads((system.home / "run" / "prometheus" / "monitor.json").read_text())["url"]
    wait_for(lambda: clustergate("monitor", "status", "--home", home).returncode == 0, 30,
             "monitor status 0 again once the topology is back")


def test_stopping_the_state_writer_raises_its_staleness_alerts_pending_then_firing_and_restarting_resolves_them(
        monitored: Monitored) -> None:
    wait_for(lambda: not monitored.active_alerts(), 30, "no active alert on the healthy demo", interval_s=0.2)
    api = monitored.system.supervisor.api
    seen: dict[tuple[str, str], list[str]] = {key: [] for key in STALENESS_ALERTS}

    def record() -> dict[tuple[str, str], str]:
        active = monitored.active_alerts()
        for key in STALENESS_ALERTS:
            state = active.get(key)
            if state and (not seen[key] or seen[key][-1] != state):
                seen[key].append(state)
        return active

    api.stopProcess("state_writer")
    try:
        wait_for(lambda: all(record().get(key) == "firing" for key in STALENESS_ALERTS), 20,
                 f"{sorted(STALENESS_ALERTS)} firing after the state writer stopped", interval_s=0.1)
    finally:
        api.startProcess("state_writer")
    for key, states in seen.items():
        assert states[:2] == ["pending", "firing"], f"{key} went {states}, not pending then firing"
    wait_for(lambda: not STALENESS_ALERTS & set(monitored.active_alerts()), 30,
             "the staleness alerts resolved after the state writer started again", interval_s=0.2)
    # Not ClustergateActorRestarting: this stop and start is a start its cut window (RESTART_WINDOW) counts with
    # the restarts of the tests before (a topology changed and put back by `up`). Nothing else stays firing: under
    # these rules every `for:` is FOR_S (4 s; P27CorrNotReady's is 15m as shipped), so the restarted writer, not
    # ready until its first state from the clusterer, can fire it for a moment on a loaded host (CI, eight workers).
    left: list = []

    def nothing_else_firing() -> bool:
        left[:] = monitored.query(
            f'ALERTS{{alertstate="firing",job="state_writer",alertname!="{RESTART_ALERT[0]}"}}')["data"]["result"]
        return not left

    wait_for(nothing_else_firing, 30, "no other alert of the state writer firing once it runs again", interval_s=0.2)
    assert left == [], left


def test_a_writer_that_gets_no_new_state_raises_p27_updates_stalled_pending_then_firing_and_it_resolves(
        monitored: Monitored) -> None:
    """The clusterer stopped: the state writer runs, so its target is up and p27_updates_total is there,
    but the count stops: P27UpdatesStalled is what says so (the rule the operators watch, SPEC:
    rate(p27_updates_total[10m]) > 0)."""
    wait_for(lambda: STALLED_ALERT not in monitored.active_alerts(), 30, "P27UpdatesStalled inactive on the healthy demo",
             interval_s=0.2)
    api = monitored.system.supervisor.api
    states: list[str] = []

    def state() -> str | None:
        now = monitored.active_alerts().get(STALLED_ALERT)
        if now and (not states or states[-1] != now):
            states.append(now)
        return now

    api.stopProcess("clusterer")
    try:
        wait_for(lambda: state() == "firing", 40, "P27UpdatesStalled firing after the clusterer stopped", interval_s=0.1)
    finally:
        api.startProcess("clusterer")
    assert states[:2] == ["pending", "firing"], f"P27UpdatesStalled went {states}, not pending then firing"
    wait_for(lambda: STALLED_ALERT not in monitored.active_alerts(), 40,
             "P27UpdatesStalled resolved after the clusterer started again", interval_s=0.2)


def test_an_actor_restarting_in_a_loop_raises_clustergate_actor_restarting_and_one_restart_does_not(
        monitored: Monitored) -> None:
    """revmon: a gate SIGKILLed every 10 s for 100 s, restarted each time by supervisord, answered 100 of 120
    one-second scrapes; no `up == 0` lasted ClustergateActorDown's 1m, and no rule fired at all. Each new process
    exports its own start time: a planned restart is one change, a third start within the window raises
    ClustergateActorRestarting, and it resolves once the starts leave the window."""
    wait_for(lambda: not monitored.active_alerts(), 30, "no active alert on the healthy demo", interval_s=0.2)
    system = monitored.system
    started = 'clustergate_actor_started_timestamp_seconds{job="state_writer"}'

    def scraped_start() -> float | None:
        result = monitored.query(started)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def crash_and_wait_for_the_new_process_scraped() -> None:
        before, pid = scraped_start(), system.pid_of("state_writer")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: system.running_with_new_pid("state_writer", pid), 30, "supervisord to restart the state writer")
        wait_for(lambda: scraped_start() not in (None, before), 30, "Prometheus to scrape the new state writer's start",
                 interval_s=0.1)

    def restarts_in_window() -> list[float]:
        return [float(c["value"][1]) for c in monitored.query(f"changes({started}{RESTART_WINDOW})")["data"]["result"]]

    # an earlier test's stop and start of the state writer out of the window first
    wait_for(lambda: restarts_in_window() == [0.0], 60, "no state writer start in the cut window", interval_s=0.5)
    crash_and_wait_for_the_new_process_scraped()
    rule = next(r for g in yaml.safe_load(monitored.rules.read_text())["groups"] for r in g["rules"]
                if r.get("alert") == RESTART_ALERT[0] and "!~" in r["expr"])  # the rule for a state writer
    assert restarts_in_window() == [1.0]  # one restart in the window: a planned one
    assert monitored.query(rule["expr"])["data"]["result"] == [], rule["expr"]
    crash_and_wait_for_the_new_process_scraped()
    crash_and_wait_for_the_new_process_scraped()
    wait_for(lambda: monitored.active_alerts().get(RESTART_ALERT) == "firing", 20,
             "ClustergateActorRestarting firing after the third start", interval_s=0.1)
    wait_for(lambda: RESTART_ALERT not in monitored.active_alerts(), 60,
             "ClustergateActorRestarting resolved once the starts left its window", interval_s=0.5)


def test_a_fresh_start_warming_up_raises_neither_p27_updates_stalled_nor_p26_cluster_stress_not_used(
        tmp_path: Path) -> None:
    """revmon: a fresh `up` at the production cadence (60 s: 11 minutes before the first matrix) under the shipped rules
    fired P27UpdatesStalled and, critical, P26ClusterStressNotUsed 5.5 minutes in, a normal warm-up that P27CorrNotReady
    allows 15 minutes. Here the demo's warm-up is stretched (min_returns 40: 41 s) past the fast rules' `for:`, and
    neither rule may fire before the gate first takes K from the cluster."""
    rules = fast_rules_file(tmp_path)
    system = LiveSystem(tmp_path)
    system.data["clusters"]["min_returns"] = 40  # 30 left the proxy's time near the 12 s checked when `up` is slow (session 43)
    write_topology(system.topology, system.data)
    watched = {"P27UpdatesStalled", "P26ClusterStressNotUsed"}
    fired: set[str] = set()
    proxy_seen_at: list[float] = []
    try:
        monitor = up_and_monitored(system, rules)

        def warm_up_over() -> bool:
            # Until the matrix is ready: from then the gate takes K from the cluster within a cadence and a state read
            # (seconds; longer than the fast rules' `for:` on a loaded host, not than the shipped 5m).
            if monitor.query("max(p27_corr_ready) == 1")["data"]["result"]:
                return True
            fired.update(name for (name, _), state in monitor.active_alerts().items() if name in watched)
            if monitor.query("max_over_time(p26_cluster_stress_used[30m]) == 0")["data"]["result"]:
                proxy_seen_at.append(time.monotonic())
            return False

        wait_for(warm_up_over, 180, "the correlation matrix ready after the warm-up", interval_s=0.2)
        # the rules' conditions held longer than their `for:` while the gate took K from the proxy
        assert proxy_seen_at and proxy_seen_at[-1] - proxy_seen_at[0] > 3 * FOR_S, proxy_seen_at
        assert not fired, f"{sorted(fired)} raised by a fresh start's warm-up"
    finally:
        clustergate("monitor", "down", "--home", str(system.home))
        system.down()
        _kill_home_prometheus(system.home)


def test_a_cold_start_with_ledoit_wolf_shrinkage_does_not_raise_p27_shrinkage_jump(tmp_path: Path) -> None:
    """alrev: the correlator exported p27_shrinkage_intensity 0 while it had no matrix, so on a cold start with
    `shrinkage: ledoit_wolf` the first ready matrix's intensity (about 0.5 at 10 returns, above 0.15 until some 40
    returns: 40 minutes at the production cadence) stood more than 0.15 above the warm-up's 0 in P27ShrinkageJump's
    30-minute minimum, and the rule fired on a healthy start. Here the intensity stays above 0.15 longer than the fast
    rules' `for:` after the matrix is ready, and the rule may not be raised."""
    raised: set[str] = set()
    high_seen_at: list[float] = []
    with own_monitored_demo(tmp_path, lambda data: data["actors"]["correlator"].setdefault("settings", {}).update(
            shrinkage="ledoit_wolf")) as monitor:
        wait_for(lambda: monitor.query("max(p27_corr_ready) == 1")["data"]["result"], 120,
                 "the correlation matrix ready after the warm-up", interval_s=0.2)

        def high_long_enough_or_settled() -> bool:
            # Watched while the intensity stands above 0.15, until that has lasted three times the rule's `for:` (the
            # rule, with a 0 in its minimum, is pending at its first evaluation and firing `for:` later) or it settled.
            raised.update(state for (name, _), state in monitor.active_alerts().items() if name == "P27ShrinkageJump")
            if monitor.query("p27_shrinkage_intensity > 0.15")["data"]["result"]:
                high_seen_at.append(time.monotonic())
                return high_seen_at[-1] - high_seen_at[0] > 3 * FOR_S
            return bool(high_seen_at)

        wait_for(high_long_enough_or_settled, 180, "the warm-up's high shrinkage intensity seen for 3 x for: or settled "
                 "under 0.15", interval_s=0.2)
        # the intensity stood above 0.15 longer than the rule's `for:` (its evaluation a second behind the scrape)
        assert high_seen_at[-1] - high_seen_at[0] > 3 * FOR_S, high_seen_at
        assert not raised, f"P27ShrinkageJump {sorted(raised)} on a cold start's first matrices"


def test_snapshots_past_a_stale_after_s_under_300_s_raise_p26_snapshots_stale_when_the_gate_drops_them(
        tmp_path: Path) -> None:
    """alrev: P26SnapshotsStale fired at SPEC's 300 s only. A desk with `positions.stale_after_s: 30` whose execution
    layer stopped writing snapshots had the gate count none fresh from 30 s (every decision a fault HOLD
    fail_closed_portfolio_state, with no proposal coming no other alert) and the critical rule quiet until 300 s. It
    fires at the gate's own stale line (p26_snapshot_stale_after_seconds) when that is lower: 15 s here (the demo's
    book writes every second)."""
    stale_after_s = 15
    with own_monitored_demo(tmp_path, lambda data: data["positions"].update(stale_after_s=stale_after_s)) as monitor:
        system = monitor.system
        wait_for(system.every_actor_ready, 60, "every actor ready", interval_s=0.2)
        system.supervisor.api.stopProcess("book")  # the demo's execution layer: its snapshots stop being refreshed

        def stale_alert() -> dict[str, Any] | None:
            return next((a for a in monitor.get("/api/v1/alerts")["data"]["alerts"]
                         if a["labels"]["alertname"] == "P26SnapshotsStale" and a["state"] == "firing"), None)

        alert = wait_for(stale_alert, 150, "P26SnapshotsStale firing once the gate counts no snapshot fresh",
                         interval_s=0.5)
        assert stale_after_s <= float(alert["value"]) < 300, alert
        assert system.metrics("gate")["p26_symbols_with_snapshot"] == 0


def test_redis_stopped_with_no_proposal_coming_raises_a_critical_clustergate_actor_not_ready_for_the_gate(
        monitored: Monitored) -> None:
    """revmon: Redis stopped and no proposal coming: the gate and the permit issuer were not ready, every exit would
    get a fault HOLD, and the only alert was ClustergateActorNotReady as a warning after 5m (P26DecisionsFailClosed
    needs a proposal to fail). For a gate or a permit issuer it is critical, after 1m, and it resolves with Redis."""
    wait_for(lambda: not monitored.active_alerts(), 30, "no active alert on the healthy demo", interval_s=0.2)
    api = monitored.system.supervisor.api

    def not_ready_alert(job: str) -> dict[str, str] | None:
        alerts = monitored.get("/api/v1/alerts")["data"]["alerts"]
        return next((a["labels"] for a in alerts if a["labels"]["alertname"] == "ClustergateActorNotReady"
                     and a["labels"].get("job") == job and a["state"] == "firing"), None)

    api.stopProcess("redis")
    try:
        gate = wait_for(lambda: not_ready_alert("gate"), 30, "ClustergateActorNotReady firing for the gate", interval_s=0.2)
        issuer = wait_for(lambda: not_ready_alert("permit_issuer"), 30, "ClustergateActorNotReady firing for the issuer",
                          interval_s=0.2)
    finally:
        api.startProcess("redis")
    assert gate["severity"] == "critical" and issuer["severity"] == "critical", (gate, issuer)
    wait_for(lambda: not any(name == "ClustergateActorNotReady" for name, _ in monitored.active_alerts()), 60,
             "ClustergateActorNotReady resolved once Redis is back", interval_s=0.2)


def test_a_second_gate_whose_metrics_endpoint_is_down_raises_clustergate_actor_down_as_critical(tmp_path: Path) -> None:
    """revmon: ClustergateActorDown matched the job names gate and permit_issuer, so with two execution hosts
    (configs/ha.yaml's gate_b) a second gate stopped raised only the warning the other actors get, after 2m, not the
    critical one after 1m. `monitor up` labels each target with its kind, and the rule reads it."""
    rules = fast_rules_file(tmp_path)
    system = LiveSystem(tmp_path)
    system.data = retarget(two_gates_data())
    write_topology(system.topology, system.data)
    try:
        monitor = up_and_monitored(system, rules)

        def gate_b_down_alert() -> dict[str, str] | None:
            alerts = monitor.get("/api/v1/alerts")["data"]["alerts"]
            return next((a["labels"] for a in alerts if a["labels"]["alertname"] == "ClustergateActorDown"
                         and a["labels"].get("job") == "gate_b" and a["state"] == "firing"), None)

        system.supervisor.api.stopProcess("gate_b")
        labels = wait_for(gate_b_down_alert, 30, "ClustergateActorDown firing for gate_b", interval_s=0.2)
        assert labels["severity"] == "critical", labels
    finally:
        clustergate("monitor", "down", "--home", str(system.home))
        system.down()
        _kill_home_prometheus(system.home)


def send_some_proposals(system: LiveSystem) -> None:
    """A few decisions so the gate's counters and histograms move: one passing HOLD, a PARTIAL
    that reaches the permit issuer, and a symbol outside the allowlist (downgraded to HOLD)."""
    with GateClient(system.gate_endpoint, timeout_ms=3000, retries=3) as client:
        for symbol, action, kill_score in [("BTCUSDT", "HOLD", 0.1), ("ETHUSDT", "PARTIAL_50", 0.9),
                                           ("DOGEUSDT", "PARTIAL_25", 0.5), ("SOLUSDT", "PARTIAL_25", 0.3)]:
            reply = client.propose(symbol, action, kill_score=kill_score)
            assert reply["status"] == "ok", reply


def has_numbers(answer: dict[str, Any]) -> bool:
    """Data a panel can draw: some sample is a number. NaN is not data: histogram_quantile over
    buckets that never moved, or 0/0, answers NaN for every series, and the panel shows nothing."""
    samples = []
    for series in answer["data"]["result"]:
        samples += [series["value"]] if "value" in series else series.get("values", [])
    return any(value[1] not in ("NaN", "+Inf", "-Inf") for value in samples)


def test_has_numbers_counts_no_series_and_all_nan_series_as_no_data() -> None:
    def answer(*values: str) -> dict[str, Any]:
        return {"data": {"result": [{"metric": {}, "value": [0, v]} for v in values]}}
    assert not has_numbers(answer()) and not has_numbers(answer("NaN", "NaN"))
    assert has_numbers(answer("NaN", "0")) and has_numbers(answer("0.25"))


def test_every_dashboard_and_alert_expression_evaluates_with_data_on_the_live_demo(monitored: Monitored) -> None:
    wait_for(lambda: not monitored.active_alerts(), 30, "the demo healthy again", interval_s=0.2)
    send_some_proposals(monitored.system)
    sent = time.monotonic()
    checks: list[tuple[str, str, bool]] = []  # (where, expression, must have data)
    for expr in dashboard_exprs():
        checks.append(("dashboard", grafana_expand(expr), expr not in DASHBOARD_NO_DATA_ALLOWED))
    for name, expr in alert_exprs():
        checks.append((f"alert {name}", expr, False))  # a firing condition: empty when healthy
        checks.append((f"alert {name} (watched)", watched_quantity(expr), True))
    assert len(checks) > 40

    def problems() -> list[str]:
        found = []
        for where, expr, needs_data in checks:
            answer = monitored.query(expr)
            if answer.get("status") != "success":
                found.append(f"{where}: {expr!r}: {answer.get('errorType')}: {answer.get('error')}")
            elif needs_data and not has_numbers(answer):
                found.append(f"{where}: {expr!r}: no data" + (" (NaN only)" if answer["data"]["result"] else ""))
        return found

    last: list[str] = []

    def all_good() -> bool:
        nonlocal last, sent
        last = problems()
        if last and time.monotonic() - sent > 5:  # keep the 15 s rate windows holding some decisions
            send_some_proposals(monitored.system)
            sent = time.monotonic()
        return not last

    try:
        wait_for(all_good, 20, "every expression answered with data", interval_s=0.5)
    except AssertionError:
        raise AssertionError("expressions failing on the live demo:\n" + "\n".join(last)) from None


def test_a_redis_that_refuses_writes_fires_p26_decisions_fail_closed_and_monitor_status_lists_the_firing_alerts(
        monitored: Monitored) -> None:
    """Redis answers but refuses every write (min-replicas-to-write with no replica; a read-only replica does the
    same): every exit is HOLD redis_unavailable while every target stays up. The rules fire, and `monitor status`,
    the monitor's only command-line view (no Alertmanager), lists what fires and exits 1; once Redis takes writes
    again they resolve. After the tests that wait for a healthy demo: P26ClusterFallbacks stays firing for its 30
    minutes (the state writer could not write either, so the gate fell back)."""
    home = str(monitored.system.home)
    wait_for(lambda: not monitored.active_alerts(), 30, "no active alert on the healthy demo", interval_s=0.2)
    expected = {FAIL_CLOSED_ALERT, ("ClustergateActorNotReady", "permit_issuer")}
    r = monitored.system.redis()
    r.config_set("min-replicas-to-write", 1)
    try:
        with GateClient(monitored.system.gate_endpoint, timeout_ms=3000, retries=0) as client:
            def held_and_firing() -> bool:
                decision = client.propose("ETHUSDT", "PARTIAL_50")["decision"]
                assert decision["gate_reason"] == "redis_unavailable", decision
                active = monitored.active_alerts()
                return all(active.get(key) == "firing" for key in expected)

            wait_for(held_and_firing, 30, f"{sorted(expected)} firing while Redis refuses writes", interval_s=0.5)
        status = clustergate("monitor", "status", "--home", home)
        firing = [line for line in status.stdout.splitlines() if line.startswith("firing")]
        assert status.returncode == 1, status.stdout
        assert any("P26DecisionsFailClosed" in line and "critical" in line and "reason=redis_unavailable" in line
                   for line in firing), status.stdout
        assert any("ClustergateActorNotReady" in line and "permit_issuer" in line for line in firing), status.stdout
        assert monitored.system.status()["permit_issuer"]["ready"] is False
    finally:
        r.config_set("min-replicas-to-write", 0)
    # The cluster state went stale meanwhile (the state writer could not write): P26ClusterFallbacks fires for its
    # 30 minutes, as it should.
    wait_for(lambda: not expected & set(monitored.active_alerts()), 40, f"{sorted(expected)} resolved once Redis "
             "takes writes", interval_s=0.2)
    status = clustergate("monitor", "status", "--home", home)
    assert not [line for line in status.stdout.splitlines() if "P26DecisionsFailClosed" in line
                or "ClustergateActorNotReady" in line], status.stdout


# --------------------------------------------------------------------------- without a system


def test_monitor_up_refuses_a_home_whose_system_is_not_up(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not on PATH: run `bash .ci/install-promtool` as root (make test does)")
    result = clustergate("monitor", "up", "--home", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"FAILED: the system of {tmp_path} is not up"), result.stderr
    assert "clustergate up FILE" in lines[0]
    assert not (tmp_path / "run" / "programs.d" / "monitor.conf").exists()


def test_monitor_up_refuses_rules_promtool_rejects_naming_the_file(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not on PATH: run `bash .ci/install-promtool` as root (make test does)")
    rules = tmp_path / "broken.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: rate(x[5m] ==\n")
    result = clustergate("monitor", "up", "--home", str(tmp_path), "--rules", str(rules))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"FAILED: {rules}: promtool check rules: "), result.stderr


def test_monitor_up_refuses_a_timeout_under_one_second(tmp_path: Path) -> None:
    """`--timeout 0` used to start Prometheus and then report FAILED (never waited), leaving it running."""
    for value in ("0", "-5"):
        result = clustergate("monitor", "up", "--home", str(tmp_path), "--timeout", value)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "--timeout" in result.stderr and "at least 1 second" in result.stderr, result.stderr


def test_monitor_up_without_the_prometheus_binary_names_the_package_to_install(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no prometheus there
    result = subprocess.run([sys.executable, "-m", "launcher", "monitor", "up", "--home", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO, timeout=60, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "prometheus is not on PATH" in lines[0], result.stderr
    assert "apt-get install --no-install-recommends prometheus" in lines[0]


def test_clustergate_down_stops_a_prometheus_of_the_home_left_without_supervisord(tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not on PATH: run `bash .ci/install-promtool` as root (make test does)")
    home = Home(tmp_path / "home")
    data_dir(home).mkdir(parents=True)
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    port = free_port()
    proc = subprocess.Popen([binary, "--config.file", str(config), "--storage.tsdb.path", str(data_dir(home)),
                             "--web.listen-address", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: [p.pid for p in home_processes(home) if p.what == "prometheus"] == [proc.pid], 10,
                 "the stray prometheus seen as a process of the home")
        status = clustergate("monitor", "status", "--home", str(home.root))
        assert status.returncode == 1 and f"leftover prometheus pid {proc.pid}" in status.stdout, status.stdout
        down = clustergate("down", "--home", str(home.root))
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"stopped leftover pid {proc.pid} (prometheus)" in down.stdout, down.stdout
        assert proc.wait(timeout=10) is not None
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_a_stalled_monitor_shows_in_status_but_does_not_fail_the_trading_systems_status(monitored: Monitored) -> None:
    """`clustergate status` is what a desk's scripts gate trading on: a frozen Prometheus (a side-car)
    is reported there, and `clustergate monitor status` fails, but the trading system's status exits 0."""
    home = Home(monitored.system.home)
    pids = [p.pid for p in home_processes(home) if p.what == "prometheus"]
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGSTOP)
    try:
        status = clustergate("status", "--home", str(monitored.system.home))
        assert status.returncode == 0, status.stdout + status.stderr
        assert "the monitor (prometheus) is not ready" in status.stdout, status.stdout
        assert clustergate("monitor", "status", "--home", str(monitored.system.home)).returncode == 1
    finally:
        os.kill(pids[0], signal.SIGCONT)


def test_prometheus_dies_with_a_killed_supervisord(monitored: Monitored) -> None:
    """Last in the module: it kills the system's supervisord (the fixture's teardown cleans up)."""
    home = Home(monitored.system.home)
    pids = [p.pid for p in home_processes(home) if p.what == "prometheus"]
    assert len(pids) == 1, pids
    os.kill(monitored.system.supervisor.pid(), signal.SIGKILL)
    wait_for(lambda: not [p for p in home_processes(home) if p.what == "prometheus"], 10,
             "prometheus gone after supervisord was killed")
