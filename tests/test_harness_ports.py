"""free_port() across processes: a port one live test process was handed is not handed to another
(two runs side by side once scraped each other's sockets); a dead process's ports are free again."""

from __future__ import annotations

import subprocess
import sys

from launcher import harness
from launcher.harness import REPO


def _claim_in_child(port: int) -> subprocess.Popen:
    code = ("import sys; from launcher import harness; "
            f"ok = harness._claim_port({port}); harness._HANDED_OUT.add({port}); "
            "print(ok, flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "True"
    return child


def test_a_port_claimed_by_a_live_process_is_not_handed_out_and_is_free_once_it_exits():
    port = harness.free_port()  # claimed by this process: release it for the child
    (harness._PORT_CLAIMS / str(port)).unlink()
    harness._HANDED_OUT.discard(port)
    child = _claim_in_child(port)
    try:
        assert harness._claim_port(port) is False
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    # The child released its claim at exit; a claim left by a killed process is taken over too.
    assert not (harness._PORT_CLAIMS / str(port)).exists()
    child = _claim_in_child(port)
    child.kill()
    child.wait(timeout=30)
    assert harness._claim_port(port) is True
    harness._HANDED_OUT.add(port)
