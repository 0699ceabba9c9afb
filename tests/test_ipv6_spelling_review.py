"""An IPv6 address the topology spells otherwise than Redis (ipv6addr review). Sentinel writes every address as
inet_ntop does (the topology's [0:0:0:0:0:0:0:1] is its ::1), in its answers and in the sentinel.conf it rewrites;
code that compared the topology's spelling with those as text took one server for two. `status` was fixed in
revlease (test_status_two_masters_review.py); these are the other places: the data servers' start shim, the reseed
of a sentinel's file, `ha_load failover --to` and `ha_load redis`, and the topology's check for a sentinel listed
twice. Real redis-server and sentinels on ::1 where the comparison meets Redis."""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from helpers import PYTHON, wait_for
from launcher.redis_node import choose
from launcher.supervise import REDIS_NODE_SHIM, Home, render_redis_files
from sentinel_helpers import MASTER, SentinelSet, role_of
from test_sentinel_config import load, problems

SPELLED = "0:0:0:0:0:0:0:1"  # ::1, as the topology's author wrote it


def test_a_killed_primary_the_sentinels_name_in_another_spelling_waits_for_their_failover_not_replicating_itself(
        tmp_path: Path) -> None:
    """supervisord restarts a killed primary at once; its start shim asks the sentinels, which still name it (::1),
    and must wait for their failover. Before: `said == (me, True)` compared ('::1', P) with the topology's
    ('0:0:0:0:0:0:0:1', P), the shim did not wait and started the primary as `--replicaof ::1 P`, a replica of
    itself: no primary at all. The sentinels saw it down 22 s later, but their failovers aborted with no good replica
    (the other server's link to it down too long): still no primary 150 s after the kill."""
    group = SentinelSet(tmp_path / "s", servers=2, ipv6_as=SPELLED).start()
    shim = None
    try:
        old, new = group.server_ports
        group.kill("server-0")
        asked = [a for port in group.sentinel_ports for a in ("--sentinel", f"[{SPELLED}]:{port}")]
        log_path = tmp_path / "shim.log"
        with open(log_path, "wb") as log:
            shim = subprocess.Popen([PYTHON, str(REDIS_NODE_SHIM), "--self", f"[{SPELLED}]:{old}",
                                     "--primary", f"[{SPELLED}]:{old}", "--master", MASTER, *asked,
                                     "--timeout-ms", "200", "--wait-ms", "30000", "--",
                                     group.binary, str(group.dir / "server-0" / "redis.conf")],
                                    stdout=log, stderr=subprocess.STDOUT)
        started = wait_for(lambda: next((line for line in log_path.read_text().splitlines() if "; starting " in line),
                                        None), 60, "the shim to start its server")
        text = log_path.read_text()
        assert "still name this server" in text, text
        assert started.endswith(f"with --replicaof ::1 {new}"), text
        wait_for(lambda: role_of(old) == "slave" and redis.Redis(port=old, socket_timeout=1).info("replication")
                 ["master_port"] == new, 30, "the restarted server to replicate the new primary")
    finally:
        if shim is not None:
            shim.kill()  # (the shim is the redis-server it exec'd)
            shim.wait(10)
        group.stop()


def test_the_start_shim_takes_a_primary_named_in_another_spelling_of_its_address_for_itself() -> None:
    """After `down` then `up` no sentinel answers yet and the shim reads the primary from the sentinels' files, which
    Sentinel rewrote with ::1 (so does a first start while the sentinels never heard from it): the primary they name is
    this server. Before: `--replicaof ::1 7100`, the primary started as a replica of itself."""
    me = (SPELLED, 7100)
    assert choose(me, me, ("::1", 7100)) == ["--replicaof", "no", "one"]
    assert choose((SPELLED, 7101), me, ("::1", 7100)) == ["--replicaof", "::1", "7100"]
    assert choose(("fd00::abcd", 7100), me, ("FD00:0:0:0:0:0:0:ABCD", 7100)) == ["--replicaof", "no", "one"]


def test_a_reseeded_sentinel_keeps_the_primary_its_file_names_in_another_spelling(tmp_path: Path) -> None:
    """A changed sentinel setting reseeds each sentinel's file with the primary it last knew, never back to the first
    server (whose data may be older). Sentinel rewrites the file with ::1: before, that primary was not found among
    the topology's [0:0:0:0:0:0:0:1] servers and the seed went back to the first server."""
    sentinel = {"master": "desk", "servers": [f"[{SPELLED}]:7100", f"[{SPELLED}]:7101"],
                "sentinels": [f"[{SPELLED}]:{port}" for port in (27100, 27101, 27102)]}
    topo = load(tmp_path, {"managed": True, "port": 7100, "sentinel": sentinel})
    home = Home(tmp_path / "home")
    for path, text in render_redis_files(topo, home).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    conf = home.redis_dir / "redis-sentinel-1" / "sentinel.conf"
    assert f"sentinel monitor desk {SPELLED} 7100 2" in conf.read_text()
    # After a failover, as Sentinel rewrites it:
    conf.write_text(conf.read_text().replace(f"sentinel monitor desk {SPELLED} 7100 2", "sentinel monitor desk ::1 7101 2"))
    changed = load(tmp_path, {"managed": True, "port": 7100, "sentinel": {**sentinel, "down_after_ms": 3000}})
    reseeded = render_redis_files(changed, home)[conf]
    assert "sentinel monitor desk ::1 7101 2" in reseeded and "down-after-milliseconds desk 3000" in reseeded, reseeded


