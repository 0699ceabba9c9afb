"""rev2b: a hostile second round on the rev-book fixes, each defect reproduced first against real processes
(redis-server, and the launcher's own commands)."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from helpers import demo_topology_data, retarget, write_topology
from test_ops_review import clustergate, up_demo


@contextmanager
def desk_without_book(tmp_path: Path, home_name: str = "home") -> Iterator[tuple[Path, dict]]:
    """The demo without its book (a desk's topology: no actor writes the positions), up in its own home; down after."""
    home = tmp_path / home_name
    data = retarget(demo_topology_data())
    del data["actors"]["book"]
    topo_path = write_topology(tmp_path / "desk.yaml", data)
    up = clustergate("up", str(topo_path), "--home", str(home))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield home, data
    finally:
        clustergate("down", "--home", str(home))


def test_positions_list_lists_no_key_that_cannot_name_a_symbol_as_not_in_symbols(tmp_path: Path, redis_server) -> None:
    """rev2b: `positions list` took every key under the key_pattern's prefix for a symbol outside the allowlist: an
    execution layer's own keys beside its snapshots (quantum:position:snapshot:BTCUSDT:history, ...:index) were listed
    NOT IN SYMBOLS, each "a position the gates do not count", and with the valid key_pattern "quantum:{symbol}"
    clustergate's own keys (quantum:portfolio:cluster_state, quantum:stream:portfolio.gate, ...) too. A symbol is
    upper-case letters and digits (validate refuses any other): no other key is a position of one."""
    now = str(int(time.time()))
    client = redis_server.client()
    client.hset("quantum:position:snapshot:DOGEUSDT", mapping={"position_amt": "-50000", "mark_price": "0.4",
                                                               "ts_epoch": now})
    client.hset("quantum:position:snapshot:BTCUSDT:history", mapping={"position_amt": "1", "mark_price": "1",
                                                                      "ts_epoch": now})
    client.set("quantum:position:snapshot:index", "BTCUSDT,ETHUSDT")
    client.hset("quantum:portfolio:cluster_state", mapping={"K": "0.5"})
    client.xadd("quantum:stream:portfolio.gate", {"plan_id": "x"})
    for name, pattern in (("default", "quantum:position:snapshot:{symbol}"), ("short", "quantum:{symbol}")):
        data = retarget(demo_topology_data(), redis_server.url)
        data["actors"] = {k: v for k, v in data["actors"].items() if k in ("gate", "permit_issuer")}
        data["positions"]["key_pattern"] = pattern
        topo_path = write_topology(tmp_path / f"{name}.yaml", data)
        said = clustergate("positions", "list", "--json", "--topology", str(topo_path))
        assert said.returncode == 0, said.stdout + said.stderr
        others = sorted(r["symbol"] for r in json.loads(said.stdout) if not r["allowlisted"])
        assert others == (["DOGEUSDT"] if name == "default" else []), (pattern, others)


def test_validate_names_a_bad_start_price_of_a_symbol_outside_symbols_both_ways(tmp_path: Path) -> None:
    """rev2b: rev-book's fix left out `must be > 0` at any path that already had a problem, to drop the 0.0 placeholder
    of a refused infinite value; but the `X is not in symbols` of the same entry is such a problem, so a start price
    -5 of a symbol outside symbols was named for the latter alone, the former found only on the next validate."""
    data = demo_topology_data()
    data["actors"]["price_feed"]["settings"]["synthetic"]["start_prices"]["DOGEUSDT"] = -5
    data["actors"]["price_feed"]["settings"]["synthetic"]["volatility"]["DOGEUSDT"] = float("inf")
    topo_path = write_topology(tmp_path / "bad.yaml", data)
    said = clustergate("validate", str(topo_path))
    assert said.returncode == 2, said.stdout + said.stderr
    lines = [x for x in (said.stdout + said.stderr).splitlines() if "DOGEUSDT" in x]
    assert any("start_prices.DOGEUSDT: DOGEUSDT is not in symbols" in x for x in lines), lines
    assert any("start_prices.DOGEUSDT: must be > 0, got -5" in x for x in lines), lines
    assert any("volatility.DOGEUSDT: DOGEUSDT is not in symbols" in x for x in lines), lines
    assert not any("volatility.DOGEUSDT: must be > 0" in x for x in lines), lines  # inf's placeholder: refused once


def test_an_up_after_down_that_takes_a_held_symbol_out_of_symbols_says_so_too(tmp_path: Path) -> None:
    """rev2b: rev-book's line for a held symbol taken out of `symbols` came only from an `up` of a running system; the
    common edit, `down`, edit the file, `up`, took SOLUSDT out while its snapshot was fresh and held (short -40, 10 s
    old; a desk's execution layer keeps writing it) and said nothing: the gates no longer counted it."""
    from helpers import wait_for
    from test_book_review import without_symbol
    home, data, topo_path, up = up_demo(tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: any(x.startswith("SOLUSDT") and x.split()[-1] == "fresh" for x in clustergate(
            "positions", "list", "--home", str(home)).stdout.splitlines()), 30, "SOLUSDT's snapshot to be fresh")
        down = clustergate("down", "--home", str(home))
        assert down.returncode == 0, down.stdout + down.stderr
        write_topology(topo_path, without_symbol(data, "SOLUSDT"))
        up = clustergate("up", str(topo_path), "--home", str(home))
        assert up.returncode == 0, up.stdout + up.stderr
        line = next((x for x in up.stdout.splitlines() if x.startswith("SOLUSDT left symbols")), None)
        assert line is not None, up.stdout
        assert "quantum:position:snapshot:SOLUSDT" in line and "short" in line and "no longer count" in line, line
    finally:
        clustergate("down", "--home", str(home))


def test_positions_list_still_lists_the_symbols_for_a_redis_user_that_may_not_scan(tmp_path: Path, redis_server) -> None:
    """rev2b: `positions list` looks for snapshots outside the allowlist with SCAN since rev-book; under a Redis ACL user
    refused SCAN (NOPERM) it failed whole, exit 1, where it had listed the allowlisted symbols (HGETALL alone). It lists
    them again, and says on stderr that symbols outside the allowlist were not looked for."""
    import os
    import subprocess
    import sys

    from helpers import REPO
    client = redis_server.client()
    client.execute_command("ACL", "SETUSER", "desk", "on", ">deskpw", "~*", "+@all", "-scan")
    client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000",
                                                              "ts_epoch": str(int(time.time()))})
    data = demo_topology_data()
    data["redis"] = {"url": f"redis://desk@127.0.0.1:{redis_server.port}/0"}
    data["actors"] = {k: v for k, v in data["actors"].items() if k in ("gate", "permit_issuer")}
    topo_path = write_topology(tmp_path / "desk.yaml", data)
    for extra in ((), ("--json",)):
        said = subprocess.run([sys.executable, "-m", "launcher", "positions", "list", *extra, "--topology",
                               str(topo_path)], capture_output=True, text=True, cwd=REPO, timeout=60,
                              env={**os.environ, "CLUSTERGATE_REDIS_PASSWORD": "deskpw"})
        assert said.returncode == 0, said.stdout + said.stderr
        assert "not looked for" in said.stderr and "SCAN" in said.stderr, said.stderr
        if extra:
            assert [r["symbol"] for r in json.loads(said.stdout)] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"], said.stdout
        else:
            assert any(x.startswith("ETHUSDT ") and x.split()[-1] == "fresh" for x in said.stdout.splitlines()), said.stdout


