"""Cluster-side review (revclus): defects found attacking the cluster side and its fallback, each reproduced
first against real processes (redis-server, actors) or on the pure functions."""

from __future__ import annotations

import time

import pytest
import redis

from launcher import keys
from launcher.redis_conn import connect
from launcher.topology import RedisConfig


def test_a_redis_that_stops_answering_a_state_write_is_redis_unavailable_not_another_writer(redis_server):
    """redis-py turns a timeout (or a dropped connection) while the transaction WATCHes into a WatchError. The state
    writer took it for another writer's change: on a running demo under `CLIENT PAUSE 6000 WRITE`, every state was
    logged `state_not_written reason="another writer changed the clusters hash every attempt"` with no other writer,
    counted write_conflict (redis_unavailable stayed 0), the writer stayed ready, and each state cost WRITE_ATTEMPTS
    timeouts (5 x 250 ms). A Redis that does not answer is redis_unavailable, after one timeout."""
    from actors.state_writer import write_state
    from test_clusters_end_to_end import state_with

    writer = connect(RedisConfig(url=redis_server.url, timeout_ms=200))
    control = redis_server.client()
    write_state(writer, state_with([["BTCUSDT", "ETHUSDT"]], 1_800_000_000.0), set(), 1000)
    control.execute_command("CLIENT", "PAUSE", 5000, "WRITE")  # reads answer, the EXEC waits past the timeout
    try:
        started = time.monotonic()
        with pytest.raises(redis.RedisError) as raised:
            write_state(writer, state_with([["BTCUSDT", "SOLUSDT"]], 1_800_000_060.0), set(), 1000)
        took_s = time.monotonic() - started
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
    assert not isinstance(raised.value, redis.WatchError), raised.value
    assert isinstance(raised.value, (redis.ConnectionError, redis.TimeoutError)), raised.value
    assert took_s < 2 * 0.2 + 0.3, f"{took_s:.2f} s: more than one timeout"



def kill_other_connections(control: redis.Redis) -> int:
    """CLIENT KILL every connection but control's (the writer's): a real dropped connection, Redis still up."""
    killed = 0
    for client in control.client_list():
        if int(client["id"]) != control.client_id():
            killed += control.client_kill_filter(_id=client["id"])
    return killed


def test_a_state_write_whose_connection_drops_once_is_written_on_a_new_connection(redis_server):
    """revchecks: since revclus a connection dropped while the write WATCHes (CLIENT KILL of the writer's connection
    with Redis up, as a Sentinel failover kills a demoted primary's clients, or a network blip) raised
    ConnectionError after one attempt: the state was not written (redis_unavailable, the writer not ready) for a
    cadence, where the next attempt, on a new connection, writes it (measured on redis-py 8.2.0: attempts=1 and
    ConnectionError 'Connection closed by server' since revclus; attempts=2 and written before it). Redis down, that
    attempt's WATCH raises at once; a connection dropped at every attempt is still redis_unavailable, never
    write_conflict, another writer's race."""
    from actors.state_writer import WRITE_ATTEMPTS, write_state
    from test_clusters_end_to_end import state_with

    writer = connect(RedisConfig(url=redis_server.url, timeout_ms=250))
    control = redis_server.client()
    write_state(writer, state_with([["BTCUSDT"]], 1_800_000_000.0), set(), 1000)
    attempts: list[int] = []

    def drop_first() -> None:
        attempts.append(kill_other_connections(control) if not attempts else 0)

    write_state(writer, state_with([["BTCUSDT", "ETHUSDT"]], 1_800_000_060.0), set(), 1000, before_exec=drop_first)
    assert attempts[0] >= 1 and len(attempts) == 2, attempts
    assert control.hget(keys.CLUSTER_STATE, "updated_ts") == "1800000060"

    attempts.clear()
    with pytest.raises(redis.RedisError) as raised:
        write_state(writer, state_with([["SOLUSDT"]], 1_800_000_120.0), set(), 1000,
                    before_exec=lambda: attempts.append(kill_other_connections(control)))
    assert len(attempts) == WRITE_ATTEMPTS and all(attempts), attempts
    assert isinstance(raised.value, redis.ConnectionError), repr(raised.value)
    assert control.hget(keys.CLUSTER_STATE, "updated_ts") == "1800000060"


# --------------------------------------------------------------------------- hostile messages on the internal sockets


