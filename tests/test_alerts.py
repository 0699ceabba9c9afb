"""Monitoring artefacts: alert rules (checked and unit-tested by promtool), the rendered scrape
config, and the Grafana dashboard's metric names.

promtool missing is a failure, not a skip: CI must run the alert tests (.ci/install-promtool).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import two_gates_data, wait_for, write_topology
from launcher.cli import main as clustergate
from launcher.monitoring import render_prometheus_config, scrape_target
from launcher.topology import load_topology

REPO = Path(__file__).resolve().parent.parent
ALERTS = REPO / "configs" / "alerts.yml"
ALERT_TESTS = REPO / "tests" / "alerts_test.yml"
DEMO = REPO / "configs" / "demo.yaml"
DASHBOARD = REPO / "configs" / "grafana-dashboard.json"

# SPEC's metric contract plus what every actor and Prometheus itself export.
SPEC_METRICS = {
    "p27_corr_ready", "p27_symbols_in_matrix", "p27_clusters_count", "p27_cluster_stress_sum",
    "p27_cluster_stress_max", "p27_min_points_per_symbol", "p27_points_per_symbol",
    "p27_updates_total", "p27_fail_closed_total",
    "p26_stress", "p26_heat", "p26_concentration", "p26_corr_proxy", "p26_cluster_stress_used",
    "p26_symbols_with_snapshot", "p26_total_abs_notional", "p26_snapshot_age_seconds",
    "p26_plans_seen_total", "p26_gate_writes_total", "p26_actions_downgraded_total",
    "p26_permit_issued_total", "p26_fail_closed_total", "p26_cluster_fallback_total",
    "p26_time_to_permit_seconds_bucket", "p26_time_to_permit_seconds_sum",
    "p26_time_to_permit_seconds_count",
    "clustergate_actor_ready", "up",
}
KNOWN_METRIC_PREFIXES = ("process_",)  # prometheus_client's default process collector
# clustergate's own series that rules use, with the module that must export each (checked below).
OWN_METRICS = {"p27_buffer_last_accepted_tick_timestamp_seconds": REPO / "actors" / "buffer.py",
               "p27_buffer_price_frozen": REPO / "actors" / "buffer.py",
               "p27_buffer_clock_faults_total": REPO / "actors" / "buffer.py",
               "p27_buffer_history_save_held": REPO / "actors" / "buffer.py",
               "p27_shrinkage_intensity": REPO / "actors" / "correlator.py",
               "p27_held_price_stale": REPO / "actors" / "clusterer.py",
               "p26_cluster_fallback_warm_up_total": REPO / "actors" / "gate.py",
               "clustergate_redis_used_memory_bytes": REPO / "actors" / "permit_issuer.py",
               "clustergate_redis_maxmemory_bytes": REPO / "actors" / "permit_issuer.py",
               "clustergate_redis_started_timestamp_seconds": REPO / "actors" / "permit_issuer.py",
               "gate_requests_total": REPO / "actors" / "gate.py",
               "p26_snapshot_stale_after_seconds": REPO / "actors" / "gate.py",
               "gate_permit_issuers_connected": REPO / "actors" / "gate.py",
               "clustergate_replies_dropped_total": REPO / "actors" / "runtime.py",
               "clustergate_actor_started_timestamp_seconds": REPO / "actors" / "runtime.py",
               "p27_state_writer_lease_held": REPO / "actors" / "state_writer.py",
               "p27_state_writer_lease_takeovers_total": REPO / "actors" / "state_writer.py"}

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}

INSTALL_HELP = ("promtool is not on PATH, so the alert rules cannot be checked. Install it with "
                "`.ci/install-promtool` (as root: apt-get install --no-install-recommends prometheus). "
                "These tests fail rather than skip: CI must run them.")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(INSTALL_HELP, pytrace=False)
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=300, cwd=REPO)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, label
    names, durations or dashboard variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)              # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                        # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                       # range and subquery windows
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)                      # $__rate_interval, ${var}
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\()?", expr):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_WORDS:
            continue
        names.add(name)
    return names


def is_known_metric(name: str) -> bool:
    return name in SPEC_METRICS or name in OWN_METRICS or name.startswith(KNOWN_METRIC_PREFIXES)


def test_every_own_metric_a_rule_uses_is_exported_under_that_name():
    for name, module in OWN_METRICS.items():
        assert f'"{name}"' in module.read_text(), f"{module} no longer exports {name}"


def rule_series() -> set[str]:
    """Every metric name an alert rule's expression uses, but `up`, which Prometheus itself makes."""
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    return {name for rule in rules for name in metric_names(rule["expr"])} - {"up"}


