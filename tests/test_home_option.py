"""A blank `--home ""` (a script's `--home "$HOME_DIR"` with the variable unset) is refused, exit 2, by every command
that takes one: it was read as no --home, so the command acted on $CLUSTERGATE_HOME or the repository root's system
(`down --home ""` stopped it; `up --home ""` started a second system there). Docs review."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REPO

NO_FILE = "/nonexistent/clustergate-docs-review.yaml"  # without the fix, up and render stop at reading it


@pytest.mark.parametrize("command", [
    ["up", NO_FILE], ["down"], ["status"], ["render", NO_FILE], ["propose", "--symbol", "BTCUSDT", "--action", "HOLD"],
    ["positions", "list"], ["proof", "readiness"], ["monitor", "status"], ["deploy", "--history"],
], ids=lambda c: c[0] if c[0] not in ("positions", "monitor") else " ".join(c))
@pytest.mark.parametrize("blank", ["", "  "], ids=["empty", "spaces"])
def test_a_blank_home_is_refused_by_every_command_that_takes_one(command, blank):
    done = subprocess.run([sys.executable, "-m", "launcher", *command, "--home", blank], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--home" in done.stderr and "blank" in done.stderr and done.stdout == "", done.stderr


@pytest.mark.parametrize("command", [["deploy", NO_FILE], ["status", NO_FILE, "--all-hosts"]], ids=["deploy", "status"])
def test_a_blank_home_root_is_refused(command):
    # `deploy FILE --home-root "$ROOT"` with ROOT unset looked for every host's home under the repo root's hosts/.
    done = subprocess.run([sys.executable, "-m", "launcher", *command, "--home-root", ""], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--home-root" in done.stderr and "blank" in done.stderr and done.stdout == "", done.stderr
