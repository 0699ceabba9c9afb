"""Benchmarks that print numbers; `python -m bench` runs them all and prints one table (see bench/suite.py)."""

import signal
import sys


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a benchmark that is stopped still runs its `finally` blocks
    and stops the redis-server and actor processes it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
