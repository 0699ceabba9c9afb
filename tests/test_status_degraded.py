"""`clustergate status` exited 0 while every decision took K from the proxy (every program RUNNING and ready, the cluster
state stale: a held symbol with no fresh price stops it), though SPEC's operations count "cluster stress in use" as
health and P26ClusterStressNotUsed pages critical on it. It now exits 3, DEGRADED, once the cluster side is past its
warm-up (a cold start takes K from the proxy by design and stays 0), and 1 still outranks it (a stopped clusterer
is a stopped program)."""

from __future__ import annotations

import json
import time

from helpers import scrape, wait_for
from test_held_dust_without_prices import btc_eth_system, clustergate
from test_launcher import supervisorctl

WARMING = {"points_needed": 11, "points_per_symbol": {"BTCUSDT": 4, "ETHUSDT": 4, "SOLUSDT": 4}, "corr_ready": 0,
           "buffer_answered": True, "newest_tick_age_s": 0.3, "cluster_side_started_age_s": 600.0,
           "corr_ready_since_age_s": None,
           "gates": [{"name": "gate", "answered": True, "k_source": "proxy"}]}


class _Topo:
    """What proxy_fallback reads of a topology: a cluster side, its cadence and max_price_age_s."""
    max_price_age_s = 5.0

    def __init__(self, writers: tuple[str, ...] = ("state_writer",)):
        self.writers = writers
        self.clusters = type("Clusters", (), {"cadence_s": 1.0})()

    def actors_of_kind(self, kind: str) -> list[str]:
        return list(self.writers) if kind == "state_writer" else []


def test_a_gate_on_the_proxy_is_degraded_only_past_the_cluster_sides_warm_up():
    from launcher.overview import proxy_fallback
    topo = _Topo()
    assert proxy_fallback(topo, WARMING) is None  # the buffer still fills its window: a cold start
    warmed = {**WARMING, "points_per_symbol": {"BTCUSDT": 40, "ETHUSDT": 40, "SOLUSDT": 40}}
    assert proxy_fallback(topo, {**warmed, "corr_ready": 1, "corr_ready_since_age_s": 0.5}) is None  # state on its way
    assert proxy_fallback(topo, {**warmed, "cluster_side_started_age_s": 1.0}) is None  # an actor just (re)started
    said = proxy_fallback(topo, {**warmed, "corr_ready": 1, "corr_ready_since_age_s": 300.0})
    assert said is not None and "gate" in said and "proxy" in said, said
    assert proxy_fallback(topo, {**warmed, "corr_ready": 0}) is not None  # ready before, not now
    # prices stopped longer than the window: no points, and no fresh price either: not a warm-up
    assert proxy_fallback(topo, {**WARMING, "newest_tick_age_s": 900.0}) is not None
    assert proxy_fallback(topo, {**warmed, "gates": [{"name": "gate", "answered": True, "k_source": "cluster"}]}) is None
    assert proxy_fallback(_Topo(writers=()), {**warmed, "corr_ready": 0}) is None  # no cluster side: the proxy by design


def status(home) -> tuple[int, str, dict]:
    """Two `clustergate status` processes (about 0.6 s of CPU): polled every second, as the other waits here."""
    text = clustergate("status", "--home", str(home))
    said = json.loads(clustergate("status", "--json", "--home", str(home)).stdout)
    return text.returncode, text.stdout, said


