"""backfill: `clustergate backfill-permits` writes the permitted-plan marker (clustergate:p26:permitted:{plan_id}) of
every stored decision with a permit that has none, the state an issuer before the marker left (docs/operating.md: such
a plan_id resubmitted after its decision expired was decided anew, with a second permit). Against a real gate, permit
issuer and redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest

from helpers import PYTHON, REPO, demo_topology_data, retarget, write_topology
from launcher import keys
from launcher.harness import free_port
from helpers import scrape, wait_for
from tests.test_gate_service import clean, decision_of, expire_now, new_plan, running_p26, system  # noqa: F401

THIRTY_DAYS_S = 30 * 86400


def backfill(topology, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", "backfill-permits", "--topology", str(topology), *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)


def counts_of(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def permitted_before_the_marker(p26, symbol: str, action: str) -> str:
    """A plan_id decided with a permit through the real gate and issuer, its marker then removed: what an issuer of the
    version before the marker left (its script wrote the same stored decision, permit and cooldown, and no marker)."""
    plan = new_plan()
    assert decision_of(p26.client.propose(symbol, action, plan_id=plan))["permit"]
    p26.redis.delete(keys.permitted_plan(plan))
    return plan


def full_form_decision(plan: str, permit: bool, ts_epoch: int) -> str:
    """The full stored form an issuer before the compact one (128970e) wrote: the whole recorded decision."""
    return json.dumps({"plan_id": plan, "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50",
                       "final_action": "PARTIAL_50" if permit else "HOLD", "gate_reason": "pass", "stress": 0.5,
                       "heat": 1.0, "concentration": 0.5, "corr_proxy": 0.5, "kill_score": 0.0, "ts_epoch": ts_epoch,
                       "permit": permit, "permit_key": keys.permit(plan) if permit else None, "replayed": False,
                       "recorded": True, "write_id": "w"}, separators=(",", ":"))


def test_a_plan_id_permitted_before_the_marker_is_refused_plan_id_expired_after_the_backfill_not_given_a_second_permit(
        clean):
    """The hole: a plan_id whose stored decision (permit: true) has no marker, resubmitted once its decision expired,
    got a second decision and permit. After the backfill it is refused plan_id_expired, nothing written; the marker
    outlives the decision by permitted_plan_ttl_s from the backfill, and holds the permit's second."""
    r = clean.redis
    compact = permitted_before_the_marker(clean, "ETHUSDT", "PARTIAL_75")
    full = new_plan()
    r.set(keys.plan_decision(full), full_form_decision(full, True, int(time.time()) - 3600), ex=86400 - 3600)
    done = backfill(clean.topology, "--json")
    for plan, symbol, action in ((compact, "ETHUSDT", "PARTIAL_75"), (full, "ETHUSDT", "PARTIAL_50")):
        decision_left = r.ttl(keys.plan_decision(plan))
        for key in (keys.plan_decision(plan), keys.permit(plan), keys.cooldown(symbol)):
            if r.exists(key):
                expire_now(r, key)
        again = clean.client.propose(symbol, action, plan_id=plan)
        assert (again["status"], again.get("reason")) == ("error", "plan_id_expired"), (again, done.stdout, done.stderr)
        assert sum(1 for _, f in r.xrange(keys.GATE_STREAM) if f["plan_id"] == plan) == (plan == compact), plan
        marker = keys.permitted_plan(plan)
        assert decision_left < r.ttl(marker) <= THIRTY_DAYS_S and r.ttl(marker) >= THIRTY_DAYS_S - 60, r.ttl(marker)
    assert abs(int(r.get(keys.permitted_plan(full))) - (time.time() - 3600)) < 60  # its ts_epoch: the permit's second
    counts = counts_of(done)
    assert (counts["scanned"], counts["with_permit"], counts["written"], counts["already_present"], counts["hold"],
            counts["skipped"], counts["complete"]) == (2, 2, 2, 0, 0, {}, True), counts


