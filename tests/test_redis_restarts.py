"""A Redis in a restart loop left no trace in any metric: the actors reconnect without restarting, so
ClustergateActorRestarting (their own start times) never saw it, and Redis exports no start time. The permit issuer,
which already reads Redis's INFO for its memory gauges, exports the start time of the Redis it talks to
(clustergate_redis_started_timestamp_seconds{server}), a new value at each restart, which ClustergateRedisRestarting
counts (tests/alerts_test.yml)."""

from __future__ import annotations

import time
from pathlib import Path

from helpers import ActorProcess, RedisServer, demo_topology_data, retarget, scrape, wait_for, write_topology

INFO_SERVER = ("# Server\r\nredis_version:7.0.15\r\nrun_id:a85860e841e3da24872062d9d97e83db0e9301ba\r\n"
               "server_time_usec:1700000000987654\r\nuptime_in_seconds:3600\r\nuptime_in_days:0\r\n")


def test_redis_start_time_is_its_own_clock_reading_less_its_uptime_and_none_without_them():
    from actors.permit_issuer import redis_started_s
    assert redis_started_s(INFO_SERVER) == 1_699_996_400
    assert redis_started_s(INFO_SERVER.replace("server_time_usec", "other")) is None
    assert redis_started_s("# Server\r\nuptime_in_seconds:x\r\nserver_time_usec:1\r\n") is None


def test_each_redis_restart_gives_the_issuers_redis_start_time_a_new_value_and_one_life_keeps_one(tmp_path: Path):
    """Redis killed and started again 3 times (the actors stay up): the issuer's gauge takes a new value each time,
    Redis's start by the test's clock, and keeps it at every later read of the same life."""
    redis = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), redis.url)
    issuer = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "permit_issuer", log_dir=tmp_path)
    port = data["actors"]["permit_issuer"]["metrics_port"]
    series = f'clustergate_redis_started_timestamp_seconds{{server="127.0.0.1:{redis.port}"}}'
    issuer.start()
    try:
        started = []
        for life in range(4):
            if life:
                redis.kill()
                time.sleep(1.1)  # Redis counts its start in whole seconds: the next life starts in a later one
                before = time.time()
                redis.start()
            else:
                before = time.time() - redis.client().info("server")["uptime_in_seconds"] - 1
            wait_for(lambda: scrape(port).get(series, 0) >= int(before), 20,
                     f"life {life}: the issuer's {series} at Redis's start (after {before:.1f})", interval_s=0.2)
            started.append(scrape(port)[series])
            assert started[-1] <= time.time(), started
        assert len(set(started)) == 4, started
        assert sorted(started) == started, started
        time.sleep(6)  # the issuer reads INFO every 5 s: a later read of the same life
        assert scrape(port)[series] == started[-1], issuer.log()[-2000:]
    finally:
        issuer.terminate()
        redis.stop()