def test_status_exits_3_while_every_program_is_ready_and_the_gate_takes_k_from_the_proxy_and_1_with_the_clusterer_stopped(
        tmp_path):
    """A real demo (supervisord, redis-server, a replay feed of BTC and ETH, the P2.7 chain, gate, issuer): a warm-up
    exits 0; a held SOLUSDT with no price and $6,000 of notional (10% of the book) stops the cluster state, every
    program stays ready, and status exits 3 naming the gate on the proxy (it exited 0 before); dropping it brings 0
    back; the clusterer stopped exits 1 (a stopped program), the proxy still named."""
    from actors import keys
    with btc_eth_system(tmp_path, {"BTCUSDT": 0.5, "ETHUSDT": 8.0}) as system:
        home, r, topo = system["home"], system["redis"], system["topo"]
        code, text, said = status(home)
        assert code == 0 and said.get("degraded") is None, text  # right after up: the warm-up
        wait_for(lambda: status(home)[2]["overview"]["k_source"] == "cluster", 90, "the gate on the cluster state",
                 interval_s=1.0)
        assert status(home)[0] == 0

        sol = keys.position_snapshot("SOLUSDT", topo.positions.key_pattern)
        clusterer_port = system["data"]["actors"]["clusterer"]["metrics_port"]

        def hold_sol() -> None:
            r.hset(sol, mapping={"position_amt": "-40", "mark_price": "150", "ts_epoch": str(int(time.time()))})

        hold_sol()
        wait_for(lambda: hold_sol() or scrape(clusterer_port).get('p27_held_price_stale{symbol="SOLUSDT"}') == 1, 30,
                 "the clusterer to see SOLUSDT held with no price")

        def degraded() -> bool:
            hold_sol()
            return status(home)[0] == 3

        wait_for(degraded, 60, "status to exit 3 with the gate on the proxy", interval_s=1.0)
        code, text, said = status(home)
        assert code == 3, text
        assert all(row["ready"] for row in said["programs"]), said["programs"]
        assert said["overview"]["k_source"] == "proxy" and "gate" in said["degraded"], said["degraded"]
        assert "DEGRADED: gate takes K from the proxy" in text, text
        # statusfix: the DEGRADED line points at the lines above it; --json's text, which has none, names the fields
        assert "; the cluster state line above and the P2.7 lines say why\n" in text, text
        assert "above" not in said["degraded"] and "cluster_state_age_s" in said["degraded"], said["degraded"]

        r.delete(sol)
        wait_for(lambda: status(home)[0] == 0, 60, "status 0 once SOLUSDT is no longer held", interval_s=1.0)

        assert supervisorctl(home, "stop", "clusterer").returncode == 0
        wait_for(lambda: status(home)[2]["overview"]["k_source"] == "proxy", 30, "the gate on the proxy", interval_s=1.0)
        code, text, said = status(home)
        assert code == 1 and "DEGRADED: gate takes K from the proxy" in text, text
        assert supervisorctl(home, "start", "clusterer").returncode == 0
        wait_for(lambda: status(home)[0] == 0, 60, "status 0 with the clusterer started again", interval_s=1.0)


def test_a_clock_stepped_back_is_no_warm_up():
    """Reproduced on a real demo (status run with its clock an hour behind the actors', as after the host's clock is
    stepped back an hour): the gate on the proxy, the state STALE, and status exited 0, every start time, the
    correlator's readiness and the newest tick being "in the future" (negative ages, all under the grace) for the
    hour and three cadences after the step. An age from the future is no warm-up, as a state from the future is stale."""
    from launcher.overview import proxy_fallback
    stepped = {**WARMING, "points_per_symbol": {"BTCUSDT": 40, "ETHUSDT": 40, "SOLUSDT": 0}, "corr_ready": 1,
               "corr_ready_since_age_s": -3548.0, "cluster_side_started_age_s": -3444.0, "newest_tick_age_s": -3598.0}
    assert proxy_fallback(_Topo(), stepped) is not None
    assert proxy_fallback(_Topo(), {**stepped, "corr_ready": 0}) is not None
    # a remote host's clock a little ahead of this one's: a start just made is still the warm-up
    assert proxy_fallback(_Topo(), {**stepped, "cluster_side_started_age_s": -0.2}) is None


