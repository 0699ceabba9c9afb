"""rev-book: the numbers an operator relies on, from the inputs in (the book, the price feeds, the cluster side), each
defect reproduced first against real processes (redis-server, supervisord, the actors)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import demo_topology_data, retarget, scrape, wait_for, write_topology
from test_ops_review import clustergate, up_demo


def test_status_names_a_gate_with_no_fresh_position_snapshot_whose_every_decision_is_a_hold(tmp_path: Path) -> None:
    """rev-book: a desk's topology (no book) whose execution layer stopped writing its positions (every snapshot older
    than stale_after_s), or writes them under another key_pattern (SPEC: the later stack renamed it
    quantum:state:positions:{symbol}): the gate answered every proposal HOLD fail_closed_portfolio_state, and `clustergate
    status` showed every program ready, the cluster state fresh, "gate K from: cluster", and exited 0; no line named the
    positions (with no snapshot at all the gate exports no p26_snapshot_age_seconds: P26SnapshotsStale cannot fire)."""
    import time
    home = tmp_path / "home"
    data = retarget(demo_topology_data())
    del data["actors"]["book"]
    data["positions"]["key_pattern"] = "quantum:state:positions:{symbol}"
    topo_path = write_topology(tmp_path / "desk.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        # No snapshot at all: said, not a fault (a flat desk whose execution layer deletes them has nothing to exit).
        status = clustergate("status", "--home", str(home))
        line = next((x for x in status.stdout.splitlines() if x.startswith("gate: no position snapshot under")), None)
        assert line is not None, status.stdout
        assert "quantum:state:positions:{symbol} (0 of 3 symbols)" in line and "HOLD (fail_closed_portfolio_state)" in line
        assert status.returncode == 0, status.stdout + status.stderr
        decided = clustergate("propose", "--home", str(home), "--symbol", "ETHUSDT", "--action", "PARTIAL_50")
        assert '"fail_closed_portfolio_state"' in decided.stdout, decided.stdout + decided.stderr
        # A position whose snapshot went stale: the desk cannot exit it, status exits 1.
        import redis
        client = redis.Redis(port=data["redis"]["port"])  # the system's managed Redis
        client.hset("quantum:state:positions:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000",
                                                                "ts_epoch": str(int(time.time()) - 400)})
        client.close()
        line = no_fresh_snapshot_line(home)
        assert "1 of 3 symbols have one under quantum:state:positions:{symbol}" in line, line
        assert "HOLD (fail_closed_portfolio_state)" in line, line
        said = json.loads(clustergate("status", "--home", str(home), "--json").stdout)
        gate = next(row for row in said["programs"] if row["name"] == "gate")
        assert (gate["positions"]["fresh"], gate["positions"]["dated"], gate["positions"]["ok"]) == (0, 1, False), gate
        set_ = clustergate("positions", "set", "ETHUSDT", "--amount", "2", "--mark-price", "3000", "--home", str(home))
        assert set_.returncode == 0, set_.stdout + set_.stderr
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 60,
                 "status to exit 0 once a snapshot is fresh")
        status = clustergate("status", "--home", str(home))
        assert "position snapshot" not in status.stdout, status.stdout
        # Fresh snapshots whose notionals sum past a float's range: the gate fails closed on them too.
        for symbol in ("BTCUSDT", "ETHUSDT"):
            set_ = clustergate("positions", "set", symbol, "--amount", "1e304", "--mark-price", "10000", "--home",
                               str(home))
            assert set_.returncode == 0, set_.stdout + set_.stderr
        status = wait_for(lambda: (s := clustergate("status", "--home", str(home))).returncode == 1 and s, 30,
                          "status to exit 1 on notionals past a float's range")
        assert "gate: the fresh position snapshots' notionals sum past a float's range" in status.stdout, status.stdout
    finally:
        clustergate("down", "--home", str(home))


def without_symbol(data: dict, symbol: str) -> dict:
    """The demo topology with `symbol` taken out of the allowlist and of every setting that names it."""
    import copy
    data = copy.deepcopy(data)
    data["symbols"] = [s for s in data["symbols"] if s != symbol]
    syn = data["actors"]["price_feed"]["settings"]["synthetic"]
    for key in ("start_prices", "volatility"):
        syn[key].pop(symbol, None)
    syn["correlation"] = {pair: rho for pair, rho in syn["correlation"].items() if symbol not in pair.split("/")}
    data["actors"]["book"]["settings"]["positions"].pop(symbol, None)
    return data


def test_an_up_that_takes_a_held_symbol_out_of_the_allowlist_says_the_gates_no_longer_count_its_position(
        tmp_path: Path) -> None:
    """rev-book: `up` of the demo with SOLUSDT taken out of `symbols` while its snapshot was fresh and held (short
    -40): the gates read only allowlisted snapshots, so the book's heat, concentration, corr_proxy and stress dropped
    the short at once (concentration 0.81 -> 1.0, stress 0.91 -> 0.98 on the demo), and `up` said only `restarted
    [...]`; status and `positions list` show allowlisted symbols alone, so nothing said the position was no longer
    counted."""
    home, data, topo_path, up = up_demo(tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: "SOLUSDT" in clustergate("positions", "list", "--home", str(home)).stdout
                 and "fresh" in next(x for x in clustergate("positions", "list", "--home", str(home)).stdout.splitlines()
                                     if x.startswith("SOLUSDT")), 30, "SOLUSDT's snapshot to be fresh")
        write_topology(topo_path, without_symbol(data, "SOLUSDT"))
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        line = next((x for x in up.stdout.splitlines() if x.startswith("SOLUSDT left symbols")), None)
        assert line is not None, up.stdout
        assert "quantum:position:snapshot:SOLUSDT" in line and "short" in line, line
        assert "no longer count" in line, line
        # An up that changes nothing else says nothing of a symbol it did not take out.
        again = clustergate("up", str(topo_path), "--home", str(home))
        assert again.returncode == 0 and "left symbols" not in again.stdout, again.stdout
    finally:
        clustergate("down", "--home", str(home))


def test_status_says_a_replay_feed_that_finished_its_file_publishes_no_price_again(tmp_path: Path, redis_server) -> None:
    """rev-book: a replay feed with `loop: false` reached its file's last row and went on publishing heartbeats alone,
    RUNNING and ready; every price went stale, the cluster state stopped and the gate fell back to the proxy, and
    status said each held symbol had no newer price "until it ticks", which it never would: nothing named the feed or
    its finished replay (its log's event=replay_finished alone)."""
    from helpers import ActorProcess
    from launcher.overview import collect_overview, render_overview
    from launcher.topology import load_topology

    rows = "".join(f"{1_796_400_000 + i},{60000 + 10 * (i % 7)},{3000 + i % 5},{150 + i % 3}\n" for i in range(100))
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT,ETHUSDT,SOLUSDT\n" + rows)
    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("price_feed", "buffer")}
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "heartbeat_s": 0.5,
                                                "replay": {"path": "prices.csv", "speed": 20, "loop": False}}
    topo_path = write_topology(tmp_path / "topology.yaml", data)
    topo = load_topology(topo_path)
    buffer = ActorProcess(topo_path, "buffer").start()
    feed = None
    try:
        # The buffer subscribed before the feed starts: a loaded machine must not let the whole file go by unheard.
        wait_for(lambda: (scrape(data["actors"]["buffer"]["metrics_port"]) or {}).get(
            'clustergate_actor_ready{actor="buffer",kind="buffer"}') == 1, 30, f"the buffer ready\n{buffer.log()}")
        feed = ActorProcess(topo_path, "price_feed").start()
        def text() -> str:
            return render_overview(topo, collect_overview(topo))
        wait_for(lambda: "newest price accepted by the buffer: none" not in text(), 30,
                 f"the buffer to accept a price\n{feed.log()}")
        shown = wait_for(lambda: (t := text()) and "(STALE;" in t and t, 30, "the newest price to go stale")
        line = next((x for x in shown.splitlines() if "price_feed:" in x and "replay" in x), None)
        assert line is not None, shown
        assert "loop: false" in line and "finished" in line and "heartbeats" in line, line
    finally:
        if feed is not None:
            feed.terminate()
        buffer.terminate()


