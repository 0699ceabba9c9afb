"""The demo topology moved to free ports, every port distinct.

tests/helpers.retarget asks the OS for one free port at a time and releases each at once, so two
roles can now and then draw the same port; the topology then fails validation and its actors exit.
"""

from __future__ import annotations

from typing import Any

from helpers import demo_topology_data, retarget

ATTEMPTS = 20


def ports_of(data: dict[str, Any]) -> list[int]:
    ports = [a["metrics_port"] for a in data["actors"].values()]
    for actor in data["actors"].values():
        for sock in actor.get("sockets", {}).values():
            endpoint = sock.get("bind")  # a connect endpoint repeats a bind endpoint
            if endpoint and endpoint.startswith("tcp://"):
                ports.append(int(endpoint.rpartition(":")[2]))
    if data.get("redis", {}).get("managed"):
        ports.append(data["redis"]["port"])
    return ports


def demo_on_free_ports(redis_url: str | None = None) -> dict[str, Any]:
    """retarget(demo) until no two roles share a port."""
    for _ in range(ATTEMPTS):
        data = retarget(demo_topology_data(), redis_url)
        ports = ports_of(data)
        if len(ports) == len(set(ports)):
            return data
    raise RuntimeError(f"no collision-free set of ports in {ATTEMPTS} attempts")
