"""`clustergate status` on topologies with two gates and a standby cluster chain, met as an operator in the middle of a
failover meets them (review of fd876c7): real actor processes, a real Redis, real sockets in an actor's place."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from ha_helpers import with_second_gate_pair, with_standby_chain
from helpers import ActorProcess, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from launcher import keys
from launcher.overview import collect_overview, render_overview
from launcher.topology import load_topology


class _NotMetrics(BaseHTTPRequestHandler):
    """Another program on an actor's metrics port (its host back after a failover, the port taken): 200, text."""

    def do_GET(self) -> None:
        body = b"<html>node dashboard</html>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def not_metrics_on(port: int) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _NotMetrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def dripping_on(port: int, for_s: float = 60.0) -> Iterator[None]:
    """A process that accepts on the port and answers a status line, then one byte of a header line every 0.2 s, for
    for_s (a wedged or hostile endpoint: each read gets a byte before any per-read timeout)."""
    server = socket.create_server(("127.0.0.1", port))
    stop = threading.Event()
    conns: list[socket.socket] = []

    def drip(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Wait: ")
            end = time.monotonic() + for_s
            while not stop.is_set() and time.monotonic() < end:
                conn.sendall(b"1")
                stop.wait(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield
    finally:
        stop.set()
        server.close()
        for conn in conns:
            conn.close()


def ha_data(redis_url: str) -> dict[str, Any]:
    return with_standby_chain(with_second_gate_pair(retarget(demo_topology_data(), redis_url)))


def run(path, names_kinds) -> list[ActorProcess]:
    procs = []
    try:
        for name, kind in names_kinds:
            procs.append(ActorProcess(path, name, kind=kind, log_dir=path.parent))
            procs[-1].start()
    except BaseException:
        for proc in procs:
            proc.terminate()
        raise
    return procs


def metrics_up(data: dict[str, Any], *names: str) -> None:
    for name in names:
        port = data["actors"][name]["metrics_port"]
        wait_for(lambda port=port, name=name: any(f'actor="{name}"' in k for k in scrape(port)), 20, f"{name}'s metrics")


def test_status_does_not_take_another_program_on_the_first_gates_or_buffers_port_for_them(tmp_path, redis_server):
    """gate's and buffer's host back after a failover, their metrics ports answered (200, text) by another program:
    status took that for gate and buffer answering, printed `gate  ?   fallbacks so far: ?`, set the flat k_source
    (status --json) to None while gate_b decided on the proxy, and showed a warm-up of `?` without reading buffer_b."""
    data = ha_data(redis_server.url)
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    procs = run(path, (("permit_issuer_b", "permit_issuer"), ("gate_b", "gate"), ("buffer_b", "buffer")))
    try:
        metrics_up(data, "gate_b", "buffer_b")
        with not_metrics_on(data["actors"]["gate"]["metrics_port"]), \
                not_metrics_on(data["actors"]["buffer"]["metrics_port"]):
            ov = collect_overview(topo)
    finally:
        for proc in procs:
            proc.terminate()
    gates = {g["name"]: g for g in ov["gates"]}
    assert gates["gate"]["answered"] is False, gates
    assert ov["k_source"] == "proxy", ov
    assert ov["read_from"]["buffer"] == "buffer_b", ov
    assert ov["points_per_symbol"] == {s: 0 for s in topo.symbols}, ov["points_per_symbol"]
    shown = render_overview(topo, ov)
    assert "buffer figures above are buffer_b's: the metrics of buffer did not answer" in shown, shown


def test_status_ends_when_the_first_gates_metrics_port_drips_bytes_without_ever_finishing(tmp_path, redis_server):
    """A process on gate's metrics port that accepts and sends a byte of a header every 0.2 s: each read got a byte
    within the 1 s timeout, so `clustergate status` waited as long as it dripped (five minutes here; hours for a
    wedged peer), while gate_b answered."""
    data = ha_data(redis_server.url)
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    procs = run(path, (("permit_issuer_b", "permit_issuer"), ("gate_b", "gate")))
    done: dict[str, Any] = {}
    try:
        metrics_up(data, "gate_b")
        with dripping_on(data["actors"]["gate"]["metrics_port"], for_s=300.0):
            worker = threading.Thread(target=lambda: done.setdefault("ov", collect_overview(topo)), daemon=True)
            worker.start()
            wait_for(lambda: "ov" in done, 15, "status's overview to end while gate's port drips")
    finally:
        for proc in procs:
            proc.terminate()
    gates = {g["name"]: g for g in done["ov"]["gates"]}
    assert gates["gate"]["answered"] is False and gates["gate_b"]["answered"] is True, gates


def test_status_reads_the_cluster_side_from_one_chain_not_one_actor_of_each(tmp_path, redis_server):
    """correlator down, buffer and the standby chain's buffer_b and correlator_b up: status showed buffer's warm-up
    beside correlator_b's corr_ready and matrix (fed by buffer_b, another history), saying nothing of the mix, and
    judged buffer's symbols `not in the matrix` by correlator_b. The figures now come from one chain."""
    data = ha_data(redis_server.url)
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    procs = run(path, (("buffer", "buffer"), ("buffer_b", "buffer"), ("correlator_b", "correlator")))
    try:
        metrics_up(data, "buffer", "buffer_b", "correlator_b")
        ov = collect_overview(topo)
    finally:
        for proc in procs:
            proc.terminate()
    assert ov["read_from"].get("correlator") == "correlator_b", ov
    assert ov["read_from"].get("buffer") == "buffer_b", ov  # the same chain's buffer, though buffer answered
    shown = render_overview(topo, ov)
    assert "buffer figures above are buffer_b's (the chain of correlator_b):" in shown, shown
    assert "correlator figures above are correlator_b's: the metrics of correlator did not answer" in shown, shown


def test_status_json_flat_k_source_says_proxy_when_any_gate_decides_on_the_proxy(tmp_path, redis_server):
    """gate (freshness_s 600) takes K from a 30 s old cluster state, gate_b (freshness_s 2) from the proxy: the flat
    `k_source` of `status --json` said "cluster" (the first answering gate's), so a check on it stayed green while
    every decision of gate_b fell back. It is "proxy" when any gate that answered is on the proxy, and the flat
    fallbacks are the sum over the gates."""
    from launcher.client import GateClient
    data = ha_data(redis_server.url)
    data["actors"]["gate"]["settings"] = {**(data["actors"]["gate"].get("settings") or {}), "freshness_s": 600}
    data["actors"]["gate_b"]["settings"] = {**(data["actors"]["gate_b"].get("settings") or {}), "freshness_s": 2}
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    r = redis_server.client()
    now = int(time.time())
    for symbol, (amt, price) in {"BTCUSDT": (0.5, 64000.0), "ETHUSDT": (8.0, 3400.0)}.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": price, "ts_epoch": now})
    r.hset(keys.CLUSTER_STATE, mapping={"updated_ts": now - 30, "cluster_stress": 0.5, "clusters_count": 1})
    procs = run(path, (("permit_issuer", "permit_issuer"), ("gate", "gate"),
                       ("permit_issuer_b", "permit_issuer"), ("gate_b", "gate")))
    try:
        metrics_up(data, "gate", "gate_b")
        for i, gate in enumerate(("gate", "gate_b")):
            client = GateClient(data["actors"][gate]["sockets"]["proposals"]["bind"], timeout_ms=2000, retries=3)
            try:
                reply = client.propose("BTCUSDT", "HOLD", plan_id=f"review-{i}")
            finally:
                client.close()
            assert reply.get("status") == "ok", reply
        ov = collect_overview(topo)
    finally:
        for proc in procs:
            proc.terminate()
    gates = {g["name"]: g for g in ov["gates"]}
    assert gates["gate"]["k_source"] == "cluster" and gates["gate_b"]["k_source"] == "proxy", gates
    assert ov["k_source"] == "proxy", ov
    assert ov["cluster_fallbacks"] == gates["gate"]["cluster_fallbacks"] + gates["gate_b"]["cluster_fallbacks"], ov


def test_status_all_hosts_says_an_actors_port_answers_with_another_programs_page(tmp_path, monkeypatch):
    """`status FILE --all-hosts` asks every program (no first-of-kind blind spot), but the gate's metrics port answered
    by another program (200, text) read as `REACHED yes  READY no` with no word of why, as if the gate ran and were
    not ready yet."""
    from launcher.hosts_status import collect_all_hosts
    from launcher.multihost_harness import PASSWORD, side_by_side_data
    from launcher.multihost_harness import write_topology as write_multihost
    monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", PASSWORD)
    data = side_by_side_data(tmp_path)
    topo = load_topology(write_multihost(tmp_path, data))
    spec = topo.actors["gate"]
    server = ThreadingHTTPServer((spec.host, spec.metrics_port), _NotMetrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hosts = collect_all_hosts(topo)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    gate = next(row for info in hosts.values() for row in info["programs"] if row["name"] == "gate")
    assert gate["ready"] is False, gate
    assert "not gate's metrics" in gate.get("error", ""), gate


def held_positions(r) -> None:
    """BTCUSDT and ETHUSDT held, fresh snapshots: the clusterer writes a state."""
    for symbol, amt in {"BTCUSDT": 0.5, "ETHUSDT": 8.0}.items():
        r.hset(keys.position_snapshot(symbol), mapping={"position_amt": amt, "mark_price": 100.0,
                                                        "ts_epoch": int(time.time())})


def test_status_reads_the_cluster_side_from_the_chain_whose_writer_holds_the_lease(tmp_path, redis_server):
    """The first chain's feed dead (market_a's price_feed in configs/ha.yaml), its buffer, correlator, clusterer and
    state writer up; the standby chain, on its own feed, writes the state. status read the first chain (every member
    answered): a warm-up of 0 points and `corr_ready: 0` above a fresh cluster state the gate took K from, as if the
    failover had not happened. It reads the chain whose state writer holds the lease."""
    import copy
    data = with_standby_chain(retarget(demo_topology_data(), redis_server.url))
    feed_b = copy.deepcopy(data["actors"]["price_feed"])
    feed_b.update(kind="price_feed", metrics_port=free_port())
    feed_b["sockets"]["ticks"]["bind"] = f"tcp://127.0.0.1:{free_port()}"
    data["actors"]["price_feed_b"] = feed_b
    data["actors"]["buffer_b"]["sockets"]["ticks"]["connect"] = feed_b["sockets"]["ticks"]["bind"]
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    held_positions(redis_server.client())
    procs = run(path, [(f"{n}_b", n) for n in ("price_feed", "buffer", "correlator", "clusterer", "state_writer")])
    try:
        port_b = data["actors"]["state_writer_b"]["metrics_port"]
        wait_for(lambda: scrape(port_b).get("p27_updates_total", 0) > 0, 90, "state_writer_b's first write")
        procs += run(path, [(n, n) for n in ("buffer", "correlator", "clusterer", "state_writer")])
        metrics_up(data, "buffer", "correlator", "clusterer", "state_writer")
        ov = collect_overview(topo)
    finally:
        for proc in procs:
            proc.terminate()
    assert ov["cluster_chain"] == {"buffer": "buffer_b", "correlator": "correlator_b", "clusterer": "clusterer_b",
                                   "state_writer": "state_writer_b"}, ov
    assert ov["corr_ready"] == 1, ov
    shown = render_overview(topo, ov)
    assert "figures above are of the chain whose state writer holds the lease" in shown, shown


def test_status_names_the_state_writer_that_holds_the_lease_when_it_is_the_first(tmp_path, redis_server):
    """Two state writers, the first chain's writing: status said nothing of which one writes (a line came only when
    the standby held the lease), so an operator could not tell the standby from the writer, nor see that neither
    writes. It names the holder and the standby, each with what its metrics say."""
    data = with_standby_chain(retarget(demo_topology_data(), redis_server.url))
    path = write_topology(tmp_path / "t.yaml", data)
    topo = load_topology(path)
    held_positions(redis_server.client())
    procs = run(path, [(n, n) for n in ("price_feed", "buffer", "correlator", "clusterer", "state_writer")])
    try:
        port = data["actors"]["state_writer"]["metrics_port"]
        wait_for(lambda: scrape(port).get("p27_state_writer_lease_held") == 1, 90, "state_writer taking the lease")
        procs += run(path, [(f"{n}_b", n) for n in ("buffer", "correlator", "clusterer", "state_writer")])
        metrics_up(data, "state_writer_b")
        ov = collect_overview(topo)
    finally:
        for proc in procs:
            proc.terminate()
    assert ov["state_writers_lease_held"] == {"state_writer": True, "state_writer_b": False}, ov
    shown = render_overview(topo, ov)
    assert "cluster state writer: state_writer (holds the write lease); standby: state_writer_b" in shown, shown
    silent = render_overview(topo, {**ov, "state_writers_lease_held": {"state_writer": False, "state_writer_b": None}})
    assert ("cluster state writer: NONE holds the write lease (state_writer: does not; state_writer_b: its metrics "
            "did not answer)") in silent, silent
    both = render_overview(topo, {**ov, "state_writers_lease_held": {"state_writer": True, "state_writer_b": True}})
    assert "cluster state writer: state_writer, state_writer_b (each says it holds the write lease" in both, both
