"""The actor runtime: envelopes on REP sockets, timers, readiness, SIGTERM handling."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from helpers import (DEADLINE_SCALE, REPO, SHUTDOWN_BOUND_S, ActorProcess, demo_topology_data, free_port, retarget, scrape, wait_for,
                     write_topology)

# A throwaway actor of kind permit_issuer whose handler fails on demand: the runtime, not the
# handler, must guarantee one envelope reply per request.
PROBE_ACTOR = '''
import sys
from actors.runtime import Actor, main
from actors.wire import decode, ok_envelope

class Probe(Actor):
    kind = "permit_issuer"

    def setup(self):
        self.ticks = 0
        self.once_runs = 0
        self.on_request("requests", self.handle)
        self.every(0.05, self.tick)
        self.after(0.05, self.once)
        self.set_ready(True)

    def tick(self):
        self.ticks += 1
        if self.ticks == 3:
            raise RuntimeError("timer failure must not stop the loop")

    def once(self):
        self.once_runs += 1

    def handle(self, frames):
        body = decode(frames[0])
        if body.get("explode"):
            raise ValueError("boom")
        return ok_envelope(echo=body, ticks=self.ticks, once_runs=self.once_runs)

main(Probe, sys.argv[1:])
'''


@contextlib.contextmanager
def probe_actor(tmp_path: Path, source: str, actors: dict, kind: str):
    """Run `source` (a script defining an actor) as actor "probe" of `kind` in a topology of `actors`;
    yields the process once the actor reports ready, and kills it afterwards."""
    topo = {"name": "probe", "symbols": ["BTCUSDT"], "redis": {"url": "redis://127.0.0.1:1/0"}, "actors": actors}
    topo_path = write_topology(tmp_path / "probe.yaml", topo)
    script = tmp_path / "probe.py"
    script.write_text(source)
    log = open(tmp_path / "probe.log", "wb")
    proc = subprocess.Popen([sys.executable, str(script), "--topology", str(topo_path), "--name", "probe"],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    metrics = actors["probe"]["metrics_port"]
    try:
        wait_for(lambda: scrape(metrics).get(f'clustergate_actor_ready{{actor="probe",kind="{kind}"}}') == 1.0,
                 15, f"probe actor ({kind}) ready")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def probe(tmp_path: Path):
    port, metrics = free_port(), free_port()
    actors = {"probe": {"kind": "permit_issuer", "metrics_port": metrics,
                        "sockets": {"requests": {"bind": f"tcp://127.0.0.1:{port}"}}}}
    with probe_actor(tmp_path, PROBE_ACTOR, actors, "permit_issuer") as proc:
        yield proc, port, metrics, tmp_path / "probe.log"


def request(port: int, body: bytes, timeout_ms: int = 3000) -> dict:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        sock.send(body)
        assert sock.poll(timeout_ms), "no reply"
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)


def _closed_by_server(conn) -> bool:
    """Whether the peer closed a non-blocking client socket (EOF or reset), without waiting."""
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_idle_metrics_connections_are_bounded_and_closed_so_they_cannot_take_the_actors_descriptors(probe) -> None:
    """Connections to the metrics endpoint that never send a request each held a thread and a file descriptor
    forever: a gate at its descriptor limit (baseline + 40, 100 such connections) could not reconnect to Redis
    ("Too many open files") and answered no proposal. Now at most MAX_SCRAPE_CONNECTIONS are served at once (the
    others are closed at once) and one that sends nothing is closed after SCRAPE_IDLE_TIMEOUT_S."""
    import socket

    from actors.runtime import SCRAPE_IDLE_TIMEOUT_S, MAX_SCRAPE_CONNECTIONS
    proc, _, metrics, log_path = probe
    baseline = len(os.listdir(f"/proc/{proc.pid}/fd"))
    conns = [socket.create_connection(("127.0.0.1", metrics), timeout=10) for _ in range(MAX_SCRAPE_CONNECTIONS + 8)]
    for conn in conns:
        conn.setblocking(False)
    most = [baseline]

    def all_closed() -> bool:
        most[0] = max(most[0], len(os.listdir(f"/proc/{proc.pid}/fd")))
        return all(_closed_by_server(c) for c in conns)

    try:
        wait_for(all_closed, SCRAPE_IDLE_TIMEOUT_S + 10, "every idle metrics connection closed by the actor",
                 interval_s=0.1)
    finally:
        for c in conns:
            c.close()
    assert most[0] <= baseline + MAX_SCRAPE_CONNECTIONS + 4, (most[0], baseline)
    assert scrape(metrics)['clustergate_actor_ready{actor="probe",kind="permit_issuer"}'] == 1.0
    log = log_path.read_text()  # socketserver printed "Exception occurred during processing of request" per timeout
    assert "during processing of request" not in log and "TimeoutError" not in log, log[-2000:]


def test_handler_exception_still_gets_one_error_envelope_and_the_actor_keeps_serving(probe) -> None:
    proc, port, metrics, _ = probe
    failed = request(port, b'{"explode": true}')
    assert failed == {"status": "error", "reason": "internal_error", "detail": "ValueError: boom"}
    assert request(port, b'{"n": 1}')["echo"] == {"n": 1}
    assert scrape(metrics)['clustergate_handler_errors_total{actor="probe",where="handler"}'] >= 1
    assert proc.poll() is None


def test_timers_keep_running_after_a_timer_raises_and_a_timer_made_with_after_runs_once(probe) -> None:
    _, port, metrics, _ = probe
    wait_for(lambda: request(port, b"{}")["ticks"] > 10, 10, "timer ticks past the failing one")
    assert request(port, b"{}")["once_runs"] == 1
    assert scrape(metrics)['clustergate_handler_errors_total{actor="probe",where="timer"}'] == 1


def test_sigterm_stops_the_actor_within_the_shutdown_bound_with_exit_code_0(probe) -> None:
    proc, _, _, log = probe
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=SHUTDOWN_BOUND_S) == 0
    lines = log.read_text().splitlines()
    assert any("event=stopped" in line for line in lines)
    assert all(" actor=probe " in line for line in lines if line.strip())  # one event per line, each tagged


def test_every_actor_of_the_demo_exits_0_within_the_shutdown_bound_of_sigterm(redis_server, tmp_path: Path) -> None:
    data = retarget(demo_topology_data(), redis_server.url)
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    procs = [ActorProcess(topo_path, name, spec.get("kind", name)).start() for name, spec in data["actors"].items()]
    try:
        for p, spec in zip(procs, data["actors"].values()):
            wait_for(lambda: any(k.startswith("clustergate_actor_ready") for k in scrape(spec["metrics_port"])),
                     20, f"{p.name} serving metrics")
        # One at a time, as supervisord stops a program: each must be gone within the bound of its SIGTERM.
        for p in procs:
            p.proc.send_signal(signal.SIGTERM)
            try:
                code = p.proc.wait(timeout=SHUTDOWN_BOUND_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{p.name} still running {SHUTDOWN_BOUND_S} s after SIGTERM\n{p.log()[-2000:]}")
            assert code == 0, f"{p.name} exited {code}\n{p.log()[-2000:]}"
    finally:
        for p in procs:
            p.terminate()


def test_actor_refuses_a_name_missing_from_the_topology(tmp_path: Path) -> None:
    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    result = subprocess.run([sys.executable, "-m", "actors.gate", "--topology", str(topo_path), "--name", "gaet"],
                            capture_output=True, text=True, cwd=REPO, timeout=30)
    assert result.returncode == 2
    assert "actors.gaet: no such actor" in result.stderr


# A throwaway actor of kind gate serving its ROUTER role in batches, failing on demand.
BATCH_PROBE_ACTOR = '''
import sys
from actors.runtime import Actor, main
from actors.wire import decode, ok_envelope

class BatchProbe(Actor):
    kind = "gate"

    def setup(self):
        self.on_requests_batch("proposals", self.handle)
        self.set_ready(True)

    def handle(self, bodies, read_at):
        parsed = [decode(body[-1]) for body in bodies]
        if any(p.get("explode") for p in parsed):
            raise ValueError("boom")
        return [ok_envelope(echo=float("nan") if p.get("nan") else p, frames=len(body), batch=len(bodies))
                for p, body in zip(parsed, bodies)]

main(BatchProbe, sys.argv[1:])
'''


@pytest.fixture
def batch_probe(tmp_path: Path):
    port, metrics, issuer_port, issuer_metrics = free_port(), free_port(), free_port(), free_port()
    actors = {"probe": {"kind": "gate", "metrics_port": metrics,
                        "sockets": {"proposals": {"bind": f"tcp://127.0.0.1:{port}"},
                                    "permits": {"connect": f"tcp://127.0.0.1:{issuer_port}"}}},
              "issuer": {"kind": "permit_issuer", "metrics_port": issuer_metrics,
                         "sockets": {"requests": {"bind": f"tcp://127.0.0.1:{issuer_port}"}}}}
    with probe_actor(tmp_path, BATCH_PROBE_ACTOR, actors, "gate") as proc:
        yield proc, port, metrics


def dealer_burst(port: int, messages: list[list[bytes]], timeout_ms: int = 3000) -> list[list[bytes]]:
    """Send every message at once on one DEALER, return the replies in arrival order."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        for frames in messages:
            sock.send_multipart(frames)
        replies = []
        for _ in messages:
            assert sock.poll(timeout_ms), "a request got no reply"
            replies.append(sock.recv_multipart())
        return replies
    finally:
        sock.close(linger=0)