def test_a_hold_gets_no_marker_an_existing_marker_is_untouched_and_corrupt_decisions_are_skipped_and_counted(clean):
    """A HOLD's decision (permit: false) is due no marker; a marker already there (the issuer's, an earlier run's) is
    left as it is, value and TTL (NX); stored decisions that cannot be read are counted by reason and named, the run
    goes on to the end and exits 0; a second run writes nothing more."""
    r = clean.redis
    hold = new_plan()
    assert not decision_of(clean.client.propose("SOLUSDT", "HOLD", plan_id=hold))["permit"]
    marked = new_plan()
    assert decision_of(clean.client.propose("BTCUSDT", "PARTIAL_25", plan_id=marked))["permit"]
    r.set(keys.permitted_plan(marked), "123", ex=5000)  # told apart from anything the backfill would write
    missing = permitted_before_the_marker(clean, "ETHUSDT", "PARTIAL_50")
    corrupt = {"p-not-json": "{", "p-a-list": "[1, 2]", "p-permit-yes": '{"permit": "yes", "symbol": "ETHUSDT"}',
               "p-nan": "NaN"}
    for plan, text in corrupt.items():
        r.set(keys.plan_decision(plan), text, ex=600)
    r.hset(keys.plan_decision("p-a-hash"), "permit", "true")
    first = backfill(clean.topology)
    assert first.returncode == 0, first.stdout + first.stderr
    assert ("scanned 8 stored decisions: 2 with a permit (1 markers written, 1 already present), 1 HOLD (no marker "
            "due), 0 expired while read, 5 skipped (no_permit_flag: 1, not_a_json_object: 3, not_a_string: 1)"
            in first.stdout), first.stdout
    assert keys.plan_decision("p-a-hash") in first.stdout and keys.plan_decision("p-not-json") in first.stdout
    assert r.get(keys.permitted_plan(marked)) == "123" and 4990 <= r.ttl(keys.permitted_plan(marked)) <= 5000
    assert r.exists(keys.permitted_plan(missing)) == 1
    assert not r.exists(keys.permitted_plan(hold), *(keys.permitted_plan(p) for p in [*corrupt, "p-a-hash"]))
    again = counts_of(backfill(clean.topology, "--json"))
    assert (again["written"], again["already_present"], again["hold"], sum(again["skipped"].values())) == (0, 2, 1, 5)


def test_every_batch_of_a_scan_is_backfilled_beside_a_live_issuer_and_the_counts_add_up(clean):
    """Thousands of stored decisions read in SCAN steps of 50 while the gate and issuer go on deciding: every one with
    a permit ends with its marker, no HOLD gets one, and scanned = with a permit + HOLD + expired while read + skipped."""
    r = clean.redis
    now = int(time.time())
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(keys.plan_decision(f"old-{i}"), full_form_decision(f"old-{i}", i % 3 != 0, now - i), ex=86400 - i)
    pipe.execute()
    live: list[str] = []
    stop = threading.Event()

    def decide() -> None:
        for i in range(200):
            if stop.is_set():
                return
            plan = new_plan()
            if clean.client.propose("SOLUSDT", "HOLD" if i % 2 else "PARTIAL_25", plan_id=plan).get("status") == "ok":
                live.append(plan)

    worker = threading.Thread(target=decide)
    worker.start()
    try:
        counts = counts_of(backfill(clean.topology, "--count", "50", "--json"))
    finally:
        stop.set()
        worker.join(60)
    assert counts["complete"] and counts["scanned"] >= 3000, counts
    assert counts["scanned"] == counts["with_permit"] + counts["hold"] + counts["gone"] + sum(counts["skipped"].values())
    assert counts["with_permit"] == counts["written"] + counts["already_present"]
    assert counts["written"] >= 2000, counts
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.exists(keys.permitted_plan(f"old-{i}"))
    assert [bool(n) for n in pipe.execute()] == [i % 3 != 0 for i in range(3000)]
    for plan in live:  # the issuer's own markers stand, the HOLDs have none
        stored = json.loads(r.get(keys.plan_decision(plan)))
        assert r.exists(keys.permitted_plan(plan)) == stored["permit"], plan


