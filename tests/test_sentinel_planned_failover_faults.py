"""A planned failover (`python -m launcher.ha_load failover`) that meets a fault, against real redis-servers and
sentinels (three data servers, three sentinels, no actors), the tool run as the operator runs it.

The tool pauses the old primary's writes before SENTINEL FAILOVER. A paused primary does not answer the sentinels
(their PING waits behind their paused hello PUBLISH), so a pause longer than `down_after_ms` is a primary down to
them, and they fail it over on their own, while the tool still holds it paused. Whatever goes wrong before
SENTINEL FAILOVER (a replica that does not catch up, the tool killed) must end with the old primary the primary,
unpaused, never marked down by a sentinel, and, when the tool lives to say so, a refusal naming what is wrong.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from helpers import wait_for
from sentinel_helpers import MASTER, SentinelSet, pid_of_server, role_of

REPO = Path(__file__).resolve().parent.parent


class SentinelEvents:
    """Every event each sentinel publishes (+sdown, +odown, +switch-master, ...), as (channel, data)."""

    def __init__(self, ports: list[int]):
        self.events: list[tuple[str, str]] = []
        self.clients = [redis.Redis(port=p, decode_responses=True) for p in ports]
        self.pubsubs = [c.pubsub(ignore_subscribe_messages=True) for c in self.clients]
        for ps in self.pubsubs:
            ps.psubscribe(**{"*": self._record})
        self.threads = [ps.run_in_thread(sleep_time=0.05, daemon=True) for ps in self.pubsubs]

    def _record(self, message: dict) -> None:
        self.events.append((message["channel"], message["data"]))

    def __enter__(self) -> "SentinelEvents":
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self.threads:
            t.stop()
            t.join(5)
        for ps, c in zip(self.pubsubs, self.clients):
            ps.close()
            c.close()

    def about_master(self) -> list[tuple[str, str]]:
        """Events about the primary: it marked down, or a failover of it."""
        return [(ch, data) for ch, data in list(self.events)
                if (ch in ("+sdown", "+odown") and data.startswith("master ")) or ch in ("+switch-master", "+try-failover")]


def run_failover(topology: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "launcher.ha_load", "failover", str(topology), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def answered_writes(port: int) -> bool:
    """The server at `port` answers a write now (not paused)."""
    client = redis.Redis(port=port, socket_timeout=0.3, decode_responses=True,
                         retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
    try:
        return bool(client.set("planned-failover-probe", "1"))
    except redis.RedisError:
        return False
    finally:
        client.close()


def sentinels_heard_from(group: SentinelSet, port: int) -> bool:
    """Every sentinel names `port` and had a PING reply from it within the last 500 ms (after any pause)."""
    for i in range(len(group.sentinel_ports)):
        state = group.sentinel(i).sentinel_master(MASTER)
        if int(state["port"]) != port or int(state["last-ok-ping-reply"]) > 500:
            return False
    return True


def settle_and_check_the_primary_stayed(group: SentinelSet, events: SentinelEvents, primary: int) -> None:
    wait_for(lambda: answered_writes(primary) or role_of(primary) != "master", 60, "the old primary unpaused")
    wait_for(lambda: sentinels_heard_from(group, primary) or events.about_master(), 30,
             "every sentinel hearing from the primary")
    assert not events.about_master(), f"the sentinels marked the paused primary down or failed it over: {events.about_master()}"
    assert [role_of(p) for p in group.server_ports].count("master") == 1 and role_of(primary) == "master"


@pytest.fixture
def three_servers(tmp_path: Path, request):
    """Three data servers under three sentinels; a test may give the sentinels' down_after_ms (indirect param)."""
    group = SentinelSet(tmp_path / "sentinel", servers=3, down_after_ms=getattr(request, "param", 2000)).start()
    stopped: list[int] = []
    try:
        yield group, group.topology(tmp_path / "topology.yaml"), stopped
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        group.stop()


def test_a_planned_failover_with_a_stopped_replica_refuses_naming_it_and_the_sentinels_never_see_the_primary_down(
        three_servers) -> None:
    group, topology, stopped = three_servers
    primary, _, lagging = group.server_ports
    stopped.append(pid_of_server(lagging))
    os.kill(stopped[0], signal.SIGSTOP)
    with SentinelEvents(group.sentinel_ports) as events:
        tool = run_failover(topology)
        out, err = tool.communicate(timeout=120)
        settle_and_check_the_primary_stayed(group, events, primary)
    assert tool.returncode == 1, (out, err)
    answer = json.loads(out)["answer"]
    assert answer.startswith("no failover") and f"127.0.0.1:{lagging}" in answer, answer
    assert "Traceback" not in err, err


# down_after_ms 8 s: the tool waits a quarter of it (2 s, not 0.5) for its replicas with writes paused, a window this
# test must see from outside; on a loaded CI machine (load 13) it missed the half-second one.
@pytest.mark.parametrize("three_servers", [8000], indirect=True)
def test_a_planned_failover_killed_while_the_primary_is_paused_leaves_a_pause_the_sentinels_do_not_see(
        three_servers) -> None:
    group, topology, stopped = three_servers
    primary, _, lagging = group.server_ports
    stopped.append(pid_of_server(lagging))
    os.kill(stopped[0], signal.SIGSTOP)  # holds the tool in its catch-up wait, writes paused
    with SentinelEvents(group.sentinel_ports) as events:
        tool = run_failover(topology)
        try:
            wait_for(lambda: not answered_writes(primary) or tool.poll() is not None, 30, "the primary paused")
            assert tool.poll() is None, "the tool ended before it could be killed while the primary was paused"
        finally:
            tool.kill()
            tool.communicate()
        os.kill(stopped.pop(), signal.SIGCONT)
        settle_and_check_the_primary_stayed(group, events, primary)


@pytest.mark.parametrize("target", ["primary", "unknown"])
def test_a_planned_failover_to_a_server_that_is_not_a_replica_is_refused_naming_it(three_servers, target) -> None:
    group, topology, _ = three_servers
    to = f"127.0.0.1:{group.server_ports[0] if target == 'primary' else 1}"
    with SentinelEvents(group.sentinel_ports) as events:
        tool = run_failover(topology, "--to", to)
        out, err = tool.communicate(timeout=120)
        assert tool.returncode == 1, (out, err)
        answer = json.loads(out)["answer"]
        assert to in answer and "not a replica" in answer, answer
        assert not events.about_master()
    for port in group.server_ports:  # every replica may still be promoted
        assert redis.Redis(port=port, decode_responses=True).config_get("replica-priority")["replica-priority"] == "100"


def test_a_planned_failover_to_a_replica_named_by_its_host_name_promotes_it(three_servers) -> None:
    """`--to HOST:PORT` is read as the topology reads sentinel.servers (a host name is resolved)."""
    group, topology, _ = three_servers
    replica = group.server_ports[2]
    tool = run_failover(topology, "--to", f"localhost:{replica}")
    out, err = tool.communicate(timeout=120)
    assert tool.returncode == 0 and json.loads(out)["answer"] == "OK", (out, err)
    wait_for(lambda: group.named_primary() == replica and role_of(group.server_ports[0]) == "slave", 60,
             "the named replica the primary, the old primary its replica")