def test_a_hand_set_position_leaves_no_notional_that_outlives_the_execution_layers_next_update(
        tmp_path: Path, redis_server) -> None:
    """rev-book: `clustergate positions set ETHUSDT --amount 2 --mark-price 3000` wrote notional_usd=6000 beside SPEC's
    fields; the execution layer's next update of the snapshot (HSET position_amt 10, mark_price, ts_epoch: notional_usd
    is optional) left it there, and since notional_usd wins over |position_amt x mark_price| (SPEC) the gate counted a
    fresh 10 x 3000 position as 6,000 (p26_total_abs_notional 6000), weights, heat and stress with it, until someone
    deleted the field; `positions list` showed amount 10, mark 3000, notional 6,000, fresh."""
    import time

    from helpers import ActorProcess

    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("gate", "permit_issuer")}
    topo_path = write_topology(tmp_path / "desk.yaml", data)
    key = "quantum:position:snapshot:ETHUSDT"
    client = redis_server.client()

    def listed() -> dict:
        said = clustergate("positions", "list", "--json", "--topology", str(topo_path))
        return {r["symbol"]: r for r in json.loads(said.stdout)}["ETHUSDT"]

    # The execution layer's snapshot with its notional_usd; the operator's hand set replaces the position whole.
    client.hset(key, mapping={"position_amt": "5", "mark_price": "3000", "notional_usd": "15000",
                              "ts_epoch": str(int(time.time()))})
    set_ = clustergate("positions", "set", "ETHUSDT", "--amount", "2", "--mark-price", "3000", "--topology",
                       str(topo_path))
    assert set_.returncode == 0, set_.stdout + set_.stderr
    assert listed()["notional"] == 6_000, listed()
    # The execution layer's next update, without the optional notional_usd.
    client.hset(key, mapping={"position_amt": "10", "mark_price": "3000", "ts_epoch": str(int(time.time()))})
    gate = ActorProcess(topo_path, "gate").start()
    try:
        port = data["actors"]["gate"]["metrics_port"]
        gate.wait_serving(port)
        total = wait_for(lambda: (scrape(port) or {}).get("p26_symbols_with_snapshot") == 1
                         and scrape(port).get("p26_total_abs_notional"), 30, f"the gate to read the snapshot\n{gate.log()}")
        assert total == 30_000, total
        assert listed()["notional"] == 30_000, listed()
    finally:
        gate.terminate()