def chain_topology(tmp_path, redis_server, last: str):
    """(data, path) of the demo topology cut to the chain price_feed .. `last`, for `last` started alone with the
    test standing where its upstream binds."""
    from helpers import demo_topology_data, retarget, write_topology

    chain = ["price_feed", "buffer", "correlator", "clusterer", "state_writer"]
    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in chain[:chain.index(last) + 1]}
    return data, write_topology(tmp_path / "topology.yaml", data)


def matrix_frames_of(symbols, corr, **header):
    import json

    import numpy as np

    now = time.time()
    fields = {"v": 1, "ready": True, "reason": None, "symbols": symbols, "realized_vol": {}, "points_per_symbol": {},
              "returns_per_symbol": {}, "cadence_s": 1, "window_last_slot": 1, "ts": now, "shrinkage": 0.0,
              "newest_price_ts": now, "price_age_s": 0.0, "stale_symbols": [], **header}
    return [b"matrix", json.dumps(fields).encode(), np.asarray(corr, dtype="<f8").tobytes()]


@pytest.mark.parametrize("matrix", [
    {"symbols": ["BTCUSDT", "ETHUSDT"], "corr": [[1.0, 5.0], [5.0, 1.0]]},
    {"symbols": ["BTCUSDT", "ETHUSDT"], "corr": [[1.0, float("nan")], [float("nan"), 1.0]]},
    {"symbols": ["BTCUSDT", "BTCUSDT"], "corr": [[1.0, 1.0], [1.0, 1.0]]},
    {"symbols": ["BTCUSDT", "ETHUSDT"], "corr": [[1.0, 0.9], [0.9, 1.0]], "stale_symbols": "BTCUSDT"},
    {"symbols": ["BTCUSDT", "ETHUSDT"], "corr": [[1.0, 0.9], [0.9, 1.0]], "newest_price_ts": "now"},
    {"symbols": ["BTCUSDT", "ETHUSDT"], "corr": [[1.0, 0.9], [0.9, 1.0]], "realized_vol": [0.5]},
    {"symbols": ["BTCUSDT", "ETHUSDT"], "corr": [[1.0, 0.9], [0.9, 1.0]], "points_per_symbol": {"BTCUSDT": "x"}},
])
def test_a_matrix_the_correlator_never_sends_is_refused_bad_matrix_naming_what_is_wrong(matrix):
    """A real clusterer (revclus, fed by a test PUB at its correlator's endpoint, BTC and ETH held long) took a
    ready matrix with a correlation of 5.0 and wrote a ready state with ClusterStress 1.0 and a cluster correlation of
    5.0, took symbols [BTCUSDT, BTCUSDT] as a cluster of two BTC, read NaN as no edge, read stale_symbols "BTCUSDT"
    (text, not a list) letter by letter (a held symbol with a stale price went unnoticed), and a newest_price_ts,
    realized_vol or points_per_symbol of another shape was a handler error. Each is bad_matrix, naming it."""
    from actors.correlator import decode_matrix

    fields = {k: v for k, v in matrix.items() if k not in ("symbols", "corr")}
    with pytest.raises(ValueError):
        decode_matrix(matrix_frames_of(matrix["symbols"], matrix["corr"], **fields))


def test_the_correlators_own_matrices_still_decode():
    import numpy as np

    from actors.correlation import correlate_window
    from actors.correlator import decode_matrix, matrix_frames, not_ready

    rng = np.random.default_rng(3)
    prices = np.exp(np.cumsum(rng.normal(0, 0.01, (3, 40)), axis=1)) * 100
    prices[1, 5] = np.nan
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    for shrinkage in ("none", "ledoit_wolf"):
        result = correlate_window(symbols, prices, cadence_s=60, min_returns=10, shrinkage=shrinkage,
                                  newest_tick_ts={s: 1000.0 for s in symbols}, now_s=1000.0, max_price_age_s=300)
        header, corr = decode_matrix(matrix_frames(result, cadence_s=60, window_last_slot=7, now_s=1000.0))
        assert header["ready"] and corr.shape == (3, 3)
    header, corr = decode_matrix(matrix_frames(not_ready("window_stale", {"BTCUSDT": 3}), cadence_s=60,
                                               window_last_slot=None, now_s=1000.0))
    assert not header["ready"] and corr.shape == (0, 0)


