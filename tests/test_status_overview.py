"""What `clustergate status` prints about the cluster state, from the values it collected."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from helpers import demo_topology_data, retarget, write_topology
from launcher import keys
from launcher.overview import render_overview
from launcher.topology import load_topology


def overview(redis: str) -> dict:
    return {"points_needed": 11, "points_per_symbol": {"BTCUSDT": 3}, "corr_ready": 0, "redis": redis,
            "cluster_state_age_s": None}


def test_status_says_whether_no_cluster_state_means_redis_has_none_or_redis_is_down(tmp_path) -> None:
    # rev-operator: with no cluster state, status printed "cluster state: none in Redis (ok)", an "ok" an operator
    # read as the state being fine, and "none in Redis (unavailable (ConnectionError))" when Redis was down.
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    answered = render_overview(topo, overview("ok"))
    assert "cluster state: none in Redis (Redis answers; the gate takes K from the proxy)" in answered, answered
    down = render_overview(topo, overview("unavailable (ConnectionError)"))
    assert "cluster state: unknown, Redis unavailable (ConnectionError)" in down, down


def test_status_names_a_cluster_state_key_of_another_type_instead_of_calling_redis_unavailable(tmp_path, redis_server):
    """A string where the cluster state hash belongs: status said "cluster state: unknown, Redis unavailable
    (ResponseError)" while Redis answered, naming neither the key nor the fix."""
    from launcher.overview import read_cluster_state
    from launcher.resp import RespClient
    r = redis_server.client()
    resp = RespClient(port=redis_server.port)
    r.set(keys.CLUSTER_STATE, "by hand")
    state, clusters, problem = read_cluster_state(resp)
    assert (state, clusters, problem) == ({}, {}, f"{keys.CLUSTER_STATE} holds a string, not a hash")
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    shown = render_overview(topo, {**overview("ok"), "cluster_state_problem": problem})
    assert f"cluster state: UNREADABLE, {keys.CLUSTER_STATE} holds a string, not a hash" in shown, shown
    assert "DEL the key" in shown, shown
    r.delete(keys.CLUSTER_STATE)
    r.set(keys.CLUSTER_STATE_STREAM, "by hand")
    assert read_cluster_state(resp)[2] == f"{keys.CLUSTER_STATE_STREAM} holds a string, not a stream"
    r.delete(keys.CLUSTER_STATE_STREAM)
    r.hset(keys.CLUSTER_STATE, "updated_ts", "1")
    assert read_cluster_state(resp) == ({"updated_ts": "1"}, {}, None)


def test_status_names_cluster_state_fields_that_are_no_number_instead_of_a_traceback(tmp_path) -> None:
    # A hand-edited updated_ts ("soon") ended `clustergate status` in a ValueError traceback (float() unguarded).
    from launcher.overview import cluster_state_summary
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    bad = cluster_state_summary({"updated_ts": "soon", "cluster_stress": "nan", "clusters_count": "2"}, {}, 1000.0)
    shown = render_overview(topo, {**overview("ok"), **bad})
    assert (f"cluster state: UNREADABLE, {keys.CLUSTER_STATE} fields that are no number: "
            f"{{'updated_ts': 'soon', 'cluster_stress': 'nan'}}") in shown, shown
    good = cluster_state_summary({"updated_ts": "998.5", "cluster_stress": "0.25", "clusters_count": "2"}, {"c": "[]"}, 1000.0)
    assert good == {"cluster_state_age_s": 1.5, "cluster_stress": 0.25, "clusters_count": 2, "clusters": {"c": "[]"}}


def test_the_readiness_proof_names_a_cluster_state_key_of_another_type(redis_server):
    """'FAIL cluster_state is fresh: error: ResponseError: WRONGTYPE Operation against a key holding the wrong kind of
    value': neither the key nor the fix."""
    from types import SimpleNamespace
    from proofs.common import KeyOfAnotherType, Proof
    r = redis_server.client()
    r.rpush(keys.CLUSTER_STATE, "by hand")
    with pytest.raises(KeyOfAnotherType, match=f"{keys.CLUSTER_STATE} holds a list, not a hash .*: delete it"):
        Proof.cluster_state_age_s(SimpleNamespace(redis=r))