def test_validate_names_an_infinite_start_price_once_not_as_a_zero_too(tmp_path: Path) -> None:
    """rev-book: `start_prices: {SOLUSDT: .inf}` was refused in two lines, the second `must be > 0, got 0.0`: the
    placeholder the first refusal put in its place, a 0 the operator never wrote."""
    data = demo_topology_data()
    data["actors"]["price_feed"]["settings"]["synthetic"]["start_prices"]["SOLUSDT"] = float("inf")
    data["actors"]["price_feed"]["settings"]["synthetic"]["volatility"]["SOLUSDT"] = -1.1
    said = clustergate("validate", str(write_topology(tmp_path / "t.yaml", data)))
    assert said.returncode == 2, said.stdout + said.stderr
    lines = [x for x in (said.stdout + said.stderr).splitlines() if "SOLUSDT" in x]
    assert len(lines) == 2, said.stdout + said.stderr
    assert "start_prices.SOLUSDT: expected a finite number, got inf" in lines[0], lines
    assert "volatility.SOLUSDT: must be > 0, got -1.1" in lines[1], lines


def test_positions_list_names_a_held_snapshot_of_a_symbol_outside_the_allowlist(tmp_path: Path, redis_server) -> None:
    """rev-book: the execution layer held DOGEUSDT (a fresh snapshot under the topology's key_pattern) that the topology's
    symbols do not name (never added, or taken out by an `up`): the gates leave it out of the book's heat, concentration
    and stress, and `positions list`, which showed the allowlisted symbols alone, said nothing of it."""
    import time

    data = retarget(demo_topology_data(), redis_server.url)
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("gate", "permit_issuer")}
    topo_path = write_topology(tmp_path / "desk.yaml", data)
    client = redis_server.client()
    now = str(int(time.time()))
    client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000", "ts_epoch": now})
    client.hset("quantum:position:snapshot:DOGEUSDT", mapping={"position_amt": "-50000", "mark_price": "0.4",
                                                               "ts_epoch": now})
    client.set("quantum:position:snapshot", "not a snapshot of any symbol")  # not the pattern: never listed
    said = clustergate("positions", "list", "--topology", str(topo_path))
    assert said.returncode == 0, said.stdout + said.stderr
    row = next((x for x in said.stdout.splitlines() if x.startswith("DOGEUSDT ")), None)
    assert row is not None and "20,000.00" in row and "NOT IN SYMBOLS" in row, said.stdout
    note = next((x for x in said.stdout.splitlines() if x.startswith("DOGEUSDT: ")), None)
    assert note is not None and "not in the topology's symbols" in note and "do not count it" in note, said.stdout
    rows = {r["symbol"]: r for r in json.loads(clustergate("positions", "list", "--json", "--topology",
                                                           str(topo_path)).stdout)}
    assert rows["DOGEUSDT"]["allowlisted"] is False and rows["DOGEUSDT"]["notional"] == 20_000, rows["DOGEUSDT"]
    assert rows["ETHUSDT"]["allowlisted"] is True, rows["ETHUSDT"]
    assert set(rows) == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"}, rows


