"""High availability test parts: two active gate + permit_issuer pairs on one real Redis, as real processes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from helpers import ActorProcess, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from launcher.client import GateClient, GateUnavailable

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


class TwoGates:
    """gate/permit_issuer and gate_b/permit_issuer_b, every one its own process, on one Redis."""

    def __init__(self, workdir: Path, redis_url: str, gate_settings: dict[str, Any] | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.data = two_gate_topology_data(redis_url, gate_settings)
        self.topology = write_topology(workdir / "topology.yaml", self.data)
        self.procs: dict[str, ActorProcess] = {}
        for gate, issuer in PAIRS:
            self.procs[issuer] = ActorProcess(self.topology, issuer, kind="permit_issuer", log_dir=workdir)
            self.procs[gate] = ActorProcess(self.topology, gate, kind="gate", log_dir=workdir)
        self.endpoints = [self.data["actors"][g]["sockets"]["proposals"]["bind"] for g, _ in PAIRS]

    def metrics_port(self, name: str) -> int:
        return self.data["actors"][name]["metrics_port"]

    def start(self) -> "TwoGates":
        for proc in self.procs.values():
            proc.start()
        for gate, issuer in PAIRS:
            wait_for(lambda issuer=issuer: scrape(self.metrics_port(issuer)).get(
                f'clustergate_actor_ready{{actor="{issuer}",kind="permit_issuer"}}') == 1.0, 20, f"{issuer} ready")
        for endpoint in self.endpoints:
            wait_for(lambda endpoint=endpoint: answers(endpoint), 20, f"the gate at {endpoint} to answer")
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()


def answers(endpoint: str) -> bool:
    probe = GateClient(endpoint, timeout_ms=300, retries=0)
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
