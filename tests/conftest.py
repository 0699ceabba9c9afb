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