def settled_demo(monkeypatch) -> tuple:
    """configs/demo.yaml with status's scrapes answered from `samples` (every actor ready and started 10 minutes ago,
    the buffer past its window with fresh prices, the correlator ready as long, the gate on the proxy) and no Redis;
    a test changes `samples` before it calls collect_overview."""
    import launcher.overview as overview
    from launcher.topology import load_topology
    topo = load_topology("configs/demo.yaml")
    now = time.time()
    samples = {name: {f'clustergate_actor_ready{{actor="{name}",kind="{spec.kind}"}}': 1.0,
                      f'clustergate_actor_started_timestamp_seconds{{actor="{name}",kind="{spec.kind}"}}': now - 600.0}
               for name, spec in topo.actors.items()}
    samples["buffer"].update({f'p27_points_per_symbol{{symbol="{s}"}}': 40.0 for s in topo.symbols})
    samples["buffer"].update({f'p27_buffer_last_accepted_tick_timestamp_seconds{{symbol="{s}"}}': now - 0.3
                              for s in topo.symbols})
    samples["correlator"].update({"p27_corr_ready": 1.0, "p27_corr_ready_since_timestamp_seconds": now - 600.0})
    samples["gate"]["p26_cluster_stress_used"] = 0.0
    monkeypatch.setattr(overview, "scrape_all", lambda topo, names, scraped_at=None: {n: samples.get(n) for n in names})

    def no_redis(*args, **kwargs):
        raise ConnectionError("not in this test")

    monkeypatch.setattr(overview, "redis_client", no_redis)
    return overview, topo, samples, now


def started(name: str, kind: str) -> str:
    return f'clustergate_actor_started_timestamp_seconds{{actor="{name}",kind="{kind}"}}'


def test_a_gate_restarted_alone_is_no_cluster_side_warm_up(monkeypatch):
    """Reproduced on a real demo (cadence 5 s): status exited 3 with the gate on the proxy (SOLUSDT held with no price),
    `supervisorctl restart gate` made it exit 0 for the next 3 cadences (3 minutes at production's 60 s), the gate
    reading K from the proxy from its first refresh (the state was as stale as before). A gate's start warms nothing
    on the cluster side."""
    overview, topo, samples, now = settled_demo(monkeypatch)
    samples["gate"][started("gate", "gate")] = now - 1.0
    ov = overview.collect_overview(topo)
    assert ov["gates"][0]["k_source"] == "proxy"
    assert overview.proxy_fallback(topo, ov) is not None, ov.get("cluster_side_started_age_s")
    samples["clusterer"][started("clusterer", "clusterer")] = now - 1.0  # a cluster-side actor just started: warm-up
    assert overview.proxy_fallback(topo, overview.collect_overview(topo)) is None


def test_a_gate_that_cannot_read_redis_is_no_gate_on_the_proxy(monkeypatch):
    """Reproduced on a real demo (its Redis stopped): status exited 1 (the gate not ready), as it must, but also said
    `DEGRADED: gate takes K from the proxy ... every decision falls back`, and --json `degraded` the same: a gate that
    cannot read Redis takes K from nowhere (p26_cluster_stress_used 0 by state_unreadable) and answers every proposal
    a fault HOLD, so the line sent the operator to the cluster side. Only a ready gate on the proxy is degraded."""
    overview, topo, samples, now = settled_demo(monkeypatch)
    samples["gate"]['clustergate_actor_ready{actor="gate",kind="gate"}'] = 0.0
    assert overview.proxy_fallback(topo, overview.collect_overview(topo)) is None
    samples["gate"]['clustergate_actor_ready{actor="gate",kind="gate"}'] = 1.0  # ready, on the proxy: degraded
    assert overview.proxy_fallback(topo, overview.collect_overview(topo)) is not None


