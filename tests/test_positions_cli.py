"""`clustergate positions set|list|clear` against a real Redis."""

from __future__ import annotations

import json
import shlex
import subprocess
import time

import pytest

from helpers import PYTHON, REPO, demo_topology_data, retarget, write_topology


def positions(topology, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "launcher", "positions", *args, "--topology", str(topology)],
                          cwd=REPO, capture_output=True, text=True, timeout=30)


def test_positions_set_list_and_clear_round_trip_through_redis(tmp_path, redis_server):
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    client = redis_server.client()

    done = positions(topology, "set", "ETHUSDT", "--amount", "-2.5", "--mark-price", "3400")
    assert done.returncode == 0, done.stderr
    snap = client.hgetall("quantum:position:snapshot:ETHUSDT")
    assert float(snap["position_amt"]) == -2.5 and float(snap["mark_price"]) == 3400
    assert abs(time.time() - int(snap["ts_epoch"])) <= 5

    client.hset("quantum:position:snapshot:SOLUSDT",
                mapping={"position_amt": "-10", "mark_price": "150", "ts_epoch": str(int(time.time()) - 1000)})
    listed = positions(topology, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["symbol"]: r for r in json.loads(listed.stdout)}
    assert rows["ETHUSDT"]["notional"] == 8500 and rows["ETHUSDT"]["stale"] is False
    assert rows["SOLUSDT"]["notional"] == 1500 and rows["SOLUSDT"]["stale"] is True  # |amount x mark| of a short
    assert rows["BTCUSDT"]["amount"] is None

    table = positions(topology, "list")
    assert table.returncode == 0 and "STALE" in table.stdout and "missing" in table.stdout
    assert table.stdout.splitlines()[0].split() == ["symbol", "amount", "mark", "notional", "age", "s", "stale?"]

    cleared = positions(topology, "clear", "ETHUSDT")
    assert cleared.returncode == 0, cleared.stderr
    assert not client.exists("quantum:position:snapshot:ETHUSDT")


# The allowlist is exact, as the gate's (actors/policy.py: `symbol in allowed`, no stripping): no other spelling.
# posargs: " BTCUSDT" was refused as "clustergate positions:  BTCUSDT is not in the allowlist", its space unseen.
@pytest.mark.parametrize("symbol", ["DOGEUSDT", "btcusdt", " BTCUSDT", "BTCUSDT\t"])
def test_positions_refuses_a_symbol_outside_the_allowlist_with_exit_2_showing_it_quoted(tmp_path, redis_server, symbol):
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    done = positions(topology, "set", symbol, "--amount", "1", "--mark-price", "0.1")
    assert done.returncode == 2
    assert f"{symbol!r} is not in the allowlist" in done.stderr, done.stderr
    assert ("leading or trailing whitespace" in done.stderr) is (symbol != symbol.strip()), done.stderr
    assert redis_server.client().keys("*") == []
    cleared = positions(topology, "clear", symbol)
    assert cleared.returncode == 2 and f"{symbol!r} is not in the allowlist" in cleared.stderr, cleared.stderr


@pytest.mark.parametrize("price", ["-5", "0", "-0"])
def test_positions_refuses_a_price_that_is_not_positive_with_exit_2(tmp_path, redis_server, price):
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    done = positions(topology, "set", "BTCUSDT", "--amount", "1", "--mark-price", price)
    assert done.returncode == 2
    assert "positive price" in done.stderr
    assert redis_server.client().keys("*") == []


# posargs: argparse takes only -2 and -2.5 for negative numbers; "--amount -1e3" (a short in scientific notation)
# failed "argument --amount: expected one argument", as did -1E+3, -.5e2, -1., -1_000; only --amount=-1e3 worked.
NEGATIVE_NOTATIONS = ("-1e3", "-1E+3", "-.5e2", "-2.5e-1", "-1.", "-1_000", "-2.5", "-7")