def test_a_router_role_answers_req_and_dealer_clients_one_reply_each_in_order(batch_probe) -> None:
    _, port, _ = batch_probe
    assert request(port, b'{"n": 0}')["echo"] == {"n": 0}
    replies = dealer_burst(port, [[b"", json.dumps({"n": i}).encode()] for i in range(50)])
    assert [r[0] for r in replies] == [b""] * 50
    assert [json.loads(r[1])["echo"]["n"] for r in replies] == list(range(50))
    # A body with extra frames reaches the handler whole (the gate answers it `multipart`).
    assert json.loads(dealer_burst(port, [[b"", b"x", b'{"n": 1}']])[0][1])["frames"] == 2


def test_a_batch_handler_exception_gives_only_the_request_that_raised_an_error_envelope(batch_probe) -> None:
    proc, port, metrics = batch_probe
    replies = dealer_burst(port, [[b"", b'{"n": 1}'], [b"", b'{"explode": true}'], [b"", b'{"n": 2}']])
    envelopes = [json.loads(r[1]) for r in replies]
    # Whatever batches the three arrived in, the request that raises is the only one that fails.
    assert [e.get("echo") for e in envelopes] == [{"n": 1}, None, {"n": 2}]
    assert envelopes[1] == {"status": "error", "reason": "internal_error", "detail": "ValueError: boom"}
    assert request(port, b'{"n": 3}')["echo"] == {"n": 3}
    assert scrape(metrics)['clustergate_handler_errors_total{actor="probe",where="handler"}'] >= 1
    assert proc.poll() is None