def test_status_judges_the_cluster_states_age_by_the_strictest_gates_window(tmp_path) -> None:
    # rev-operator: with two gates, status judged by the last gate's freshness_s in the file: a state 2.5 s old
    # was "fresh; window 3 s" while gate (window 1.5 s) was refusing it and deciding on the proxy.
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["settings"] = {"freshness_s": 1.5}
    gate_b = {**data["actors"]["gate"], "kind": "gate", "settings": {"freshness_s": 3.0}, "metrics_port": 1,
              "sockets": {**data["actors"]["gate"]["sockets"], "proposals": {"bind": "tcp://127.0.0.1:2"}}}
    data["actors"]["gate_b"] = gate_b
    topo = load_topology(write_topology(tmp_path / "t.yaml", data))
    state = {**overview("ok"), "cluster_state_age_s": 2.5, "cluster_stress": 0.4, "clusters_count": 1}
    shown = render_overview(topo, state)
    assert "updated 2.5 s ago (STALE; window 1.5 s)" in shown, shown
    assert "(fresh" in render_overview(topo, {**state, "cluster_state_age_s": 1.0})


def test_unexpected_exits_are_counted_from_supervisords_log_within_the_window_and_asked_stops_are_not(tmp_path) -> None:
    import time

    from launcher.exits import unexpected_exits

    def at(seconds_ago: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now - seconds_ago)) + ",123"

    now = time.time()
    log = tmp_path / "supervisord.log"
    log.write_text("\n".join([
        f"{at(900)} WARN exited: gate (exit status 1; not expected)",  # before the window
        f"{at(300)} WARN exited: gate (exit status 1; not expected)",
        f"{at(200)} INFO stopped: gate (exit status 0)",  # asked for: not counted
        f"{at(100)} WARN exited: gate (terminated by SIGKILL; not expected)",
        f"{at(50)} INFO exited: buffer (exit status 0; expected)",
        f"{at(40)} WARN exited: state_writer-b (exit status 3; not expected)",
        "garbage \xff line",
    ]) + "\n")
    found = unexpected_exits(log, now=now, window_s=600)
    assert set(found) == {"gate", "state_writer-b"}
    assert found["gate"].count == 2 and found["gate"].last_how == "terminated by SIGKILL"
    assert abs(found["gate"].last_at - (now - 100)) < 1.5
    assert found["state_writer-b"].count == 1 and found["state_writer-b"].last_how == "exit status 3"
    assert unexpected_exits(tmp_path / "missing.log") == {}


def test_unexpected_exits_logged_before_supervisord_rotated_its_log_still_count(tmp_path) -> None:
    # attack15b: supervisord rotates its log at 10 MB; the window's exits written before that are in
    # supervisord.log.1, and status said "once" for a loop that had crashed hundreds of times.
    import time

    from launcher.exits import unexpected_exits

    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now - 60)) + ",5"
    log = tmp_path / "supervisord.log"
    (tmp_path / "supervisord.log.1").write_text(f"{stamp} WARN exited: gate (exit status 1; not expected)\n" * 3
                                                + f"{stamp} WARN exited: gate (exit sta")  # cut by the rotation
    log.write_text(f"{stamp} WARN exited: gate (exit status 1; not expected)\n")
    assert unexpected_exits(log, now=now)["gate"].count == 4


