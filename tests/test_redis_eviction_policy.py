"""An external Redis whose maxmemory-policy evicts keys (the idempotency review, idem): a plan_id's decision is kept
only as long as Redis keeps its key, so a Redis that may evict it must get no decision at all."""

from __future__ import annotations

import json
import subprocess
import time

from launcher import keys
from actors import permit_issuer
from helpers import RedisServer, demo_topology_data, retarget, scrape, wait_for, write_topology
from test_gate_service import P26, decision_of, new_plan, write_book
from test_loop_liveness import clustergate

ISSUER_READY = 'clustergate_actor_ready{actor="permit_issuer",kind="permit_issuer"}'


def test_a_redis_that_may_evict_keys_records_no_decision_since_an_evicted_one_let_its_plan_id_be_decided_twice(
        tmp_path, redis_server):
    """An external Redis with maxmemory 4 MB and allkeys-lru (volatile-lru, ElastiCache's default, alike) evicted a
    plan_id's stored decision under the load of 4,000 other decisions, while its permit stayed (59.4 s left): the
    plan_id resubmitted was decided again, a second record on the gate stream and a second permit counted. The
    issuer now refuses every decision while Redis has a limit and a policy other than noeviction: HOLD
    redis_unavailable naming the policy, nothing written, the issuer not ready; with noeviction set, decided."""
    r = redis_server.client()
    write_book(r)
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    issuer_port = p26.data["actors"]["permit_issuer"]["metrics_port"]
    try:
        r.config_set("maxmemory", 256 * 1024 * 1024)
        r.config_set("maxmemory-policy", "allkeys-lru")
        wait_for(lambda: scrape(issuer_port).get(ISSUER_READY) == 0.0, 15, "the issuer not ready under allkeys-lru")
        plan = new_plan()
        held = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert (held["final_action"], held["gate_reason"], held["recorded"]) == ("HOLD", "redis_unavailable", False), held
        assert "maxmemory-policy is allkeys-lru" in held["detail"] and "nothing was written" in held["detail"], held
        assert r.exists(keys.plan_decision(plan), keys.permit(plan)) == 0
        assert not [f for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan]
        r.config_set("maxmemory-policy", "noeviction")
        wait_for(lambda: scrape(issuer_port).get(ISSUER_READY) == 1.0, 15, "the issuer ready again under noeviction")
        decided = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=plan))
        assert decided["permit"] and decided["recorded"] and not decided["replayed"], decided
    finally:
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", "noeviction")
        p26.stop()


def test_only_a_memory_limit_with_a_policy_other_than_noeviction_is_an_eviction_hazard():
    assert permit_issuer.eviction_hazard({"maxmemory": "0", "maxmemory_policy": "allkeys-lru"}) is None  # no limit: never evicts
    assert permit_issuer.eviction_hazard({"maxmemory": "1048576", "maxmemory_policy": "noeviction"}) is None
    assert permit_issuer.eviction_hazard({}) is None  # INFO without the fields (refused, an old Redis): not known, not refused
    for policy in ("volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random", "allkeys-random",
                   "volatile-ttl"):
        hazard = permit_issuer.eviction_hazard({"maxmemory": "1048576", "maxmemory_policy": policy})
        assert hazard is not None and f"maxmemory-policy is {policy}" in hazard, (policy, hazard)


