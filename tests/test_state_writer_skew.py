"""rev-skew: the state writer's state_clock_skew log and its check of a state's ts, against a real state writer,
gate and permit issuer on a real Redis; the clusterer is a real PUB socket on its endpoint, stamping states as told."""

from __future__ import annotations

import contextlib
import json
import math
import time
from typing import Any, Callable

import pytest

from actors import keys
from actors.clusterer import STATE_TOPIC
from launcher.client import GateClient
from helpers import ActorProcess, RedisServer, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from test_ha_standby import Clusterer, state

CADENCE_S = 1.0  # the writer's own window, 2 x cadence, is 2 s; the gates' are set apart from it
SEND_EVERY_S = 0.1


class StampingClusterer(Clusterer):
    """test_ha_standby's stand-in clusterer (a real PUB socket on the state endpoint), sending every cadence the
    state message of stamp(now), or nothing when stamp returns None; stamp returns the ts, or (ts, ready)."""

    stamp: Callable[[float], Any] = staticmethod(lambda now: now)

    def _run(self) -> None:
        while not self._stop.wait(self.cadence_s):
            stamped = self.stamp(time.time())
            if stamped is None:
                continue
            ts, ready = stamped if isinstance(stamped, tuple) else (stamped, True)
            self.seq += 1
            message = {**state(self.seq), "ts": ts, "ready": ready}
            self.sock.send_multipart([STATE_TOPIC, json.dumps(message).encode()])


@contextlib.contextmanager
def writer_and_gate(tmp_path, gate_freshness_s: float | None):
    """A real state writer, gate and permit issuer at a 1 s cadence; the gate's freshness_s as given (None: SPEC's
    2 x cadence); BTCUSDT and ETHUSDT held, with fresh snapshots."""
    server = RedisServer(tmp_path / "redis").start()
    clusterer, procs, client = None, {}, None
    try:
        data = retarget(demo_topology_data(), server.url)
        data["clusters"]["cadence_s"] = CADENCE_S
        data["actors"]["gate"]["settings"] = {} if gate_freshness_s is None else {"freshness_s": gate_freshness_s}
        path = write_topology(tmp_path / "topology.yaml", data)
        r = server.client()
        for symbol, amt in {"BTCUSDT": 0.5, "ETHUSDT": 8.0}.items():  # fresh for the stale_after window (300 s)
            r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": 100.0,
                                                           "ts_epoch": int(time.time())})
        clusterer = StampingClusterer(data["actors"]["clusterer"]["sockets"]["state"]["bind"], SEND_EVERY_S)
        for name in ("state_writer", "permit_issuer", "gate"):
            procs[name] = ActorProcess(path, name, log_dir=tmp_path).start()
        client = GateClient(data["actors"]["gate"]["sockets"]["proposals"]["bind"], timeout_ms=3000, retries=2)
        yield {"redis": r, "procs": procs, "data": data, "clusterer": clusterer, "client": client,
               "writer_port": data["actors"]["state_writer"]["metrics_port"]}
    finally:
        if client is not None:
            client.close()
        for proc in procs.values():
            proc.terminate()
        if clusterer is not None:
            clusterer.close()
        server.stop()


def k_source(system) -> str:
    return system["client"].propose("BTCUSDT", "HOLD")["decision"]["k_source"]


def skew_lines(system) -> list[str]:
    return [x for x in system["procs"]["state_writer"].log().splitlines() if "event=state_clock_skew " in x]


def writer_log(system) -> str:
    return system["procs"]["state_writer"].log()


