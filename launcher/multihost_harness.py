"""A multi-host topology for tests: configs/multihost.yaml with its keys in a temp dir, short cadences
and freshness windows (fallback within seconds), addresses of the netns test hosts."""

from __future__ import annotations

import copy
import json
import signal
import time
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


def with_addresses(data: dict, addresses: dict[str, str]) -> dict:
    """`data` with each named host's address replaced everywhere it occurs (endpoints, binds, Redis)."""
    old = {name: spec["address"] for name, spec in data["hosts"].items()}
    text = yaml.safe_dump(data, sort_keys=False)
    for name, new in addresses.items():
        text = text.replace(old[name], new)
    return yaml.safe_load(text)


def multihost_data(tmp_path: Path, addresses: dict[str, str] | None = None, *, fast: bool = True) -> dict:
    """The shipped 3-host topology, keys made in tmp_path/keys, addresses replaced by `addresses`."""
    data = copy.deepcopy(shipped_multihost())
    make_keys(tmp_path / "keys")
    data["security"]["curve"]["keys_dir"] = str(tmp_path / "keys")
    if addresses:
        data = with_addresses(data, addresses)
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


# -- the shipped HA topology (configs/ha.yaml) on five hosts -------------------------------------------

HA_HOSTS = ("store", "exec_a", "exec_b", "market_a", "market_b")
HA_KEY_NAMES = ("price_feed", "price_feed_b", "buffer", "buffer_b", "book", "gate", "gate_b", "proofs", "desk")
HA_GATE_HOSTS = {"gate": "exec_a", "gate_b": "exec_b"}


class HAFaultError(RuntimeError):
    """A fault run could not go on: a host did not come back, or the load or the audit failed."""