def test_positions_set_takes_a_negative_amount_in_any_float_notation_as_the_value_of_amount(tmp_path, redis_server):
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    client = redis_server.client()
    for amount in NEGATIVE_NOTATIONS:
        done = positions(topology, "set", "BTCUSDT", "--amount", amount, "--mark-price", "60000")
        assert done.returncode == 0, (amount, done.stderr)
        assert float(client.hget("quantum:position:snapshot:BTCUSDT", "position_amt")) == float(amount), amount
    for option, other in (("--amount", "--mark-price"), ("--mark-price", "--amount")):
        for bad in ("-inf", "-Infinity", "-nan", "-1e400"):  # still refused, naming the option and the number
            done = positions(topology, "set", "ETHUSDT", other, "1", option, bad)
            assert done.returncode == 2, (option, bad, done.stdout)
            assert f"argument {option}: {bad!r} is not a finite number" in done.stderr, (option, bad, done.stderr)
    done = positions(topology, "set", "ETHUSDT", "--amount", "1", "--mark-price", "-6e4")
    assert done.returncode == 2 and "argument --mark-price: '-6e4' is not a positive price" in done.stderr, done.stderr
    # an option name is still an option, not a value: --amount given no number says so
    done = positions(topology, "set", "ETHUSDT", "--amount", "--mark-price", "1")
    assert done.returncode == 2 and "argument --amount: expected one argument" in done.stderr, done.stderr
    assert not client.exists("quantum:position:snapshot:ETHUSDT")


def test_positions_refuses_an_amount_that_is_not_a_number_naming_it_not_the_parser(tmp_path, redis_server):
    # rev-operator: "argument --amount: invalid _finite value: 'abc'" named a private function.
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    for flag, other in (("--amount", "--mark-price"), ("--mark-price", "--amount")):
        done = positions(topology, "set", "BTCUSDT", flag, "abc", other, "1")
        assert done.returncode == 2
        assert f"argument {flag}: 'abc' is not a number" in done.stderr and "_finite" not in done.stderr, done.stderr
    assert redis_server.client().keys("*") == []


def test_positions_list_and_set_name_a_snapshot_key_of_another_type_and_a_field_that_is_not_utf8(tmp_path, redis_server):
    # A string at one symbol's snapshot key made `list` fail whole ("Redis ... failed: WRONGTYPE ...") without naming
    # the key, and `set` too; a field of bytes that are not UTF-8 made `list` end in a traceback.
    import redis as redis_lib
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    raw = redis_lib.Redis(port=redis_server.port)
    raw.set("quantum:position:snapshot:SOLUSDT", "not a hash")
    raw.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "1", "mark_price": b"\xff\xfe",
                                                          "ts_epoch": str(int(time.time()))})
    raw.hset("quantum:position:snapshot:ETHUSDT", mapping={"position_amt": "2", "mark_price": "3400",
                                                          "ts_epoch": str(int(time.time()))})
    listed = positions(topology, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["symbol"]: r for r in json.loads(listed.stdout)}
    assert rows["ETHUSDT"]["notional"] == 6800
    assert rows["BTCUSDT"]["amount"] == 1 and rows["BTCUSDT"]["mark"] is None
    assert "not a hash" in rows["SOLUSDT"]["problem"] and rows["SOLUSDT"]["amount"] is None
    table = positions(topology, "list")
    assert table.returncode == 0 and "NOT A HASH" in table.stdout, table.stdout + table.stderr
    done = positions(topology, "set", "SOLUSDT", "--amount", "1", "--mark-price", "150")
    assert done.returncode == 1
    assert "quantum:position:snapshot:SOLUSDT holds a string, not a snapshot hash" in done.stderr, done.stderr
    assert "clustergate positions clear SOLUSDT" in done.stderr


def test_positions_list_calls_a_snapshot_stale_exactly_when_the_gate_does(tmp_path, redis_server):
    """edges: `positions list` called a snapshot stamped a few seconds ahead STALE (age < 0) while the gate counts it
    (actors.snapshots: up to SNAPSHOT_FUTURE_SKEW_S ahead is fresh), and showed an age of 300.04 s as 300.0 beside
    STALE."""
    from actors.snapshots import SNAPSHOT_FUTURE_SKEW_S, read_snapshot
    from launcher.positions import format_table, snapshot_row
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    client = redis_server.client()
    now = int(time.time())
    ahead = {"ETHUSDT": now + 4, "SOLUSDT": now + 60}  # within the skew allowance, and far beyond it
    for symbol, ts in ahead.items():
        client.hset(f"quantum:position:snapshot:{symbol}", mapping={"position_amt": "1", "mark_price": "100",
                                                                     "ts_epoch": str(ts)})
    listed = positions(topology, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["symbol"]: r for r in json.loads(listed.stdout)}
    assert rows["ETHUSDT"]["age_s"] >= -SNAPSHOT_FUTURE_SKEW_S, rows  # listed within the skew allowance
    for symbol, ts in ahead.items():
        used = read_snapshot("1", "100", str(ts), None, ts + rows[symbol]["age_s"], 300.0)[0] is not None
        assert rows[symbol]["stale"] is not used, (symbol, rows[symbol])
    fields = {"position_amt": "1", "mark_price": "100", "ts_epoch": "1700000000"}
    for age_s, stale in ((300.0, False), (300.04, True), (-SNAPSHOT_FUTURE_SKEW_S, False), (-5.04, True)):
        row = snapshot_row("ETHUSDT", fields, 1_700_000_000 + age_s, 300.0)
        assert row["stale"] is stale, (age_s, row)
        shown = float(format_table([row], 300.0).splitlines()[1].split()[4])
        assert (not -SNAPSHOT_FUTURE_SKEW_S <= shown <= 300) is stale, (age_s, format_table([row], 300.0))


