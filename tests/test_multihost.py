"""One topology on three hosts (network namespaces, launcher/netns.py): up per host, the readiness proof
across hosts, CurveZMQ refusals, partitions of the market and store hosts, and deploy with rollback.

The system is brought up once for the module (market, exec, store; clients and deploys run on a
fourth host, ops) with short cadences and freshness windows, so fallbacks happen within seconds.
Nothing is sent anywhere but loopback and the namespace addresses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import DEADLINE_SCALE, stopped, wait_for
from launcher.curve import generate_keypair
from launcher.multihost_harness import SYSTEM_HOSTS, MultiHost, write_topology

@pytest.fixture(scope="module")
def multihost(module_test_hosts, tmp_path_factory):
    hosts = module_test_hosts([*SYSTEM_HOSTS, "ops"])
    system = MultiHost(hosts, tmp_path_factory.mktemp("multihost"))
    try:
        system.started = system.up_all()
        yield system
    finally:
        for host in SYSTEM_HOSTS:
            system.down(host)


def _explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


# -- the 3-host demo -----------------------------------------------------------------------------


def test_the_three_host_system_comes_up_host_by_host_under_its_own_supervisords(multihost):
    for host, result in multihost.started.items():
        assert result.returncode == 0, f"{host}: {_explain(result)}"
    assert set(multihost.pids("market")) == {"price_feed", "buffer", "correlator", "clusterer", "state_writer"}
    assert set(multihost.pids("exec")) == {"gate", "permit_issuer", "book"}
    assert set(multihost.pids("store")) == {"redis"}


def test_the_readiness_proof_passes_across_hosts(multihost):
    result = multihost.clustergate("ops", "proof", "readiness", "--topology", str(multihost.topology),
                                   "--home", str(multihost.ops_home), timeout=180)
    assert result.returncode == 0, _explain(result)
    assert "PASS  every program ready on its host" in result.stdout
    assert "PASS  K taken from the cluster" in result.stdout


def test_status_all_hosts_shows_every_host_reached_in_one_table(multihost):
    result = multihost.clustergate("ops", "status", str(multihost.topology), "--all-hosts", "--json", timeout=60)
    assert result.returncode == 0, _explain(result)
    hosts = json.loads(result.stdout)["hosts"]
    assert {h: info["reachable"] for h, info in hosts.items()} == {"market": True, "exec": True, "store": True}
    assert sum(len(info["programs"]) for info in hosts.values()) == 9


def test_a_client_without_an_allowed_curve_key_gets_no_answer_and_is_counted(multihost):
    assert multihost.propose("desk").get("status") == "ok"
    assert multihost.propose("outsider") == {"status": "no_answer"}
    denied = 'clustergate_curve_denied_total{actor="gate",socket="proposals"}'
    assert wait_for(lambda: multihost.gate_metrics().get(denied, 0) >= 1, 10, "the refused client to be counted")


# -- partitions ----------------------------------------------------------------------------------


def test_with_the_market_host_cut_off_the_gate_falls_back_to_the_proxy_and_returns_without_restart(multihost):
    wait_for(lambda: multihost.decision().get("k_source") == "cluster", 30, "decisions from the cluster")
    pids_before = multihost.pids("market")
    multihost.hosts.partition("market")
    try:
        decision = wait_for(lambda: (d := multihost.decision()).get("k_source") == "proxy" and d, 30,
                            "the gate to fall back to the proxy once the state is older than its window")
        assert decision["final_action"] == "HOLD"
        status = multihost.clustergate("ops", "status", str(multihost.topology), "--all-hosts", "--json", timeout=60)
        reached = {h: info["reachable"] for h, info in json.loads(status.stdout)["hosts"].items()}
        assert status.returncode == 1 and reached == {"market": False, "exec": True, "store": True}
    finally:
        multihost.hosts.heal("market")
    wait_for(lambda: multihost.decision().get("k_source") == "cluster", 60, "the gate to return to the cluster")
    assert multihost.pids("market") == pids_before, "no market program was restarted"


def test_with_the_store_host_cut_off_decisions_hold_redis_unavailable_and_resume_after_heal(multihost):
    wait_for(lambda: multihost.decision().get("k_source") == "cluster", 60, "decisions from the cluster")
    multihost.hosts.partition("store")
    try:
        decision = wait_for(lambda: (d := multihost.decision()).get("gate_reason") == "redis_unavailable" and d,
                            30, "HOLD redis_unavailable while Redis is unreachable")
        assert decision["final_action"] == "HOLD"
    finally:
        multihost.hosts.heal("store")
    wait_for(lambda: multihost.decision().get("k_source") == "cluster", 60, "decisions to resume by themselves")


def test_with_the_gates_permit_issuer_sigstopped_status_all_hosts_names_the_gate_and_its_endpoint_until_it_is_back(
        multihost):
    # The gate's own line, under its row: its readiness stays 1 while every proposal would get a fault HOLD. (A gate
    # and its issuer share a host, GATE_AND_ISSUER_ONE_CLOCK; a stopped issuer's own row is not ready as well.)
    from actors.runtime import HEARTBEAT_IVL_MS, HEARTBEAT_TIMEOUT_MS

    def status() -> subprocess.CompletedProcess:
        return multihost.clustergate("ops", "status", str(multihost.topology), "--all-hosts", timeout=60)

    endpoint = multihost.data["actors"]["gate"]["sockets"]["permits"]["connect"]
    pid = multihost.pids("exec")["permit_issuer"]
    with stopped(pid):
        said = wait_for(lambda: (s := status()).returncode == 1 and "every proposal gets a fault HOLD" in s.stdout and s,
                        (HEARTBEAT_IVL_MS + HEARTBEAT_TIMEOUT_MS) / 1000 + 15, "status to name the gate's lost issuer")
        assert f"gate: no permit issuer connected ({endpoint}) for " in said.stdout, said.stdout
        result = multihost.clustergate("ops", "status", str(multihost.topology), "--all-hosts", "--json", timeout=60)
        gate = next(r for r in json.loads(result.stdout)["hosts"]["exec"]["programs"] if r["name"] == "gate")
        assert gate["ready"] is True and gate["permit_issuers"]["connected"] == 0, gate
        assert gate["permit_issuers"]["ok"] is False and gate["permit_issuers"]["endpoint"] == endpoint, gate
    result = wait_for(lambda: (s := status()).returncode == 0 and s, 30, "status green once the issuer is back")
    assert "no permit issuer connected" not in result.stdout, result.stdout


# -- deploy --------------------------------------------------------------------------------------


def test_a_change_that_cannot_become_ready_is_rolled_back_and_the_old_topology_proves_ready(multihost):
    bad = json.loads(json.dumps(multihost.data))
    # Validates, but the correlator would need 5000 returns before it is ready: never within the proof's time.
    bad["clusters"].update(lookback_returns=5000, min_returns=5000)
    path = write_topology(multihost.tmp, bad, "bad.yaml")
    result = multihost.deploy(path, "--host", "market", "--proof-timeout", str(10 * DEADLINE_SCALE))
    assert result.returncode == 1, _explain(result)
    assert "FAILED: check 'p27_corr_ready is 1' failed on host market; rolled back: market back on its recorded topology" \
        in result.stdout, _explain(result)
    assert "the proof after the rollback passed" in result.stdout, _explain(result)
    running = yaml.safe_load((multihost.home("market") / "run" / "topology.yaml").read_text())
    assert running["clusters"]["min_returns"] == multihost.data["clusters"]["min_returns"]


# A stored decision with a permit and no marker, as a permit issuer before the permitted-plan marker left it, in the
# system's Redis (run on ops, which reaches it); prints the marker of its plan_id.
BEFORE_THE_MARKER = """
import json, sys
from launcher import keys
from launcher.redis_conn import connect
from launcher.topology import load_topology
r = connect(load_topology(sys.argv[1]).redis)
plan = "permitted-before-the-marker"
if sys.argv[2:] == ["plant"]:
    r.set(keys.plan_decision(plan), json.dumps({"plan_id": plan, "permit": True, "ts_epoch": 1}), ex=3600)
    r.delete(keys.permitted_plan(plan))