def test_status_json_stays_json_when_the_gates_notionals_sum_past_a_floats_range(tmp_path: Path) -> None:
    """rev2b: rev-book's gate row `positions` carried p26_total_abs_notional as read: +Inf when fresh notionals sum past
    a float's range, which `status --json` printed as `Infinity`, not JSON (a strict parser, Go's or JSON.parse,
    refuses the whole status) in the very state status exits 1 on. It is null there, with `ok` false."""
    from helpers import wait_for

    def strict(text: str) -> dict:
        def refuse(constant: str) -> None:
            raise ValueError(f"{constant} is not JSON")
        return json.loads(text, parse_constant=refuse)

    with desk_without_book(tmp_path) as (home, data):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            set_ = clustergate("positions", "set", symbol, "--amount", "1e304", "--mark-price", "10000", "--home",
                               str(home))
            assert set_.returncode == 0, set_.stdout + set_.stderr

        def both_read() -> object:
            said = clustergate("status", "--home", str(home), "--json")
            gate = next(r for r in json.loads(said.stdout)["programs"] if r["name"] == "gate")
            return said.returncode == 1 and (gate.get("positions") or {}).get("fresh") == 2 and said

        said = wait_for(both_read, 30, "the gate to read both snapshots")
        gate = next(r for r in strict(said.stdout)["programs"] if r["name"] == "gate")
        assert gate["positions"]["total_abs_notional"] is None and gate["positions"]["ok"] is False, gate
        status = clustergate("status", "--home", str(home))
        assert "gate: the fresh position snapshots' notionals sum past a float's range" in status.stdout, status.stdout


