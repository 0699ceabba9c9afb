from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import RedisServer  # noqa: E402


@pytest.fixture
def redis_server(tmp_path: Path):
    """A real redis-server on a free port in a temp dir; stopped after the test."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live(tmp_path: Path):
    """The demo topology up under a real supervisord in its own home (tests/reliability.py)."""
    from reliability import LiveSystem

    system = LiveSystem(tmp_path).up()
    try:
        yield system
    finally:
        system.down()