def test_a_real_clusterer_refuses_a_matrix_with_a_correlation_past_one_and_publishes_no_state_from_it(
        tmp_path, redis_server):
    import json

    import zmq

    from feed_helpers import metric
    from helpers import ActorProcess, wait_for

    data, path = chain_topology(tmp_path, redis_server, "clusterer")
    port = data["actors"]["clusterer"]["metrics_port"]
    r = redis_server.client()
    for symbol, amount in (("BTCUSDT", 1.0), ("ETHUSDT", 10.0)):
        r.hset(f"quantum:position:snapshot:{symbol}",
               mapping={"position_amt": amount, "mark_price": 1000, "ts_epoch": int(time.time())})
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(data["actors"]["correlator"]["sockets"]["matrix"]["bind"])
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(data["actors"]["clusterer"]["sockets"]["state"]["bind"])
    clusterer = ActorProcess(path, "clusterer").start()
    try:
        clusterer.wait_serving(port)
        states = []

        def refused() -> bool:
            pub.send_multipart(matrix_frames_of(["BTCUSDT", "ETHUSDT"], [[1.0, 5.0], [5.0, 1.0]]))
            while sub.poll(0):
                states.append(json.loads(sub.recv_multipart()[1]))
            return metric(port, "p27_fail_closed_total", reason="bad_matrix") >= 3 or len(states) >= 3

        wait_for(refused, 20, f"the matrix handled\n{clusterer.log()[-2000:]}", interval_s=0.2)
        assert [s["cluster_stress"] for s in states if s["ready"]] == [], states[:1]
        assert metric(port, "clustergate_handler_errors_total") == 0, clusterer.log()[-3000:]
        assert "event=bad_matrix" in clusterer.log() and "5.0" in clusterer.log()
    finally:
        clusterer.terminate()
        pub.close(0)
        sub.close(0)
        ctx.term()


def ready_state(**fields):
    now = time.time()
    state = {"v": 1, "ready": True, "reason": None, "ts": now, "cluster_stress": 0.5, "newest_price_ts": now,
             "price_age_s": 0.1,
             "clusters": [{"id": "cabc", "symbols": ["BTCUSDT", "ETHUSDT"], "notional": 1.0, "weight": 1.0,
                           "concentration": 1.0, "correlation": 0.5, "stress": 0.5}],
             "realized_vol": {"BTCUSDT": 0.5},
             "gauges": {"corr_ready": 1, "symbols_in_matrix": 2, "clusters_count": 1, "cluster_stress_sum": 0.5,
                        "cluster_stress_max": 0.5, "min_points_per_symbol": 10, "points_per_symbol": {"BTCUSDT": 10}}}
    state.update(fields)
    return state


def state_frames(state):
    import json

    return [b"state", json.dumps(state).encode()]


@pytest.mark.parametrize("fields", [
    {"cluster_stress": 5}, {"cluster_stress": float("nan")}, {"cluster_stress": "0.5"}, {"cluster_stress": -0.1},
    {"clusters": {}}, {"clusters": ["c1"]}, {"clusters": [{"symbols": ["BTCUSDT"]}]},
    {"clusters": [{"id": 123, "symbols": ["BTCUSDT"], "notional": 1, "weight": 1, "concentration": 1,
                   "correlation": 0, "stress": 0}]},
    {"clusters": [{"id": "c1", "symbols": "BTCUSDT", "notional": 1, "weight": 1, "concentration": 1,
                   "correlation": 0, "stress": 0}]},
    {"clusters": [{"id": "c1", "symbols": ["BTCUSDT"], "notional": float("inf"), "weight": 1, "concentration": 1,
                   "correlation": 0, "stress": 0}]},
    {"realized_vol": [0.5]}, {"realized_vol": {"BTCUSDT": "high"}}, {"newest_price_ts": {"a": 1}},
    {"price_age_s": "x"}, {"gauges": []}, {"gauges": {"corr_ready": "yes"}}, {"gauges": {"points_per_symbol": [1]}},
])
def test_a_state_the_clusterer_never_sends_is_refused_bad_state_naming_what_is_wrong(fields):
    """A real state writer (revclus, fed by a test PUB at its clusterer's endpoint) wrote a ready state whose
    cluster_stress was 5 (the gate took K 1.0 from it, from the cluster), "abc" or NaN, and a state whose
    newest_price_ts was an object was a redis-py DataError counted redis_unavailable (the writer not ready); gauges,
    clusters, realized_vol or price_age_s of another shape were handler errors. Each is bad_state, naming it."""
    from actors.state_message import decode_state

    with pytest.raises(ValueError):
        decode_state(state_frames(ready_state(**fields)))


