"""The price feed as a process: redis_snapshots polling, bad prices never published, heartbeat, SIGTERM."""

from __future__ import annotations

import signal
import time

import pytest

from actors.price_feed import snapshot_skip_reason

from feed_helpers import TickListener, feed_topology, is_ready, metric, metrics_port, tick_endpoint
from helpers import DEADLINE_SCALE, SHUTDOWN_BOUND_S, ActorProcess, scrape, wait_for

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"]


def subscribed(listener: TickListener, feed: ActorProcess) -> None:
    """Wait until the listener receives the idle feed's heartbeat, so it misses no tick after this."""
    wait_for(lambda: any(topic == b"heartbeat" for topic, _ in listener.drain()), 10, f"a heartbeat\n{feed.log()}")


def test_redis_snapshot_prices_that_are_nan_negative_zero_or_infinite_are_counted_and_never_published(tmp_path, redis_server):
    client = redis_server.client()
    marks = {"BTCUSDT": "nan", "ETHUSDT": "-5", "SOLUSDT": "0", "XRPUSDT": "inf", "ADAUSDT": "0.5"}
    ts = int(time.time()) - 10
    for symbol, mark in marks.items():
        if symbol != "ADAUSDT":
            client.hset(f"quantum:position:snapshot:{symbol}", mapping={"position_amt": "1", "mark_price": mark, "ts_epoch": ts})
    path, data = feed_topology(tmp_path, redis_server.url,
                               {"source": "redis_snapshots", "interval_s": 0.05, "heartbeat_s": 0.2}, symbols=SYMBOLS)
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        subscribed(listener, feed)  # a snapshot is published once: the listener must not miss it
        client.hset("quantum:position:snapshot:ADAUSDT", mapping={"position_amt": "1", "mark_price": "0.5", "ts_epoch": ts})
        wait_for(lambda: listener.ticks(), 10, f"a tick from the good snapshot\n{feed.log()}")
        rejected = {s: (reason, metric(port, "price_feed_rejected_prices_total", symbol=s, reason=reason))
                    for s, reason in [("BTCUSDT", "nan"), ("ETHUSDT", "negative"), ("SOLUSDT", "zero"), ("XRPUSDT", "infinite")]}
        assert all(count >= 1 for _, count in rejected.values()), rejected
        before = metric(port, "price_feed_rejected_prices_total", symbol="BTCUSDT")
        client.hset("quantum:position:snapshot:BTCUSDT", "ts_epoch", ts + 1)  # a new snapshot, still NaN
        wait_for(lambda: metric(port, "price_feed_rejected_prices_total", symbol="BTCUSDT") > before, 5,
                 "the new snapshot's price to be counted")
        assert {t["symbol"] for t in listener.ticks()} == {"ADAUSDT"}
        assert {t["price"] for t in listener.ticks()} == {0.5}
        assert metric(port, "price_feed_ticks_total", symbol="ADAUSDT") >= 1
        assert metric(port, "price_feed_ticks_total", symbol="BTCUSDT") == 0
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_the_feed_counts_redis_errors_and_resumes_when_redis_returns(tmp_path, redis_server):
    redis_server.client().hset("quantum:position:snapshot:BTCUSDT", mapping={"mark_price": "64000",
                                                                             "ts_epoch": int(time.time()) - 5})
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "redis_snapshots", "interval_s": 0.05})
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        wait_for(lambda: metric(port, "price_feed_ticks_total", symbol="BTCUSDT") >= 1, 10, f"a first tick\n{feed.log()}")
        redis_server.stop()
        wait_for(lambda: metric(port, "price_feed_redis_errors_total") >= 2, 5, "redis errors to be counted")
        redis_server.start()
        # Counted before the new snapshot: the feed may publish it (every 50 ms) before a read after the HSET.
        published = metric(port, "price_feed_ticks_total", symbol="BTCUSDT")
        redis_server.client().hset("quantum:position:snapshot:BTCUSDT", mapping={"mark_price": "64100",
                                                                                 "ts_epoch": int(time.time())})
        wait_for(lambda: metric(port, "price_feed_ticks_total", symbol="BTCUSDT") > published, 10,
                 f"ticks again after Redis came back\n{feed.log()}")
        assert "event=redis_recovered" in feed.log()
    finally:
        assert feed.terminate() == 0