def test_status_help_names_every_exit_code_and_when_all_hosts_and_exits_exit_3():
    """`clustergate status --help` said nothing of its exit codes (the one-line summary in `clustergate --help` named
    0, 1 and 3 and left out 2, and that --exits never exits 3): a script author reads the command's own help. It said
    --all-hosts never exits 3 when a replica down beside a promotable one made both exit 3 (session 40)."""
    text = " ".join(clustergate("status", "--help").stdout.split())
    description = text.split("[file] ", 1)[1].split("positional arguments")[0]
    for said in ("Exits 0 when", "1 for a fault", "which outranks 3", "2 for arguments", "3, DEGRADED",
                 "a replica is down while another can still be promoted", "--all-hosts exits 3 only for that replica",
                 "--exits never exits 3", "docs/operating.md"):
        assert said in description, (said, description)


def test_a_cluster_side_actor_in_a_crash_loop_is_no_warm_up(monkeypatch):
    """Reproduced on a real demo (cadence 5 s, the gate on the proxy and status at 3): the clusterer SIGKILLed every
    9 s, each life RUNNING and ready, kept status at 0 (`exited unexpectedly 11 times in the last 10 minutes` above
    it), each start read as the first state on its way. At production's 60 s cadence a crash every 3 minutes did the
    same for good. A start of a program that exited unexpectedly within status's window is no warm-up."""
    overview, topo, samples, now = settled_demo(monkeypatch)
    samples["clusterer"][started("clusterer", "clusterer")] = now - 1.0
    assert overview.proxy_fallback(topo, overview.collect_overview(topo)) is None  # one start: its warm-up
    crashing = overview.collect_overview(topo, crashed=frozenset({"clusterer"}))
    assert overview.proxy_fallback(topo, crashing) is not None


def test_a_buffer_with_fresh_prices_for_one_symbol_alone_is_no_warm_up():
    """Reproduced on a real demo: its feed replaying BTCUSDT alone (ETHUSDT's prices stopped), ETHUSDT's points fell
    below the matrix's need, the correlator went not ready and the gate took K from the proxy, and status exited 0 for
    good: the newest price was fresh (BTCUSDT's) and fewer than 2 symbols were past the points needed, read as the
    buffer filling its window. A window fills only for symbols whose prices are fresh: with fewer than 2, no wait makes
    the matrix ready."""
    from launcher.overview import proxy_fallback
    one_priced = {**WARMING, "points_per_symbol": {"BTCUSDT": 40, "ETHUSDT": 8, "SOLUSDT": 0},
                  "tick_ages_s": {"BTCUSDT": 0.3, "ETHUSDT": 300.0}}
    assert proxy_fallback(_Topo(), one_priced) is not None
    filling = {**one_priced, "tick_ages_s": {"BTCUSDT": 0.3, "ETHUSDT": 0.4}}  # ETHUSDT ticks again: it fills
    assert proxy_fallback(_Topo(), filling) is None


def exec_host_status(monkeypatch, tmp_path, samples_changed) -> tuple[int, dict]:
    """`status --host exec --json` of the multi-host test topology (the cluster side on the market host), its supervisord
    running gate, permit_issuer and book (RUNNING, ready), every actor's metrics answered as settled_demo's (each
    started 10 minutes ago, the correlator ready as long, the gate on the proxy) after samples_changed(samples, now)."""
    import argparse
    import contextlib
    import io
    import launcher.overview as overview
    import launcher.supervise as supervise
    from launcher.topology import load_topology
    from launcher.multihost_harness import side_by_side_data, write_topology
    topo = load_topology(write_topology(tmp_path, side_by_side_data(tmp_path)))
    now = time.time()
    samples = {name: {f'clustergate_actor_ready{{actor="{name}",kind="{spec.kind}"}}': 1.0,
                      started(name, spec.kind): now - 600.0} for name, spec in topo.actors.items()}
    samples["buffer"].update({f'p27_points_per_symbol{{symbol="{s}"}}': 40.0 for s in topo.symbols})
    samples["buffer"].update({f'p27_buffer_last_accepted_tick_timestamp_seconds{{symbol="{s}"}}': now - 0.3
                              for s in topo.symbols})
    samples["correlator"].update({"p27_corr_ready": 1.0, "p27_corr_ready_since_timestamp_seconds": now - 600.0})
    samples["gate"]["p26_cluster_stress_used"] = 0.0
    samples_changed(samples, now)
    monkeypatch.setattr(overview, "scrape_all", lambda topo, names, scraped_at=None: {n: samples.get(n) for n in names})
    monkeypatch.setattr(overview, "redis_client", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("no Redis here")))
    rows = [{"name": n, "state": "RUNNING", "pid": 100 + i, "ready": True, "kind": topo.actors[n].kind}
            for i, n in enumerate(("gate", "permit_issuer", "book"))]  # the exec host's part; no unexpected exits
    monkeypatch.setattr(supervise, "collect_status", lambda home: {
        "supervisord": "running", "topology": topo.name, "programs": rows, "leftovers": [], "topology_problems": []})
    monkeypatch.setattr(supervise, "running_copy_or_none", lambda home: (topo, []))
    args = argparse.Namespace(json=True, host="exec", home=None, exits=False, all_hosts=False, file=None)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = supervise.cmd_status(args)
    return code, json.loads(out.getvalue())


