"""A standby cluster side whose lease holder's host clock runs behind or ahead (revha3): two real state writers on a real
Redis, each fed by its own chain (a stand-in clusterer on a real PUB socket); the holder's chain stamps its states
with a clock 30 s off, the standby's with the right one. Every state the holder writes is stale to every gate
(SPEC: older than the freshness window; or, its clock ahead, from the future), while the standby has a fresh state
every cadence."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time

import pytest
import zmq

from actors import keys
from actors.clusterer import STATE_TOPIC
from actors.freshness import cluster_state_time_s
from helpers import ActorProcess, RedisServer, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from test_ha_standby import state

CADENCE_S = 0.5
OFF_S = 30.0  # how far the holder's host clock is off the right time: far more than any freshness window


class StampingClusterer:
    """One chain's clusterer: a real PUB socket, a ready state every cadence stamped with its host's clock
    (the right time plus offset_s)."""

    def __init__(self, endpoint: str, offset_s: float):
        self.sock = zmq.Context.instance().socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.offset_s = offset_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.wait(CADENCE_S):
            seq += 1
            message = {**state(seq), "ts": time.time() + self.offset_s}
            self.sock.send_multipart([STATE_TOPIC, json.dumps(message).encode()])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close(linger=0)


@contextlib.contextmanager
def holder_off(tmp_path, offset_s: float, standby_offset_s: float = 0.0):
    """state_writer (its chain's clock offset_s off the right time) takes the lease first; then state_writer_b (its
    chain's clock standby_offset_s off: right by default)."""
    server = RedisServer(tmp_path / "redis").start()
    data = retarget(demo_topology_data(), server.url)
    data["clusters"]["cadence_s"] = CADENCE_S
    standby_state = f"tcp://127.0.0.1:{free_port()}"
    clusterer_b = json.loads(json.dumps(data["actors"]["clusterer"]))  # in the topology only: a stand-in binds its port
    clusterer_b.update(kind="clusterer", metrics_port=free_port())
    clusterer_b["sockets"]["state"]["bind"] = standby_state
    data["actors"]["clusterer_b"] = clusterer_b
    data["actors"]["state_writer_b"] = {**data["actors"]["state_writer"], "kind": "state_writer",
                                        "metrics_port": free_port(), "sockets": {"state": {"connect": standby_state}}}
    path = write_topology(tmp_path / "topology.yaml", data)
    chains = [StampingClusterer(data["actors"]["clusterer"]["sockets"]["state"]["bind"], offset_s),
              StampingClusterer(standby_state, standby_offset_s)]
    procs: dict[str, ActorProcess] = {}
    try:
        procs["state_writer"] = ActorProcess(path, "state_writer", kind="state_writer", log_dir=tmp_path).start()
        procs["state_writer"].wait_serving(data["actors"]["state_writer"]["metrics_port"])
        wait_for(lambda: lease_held(data, "state_writer") == 1, 20, "state_writer to hold the lease")
        procs["state_writer_b"] = ActorProcess(path, "state_writer_b", kind="state_writer", log_dir=tmp_path).start()
        procs["state_writer_b"].wait_serving(data["actors"]["state_writer_b"]["metrics_port"])
        yield {"redis": server.client(), "data": data, "procs": procs}
    finally:
        for proc in procs.values():
            if proc.proc is not None and proc.proc.poll() is None:
                os.kill(proc.proc.pid, signal.SIGCONT)
            proc.terminate()
        for chain in chains:
            chain.close()
        server.stop()


def lease_held(data: dict, name: str) -> float | None:
    return scrape(data["actors"][name]["metrics_port"]).get("p27_state_writer_lease_held")


def stored_age_s(r) -> float | None:
    """The stored cluster state's age by Redis's clock, as a gate with the right clock times it."""
    stored_ts, stored_ms = r.hmget(keys.CLUSTER_STATE, "updated_ts", "updated_ts_ms")
    if stored_ts is None:
        return None
    seconds, micros = r.time()
    return seconds + micros / 1e6 - cluster_state_time_s(float(stored_ts), stored_ms)


@pytest.mark.parametrize("offset_s", [-OFF_S, OFF_S], ids=["behind", "ahead"])
def test_a_lease_holder_whose_states_are_stale_by_its_clock_gives_way_to_a_standby_with_fresh_states(tmp_path, offset_s):
    with holder_off(tmp_path, offset_s) as system:
        r, data = system["redis"], system["data"]
        window_s = 2 * CADENCE_S  # SPEC's freshness window: the demo's gate has no freshness_s
        # Before the fix the holder kept the lease for good, renewing it with every stale write: the state stayed
        # 30 s old (or 30 s ahead: from the future), every gate on the proxy, beside a standby fresh every cadence.
        wait_for(lambda: 0 <= (stored_age_s(r) or OFF_S) <= window_s, 20 * CADENCE_S,
                 "the stored cluster state to be fresh again (the standby holding the lease)")
        # (the old holder's gauge reads 1 until its next lease tick or write finds the lease gone: a quarter cadence)
        wait_for(lambda: lease_held(data, "state_writer_b") == 1 and lease_held(data, "state_writer") == 0,
                 4 * CADENCE_S, "the standby alone to say it holds the lease")
        # ... and it stays so: the old holder, whose states are still stale, does not take the lease back.
        taken_at = r.xrevrange(keys.CLUSTER_STATE_STREAM, count=1)[0][1]["fence_token"]
        deadline = time.monotonic() + 10 * CADENCE_S
        while time.monotonic() < deadline:
            # (far from the 30 s a write of the old holder's would leave; a loaded machine delays a write by a cadence)
            assert 0 <= (stored_age_s(r) or OFF_S) <= 5 * window_s
            time.sleep(CADENCE_S / 2)
        tokens = [int(f["fence_token"]) for _i, f in r.xrange(keys.CLUSTER_STATE_STREAM)]
        after = tokens[tokens.index(int(taken_at)):]
        assert set(after) == {int(taken_at)}, tokens  # one writer since the takeover: no record of the old token


def test_two_writers_off_in_opposite_directions_by_less_than_the_margin_do_not_trade_the_lease(tmp_path):
    """The holder's chain 2.8 s behind (its states older than the demo gate's 3 s window, the margin, when more than
    0.2 s old), the standby's 0.7 s ahead (from a second yet to come for most of each second): both are stale to the
    gates at some ticks and fresh at others, 3.5 s apart. Before (revlease): the lease went back and forth several times a second,
    each taker fencing the other (a new token, a warning each), the stored state alternating between the two."""
    with holder_off(tmp_path, -2.8, standby_offset_s=0.7) as system:
        r = system["redis"]
        wait_for(lambda: r.xlen(keys.CLUSTER_STATE_STREAM) >= 3, 20 * CADENCE_S, "the holder's first writes")
        time.sleep(8 * CADENCE_S)  # (the flap took the lease twice a second)
        tokens = [int(f["fence_token"]) for _i, f in r.xrange(keys.CLUSTER_STATE_STREAM)]
        assert len(set(tokens)) <= 2, tokens  # at most one takeover, never back and forth


def test_a_takeover_from_a_live_holder_is_counted_by_the_writer_that_took_it(tmp_path):
    """The holder's chain 30 s behind, the standby's right: the standby takes the lease from the live holder. Before
    (leasemetric) the takeover was a log line only: no series showed that the lease moved from a live holder, nor how
    often. Both counters are exported from each writer's start (0), and only the taker counts the takeover."""
    with holder_off(tmp_path, -OFF_S) as system:
        r, data = system["redis"], system["data"]
        holder = scrape(data["actors"]["state_writer"]["metrics_port"])
        assert holder["p27_state_writer_lease_takeovers_total"] == 0, holder  # the holder took a free lease
        assert holder["p27_state_writer_lease_acquisitions_total"] >= 1, holder
        wait_for(lambda: 0 <= (stored_age_s(r) or OFF_S) <= 2 * CADENCE_S, 20 * CADENCE_S,
                 "the stored cluster state to be fresh again (the standby holding the lease)")
        standby = wait_for(lambda: counted(data, "state_writer_b", "p27_state_writer_lease_takeovers_total"),
                           4 * CADENCE_S, "the standby to count its takeover")
        log = system["procs"]["state_writer_b"].log()
        takeovers = standby["p27_state_writer_lease_takeovers_total"]
        assert takeovers == log.count("event=lease_taken_from_a_holder_writing_stale_states") >= 1, (standby, log)
        assert standby["p27_state_writer_lease_acquisitions_total"] >= takeovers, (standby, log)
        holder = scrape(data["actors"]["state_writer"]["metrics_port"])
        assert holder["p27_state_writer_lease_takeovers_total"] == 0, holder


def counted(data: dict, name: str, series: str) -> dict[str, float] | None:
    """The writer's scrape once `series` is above 0, else None."""
    samples = scrape(data["actors"][name]["metrics_port"])
    return samples if (samples.get(series) or 0) > 0 else None