def test_unexpected_exits_read_in_two_threads_each_read_their_lines_in_supervisords_zone(tmp_path, monkeypatch) -> None:
    # review16: `status FILE --all-hosts` reads each host's log in its own thread, and a read sets the process's TZ
    # to its supervisord's for its time.mktime. A read that began while another had set TZ took that zone for the
    # caller's, and read its lines in the zone the other one put back when it ended (`TZ=Asia/Tokyo status`,
    # supervisords in UTC: 6 of 20 runs named 2 of a host's 4 exits, or none). Here thread B starts reading while
    # thread A is at its first line, and reads its first line once A is done.
    import subprocess
    import threading
    import time

    from helpers import wait_for
    from launcher import exits

    monkeypatch.setenv("TZ", "JST-9")  # the caller's zone; supervisord's is UTC0 (POSIX TZ strings: no tzdata)
    time.tzset()
    monkeypatch.setattr(exits, "_ZONE_LOCK", watched := _WatchedLock())
    supervisord = subprocess.Popen(["sleep", "60"], env={"TZ": "UTC0", "PATH": "/usr/bin:/bin"})
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 60)) + ",123"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    for log in logs:
        log.write_text(f"{stamp} WARN exited: gate (terminated by SIGKILL; not expected)\n")
    mktime, a_done, b_reading, found = time.mktime, threading.Event(), threading.Event(), {}

    def read(log):
        found[log.name] = exits.unexpected_exits(log, supervisord_pid=supervisord.pid)

    b = threading.Thread(target=read, args=(logs[1],))
    watched.waiter = b

    def mktime_in_step(t):
        if threading.current_thread() is b:
            b_reading.set()
            a_done.wait(10)
        elif not b.is_alive() and not a_done.is_set():
            b.start()
            wait_for(lambda: b_reading.is_set() or watched.waited.is_set(), what="thread B reading or waiting")
        return mktime(t)

    monkeypatch.setattr(time, "mktime", mktime_in_step)
    try:
        read(logs[0])
        a_done.set()
        b.join(10)
    finally:
        a_done.set()
        supervisord.kill()
        supervisord.wait()
        monkeypatch.undo()
        time.tzset()
    assert {name: list(f) for name, f in found.items()} == {"a.log": ["gate"], "b.log": ["gate"]}


class _WatchedLock:
    """A lock that says when thread `waiter` asks for it."""

    def __init__(self):
        import threading
        self.lock, self.waited, self.waiter = threading.Lock(), threading.Event(), None

    def __enter__(self):
        import threading
        if threading.current_thread() is self.waiter:
            self.waited.set()
        self.lock.acquire()

    def __exit__(self, *exc):
        self.lock.release()


def test_status_calls_the_cluster_state_and_the_newest_price_stale_exactly_when_the_gate_and_correlator_do(
        tmp_path, redis_server, monkeypatch) -> None:
    """edges: status judged the cluster state by the whole-second updated_ts, its age rounded to 0.1 s (the gate: to
    the ms by updated_ts_ms, unrounded), and the newest price's age rounded before `> max_price_age_s`: a state
    119.8 s old by updated_ts_ms was STALE, one 120.04 s old and one 0.04 s in the future were fresh, and a price
    300.04 s old was fresh, each while the gate (correlator) said the opposite; and an age shown as 120.0 or 300.0
    beside STALE reads as inside the window."""
    from launcher import overview as ov
    from actors.policy import state_is_fresh
    from actors.state_writer import state_stamps
    data = retarget(demo_topology_data(), redis_server.url)
    data["clusters"]["cadence_s"] = 60  # SPEC's: freshness 120 s, max_price_age_s 300 s
    for spec in data["actors"].values():
        spec.get("settings", {}).pop("freshness_s", None)
    topo = load_topology(write_topology(tmp_path / "t.yaml", data))
    r = redis_server.client()
    made = 1_700_000_000.7
    updated_ts, updated_ts_ms = state_stamps(made)
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": updated_ts, "updated_ts_ms": updated_ts_ms,
                                        "cluster_stress": 0.5, "clusters_count": 1})
    accepted = 1_700_000_000.0
    sample = {f'p27_buffer_last_accepted_tick_timestamp_seconds{{symbol="{s}"}}': accepted for s in topo.symbols}
    monkeypatch.setattr(ov, "scrape_actor", lambda topo, name: sample if topo.actors[name].kind == "buffer" else None)
    for now in (made + 119.8, updated_ts + 120.04, made + 120.04, updated_ts - 0.04, made + 0.3):
        monkeypatch.setattr(ov, "time", SimpleNamespace(time=lambda: now))
        shown = render_overview(topo, ov.collect_overview(topo))
        fresh = state_is_fresh(str(updated_ts), str(updated_ts_ms), now, 120.0)
        line = next(x for x in shown.splitlines() if x.startswith("cluster state:"))
        age = float(line.split("updated ")[1].split(" s ago")[0])
        assert ("(fresh;" in line) == fresh and (0 <= age <= 120) == fresh, (now - made, line)
    for age_s, stale in ((300.04, True), (300.0, False), (299.96, False)):
        monkeypatch.setattr(ov, "time", SimpleNamespace(time=lambda: accepted + age_s))
        shown = render_overview(topo, ov.collect_overview(topo))
        line = next(x for x in shown.splitlines() if x.startswith("newest price"))
        age = float(line.split(": ")[1].split(" s ago")[0])
        assert ("(STALE;" in line) == stale and (age > 300) == stale, (age_s, line)