def test_a_state_older_than_the_gates_own_freshness_window_is_named_while_the_gate_falls_back(tmp_path):
    """The gate's freshness_s is 1 s (one cadence), the writer judged by its own 2 x cadence: states 1.5 s old on
    arrival put the gate on the proxy for as long as they came, and the writer logged nothing."""
    with writer_and_gate(tmp_path, gate_freshness_s=1.0) as system:
        wait_for(lambda: k_source(system) == "cluster", 30, f"the gate on the cluster state\n{writer_log(system)}")
        system["clusterer"].stamp = lambda now: now - 1.5
        wait_for(lambda: k_source(system) == "proxy", 10, "the gate on the proxy")
        wait_for(lambda: skew_lines(system), 10, f"the state writer to name the skew\n{writer_log(system)}")
        line = skew_lines(system)[0]
        age_s = float(line.split("state_age_s=")[1].split()[0])
        assert " error " in line and "freshness_s=1.0" in line and 1.5 <= age_s < 2.0, line  # inside 2 x cadence
        system["clusterer"].stamp = lambda now: now
        wait_for(lambda: "event=state_clock_skew_ended" in writer_log(system), 10, "the end of the skew logged")
        wait_for(lambda: k_source(system) == "cluster", 10, "the gate on the cluster state again")
        assert len(skew_lines(system)) == 1, skew_lines(system)  # once per episode


def test_a_gate_without_freshness_s_falls_back_to_the_proxy_past_two_cadences_and_returns(tmp_path):
    """A gate with no freshness_s judges the cluster state by SPEC's 2 x cadence_s of the topology (2 s here), not by
    a window of its own: states 2.5 s old put it on the proxy, fresh ones bring it back."""
    with writer_and_gate(tmp_path, gate_freshness_s=None) as system:
        wait_for(lambda: k_source(system) == "cluster", 30, f"the gate on the cluster state\n{writer_log(system)}")
        system["clusterer"].stamp = lambda now: now - 2.5
        wait_for(lambda: k_source(system) == "proxy", 10, "the gate on the proxy with states 2.5 s old")
        system["clusterer"].stamp = lambda now: now - 1.5  # within 2 x cadence
        wait_for(lambda: k_source(system) == "cluster", 10, "the gate on the cluster state 1.5 s old")


def test_a_state_within_the_gates_own_wider_freshness_window_is_not_named_skew(tmp_path):
    """The gate's freshness_s is 3 s (the demo's), the writer judged by its own 2 s: states 2.5 s old were logged as
    a fallback (state_clock_skew, error) while the gate decided on the cluster state throughout."""
    with writer_and_gate(tmp_path, gate_freshness_s=3.0) as system:
        wait_for(lambda: k_source(system) == "cluster", 30, f"the gate on the cluster state\n{writer_log(system)}")
        system["clusterer"].stamp = lambda now: now - 2.5
        written = scrape(system["writer_port"])["p27_updates_total"]
        wait_for(lambda: scrape(system["writer_port"])["p27_updates_total"] >= written + 10, 10,
                 "ten states 2.5 s old written")
        assert [k_source(system) for _ in range(5)] == ["cluster"] * 5
        assert not skew_lines(system), skew_lines(system)


def test_a_state_stamped_in_a_whole_second_not_yet_begun_is_named_skew_though_under_a_second_ahead(tmp_path):
    """A state stamped 0.75-0.95 s ahead, in the next whole second, is refused by the gate (updated_ts is after its
    now) until that second begins; the writer tolerated a whole second ahead and logged nothing."""
    with writer_and_gate(tmp_path, gate_freshness_s=None) as system:
        wait_for(lambda: k_source(system) == "cluster", 30, f"the gate on the cluster state\n{writer_log(system)}")
        sent: list[float] = []

        def one_state_ahead(now: float) -> float | None:
            if sent:
                return now
            if not 0.1 <= now % 1 <= 0.3:
                return None  # nothing sent until the stamp can be in the next second and under a second ahead
            sent.append(math.floor(now) + 1.05)
            return sent[0]

        system["clusterer"].stamp = one_state_ahead
        wait_for(lambda: skew_lines(system), 10, f"the state writer to name the skew\n{writer_log(system)}")
        line = skew_lines(system)[0]
        assert "state_age_s=-0." in line and f"updated_ts={math.floor(sent[0])}" in line, line
        wait_for(lambda: "event=state_clock_skew_ended" in writer_log(system), 10, "the end of the skew logged")