def test_status_names_a_redis_that_may_evict_as_why_the_permit_issuer_is_not_ready_and_what_to_set(
        tmp_path, redis_server):
    """Second review (idem2): with the demo up against an external Redis set to maxmemory 256mb and volatile-lru, every
    decision was HOLD redis_unavailable, and `clustergate status` (exit 1) showed only `permit_issuer ... no`, its
    --json only "ready": false: nothing on the operator's screen said why nor what to change. Status now names the
    policy, the limit and the fix, in text and JSON, and says nothing once the policy is noeviction again."""
    r = redis_server.client()
    data = retarget(demo_topology_data(), redis_server.url)
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    home = tmp_path / "home"
    issuer_port = data["actors"]["permit_issuer"]["metrics_port"]
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        r.config_set("maxmemory", 256 * 1024 * 1024)
        r.config_set("maxmemory-policy", "volatile-lru")
        wait_for(lambda: scrape(issuer_port).get(ISSUER_READY) == 0.0, 15, "the issuer not ready under volatile-lru")
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        said = [line for line in status.stdout.splitlines() if line.startswith("NOT READY: permit_issuer:")]
        assert len(said) == 1, status.stdout
        assert ("maxmemory-policy is volatile-lru with maxmemory 268435456 bytes" in said[0]
                and "HOLD redis_unavailable" in said[0] and "maxmemory-policy noeviction" in said[0]), said[0]
        rows = {row["name"]: row for row in json.loads(
            clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        assert rows["permit_issuer"]["ready"] is False, rows["permit_issuer"]
        assert "maxmemory-policy is volatile-lru" in rows["permit_issuer"]["redis_may_evict"], rows["permit_issuer"]
        assert all("redis_may_evict" not in row for name, row in rows.items() if name != "permit_issuer"), rows
        r.config_set("maxmemory-policy", "noeviction")
        wait_for(lambda: scrape(issuer_port).get(ISSUER_READY) == 1.0, 15, "the issuer ready again under noeviction")
        status = clustergate("status", "--home", str(home))
        assert "NOT READY: permit_issuer" not in status.stdout and "maxmemory-policy" not in status.stdout, status.stdout
        rows = {row["name"]: row for row in json.loads(
            clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        assert "redis_may_evict" not in rows["permit_issuer"], rows["permit_issuer"]
    finally:
        clustergate("down", "--home", str(home))
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", "noeviction")


def test_status_says_when_the_issuer_cannot_check_whether_redis_may_evict_because_info_is_refused(
        tmp_path, redis_server):
    """Second review (idem2): the issuer's Redis user refused INFO (`-info`, or the common `-@dangerous`), and Redis set
    to maxmemory 256mb and allkeys-lru: the issuer stayed ready and recorded a PARTIAL_75 with its permit (as
    documented), but nothing said the check was off: no log line, status exit 0 with every row "yes". Now the issuer
    logs redis_eviction_unchecked once and status notes it (exit code unchanged: the issuer still decides); once
    INFO is allowed again, the policy is seen and status names it."""
    r = redis_server.client()
    data = retarget(demo_topology_data(), redis_server.url)
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    home = tmp_path / "home"
    issuer_port = data["actors"]["permit_issuer"]["metrics_port"]
    r.config_set("maxmemory", 256 * 1024 * 1024)
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.execute_command("ACL", "SETUSER", "default", "-info")
    log = home / "run" / "logs" / "permit_issuer.log"
    try:
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        assert scrape(issuer_port)[ISSUER_READY] == 1.0  # documented: a Redis refusing INFO is not checked
        wait_for(lambda: "event=redis_eviction_unchecked" in log.read_text(), 15, "the issuer's unchecked line")
        status = clustergate("status", "--home", str(home))
        noted = [line for line in status.stdout.splitlines() if line.startswith("note: permit_issuer:")]
        assert len(noted) == 1 and "INFO" in noted[0] and "+info" in noted[0] and "not checked" in noted[0], status.stdout
        assert "NOT READY: permit_issuer" not in status.stdout, status.stdout
        rows = {row["name"]: row for row in json.loads(
            clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        assert "+info" in rows["permit_issuer"]["redis_eviction_unchecked"], rows["permit_issuer"]
        r.execute_command("ACL", "SETUSER", "default", "+info")
        wait_for(lambda: scrape(issuer_port).get(ISSUER_READY) == 0.0, 15, "the issuer not ready once INFO answers")
        status = clustergate("status", "--home", str(home))
        assert "NOT READY: permit_issuer: Redis's maxmemory-policy is allkeys-lru" in status.stdout, status.stdout
        assert "note: permit_issuer:" not in status.stdout, status.stdout
        assert log.read_text().count("event=redis_eviction_unchecked") == 1, log.read_text()
    finally:
        clustergate("down", "--home", str(home))
        r.execute_command("ACL", "SETUSER", "default", "+info")
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", "noeviction")


def test_a_redis_restarted_with_an_evicting_policy_gets_no_decision_before_the_issuer_reads_its_policy(tmp_path):
    """Second review (idem2): the issuer read the policy at start and every 5 s, and again only after a failover's
    clock reading did not read it. Redis restarted at the same address with maxmemory 256mb and allkeys-lru, the demo
    running, proposals at about 20/s: 74, 88 and 62 decisions were recorded (3.7 to 5.0 s) before the first refusal,
    each kept in a Redis that may evict it. The issuer now reads the policy before its first write there: when Redis
    answers NOSCRIPT (it lost the script: restarted, or a replica promoted) and when it talks to another server."""
    first = RedisServer(tmp_path / "redis").start()
    p26 = P26(tmp_path / "p26", first.url)
    evicting = None
    try:
        write_book(first.client())
        p26.start()
        assert decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))["recorded"]
        first.stop()
        evicting = subprocess.Popen(
            [first.binary, "--port", str(first.port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", "",
             "--appendonly", "no", "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = first.client()
        wait_for(lambda: r.ping(), 10, "the restarted redis-server")
        write_book(r)
        ends = time.monotonic() + permit_issuer.MEMORY_READ_S + 1.0  # past the issuer's next periodic reading
        seen = []
        while time.monotonic() < ends:
            seen.append(decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan())))
        recorded = [d for d in seen if d["recorded"]]
        assert not recorded, (len(recorded), len(seen), recorded[0])
        assert all((d["final_action"], d["gate_reason"]) == ("HOLD", "redis_unavailable") for d in seen), seen[0]
        assert "maxmemory-policy is allkeys-lru" in seen[0]["detail"], seen[0]  # the first, on the new connection
        assert r.xlen(keys.GATE_STREAM) == 0
    finally:
        p26.stop()
        if evicting is not None:
            evicting.terminate()
            evicting.wait(10)
        first.stop()