def test_status_on_the_exec_host_takes_no_start_on_the_market_host_for_a_warm_up(monkeypatch, tmp_path):
    """Reproduced on three side-by-side hosts (127.0.11.x, cadence 5 s, the gate on the proxy: a hand-made string at
    quantum:portfolio:clusters stopped the writes): `status --host exec` exited 3, and with the market host's clusterer
    SIGKILLed every 9 s it exited 0 most of the time (so did the correlator's crash loop, each life ready again within
    a cadence), while `status --host market` named the unexpected exits: the exec host cannot read the market
    supervisord's log, so it took each start there for the first state on its way. A start, or a correlator gone
    ready, on another host is no warm-up from here (the buffer filling its window still is)."""
    def clusterer_just_started(samples, now):
        samples["clusterer"][started("clusterer", "clusterer")] = now - 1.0

    code, said = exec_host_status(monkeypatch, tmp_path, clusterer_just_started)
    assert said["overview"]["k_source"] == "proxy"
    assert (code, said["degraded"] is not None) == (3, True), said["overview"]

    def correlator_just_ready(samples, now):
        samples["correlator"][started("correlator", "correlator")] = now - 2.0
        samples["correlator"]["p27_corr_ready_since_timestamp_seconds"] = now - 1.0

    code, said = exec_host_status(monkeypatch, tmp_path, correlator_just_ready)
    assert (code, said["degraded"] is not None) == (3, True), said["overview"]

    def filling(samples, now):  # the market host's buffer still fills its window: a warm-up, from any host
        samples["buffer"].update({f'p27_points_per_symbol{{symbol="{s}"}}': 3.0 for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")})
        samples["correlator"]["p27_corr_ready"] = 0.0

    assert exec_host_status(monkeypatch, tmp_path, filling)[0] == 0


def test_a_correlator_in_a_crash_loop_going_ready_anew_is_no_warm_up(monkeypatch):
    """The correlator SIGKILLed every 9 s (cadence 5 s, the gate on the proxy) went ready again within a cadence each
    life, from the buffer's kept history: its readiness a second old read as the first state on its way, and status
    stayed at 0 (reproduced from the exec host of three side-by-side hosts; on one host the crashed correlator's
    readiness was read the same way, its start alone being excluded)."""
    overview, topo, samples, now = settled_demo(monkeypatch)
    samples["correlator"][started("correlator", "correlator")] = now - 2.0
    samples["correlator"]["p27_corr_ready_since_timestamp_seconds"] = now - 1.0
    assert overview.proxy_fallback(topo, overview.collect_overview(topo)) is None  # one start: its warm-up
    crashing = overview.collect_overview(topo, crashed=frozenset({"correlator"}))
    assert overview.proxy_fallback(topo, crashing) is not None
