"""A lease script that Redis ran but whose reply the state writer never read (revlease2): real redis-server, a real
state writer (the topology has a standby, so it writes under the lease), fed by a stand-in clusterer on a real PUB
socket. The writer reaches Redis through a relay that drops Redis's reply to its first call of the lease script: Redis
takes the free lease for it and the writer times out (timeout_ms), so the lease key holds this writer's own value and
the newest token while the writer stands by, knowing nothing of it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import threading
import time

import pytest

from actors import keys
from actors.state_writer import ACQUIRE_LEASE, RENEW_LEASE
from ha_helpers import TransactionHoldingRelay
from helpers import ActorProcess, RedisServer, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from test_ha_standby import CADENCE_S, Clusterer

ACQUIRE_SHA = hashlib.sha1(ACQUIRE_LEASE.encode()).hexdigest().encode()


class ReplyLosingRelay(TransactionHoldingRelay):
    """A real TCP relay between the state writer and a real Redis. Armed, it passes on the next call of the lease
    script (EVALSHA of ACQUIRE_LEASE) and drops everything Redis sends back on that connection: Redis runs the script,
    and the writer times out (timeout_ms) waiting for the reply, as when a reply is lost on the network."""

    def __init__(self, redis_port: int):
        self.armed = False
        self.muted: set[socket.socket] = set()  # upstreams whose replies are dropped
        self.lost = threading.Event()  # a lease script's call went to Redis, its reply to be dropped
        super().__init__(redis_port)

    def _to_redis(self, client: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                with self.lock:
                    if self.armed and b"EVALSHA" in chunk.upper() and ACQUIRE_SHA in chunk:
                        self.armed = False
                        self.muted.add(upstream)
                        self.lost.set()
                upstream.sendall(chunk)
            upstream.shutdown(socket.SHUT_WR)

    def _to_client(self, upstream: socket.socket, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := upstream.recv(65536):
                if upstream not in self.muted:
                    client.sendall(chunk)
            client.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def lone_writer_of_two(tmp_path):
    """state_writer alone running of a topology of two state writers (so it writes under the lease), its chain paused."""
    server = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), server.url)
    data["clusters"]["cadence_s"] = CADENCE_S
    standby_state = f"tcp://127.0.0.1:{free_port()}"  # the standby's chain: in the topology only, never started
    clusterer_b = json.loads(json.dumps(data["actors"]["clusterer"]))
    clusterer_b.update(kind="clusterer", metrics_port=free_port())
    clusterer_b["sockets"]["state"]["bind"] = standby_state
    data["actors"]["clusterer_b"] = clusterer_b
    data["actors"]["state_writer_b"] = {**data["actors"]["state_writer"], "kind": "state_writer",
                                        "metrics_port": free_port(), "sockets": {"state": {"connect": standby_state}}}
    write_topology(tmp_path / "topology.yaml", data)
    relay = ReplyLosingRelay(server.port)
    path = write_topology(tmp_path / "state_writer.yaml", {**data, "redis": {"url": relay.url}})
    chain = Clusterer(data["actors"]["clusterer"]["sockets"]["state"]["bind"])
    chain.paused.set()
    proc = ActorProcess(path, "state_writer", kind="state_writer", log_dir=tmp_path)
    try:
        proc.start()
        proc.wait_serving(data["actors"]["state_writer"]["metrics_port"])
        yield {"redis": server.client(), "data": data, "proc": proc, "chain": chain, "relay": relay}
    finally:
        relay.close()
        if proc.proc is not None and proc.proc.poll() is None:
            os.kill(proc.proc.pid, signal.SIGCONT)
        proc.terminate()
        chain.close()
        server.stop()


@pytest.mark.parametrize("stored_age_s", [3600.0, 0.0], ids=["stored_stale", "stored_fresh"])
def test_a_free_lease_taken_by_a_call_whose_reply_was_lost_is_no_takeover_from_a_live_holder(tmp_path, stored_age_s):
    """The lease free, the stored state an hour old (the cluster side was down) or just written. The writer's first try
    at the lease times out while Redis is busy, and Redis takes the lease for it after. Before (revlease2) its next try
    found the lease held, by itself: beside the stale stored state it took it again as from a live holder writing stale
    states (p27_state_writer_lease_takeovers_total 1, the warning, P27StateWriterLeaseTakenOver firing for an hour with
    no other writer running); beside the fresh one it stood by until its own lease lapsed, then took another token."""
    with lone_writer_of_two(tmp_path) as system:
        r, data = system["redis"], system["data"]
        port = data["actors"]["state_writer"]["metrics_port"]
        stamp = time.time() - stored_age_s
        r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": int(stamp), "updated_ts_ms": int(stamp * 1000),
                                            "cluster_stress": 0.1, "clusters_count": 0})
        r.script_load(ACQUIRE_LEASE)  # loaded, as by any writer's earlier call: the queued EVALSHA runs
        r.script_load(RENEW_LEASE)
        assert scrape(port)["p27_state_writer_lease_held"] == 0
        system["relay"].armed = True
        system["chain"].paused.clear()  # a ready state within a cadence: the writer tries the lease
        wait_for(system["relay"].lost.is_set, 10, "the writer's first try at the lease")
        wait_for(lambda: "event=lease_unavailable" in system["proc"].log(), 10, "the writer's try timing out")
        taken = int(wait_for(lambda: r.get(keys.STATE_WRITER_FENCE), 10, "Redis to run the writer's lease script"))
        held = wait_for(lambda: scrape(port) if scrape(port)["p27_state_writer_lease_held"] == 1 else None,
                        20 * CADENCE_S, f"the writer to hold the lease\n{system['proc'].log()}")
        log = system["proc"].log()
        assert held["p27_state_writer_lease_takeovers_total"] == 0, log
        assert "event=lease_taken_from_a_holder_writing_stale_states" not in log, log
        assert held["p27_state_writer_lease_acquisitions_total"] == 1, log
        wait_for(lambda: r.xlen(keys.CLUSTER_STATE_STREAM) >= 2, 10 * CADENCE_S, "the writer's writes")
        tokens = {int(f["fence_token"]) for _i, f in r.xrange(keys.CLUSTER_STATE_STREAM)}
        assert tokens == {taken} and int(r.get(keys.STATE_WRITER_FENCE)) == taken, (tokens, taken, log)


def test_a_writer_that_takes_its_own_lease_back_counts_each_taking_as_an_acquisition(tmp_path):
    """p27_state_writer_lease_acquisitions_total counts every lease taken with a new token, the same writer's too: at
    its start, and again after it gave the lease up (its chain not ready for 1.5 cadences) with no other writer
    running. docs/monitoring.md said its sum over the writers was how often the lease changed hands (revlease2): here
    2, the lease never having left the one writer."""
    with lone_writer_of_two(tmp_path) as system:
        r, data = system["redis"], system["data"]
        port = data["actors"]["state_writer"]["metrics_port"]
        system["chain"].paused.clear()
        wait_for(lambda: scrape(port)["p27_state_writer_lease_held"] == 1, 20 * CADENCE_S, "the writer's lease")
        system["chain"].paused.set()
        wait_for(lambda: "event=lease_given_up_no_new_state" in system["proc"].log(), 20 * CADENCE_S,
                 "the writer to give the lease up")
        system["chain"].paused.clear()
        wait_for(lambda: scrape(port)["p27_state_writer_lease_held"] == 1, 20 * CADENCE_S, "the lease taken again")
        samples, log = scrape(port), system["proc"].log()
        assert samples["p27_state_writer_lease_acquisitions_total"] == 2, log
        assert samples["p27_state_writer_lease_takeovers_total"] == 0, log
        wait_for(lambda: len({f["fence_token"] for _i, f in r.xrange(keys.CLUSTER_STATE_STREAM)}) == 2,
                 10 * CADENCE_S, "the writes under the second token")