@pytest.mark.parametrize("ts_epoch,last_ts,reason", [
    ("1000", None, None),        # fresh: published, stamped with its ts_epoch
    (b"1000", 990.0, None),      # updated since the last read
    ("1000", 1000.0, "unchanged"),
    ("700", None, None),         # 300 s old: still fresh
    ("699", None, "stale"),
    ("699", 699.0, "stale"),     # a snapshot that stopped updating ends up stale, not unchanged
    ("1005", None, None),        # within the clock skew allowance
    ("1006", None, "future"),
    (None, None, "no_ts"),
    ("abc", None, "no_ts"),
    ("nan", None, "no_ts"),
])
def test_a_snapshot_is_published_once_while_fresh(ts_epoch, last_ts, reason):
    ts, skip = snapshot_skip_reason(ts_epoch, last_ts, 1000.0, 300.0)
    assert skip == reason
    if reason is None:
        assert ts == float(ts_epoch)


def test_a_snapshot_that_stops_updating_is_published_once_with_its_own_timestamp(tmp_path, redis_server):
    client = redis_server.client()
    client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "1", "mark_price": "3000",
                                                              "ts_epoch": int(time.time()) - 400})
    client.hset("quantum:position:snapshot:SOLUSDT", mapping={"position_amt": "1", "mark_price": "150",
                                                              "ts_epoch": int(time.time()) + 60})
    path, data = feed_topology(tmp_path, redis_server.url,
                               {"source": "redis_snapshots", "interval_s": 0.05, "heartbeat_s": 0.2},
                               symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        subscribed(listener, feed)
        ts = int(time.time()) - 3
        client.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "1", "mark_price": "64000", "ts_epoch": ts})
        wait_for(lambda: metric(port, "price_feed_snapshots_skipped_total", symbol="BTCUSDT", reason="unchanged") >= 3,
                 10, f"polls of the unchanged snapshot\n{feed.log()}")
        wait_for(lambda: listener.ticks(), 5, "the tick")
        assert [(t["symbol"], t["price"], t["ts"]) for t in listener.ticks()] == [("BTCUSDT", 64000.0, float(ts))]
        assert metric(port, "price_feed_ticks_total", symbol="BTCUSDT") == 1
        assert metric(port, "price_feed_snapshots_skipped_total", symbol="ETHUSDT", reason="stale") >= 1
        assert metric(port, "price_feed_snapshots_skipped_total", symbol="SOLUSDT", reason="future") >= 1
        client.hset("quantum:position:snapshot:BTCUSDT", mapping={"mark_price": "64100", "ts_epoch": ts + 1})
        wait_for(lambda: len(listener.ticks()) == 2, 5, f"the updated snapshot's tick\n{feed.log()}")
        assert (listener.ticks()[1]["price"], listener.ticks()[1]["ts"]) == (64100.0, float(ts + 1))
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_an_idle_feed_sends_heartbeats_and_is_ready_after_the_first_one(tmp_path, redis_server):
    """No snapshot to publish: the feed is not ready until it has published its first heartbeat. Every scrape of
    its metrics (readiness and the heartbeat count in one response) says so; with heartbeat_s 5 s, scrapes come
    before the first one."""
    path, data = feed_topology(tmp_path, redis_server.url,
                               {"source": "redis_snapshots", "interval_s": 0.05, "heartbeat_s": 5.0})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    seen: list[tuple[float, float]] = []  # (ready, heartbeats) of each scrape

    def heartbeat_scraped() -> bool:
        try:
            samples = scrape(port)
        except OSError:
            return False  # the metrics endpoint is not up yet
        ready = sum(v for k, v in samples.items() if k.startswith("clustergate_actor_ready{") and 'actor="price_feed"' in k)
        seen.append((ready, samples.get("price_feed_heartbeats_total", 0.0)))
        return seen[-1][1] >= 1

    try:
        wait_for(heartbeat_scraped, 20, f"a heartbeat counted\n{feed.log()}", interval_s=0.05)
        before = [ready for ready, heartbeats in seen if heartbeats == 0]
        assert before, f"no scrape before the first heartbeat: {seen}"
        assert not any(before), f"ready before its first heartbeat: {seen}"
        wait_for(lambda: any(topic == b"heartbeat" for topic, _ in listener.drain()), 10, f"a heartbeat\n{feed.log()}")
        wait_for(lambda: is_ready(port, "price_feed"), 5, "readiness")
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