def test_a_reply_json_cannot_encode_gets_internal_error_and_the_actor_keeps_serving(batch_probe) -> None:
    """Found by review: a reply holding NaN (JSON without NaN) raised out of the batch loop and ended the actor."""
    proc, port, metrics = batch_probe
    replies = dealer_burst(port, [[b"", b'{"n": 1}'], [b"", b'{"nan": true}'], [b"", b'{"n": 2}']])
    envelopes = [json.loads(r[1]) for r in replies]
    assert [e.get("echo") for e in envelopes] == [{"n": 1}, None, {"n": 2}]
    assert envelopes[1]["reason"] == "internal_error" and "could not be encoded" in envelopes[1]["detail"]
    assert request(port, b'{"n": 3}')["echo"] == {"n": 3}
    assert proc.poll() is None


# --------------------------------------------------------------------------- issue 18: start-up errors


def start_probe(tmp_path: Path, endpoint: str) -> tuple[subprocess.Popen, Path, int]:
    """The PROBE_ACTOR binding `endpoint`, started without waiting for it."""
    metrics = free_port()
    actors = {"probe": {"kind": "permit_issuer", "metrics_port": metrics, "sockets": {"requests": {"bind": endpoint}}}}
    topo = {"name": "probe", "symbols": ["BTCUSDT"], "redis": {"url": "redis://127.0.0.1:1/0"}, "actors": actors}
    topo_path = write_topology(tmp_path / "probe.yaml", topo)
    script = tmp_path / "probe.py"
    script.write_text(PROBE_ACTOR)
    log_path = tmp_path / "probe.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), "--topology", str(topo_path), "--name", "probe"],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    return proc, log_path, metrics