# A snapshot the gate does not count (actors.snapshots.read_snapshot: no usable amount, a notional_usd that is no
# number, neither notional_usd nor mark_price, |amount x mark| not finite) was listed "fresh", and one with a bad
# notional_usd beside a good amount and mark showed |amount x mark| as its notional (revops): the operator read a
# position held that the gate counted as not held.
UNUSABLE_SNAPSHOTS = {
    "no_position_amt": ({"mark_price": "50000"}, "position_amt"),
    "notional_usd_not_a_number": ({"position_amt": "2", "mark_price": "3000", "notional_usd": "abc"}, "notional_usd"),
    "notional_usd_infinite": ({"position_amt": "2", "mark_price": "3000", "notional_usd": "inf"}, "notional_usd"),
    "no_mark_price_nor_notional": ({"position_amt": "2"}, "mark_price"),
    "amount_times_mark_overflows": ({"position_amt": "1e300", "mark_price": "1e300"}, "position_amt x mark_price"),
    "no_ts_epoch": ({"position_amt": "1", "mark_price": "100", "ts_epoch": None}, "ts_epoch"),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE_SNAPSHOTS))
def test_positions_list_names_a_snapshot_the_gate_does_not_count_and_shows_no_notional_for_it(tmp_path, redis_server,
                                                                                              case):
    from actors.snapshots import read_snapshot
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    client = redis_server.client()
    fields, named = UNUSABLE_SNAPSHOTS[case]
    fields = {k: v for k, v in {"ts_epoch": str(int(time.time())), **fields}.items() if v is not None}
    client.hset("quantum:position:snapshot:ETHUSDT", mapping=fields)
    client.hset("quantum:position:snapshot:BTCUSDT", mapping={"position_amt": "0.5", "mark_price": "64000",
                                                             "ts_epoch": str(int(time.time())), "leverage": "10",
                                                             "side": "LONG"})  # extra fields: ignored, as the gate does
    assert read_snapshot(fields.get("position_amt"), fields.get("mark_price"), fields.get("ts_epoch"),
                         fields.get("notional_usd"), time.time(), 300.0)[0] is None  # the gate counts it as not held
    listed = positions(topology, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["symbol"]: r for r in json.loads(listed.stdout)}
    assert rows["ETHUSDT"]["notional"] is None and named in (rows["ETHUSDT"]["problem"] or ""), rows["ETHUSDT"]
    assert "not held" in rows["ETHUSDT"]["problem"]
    assert rows["BTCUSDT"]["notional"] == 32000 and rows["BTCUSDT"]["problem"] is None, rows["BTCUSDT"]
    table = positions(topology, "list")
    assert table.returncode == 0, table.stderr
    eth = next(line for line in table.stdout.splitlines() if line.startswith("ETHUSDT"))
    assert eth.split()[-1] == "UNUSABLE" and "fresh" not in eth, table.stdout
    assert f"ETHUSDT: {rows['ETHUSDT']['problem']}" in table.stdout, table.stdout


def test_positions_set_refuses_an_amount_and_price_whose_product_overflows_and_writes_nothing(tmp_path, redis_server):
    # revops: --amount 1e300 --mark-price 1e300 exited 0 writing notional_usd=inf, a snapshot the gate counts as not held.
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    done = positions(topology, "set", "BTCUSDT", "--amount=-1e300", "--mark-price", "1e300")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--amount x --mark-price" in done.stderr and "not a finite number" in done.stderr, done.stderr
    assert redis_server.client().keys("*") == []
    assert positions(topology, "set", "BTCUSDT", "--amount", "1e150", "--mark-price", "1e150").returncode == 0