def test_status_shows_the_newest_price_over_all_symbols_and_a_symbol_at_the_points_needed_as_ready(
        tmp_path, monkeypatch) -> None:
    """The newest accepted tick is the newest over the symbols (one symbol that stopped does not make the whole feed
    look stopped; P27SymbolPricesStopped names it), a symbol that never ticked (0) is left out; a symbol with exactly
    the points it needs (min_returns + 1) is ready, not warming."""
    from launcher import overview as ov
    topo = load_topology(write_topology(tmp_path / "t.yaml", demo_topology_data()))
    now = 1_700_000_000.0
    ticks = dict(zip(topo.symbols, (now - 2.0, now - 900.0, 0.0)))
    sample = {f'p27_buffer_last_accepted_tick_timestamp_seconds{{symbol="{s}"}}': t for s, t in ticks.items()}
    sample.update({f'p27_points_per_symbol{{symbol="{s}"}}': 11.0 for s in topo.symbols})
    monkeypatch.setattr(ov, "scrape_actor", lambda topo, name: sample if topo.actors[name].kind == "buffer" else None)
    monkeypatch.setattr(ov, "redis_client", lambda config: (_ for _ in ()).throw(ConnectionError("no Redis here")))
    monkeypatch.setattr(ov, "time", SimpleNamespace(time=lambda: now))
    collected = ov.collect_overview(topo)
    assert collected["newest_tick_age_s"] == 2.0 and collected["points_needed"] == 11
    shown = render_overview(topo, collected)
    for symbol in topo.symbols:
        line = next(x for x in shown.splitlines() if x.strip().startswith(symbol))
        assert line.endswith("11/11  ready"), line


def test_status_names_a_half_written_cluster_state_instead_of_showing_its_missing_fields_as_0(tmp_path, redis_server):
    """A cluster state hash with cluster_stress and clusters_count deleted by hand (updated_ts kept fresh): status read
    each missing field as 0 and printed "ClusterStress 0.000, 0 clusters, updated 0.5 s ago (fresh ...)" beside
    two listed clusters, while the gate found no cluster stress and took K from the proxy."""
    from launcher.overview import cluster_state_summary, read_cluster_state
    from launcher.resp import RespClient
    r = redis_server.client()
    resp = RespClient(port=redis_server.port)
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": 999, "cluster_stress": 0.7, "clusters_count": 1})
    r.hset(keys.CLUSTERS, "c1", '["BTCUSDT", "ETHUSDT"]')
    r.hdel(keys.CLUSTER_STATE, "cluster_stress", "clusters_count")
    state, clusters, problem = read_cluster_state(resp)
    assert problem is None
    half = cluster_state_summary(state, clusters, 1000.0)
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    shown = render_overview(topo, {**overview("ok"), **half})
    assert (f"cluster state: UNREADABLE, {keys.CLUSTER_STATE} fields missing: ['cluster_stress', 'clusters_count']"
            in shown), shown
    assert "ClusterStress 0.000" not in shown, shown


def test_status_does_not_say_the_gate_takes_k_from_the_proxy_when_only_clusters_count_is_unreadable(tmp_path) -> None:
    """clusters_count deleted by hand on a running demo (rev-fallback): status printed "UNREADABLE ... fields missing:
    ['clusters_count'] ...: the gate takes K from the proxy" above "gate K from: cluster": the gate reads updated_ts
    and cluster_stress alone, and took K from that fresh state. Only those two fields send it to the proxy."""
    from launcher.overview import cluster_state_summary
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    for state in ({"updated_ts": "999", "cluster_stress": "0.7"},
                  {"updated_ts": "999", "cluster_stress": "0.7", "clusters_count": "two"}):
        shown = render_overview(topo, {**overview("ok"), **cluster_state_summary(state, {}, 1000.0)})
        line = next(x for x in shown.splitlines() if x.startswith("cluster state:"))
        assert "UNREADABLE" in line and "clusters_count" in line, line
        assert "takes K from the proxy" not in line, line
        assert "the gate still takes K from it" in line, line
    for state in ({"updated_ts": "999", "clusters_count": "1"}, {"updated_ts": "999", "cluster_stress": "x", "clusters_count": "1"}):
        shown = render_overview(topo, {**overview("ok"), **cluster_state_summary(state, {}, 1000.0)})
        line = next(x for x in shown.splitlines() if x.startswith("cluster state:"))
        assert "the gate takes K from the proxy" in line, line