print(json.dumps({"marker": r.get(keys.permitted_plan(plan))}))
"""


def _before_the_marker(multihost, *argv: str) -> dict:
    result = multihost.hosts["ops"].run([sys.executable, "-c", BEFORE_THE_MARKER, str(multihost.topology), *argv],
                                        env=multihost.env, timeout=30)
    assert result.returncode == 0, _explain(result)
    return json.loads(result.stdout)


def test_a_good_change_restarts_only_the_changed_actors(multihost):
    """...and, as its last step, backfills the permitted-plan markers an issuer before them left out (backfill)."""
    good = json.loads(json.dumps(multihost.data))
    good["actors"]["gate"]["settings"]["sigma"] = 0.9
    path = write_topology(multihost.tmp, good, "good.yaml")
    before = {h: multihost.pids(h) for h in SYSTEM_HOSTS}
    assert _before_the_marker(multihost, "plant") == {"marker": None}
    result = multihost.deploy(path, "--proof-timeout", str(20 * DEADLINE_SCALE))
    assert result.returncode == 0, _explain(result)
    assert "--- exec: clustergate backfill-permits --home" in result.stdout, _explain(result)
    assert _before_the_marker(multihost) == {"marker": "1"}, _explain(result)
    after = {h: multihost.pids(h) for h in SYSTEM_HOSTS}
    changed = {name for h in SYSTEM_HOSTS for name in after[h] if after[h][name] != before[h][name]}
    assert changed == {"gate"}
    assert "restarted ['gate']" in result.stdout


def test_deploy_history_lists_the_rolled_back_and_the_good_deploy(multihost):
    result = multihost.clustergate("ops", "deploy", "--history", "--json", "--home", str(multihost.ops_home), timeout=30)
    records = json.loads(result.stdout)
    assert [r["outcome"] for r in records] == ["rolled back", "ok"]
    rolled, good = records
    assert rolled["hosts"] == ["market"] and rolled["failed_check"] == "p27_corr_ready is 1"
    assert rolled["before"]["market"] != rolled["after"]["market"] and len(rolled["proofs"]) == 2
    assert good["hosts"] == ["store", "market", "exec"]
    assert good["before"]["exec"] != good["after"]["exec"] and good["before"]["market"] == good["after"]["market"]
    assert all(Path(p).exists() for r in records for p in r["proofs"])
    assert all(len(set(r["proofs"])) == len(r["proofs"]) for r in records), "each proof keeps its own report"
    table = multihost.clustergate("ops", "deploy", "--history", "--home", str(multihost.ops_home), timeout=30).stdout
    assert "rolled back" in table and "ok" in table


def test_a_deploy_failing_on_its_second_host_puts_the_first_host_back_too(multihost):
    # From what runs now (the good deploy's topology): a market change that proves ready (the feed also
    # allows a new key of the book's), then an exec change whose `up` fails there: the book connects
    # with that new keypair, whose secret half was never handed out to exec (its public half validates
    # on the operator's machine; exec's `up` exits 2 naming the missing key).
    running = yaml.safe_load((multihost.home("market") / "run" / "topology.yaml").read_text())
    keys = Path(running["security"]["curve"]["keys_dir"])
    if not (keys / "book_next.key").exists():
        generate_keypair(keys, "book_next")
    (keys / "book_next.key_secret").unlink(missing_ok=True)
    mixed = json.loads(json.dumps(running))
    mixed["actors"]["price_feed"]["sockets"]["ticks"]["curve"]["allow"].append("book_next")
    mixed["actors"]["book"]["sockets"]["ticks"]["curve"]["keypair"] = "book_next"
    path = write_topology(multihost.tmp, mixed, "mixed.yaml")
    result = multihost.deploy(path, "--host", "market", "--host", "exec", "--proof-timeout", str(10 * DEADLINE_SCALE))
    assert result.returncode == 1, _explain(result)
    assert "failed on host exec" in result.stdout, _explain(result)
    assert "the proof after the rollback passed" in result.stdout, _explain(result)
    for host in ("market", "exec"):
        now = yaml.safe_load((multihost.home(host) / "run" / "topology.yaml").read_text())
        assert now == running, f"{host} is not back on the topology it ran before the deploy"
    record = json.loads(multihost.clustergate("ops", "deploy", "--history", "--json", "--home",
                                              str(multihost.ops_home), timeout=30).stdout)[-1]
    assert record["rolled_back"] == ["exec", "market"]
    assert record["host_states"] == {"market": "rolled back", "exec": "rolled back"}
