"""`clustergate` (also `python -m launcher`): validate, schema, up, down, status, render, and the
commands other modules register (propose, positions, proof, prometheus-config, backfill-permits, ...).

Exit codes: 0 ok, 1 the operation failed, 2 bad input (topology or arguments).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
from typing import Any

from launcher.own_code import module_command, own_env
from launcher.schema import SchemaError
from launcher.std_streams import ArgumentParser, OutputRefused, prepare, say_output_refused
from launcher.topology import dump_schema, load_topology

# Modules that add subcommands, with the commands each adds: each exposes register(subparsers) and sets func on its
# parser. A command builds its parser from its own module alone (`clustergate down` loads no Redis client, `status` no
# ZeroMQ client): every module took about 0.2 s of CPU a call more, for parsers it did not use. `clustergate --help`,
# no command or an unknown one build them all, in this order. tests/test_cli_commands.py holds this table to register().
COMMAND_MODULES = {
    "launcher.supervise": ("up", "down", "status", "render"),
    "launcher.client": ("propose",),
    "launcher.positions": ("positions",),
    "launcher.monitoring": ("prometheus-config",),
    "launcher.monitor": ("monitor",),
    "launcher.keys_cli": ("keys",),
    "launcher.deploy": ("deploy", "deploy-lock"),
    "launcher.backfill": ("backfill-permits",),
}
# Commands run as their own process (`python -P -m MODULE ARGS`, launcher/own_code.py): the launcher imports no proof, and building
# the CLI loads none of the backtest's actors' maths, numpy, scipy or matplotlib.
PROCESS_COMMANDS = {"proof": "proofs.cli", "backtest": "launcher.backtest"}


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
        from launcher.feed_inputs import read_replay_file, usable_rows  # numpy: only when a replay is named
        try:
            data = read_replay_file(path, topo.symbols, speed=feed.replay.speed)
        except OSError as exc:
            problems.append(f"{where}: cannot read {path}: {exc.strerror or exc}")
            continue
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        symbols = sorted(data.symbols[i] for i in set(data.symbol_index))
        unit = "" if data.ts_unit == "s" else f", timestamps in {data.ts_unit}"
        print(f"replay {path}: {usable_rows(data)} rows, {len(symbols)} symbols ({', '.join(symbols)}), "
              f"{data.form} form{unit}; {len(data.bad_rows)} unreadable rows, "
              f"{data.not_in_allowlist} outside the allowlist")
    return problems


def cmd_schema(args: argparse.Namespace) -> int:
    print(dump_schema())
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; given the command about to run, with the subcommands of its own module only (and this
    module's), else with every module's."""
    parser = ArgumentParser(prog="clustergate", description="clustergate portfolio risk gate")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", help="check a topology file; exit 2 naming every problem")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("schema", help="print the topology JSON Schema")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("proof", add_help=False,
                       help="verify the running system end to end; exit 0 only if every check passes")
    p.add_argument("proof_args", nargs=argparse.REMAINDER)  # main() hands `proof ...` to proofs.cli
    p = sub.add_parser("backtest", add_help=False,
                       help="replay history in event time through the gate's maths and policy; "
                       "write states, clusters, decisions, a summary and a report")
    p.add_argument("backtest_args", nargs=argparse.REMAINDER)  # main() hands `backtest ...` to launcher.backtest
    own = set(sub.choices)  # this module's commands need no other module's
    owner = [name for name, commands in COMMAND_MODULES.items() if command in commands]
    for module_name in () if command in own else owner or COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        module.register(sub)
    return parser


FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def run_as_process(module: str, argv: list[str]) -> int:
    """`clustergate COMMAND ARGS` is `python -P -m MODULE ARGS` in its own process, output and exit code passed
    through; the module is this checkout's (launcher/own_code.py), whatever the working directory holds. A SIGTERM or
    SIGHUP to clustergate is passed to that process, and clustergate exits when it has: `kill PID` of a `clustergate
    proof` ended clustergate alone and left the proof stopping and starting programs on its own. (Ctrl-C reaches both
    from the terminal; a SIGINT that cannot have come from the terminal is passed on too; a second SIGTERM or SIGHUP is
    ignored by a proof's clean-up.) The handlers are set before the child is started: set after, a SIGTERM while it
    started (its fork and exec, a few ms) ended clustergate alone and left the child running; one that comes then
    is passed on as soon as the child exists."""
    started: list[subprocess.Popen] = []
    pending: list[int] = []

    def forward(got: int, _frame: Any) -> None:
        if got == signal.SIGINT:  # Ctrl-C: the terminal sent it to the child too; else pass it on
            if not started:
                raise KeyboardInterrupt  # nothing started yet
            if _interrupt_may_be_the_terminals():
                return
        if started:
            started[0].send_signal(got)
        else:
            pending.append(got)

    # SIGINT too, by a handler that raises nothing once the child exists: a second one (two Ctrl-C, a CI runner's
    # cancel resent) raised its KeyboardInterrupt while the first's was handled, and clustergate exited 130 at once,
    # its child left running its clean-up unwaited (reproduced in-process with real signals).
    previous = {signum: signal.getsignal(signum) for signum in (*FORWARDED_SIGNALS, signal.SIGINT)}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:  # nohup: stays ignored, as the child's does
            signal.signal(signum, forward)
    try:
        child = subprocess.Popen(module_command(module, *argv), env=own_env())
        started.append(child)
        for got in pending:  # came while the child was being started
            child.send_signal(got)
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def _interrupt_may_be_the_terminals() -> bool:
    """Whether a SIGINT to clustergate may have come from its terminal (Ctrl-C), which sends it to the child in the
    same foreground process group too: clustergate has a controlling terminal whose foreground group is its own. Else
    it was sent to clustergate alone (`kill -INT`, a parent program, a CI runner's cancel), and reached no one else:
    ignored, the child ran to its end and clustergate exited 0."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:  # no controlling terminal
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        prepare()  # `>&-`: an `up` that started everything ended in a traceback, exit 1, on its last flush
        from launcher.supervise import LaunchError, home_variable_problem
    except KeyboardInterrupt:  # Ctrl-C while the launcher still loads: nothing read or changed yet
        sys.exit(130)
    try:
        module = PROCESS_COMMANDS.get(argv[0]) if argv else None
        args = None if module else build_parser(argv[0] if argv else None).parse_args(argv)
        if args is not None and (problem := home_variable_problem(args)):
            print(f"clustergate {argv[0]}: {problem}", file=sys.stderr)
            code = 2
        else:
            code = run_as_process(module, argv[1:]) if module else args.func(args)
        sys.stdout.flush()
    except LaunchError as exc:  # e.g. a supervisord that does not answer in time: say what to do
        print(f"clustergate: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except OutputRefused as exc:  # `> /dev/full`, a full disk: the answer is lost, say so instead of a traceback
        code = say_output_refused("clustergate" if argv[0].startswith("-") else f"clustergate {argv[0]}", exc)
    except BrokenPipeError:
        # The reader went away (`clustergate status | head -1`): stop quietly, as a Unix tool does on
        # SIGPIPE, and keep the interpreter's final flush from printing a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    finally:
        # Answered: a Ctrl-C from here on (pressed again while the interpreter exits) ends the process as SIGINT does
        # (a shell shows 130), not as a KeyboardInterrupt in Python's shutdown, which printed "Exception ignored in:
        # <module 'threading'> ... Traceback" after `up`'s answer (CI). Left alone when SIGINT is ignored (nohup).
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(code or 0)