def test_positions_list_says_a_snapshot_dated_ahead_is_ahead_not_just_stale(tmp_path: Path, redis_server) -> None:
    """rev-book: a snapshot whose ts_epoch is a minute ahead (the execution layer's clock), or in milliseconds, was
    listed `STALE` beside a negative age (-1794685187328.4): stale to the gate, but for no reason an operator reads from
    the word; the fix is the writer's clock or unit, not its liveness."""
    import time

    data = retarget(demo_topology_data(), redis_server.url)
    topo_path = write_topology(tmp_path / "desk.yaml", data)
    client = redis_server.client()
    now = int(time.time())
    client.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "1", "mark_price": "60000",
                                                              "ts_epoch": str(now * 1000)})
    client.hset("quantum:position:snapshot:SOLUSDT", mapping={"position_amt": "-40", "mark_price": "150",
                                                              "ts_epoch": str(now - 1000)})
    said = clustergate("positions", "list", "--topology", str(topo_path))
    assert said.returncode == 0, said.stdout + said.stderr
    lines = said.stdout.splitlines()
    btc = next(x for x in lines if x.startswith("BTCUSDT "))
    assert btc.split()[-1] == "AHEAD", said.stdout
    note = next((x for x in lines if x.startswith("BTCUSDT: ")), None)
    assert note is not None and "ahead of this host's clock" in note and "milliseconds" in note, said.stdout
    assert next(x for x in lines if x.startswith("SOLUSDT ")).split()[-1] == "STALE", said.stdout
    rows = {r["symbol"]: r for r in json.loads(clustergate("positions", "list", "--json", "--topology",
                                                           str(topo_path)).stdout)}
    assert (rows["BTCUSDT"]["stale"], rows["BTCUSDT"]["ahead"]) == (True, True), rows["BTCUSDT"]
    assert (rows["SOLUSDT"]["stale"], rows["SOLUSDT"]["ahead"]) == (True, False), rows["SOLUSDT"]



def no_fresh_snapshot_line(home: Path) -> str:
    """status's `gate: NO fresh position snapshot ...` line, once status exits 1 on it."""
    status = wait_for(lambda: (s := clustergate("status", "--home", str(home))).returncode == 1 and s, 30,
                      "status to exit 1 on a stale position")
    line = next((x for x in status.stdout.splitlines() if x.startswith("gate: NO fresh position snapshot")), None)
    assert line is not None, status.stdout
    return line