def test_a_chain_under_a_second_ahead_is_named_once_not_at_each_state_it_sends_in_a_second_not_yet_begun(tmp_path):
    """States stamped 0.7 s ahead: each is in a whole second not yet begun (refused by the gate) for 0.7 s of every
    second and not for the rest. Before (leasemetric) the writer logged state_clock_skew and state_clock_skew_ended
    at each change, twice a second for as long as it lasted; now one episode, ended once states have come fresh for a
    whole gate window, the end line counting the states refused in it. That one line left a skew going on for a day
    with no trace after its start (revlease2): p27_state_writer_clock_skewed_states_total counts each such state as it
    arrives, exported as 0 from the start."""
    with writer_and_gate(tmp_path, gate_freshness_s=None) as system:
        port = system["writer_port"]
        wait_for(lambda: k_source(system) == "cluster", 30, f"the gate on the cluster state\n{writer_log(system)}")
        assert scrape(port)["p27_state_writer_clock_skewed_states_total"] == 0
        system["clusterer"].stamp = lambda now: now + 0.7
        wait_for(lambda: skew_lines(system), 10, f"the state writer to name the skew\n{writer_log(system)}")
        written = scrape(port)["p27_updates_total"]
        wait_for(lambda: scrape(port)["p27_updates_total"] >= written + 40, 20,
                 "40 more states 0.7 s ahead written (4 s: each second some in a second not yet begun, some not)")
        assert len(skew_lines(system)) == 1, skew_lines(system)
        assert "event=state_clock_skew_ended" not in writer_log(system), writer_log(system)
        system["clusterer"].stamp = lambda now: now
        wait_for(lambda: "event=state_clock_skew_ended" in writer_log(system), 10, "the end of the skew logged")
        ended = [x for x in writer_log(system).splitlines() if "event=state_clock_skew_ended" in x]
        assert len(skew_lines(system)) == 1 and len(ended) == 1, (skew_lines(system), ended)
        skewed = int(ended[0].split("skewed_states=")[1].split()[0])
        assert skewed >= 20, ended  # 0.7 of 40 and more, in one episode
        assert scrape(port)["p27_state_writer_clock_skewed_states_total"] == skewed, (ended, scrape(port))


BAD_TS = [1e306, 1e300, float("nan"), float("inf"), -1.0, "1800000000.5", True, None, 10 ** 400]


def test_a_state_whose_ts_is_not_epoch_seconds_is_refused_as_bad_state_and_the_writer_keeps_writing(tmp_path):
    """A ready state with ts 1e306 passed the writer's finite check and overflowed in queue_writes (ts x 1000 is
    inf): a handler error per state, counted nowhere. Each of these is refused, counted bad_state and logged."""
    with writer_and_gate(tmp_path, gate_freshness_s=None) as system:
        port = system["writer_port"]
        wait_for(lambda: k_source(system) == "cluster", 30, f"the gate on the cluster state\n{writer_log(system)}")
        bad_before = scrape(port)['p27_fail_closed_total{reason="bad_state"}']
        queue = [(ts, True) for ts in BAD_TS] + [(1e306, False)]  # a not-ready one: its ts is as bad

        def bad_then_fresh(now: float) -> Any:
            return queue.pop(0) if queue else now

        system["clusterer"].stamp = bad_then_fresh
        wait_for(lambda: not queue, 10, "every bad state sent")
        written = scrape(port)["p27_updates_total"]
        wait_for(lambda: scrape(port)["p27_updates_total"] >= written + 3, 10, "fresh states written after them")
        log = writer_log(system)
        assert scrape(port)['p27_fail_closed_total{reason="bad_state"}'] - bad_before == len(BAD_TS) + 1, log
        assert "handler_error" not in log and "event=state_clock_skew" not in log, log
        assert log.count("event=bad_state ") == len(BAD_TS) + 1 and "not epoch seconds" in log, log
        assert system["procs"]["state_writer"].proc.poll() is None
        assert k_source(system) == "cluster"


# --------------------------------------------------------------------------- the topology's gate windows


def two_gates(freshness_a: float | None, freshness_b: float | None) -> dict[str, Any]:
    data = retarget(demo_topology_data(), "redis://127.0.0.1:1/0")
    data["clusters"]["cadence_s"] = CADENCE_S
    gate_b = json.loads(json.dumps(data["actors"]["gate"]))
    gate_b["metrics_port"] = free_port()
    gate_b["sockets"]["proposals"]["bind"] = f"tcp://127.0.0.1:{free_port()}"
    data["actors"]["gate_b"] = {**gate_b, "kind": "gate"}
    for name, freshness in (("gate", freshness_a), ("gate_b", freshness_b)):
        data["actors"][name]["settings"] = {} if freshness is None else {"freshness_s": freshness}
    return data


