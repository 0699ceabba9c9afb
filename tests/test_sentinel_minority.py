"""A sentinel cut off with the old primary names it still: the clients follow the sentinels' majority (revha).

Found with configs/ha.yaml on five namespace hosts: the store host (the primary and the first sentinel) cut off
from both market hosts (the two other sentinels and the replicas) but not from the gate hosts. The majority
promoted a market replica, and its other replica followed it; the gates' and issuers' sentinel watch asked the
first answering sentinel, store's, which still named the old primary: every decision (87 of 87 in 15 s, 50
proposals/s) was HOLD `replica_unacknowledged` on the cut-off primary, whose replicas could not acknowledge WAIT,
for as long as the cut lasted, with a healthy primary and replica in reach.

Here, on loopback with real redis-server processes: two masters, A and B; one sentinel monitors A, two monitor B
under the same name (they never hear of each other: each hears only its own primary's hello channel), the one
naming A first in the list, as store's sentinel is first in configs/ha.yaml. Both of the clients' watches (the
gate's and issuer's SentinelWatch, the actors' redis-py pool) must name B, the word of a majority of the
sentinels; a watch whose sentinels give no majority keeps the first answer.
"""

from __future__ import annotations

import subprocess

import pytest
import redis

from helpers import free_port, wait_for
from launcher.redis_binary import find_redis_server
from launcher.redis_conn import connect
from launcher.sentinel import SentinelWatch, render_sentinel_conf, render_server_conf
from launcher.supervise import redis_quote
from launcher.topology import RedisConfig, SentinelConfig

MASTER = "clustergate"


