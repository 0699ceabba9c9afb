"""High availability test parts, as real processes on one real Redis: two active gate + permit_issuer pairs, a
second cluster chain, and a TCP relay that holds a state writer's write in flight."""

from __future__ import annotations

import contextlib
import copy
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from helpers import ActorProcess, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable
from launcher.curve import generate_keypair, read_keypair, read_public_key

PAIRS = (("gate", "permit_issuer"), ("gate_b", "permit_issuer_b"))


def two_gate_topology_data(redis_url: str, gate_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The demo topology on free ports with a second gate + permit_issuer pair (gate_b, permit_issuer_b)."""
    data = retarget(demo_topology_data(), redis_url)
    data["actors"]["gate"]["settings"] = {**(data["actors"]["gate"].get("settings") or {}), **(gate_settings or {})}
    return with_second_gate_pair(data)


def with_second_gate_pair(data: dict[str, Any]) -> dict[str, Any]:
    """data with gate_b + permit_issuer_b, copies of its gate and permit_issuer on free ports."""
    actors = data["actors"]
    issuer = copy.deepcopy(actors["permit_issuer"])
    gate = copy.deepcopy(actors["gate"])
    issuer_endpoint = f"tcp://127.0.0.1:{free_port()}"
    issuer.update(kind="permit_issuer", metrics_port=free_port())
    issuer["sockets"]["requests"]["bind"] = issuer_endpoint
    gate.update(kind="gate", metrics_port=free_port())
    gate["sockets"]["proposals"]["bind"] = f"tcp://127.0.0.1:{free_port()}"
    gate["sockets"]["permits"]["connect"] = issuer_endpoint
    actors["permit_issuer_b"] = issuer
    actors["gate_b"] = gate
    return data


def curve_two_gate_topology_data(workdir: Path, redis_url: str) -> dict[str, Any]:
    """Two gate + permit_issuer pairs, every socket under CurveZMQ, each actor its own keypair (in
    workdir/keys, as configs/ha.yaml); only the client 'desk' may send proposals."""
    for name in ("gate", "gate_b", "permit_issuer", "permit_issuer_b", "desk"):
        generate_keypair(workdir / "keys", name)
    data = retarget(demo_topology_data(), redis_url)
    data["actors"] = {name: data["actors"][name] for name in ("permit_issuer", "gate")}
    data["security"] = {"curve": {"keys_dir": "keys"}}
    data["actors"]["gate"]["sockets"]["proposals"]["curve"] = {"allow": ["desk"]}
    data["actors"]["gate"]["sockets"]["permits"]["curve"] = {}
    data["actors"]["permit_issuer"]["sockets"]["requests"]["curve"] = {"allow": ["gate"]}
    data = with_second_gate_pair(data)
    data["actors"]["permit_issuer_b"]["sockets"]["requests"]["curve"] = {"allow": ["gate_b"]}
    return data


class TwoGates:
    """gate/permit_issuer and gate_b/permit_issuer_b, every one its own process, on one Redis.
    With curve, every socket uses CurveZMQ and each gate has its own keypair (client_kwargs: desk's)."""

    def __init__(self, workdir: Path, redis_url: str, gate_settings: dict[str, Any] | None = None,
                 curve: bool = False):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.data = (curve_two_gate_topology_data(workdir, redis_url) if curve
                     else two_gate_topology_data(redis_url, gate_settings))
        self.topology = write_topology(workdir / "topology.yaml", self.data)
        self.procs: dict[str, ActorProcess] = {}
        for gate, issuer in PAIRS:
            self.procs[issuer] = ActorProcess(self.topology, issuer, kind="permit_issuer", log_dir=workdir)
            self.procs[gate] = ActorProcess(self.topology, gate, kind="gate", log_dir=workdir)
        self.endpoints = [self.data["actors"][g]["sockets"]["proposals"]["bind"] for g, _ in PAIRS]
        # GateClient keyword arguments for each gate, in PAIRS' order
        self.client_kwargs: list[dict[str, Any]] = [{} for _ in PAIRS]
        if curve:
            desk = read_keypair(workdir / "keys" / "desk.key_secret")
            self.client_kwargs = [{"client_keypair": desk, "server_public_key": read_public_key(workdir / "keys" / f"{g}.key")}
                                  for g, _ in PAIRS]

    def metrics_port(self, name: str) -> int:
        return self.data["actors"][name]["metrics_port"]

    def start(self) -> "TwoGates":
        for proc in self.procs.values():
            proc.start()
        for gate, issuer in PAIRS:
            wait_for(lambda issuer=issuer: scrape(self.metrics_port(issuer)).get(
                f'clustergate_actor_ready{{actor="{issuer}",kind="permit_issuer"}}') == 1.0, 20, f"{issuer} ready")
        for endpoint, kwargs in zip(self.endpoints, self.client_kwargs):
            wait_for(lambda endpoint=endpoint, kwargs=kwargs: answers(endpoint, **kwargs), 20,
                     f"the gate at {endpoint} to answer")
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()


def answers(endpoint: str, **client_kwargs: Any) -> bool:
    probe = GateClient(endpoint, timeout_ms=300, retries=0, **client_kwargs)
    try:
        return probe.request_raw(b"probe").get("status") == "error"
    except GateUnavailable:
        return False
    finally:
        probe.close()


CHAIN = ("buffer", "correlator", "clusterer", "state_writer")


def with_standby_chain(data: dict[str, Any]) -> dict[str, Any]:
    """data with a second cluster chain (buffer_b -> correlator_b -> clusterer_b -> state_writer_b) on free
    ports, its buffer fed by the same price_feed: two state writers, so they write behind the lease."""
    actors = data["actors"]
    moved: dict[str, str] = {}  # the first chain's bound endpoints -> the second chain's
    for name in CHAIN:
        spec = copy.deepcopy(actors[name])
        spec.update(kind=name, metrics_port=free_port())
        for sock in spec["sockets"].values():
            if "bind" in sock:
                moved[sock["bind"]] = f"tcp://127.0.0.1:{free_port()}"
                sock["bind"] = moved[sock["bind"]]
            elif sock.get("connect") in moved:
                sock["connect"] = moved[sock["connect"]]
        actors[f"{name}_b"] = spec
    return data


class TransactionHoldingRelay:
    """A real TCP relay between one client (a state writer) and a real Redis. Once armed with
    hold_next_transaction(on_hold), the next MULTI ... EXEC the client sends (a state write, its fence
    check already passed under WATCH) is kept from Redis, with everything after it on that connection,
    and on_hold() runs at once; release() sends it on. The write is in flight while the test acts."""

    MULTI = b"*1\r\n$5\r\nMULTI\r\n"  # how redis-py opens a transaction's packed commands

    def __init__(self, redis_port: int):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.redis_port = redis_port
        self.lock = threading.Lock()
        self.on_hold: Callable[[], None] | None = None
        self.held: list[bytes] = []
        self.held_client: socket.socket | None = None
        self.released_to: socket.socket | None = None  # the upstream the held bytes went to
        self.holding = threading.Event()
        self.answered = threading.Event()  # Redis's answer to the released bytes reached the client
        self.upstream_of: dict[socket.socket, socket.socket] = {}
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def hold_next_transaction(self, on_hold: Callable[[], None]) -> None:
        with self.lock:
            self.on_hold = on_hold

    def release(self) -> None:
        with self.lock:
            assert self.held_client is not None, "nothing held"
            upstream = self.upstream_of[self.held_client]
            self.released_to, self.held_client = upstream, None
            for chunk in self.held:
                upstream.sendall(chunk)
            self.held = []

    def close(self) -> None:
        self.server.close()
        with self.lock:
            for client, upstream in self.upstream_of.items():
                for s in (client, upstream):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.redis_port))
            except OSError:
                return
            with self.lock:
                self.upstream_of[client] = upstream
            threading.Thread(target=self._to_redis, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._to_client, args=(upstream, client), daemon=True).start()

    def _to_redis(self, client: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                with self.lock:
                    if self.held_client is client:
                        self.held.append(chunk)
                        continue
                    if self.on_hold is not None and chunk.startswith(self.MULTI):
                        self.held_client, self.held = client, [chunk]
                        on_hold, self.on_hold = self.on_hold, None
                        on_hold()
                        self.holding.set()
                        continue
                upstream.sendall(chunk)
            upstream.shutdown(socket.SHUT_WR)

    def _to_client(self, upstream: socket.socket, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
                if upstream is self.released_to:
                    self.answered.set()
            client.shutdown(socket.SHUT_WR)