@pytest.mark.parametrize("freshness_a, freshness_b, strictest", [(3.0, 1.5, 1.5), (None, 5.0, 2.0), (None, None, 2.0)])
def test_the_skew_log_judges_by_the_smallest_freshness_window_of_the_topologys_gates(tmp_path, freshness_a,
                                                                                    freshness_b, strictest):
    from launcher.topology import load_topology

    topo = load_topology(write_topology(tmp_path / "topology.yaml", two_gates(freshness_a, freshness_b)))
    assert topo.strictest_gate_freshness_s == strictest
    assert topo.gate_freshness_s("gate") == (2.0 if freshness_a is None else freshness_a)


def test_a_gates_freshness_change_restarts_the_state_writer_when_it_moves_the_smallest_window(tmp_path):
    """The writer's skew log is judged by the smallest of the gates' windows: `up` restarts it (with the gate)
    when a change moves that window, and leaves it running when it does not."""
    from launcher.supervise import actor_config_hash
    from launcher.topology import load_topology

    data = two_gates(3.0, None)

    def hashes(freshness_b: float) -> dict[str, str]:
        data["actors"]["gate_b"]["settings"] = {"freshness_s": freshness_b}
        topo = load_topology(write_topology(tmp_path / "topology.yaml", data))
        return {name: actor_config_hash(topo, name) for name in topo.actors}

    def restarted(a: float, b: float) -> set[str]:
        before, after = hashes(a), hashes(b)
        return {n for n in before if before[n] != after[n]}

    assert restarted(2.5, 1.5) == {"gate_b", "state_writer"}
    assert restarted(4.0, 5.0) == {"gate_b"}  # the smallest window stays gate's 3 s


def test_a_state_writer_whose_write_finds_redis_back_first_says_so_in_its_log(tmp_path):
    """Redis stopped under a real state writer, then started again: the writer's log ended on its outage lines
    (redis_unavailable, state_not_written) while it wrote every state again and was ready, because the write that
    found Redis back set it answering without the redis_ready line its once-a-cadence check logs. Here the states
    come every 0.1 s and the check runs every 10 s, so a write finds Redis back first."""
    from test_ha_standby import Clusterer
    server = RedisServer(tmp_path / "redis").start()
    clusterer, writer = None, None
    try:
        data = retarget(demo_topology_data(), server.url)
        data["clusters"]["cadence_s"] = 10
        data["actors"]["gate"]["settings"] = {}  # the demo's freshness_s (3 s) is shorter than this cadence
        path = write_topology(tmp_path / "topology.yaml", data)
        port = data["actors"]["state_writer"]["metrics_port"]
        clusterer = Clusterer(data["actors"]["clusterer"]["sockets"]["state"]["bind"], SEND_EVERY_S)
        writer = ActorProcess(path, "state_writer", log_dir=tmp_path).start()
        wait_for(lambda: (scrape(port).get("p27_updates_total") or 0) >= 3, 15, "states written")
        server.stop()
        wait_for(lambda: "event=state_not_written" in writer.log(), 10, f"a write refused\n{writer.log()}")
        server.start()
        written = scrape(port).get("p27_updates_total") or 0
        wait_for(lambda: (scrape(port).get("p27_updates_total") or 0) > written + 3, 10, "states written again")

        def said_back() -> bool:
            lines = writer.log().splitlines()
            last_down = max(i for i, x in enumerate(lines) if "event=state_not_written" in x or "event=redis_unavailable" in x)
            return any("event=redis_ready" in x for x in lines[last_down + 1:])
        wait_for(said_back, 3, f"redis_ready logged after the outage\n{writer.log()[-3000:]}")
    finally:
        if writer is not None:
            writer.terminate()
        if clusterer is not None:
            clusterer.close()
        server.stop()
