"""`clustergate positions set|clear|list`: set or clear a position snapshot by hand, or show them all.

Snapshots are the execution layer's hashes (SPEC): position_amt, mark_price, ts_epoch and
optional notional_usd under positions.key_pattern; `set` writes the first three and removes notional_usd.
Only allowlisted symbols are accepted (exit 2 otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import redis

from launcher import keys
from launcher.keys import wrong_type
from launcher.number_args import finite_number, takes_negative_numbers
from launcher.overview import shown_age
from launcher.redis_conn import auth_refusal, connect
from launcher.topology import Topology, symbol_name_ok

REPO = Path(__file__).resolve().parent.parent
DEMO_TOPOLOGY = REPO / "configs" / "demo.yaml"


NOT_A_HASH = "the key holds another type, not a hash: counted as not held"


class UsageError(Exception):
    """Bad input from the command line: exit 2 with the message."""


class Refused(Exception):
    """Redis holds something the command will not overwrite: exit 1 with the message."""


def default_topology_path(args: argparse.Namespace | None = None) -> Path:
    """--topology, else the home's running topology (--home, $CLUSTERGATE_HOME, the repo root) if
    `clustergate up` wrote one, else the demo's."""
    from launcher.supervise import running_topology_path
    return running_topology_path(args or argparse.Namespace(), fallback=DEMO_TOPOLOGY)


def _positive(text: str) -> float:
    value = finite_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive price")
    return value


def snapshot_row(symbol: str, fields: dict[str, str], now: float, stale_after_s: float) -> dict[str, Any]:
    """One line of `positions list` from a snapshot hash (empty hash = no snapshot)."""
    if not fields:
        return {"symbol": symbol, "amount": None, "mark": None, "notional": None, "age_s": None, "stale": None,
                "ahead": None, "problem": None}

    def num(name: str) -> float | None:
        try:
            value = float(fields[name])
        except (KeyError, ValueError):
            return None
        return value if math.isfinite(value) else None

    amount, mark, ts = num("position_amt"), num("mark_price"), num("ts_epoch")
    age_s = None if ts is None else now - ts
    from actors.snapshots import snapshot_notional, snapshot_time  # I/O-free; not loaded while the CLI is built
    not_fresh = snapshot_time(fields.get("ts_epoch"), now, stale_after_s)[1]  # the gate's rule, and its skew
    stale = not_fresh is not None
    signed, why = snapshot_notional(fields.get("position_amt"), fields.get("mark_price"), fields.get("notional_usd"))
    if ts is None:
        why = "ts_epoch is missing or not a finite number"
    return {"symbol": symbol, "amount": amount, "mark": mark, "notional": None if why else abs(signed), "age_s": age_s,
            "stale": stale, "ahead": not_fresh == "future",
            "problem": f"{why}: the gate counts {symbol} as not held" if why else None}