def test_a_snapshot_mark_price_of_bytes_that_are_not_utf8_is_refused_and_the_other_symbols_keep_ticking(
        tmp_path, redis_server):
    """rev-cluster: the feed's poll decoded every reply; one mark_price that is not UTF-8 raised UnicodeDecodeError
    for the whole poll, every interval: no symbol was published any more (a handler error per poll)."""
    import redis as redis_lib
    client = redis_lib.Redis(port=redis_server.port)
    ts = int(time.time()) - 5
    client.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "1", "mark_price": b"\xff\xfe", "ts_epoch": ts})
    # A snapshot key of another type: its WRONGTYPE error failed the whole poll, every interval (no symbol published,
    # logged as a Redis outage).
    client.set("quantum:position:snapshot:XRPUSDT", "not a hash")
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "redis_snapshots", "interval_s": 0.05,
                                                            "heartbeat_s": 0.2}, symbols=SYMBOLS)
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        subscribed(listener, feed)
        client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "1", "mark_price": "3400", "ts_epoch": ts})
        wait_for(lambda: listener.ticks(), 10, f"a tick from the good snapshot\n{feed.log()}")
        assert {t["symbol"] for t in listener.ticks()} == {"ETHUSDT"}
        assert metric(port, "price_feed_rejected_prices_total", symbol="BTCUSDT", reason="not_a_number") >= 1
        assert metric(port, "price_feed_snapshots_skipped_total", symbol="XRPUSDT", reason="not_a_hash") >= 1
        assert metric(port, "price_feed_redis_errors_total") == 0, feed.log()
        assert "WRONGTYPE" in feed.log() and "redis_error" not in feed.log(), feed.log()
        assert metric(port, "clustergate_handler_errors_total") == 0, feed.log()
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_a_snapshot_hash_without_mark_price_and_ts_epoch_is_counted_not_dropped_silently(tmp_path, redis_server):
    """revfeed: a snapshot hash holding neither mark_price nor ts_epoch (other fields alone: a writer that renamed
    them, say markPrice/ts) read as "no snapshot" (HMGET gives two nils for a missing key too): polled every interval,
    never published, never counted nor logged. It is undated: skipped as no_ts, as the gate reads it."""
    client = redis_server.client()
    client.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "1", "markPrice": "64000",
                                                              "ts": int(time.time())})
    path, data = feed_topology(tmp_path, redis_server.url, {"source": "redis_snapshots", "interval_s": 0.05,
                                                            "heartbeat_s": 0.2})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    port = metrics_port(data)
    try:
        subscribed(listener, feed)
        wait_for(lambda: metric(port, "price_feed_snapshots_skipped_total", symbol="BTCUSDT", reason="no_ts") >= 3, 10,
                 f"the fieldless snapshot skipped as no_ts\n{feed.log()}")
        assert "event=snapshot_skipped" in feed.log() and "BTCUSDT" in feed.log()
        # A symbol without a snapshot key is no refusal: the execution layer holds no position there.
        assert sum(metric(port, "price_feed_snapshots_skipped_total", symbol="ETHUSDT", reason=r)
                   for r in ("no_ts", "stale", "future", "unchanged", "not_a_hash")) == 0
        assert listener.ticks() == []
    finally:
        listener.close()
        assert feed.terminate() == 0
