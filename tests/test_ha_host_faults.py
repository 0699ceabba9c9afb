"""configs/ha.yaml on five hosts (network namespaces, launcher/netns.py) and its gate hosts faulted under load
(issue 12): 4 Freelance clients, 200 proposals/s in total; every 10 s a gate host is crashed (SIGKILL of every
process in its namespace, its supervisord included; restored by `clustergate up` on that host) or cut off (its
link down, then up), the two kinds and the two gate hosts alternating. Afterwards, with the clients' retries
done: no proposal unanswered, no plan_id decided twice (on the stream or in the replies), no permit without its
stream record, every reply that said recorded on the stream, and every answered plan_id resubmitted gets the
same decision replayed. The readiness proof asks each gate and names the one that does not answer.

A longer run of the same faults: bench/bench_ha.py.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import DEADLINE_SCALE, wait_for
from launcher.multihost_harness import HA_GATE_HOSTS, HA_HOSTS, HASystem

PERMIT_TTL_S = 60  # SPEC: a permit lives 60 s

TIMEOUT_MS = 500  # the clients' attempt timeout: the floor of a client-visible failover
RETRIES = 1
CLIENTS, RATE = 4, 200.0
CYCLES, PERIOD_S, FAULT_S = 6, 10.0, 4.0
# The cluster side's cadence: the takeover bound is 2 cadences, and at 0.5 s a loaded CI box's delays
# (measured 1.5 cadences, the bound 2.05) left only 270 ms; the gate faults and Redis kills do not depend on it.
CADENCE_S = 1.0


@pytest.fixture(scope="module")
def ha(module_test_hosts, tmp_path_factory):
    hosts = module_test_hosts([*HA_HOSTS, "ops"])
    system = HASystem(hosts, tmp_path_factory.mktemp("ha"), cadence_s=CADENCE_S)
    try:
        system.started = system.up_all()
        yield system
    finally:
        for host in HA_HOSTS:
            if hosts.is_partitioned(host):
                hosts.heal(host)
        system.down_all()


def _explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def silent_gates(ha: HASystem) -> list[str]:
    """The gates that do not answer a probe within 60 s (scaled), both asked at once."""
    with ThreadPoolExecutor(len(HA_GATE_HOSTS)) as pool:
        answers = dict(zip(HA_GATE_HOSTS, pool.map(lambda g: ha.gate_answers(g, 60 * DEADLINE_SCALE), HA_GATE_HOSTS)))
    return [gate for gate, answered in answers.items() if not answered]


def machine() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def report(verdict: dict, floor_ms: float) -> str:
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return (f"gate host faults under load ({CLIENTS} clients, {RATE:g} proposals/s, {len(verdict['events'])} faults): "
            f"{verdict['proposals']} proposals, failover p50 {verdict['failover_p50_ms']} ms / max "
            f"{verdict['failover_max_ms']} ms over {verdict['failover_calls']} calls (floor: one silent attempt, "
            f"measured {floor_ms} ms; attempt timeout {TIMEOUT_MS} ms); calls without failover p50 "
            f"{verdict['call_p50_ms']} ms; {verdict['replayed_after_failover']} replayed after a failover; "
            f"decisions lost {verdict['decisions_lost']}, plan_ids decided twice "
            f"{verdict['plan_ids_decided_twice']}; {machine()}; {load}")


# -- the topology --------------------------------------------------------------------------------


def test_the_ha_topology_comes_up_on_five_hosts_under_their_own_supervisords(ha):
    for host, result in ha.started.items():
        assert result.returncode == 0, f"{host}: {_explain(result)}"
    assert set(ha.pids("exec_a")) == {"gate", "permit_issuer"}
    assert set(ha.pids("exec_b")) == {"gate_b", "permit_issuer_b"}
    assert set(ha.pids("market_a")) == {"price_feed", "buffer", "correlator", "clusterer", "state_writer", "book",
                                        "redis-server-3", "redis-sentinel-2"}
    assert set(ha.pids("market_b")) == {"price_feed_b", "buffer_b", "correlator_b", "clusterer_b", "state_writer_b",
                                        "redis-server-2", "redis-sentinel-3"}
    assert set(ha.pids("store")) == {"redis-server-1", "redis-sentinel-1"}


# -- proofs that ask every gate ------------------------------------------------------------------


def readiness(ha: HASystem) -> subprocess.CompletedProcess:
    return ha.clustergate("ops", "proof", "readiness", "--topology", str(ha.topology), "--home", str(ha.ops_home),
                          timeout=240)


def test_the_readiness_proof_asks_each_gate_and_names_the_one_that_does_not_answer(ha):
    result = readiness(ha)
    assert result.returncode == 0, _explain(result)
    assert "PASS  every gate answers: 2 gates: gate, gate_b" in result.stdout
    assert "PASS  every gate sees the cluster state" in result.stdout
    ha.hosts.partition("exec_b")
    try:
        result = readiness(ha)
    finally:
        ha.hosts.heal("exec_b")
    assert result.returncode == 1, _explain(result)
    line = next(l for l in result.stdout.splitlines() if "every gate answers" in l)
    assert line.startswith("FAIL") and '"gate_b":' in line and '"gate":' not in line, line
    assert ha.gate_answers("gate_b", 60 * DEADLINE_SCALE)


# -- gate host faults under load -----------------------------------------------------------------


def test_gate_host_crashes_and_partitions_under_load_lose_no_decision_and_decide_no_plan_id_twice(ha):
    silent = silent_gates(ha)
    assert not silent, f"{silent} do not answer before the faults"
    verdict = ha.faults_under_load(CYCLES, PERIOD_S, FAULT_S, clients=CLIENTS, rate=RATE, timeout_ms=TIMEOUT_MS,
                                   retries=RETRIES)
    floor_ms = ha.silent_floor_ms(TIMEOUT_MS, count=5)
    print("\n" + report(verdict, floor_ms))
    print(json.dumps({k: verdict[k] for k in ("events", "load", "violations")}))
    assert verdict["violations"] == {k: 0 for k in verdict["violations"]}, json.dumps(verdict["examples"])[:4000]
    assert verdict["permit_looks_max_gap_s"] < PERMIT_TTL_S, verdict  # every permit of the run was seen alive
    assert verdict["load"]["still_unknown"] == []
    assert verdict["failover_calls"] > 0, "no client call failed over: the faults did not reach the clients"
    assert verdict["resubmitted"] > 0 and verdict["permits"] > 0


# -- the Redis primary's host lost, and kept down, under the same load -----------------------------

DOWN_S = 5.0


def test_the_redis_primarys_host_crashed_and_kept_down_decisions_are_recorded_again_without_it(ha):
    """The store host (the primary and a sentinel) loses power and stays down. Sentinel promotes a
    replica, and the other replica follows it, so the issuer's WAIT is acknowledged and decisions are
    recorded again while store is still down (with two data servers they held, replica_unacknowledged,
    until a person brought store back). Then store comes back as a replica; nothing lost or doubled."""
    silent = silent_gates(ha)
    assert not silent, f"{silent} do not answer before the crash"
    before = actor_pids(ha)
    verdict = ha.primary_host_crash_under_load(down_s=DOWN_S, clients=CLIENTS, rate=RATE, timeout_ms=TIMEOUT_MS,
                                               retries=RETRIES)
    crash = verdict["crash"]
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nRedis primary's host {crash['host']} crashed and kept down under load ({CLIENTS} clients, {RATE:g} "
          f"proposals/s): first recorded decision {crash['resumed_after_s']:.2f} s after the crash (floor: "
          f"down-after {verdict['down_after_ms']} ms); then {crash['recorded_while_down']} of "
          f"{crash['calls_while_down']} calls recorded in {DOWN_S:g} s with the host still down; store healthy "
          f"{crash['healthy_after_up_s']} s after its `up`; decisions lost {verdict['decisions_lost']}, plan_ids "
          f"decided twice {verdict['plan_ids_decided_twice']}; {machine()}; {load}")
    print(json.dumps({k: verdict[k] for k in ("crash", "load", "violations")}))
    assert crash["host"] == "store", crash  # the shipped layout: the primary starts on store
    assert crash["new_primary"] not in (None, crash["primary"]), crash
    # With the host still down, (nearly) every decision is recorded: a replica acknowledges each WAIT.
    assert crash["calls_while_down"] >= DOWN_S * RATE / 4, crash
    assert crash["recorded_while_down"] >= 0.95 * crash["calls_while_down"], crash
    assert {k: v for k, v in actor_pids(ha).items() if not k.startswith("redis-")} == \
        {k: v for k, v in before.items() if not k.startswith("redis-")}  # no actor restarted
    assert verdict["violations"] == {k: 0 for k in verdict["violations"]}, json.dumps(verdict["examples"])[:4000]
    assert verdict["permit_looks_max_gap_s"] < PERMIT_TTL_S, verdict  # every permit of the run was seen alive
    assert verdict["load"]["still_unknown"] == []


# -- the Redis primary SIGKILLed under the same load ---------------------------------------------

KILLS = 5


def kills_report(verdict: dict) -> str:
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    resumed = [k["resumed_after_s"] for k in verdict["kills"]]
    return (f"Redis primary SIGKILLed {len(resumed)} times under load ({CLIENTS} clients, {RATE:g} proposals/s): "
            f"{verdict['proposals']} proposals; next recorded decision after a kill p50 "
            f"{statistics.median(resumed):.2f} s / max {max(resumed):.2f} s (floor: Sentinel's down-after "
            f"{verdict['down_after_ms']} ms, then the vote and promotion, then the other replica re-pointed at the "
            f"new primary to acknowledge WAIT; kills {verdict['kill_spacing_s']} s apart at least); store healthy again (the "
            f"killed server "
            f"a replica in sync) after {[k['healthy_after_s'] for k in verdict['kills']]} s; first tries unknown "
            f"{verdict['unknown_first_try']} {verdict['unknown_first_try_by_kind']}; {verdict['resubmitted']} "
            f"answered plan_ids resubmitted; decisions lost {verdict['decisions_lost']}, plan_ids decided twice "
            f"{verdict['plan_ids_decided_twice']}; {machine()}; {load}")


def actor_pids(ha: HASystem) -> dict[str, int]:
    """Every program's pid on the five hosts but the data servers' (the ones killed and restarted); the
    hosts are asked at once."""
    with ThreadPoolExecutor(len(HA_HOSTS)) as pool:
        per_host = list(pool.map(ha.pids, HA_HOSTS))
    return {name: pid for pids in per_host for name, pid in pids.items() if not name.startswith("redis-server")}


def test_the_redis_primary_sigkilled_five_times_under_load_loses_no_recorded_decision_and_no_actor_restarts(ha):
    silent = silent_gates(ha)
    assert not silent, f"{silent} do not answer before the kills"
    before = actor_pids(ha)
    verdict = ha.primary_kills_under_load(KILLS, clients=CLIENTS, rate=RATE, timeout_ms=TIMEOUT_MS, retries=RETRIES)
    print("\n" + kills_report(verdict))
    print(json.dumps({k: verdict[k] for k in ("kills", "load", "violations")}))
    # Each kill was of the primary of the time, and Sentinel moved the primary every time (the killed
    # server came back as a replica before the next kill: primary_kills_under_load waits for it).
    assert len(verdict["kills"]) == KILLS
    assert all(k["new_primary"] != k["killed"] for k in verdict["kills"]), verdict["kills"]
    # Decisions resumed by themselves: no actor was restarted.
    assert actor_pids(ha) == before
    # Every recorded reply is on the final primary's stream, none decided twice, every answered plan_id
    # resubmitted gets the same decision, none left without a final answer.
    assert verdict["violations"] == {k: 0 for k in verdict["violations"]}, json.dumps(verdict["examples"])[:4000]
    assert verdict["permit_looks_max_gap_s"] < PERMIT_TTL_S, verdict  # every permit of the run was seen alive
    assert verdict["load"]["still_unknown"] == []
    answered = verdict["proposals"] - verdict["violations"]["unanswered"]
    assert verdict["resubmitted"] == answered and answered >= KILLS * 100, (verdict["resubmitted"], answered)


# -- the active cluster side's host crashed ------------------------------------------------------------

def test_the_active_cluster_sides_host_crashed_the_standby_writes_within_two_cadences_and_fencing_holds(ha):
    """Last in the module. The host of the state writer holding the lease loses power (SIGKILL of every
    process in its namespace); the other chain's writer takes the lease and writes within 2 cadences
    (write to write on the stream), and no record with the old fencing token follows the first new one."""
    cadence_s = float(ha.data["clusters"]["cadence_s"])
    side = wait_for(lambda: (s := ha.cluster_side())["lease"] and len(s["records"]) >= 3 and s, 60,
                    "a state writer holding the lease and writing")
    host = ha.data["actors"][side["lease"].split(":")[0]]["host"]
    # The primary kills before may have left the Redis primary on this host (both market hosts hold a
    # data server): crashing it too would time a Redis failover (down_after_ms + election), not the
    # cluster side's takeover. The primary is moved to store, which runs no state writer: a failover off
    # one market host moved it, and the lease with it, to the other. Then the lease is read again.
    ha.move_primary_to("store", 120 * DEADLINE_SCALE)
    # Settled after the move: four records written after it (a CI run once crashed the holder's host right
    # after a move, on records from before it, and timed a 12.5-cadence gap: the failover's aftermath, not
    # the takeover this test is about).
    moved_at = max((ts for ts, _ in ha.cluster_side()["records"]), default=0.0)
    side = wait_for(lambda: (s := ha.cluster_side())["lease"]
                    and sum(1 for ts, _ in s["records"] if ts > moved_at) >= 4 and s, 60,
                    "a state writer holding the lease and writing four records after the primary moved")
    active = side["lease"].split(":")[0]
    host = ha.data["actors"][active]["host"]
    assert ha.host_of(ha.redis_state()["primary"]) != host, "the lease moved to the Redis primary's host"
    old_token = side["records"][-1][1]
    ha.crash(host)
    try:
        after = wait_for(lambda: (s := ha.cluster_side())["records"][-1][1] > old_token and s, 30,
                         "the standby writing with a newer fencing token")["records"]
        old_times = [ts for ts, token in after if token == old_token]
        last_old = max(old_times)
        first_new = min(ts for ts, token in after if token > old_token)
        gap = (first_new - last_old) / cadence_s
        floor = statistics.median(b - a for a, b in zip(old_times, old_times[1:])) / cadence_s
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"\ncluster-side host {host} crashed: write-to-write gap {gap:.3f} cadences (floor: the old writer's "
              f"own write-to-write, median {floor:.3f}); {machine()}; {load}")
        # 2 cadences; the 0.05 (50 ms at 1 s) is for the stream ids' 1 ms steps and a write's own time.
        # The ids are the writers' write times (Redis's clock): no test clock is in the bound.
        assert gap <= 2.05, gap
        new_token = min(token for _, token in after if token > old_token)
        wait_for(lambda: len(ha.cluster_side()["records"]) >= len(after) + 3, 30, "three more records")
        tokens = [token for _, token in ha.cluster_side()["records"]]
        assert tokens == sorted(tokens), tokens
        assert old_token not in tokens[tokens.index(new_token):], tokens  # nothing from the old writer after the takeover
    finally:
        ha.up(host)