def test_status_says_a_snapshot_dated_ahead_is_ahead_not_a_negative_age_old(tmp_path: Path) -> None:
    """rev2b: a desk whose only snapshot is dated an hour ahead (the execution layer's clock, or ts_epoch in ms): status
    named the gate failing closed, but said `the oldest -3595 s old`, the negative age positions list and the alert
    P26SnapshotsFromTheFuture were made to explain."""
    from helpers import wait_for
    with desk_without_book(tmp_path) as (home, data):
        import redis
        client = redis.Redis(port=data["redis"]["port"])  # the system's managed Redis
        client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000",
                                                                  "ts_epoch": str(int(time.time()) + 3600)})
        client.close()
        status = wait_for(lambda: (s := clustergate("status", "--home", str(home))).returncode == 1 and s, 30,
                          "status to exit 1 on a snapshot dated ahead")
        line = next((x for x in status.stdout.splitlines() if x.startswith("gate: NO fresh position snapshot")), None)
        assert line is not None, status.stdout
        assert " s old" not in line and "ahead of the gate's clock" in line, line


def test_status_blames_no_key_pattern_for_a_gate_that_cannot_read_redis(tmp_path: Path) -> None:
    """rev2b: Redis stopped and the gate restarted (it never read the snapshots: its gauges at their start values, 0
    fresh and no age): status said `gate: no position snapshot under PATTERN (0 of 3 symbols): every proposal gets
    HOLD (fail_closed_portfolio_state) ... the execution layer writes its positions elsewhere (positions.key_pattern)`
    while ETHUSDT's snapshot sat fresh in Redis and every proposal got the fault HOLD redis_unavailable. A gate not
    ready (its Redis reads fail) has read no snapshot to judge: the line waits for a read."""
    import subprocess
    import sys

    from helpers import wait_for
    with desk_without_book(tmp_path) as (home, data):
        set_ = clustergate("positions", "set", "ETHUSDT", "--amount", "2", "--mark-price", "3000", "--home", str(home))
        assert set_.returncode == 0, set_.stdout + set_.stderr
        ctl = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(home / "supervisord.conf")]
        for action in (["stop", "redis"], ["restart", "gate"]):
            subprocess.run(ctl + action, capture_output=True, text=True, timeout=60)

        def gate_row() -> dict | None:
            said = json.loads(clustergate("status", "--home", str(home), "--json").stdout)
            gate = next(r for r in said["programs"] if r["name"] == "gate")
            return gate if gate.get("pid") and gate.get("ready") is False and gate.get("state") == "RUNNING" else None
        wait_for(gate_row, 30, "the restarted gate to answer, not ready")
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        assert "position snapshot" not in status.stdout, status.stdout


