"""launcher/cli.py's COMMAND_MODULES: a command builds its parser from its own module alone, and that parser is the
one every module's would have given it (plain functions and fresh interpreters; no process is started)."""

from __future__ import annotations

import argparse
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.cli import COMMAND_MODULES, build_parser

REPO = Path(__file__).resolve().parent.parent


def commands_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_each_command_module_adds_the_commands_the_table_gives_it():
    """The table is what each register() adds: a command missing from it would build every module's parser (still
    right, the cost back); one given to the wrong module would not be found (`invalid choice`)."""
    for name, commands in COMMAND_MODULES.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        assert tuple(sub.choices) == commands, name


@pytest.mark.parametrize("command", [c for commands in COMMAND_MODULES.values() for c in commands])
def test_a_command_built_alone_parses_and_helps_as_with_every_module(command):
    alone, every = commands_of(build_parser(command)), commands_of(build_parser())
    assert alone[command].format_help() == every[command].format_help()
    assert set(alone) == {"validate", "schema", "proof", "backtest", command} | {
        c for commands in COMMAND_MODULES.values() if command in commands for c in commands}


def modules_loaded_building(command: str) -> set[str]:
    script = ("import sys\nfrom launcher.cli import build_parser\n"
              f"build_parser({command!r})\n"
              "print(sorted(n for n in sys.modules if n.split('.')[0] in {'launcher', 'redis', 'zmq'}))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(ast.literal_eval(result.stdout.strip().splitlines()[-1]))


def test_down_and_propose_load_no_redis_client_and_down_no_zeromq():
    """`clustergate down`, run by hand and by every test's clean-up, loaded every command module: Redis's client
    (0.1 s of CPU), ZeroMQ, `positions`, `deploy`, `monitor` (0.35 s of CPU a call in all, 0.18 s now)."""
    down = modules_loaded_building("down")
    assert "launcher.supervise" in down  # the check saw the command's own module
    assert not {"redis", "zmq", "launcher.positions", "launcher.client", "launcher.deploy", "launcher.monitor"} & down
    propose = modules_loaded_building("propose")
    assert "launcher.client" in propose and "zmq" in propose
    assert not {"redis", "launcher.positions", "launcher.deploy"} & propose


@pytest.mark.parametrize("command", ["validate", "schema"])
def test_the_clis_own_commands_load_no_command_module(command):
    """`clustergate validate`, which tests and deploys run often, built every command module (Redis's client, ZeroMQ,
    deploy, monitor: about 0.1 s of CPU a call more) because no module owns it: the CLI's own commands need none."""
    loaded = modules_loaded_building(command)
    assert "launcher.cli" in loaded  # the check saw the CLI
    assert not {"redis", "zmq", *COMMAND_MODULES} & loaded, loaded
    alone, every = commands_of(build_parser(command)), commands_of(build_parser())
    assert set(alone) == {"validate", "schema", "proof", "backtest"}
    assert alone[command].format_help() == every[command].format_help()