def fault_plan(cycles: int) -> list[tuple[str, str]]:
    """(host, 'crash' | 'partition') per cycle: the gate hosts alternate, and so do the kinds, so each host
    gets both: exec_a crash, exec_b partition, exec_a partition, exec_b crash, ..."""
    gate_hosts = list(HA_GATE_HOSTS.values())
    return [(gate_hosts[i % 2], ("crash", "partition")[(i // 2 + i) % 2]) for i in range(cycles)]


def shipped_ha() -> dict:
    return yaml.safe_load((REPO / "configs" / "ha.yaml").read_text())


def ha_data(tmp_path: Path, addresses: dict[str, str] | None = None, *, fast: bool = True,
            cadence_s: float = 0.5) -> dict:
    """configs/ha.yaml with its keys made in tmp_path/keys and its host addresses replaced by `addresses`;
    fast: short cadences (cadence_s) and freshness windows, as multihost_data."""
    data = copy.deepcopy(shipped_ha())
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in HA_KEY_NAMES:
        if not (keys_dir / f"{name}.key").exists():
            generate_keypair(keys_dir, name)
    data["security"]["curve"]["keys_dir"] = str(keys_dir)
    if addresses:
        data = with_addresses(data, addresses)
    if fast:
        data["clusters"].update(cadence_s=cadence_s, min_returns=5, lookback_returns=60)
        # freshness_s 3 cadences, not SPEC's 2: it was set when the gate judged the state by updated_ts, whole
        # seconds (SPEC), and at a 0.5 s cadence every other state is written at x.5 s and stamped x, half a
        # second (a cadence) older than it is: with SPEC's 1 s and no fault at all, 40 of 274 proposals fell
        # back to the proxy (tests/test_ha_standby.py's two chains at 0.5 s). The gate now reads the state
        # writer's updated_ts_ms; the window is kept. configs/ha.yaml (1 s cadence) keeps SPEC's window.
        for gate in HA_GATE_HOSTS:
            data["actors"][gate]["settings"] = {"freshness_s": 3 * cadence_s, "state_refresh_ms": 50, "refresh_s": 0.5}
        for feed in ("price_feed", "price_feed_b"):
            data["actors"][feed]["settings"]["interval_s"] = 0.1
        data["redis"]["timeout_ms"] = 250
    return data


CLUSTER_SIDE_READER = """
import json, sys
from launcher import keys
from launcher.redis_conn import connect
from launcher.topology import load_topology
r = connect(load_topology(sys.argv[1]).redis)
lease = r.get(keys.STATE_WRITER_LEASE)
records = [(int(i.split("-")[0]) / 1000, int(f["fence_token"])) for i, f in r.xrange(keys.CLUSTER_STATE_STREAM, "-", "+")]
print(json.dumps({"lease": lease, "records": records}))
"""


class HASystem(MultiHost):
    """configs/ha.yaml on its five hosts (clients, proofs and deploys run on a sixth, ops)."""

    def __init__(self, hosts, tmp: Path, *, fast: bool = True, cadence_s: float = 0.5):
        self.hosts = hosts
        self.tmp = tmp
        self.data = ha_data(tmp, {n: hosts[n].address for n in HA_HOSTS}, fast=fast, cadence_s=cadence_s)
        self.topology = write_topology(tmp, self.data, "ha.yaml")
        self.ops_home = tmp / "ops-home"
        self.env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
        self.netns_prefix = hosts["store"].netns[: -len("store")]

    def up(self, host: str, topology: Path | None = None) -> subprocess.CompletedProcess:
        """`up` on the host, tried again (up to 5 times, a second apart) while it only met another `up` of
        this machine starting a program on one of its ports: `up` locks ports machine-wide, by number, so an
        `up` in another namespace (another test run on the machine) holding the same port refuses this one
        for as long as it starts its programs."""
        for _ in range(5):
            result = super().up(host, topology)
            if result.returncode == 0 or "another `clustergate up` is starting a program" not in result.stderr:
                return result
            time.sleep(1.0)
        return result

    def up_all(self) -> dict[str, subprocess.CompletedProcess]:
        """store first (the others need its Redis), then the four others, two at a time."""
        done = {"store": self.up("store")}
        with ThreadPoolExecutor(2) as pool:
            jobs = {h: pool.submit(self.up, h) for h in HA_HOSTS[1:]}
            done.update({h: j.result() for h, j in jobs.items()})
        return done

    def down_all(self) -> None:
        for host in reversed(HA_HOSTS):
            self.down(host)

    def ha_load(self, *argv: str, **kwargs) -> subprocess.Popen:
        """`python -m launcher.ha_load ARGV` started on the ops host (stdin a pipe: close it to stop a load)."""
        return self.hosts["ops"].popen([sys.executable, "-m", "launcher.ha_load", *argv], env=self.env, cwd=str(REPO),
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, **kwargs)

    def gate_answers(self, gate: str, timeout_s: float = 60.0) -> bool:
        result = self.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "answers", str(self.topology), gate,
                                        "--timeout-s", str(timeout_s)], env=self.env, cwd=str(REPO),
                                       timeout=timeout_s + 30)
        return result.returncode == 0

    def silent_floor_ms(self, timeout_ms: int, count: int = 20) -> float:
        """The failover floor measured from ops: the median time a one-attempt call to an address nobody serves
        takes to give up (launcher/ha_load.py silent)."""
        nobody = f"tcp://{self.hosts['ops'].address}:9"
        result = self.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "silent", nobody, "--timeout-ms",
                                        str(timeout_ms), "--count", str(count)], env=self.env, cwd=str(REPO), timeout=120)
        if result.returncode != 0:
            raise HAFaultError(f"the floor measurement failed: {result.stderr[-2000:]}")
        return json.loads(result.stdout)["silent_attempt_ms"]

    def crash(self, host: str) -> list[int]:
        """SIGKILL every process living in the host's namespace, its supervisord included: a host that lost
        power. Returns the pids killed."""
        from launcher.netns import namespace_pids, pid_alive
        pids = [p for p in namespace_pids(self.hosts[host].netns) if p != os.getpid()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.05)
        return pids

    def inject_faults(self, cycles: int, period_s: float, fault_s: float) -> list[dict]:
        """fault_plan(cycles): one fault every period_s, held fault_s, then restored (`up` after a crash, the
        link up after a partition) and waited for until the host's gate answers; one event per fault."""
        gate_of = {host: gate for gate, host in HA_GATE_HOSTS.items()}
        events = []
        for host, kind in fault_plan(cycles):
            started = time.monotonic()
            killed = self.crash(host) if kind == "crash" else self.hosts.partition(host)
            try:
                time.sleep(fault_s)  # the fault lasts this long
            finally:
                if kind == "crash":
                    result = self.up(host)
                    if result.returncode != 0:
                        raise HAFaultError(f"up {host} after its crash: exit {result.returncode}\n"
                                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
                else:
                    self.hosts.heal(host)
            if not self.gate_answers(gate_of[host], 60 * DEADLINE_SCALE):
                raise HAFaultError(f"{gate_of[host]} never answered after the {kind} of {host}")
            events.append({"host": host, "kind": kind, "killed": len(killed or []),
                           "back_after_s": round(time.monotonic() - started, 1)})
            left = period_s - (time.monotonic() - started)
            if left > 0:
                time.sleep(left)
        return events

    def faults_under_load(self, cycles: int, period_s: float, fault_s: float, *, clients: int = 4,
                          rate: float = 200.0, timeout_ms: int = 500, retries: int = 1, resubmit: int = 300) -> dict:
        """The load (launcher/ha_load.py on ops) through inject_faults(), the clients' resubmissions, then the
        audit: its verdict, with the faults ("events") and the load's summary ("load")."""
        prefix = f"hafaults-{os.getpid()}-{int(time.time())}"
        max_s = cycles * period_s * 3 + 60  # a bound only: the load stops when the faults are done
        load, calls = self._start_load(prefix, clients=clients, rate=rate, timeout_ms=timeout_ms, retries=retries,
                                       max_s=max_s)
        try:
            events = self.inject_faults(cycles, period_s, fault_s)
            time.sleep(2.0)  # load on the healed system, then stop
        finally:
            for host in HA_GATE_HOSTS.values():
                if self.hosts.is_partitioned(host):
                    self.hosts.heal(host)
            out, err = load.communicate(input="", timeout=max_s + 120)  # stdin closed: the load stops
        return {**self._audit_load(load, out, err, calls, prefix, resubmit), "events": events}

    def _audit_load(self, load: subprocess.Popen, out: str, err: str, calls: Path, prefix: str,
                    resubmit: int) -> dict:
        """The audit of a finished load (launcher/ha_load.py audit, run in the ops host) with the load's
        own summary under "load"."""
        if load.returncode != 0:
            raise HAFaultError(f"the load failed: {err[-3000:]}")
        summary = json.loads(out.strip().splitlines()[-1])
        audit = self.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "audit", str(self.topology),
                                       "--calls", str(calls), "--prefix", prefix, "--resubmit", str(resubmit)],
                                      env=self.env, cwd=str(REPO), timeout=600)
        if audit.returncode != 0:
            raise HAFaultError(f"the audit failed: {audit.stderr[-3000:]}")
        return {**json.loads(audit.stdout), "load": summary}

    # -- the Redis primary killed under load (issue 12) ------------------------------------------------

    def redis_state(self) -> dict:
        """launcher/ha_load.py redis, run on ops: each data server's ROLE, pid and in-sync replicas, what each
        sentinel names, the one primary, whether the sentinels have settled, and down_after_ms."""
        result = self.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "redis", str(self.topology)],
                                       env=self.env, cwd=str(REPO), timeout=60)
        if result.returncode != 0:
            raise HAFaultError(f"asking the store's state failed: {result.stderr[-2000:]}")
        return json.loads(result.stdout)

    @staticmethod
    def store_healthy(state: dict) -> bool:
        """One primary, every other server its in-sync replica, and every sentinel settled on that."""
        servers = state["servers"]
        return (state["primary"] is not None and state["settled"]
                and all(s["role"] == "slave" for s in servers if s["at"] != state["primary"])
                and next(s for s in servers if s["at"] == state["primary"])["synced"] == len(servers) - 1)

    def wait_store_healthy(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        state = self.redis_state()
        while not self.store_healthy(state):
            if time.monotonic() >= deadline:
                raise HAFaultError(f"the store never got healthy within {timeout_s:.0f} s: {json.dumps(state)}")
            time.sleep(0.5)
            state = self.redis_state()
        return state

    def host_of(self, address: str) -> str:
        """The host (of HA_HOSTS) whose address `address` ("ADDR:PORT") is on."""
        addr = address.rsplit(":", 1)[0]
        return next(h for h in HA_HOSTS if self.hosts[h].address == addr)

    def cluster_side(self) -> dict:
        """The state writer's lease (its value, or None) and every cluster state record on the stream as
        (Redis's write time in seconds, from the record's id; its fencing token), read from ops."""
        result = self.hosts["ops"].run([sys.executable, "-c", CLUSTER_SIDE_READER, str(self.topology)], env=self.env,
                                       cwd=str(REPO), timeout=60)
        if result.returncode != 0:
            raise HAFaultError(f"reading the cluster side failed: {result.stderr[-2000:]}")
        return json.loads(result.stdout)

    def move_primary_to(self, host: str, timeout_s: float) -> dict:
        """Make the Redis primary live on `host` (SENTINEL FAILOVER with every other replica at
        replica-priority 0 until it is done: `ha_load failover --to`), asked again until a healthy store
        has it there. A failover picks among all replicas by itself, and moving the primary off one market
        host moved it, and the lease with it, to the other (4 of 4 trials): only a host with no state
        writer keeps the two apart. Returns the store's state."""
        deadline = time.monotonic() + timeout_s
        state = self.wait_store_healthy(timeout_s)
        target = next(f"{self.hosts[host].address}:{place.split(':')[1]}"
                      for place in self.data["redis"]["sentinel"]["servers"] if place.split(":")[0] == host)
        while self.host_of(state["primary"]) != host:
            if time.monotonic() >= deadline:
                raise HAFaultError(f"the primary never moved to {host}: {json.dumps(state)}")
            self.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "failover", str(self.topology),
                                   "--to", target], env=self.env, cwd=str(REPO), timeout=60)
            state = self.wait_store_healthy(max(1.0, deadline - time.monotonic()))
        return state

    def _start_load(self, prefix: str, *, clients: int, rate: float, timeout_ms: int, retries: int,
                    max_s: float) -> tuple[subprocess.Popen, Path]:
        """The load on ops (launcher/ha_load.py load), returned once it has written a second of calls."""
        calls = self.tmp / f"{prefix}.jsonl"
        load = self.ha_load("load", str(self.topology), "--out", str(calls), "--prefix", prefix, "--clients",
                            str(clients), "--rate", str(rate), "--max-s", str(max_s), "--timeout-ms", str(timeout_ms),
                            "--retries", str(retries))
        deadline = time.monotonic() + 30 * DEADLINE_SCALE
        while time.monotonic() < deadline and (not calls.exists() or calls.read_text().count("\n") < rate):
            if load.poll() is not None:
                raise HAFaultError(f"the load exited: {load.communicate()}")
            time.sleep(0.2)
        return load, calls

    @staticmethod
    def _recorded_watch(calls: Path):
        """recorded_since(wall): seconds from `wall` to the end of the first call of the load started after it
        that got a recorded decision (None while there is none), reading only what was written since the
        last look."""
        seen = {"offset": 0, "rest": b""}

        def recorded_since(wall: float) -> float | None:
            with open(calls, "rb") as f:
                f.seek(seen["offset"])
                chunk = f.read()
            seen["offset"] += len(chunk)
            lines = (seen["rest"] + chunk).split(b"\n")
            seen["rest"] = lines.pop()
            found = [row["t"] + row["dt_s"] - wall for row in map(json.loads, filter(None, lines))
                     if row["t"] >= wall and ((row["reply"] or {}).get("decision") or {}).get("recorded") is True]
            return min(found) if found else None
        return recorded_since

    def _wait_recorded(self, load: subprocess.Popen, recorded_since, wall: float, started: float,
                       timeout_s: float) -> float | None:
        resumed = None
        while resumed is None and time.monotonic() - started < timeout_s:
            if load.poll() is not None:
                raise HAFaultError(f"the load exited: {load.communicate()}")
            time.sleep(0.1)
            resumed = recorded_since(wall)
        return resumed

    def primary_host_crash_under_load(self, *, down_s: float, clients: int = 4, rate: float = 200.0,
                                      timeout_ms: int = 500, retries: int = 1, resubmit: int = 100_000,
                                      round_timeout_s: float = 60.0) -> dict:
        """The load while the host of the Redis primary loses power (crash(): SIGKILL of every process in its
        namespace, supervisord included) and stays down for `down_s` after the first decision recorded
        without it; then `up` on it and the store healthy again. Returns the audit's verdict with "crash":
        the host, seconds to the first recorded decision after the crash, how many calls were answered
        recorded while the host was down, and seconds until the store was healthy after `up`."""
        prefix = f"hacrash-{os.getpid()}-{int(time.time())}"
        round_timeout_s *= DEADLINE_SCALE
        max_s = 4 * round_timeout_s + down_s + 60
        state = self.wait_store_healthy(round_timeout_s)
        host = self.host_of(state["primary"])
        load, calls = self._start_load(prefix, clients=clients, rate=rate, timeout_ms=timeout_ms, retries=retries,
                                       max_s=max_s)
        recorded_since = self._recorded_watch(calls)
        event: dict = {"host": host, "primary": state["primary"]}
        try:
            recorded_since(time.time())  # skip what came before
            wall, started = time.time(), time.monotonic()
            event["killed"] = len(self.crash(host))
            # Calls answered while the kills went out were served by the dying primary: count from the
            # moment every process of the host is gone (crash() waits for that), time from the first kill.
            dead = time.time()
            resumed = self._wait_recorded(load, recorded_since, dead, started, round_timeout_s)
            if resumed is None:
                raise HAFaultError(f"the crash of {host} (the primary's host): no recorded decision within "
                                   f"{round_timeout_s:.0f} s while it is down")
            event["resumed_after_s"] = round(resumed + dead - wall, 3)
            event["kills_took_s"] = round(dead - wall, 3)
            since = time.time()
            time.sleep(down_s)  # the host stays down: decisions must go on being recorded
            with open(calls, "rb") as f:
                rows = [json.loads(line) for line in f.read().split(b"\n")[:-1]]
            while_down = [r for r in rows if r["t"] >= since and r["t"] + r["dt_s"] <= time.time()]
            event["calls_while_down"] = len(while_down)
            event["recorded_while_down"] = sum(1 for r in while_down
                                               if ((r["reply"] or {}).get("decision") or {}).get("recorded") is True)
            event["new_primary"] = self.redis_state()["primary"]
            back = time.monotonic()
            result = self.up(host)
            if result.returncode != 0:
                raise HAFaultError(f"up {host} after its crash: exit {result.returncode}\n"
                                   f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
            self.wait_store_healthy(round_timeout_s)
            event["healthy_after_up_s"] = round(time.monotonic() - back, 1)
            time.sleep(2.0)  # load on the healed system, then stop
        finally:
            out, err = load.communicate(input="", timeout=max_s + 120)  # stdin closed: the load stops
        return {**self._audit_load(load, out, err, calls, prefix, resubmit), "crash": event,
                "down_after_ms": state["down_after_ms"]}

    @staticmethod
    def kill_spacing_s(state: dict) -> float:
        """Seconds from one primary kill to the next so that each is failed over: a sentinel starts no
        failover of a master for 2 x failover-timeout after the last one began (or that it voted in), and
        that began down-after plus up to a second of election desync after the kill. 11 s (2 x 5 s + 1)
        was short by that: with three servers the store is healthy again sooner, a kill came 11 s after the
        previous one, and the sentinels left it to the start shim to restart in place (9.6 s, CI run)."""
        return state["down_after_ms"] / 1000 + 1.0 + 2 * state["failover_timeout_ms"] / 1000 + 1.0

    def primary_kills_under_load(self, kills: int, *, clients: int = 4, rate: float = 200.0, timeout_ms: int = 500,
                                 retries: int = 1, resubmit: int = 100_000, round_timeout_s: float = 60.0) -> dict:
        """The load (as faults_under_load) while the current primary redis-server is SIGKILLed `kills` times.
        Each round starts from a healthy store (wait_store_healthy: the server killed before is back as a
        replica, restarted by its supervisord) at least 2 x failover-timeout + 1 s after the previous kill,
        kills the primary, and waits for the first decision recorded
        after the kill in the load's own calls (a call started after it with recorded: true). Then the
        resubmissions and the audit: its verdict with "kills" (per kill: the server, seconds to the next
        recorded decision, seconds until the store was healthy again), "down_after_ms" and "load"."""
        prefix = f"hakills-{os.getpid()}-{int(time.time())}"
        max_s = kills * round_timeout_s * 2 + 60  # a bound only: the load stops when the kills are done
        round_timeout_s *= DEADLINE_SCALE
        load, calls = self._start_load(prefix, clients=clients, rate=rate, timeout_ms=timeout_ms, retries=retries,
                                       max_s=max_s)
        recorded_since = self._recorded_watch(calls)
        events, down_after_ms, last_kill = [], None, 0.0
        try:
            for n in range(kills):
                state = self.wait_store_healthy(round_timeout_s)
                down_after_ms = state["down_after_ms"]
                # A sentinel that took part in a failover starts none for the same master for twice the
                # failover-timeout; a primary killed sooner is restarted in place by its start shim
                # (launcher/redis_node.py) instead of failed over. Space the kills so each is a failover.
                if events:
                    spacing_s = self.kill_spacing_s(state)
                    time.sleep(max(0.0, last_kill + spacing_s - time.monotonic()))
                    state = self.wait_store_healthy(round_timeout_s)
                primary = next(s for s in state["servers"] if s["at"] == state["primary"])
                recorded_since(time.time())  # skip what came before
                wall, started = time.time(), time.monotonic()
                last_kill = started
                os.kill(primary["pid"], signal.SIGKILL)
                resumed = self._wait_recorded(load, recorded_since, wall, started, round_timeout_s)
                if resumed is None:
                    raise HAFaultError(f"kill {n} of {primary['at']}: no recorded decision within "
                                       f"{round_timeout_s:.0f} s")
                after = self.wait_store_healthy(round_timeout_s)
                events.append({"killed": primary["at"], "pid": primary["pid"], "new_primary": after["primary"],
                               "resumed_after_s": round(resumed, 3),
                               "healthy_after_s": round(time.monotonic() - started, 1)})
            time.sleep(2.0)  # load on the healed system, then stop
        finally:
            out, err = load.communicate(input="", timeout=max_s + 120)  # stdin closed: the load stops
        return {**self._audit_load(load, out, err, calls, prefix, resubmit), "kills": events, "down_after_ms": down_after_ms,
                "kill_spacing_s": round(self.kill_spacing_s(state), 1)}