def test_status_shows_each_gate_and_reads_the_cluster_side_from_a_standby_when_the_first_does_not_answer(
        tmp_path, redis_server) -> None:
    """A topology with a gate and a buffer on each of two hosts (configs/ha.yaml): `clustergate status` read the first
    gate's metrics and the first buffer's alone, so with the first host down it printed `gate K from: ?` and a
    warm-up of `?` while gate_b decided and buffer_b counted points. Real processes: gate_b + permit_issuer_b and
    buffer_b run, gate and buffer do not."""
    from ha_helpers import with_second_gate_pair, with_standby_chain
    from helpers import ActorProcess, scrape, wait_for
    from launcher.overview import collect_overview
    data = with_standby_chain(with_second_gate_pair(retarget(demo_topology_data(), redis_server.url)))
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    procs = [ActorProcess(path, name, kind=kind, log_dir=tmp_path) for name, kind in
             (("permit_issuer_b", "permit_issuer"), ("gate_b", "gate"), ("buffer_b", "buffer"))]
    try:
        for proc in procs:
            proc.start()
        for name in ("gate_b", "buffer_b"):
            port = data["actors"][name]["metrics_port"]
            wait_for(lambda port=port: any(k.startswith("p26_cluster_stress_used") or k.startswith("p27_points_per_symbol")
                                           for k in scrape(port)), 20, f"{name}'s metrics")
        ov = collect_overview(topo)
    finally:
        for proc in procs:
            proc.terminate()
    gates = {g["name"]: g for g in ov["gates"]}
    assert gates["gate"]["answered"] is False and gates["gate_b"]["answered"] is True, ov["gates"]
    assert gates["gate_b"]["k_source"] == "proxy" and gates["gate_b"]["cluster_fallbacks"] is not None, gates
    assert ov["k_source"] == "proxy", ov  # the flat fields (status --json) are the first answering gate's
    assert ov["read_from"]["buffer"] == "buffer_b" and ov["silent"]["buffer"] == ["buffer"], ov
    assert ov["points_per_symbol"] == {s: 0 for s in topo.symbols}, ov["points_per_symbol"]  # buffer_b's, not ?
    shown = render_overview(topo, ov)
    gate_port = data["actors"]["gate"]["metrics_port"]
    assert "gate K from, each gate:" in shown, shown
    assert f"  gate    ?   its metrics at 127.0.0.1:{gate_port} did not answer" in shown, shown
    assert "  gate_b  proxy   fallbacks so far: 0" in shown, shown
    assert "buffer figures above are buffer_b's: the metrics of buffer did not answer" in shown, shown
    assert "correlator figures above are unknown (?): the metrics of correlator, correlator_b did not answer" in shown


def test_status_with_one_gate_says_its_metrics_did_not_answer_instead_of_a_bare_question_mark(tmp_path) -> None:
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data())))
    silent = {**overview("ok"), "gates": [{"name": "gate", "answered": False, "metrics": "127.0.0.1:9"}]}
    assert "gate K from: ?   its metrics at 127.0.0.1:9 did not answer" in render_overview(topo, silent)
    answered = {**overview("ok"), "gates": [{"name": "gate", "answered": True, "k_source": "cluster",
                                             "cluster_fallbacks": 3.0, "gate_stress": 0.1}]}
    shown = render_overview(topo, answered)
    assert "gate K from: cluster   fallbacks so far: 3" in shown and "each gate" not in shown, shown


def test_status_does_not_say_no_price_yet_or_warming_when_the_buffers_metrics_did_not_answer(tmp_path, redis_server):
    # revstatus: the buffer hung (SIGSTOP) or down, status printed "newest price accepted by the buffer: none yet" and
    # every symbol "warming", as if the system had just started, though it knew nothing of either.
    from launcher.overview import collect_overview
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data(), redis_server.url)))
    ov = collect_overview(topo)  # no actor runs: no metrics answer
    shown = render_overview(topo, ov)
    assert "newest price accepted by the buffer: ? (the metrics of buffer did not answer)" in shown, shown
    assert "none yet" not in shown and "warming" not in shown, shown
    assert "  BTCUSDT     [????????????????????]    ?/11  ?" in shown, shown
    started = render_overview(topo, {**ov, "buffer_answered": True, "points_per_symbol": {"BTCUSDT": 3}})
    assert "newest price accepted by the buffer: none yet" in started and "3/11  warming" in started, started


