"""A planned failover to a chosen replica (`python -m launcher.ha_load failover --to`) sets replica-priority 0 on
every other server until the move is done, then 100 again. A server whose host was lost in between (cut off,
stalled) kept 0 when it came back, silently: it rejoined as a replica that Sentinel never promotes, one host loss
less than the layout promises, and the tool's answer did not name it (revha). Real redis-server and sentinels."""

from __future__ import annotations

import signal
import threading
import time

import redis

from helpers import wait_for
from launcher.ha_load import force_failover
from sentinel_helpers import SentinelSet


def test_a_server_lost_during_a_planned_failover_is_named_with_its_priority_left_at_0(tmp_path):
    group = SentinelSet(tmp_path / "s", servers=3).start()
    try:
        topology = group.topology(tmp_path / "topology.yaml")
        lost = redis.Redis(port=group.server_ports[2], socket_timeout=1, decode_responses=True)
        said: dict[str, str] = {}
        tool = threading.Thread(target=lambda: said.setdefault("answer", force_failover(
            str(topology), f"127.0.0.1:{group.server_ports[1]}", timeout_s=3)))
        tool.start()
        wait_for(lambda: lost.config_get("replica-priority")["replica-priority"] == "0", 10,
                 "the tool to set the other replica's priority to 0")
        group.procs["server-2"].send_signal(signal.SIGSTOP)  # its host lost: alive, unreachable
        try:
            tool.join(60)
        finally:
            group.procs["server-2"].send_signal(signal.SIGCONT)
        assert not tool.is_alive()
        answer = said["answer"]
        assert answer != "OK"
        assert f"replica-priority left at 0 on 127.0.0.1:{group.server_ports[2]}" in answer, answer
        assert "CONFIG SET replica-priority 100" in answer, answer
        time.sleep(0.1)
        assert lost.config_get("replica-priority")["replica-priority"] == "0"  # what the answer says, still true
    finally:
        group.stop()


def test_status_names_a_managed_server_at_replica_priority_0(tmp_path):
    """When that server's host comes back, nothing else says it will never be promoted: status does (exit 1), until
    it is set back to 100."""
    from launcher.supervise import render_sentinel_status, sentinel_status, sentinels_ok
    from launcher.topology import load_topology
    group = SentinelSet(tmp_path / "s", servers=2).start()
    try:
        topo = load_topology(str(group.topology(tmp_path / "topology.yaml")))
        assert "never_promoted" not in sentinel_status(topo)
        replica = redis.Redis(port=group.server_ports[1], socket_timeout=1, decode_responses=True)
        replica.config_set("replica-priority", 0)
        state = sentinel_status(topo)
        assert state.get("never_promoted") == [f"127.0.0.1:{group.server_ports[1]}"], state
        text = render_sentinel_status(state)
        assert f"NEVER PROMOTED: replica-priority 0 on 127.0.0.1:{group.server_ports[1]}" in text, text
        assert sentinels_ok(state) is False
        replica.config_set("replica-priority", 100)
        assert "never_promoted" not in sentinel_status(topo)
    finally:
        group.stop()