def test_a_state_the_clusterer_sends_still_decodes_ready_or_not():
    from actors.clusterer import state_message
    from actors.clustering import ClusterMetrics
    from actors.state_message import decode_state
    from actors.wire import encode

    header = {"ready": True, "symbols": ["BTCUSDT", "ETHUSDT"], "points_per_symbol": {"BTCUSDT": 30, "ETHUSDT": 29},
              "newest_price_ts": 1_800_000_000.0, "realized_vol": {"BTCUSDT": 0.4}}
    cluster = ClusterMetrics("cabc", ["BTCUSDT", "ETHUSDT"], 2.0, 1.0, 1.0, 0.8, 0.8)
    for ready, clusters in ((True, [cluster]), (False, [])):
        message = state_message(header, clusters, 0.8 if ready else 0.0, {"BTCUSDT"}, 1_800_000_001.0, ready=ready,
                                reason=None if ready else "too_few_symbols")
        assert decode_state([b"state", encode(message)])["ready"] is ready
    not_ready = state_message({}, [], 0.0, set(), 1_800_000_001.0, ready=False, reason="redis_unavailable")
    assert decode_state([b"state", encode(not_ready)])["ready"] is False


def test_a_real_state_writer_writes_no_state_whose_cluster_stress_is_past_one(tmp_path, redis_server):
    import zmq

    from feed_helpers import metric
    from helpers import ActorProcess, wait_for

    data, path = chain_topology(tmp_path, redis_server, "state_writer")
    port = data["actors"]["state_writer"]["metrics_port"]
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(data["actors"]["clusterer"]["sockets"]["state"]["bind"])
    writer = ActorProcess(path, "state_writer").start()
    try:
        writer.wait_serving(port)

        def handled() -> bool:
            pub.send_multipart(state_frames(ready_state(cluster_stress=5)))
            return metric(port, "p27_fail_closed_total", reason="bad_state") >= 3 \
                or metric(port, "p27_updates_total") >= 1

        wait_for(handled, 20, f"the state handled\n{writer.log()[-2000:]}", interval_s=0.2)
        assert redis_server.client().hgetall("quantum:portfolio:cluster_state") == {}
        assert metric(port, "p27_updates_total") == 0
        assert "event=bad_state" in writer.log() and "cluster_stress" in writer.log()
    finally:
        writer.terminate()
        pub.close(0)
        ctx.term()


@pytest.mark.parametrize("fields", [
    {"newest_tick_ts": [1.0]}, {"newest_tick_ts": {"BTCUSDT": "now", "ETHUSDT": None, "SOLUSDT": None}},
    {"newest_tick_ts": {"BTCUSDT": True, "ETHUSDT": None, "SOLUSDT": None}},
    {"symbols": ["BTCUSDT", "BTCUSDT", "ETHUSDT"]}, {"symbols": [1, 2, 3]},
])
def test_a_window_the_buffer_never_sends_is_refused_bad_window_naming_what_is_wrong(fields):
    """A real correlator (revclus, fed by a test PUB at its buffer's endpoint) raised a handler error on a window whose
    newest_tick_ts was a list or held text (no matrix, no bad_window), took true as a tick time, and correlated a
    window naming a symbol twice, or symbols that are not text, into a matrix. Each is bad_window, naming it."""
    import numpy as np

    from actors.window_message import decode_window, window_header

    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    prices = np.full((3, 20), 100.0)
    header = {**window_header(symbols, 1.0, 0, prices, 1_800_000_000.0, {s: 1_800_000_000.0 for s in symbols}),
              **fields}
    with pytest.raises(ValueError):
        decode_window(header, prices.astype("<f8").tobytes())
    assert decode_window(window_header(symbols, 1.0, 0, prices, 1_800_000_000.0, {"BTCUSDT": None}),
                         prices.astype("<f8").tobytes())[0] == symbols


def test_a_state_whose_clusters_name_a_symbol_twice_or_outnumber_the_topologys_symbols_is_refused():
    """20,000 clusters of BTCUSDT in one state message were all written in one MULTI/EXEC (revclus). A symbol outside
    the writer's topology still passes (a clusterer restarted first with a symbol added)."""
    from actors.state_message import decode_state

    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    one = {"symbols": ["BTCUSDT"], "notional": 1, "weight": 1, "concentration": 1, "correlation": 0, "stress": 0}
    with pytest.raises(ValueError, match="twice"):
        decode_state(state_frames(ready_state(clusters=[{**one, "id": f"c{i}"} for i in range(2)])), symbols)
    distinct = [{**one, "id": f"c{i}", "symbols": [f"S{i}USDT"]} for i in range(4)]
    with pytest.raises(ValueError, match="more than the topology's 3 symbols"):
        decode_state(state_frames(ready_state(clusters=distinct)), symbols)
    assert decode_state(state_frames(ready_state(clusters=distinct[:3])), symbols)["ready"]
    assert decode_state(state_frames(ready_state()), symbols)["ready"]
