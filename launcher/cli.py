"""`clustergate` (also `python -m launcher`): validate, schema, up, down, status, render, and the
commands other modules register (propose, positions, proof, prometheus-config).

Exit codes: 0 ok, 1 the operation failed, 2 bad input (topology or arguments).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from typing import Any

from launcher.schema import SchemaError
from launcher.topology import dump_schema, load_topology

# Modules that add subcommands: each exposes register(subparsers) and sets func on its parser.
COMMAND_MODULES = [
    "launcher.supervise",
    "launcher.client",
    "launcher.positions",
    "launcher.monitoring",
    "launcher.monitor",
    "launcher.keys_cli",
    "launcher.deploy",
    "proofs.cli",
]


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        topo = load_topology(args.file)
    except SchemaError as exc:
        for problem in exc.problems:
            print(problem.render(args.file))
        return 2
    problems = replay_problems(topo)
    for line in problems:
        print(f"{args.file}: {line}")
    if problems:
        return 2
    print(f"{args.file}: ok ({len(topo.actors)} actors: {', '.join(topo.actors)})")
    return 0


def replay_problems(topo) -> list[str]:
    """Read every replay file the topology names; print what each holds, return what is wrong."""
    problems: list[str] = []
    for name in topo.actors_of_kind("price_feed"):
        feed = topo.actors[name].settings
        if feed.source != "replay" or feed.replay is None:
            continue
        where = f"actors.{name}.settings.replay.path"
        path = topo.resolve_path(feed.replay.path)
        from actors.price_feed import read_replay_file, usable_rows  # numpy: only when a replay is named
        try:
            data = read_replay_file(path, topo.symbols)
        except OSError as exc:
            problems.append(f"{where}: cannot read {path}: {exc.strerror or exc}")
            continue
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        symbols = sorted({r.symbol for r in data.rows})
        unit = "" if data.ts_unit == "s" else f", timestamps in {data.ts_unit}"
        print(f"replay {path}: {usable_rows(data)} rows, {len(symbols)} symbols ({', '.join(symbols)}), "
              f"{data.form} form{unit}; {len(data.bad_rows)} unreadable rows, "
              f"{data.not_in_allowlist} outside the allowlist")
    return problems


def cmd_schema(args: argparse.Namespace) -> int:
    print(dump_schema())
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from launcher.backtest import cmd_backtest as run  # numpy, scipy: only when asked for
    return run(args)


def add_backtest_parser(sub: Any) -> None:
    p = sub.add_parser("backtest", help="replay history in event time through the gate's maths and policy; "
                       "write states, clusters, decisions, a summary and a report")
    p.add_argument("topology")
    p.add_argument("--prices", required=True, help="replay CSV (long ts,symbol,price or wide ts,SYM1,...) or Parquet")
    p.add_argument("--positions", help="CSV ts,symbol,position_amt,mark_price (default: the book's positions)")
    p.add_argument("--proposals", help="CSV ts,plan_id,symbol,action_proposed,kill_score (default: a grid)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set_values",
                   help="override a setting for this run (repeatable)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="run every combination of these values (repeatable); writes sweep.csv")
    p.add_argument("--proposal-every", type=int, default=60,
                   help="without --proposals: cadences between the grid's proposals (default %(default)s)")
    p.set_defaults(func=cmd_backtest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clustergate", description="clustergate portfolio risk gate")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", help="check a topology file; exit 2 naming every problem")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("schema", help="print the topology JSON Schema")
    p.set_defaults(func=cmd_schema)
    add_backtest_parser(sub)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    from launcher.supervise import LaunchError
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()
    except LaunchError as exc:  # e.g. a supervisord that does not answer in time: say what to do
        print(f"clustergate: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`clustergate status | head -1`): stop quietly, as a Unix tool does on
        # SIGPIPE, and keep the interpreter's final flush from printing a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    sys.exit(code or 0)
