"""The commands that run this checkout's own code in a child process (`clustergate proof`, `clustergate
backtest`, a deploy's proof and its `clustergate up` on each host): `python -P -m MODULE` with this repository
first on PYTHONPATH. A plain `python -m` puts the working directory first on sys.path, so a `clustergate` run
from inside another checkout would run that checkout's proofs or backtest."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def module_command(module: str, *argv: str) -> list[str]:
    """`python -P -m MODULE ARGV`: -P keeps the working directory off sys.path; run it with own_env()."""
    return [sys.executable, "-P", "-m", module, *argv]


def own_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment (os.environ by default) with this repository first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    return env
