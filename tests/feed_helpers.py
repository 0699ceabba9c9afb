"""Topologies and sockets for price feed and book tests: only the actors under test, real ports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import zmq

from helpers import demo_topology_data, retarget, scrape, write_topology


def feed_topology(tmp_path: Path, redis_url: str, settings: dict[str, Any], *, symbols: list[str] | None = None,
                  book: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """The demo's price_feed (and, if given, book settings) with every port free and an external Redis.

    A replay feed reads its saved position from Redis at start and, with no Redis answering (a dead URL such as
    redis://127.0.0.1:1/0), waits REPLAY_POSITION_WAIT_S (10 s) before it replays the file from its first row:
    a test of what a replay publishes gives it a real redis-server (the redis_server fixture) unless the wait
    is what it tests."""
    data = retarget(demo_topology_data(), redis_url)
    keep = {"price_feed"} | ({"book"} if book is not None else set())
    data["actors"] = {name: spec for name, spec in data["actors"].items() if name in keep}
    data["actors"]["price_feed"]["settings"] = settings
    if book is not None:
        data["actors"]["book"]["settings"] = book
    if symbols is not None:
        data["symbols"] = symbols
    return write_topology(tmp_path / "topology.yaml", data), data


def tick_endpoint(data: dict[str, Any]) -> str:
    return data["actors"]["price_feed"]["sockets"]["ticks"]["bind"]


def metrics_port(data: dict[str, Any], actor: str = "price_feed") -> int:
    return data["actors"][actor]["metrics_port"]


class TickListener:
    """A real SUB socket on the feed's endpoint, collecting (topic, body) pairs."""

    def __init__(self, endpoint: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.messages: list[tuple[bytes, dict[str, Any]]] = []

    def drain(self) -> list[tuple[bytes, dict[str, Any]]]:
        while self.sock.poll(10):
            topic, body = self.sock.recv_multipart()
            self.messages.append((topic, json.loads(body)))
        return self.messages

    def ticks(self) -> list[dict[str, Any]]:
        return [body for topic, body in self.drain() if topic.startswith(b"tick.")]

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def metric(port: int, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for key, value in scrape(port).items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


def is_ready(port: int, actor: str) -> bool:
    return metric(port, "clustergate_actor_ready", actor=actor) == 1
