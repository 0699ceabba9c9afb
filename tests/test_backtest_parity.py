"""Parity: one replay CSV through the live demo actors (replay source, real Redis, real ZeroMQ) and
through `clustergate backtest` gives the same cluster state per grid slot (1e-9)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from actors import keys
from helpers import ActorProcess, demo_topology_data, retarget, scrape, wait_for, write_topology
from launcher import backtest as backtest_module
from actors.buffer import decode_window

pytestmark = pytest.mark.integration

SLOTS = 50            # file slots of 1 s
LOOKBACK = 20
TICKS_PER_SLOT = 4    # at 0, 0.25, 0.5, 0.75 s into the slot, all at the slot's price
T0 = 1_700_000_000
POSITIONS = {"BTCUSDT": (0.5, 60000.0), "ETHUSDT": (8.0, 3000.0), "SOLUSDT": (-40.0, 150.0)}
P27_ACTORS = ("buffer", "correlator", "clusterer", "state_writer")


def replay_prices() -> np.ndarray:
    rng = np.random.default_rng(17)
    z = rng.normal(size=(3, SLOTS)) * 0.01
    z[1] += z[0]
    z[2] += np.where(np.arange(SLOTS) < SLOTS // 2, 0.2, 1.5) * z[0]  # SOL joins the BTC/ETH cluster
    return np.array([60000.0, 3000.0, 150.0])[:, None] * np.exp(np.cumsum(z, axis=1))


def live_grid(sock: zmq.Socket) -> dict[int, tuple[float, ...]]:
    """Every wall slot's prices (in POSITIONS order) from the buffer's published windows."""
    grid: dict[int, tuple[float, ...]] = {}
    while sock.poll(50):
        _topic, header, body = sock.recv_multipart()
        decoded = json.loads(header)
        symbols, prices = decode_window(decoded, body)
        rows = [symbols.index(s) for s in POSITIONS]
        for k in range(prices.shape[1]):
            grid[decoded["first_slot"] + k] = tuple(float(prices[r, k]) for r in rows)
    return grid


def disturbed_file_slots(grid: dict[int, tuple[float, ...]], prices: np.ndarray) -> set[int]:
    """File slots (0-based) whose prices the live grid does not hold as the file has them, once the grid
    is lined up with the file: a feed or buffer held up under load for most of a second moves a slot's
    ticks into the next wall slot (ticks carry the wall clock), and ZeroMQ's slow joiner can cost the
    first ticks. Also flags any price the grid holds before the file's first slot."""
    file_cols = {j: tuple(float(prices[i, j]) for i in range(len(POSITIONS))) for j in range(SLOTS)}
    offset = max(range(min(grid) - SLOTS, max(grid) + 1),
                 key=lambda o: sum(1 for j, col in file_cols.items() if grid.get(j + o) == col))
    disturbed = {j for j, col in file_cols.items() if grid.get(j + offset) != col}
    disturbed |= {j for j in range(-LOOKBACK - 1, 0)
                  if j + offset in grid and not all(np.isnan(grid[j + offset]))}
    return disturbed


def write_replay(path: Path) -> None:
    """One price per symbol per slot, repeated by each tick of the slot: a tick the wall clock puts
    in a neighbouring slot carries the same price as the ticks around it, so the live grid holds
    the file's prices whatever the replay's phase against the wall-clock slots."""
    prices = replay_prices()
    with open(path, "w") as fh:
        fh.write("ts,symbol,price\n")
        for j in range(SLOTS):
            for x in range(TICKS_PER_SLOT):
                for i, symbol in enumerate(POSITIONS):
                    fh.write(f"{T0 + j + x / TICKS_PER_SLOT},{symbol},{float(prices[i, j])!r}\n")


def wait_for_the_replays_last_tick(feed_port: int) -> int:
    """The wall slot (cadence 1 s) of the replay's last tick, once the feed has published every tick of the file."""
    def last_tick_ts() -> float | None:
        published = scrape(feed_port)
        sent = sum(v for k, v in published.items() if k.startswith("price_feed_ticks_total"))
        return max(v for k, v in published.items() if k.startswith("price_feed_last_tick_timestamp_seconds")) \
            if sent == SLOTS * TICKS_PER_SLOT * len(POSITIONS) else None
    return int(wait_for(last_tick_ts, SLOTS + 60, "the replay's last tick published"))