def test_every_series_a_rule_uses_has_a_sample_on_a_live_actor(live) -> None:
    """A name in the source is not a series: scrape the running demo system until every series a rule
    uses has a sample on some actor (an alert on a series nobody sets can never fire, or always does)."""
    needed = rule_series()
    assert "p27_buffer_last_accepted_tick_timestamp_seconds" in needed and "p27_corr_ready" in needed
    missing: set[str] = set(needed)

    def every_series_sampled() -> bool:
        names = set()
        for actor in live.data["actors"]:
            names |= {key.split("{", 1)[0] for key in live.metrics(actor)}
        missing.intersection_update(needed - names)
        return not missing

    try:
        wait_for(every_series_sampled, 10, "a sample of every series the alert rules use", interval_s=0.5)
    except AssertionError:
        pytest.fail(f"no live actor has a sample of {sorted(missing)}, which the alert rules use", pytrace=False)


# Labels every series carries once Prometheus scrapes it: the target's (`clustergate prometheus-config`).
TARGET_LABELS = {"job", "instance", "clustergate_kind"}


def label_uses(expr: str) -> tuple[list[tuple[str, str, str, str]], set[str]]:
    """The label matchers of an expression's selectors, (metric, label, operator, value), and the labels its
    by/without/on/ignoring/group_left/group_right clauses name."""
    matchers = [(metric, label, op, value)
                for metric, body in re.findall(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr)
                for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body)]
    grouped = {label.strip() for clause in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr)
        for label in clause.split(",") if label.strip()}
    return matchers, grouped


def test_label_uses_reads_matchers_and_grouping_labels():
    matchers, grouped = label_uses('sum by (job, reason) (increase(x_total{result=~"a|b",kind!="gate"}[5m])) '
                                   'unless on() max(up{job="gate"}) == 0')
    assert matchers == [("x_total", "result", "=~", "a|b"), ("x_total", "kind", "!=", "gate"),
                        ("up", "job", "=", "gate")]
    assert grouped == {"job", "reason"}