def test_ha_load_failover_to_a_replica_in_another_spelling_moves_the_primary_there_and_says_ok(tmp_path: Path) -> None:
    """`ha_load failover --to [0:0:0:0:0:0:0:1]:P` (the topology's spelling) and `ha_load redis`. Before: the sentinels'
    ::1 answers never equalled the topology's addresses: `redis` never said settled, the move did not wait for the
    sentinels to read the other replica's priority 0 (so either replica could be promoted) and then answered `::1:P
    became the primary, not 0:0:0:0:0:0:0:1:P` (exit 1) after moving it there."""
    from launcher.ha_load import force_failover, redis_state
    group = SentinelSet(tmp_path / "s", servers=3, ipv6_as=SPELLED).start()
    try:
        topology = str(group.topology(tmp_path / "topology.yaml"))
        state = wait_for(lambda: (s := redis_state(topology))["settled"] and s, 30, "ha_load redis to say settled")
        assert state["primary"] == f"::1:{group.server_ports[0]}", state
        target = group.server_ports[2]
        assert force_failover(topology, f"[{SPELLED}]:{target}", timeout_s=60) == "OK"
        assert group.named_primary() == target
    finally:
        group.stop()


def test_a_sentinel_listed_twice_in_two_spellings_of_its_address_is_refused(tmp_path: Path) -> None:
    """External sentinels [::1]:P and [0:0:0:0:0:0:0:1]:P are one sentinel: counted twice, its word alone was a
    majority of two of three (launcher.sentinel.majority_word)."""
    said = problems(tmp_path, {"sentinel": {"sentinels": ["[::1]:26390", f"[{SPELLED}]:26390", "127.0.0.1:26391"]}})
    assert f"redis.sentinel.sentinels[1]: [{SPELLED}]:26390 is also sentinels[0]" in said, said


def test_a_sentinel_listed_twice_as_its_ipv4_address_and_the_ipv4_mapped_one_is_refused(tmp_path: Path) -> None:
    """[::ffff:127.0.0.1]:P is 127.0.0.1:P, another IPv6 spelling of one place: a connection to it reaches the IPv4
    listener (one real sentinel, one run_id by either address). Before (revipv6 review of ipv6addr): Python's
    ::ffff:7f00:1 was not 127.0.0.1, validate accepted it and the clients counted that sentinel twice."""
    from launcher.sentinel import render_sentinel_conf
    from launcher.supervise import redis_quote
    from helpers import free_port
    port = free_port()
    d = tmp_path / "sentinel"
    d.mkdir()
    (d / "sentinel.conf").write_text(render_sentinel_conf(
        port=port, bind="127.0.0.1", directory=str(d), master=MASTER, primary=("127.0.0.1", free_port()), quorum=2,
        down_after_ms=2000, failover_timeout_ms=5000, parallel_syncs=1, password=None, quote=redis_quote))
    sentinel = subprocess.Popen([SentinelSet(tmp_path / "unused").binary, str(d / "sentinel.conf"), "--sentinel"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        def run_id(host: str) -> str | None:
            try:
                return redis.Redis(host=host, port=port, socket_timeout=1).info("server")["run_id"]
            except redis.RedisError:
                return None
        seen = wait_for(lambda: run_id("127.0.0.1"), 10, "the sentinel")
        assert run_id("::ffff:127.0.0.1") == seen
    finally:
        sentinel.kill()
        sentinel.wait(10)
    said = problems(tmp_path, {"sentinel": {"sentinels": [f"127.0.0.1:{port}", f"[::ffff:127.0.0.1]:{port}",
                                                          "127.0.0.1:26391"]}})
    assert f"redis.sentinel.sentinels[1]: [::ffff:127.0.0.1]:{port} is also sentinels[0]" in said, said


def test_an_ipv6_address_with_a_zone_id_is_refused_naming_the_zone(tmp_path: Path) -> None:
    """[fe80::1%lo]:P was accepted (session 42's review, in a network namespace): Sentinel writes and answers the
    address without its `%lo`, cannot reach it, and marks that primary down. validate now refuses it, naming it."""
    # The managed setup's servers (beside external sentinels they are a key nothing reads, refused as that alone).
    said = problems(tmp_path, {"managed": True,
                               "sentinel": {"servers": ["[fe80::1%lo]:6390", "127.0.0.1:6391", "127.0.0.1:6392"]}})
    assert "redis.sentinel.servers[0]: '[fe80::1%lo]:6390': an IPv6 zone id (%lo) cannot be used" in said, said
    said = problems(tmp_path, {"sentinel": {"sentinels": ["127.0.0.1:26390", "[fe80::2%eth0]:26391", "127.0.0.1:26392"]}})
    assert "redis.sentinel.sentinels[1]: '[fe80::2%eth0]:26391': an IPv6 zone id (%eth0) cannot be used" in said, said