def test_positions_against_a_redis_asking_for_a_password_names_the_variable_to_set(tmp_path, redis_server):
    # revops: it printed redis-py's "HELLO must be called with the client already authenticated, otherwise the HELLO
    # AUTH <user> <pass> option can be used ..." without a password, "invalid username-password pair" with a wrong one.
    import os
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    secret = "revops-" + str(os.getpid())
    redis_server.client().config_set("requirepass", secret)
    base = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    for env, said in ((base, "gave no password"), ({**base, "CLUSTERGATE_REDIS_PASSWORD": "wrong"}, "password")):
        for args in (("list",), ("set", "BTCUSDT", "--amount", "1", "--mark-price", "1"), ("clear", "BTCUSDT")):
            done = subprocess.run([PYTHON, "-m", "launcher", "positions", *args, "--topology", str(topology)], cwd=REPO,
                                  capture_output=True, text=True, timeout=30, env=env)
            assert done.returncode == 1, done.stdout + done.stderr
            assert "refuses" in done.stderr and said in done.stderr, done.stderr
            assert "$CLUSTERGATE_REDIS_PASSWORD" in done.stderr and "HELLO" not in done.stderr, done.stderr
            assert secret not in done.stderr and "wrong" not in done.stderr.replace("refuses", "")
    done = subprocess.run([PYTHON, "-m", "launcher", "positions", "list", "--topology", str(topology)], cwd=REPO,
                          capture_output=True, text=True, timeout=30, env={**base, "CLUSTERGATE_REDIS_PASSWORD": secret})
    assert done.returncode == 0, done.stderr


def test_the_help_of_positions_list_says_it_lists_snapshots_of_symbols_outside_the_topology_too():
    # docs review: the help said "every allowlisted symbol's snapshot" while list also shows, NOT IN SYMBOLS, a
    # snapshot key of a symbol the topology does not name (docs/operating.md, Edit positions by hand).
    shown = subprocess.run([PYTHON, "-m", "launcher", "positions", "--help"], cwd=REPO, capture_output=True, text=True,
                           timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "outside symbols (NOT IN SYMBOLS)" in " ".join(shown.stdout.split()), shown.stdout


@pytest.mark.parametrize("command", [["positions", "list"], ["propose", "--symbol", "BTCUSDT", "--action", "HOLD"]])
@pytest.mark.parametrize("name", ["nothing-here", "my home"])
def test_a_named_home_where_nothing_was_started_is_said_so_with_what_to_run(tmp_path, command, name):
    # docs review: `--home DIR` (or $CLUSTERGATE_HOME) of a home with no running copy said only
    # "DIR/run/topology.yaml: (top level): cannot read topology: No such file or directory". docrev: a home with a
    # space is quoted for the shell (`--home /tmp/my home` read as a home `/tmp/my` and a stray argument).
    home = tmp_path / name
    done = subprocess.run([PYTHON, "-m", "launcher", *command, "--home", str(home)], cwd=REPO, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"nothing was started in {home}" in done.stderr, done.stderr
    assert f"`clustergate up FILE --home {shlex.quote(str(home))}`" in done.stderr, done.stderr
    assert "--topology FILE" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_positions_clear_removes_a_snapshot_listed_not_in_symbols_and_still_refuses_one_that_is_not_there(
        tmp_path, redis_server):
    """`positions list` shows a snapshot of a symbol the topology's symbols do not name (NOT IN SYMBOLS: one taken out
    by an `up`, or never added); `positions clear` refused it as not in the allowlist, so the operator had to reach for
    redis-cli to remove a row the tool itself listed. It clears such a snapshot, saying it was not in symbols; a symbol
    with no snapshot outside the allowlist (a typo) is still refused, and so is any text no symbol could be."""
    topology = write_topology(tmp_path / "topology.yaml", retarget(demo_topology_data(), redis_server.url))
    client = redis_server.client()
    client.hset("quantum:position:snapshot:DOGEUSDT", mapping={"position_amt": "5", "mark_price": "0.1", "ts_epoch": "1"})
    listed = positions(topology, "list")
    assert "NOT IN SYMBOLS" in listed.stdout, listed.stdout

    cleared = positions(topology, "clear", "DOGEUSDT")
    assert cleared.returncode == 0, cleared.stderr
    assert "cleared" in cleared.stdout and "not in the topology's symbols" in cleared.stdout, cleared.stdout
    assert not client.exists("quantum:position:snapshot:DOGEUSDT")

    again = positions(topology, "clear", "DOGEUSDT")
    assert again.returncode == 2 and "'DOGEUSDT' is not in the allowlist" in again.stderr, again.stderr
    client.set("quantum:position:snapshot:doge*", "x")
    odd = positions(topology, "clear", "doge*")
    assert odd.returncode == 2 and client.exists("quantum:position:snapshot:doge*"), odd.stderr