def test_a_new_permit_issuer_writes_at_its_start_the_markers_an_issuer_before_them_left_out(tmp_path, redis_server):
    """A single-host upgrade (`clustergate up` restarts the permit issuer on the new code) closes the hole with no
    command to remember: the issuer backfills the markers at its start, off the decisions' path, says so in its log and
    counts them in permit_issuer_markers_backfilled_total."""
    r = redis_server.client()
    now = int(time.time())
    pipe = r.pipeline(transaction=False)
    for i in range(600):
        pipe.set(keys.plan_decision(f"before-{i}"), full_form_decision(f"before-{i}", i % 2 == 0, now - i), ex=86400 - i)
    pipe.execute()
    with running_p26(tmp_path / "p26", redis_server) as p26:
        def markers() -> list[int]:
            pipe = r.pipeline(transaction=False)
            for i in range(600):
                pipe.exists(keys.permitted_plan(f"before-{i}"))
            return pipe.execute()
        wait_for(lambda: sum(markers()) == 300, 30, "the issuer to write the missing markers")
        assert markers() == [int(i % 2 == 0) for i in range(600)]
        issuer = p26.data["actors"]["permit_issuer"]["metrics_port"]
        wait_for(lambda: scrape(issuer).get("permit_issuer_markers_backfilled_total") == 300, 10, "the markers counted")
        logged = wait_for(lambda: next((line for line in p26.issuer.log().splitlines()
                                        if "event=permitted_markers_backfilled" in line), None), 10, "the backfill logged")
        assert all(f" {field} " in logged + " " for field in ("scanned=600", "written=300", "hold=300")), logged
        expire_now(r, keys.plan_decision("before-0"))
        again = p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id="before-0")
        assert (again["status"], again.get("reason")) == ("error", "plan_id_expired"), again


def test_an_issuer_whose_redis_user_is_refused_scan_says_so_once_and_decides_as_before(tmp_path, redis_server):
    """An ACL user without SCAN (a user given only the commands the decisions need): the start-up backfill cannot run;
    the issuer logs permitted_markers_backfill_refused (error) once, naming what to allow, tries no more (a retry a
    minute would log the same refusal forever) and decides as before."""
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "cg", "on", "nopass", "~*", "&*", "+@all", "-scan")
    admin.set(keys.plan_decision("before"), full_form_decision("before", True, int(time.time())), ex=600)
    url = redis_server.url.replace("redis://", "redis://cg@", 1)
    from tests.test_gate_service import P26, write_book
    write_book(admin)
    p26 = P26(tmp_path / "acl", url).start()
    try:
        refused = wait_for(lambda: [line for line in p26.issuer.log().splitlines()
                                    if "event=permitted_markers_backfill" in line], 10, "the backfill's refusal logged")
        assert len(refused) == 1 and "event=permitted_markers_backfill_refused" in refused[0], refused
        assert "NOPERM" in refused[0] and "backfill-permits" in refused[0], refused
        assert decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50"))["permit"]
        assert not admin.exists(keys.permitted_plan("before"))
    finally:
        p26.stop()


def test_a_backfill_past_its_timeout_exits_1_saying_incomplete_and_a_run_again_finishes(clean):
    """--timeout bounds a run: past it the run stops, says INCOMPLETE with what it did, exit 1; the markers written
    stay and a run again goes on to the end."""
    plan = permitted_before_the_marker(clean, "ETHUSDT", "PARTIAL_50")
    stopped = backfill(clean.topology, "--timeout", "0")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "INCOMPLETE: scanned 0" in stopped.stdout and "stopped after 0 s (--timeout)" in stopped.stderr, stopped
    assert not clean.redis.exists(keys.permitted_plan(plan))
    assert counts_of(backfill(clean.topology, "--json"))["written"] == 1