def test_status_json_stays_json_and_shows_no_shrinkage_intensity_while_the_correlator_has_no_matrix(tmp_path) -> None:
    """alrev: the correlator exports p27_shrinkage_intensity NaN while it has no matrix (its 0 fired P27ShrinkageJump on
    every cold start with ledoit_wolf); `status --json` gives null for it, not NaN, which is not JSON, and status `?`."""
    import json

    from helpers import wait_for
    from reliability import LiveSystem, clustergate

    def strict(text: str) -> dict:
        def refuse(constant: str) -> None:
            raise ValueError(f"{constant} is not JSON")
        return json.loads(text, parse_constant=refuse)

    system = LiveSystem(tmp_path)
    system.data["clusters"]["min_returns"] = 300  # no matrix within the test: 301 points at a 1 s cadence
    write_topology(system.topology, system.data)
    try:
        system.up()
        said = wait_for(lambda: (s := clustergate("status", "--json", "--home", str(system.home))).stdout
                        and json.loads(s.stdout)["overview"].get("corr_ready") == 0 and s, 60,
                        "status reading the correlator's metrics")
        assert strict(said.stdout)["overview"]["shrinkage_intensity"] is None, said.stdout
        shown = clustergate("status", "--home", str(system.home)).stdout
        assert "shrinkage intensity: ?" in shown, shown
    finally:
        system.down()


def test_status_all_hosts_says_a_refused_password_is_one_and_the_server_was_reached(redis_server) -> None:
    """status --all-hosts asks each managed Redis with launcher.resp (redis-py's import cost each status 0.1 s of CPU):
    a wrong password or none, where Redis wants one, is still an authentication error naming the variable to set, the
    server reached, not a Redis that did not answer."""
    from types import SimpleNamespace

    from launcher.hosts_status import _ask_redis
    redis_server.client().config_set("requirepass", "right")
    for password in ("wrong", None):
        topo = SimpleNamespace(redis=SimpleNamespace(bind_address="127.0.0.1", port=redis_server.port,
                                                     password=password, password_env="CLUSTERGATE_REDIS_PASSWORD"))
        asked = _ask_redis(topo)
        assert asked["reached"] is True and asked["ready"] is False, asked
        assert asked["error"].startswith("authentication: ") and "$CLUSTERGATE_REDIS_PASSWORD" in asked["error"], asked
    topo.redis.password = "right"
    assert _ask_redis(topo)["ready"] is True


def test_status_says_redis_wants_a_password_it_was_not_given_and_names_the_variable_to_set(tmp_path, redis_server,
                                                                                           monkeypatch) -> None:
    """A Redis with requirepass and no password in $CLUSTERGATE_REDIS_PASSWORD: status read "Redis unavailable
    (ReplyError)" once it asked with launcher.resp (redis-py's had said AuthenticationError), naming neither NOAUTH nor
    what to set; a wrong password named WRONGPASS but not the variable. An ACL user refused a key says NOPERM."""
    from launcher import overview as ov
    monkeypatch.setattr(ov, "scrape_all", lambda topo, names, scraped_at=None: {n: None for n in names})
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "reader", "on", ">readerpw", "~other:*", "+@all")
    admin.config_set("requirepass", "right")
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    for password, said in ((None, "NOAUTH"), ("wrong", "WRONGPASS")):
        if password is None:
            monkeypatch.delenv("CLUSTERGATE_REDIS_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", password)
        topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(demo_topology_data(), url)))
        line = next(x for x in render_overview(topo, ov.collect_overview(topo)).splitlines() if "cluster state" in x)
        assert said in line and "$CLUSTERGATE_REDIS_PASSWORD" in line, line
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", "readerpw")
    topo = load_topology(write_topology(tmp_path / "t.yaml", retarget(
        demo_topology_data(), f"redis://reader@127.0.0.1:{redis_server.port}/0")))
    line = next(x for x in render_overview(topo, ov.collect_overview(topo)).splitlines() if "cluster state" in x)
    assert "NOPERM" in line and "$CLUSTERGATE_REDIS_PASSWORD" not in line, line