def test_status_names_an_undated_snapshot_beside_a_fresh_one_and_exits_1(tmp_path: Path) -> None:
    """rev2: docs/monitoring.md says of gate_position_snapshots_undated that `clustergate status` names them and exits 1,
    and no alert reads it. With a fresh snapshot of another symbol beside the undated one (2 ETH, ts_epoch an ISO date),
    status counted the positions ok, said nothing of it and exited 0: a held position the gate leaves out of the book,
    named nowhere."""
    import time

    import redis

    from helpers import wait_for
    with desk_without_book(tmp_path) as (home, data):
        client = redis.Redis(port=data["redis"]["port"])  # the system's managed Redis
        client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000",
                                                                 "ts_epoch": "2026-12-05T20:00:00Z"})
        client.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "0.1", "mark_price": "60000",
                                                                 "ts_epoch": str(int(time.time()))})
        client.close()

        def undated_read() -> object:
            said = clustergate("status", "--home", str(home), "--json")
            gate = next(r for r in json.loads(said.stdout)["programs"] if r["name"] == "gate")
            positions = gate.get("positions") or {}
            return positions.get("undated") == 1 and positions.get("fresh") == 1 and (said, gate)

        said, gate = wait_for(undated_read, 30, "the gate to read the fresh snapshot and the one it cannot date")
        assert gate["positions"]["ok"] is False, gate
        status = clustergate("status", "--home", str(home))
        line = next((x for x in status.stdout.splitlines() if "without a usable ts_epoch" in x), None)
        assert line is not None and line.startswith("gate: "), status.stdout
        assert status.returncode == 1, status.stdout + status.stderr


def test_status_exits_1_on_a_held_position_whose_snapshot_has_no_usable_ts_epoch_not_as_no_snapshot(
        tmp_path: Path) -> None:
    """carry2: a snapshot holding 2 ETH whose ts_epoch is no number of epoch seconds (an ISO date, or missing) is counted
    not held by the gate, which exports no age for it: status said `gate: no position snapshot under PATTERN (0 of 3
    symbols): ... nothing to exit if the desk is flat` and exited 0, the no-snapshot-at-all case, while its own rule
    (docs/operating.md) exits 1 when snapshots exist and none is fresh: the desk holds a position it cannot exit."""
    import redis

    from helpers import wait_for
    with desk_without_book(tmp_path) as (home, data):
        client = redis.Redis(port=data["redis"]["port"])  # the system's managed Redis
        client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000",
                                                                 "ts_epoch": "2026-12-05T20:00:00Z"})
        client.close()

        def undated_read() -> object:
            said = clustergate("status", "--home", str(home), "--json")
            gate = next(r for r in json.loads(said.stdout)["programs"] if r["name"] == "gate")
            return (gate.get("positions") or {}).get("undated") == 1 and (said, gate)

        said, gate = wait_for(undated_read, 30, "the gate to read the snapshot it cannot date")
        assert said.returncode == 1 and gate["positions"]["ok"] is False, (said.returncode, gate)
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        assert "no position snapshot under" not in status.stdout, status.stdout
        line = next((x for x in status.stdout.splitlines() if x.startswith("gate: NO fresh position snapshot")), None)
        assert line is not None, status.stdout
        assert "1 of 3 symbols have one under quantum:position:snapshot:{symbol}" in line, line
        assert "1 without a usable ts_epoch" in line and "HOLD (fail_closed_portfolio_state)" in line, line


def test_status_of_a_named_home_says_to_list_that_homes_positions(tmp_path: Path) -> None:
    """docrev: `status --home DIR` of a gate with no fresh position snapshot said "`clustergate positions list` shows
    each", which, run as printed, lists the repository root's system (or configs/demo.yaml's Redis), not DIR's."""
    import shlex

    import redis

    from test_book_review import no_fresh_snapshot_line
    with desk_without_book(tmp_path, "my home") as (home, data):
        client = redis.Redis(port=data["redis"]["port"])
        client.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3000",
                                                                  "ts_epoch": str(int(time.time()) - 400)})
        client.close()
        line = no_fresh_snapshot_line(home)
        assert f"(`clustergate positions list --home {shlex.quote(str(home))}` shows each)" in line, line