def test_an_actor_whose_bind_fails_exits_non_zero_at_once_with_one_line_naming_socket_and_endpoint(tmp_path: Path) -> None:
    holder = zmq.Context.instance().socket(zmq.REP)
    holder.setsockopt(zmq.LINGER, 0)
    port = holder.bind_to_random_port("tcp://127.0.0.1")
    endpoint = f"tcp://127.0.0.1:{port}"
    proc, log_path, _ = start_probe(tmp_path, endpoint)
    try:
        try:
            code = proc.wait(timeout=10 * SHUTDOWN_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the actor hangs after its bind failed\n{log_path.read_text()[-2000:]}")
        assert code != 0
        failed = [line for line in log_path.read_text().splitlines() if "event=start_failed" in line]
        assert len(failed) == 1, log_path.read_text()
        assert "socket=requests" in failed[0] and f"endpoint={endpoint}" in failed[0]
        assert "Traceback" not in log_path.read_text()
    finally:
        holder.close(linger=0)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_actor_serves_on_an_ipv6_loopback_endpoint(tmp_path: Path) -> None:
    port = free_port()
    proc, log_path, metrics = start_probe(tmp_path, f"tcp://[::1]:{port}")
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IPV6, 1)
    try:
        wait_for(lambda: scrape(metrics).get('clustergate_actor_ready{actor="probe",kind="permit_issuer"}') == 1.0
                 or proc.poll() is not None, 15, "the probe to be ready or to exit")
        assert proc.poll() is None, log_path.read_text()
        sock.connect(f"tcp://[::1]:{port}")
        sock.send(b'{"n": 6}')
        assert sock.poll(3000 * DEADLINE_SCALE), "no reply over IPv6"
        assert json.loads(sock.recv())["echo"] == {"n": 6}
    finally:
        sock.close(linger=0)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_actor_refuses_to_take_over_an_ipc_socket_another_process_serves(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/taken.sock"
    holder = zmq.Context.instance().socket(zmq.REP)
    holder.setsockopt(zmq.LINGER, 0)
    holder.bind(endpoint)
    proc, log_path, _ = start_probe(tmp_path, endpoint)
    try:
        try:
            code = proc.wait(timeout=10 * SHUTDOWN_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the actor bound an ipc socket another process serves\n{log_path.read_text()[-2000:]}")
        assert code != 0
        failed = [line for line in log_path.read_text().splitlines() if "event=start_failed" in line]
        assert len(failed) == 1 and f"endpoint={endpoint}" in failed[0] and "in use" in failed[0], log_path.read_text()
    finally:
        holder.close(linger=0)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_actor_exits_when_its_supervisor_dies(tmp_path: Path) -> None:
    """The parent (here a shell standing in for supervisord) is killed with SIGKILL: the actor follows."""
    port, metrics = free_port(), free_port()
    actors = {"probe": {"kind": "permit_issuer", "metrics_port": metrics,
                        "sockets": {"requests": {"bind": f"tcp://127.0.0.1:{port}"}}}}
    topo = {"name": "probe", "symbols": ["BTCUSDT"], "redis": {"url": "redis://127.0.0.1:1/0"}, "actors": actors}
    topo_path = write_topology(tmp_path / "probe.yaml", topo)
    (tmp_path / "probe.py").write_text(PROBE_ACTOR)
    child_pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(["sh", "-c", f'{sys.executable} {tmp_path / "probe.py"} --topology {topo_path} --name probe '
                                           f'> {tmp_path / "probe.log"} 2>&1 & echo $! > {child_pid_file}; wait'],
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    child = 0
    try:
        wait_for(lambda: scrape(metrics).get('clustergate_actor_ready{actor="probe",kind="permit_issuer"}') == 1.0,
                 15, "the probe ready")
        child = int(child_pid_file.read_text())
        parent.kill()
        parent.wait()
        wait_for(lambda: not os.path.exists(f"/proc/{child}") or open(f"/proc/{child}/stat").read().rpartition(")")[2].split()[0] == "Z",
                 5, "the actor to exit after its parent died")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def test_a_socket_the_loop_found_readable_is_read_without_a_poll_and_gives_none_when_nothing_waits() -> None:
    """_recv_ready(sock, ready=True) skips its own poll (the loop's poll found the socket readable): it still reads
    a waiting message whole, and a message gone meanwhile (nothing waits) is None, not an error."""
    from actors.runtime import _recv_ready

    ctx = zmq.Context()
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer.connect(f"tcp://127.0.0.1:{port}")
        assert _recv_ready(router, True) is None
        dealer.send_multipart([b"", b"one", b"two"])
        wait_for(lambda: router.poll(0), 10, "the router to see a message")
        frames = _recv_ready(router, True)
        assert frames is not None and frames[1:] == [b"", b"one", b"two"]
        assert _recv_ready(router, True) is None
        # A ROUTER's routing id read as bytes (routed): the same frames, one-frame bodies and empty ones too.
        messages = [[b"", b"three"], [b"solo"], [b""], [b"", b"", b"x" * 5000]]
        for message in messages:
            dealer.send_multipart(message)
        got: list[list[bytes]] = []
        wait_for(lambda: got.extend(iter(lambda: _recv_ready(router, False, routed=True), None))
                 or len(got) == len(messages), 10, "every message")
        assert [message[1:] for message in got] == messages and {message[0] for message in got} == {frames[0]}
        assert _recv_ready(router, True, routed=True) is None
    finally:
        for sock in (router, dealer):
            sock.close(linger=0)
        ctx.term()


def test_a_waiting_message_is_read_whole_in_order_and_nothing_is_read_when_none_waits() -> None:
    """_recv_ready reads a message frame by frame until its last (issue 14: by each frame's `more`, not a
    getsockopt per frame): every frame of every message, empty and large ones too, and no more."""
    from actors.runtime import _recv_ready

    ctx = zmq.Context()
    router, dealer, req = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER), ctx.socket(zmq.REQ)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        for sock in (dealer, req):
            sock.connect(f"tcp://127.0.0.1:{port}")
        assert _recv_ready(router) is None
        messages = [[b"", b"one"], [b"a"], [b"", b"x" * 5000, b"", b"3", b"4th"], [b"", b""], [b"solo" * 20]]
        for frames in messages:
            dealer.send_multipart(frames)
        wait_for(lambda: router.poll(0), 10, "the router to see a message")
        got: list[list[bytes]] = []
        wait_for(lambda: got.extend(iter(lambda: _recv_ready(router), None)) or len(got) == len(messages), 10,
                 "every message")
        assert [frames[1:] for frames in got] == messages
        assert len({frames[0] for frames in got}) == 1  # the DEALER's routing id, once per message
        assert _recv_ready(router) is None
        # A REQ socket that has sent and awaits its reply cannot receive, and one that is closed cannot either.
        req.send(b"request")
        assert _recv_ready(req) is None
        req.close(linger=0)
        assert _recv_ready(req) is None
    finally:
        for sock in (router, dealer, req):
            sock.close(linger=0)
        ctx.term()
