"""The price feed as a process: redis_snapshots polling, bad prices never published, heartbeat, SIGTERM."""

from __future__ import annotations

import signal

from feed_helpers import TickListener, feed_topology, is_ready, metric, metrics_port, tick_endpoint
from helpers import DEADLINE_SCALE, SHUTDOWN_BOUND_S, ActorProcess, wait_for

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"]


def test_redis_snapshot_prices_that_are_nan_negative_zero_or_infinite_are_counted_and_never_published(tmp_path, redis_server):
    client = redis_server.client()
    marks = {"BTCUSDT": "nan", "ETHUSDT": "-5", "SOLUSDT": "0", "XRPUSDT": "inf", "ADAUSDT": "0.5"}
    for symbol, mark in marks.items():
        client.hset(f"quantum:position:snapshot:{symbol}", mapping={"position_amt": "1", "mark_price": mark, "ts_epoch": "1"})
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "redis_snapshots", "interval_s": 0.05},
                               symbols=SYMBOLS)
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        wait_for(lambda: listener.ticks(), 10, f"a tick from the good snapshot\n{feed.log()}")
        rejected = {s: (reason, metric(port, "price_feed_rejected_prices_total", symbol=s, reason=reason))
                    for s, reason in [("BTCUSDT", "nan"), ("ETHUSDT", "negative"), ("SOLUSDT", "zero"), ("XRPUSDT", "infinite")]}
        assert all(count >= 1 for _, count in rejected.values()), rejected
        before = metric(port, "price_feed_rejected_prices_total")
        wait_for(lambda: metric(port, "price_feed_rejected_prices_total") > before, 5, "the counter to keep rising")
        assert {t["symbol"] for t in listener.ticks()} == {"ADAUSDT"}
        assert {t["price"] for t in listener.ticks()} == {0.5}
        assert metric(port, "price_feed_ticks_total", symbol="ADAUSDT") >= 1
        assert metric(port, "price_feed_ticks_total", symbol="BTCUSDT") == 0
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_the_feed_counts_redis_errors_and_resumes_when_redis_returns(tmp_path, redis_server):
    redis_server.client().hset("quantum:position:snapshot:BTCUSDT", mapping={"mark_price": "64000"})
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "redis_snapshots", "interval_s": 0.05})
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        wait_for(lambda: metric(port, "price_feed_ticks_total", symbol="BTCUSDT") >= 1, 10, f"a first tick\n{feed.log()}")
        redis_server.stop()
        wait_for(lambda: metric(port, "price_feed_redis_errors_total") >= 2, 5, "redis errors to be counted")
        redis_server.start()
        published = metric(port, "price_feed_ticks_total", symbol="BTCUSDT")
        wait_for(lambda: metric(port, "price_feed_ticks_total", symbol="BTCUSDT") > published, 10,
                 f"ticks again after Redis came back\n{feed.log()}")
        assert "event=redis_recovered" in feed.log()
    finally:
        assert feed.terminate() == 0


def test_an_idle_feed_sends_heartbeats_and_is_ready_after_the_first_one(tmp_path, redis_server):
    path, data = feed_topology(tmp_path, redis_server.url,
                               {"source": "redis_snapshots", "interval_s": 0.05, "heartbeat_s": 0.2})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: any(topic == b"heartbeat" for topic, _ in listener.drain()), 10, f"a heartbeat\n{feed.log()}")
        wait_for(lambda: is_ready(metrics_port(data), "price_feed"), 5, "readiness")
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_the_synthetic_feed_publishes_every_symbol_and_exits_0_within_the_shutdown_bound_of_sigterm(tmp_path):
    path, data = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {
        "source": "synthetic", "interval_s": 0.05,
        "synthetic": {"seed": 3, "start_prices": {"BTCUSDT": 64000}}})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: {t["symbol"] for t in listener.ticks()} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}, 10,
                 f"ticks of every symbol\n{feed.log()}")
        wait_for(lambda: is_ready(metrics_port(data), "price_feed"), 5, "readiness")
        feed.proc.send_signal(signal.SIGTERM)
        assert feed.proc.wait(timeout=SHUTDOWN_BOUND_S) == 0  # a bound on shutdown, not a measurement of speed
    finally:
        listener.close()
        feed.terminate()


def test_a_correlation_matrix_that_is_not_positive_definite_stops_the_feed_with_the_reason(tmp_path):
    path, _ = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {"source": "synthetic", "synthetic": {"correlation": {
        "BTCUSDT/ETHUSDT": 0.9, "BTCUSDT/SOLUSDT": 0.9, "ETHUSDT/SOLUSDT": -0.9}}})
    feed = ActorProcess(path, "price_feed").start()
    assert feed.proc.wait(timeout=10 * DEADLINE_SCALE) != 0
    assert "actors.price_feed.settings.synthetic.correlation" in feed.log()
    assert "not positive definite" in feed.log()
    feed.terminate()


def test_a_missing_replay_file_stops_the_feed_with_the_reason(tmp_path):
    path, _ = feed_topology(tmp_path, "redis://127.0.0.1:1/0",
                            {"source": "replay", "replay": {"path": "no-such-prices.csv"}})
    feed = ActorProcess(path, "price_feed").start()
    assert feed.proc.wait(timeout=10 * DEADLINE_SCALE) != 0
    assert "event=bad_source" in feed.log() and "no-such-prices.csv" in feed.log()
    feed.terminate()
