"""free_port() across processes: a port one live test process was handed is not handed to another
(two runs side by side once scraped each other's sockets); a dead process's ports are free again."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from launcher import harness
from launcher.harness import REPO, ActorProcess, demo_topology_data, retarget, write_topology


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


def test_free_port_hands_out_ports_outside_the_range_the_os_gives_to_bind_0_and_outgoing_connections():
    """A port handed out stays unbound until its actor starts, seconds later on a loaded machine. Inside the kernel's
    ephemeral range, another process's bind(0) (a test's fake server, `monitor up`'s any_free_port) or outgoing
    connection could be given it meanwhile, and the actor's bind then failed (a state writer's metrics port refused
    for 60 s on CI; 100 ports handed out, 3,000 bind(0) listeners of another process took 22 of them)."""
    low, high = harness._ephemeral_range()
    if not harness._outside_spans((low, high)):
        pytest.skip(f"the ephemeral range is {low}-{high}: no room outside it, free_port takes the OS's pick")
    ports = [harness.free_port() for _ in range(50)]
    assert all(p >= harness._PORT_FLOOR and not low <= p <= high for p in ports), sorted(ports)


NARROWED = """
import sys
from launcher.harness import free_port
ports = [free_port() for _ in range(300)]
low, high = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
inside = sorted(p for p in ports if low <= p <= high)
print(len(set(ports)), inside[:10])
"""


@pytest.mark.parametrize("narrowed", ["1024 60999", "9000 9100"])
def test_free_port_keeps_out_of_a_narrowed_ephemeral_range_using_the_ports_above_it(tmp_path, narrowed):
    """A range that starts below the floor left free_port no room below it: it took the OS's pick, inside the range
    (the flake it was made to end: 1024 60999, which leaves 61000-65535 free of bind(0)), or, in a range of 101 ports
    (9000 9100), gave up after handing out about 100 ("no free TCP port") with 55,000 ports free above it. Run in a
    network namespace of its own (the range is per namespace), as root."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare (util-linux) for a network namespace with its own port range")
    script = (f"ip link set lo up && echo '{narrowed}' > /proc/sys/net/ipv4/ip_local_port_range && "
              f"exec {sys.executable} -c '{NARROWED}'")
    run = subprocess.run(["unshare", "--net", "sh", "-c", script], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split(" ", 1) == ["300", "[]\n"], run.stdout


def test_an_actor_that_exits_before_serving_its_metrics_fails_the_wait_for_them_naming_why(tmp_path):
    """The wait for an actor's metrics port said only 'connection refused' for 60 s: whether the actor had exited
    (its port taken, a bad topology) or hung was not told. It fails at once when the actor exits, with its log."""
    data = retarget(demo_topology_data(), "redis://127.0.0.1:1/0")
    port = data["actors"]["buffer"]["metrics_port"]
    with socket.create_server(("127.0.0.1", port)):  # the port taken by another process before the actor binds it
        proc = ActorProcess(write_topology(tmp_path / "topology.yaml", data), "buffer").start()
        try:
            with pytest.raises(AssertionError) as failed:
                proc.wait_serving(port)
        finally:
            proc.terminate()
    message = str(failed.value)
    assert "buffer exited" in message and "event=start_failed" in message and "socket=metrics" in message, message


def test_monitor_ups_own_pick_of_a_prometheus_port_lies_outside_the_ephemeral_range():
    """`clustergate monitor up` without --port writes a port into Prometheus's command line, which binds it a moment
    later: the OS's bind(0) pick lay inside the ephemeral range, where any outgoing connection could take it first."""
    from launcher.monitor import any_free_port

    low, high = harness._ephemeral_range()
    if not harness._outside_spans((low, high)):
        pytest.skip(f"the ephemeral range is {low}-{high}: no room outside it, the OS's pick is taken")
    ports = [any_free_port() for _ in range(50)]
    assert all(p >= harness._PORT_FLOOR and not low <= p <= high for p in ports), sorted(ports)