def test_the_backfill_exits_1_naming_redis_when_it_is_unreachable_or_refuses_the_password(tmp_path, redis_server):
    """An operator running it by hand: Redis down, or a password missing or wrong, is exit 1 with what to do, never a
    traceback, never the password; with the right one it runs."""
    nowhere = write_topology(tmp_path / "nowhere.yaml",
                             retarget(demo_topology_data(), f"redis://127.0.0.1:{free_port()}/0"))
    done = backfill(nowhere)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Redis at redis://127.0.0.1:" in done.stderr and "failed" in done.stderr and "Traceback" not in done.stderr
    assert "INCOMPLETE: scanned 0" in done.stdout, done.stdout
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    secret = "backfill-" + str(os.getpid())
    base = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    done = backfill(topology, env={**base, "CLUSTERGATE_REDIS_PASSWORD": secret})  # a Redis with none
    assert done.returncode == 1 and "has no password, but this command gave one" in done.stderr, done.stderr
    redis_server.client().config_set("requirepass", secret)
    for env, said in ((base, "gave no password"), ({**base, "CLUSTERGATE_REDIS_PASSWORD": "wrong"}, "refuses the password")):
        done = backfill(topology, env=env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert said in done.stderr and "$CLUSTERGATE_REDIS_PASSWORD" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and secret not in done.stderr + done.stdout
    done = backfill(topology, env={**base, "CLUSTERGATE_REDIS_PASSWORD": secret})
    assert done.returncode == 0 and "done: scanned 0" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("stored, pttl_ms, want", [
    # ts_epoch is the permit's second; the TTL is permitted_plan_ttl_s from now (the permit was at the latest now)
    ('{"permit": true, "ts_epoch": 1000}', 3_600_000, (1000, THIRTY_DAYS_S)),
    # a ts_epoch from the future (a gate's clock ahead) or none: the second the decision's TTL says
    ('{"permit": true, "ts_epoch": 99999}', 86_400_000 - 50_000, (10_000 - 50, THIRTY_DAYS_S)),
    ('{"permit": true}', -1, (10_000, THIRTY_DAYS_S)),
    # a decision kept longer than permitted_plan_ttl_s: the marker never expires before it
    ('{"permit": true, "ts_epoch": 1000}', (THIRTY_DAYS_S + 7) * 1000 - 1, (1000, THIRTY_DAYS_S + 7)),
    ('{"permit": false, "ts_epoch": 1000}', 600_000, None),
    ('{"permit": 1}', 600_000, "no_permit_flag"),
    ('"permit"', 600_000, "not_a_json_object"),
])
def test_the_marker_a_stored_decision_is_due(stored, pttl_ms, want):
    from launcher.backfill import Marker, marker_for
    want = Marker(*want) if isinstance(want, tuple) else want
    assert marker_for(stored, pttl_ms, 10_000, THIRTY_DAYS_S, 86400) == want


def test_markers_written_before_redis_refused_one_of_a_step_are_counted(tmp_path, redis_server):
    """Redis refusing some of a step's marker writes (a full `noeviction` Redis: OOM once memory runs out mid-step; an
    ACL user allowed only some keys) fails the run, exit 1; the markers it did write in that step are counted in
    `written`, as they are in Redis (they were dropped from the counts: 691 said, 695 there, revbackfill)."""
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "cg", "on", "nopass", "~clustergate:p26:decision:*",
                          "%R~clustergate:p26:permitted:*", "~clustergate:p26:permitted:a*", "&*", "+@all")
    now = int(time.time())
    plans = [f"a{i}" for i in range(8)] + ["b0"]
    for plan in plans:
        admin.set(keys.plan_decision(plan), full_form_decision(plan, True, now), ex=600)
    topology = write_topology(tmp_path / "topology.yaml",
                              retarget(demo_topology_data(), redis_server.url.replace("redis://", "redis://cg@", 1)))
    done = backfill(topology, "--json")
    assert done.returncode == 1 and "no permissions" in done.stderr, done.stdout + done.stderr
    counts = json.loads(done.stdout)
    there = sum(admin.exists(keys.permitted_plan(plan)) for plan in plans)
    assert there == 8 and counts["written"] == there and counts["already_present"] == 0, counts


def test_a_scan_count_beyond_what_redis_takes_is_bad_input_exit_2_not_a_redis_failure(clean):
    """--count is SCAN's COUNT, a signed 64-bit number to Redis: a larger one was sent, refused by Redis ("value is not
    an integer or out of range") and reported as Redis failing, exit 1; it is bad input, exit 2, nothing sent."""
    done = backfill(clean.topology, "--count", str(2 ** 63))
    assert done.returncode == 2 and "argument --count" in done.stderr and "Redis at" not in done.stderr, done.stdout + done.stderr
    assert counts_of(backfill(clean.topology, "--count", str(2 ** 63 - 1), "--json"))["complete"]


def test_a_scan_whose_redis_restarted_between_two_steps_stops_rather_than_saying_done_with_decisions_missed(
        redis_server):
    """SCAN's cursor holds only on the server process that gave it (its hash seed is drawn at its start). A Redis
    restarted between two steps (or a failover to another server) was reached again by the client's own reconnection
    (the issuer's RespClient, redis-py's pool), the next step sent the old cursor there, and the run ended `done` with
    3,337 of 20,000 permitted decisions left without a marker (revbackfill). It stops, saying so, and a run again
    marks every one."""
    from launcher.backfill import Counts, ServerChanged
    from launcher.backfill import backfill as run_backfill
    from launcher.resp import RespClient
    r = redis_server.client()
    plans = [f"p{i}" for i in range(5000)]
    pipe = r.pipeline(transaction=False)
    for plan in plans:
        pipe.set(keys.plan_decision(plan), full_form_decision(plan, True, 1), ex=86400)
    pipe.execute()
    client = RespClient(port=redis_server.port, timeout_s=2.0)
    scans = 0

    def restarting_after_ten_steps(commands):
        nonlocal scans
        if commands[0][0] == "SCAN":
            scans += 1
            if scans == 11:
                redis_server.stop()
                redis_server.start()
        return client.pipeline(commands)

    counts = Counts()
    with pytest.raises(ServerChanged):
        run_backfill(restarting_after_ten_steps, counts, THIRTY_DAYS_S, 86400, 100)
    assert not counts.complete and counts.scanned >= 500, counts
    again = run_backfill(client.pipeline, Counts(), THIRTY_DAYS_S, 86400, 100)
    r = redis_server.client()
    assert again.complete and sum(r.exists(keys.permitted_plan(plan)) for plan in plans) == len(plans)
    client.close()


