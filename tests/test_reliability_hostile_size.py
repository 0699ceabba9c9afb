"""Issue 16, defect 2: max_request_bytes bounds the gate's memory, not only its answer.

Four clients each send one 200 MB proposal at once to a real gate (with its real permit issuer and
redis-server). libzmq drops a connection whose message is larger than MAXMSGSIZE (max_request_bytes)
before it reads the body, so the clients see their connection dropped (a timeout), not `too_large`,
and the gate's peak RSS stays under 100 MB (it reached 1,028 MB when the size was checked after libzmq
had read each whole message).
"""

from __future__ import annotations

from pathlib import Path

import zmq

from helpers import wait_for
from test_gate_service import P26, decision_of, new_plan, write_book

HOSTILE_BYTES = 200 * 1024 * 1024
CLIENTS = 4
GATE_PEAK_RSS_LIMIT = 100 * 1024 * 1024


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


def test_four_clients_sending_200_mb_each_leave_the_gate_under_100_mb(tmp_path: Path, redis_server) -> None:
    write_book(redis_server.client())
    p26 = P26(tmp_path / "p26", redis_server.url).start()
    ctx = zmq.Context()
    socks, monitors = [], []
    try:
        pid = p26.gate.proc.pid
        before = peak_rss_bytes(pid)
        payload = zmq.Frame(b"x" * HOSTILE_BYTES)  # one buffer, sent zero-copy by every client
        for _ in range(CLIENTS):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, -1)  # dropped once, it stays dropped
            monitors.append(sock.get_monitor_socket(zmq.EVENT_DISCONNECTED))
            sock.connect(p26.endpoint)
            socks.append(sock)
        for sock in socks:
            sock.send_multipart([b"", payload], copy=False)
        answered = [False] * CLIENTS

        def each_dropped_or_answered() -> bool:
            for i, (sock, monitor) in enumerate(zip(socks, monitors)):
                if monitor.poll(0):
                    monitor.recv_multipart()
                    answered[i] = True
                if sock.poll(0):
                    sock.recv_multipart()  # the old behaviour: a too_large reply after the gate read it all
                    answered[i] = True
            return all(answered)

        wait_for(each_dropped_or_answered, 60, "every hostile client dropped or answered", interval_s=0.05)
        peak = peak_rss_bytes(pid)
        print(f"gate peak RSS {before / 2**20:.0f} MB before, {peak / 2**20:.0f} MB after {CLIENTS} x "
              f"{HOSTILE_BYTES / 2**20:.0f} MB (limit {GATE_PEAK_RSS_LIMIT / 2**20:.0f} MB)")
        assert peak < GATE_PEAK_RSS_LIMIT, f"gate peak RSS {peak / 2**20:.0f} MB"
        assert p26.gate.proc.poll() is None
        # The gate still decides.
        assert decision_of(p26.client.propose("ETHUSDT", "HOLD", plan_id=new_plan()))["recorded"]
    finally:
        for sock in socks + monitors:
            sock.close(linger=0)
        ctx.term()
        p26.stop()