def format_table(rows: list[dict[str, Any]], stale_after_s: float) -> str:
    def cell(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    from actors.snapshots import SNAPSHOT_FUTURE_SKEW_S

    def age(age_s: float | None) -> str:  # shown on the side of the limits it is on (300.04 s: never 300.0)
        return "-" if age_s is None else shown_age(age_s, lambda a: -SNAPSHOT_FUTURE_SKEW_S <= a <= stale_after_s)

    lines = [["symbol", "amount", "mark", "notional", "age s", "stale?"]]
    for r in rows:
        stale = "-" if r["stale"] is None else ("AHEAD" if r.get("ahead") else "STALE" if r["stale"] else "fresh")
        lines.append([r["symbol"], cell(r["amount"], ".6g"), cell(r["mark"], ".8g"), cell(r["notional"], ",.2f"),
                      age(r["age_s"]), ("NOT A HASH" if r["problem"] == NOT_A_HASH else "NOT IN SYMBOLS"
                                        if r["problem"] == NOT_ALLOWLISTED else "UNUSABLE") if r.get("problem")
                      else stale if r["amount"] is not None or r["mark"] is not None else "missing"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    table = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in lines]
    ahead = [f"{r['symbol']}: dated {-r['age_s']:,.0f} s ahead of this host's clock, past the {SNAPSHOT_FUTURE_SKEW_S:g} "
             f"s allowed: the gate counts it as not held (the execution layer's clock runs ahead of the gate's, or it "
             f"writes ts_epoch in milliseconds)" for r in rows if r.get("ahead") and not r.get("problem")]
    return "\n".join(table + [f"{r['symbol']}: {r['problem']}" for r in rows if r.get("problem")] + ahead)


def _check_symbol(topo: Topology, symbol: str) -> str:
    # exact, as the gate's allowlist (no stripping): " BTCUSDT" is no symbol, and is quoted so its space is seen
    if symbol not in topo.symbols:
        space = ": it has leading or trailing whitespace" if symbol != symbol.strip() else ""
        raise UsageError(f"{symbol!r} is not in the allowlist ({', '.join(topo.symbols)}){space}")
    return symbol


def cmd_set(topo: Topology, client: redis.Redis, args: argparse.Namespace) -> int:
    symbol = _check_symbol(topo, args.symbol)
    if not math.isfinite(args.amount * args.mark_price):  # the gate would count the snapshot as not held
        raise UsageError(f"--amount x --mark-price ({args.amount!r} x {args.mark_price!r}) is not a finite number")
    now = int(time.time())
    # SPEC's required fields alone, and no notional_usd left from before: it wins over |position_amt x mark_price|, so
    # one written here outlived the execution layer's next update of the others (notional_usd is optional to it).
    fields = {"position_amt": repr(args.amount), "mark_price": repr(args.mark_price), "ts_epoch": str(now)}
    key = keys.position_snapshot(symbol, topo.positions.key_pattern)
    try:
        pipe = client.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        pipe.hdel(key, "notional_usd")
        for reply in pipe.execute(raise_on_error=False):
            if isinstance(reply, Exception):
                raise reply
    except redis.ResponseError as exc:
        if not wrong_type(exc):
            raise
        kind = client.type(key).decode(errors="replace")
        raise Refused(f"{key} holds a {kind}, not a snapshot hash: nothing was written; `clustergate positions clear "
                      f"{symbol}` removes it (every reader counts {symbol} as not held meanwhile)") from None
    print(f"{key}: position_amt={fields['position_amt']} mark_price={fields['mark_price']} ts_epoch={now}")
    return 0


def cmd_clear(topo: Topology, client: redis.Redis, args: argparse.Namespace) -> int:
    """Delete a symbol's snapshot: an allowlisted symbol's, or one `positions list` shows NOT IN SYMBOLS (a symbol
    outside the allowlist with a snapshot key; with none there it is refused as a typo would be)."""
    symbol = args.symbol
    allowlisted = symbol in topo.symbols
    if not allowlisted:
        key = keys.position_snapshot(symbol, topo.positions.key_pattern) if symbol_name_ok(symbol) else None
        if key is None or not client.delete(key):
            _check_symbol(topo, symbol)
        print(f"{key}: cleared ({symbol} is not in the topology's symbols)")
        return 0
    key = keys.position_snapshot(symbol, topo.positions.key_pattern)
    removed = client.delete(key)
    print(f"{key}: {'cleared' if removed else 'no snapshot to clear'}")
    return 0


NOT_ALLOWLISTED = ("not in the topology's symbols: the gates do not count it in the book's heat, concentration and "
                   "stress, and answer its proposals HOLD (not_allowed)")


def glob_escaped(text: str) -> str:
    """text matched literally by a Redis glob (SCAN MATCH)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def other_snapshot_symbols(client: redis.Redis, pattern: str, allowlist: list[str]) -> list[str]:
    """The symbols outside the allowlist that have a key under the snapshot pattern (SCAN; a position the execution
    layer holds in a symbol the topology does not name), sorted. A key whose {symbol} part no symbol could be (not
    upper-case letters and digits: an execution layer's other keys beside its snapshots, or clustergate's own under a
    short pattern) is none."""
    prefix, _, suffix = pattern.partition("{symbol}")
    found = set()
    for raw in client.scan_iter(match=glob_escaped(prefix) + "*" + glob_escaped(suffix), count=1000):
        key = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        symbol = key[len(prefix):len(key) - len(suffix)] if len(key) > len(prefix) + len(suffix) else ""
        if symbol_name_ok(symbol) and keys.position_snapshot(symbol, pattern) == key and symbol not in allowlist:
            found.add(symbol)
    return sorted(found)


def cmd_list(topo: Topology, client: redis.Redis, args: argparse.Namespace) -> int:
    pattern = topo.positions.key_pattern
    try:
        others = other_snapshot_symbols(client, pattern, topo.symbols)
    except redis.exceptions.NoPermissionError as exc:  # an ACL user refused SCAN still lists the allowlisted symbols
        others = []
        print(f"clustergate positions: snapshots of symbols outside the topology's symbols were not looked for: Redis "
              f"refuses SCAN to this user ({exc})", file=sys.stderr)
    pipe = client.pipeline(transaction=False)
    for symbol in topo.symbols + others:
        pipe.hgetall(keys.position_snapshot(symbol, pattern))
    now = time.time()
    rows = []
    for symbol, reply in zip(topo.symbols + others, pipe.execute(raise_on_error=False)):
        if wrong_type(reply):
            row = {**snapshot_row(symbol, {}, now, topo.positions.stale_after_s), "problem": NOT_A_HASH}
        elif isinstance(reply, Exception):
            raise reply
        else:  # raw bytes: a value that is not UTF-8 is no number, not a traceback
            fields = {k.decode(errors="replace"): v for k, v in reply.items()}
            row = snapshot_row(symbol, fields, now, topo.positions.stale_after_s)
        row["allowlisted"] = symbol in topo.symbols
        if not row["allowlisted"]:
            row["problem"] = NOT_ALLOWLISTED
        rows.append(row)
    print(json.dumps(rows) if args.json else format_table(rows, topo.positions.stale_after_s))
    return 0


def run(args: argparse.Namespace) -> int:
    from launcher.supervise import running_topology_or_say
    topo = running_topology_or_say(args, default_topology_path(args), "clustergate positions")
    if topo is None:
        return 2
    client = connect(topo.redis, decode_responses=False)  # a snapshot's values may hold any bytes
    try:
        return args.positions_func(topo, client, args)
    except UsageError as exc:
        print(f"clustergate positions: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"clustergate positions: {exc}", file=sys.stderr)
        return 1
    except redis.AuthenticationError as exc:  # redis-py's words name its HELLO command, not what to do
        print(f"clustergate positions: {auth_refusal(topo.redis, exc)}", file=sys.stderr)
        return 1
    except redis.RedisError as exc:
        print(f"clustergate positions: Redis at {topo.redis.connection_url()} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def register(subparsers: Any) -> None:
    from launcher.supervise import home_option
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--topology", metavar="FILE",
                        help="topology file (default: the home's run/topology.yaml; with no --home or $CLUSTERGATE_HOME, configs/demo.yaml if that is missing)")
    common.add_argument("--home", type=home_option,
                        help="directory with supervisord.conf and run/ (default: $CLUSTERGATE_HOME, else the repo root)")
    parser = subparsers.add_parser("positions", help="set, clear or list position snapshots by hand")
    sub = parser.add_subparsers(dest="positions_command", required=True, metavar="ACTION")

    p = takes_negative_numbers(sub.add_parser("set", parents=[common], help="write a fresh snapshot (ts_epoch now)"))
    p.add_argument("symbol", metavar="SYMBOL")
    p.add_argument("--amount", type=finite_number, required=True, help="signed position amount (negative = short)")
    p.add_argument("--mark-price", type=_positive, required=True, help="mark price, finite and > 0")
    p.set_defaults(func=run, positions_func=cmd_set)

    p = sub.add_parser("clear", parents=[common], help="delete a symbol's snapshot")
    p.add_argument("symbol", metavar="SYMBOL")
    p.set_defaults(func=run, positions_func=cmd_clear)

    p = sub.add_parser("list", parents=[common], help="table of every allowlisted symbol's snapshot, and of any snapshot "
                       "under positions.key_pattern of a symbol outside symbols (NOT IN SYMBOLS)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run, positions_func=cmd_list)
