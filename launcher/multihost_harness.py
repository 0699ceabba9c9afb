"""A multi-host topology for tests: configs/multihost.yaml with its keys in a temp dir, short cadences
and freshness windows (fallback within seconds), addresses of the netns test hosts."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from launcher.harness import DEADLINE_SCALE, REPO
from launcher.curve import generate_keypair

KEY_NAMES = ("price_feed", "buffer", "book", "gate", "proofs", "desk", "outsider")


def shipped_multihost() -> dict:
    return yaml.safe_load((REPO / "configs" / "multihost.yaml").read_text())


def make_keys(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in KEY_NAMES:
        if not (directory / f"{name}.key").exists():
            generate_keypair(directory, name)
    return directory


def multihost_data(tmp_path: Path, addresses: dict[str, str] | None = None, *, fast: bool = True) -> dict:
    """The shipped 3-host topology, keys made in tmp_path/keys, addresses replaced by `addresses`."""
    data = copy.deepcopy(shipped_multihost())
    make_keys(tmp_path / "keys")
    data["security"]["curve"]["keys_dir"] = str(tmp_path / "keys")
    if addresses:
        old = {name: spec["address"] for name, spec in data["hosts"].items()}
        text = yaml.safe_dump(data, sort_keys=False)
        for name, new in addresses.items():
            text = text.replace(old[name], new)
        data = yaml.safe_load(text)
    if fast:
        data["clusters"].update(cadence_s=0.5, min_returns=5, lookback_returns=60)
        data["actors"]["gate"]["settings"] = {"freshness_s": 1.5, "state_refresh_ms": 50, "refresh_s": 0.5}
        data["actors"]["price_feed"]["settings"]["interval_s"] = 0.1
        data["redis"]["timeout_ms"] = 250
    return data


def write_topology(tmp_path: Path, data: dict, name: str = "multihost.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


SYSTEM_HOSTS = ("market", "exec", "store")
CLIENT = str(Path(__file__).resolve().parent / "multihost_client.py")
PASSWORD = "multihost-test-password"
UP_TIMEOUT_S = 60 * DEADLINE_SCALE


class MultiHost:
    """The 3-host system of one test module: its hosts, topology, homes and commands run on them."""

    def __init__(self, hosts, tmp: Path):
        self.hosts = hosts
        self.tmp = tmp
        self.data = multihost_data(tmp, {n: hosts[n].address for n in SYSTEM_HOSTS})
        self.topology = write_topology(tmp, self.data)
        self.ops_home = tmp / "ops-home"
        self.env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
        self.netns_prefix = hosts["market"].netns[: -len("market")]

    def home(self, host: str) -> Path:
        return self.tmp / "homes" / host

    def clustergate(self, host: str, *argv: str, timeout: float = UP_TIMEOUT_S + 60) -> subprocess.CompletedProcess:
        return self.hosts[host].run([sys.executable, "-m", "launcher", *argv], env=self.env, timeout=timeout)

    def up(self, host: str, topology: Path | None = None) -> subprocess.CompletedProcess:
        return self.clustergate(host, "up", str(topology or self.topology), "--host", host,
                                "--home", str(self.home(host)), "--timeout", str(UP_TIMEOUT_S))

    def down(self, host: str) -> subprocess.CompletedProcess:
        return self.clustergate(host, "down", "--host", host, "--home", str(self.home(host)), timeout=120)

    def up_all(self) -> dict[str, subprocess.CompletedProcess]:
        """store first (the others need its Redis), then market and exec together."""
        done = {"store": self.up("store")}
        with ThreadPoolExecutor(2) as pool:
            jobs = {h: pool.submit(self.up, h) for h in ("market", "exec")}
            done.update({h: j.result() for h, j in jobs.items()})
        return done

    def client(self, *argv: str, timeout: float = 30.0) -> dict:
        result = self.hosts["ops"].run([sys.executable, CLIENT, *argv], env=self.env, timeout=timeout)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def propose(self, key: str = "desk", action: str = "HOLD") -> dict:
        return self.client("propose", str(self.topology), key, action)

    def decision(self) -> dict:
        reply = self.propose()
        return reply.get("decision", {}) if reply.get("status") == "ok" else {}

    def gate_metrics(self) -> dict[str, float]:
        gate = self.data["actors"]["gate"]
        return self.client("scrape", self.hosts["exec"].address, str(gate["metrics_port"]))

    def pids(self, host: str) -> dict[str, int]:
        result = self.clustergate(host, "status", "--host", host, "--home", str(self.home(host)), "--json", timeout=60)
        return {row["name"]: row["pid"] for row in json.loads(result.stdout)["programs"]}

    def deploy(self, topology: Path, *argv: str) -> subprocess.CompletedProcess:
        return self.clustergate("ops", "deploy", str(topology), "--via", f"ip netns exec {self.netns_prefix}{{host}}",
                                "--home-root", str(self.tmp / "homes"), "--home", str(self.ops_home),
                                "--up-timeout", str(UP_TIMEOUT_S), *argv, timeout=4 * UP_TIMEOUT_S)




LOOPBACK_ADDRESSES = {"market": "127.0.11.11", "exec": "127.0.11.12", "store": "127.0.11.13"}


def side_by_side_data(tmp_path: Path) -> dict:
    """The test topology with its three hosts at loopback addresses of this machine and every port
    replaced by a free one, so the three run side by side here without namespaces (or root)."""
    from launcher.harness import free_port
    data = multihost_data(tmp_path, LOOPBACK_ADDRESSES)
    text = yaml.safe_dump(data, sort_keys=False)
    ports = {data["redis"]["port"]} | {a["metrics_port"] for a in data["actors"].values()}
    for actor in data["actors"].values():
        for sock in actor["sockets"].values():
            endpoint = sock.get("bind") or sock.get("connect")
            ports.add(int(endpoint.rpartition(":")[2]))
    for port in sorted(ports, reverse=True):
        new = free_port()
        text = text.replace(f":{port}\n", f":{new}\n").replace(f":{port}'", f":{new}'") \
                   .replace(f":{port}\"", f":{new}\"").replace(f": {port}\n", f": {new}\n")
    return yaml.safe_load(text)
