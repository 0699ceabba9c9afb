"""The synthetic book keeps position snapshots fresh in a real Redis, marked to the feed's prices."""

from __future__ import annotations

import time

from actors.book import snapshot_fields
from feed_helpers import feed_topology, is_ready, metric, metrics_port
from helpers import ActorProcess, wait_for

POSITIONS = {"BTCUSDT": 0.5, "SOLUSDT": -40.0}


def test_snapshot_fields_follow_the_execution_layer_format():
    fields = snapshot_fields(-40.0, 150.5, 1700000000.9)
    assert fields == {"position_amt": "-40.0", "mark_price": "150.5", "ts_epoch": "1700000000", "notional_usd": "-6020.0"}


def test_the_book_writes_fresh_snapshots_of_every_position_and_rewrites_a_deleted_one(tmp_path, redis_server):
    path, data = feed_topology(tmp_path, redis_server.url,
                               {"source": "synthetic", "interval_s": 0.05, "synthetic": {"start_prices": {"BTCUSDT": 64000}}},
                               book={"positions": POSITIONS, "refresh_s": 0.1})
    feed = ActorProcess(path, "price_feed").start()
    before_start = time.time()
    book = ActorProcess(path, "book").start()
    client = redis_server.client()
    try:
        wait_for(lambda: is_ready(metrics_port(data, "book"), "book"), 15, f"the book to be ready\n{book.log()}")
        now = time.time()
        for symbol, amount in POSITIONS.items():
            snap = client.hgetall(f"quantum:position:snapshot:{symbol}")
            assert float(snap["position_amt"]) == amount
            assert float(snap["mark_price"]) > 0
            assert abs(now - int(snap["ts_epoch"])) <= 5
            assert float(snap["notional_usd"]) == amount * float(snap["mark_price"])
        # book_snapshot_timestamp_seconds: the time of a written snapshot (whole seconds in its ts_epoch), at or
        # after the process started; clustergate_actor_started_timestamp_seconds: the process's start.
        port = metrics_port(data, "book")
        written_at = metric(port, "book_snapshot_timestamp_seconds", symbol="BTCUSDT")
        assert before_start <= written_at <= time.time(), (before_start, written_at)
        started = metric(port, "clustergate_actor_started_timestamp_seconds", actor="book")
        assert before_start <= started <= written_at, (before_start, started, written_at)
        # clustergate_actor_loop_started_timestamp_seconds: its main loop's start, after its setup (the warm-restart
        # proof times readiness from it: loadflaky).
        loop_started = metric(port, "clustergate_actor_loop_started_timestamp_seconds", actor="book")
        assert started < loop_started <= time.time(), (started, loop_started)
        assert float(client.hget("quantum:position:snapshot:BTCUSDT", "mark_price")) > 10000  # marked to the feed
        assert not client.exists("quantum:position:snapshot:ETHUSDT")  # not held, never written
        client.delete("quantum:position:snapshot:SOLUSDT")
        wait_for(lambda: client.exists("quantum:position:snapshot:SOLUSDT"), 5, "the snapshot to be rewritten")
        assert metric(metrics_port(data, "book"), "book_bad_frames_total") == 0
        # A snapshot key of another type: its WRONGTYPE error was taken for a Redis outage, and no write counted.
        client.delete("quantum:position:snapshot:SOLUSDT")
        client.set("quantum:position:snapshot:SOLUSDT", "not a hash")
        written = metric(metrics_port(data, "book"), "book_snapshots_written_total", symbol="BTCUSDT")
        wait_for(lambda: metric(metrics_port(data, "book"), "book_snapshots_written_total", symbol="BTCUSDT") > written + 2,
                 5, f"BTCUSDT's snapshot written on\n{book.log()}")
        assert metric(metrics_port(data, "book"), "book_redis_errors_total") == 0, book.log()
        assert "snapshot_not_written" in book.log() and "SOLUSDT" in book.log(), book.log()
    finally:
        assert book.terminate() == 0
        assert feed.terminate() == 0


def test_the_book_counts_redis_errors_and_writes_again_when_redis_returns(tmp_path, redis_server):
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "synthetic", "interval_s": 0.05},
                               book={"positions": {"ETHUSDT": 2.0}, "refresh_s": 0.1})
    feed = ActorProcess(path, "price_feed").start()
    book = ActorProcess(path, "book").start()
    port = metrics_port(data, "book")
    try:
        wait_for(lambda: is_ready(port, "book"), 15, f"the book to be ready\n{book.log()}")
        redis_server.stop()
        wait_for(lambda: metric(port, "book_redis_errors_total") >= 2, 5, "redis errors to be counted")
        redis_server.start()
        written = metric(port, "book_snapshots_written_total", symbol="ETHUSDT")
        wait_for(lambda: metric(port, "book_snapshots_written_total", symbol="ETHUSDT") > written, 10,
                 f"writes again after Redis came back\n{book.log()}")
    finally:
        assert book.terminate() == 0
        assert feed.terminate() == 0