def monitoring_queries() -> list[tuple[str, str, set[str]]]:
    """(where, expression, labels its output is read by: an alert's annotations, a panel's legend) of every alert rule
    and every Grafana panel target."""
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    queries = [(f"alert {r['alert']}", r["expr"],
                set(re.findall(r"\$labels\.(\w+)", json.dumps(r.get("annotations"))))) for r in rules]
    dashboard = json.loads(DASHBOARD.read_text())
    queries += [(f"panel {p['title']!r}", t["expr"],
                 set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", ""))))
                for p in dashboard["panels"] for t in p.get("targets", [])]
    return queries


def live_series(live) -> dict[str, dict[str, set[str]]]:
    """Every sample name every actor of the running system exports -> label -> the values it has."""
    from prometheus_client.parser import text_string_to_metric_families
    import urllib.request

    found: dict[str, dict[str, set[str]]] = {}
    for actor in live.data["actors"].values():
        with urllib.request.urlopen(f"http://127.0.0.1:{actor['metrics_port']}/metrics", timeout=5) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = found.setdefault(sample.name, {})
                for label, value in sample.labels.items():
                    labels.setdefault(label, set()).add(value)
    return found


def monitoring_label_problems(series: dict[str, dict[str, set[str]]]) -> list[str]:
    """What no live series answers: a metric nobody exports, a matcher on a label the metric lacks or whose value
    (pattern) none of its series has, a grouping, legend or annotation label none of the expression's metrics has.
    An alert on such a label can never fire, or groups everything into one series with the label empty."""
    problems = []
    for where, expr, read_labels in monitoring_queries():
        names = metric_names(expr) - {"up"}
        missing = names - set(series)
        problems += [f"{where}: no actor exports {name}" for name in sorted(missing)]
        carried = set(TARGET_LABELS).union(*(set(series.get(name, {})) for name in names))
        for metric, label, op, value in label_uses(expr)[0]:
            if metric == "up" or metric not in series or label in TARGET_LABELS:
                continue  # up's labels are the target's; a metric no actor exports is named above
            values = series[metric].get(label)
            if values is None:
                problems.append(f"{where}: {metric} has no label {label} (it has {sorted(series[metric])})")
                continue
            # a|b of plain names: each must be a value (a typo'd alternative of `kind!~"gate|permit_issuer"` excludes
            # nothing)
            patterns = value.split("|") if op in ("=~", "!~") and re.fullmatch(r"\w+(\|\w+)*", value) else [value]
            for pattern in patterns:
                pattern = re.escape(pattern) if op in ("=", "!=") else pattern
                if not any(re.fullmatch(pattern, v) for v in values):
                    problems.append(f"{where}: {metric}{{{label}{op}\"{pattern}\"}} matches none of {sorted(values)}")
        problems += [f"{where}: no metric of it has the label {label}"
                     for label in sorted((label_uses(expr)[1] | read_labels) - carried)]
    return problems


def test_monitoring_label_problems_name_a_missing_label_a_typod_value_and_a_grouping_label_no_metric_has():
    every_rule_and_panel = set().union(*(metric_names(expr) for _, expr, _ in monitoring_queries()))
    series = {name: {} for name in every_rule_and_panel}
    series["clustergate_actor_started_timestamp_seconds"] = {"actor": {"gate"}, "kind": {"gate", "buffer"}}
    problems = "\n".join(monitoring_label_problems(series))
    assert 'clustergate_actor_started_timestamp_seconds{kind=~"permit_issuer"} matches none of' in problems
    assert "clustergate_actor_ready has no label kind" in problems
    assert "alert ClustergateRepliesDropped: no metric of it has the label reason" in problems
    assert "panel 'Position snapshot age': no metric of it has the label symbol" in problems
    del series["p26_stress"]
    assert "panel 'Stress, heat, concentration': no actor exports p26_stress" in monitoring_label_problems(series)


def test_every_metric_label_and_label_value_the_rules_and_panels_use_is_on_a_live_actor(live) -> None:
    """A name is not enough (revalert): `sum by (reason) (...)` on a metric without `reason`, or `{kind=~"gate"}` on
    one whose label is spelled otherwise, still answers, with one series and the label empty, or with nothing, and
    no test saw it. Scrape every actor of the running demo (no Prometheus) until every metric, label and label value
    each alert rule and each Grafana panel uses is exported by some actor."""
    problems: list[str] = []

    def answered() -> bool:
        problems[:] = monitoring_label_problems(live_series(live))
        return not problems

    try:
        wait_for(answered, 15, "every metric and label the rules and panels use on a live actor", interval_s=0.5)
    except AssertionError:
        pytest.fail("\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------- alert rules


def test_alert_rules_pass_promtool_check_rules():
    result = run_promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect():
    result = run_promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_cover_every_spec_health_check_and_every_production_actor_job():
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    by_name: dict[str, list[dict]] = {}
    for rule in rules:
        by_name.setdefault(rule["alert"], []).append(rule)
    exprs = {name: " ".join(r["expr"] for r in rs) for name, rs in by_name.items()}
    assert "rate(p27_updates_total[10m]) == 0" in exprs["P27UpdatesStalled"]
    assert "p27_corr_ready == 0" in exprs["P27CorrNotReady"]
    assert "max(p26_snapshot_age_seconds) >= 300" in exprs["P26SnapshotsStale"]
    assert "max_over_time(p26_cluster_stress_used[30m]) == 0" in exprs["P26ClusterStressNotUsed"]
    assert "increase(p26_cluster_fallback_total[30m]) > 0" in exprs["P26ClusterFallbacks"]
    assert "increase(p26_cluster_stress_used" not in ALERTS.read_text(), "p26_cluster_stress_used is a gauge"
    absent_jobs = set(re.findall(r'absent\(up\{job="(\w+)"\}\)', exprs["ClustergateJobAbsent"]))
    assert absent_jobs == set(load_topology(REPO / "configs" / "production.yaml").actors)
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert all(is_known_metric(m) for m in metric_names(rule["expr"])), rule["expr"]


# --------------------------------------------------------------------------- scrape config


def test_prometheus_config_has_one_job_per_demo_actor_scraping_its_metrics_port():
    topology = load_topology(DEMO)
    config = yaml.safe_load(render_prometheus_config(topology))
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {name: [f"127.0.0.1:{spec.metrics_port}"] for name, spec in topology.actors.items()}
    assert config["rule_files"] == ["alerts.yml"]


def test_each_scrape_target_is_labelled_with_its_actors_kind_so_a_second_gate_is_alerted_as_a_gate(tmp_path):
    """revmon: ClustergateActorDown matched job names (gate, permit_issuer) only, so configs/ha.yaml's gate_b down was a
    warning after 2m instead of critical after 1m; the rule now also reads the target's clustergate_kind."""
    topology = load_topology(write_topology(tmp_path / "two-gates.yaml", two_gates_data()))
    config = yaml.safe_load(render_prometheus_config(topology))
    kinds = {job["job_name"]: job["static_configs"][0]["labels"]["clustergate_kind"] for job in config["scrape_configs"]}
    assert kinds == {name: spec.kind for name, spec in topology.actors.items()}
    assert kinds["gate_b"] == "gate" and kinds["permit_issuer_b"] == "permit_issuer" and kinds["gate"] == "gate"


def test_wildcard_and_ipv6_metrics_hosts_become_scrapeable_targets():
    assert scrape_target("0.0.0.0", 8047) == "127.0.0.1:8047"
    assert scrape_target("::", 8048) == "[::1]:8048"
    assert scrape_target("fd00::5", 9100) == "[fd00::5]:9100"
    assert scrape_target("gate.internal", 8047) == "gate.internal:8047"


@pytest.mark.parametrize("interval_s, timeout_s", [(None, 10), (1, 1), (5, 5), (10, 10), (60, 10)])
def test_prometheus_scrapes_every_15_s_by_default_and_times_out_within_10_s_and_the_interval(interval_s, timeout_s):
    """docs/monitoring.md: every 15 s by default; a scrape may take up to 10 s, or the interval when shorter
    (Prometheus refuses a timeout longer than the interval)."""
    topology = load_topology(DEMO)
    text = (render_prometheus_config(topology) if interval_s is None
            else render_prometheus_config(topology, scrape_interval_s=interval_s))
    config = yaml.safe_load(text)["global"]
    interval = 15 if interval_s is None else interval_s
    assert config["scrape_interval"] == config["evaluation_interval"] == f"{interval}s", config
    assert config["scrape_timeout"] == f"{timeout_s}s", config


def test_rendered_prometheus_config_with_the_alert_rules_passes_promtool_check_config(tmp_path):
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text())
    config = tmp_path / "prometheus.yml"
    config.write_text(render_prometheus_config(load_topology(DEMO)))
    result = run_promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: \d+ rules found", result.stdout), result.stdout


def test_prometheus_config_command_writes_the_file_given_by_output(tmp_path, capsys):
    out = tmp_path / "prometheus.yml"
    with pytest.raises(SystemExit) as exit_info:
        clustergate(["prometheus-config", str(DEMO), "--output", str(out)])
    assert exit_info.value.code == 0
    assert yaml.safe_load(out.read_text())["scrape_configs"][0]["job_name"] == "price_feed"
    assert "8 scrape jobs" in capsys.readouterr().out


def test_prometheus_config_command_exits_2_naming_the_problems_of_a_bad_topology(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nredis: {managed: true}\nactors:\n  gate: {metrics_port: 99999, sockets: {}}\n")
    with pytest.raises(SystemExit) as exit_info:
        clustergate(["prometheus-config", str(bad), "--output", str(tmp_path / "never.yml")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "actors.gate.metrics_port" in err and str(bad) in err
    assert not (tmp_path / "never.yml").exists()


@pytest.mark.parametrize("where", ["missing/prometheus.yml", "a-file/prometheus.yml", "."])
def test_prometheus_config_command_that_cannot_write_its_output_says_so_in_one_line(tmp_path, capsys, where):
    # docs review: `--output` in a directory that does not exist ended in a FileNotFoundError traceback
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        clustergate(["prometheus-config", str(DEMO), "--output", str(tmp_path / where)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"clustergate prometheus-config: cannot write {tmp_path / where}: ") and err.count("\n") == 1, err


def test_prometheus_config_that_runs_out_of_space_leaves_the_config_it_replaces_whole(tmp_path):
    # revdocs: --output was written in place, so a disk that filled part-way (here a file size limit: EFBIG, as ENOSPC)
    # left the running Prometheus's config cut short, read by its next reload, behind the one-line error; the old
    # config must stay as it was.
    import resource
    import sys
    out = tmp_path / "prometheus.yml"
    old = "# the config Prometheus runs\nscrape_configs: []\n"
    out.write_text(old)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

    proc = subprocess.run([sys.executable, "-m", "launcher", "prometheus-config", str(DEMO), "--output", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=60, preexec_fn=small_files)
    assert proc.returncode == 1 and proc.stderr.startswith(f"clustergate prometheus-config: cannot write {out}: "), proc
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert out.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["prometheus.yml"], "a temporary file was left beside it"


# --------------------------------------------------------------------------- dashboard


def test_metric_name_parser_ignores_functions_labels_windows_and_variables():
    expr = ('histogram_quantile(0.99, sum by (le) (rate(p26_time_to_permit_seconds_bucket'
            '{job="gate"}[$__rate_interval]))) / on (job) group_left vector($needed_points)')
    assert metric_names(expr) == {"p26_time_to_permit_seconds_bucket"}


def test_grafana_dashboard_parses_and_every_panel_queries_only_spec_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    assert "DS_PROMETHEUS" in {v["name"] for v in dashboard["templating"]["list"]}
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    queried: set[str] = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            unknown = {n for n in names if not is_known_metric(n)}
            assert not unknown, f"panel {panel['title']!r} queries unknown metrics {unknown}"
            queried |= names
    for needed in ("p27_points_per_symbol", "p27_min_points_per_symbol", "p27_corr_ready",
                   "p27_cluster_stress_sum", "p27_cluster_stress_max", "p26_cluster_stress_used",
                   "p26_cluster_fallback_total", "p26_actions_downgraded_total", "p26_plans_seen_total",
                   "p26_time_to_permit_seconds_bucket", "p26_stress", "p26_heat", "p26_concentration"):
        assert needed in queried, f"no panel shows {needed}"
    assert "heatmap" in {p["type"] for p in panels}


def test_the_dashboards_k_source_reads_proxy_while_any_gate_takes_k_from_the_proxy():
    """With several gates (configs/ha.yaml), `max(p26_cluster_stress_used)` showed `cluster` while gate_b took K from
    the proxy on every decision (docrev): the panels take the minimum over gates, as `clustergate status`'s flat
    k_source does, so no gate's fallback hides behind another's cluster."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
             if "p26_cluster_stress_used" in target["expr"]]
    assert len(exprs) >= 2, exprs
    assert [e for e in exprs if not re.match(r"min(\s+by\s*\([^)]*\))?\s*\(p26_cluster_stress_used\)$", e)] == []