def test_the_issuers_start_up_backfill_waits_through_a_stall_of_redis_shorter_than_its_call_timeout(tmp_path,
                                                                                                      redis_server):
    """Nothing waits on the start-up backfill, so its calls wait longer than the decisions' (redis.timeout_ms, 250 ms):
    a Redis stalled for a moment mid-run (a fork for a save or an AOF rewrite, a slow disk, SIGSTOP here) failed the
    whole run, made again from the start only 60 s later (1,000,000 keys: failed at 83,603, revbackfill). It waits the
    stall through and ends."""
    import signal
    r = redis_server.client()
    plans = [f"s{i}" for i in range(40000)]
    pipe = r.pipeline(transaction=False)
    for n, plan in enumerate(plans):
        pipe.set(keys.plan_decision(plan), full_form_decision(plan, True, 1), ex=86400)
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    with running_p26(tmp_path / "p26", redis_server) as p26:
        wait_for(lambda: r.dbsize() > len(plans) + 2000, 30, "the start-up backfill under way")
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(1.5)
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        logged = wait_for(lambda: next((line for line in p26.issuer.log().splitlines()
                                        if "event=permitted_markers_backfill" in line), None), 40, "the backfill's end")
        assert "event=permitted_markers_backfilled " in logged, logged
        pipe = r.pipeline(transaction=False)
        for plan in plans:
            pipe.exists(keys.permitted_plan(plan))
        assert sum(pipe.execute()) == len(plans)


def test_with_wait_replicas_a_backfill_whose_markers_no_replica_acknowledged_is_not_done(tmp_path, redis_server):
    """The issuers wait for wait_replicas replicas after each decision (its marker included); the backfill's markers
    were written without: with the replica stalled it said `done`, exit 0, though not one marker had reached the
    replica, and a failover to it then lost them all, the decisions they mark kept (revbackfill). It now ends its
    markers' pipeline with WAIT as a decision does: fewer acknowledgements is exit 1 (the issuer's run is made again,
    on the new primary after a failover)."""
    import signal
    from launcher.harness import RedisServer
    replica = RedisServer(tmp_path / "replica").start()
    try:
        r, rr = redis_server.client(), replica.client()
        rr.execute_command("REPLICAOF", "127.0.0.1", redis_server.port)
        plans = [f"w{i}" for i in range(50)]
        for plan in plans:
            r.set(keys.plan_decision(plan), full_form_decision(plan, True, 1), ex=86400)
        wait_for(lambda: r.execute_command("WAIT", 1, 100) == 1, 20, "the replica in sync")
        data = retarget(demo_topology_data(), redis_server.url)
        data["actors"]["permit_issuer"]["settings"] = {**(data["actors"]["permit_issuer"].get("settings") or {}),
                                                       "wait_replicas": 1}
        topology = write_topology(tmp_path / "topology.yaml", data)
        os.kill(replica.proc.pid, signal.SIGSTOP)
        try:
            done = backfill(topology, "--json")
        finally:
            os.kill(replica.proc.pid, signal.SIGCONT)
        assert done.returncode == 1 and "0 of 1 replicas acknowledged" in done.stderr, done.stdout + done.stderr
        assert not json.loads(done.stdout)["complete"]
        again = counts_of(backfill(topology, "--json"))  # the replica back: the run ends, every marker acknowledged
        assert again["complete"] and again["already_present"] == len(plans), again
        wait_for(lambda: sum(rr.exists(keys.permitted_plan(plan)) for plan in plans) == len(plans), 10, "replicated")
    finally:
        replica.stop()
