"""Two data servers answering ROLE master under Sentinel (revha3). A primary whose host rejoins after a partition
stays a master, taking the writes of any client sent to it, until Sentinel demotes it about 10 s later; the
sentinels meanwhile all name the new primary. Seen on three namespace hosts (store's link down, exec's replica
promoted, store's link up): for 10 s both servers answered ROLE master while `status --all-hosts` said
`OK 3 usable Sentinels` and exited 0. Real redis-servers and sentinels: a replica turned master by hand
(REPLICAOF NO ONE) is the same state (Sentinel reconverts it only after 8 s)."""

from __future__ import annotations

import redis

from helpers import wait_for
from sentinel_helpers import SentinelSet, role_of


def test_status_names_a_second_server_answering_role_master_until_it_is_a_replica_again(tmp_path):
    from launcher.supervise import render_sentinel_status, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "s", servers=2).start()
    try:
        topo = load_topology(str(group.topology(tmp_path / "topology.yaml")))
        primary, stray = (f"127.0.0.1:{port}" for port in group.server_ports)
        assert "masters" not in sentinel_status(topo)
        replica = redis.Redis(port=group.server_ports[1], socket_timeout=1, decode_responses=True)
        replica.execute_command("REPLICAOF", "NO", "ONE")
        assert role_of(group.server_ports[1]) == "master"
        state = sentinel_status(topo)
        assert role_of(group.server_ports[1]) == "master"  # (Sentinel reconverts it only after 8 s)
        assert state.get("masters") == {"named": primary, "others": [stray]}, state
        text = render_sentinel_status(state)
        assert f"SECOND PRIMARY: {stray} answers ROLE master beside {primary}, the sentinels' primary" in text, text
        assert sentinels_ok(state) is False
        replica.execute_command("REPLICAOF", "127.0.0.1", str(group.server_ports[0]))
        wait_for(lambda: role_of(group.server_ports[1]) == "slave", 10, "the stray master a replica again")
        state = sentinel_status(topo)
        assert "masters" not in state and sentinels_ok(state), state
    finally:
        group.stop()


def test_a_second_primary_beside_one_named_in_another_spelling_of_its_ipv6_address_is_said_beside_it(tmp_path):
    """The topology names the servers [0:0:0:0:0:0:0:1]:PORT, the sentinels answer ::1 (Redis writes addresses
    canonical). Before (revlease): `named` null and the line said the two masters were `beside each other, none of them
    the primary the sentinels name`, one of them being it."""
    from launcher.supervise import sentinel_status
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "s", servers=2, ipv6_as="0:0:0:0:0:0:0:1").start()
    try:
        topo = load_topology(str(group.topology(tmp_path / "topology.yaml")))
        redis.Redis(port=group.server_ports[1], socket_timeout=1).execute_command("REPLICAOF", "NO", "ONE")
        primary, stray = (f"[0:0:0:0:0:0:0:1]:{port}" for port in group.server_ports)
        assert sentinel_status(topo).get("masters") == {"named": primary, "others": [stray]}
    finally:
        group.stop()


def test_two_masters_with_no_sentinel_answering_are_not_said_to_be_beside_a_primary_the_sentinels_name(tmp_path):
    """Every sentinel down, a replica turned master by hand (revdocs41): the line said `none of them the primary the
    sentinels name` of sentinels that named nothing, and `it takes` of two servers. Now it says no answering sentinel
    names any of them, `each takes`, and what a lasting one means (the sentinels cannot reach it or do not list it)."""
    from launcher.supervise import render_sentinel_status, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "s", servers=2).start()
    try:
        topo = load_topology(str(group.topology(tmp_path / "topology.yaml")))
        for i in range(3):
            group.kill(f"sentinel-{i}")
        redis.Redis(port=group.server_ports[1], socket_timeout=1).execute_command("REPLICAOF", "NO", "ONE")
        state = sentinel_status(topo)
        assert state.get("masters", {}).get("named", "?") is None and sentinels_ok(state) is False, state
        text = render_sentinel_status(state)
        assert "beside each other, none of them named by an answering sentinel: each takes the writes" in text, text
        assert "none of them the primary the sentinels name" not in text, text
        assert "cannot reach it or do not list it as a replica" in text, text
    finally:
        group.stop()
