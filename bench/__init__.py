"""Benchmarks that print numbers; `python -m bench` runs them all and prints one table (see bench/suite.py)."""

import contextlib
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a benchmark that is stopped still runs its `finally` blocks
    and stops the redis-server and actor processes it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


@contextlib.contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory for a benchmark's redis-server data, topology and logs: removed when the
    benchmark ends normally, kept (and named on stderr) when it fails, for its logs. Each run of
    `bench_gate.py` leaves about 30 MB otherwise."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    except BaseException:
        print(f"kept {path} (redis data, topology and logs of the failed run)", file=sys.stderr)
        raise
    shutil.rmtree(path, ignore_errors=True)