def test_the_live_actors_and_the_backtest_give_the_same_cluster_state_per_slot(tmp_path: Path, redis_server,
                                                                              monkeypatch):
    replay = tmp_path / "replay.csv"
    write_replay(replay)
    data = retarget(demo_topology_data(), redis_server.url)
    data["clusters"].update({"cadence_s": 1, "lookback_returns": LOOKBACK, "min_returns": 10, "corr_threshold": 0.6})
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "replay": {"path": str(replay), "speed": 1.0}}
    data["actors"]["buffer"].setdefault("settings", {})["persist"] = False
    topo = write_topology(tmp_path / "topology.yaml", data)
    r = redis_server.client()
    now = int(time.time())
    for symbol, (amt, mark) in POSITIONS.items():  # constant marks: the book actor would re-mark to each tick
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": mark, "ts_epoch": now})
    procs = [ActorProcess(topo, name).start() for name in P27_ACTORS]
    feed = None
    ctx = zmq.Context()
    windows = ctx.socket(zmq.SUB)  # the test reads the grid the live correlator gets, window by window
    windows.setsockopt(zmq.LINGER, 0)
    windows.setsockopt(zmq.RCVHWM, 0)
    windows.setsockopt(zmq.SUBSCRIBE, b"")
    windows.connect(data["actors"]["buffer"]["sockets"]["windows"]["bind"])
    try:
        buffer_port = data["actors"]["buffer"]["metrics_port"]
        wait_for(lambda: scrape(buffer_port).get("p27_windows_published_total", 0) >= 2, 30, "buffer publishing")
        wait_for(lambda: windows.poll(100), 30, "the test's subscription to the buffer's windows")
        wait_for(lambda: scrape(data["actors"]["state_writer"]["metrics_port"]), 30, "state writer up")
        feed = ActorProcess(topo, "price_feed").start()
        # The replay lasts SLOTS s. Once its last tick is out, the live states run up to the state of that
        # tick's slot, published at the slot's end (the stream is in slot order; later states, on the held
        # prices until they are older than max_price_age_s, have no file slot to be compared with).
        last_slot = wait_for_the_replays_last_tick(data["actors"]["price_feed"]["metrics_port"])

        def state_of_the_last_slot() -> bool:
            newest = r.xrevrange(keys.CLUSTER_STATE_STREAM, count=1)
            return bool(newest) and int(newest[0][1]["ts_epoch"]) - 1 >= last_slot
        wait_for(state_of_the_last_slot, 30, "the live state of the replay's last slot")
        live = {}
        for _id, fields in r.xrange(keys.CLUSTER_STATE_STREAM):
            clusters = {c["id"]: c["stress"] for c in json.loads(fields["clusters"])}
            live[int(fields["ts_epoch"]) - 1] = (float(fields["cluster_stress"]), clusters)  # published after slot
        accepted = sum(v for k, v in scrape(buffer_port).items() if k.startswith("buffer_ticks_accepted_total"))
        grid = live_grid(windows)
    finally:
        windows.close(0)
        ctx.term()
        if feed is not None:
            feed.terminate()
        for p in procs:
            p.terminate()
    # A subscriber misses what is published before its connection is up (ZeroMQ's slow joiner): up
    # to the first slot's first ticks, whose slot still gets its price from the ticks after them.
    assert accepted >= (SLOTS * TICKS_PER_SLOT - (TICKS_PER_SLOT - 1)) * len(POSITIONS), accepted

    positions = tmp_path / "positions.csv"
    positions.write_text("ts,symbol,position_amt,mark_price\n" + "".join(
        f"{T0 - 10},{s},{amt},{mark}\n" for s, (amt, mark) in POSITIONS.items()))
    # Small chunks, so that windows with gaps (the first ones) and without (the later chunks) both
    # go through the batch maths, as in a long history.
    monkeypatch.setattr(backtest_module, "CHUNK_SLOTS", 16)
    assert backtest_module.main([str(topo), "--prices", str(replay), "--positions", str(positions),
                                 "--out", str(tmp_path / "bt")]) == 0
    with open(tmp_path / "bt" / "states.csv", newline="") as fh:
        states = {int(row["slot"]): row for row in csv.DictReader(fh)}
    with open(tmp_path / "bt" / "clusters.csv", newline="") as fh:
        per_slot: dict[int, dict[str, float]] = {}
        for row in csv.DictReader(fh):
            per_slot.setdefault(int(row["slot"]), {})[row["id"]] = float(row["stress"])
    # The file's slots: the states after them (the held prices, until max_price_age_s) are compared in
    # test_backtest_review.py; live, a replay's last ticks carried into the next wall slot give that slot a price.
    ready = {s: float(row["cluster_stress"]) for s, row in states.items()
             if row["corr_ready"] == "1" and s < T0 + SLOTS}
    assert len(ready) >= SLOTS - 15
    # Only slots whose windows hold the file's prices exactly can be compared: ticks the slow joiner cost
    # (above) can leave the first slot without a price for a symbol (seen twice in CI under load), and a
    # feed or buffer held up for most of a second under load moves a slot's ticks into the next wall slot
    # (seen once in CI). The grid each live state came from is read off the buffer's own windows.
    missed = SLOTS * TICKS_PER_SLOT * len(POSITIONS) - accepted
    disturbed = disturbed_file_slots(grid, replay_prices())
    if disturbed:
        ready = {s: v for s, v in ready.items()
                 if not any(j in disturbed for j in range(s - T0 - LOOKBACK - 1, s - T0 + 1))}
        print(f"\nfile slots {sorted(disturbed)} not on the live grid as in the file ({missed:.0f} tick(s) missed at "
              f"the start): comparing the {len(ready)} slots whose windows hold none of them")

    # The live grid is the wall clock's: find the one slot offset that lines the two up, then every
    # slot both have must agree.
    def matches(offset: int) -> int:
        return sum(1 for s, v in ready.items() if s + offset in live and abs(live[s + offset][0] - v) <= 1e-9)
    offset = max(range(min(live) - max(ready), max(live) - min(ready) + 1), key=matches)
    both = [s for s in ready if s + offset in live]
    assert len(both) >= (SLOTS - 15 if not disturbed else 8), (len(both), offset, sorted(disturbed))
    for s in both:
        stress, clusters = live[s + offset]
        assert stress == pytest.approx(ready[s], abs=1e-9), (s, offset, clusters, per_slot.get(s), states[s])
        assert clusters.keys() == per_slot.get(s, {}).keys(), s
        for cid, value in clusters.items():
            assert value == pytest.approx(per_slot[s][cid], abs=1e-9), (s, cid)
    if not disturbed:  # (a disturbance can leave only the slots of one membership to compare)
        assert len({frozenset(live[s + offset][1]) for s in both}) >= 2  # membership changed on the way