@pytest.fixture
def split(tmp_path):
    binary = find_redis_server() or "redis-server"
    procs: list[subprocess.Popen] = []
    servers = [free_port(), free_port()]  # A, B
    sentinels = [free_port(), free_port(), free_port()]  # the first monitors A, the two others B
    try:
        for i, port in enumerate(servers):
            d = tmp_path / f"server-{i}"
            d.mkdir()
            (d / "redis.conf").write_text(render_server_conf(port=port, bind="127.0.0.1", directory=str(d),
                                                             maxmemory_mb=32, password=None, quote=redis_quote))
            procs.append(subprocess.Popen([binary, str(d / "redis.conf"), "--replicaof", "no", "one"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i, port in enumerate(sentinels):
            d = tmp_path / f"sentinel-{i}"
            d.mkdir()
            (d / "sentinel.conf").write_text(render_sentinel_conf(
                port=port, bind="127.0.0.1", directory=str(d), master=MASTER,
                primary=("127.0.0.1", servers[0] if i == 0 else servers[1]), quorum=2, down_after_ms=2000,
                failover_timeout_ms=5000, parallel_syncs=1, password=None, quote=redis_quote))
            procs.append(subprocess.Popen([binary, str(d / "sentinel.conf"), "--sentinel"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def named(port: int) -> int | None:
            try:
                answer = redis.Redis(port=port, socket_timeout=1, decode_responses=True).execute_command(
                    "SENTINEL", "get-master-addr-by-name", MASTER)
            except redis.RedisError:
                return None
            return int(answer[1]) if answer else None
        wait_for(lambda: [named(p) for p in sentinels] == [servers[0], servers[1], servers[1]], 10,
                 "the first sentinel naming A, the two others B")
        wait_for(lambda: all(int(redis.Redis(port=p, socket_timeout=1, decode_responses=True).sentinel_master(MASTER)
                                 ["num-other-sentinels"]) == 1 for p in sentinels[1:]), 20,
                 "the two sentinels of B to know each other (a majority that can fail over)")
        yield servers, sentinels
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(5)


def test_the_gate_and_issuers_sentinel_watch_follows_the_majority_not_a_cut_off_first_sentinel(split):
    (a, b), sentinels = split
    watch = SentinelWatch([("127.0.0.1", p) for p in sentinels], MASTER, timeout_s=0.25)
    try:
        wait_for(lambda: watch.primary is not None, 10, "the watch's first word")
        assert watch.check() == ("127.0.0.1", b)
        wait_for(lambda: watch.primary == ("127.0.0.1", b), 5, "the watch on B, the majority's primary")
    finally:
        watch.close()


def test_the_actors_redis_pool_follows_the_majority_not_a_cut_off_first_sentinel(split):
    (a, b), sentinels = split
    client = connect(RedisConfig(timeout_ms=250, sentinel=SentinelConfig(
        master=MASTER, sentinels=[f"127.0.0.1:{p}" for p in sentinels])))
    try:
        assert client.connection_pool.named_primary() == ("127.0.0.1", b)
        client.ping()  # the first call starts the pool's sentinel checker
        wait_for(lambda: client.connection_pool.named == ("127.0.0.1", b), 5, "the pool on B")
        client.set("revha:where", "here")
        assert redis.Redis(port=b).get("revha:where") == b"here"
        assert redis.Redis(port=a).get("revha:where") is None
    finally:
        client.close()


def test_without_a_majority_the_watches_keep_the_first_answer(split):
    (a, b), sentinels = split
    order = [("127.0.0.1", sentinels[0]), ("127.0.0.1", sentinels[1]), ("127.0.0.1", free_port())]
    watch = SentinelWatch(list(order), MASTER, timeout_s=0.25)
    try:
        assert watch.check() == ("127.0.0.1", a)  # one against one, the third silent: the first answer, as before
    finally:
        watch.close()


def b_replica(split, tmp_path) -> subprocess.Popen:
    """A replica of B, a real redis-server."""
    (_, b), _ = split
    d = tmp_path / "replica-of-b"
    d.mkdir()
    (d / "redis.conf").write_text(render_server_conf(port=free_port(), bind="127.0.0.1", directory=str(d),
                                                     maxmemory_mb=32, password=None, quote=redis_quote))
    return subprocess.Popen([find_redis_server() or "redis-server", str(d / "redis.conf"), "--replicaof", "127.0.0.1",
                             str(b)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_status_says_the_sentinels_disagree_on_the_primary_and_that_the_majority_can_fail_over(split, tmp_path):
    """In that cut, `status` (one host and --all-hosts) said "NO FAILOVER POSSIBLE" from the cut-off sentinel's
    NOQUORUM, asked first, while the two others had failed over and could again; and nothing said that two servers
    were primaries, named by different sentinels. It asks the next sentinel after a NOQUORUM, and says (exit 1) when
    the answering sentinels name different primaries, which one a majority names."""
    from types import SimpleNamespace

    from launcher.hosts_status import hosts_ok
    from launcher.supervise import render_sentinel_status, sentinel_status
    (a, b), sentinels = split
    topo = SimpleNamespace(redis=RedisConfig(timeout_ms=500, sentinel=SentinelConfig(
        master=MASTER, sentinels=[f"127.0.0.1:{p}" for p in sentinels])))
    # B gets a replica, as the majority's new primary had in that cut: with none, no failover is possible (status says
    # so: no replica to promote).
    replica = b_replica(split, tmp_path)
    try:
        # (listed "disconnected" until a sentinel's own link to it is up: not promotable yet)
        state = wait_for(lambda: (said := sentinel_status(topo))["failover_possible"] and said, 30,
                         "B's sentinels to know its replica")
    finally:
        replica.kill()
        replica.wait(5)
    assert state["failover_possible"] is True, state
    assert f"127.0.0.1:{sentinels[0]}: NOQUORUM" in state["said"], state
    text = render_sentinel_status(state)
    assert "SENTINELS DISAGREE" in text, text
    assert f"127.0.0.1:{b} (named by 2 of 3: 127.0.0.1:{sentinels[1]}, 127.0.0.1:{sentinels[2]})" in text, text
    assert f"127.0.0.1:{a} (named by 1 of 3: 127.0.0.1:{sentinels[0]})" in text, text
    assert hosts_ok({}, state) is False


def test_a_sentinel_listed_twice_is_asked_once_and_the_shared_list_keeps_it_once():
    """The list is shared by discovery (to_front) and a watch (majority_word) in two threads; a reorder that crossed a
    to_front could list a sentinel twice, and a majority counted over the doubled list grew out of reach. Each
    sentinel is asked once and counted once, and the reorder leaves it listed once."""
    from launcher.sentinel import majority_word
    s1, s2, s3 = ("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)
    word = {s1: ("10.0.0.1", 6390), s2: ("10.0.0.2", 6390), s3: ("10.0.0.2", 6390)}
    asked: list[tuple[str, int]] = []

    def ask(address):
        asked.append(address)
        return word[address]
    order = [s1, s2, s2, s3]
    assert majority_word(order, ask) == ("10.0.0.2", 6390)
    assert asked == [s1, s2, s3]
    assert order == [s2, s3, s1]
