"""Multi-host topologies (`hosts:` and `host:`): what validates, and each problem in one line with
file:line. Pure: no sockets, no processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import REPO, demo_topology_data
from launcher.hosts import actors_on, host_hash, host_problem, host_view
from launcher.schema import SchemaError
from launcher.topology import load_topology
from launcher.multihost_harness import ha_data, multihost_data, write_topology


def problems_of(tmp_path: Path, data: dict) -> list[str]:
    path = write_topology(tmp_path, data, "t.yaml")
    try:
        load_topology(path)
    except SchemaError as exc:
        return [p.render("t.yaml") for p in exc.problems]
    return []


def only_problem(tmp_path: Path, data: dict) -> str:
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1, problems
    assert problems[0].startswith("t.yaml:") and problems[0].split(":")[1].isdigit(), problems[0]
    return problems[0]


def test_the_shipped_multihost_topology_validates_with_its_keys(tmp_path: Path) -> None:
    topo = load_topology(write_topology(tmp_path, multihost_data(tmp_path, fast=False)))
    assert set(topo.hosts) == {"market", "exec", "store"}
    assert set(actors_on(topo, "market")) == {"price_feed", "buffer", "correlator", "clusterer", "state_writer"}
    assert set(actors_on(topo, "exec")) == {"gate", "permit_issuer", "book"}
    assert actors_on(topo, "store") == [] and topo.redis.host == "store"
    assert topo.redis.connection_url() == "redis://198.51.100.13:6390/0"
    assert topo.actors["gate"].host == "198.51.100.12"  # metrics bind the host's metrics_bind


def test_the_shipped_ha_topology_validates_and_losing_any_one_host_but_the_store_leaves_a_gate_and_a_writer(tmp_path: Path) -> None:
    topo = load_topology(write_topology(tmp_path, ha_data(tmp_path, fast=False)))
    assert set(topo.hosts) == {"store", "exec_a", "exec_b", "market_a", "market_b"}
    assert actors_on(topo, "store") == []
    # Redis under Sentinel: the primary on store, a replica on each market host, three sentinels on three
    # hosts, so the loss of any one host leaves a majority of sentinels and a primary with a replica to
    # acknowledge the issuer's WAIT (one, whatever the number of replicas).
    sentinel = topo.redis.sentinel
    assert sentinel is not None and topo.redis.replicas_expected() == 2
    assert topo.actors["permit_issuer"].settings.replicas_to_wait(topo.redis) == 1
    server_hosts = [place.split(":")[0] for place in sentinel.servers]
    sentinel_hosts = [place.split(":")[0] for place in sentinel.sentinels]
    assert server_hosts[0] == "store" and len(set(server_hosts)) == len(server_hosts) >= 3
    assert len(set(sentinel_hosts)) == len(sentinel_hosts) == 3 and sentinel.quorum == 2
    assert topo.actors_of_kind("gate") == ["gate", "gate_b"]
    # SPEC's freshness window (2 x cadence): a cluster-side takeover stays inside it (tests/test_ha_standby.py)
    assert all(topo.actors[g].settings.freshness_s is None for g in ("gate", "gate_b"))
    for lost in ("exec_a", "exec_b", "market_a", "market_b"):
        left = {name for host in topo.hosts if host != lost for name in actors_on(topo, host)}
        kinds_left = {topo.actors[name].kind for name in left}
        gates = [n for n in left if topo.actors[n].kind == "gate"]
        # a gate left with its own issuer (on its host: its permits socket connects to 127.0.0.1)
        assert gates and all(topo.placement[g] == topo.placement[i] for g in gates for i in left
                             if topo.actors[i].kind == "permit_issuer" and
                             topo.actors[g].sockets["permits"].connect == topo.actors[i].sockets["requests"].bind), lost
        # and a whole chain feeding a state writer
        assert {"price_feed", "buffer", "correlator", "clusterer", "state_writer"} <= kinds_left, lost
    assert "$schema=./topology.schema.json" in (REPO / "configs" / "ha.yaml").read_text()


def test_a_topology_without_hosts_is_one_host_exactly_as_before() -> None:
    for config in ("demo.yaml", "production.yaml"):
        topo = load_topology(REPO / "configs" / config)
        assert topo.hosts == {} and topo.placement == {}
        assert all(spec.host == "127.0.0.1" for spec in topo.actors.values())
    assert load_topology(REPO / "configs" / "demo.yaml").redis.connection_url() == "redis://127.0.0.1:6391/0"


def test_an_actor_on_an_unknown_host_is_named_with_a_suggestion(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["gate"]["host"] = "exce"
    assert "actors.gate.host: unknown host 'exce' (did you mean 'exec'?)" in only_problem(tmp_path, data)


def test_an_actor_without_a_host_in_a_multihost_topology_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    del data["actors"]["correlator"]["host"]
    assert "actors.correlator: has no host" in only_problem(tmp_path, data)


def test_two_hosts_with_one_address_are_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["hosts"]["store"]["address"] = data["hosts"]["exec"]["address"]
    data["hosts"]["store"]["metrics_bind"] = "127.0.0.1"
    data["redis"]["host"] = "exec"
    problems = problems_of(tmp_path, data)
    assert any("hosts.store.address: 198.51.100.12 is also the address of hosts.exec" in p for p in problems), problems


def test_an_actor_binding_another_hosts_address_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["gate"]["sockets"]["proposals"]["bind"] = "tcp://198.51.100.11:5556"
    problems = problems_of(tmp_path, data)
    assert any("actors.gate.sockets.proposals.bind: binds 198.51.100.11, which is not the address of its host exec"
               in p for p in problems), problems


def test_a_connect_to_a_port_no_actor_of_that_host_binds_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["book"]["sockets"]["ticks"]["connect"] = "tcp://198.51.100.12:5551"
    assert "actors.book.sockets.ticks.connect: no actor of host exec (198.51.100.12) binds port 5551" in \
        only_problem(tmp_path, data)


def test_a_loopback_connect_to_an_actor_of_another_host_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["gate"]["sockets"]["permits"]["connect"] = "tcp://127.0.0.1:5557"
    data["actors"]["permit_issuer"]["host"] = "market"
    problems = problems_of(tmp_path, data)
    assert any("actors.gate.sockets.permits.connect: no actor of host exec binds 127.0.0.1:5557" in p
               for p in problems), problems


def test_a_socket_whose_peer_is_on_another_host_without_curve_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["permit_issuer"]["host"] = "store"
    data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"] = "tcp://198.51.100.13:5557"
    data["actors"]["gate"]["sockets"]["permits"]["connect"] = "tcp://198.51.100.13:5557"
    problems = problems_of(tmp_path, data)
    assert any("actors.gate.sockets.permits.connect: crosses hosts (exec -> store: "
               "actors.permit_issuer.sockets.requests) without CurveZMQ" in p for p in problems), problems
    assert sum("actors.gate.sockets.permits.connect" in p for p in problems) == 1, problems


def test_metrics_bound_beyond_loopback_without_an_explicit_metrics_bind_are_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["gate"]["host"] = "198.51.100.12"
    assert ("actors.gate.host: metrics bound beyond loopback (198.51.100.12) without an explicit per-host "
            "metrics_bind: write host: exec and set hosts.exec.metrics_bind: 198.51.100.12") in only_problem(tmp_path, data)


def test_a_metrics_bind_on_another_hosts_address_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["hosts"]["exec"]["metrics_bind"] = "198.51.100.11"
    assert "hosts.exec.metrics_bind: binds 198.51.100.11, which is neither this host's address" in \
        only_problem(tmp_path, data)


def test_a_managed_redis_reached_from_other_hosts_without_a_password_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    del data["redis"]["password_env"]
    assert ("redis: the managed Redis on host store is reached from host(s) exec, market without a password"
            in only_problem(tmp_path, data))


def test_a_managed_redis_with_no_host_in_a_multihost_topology_is_refused(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    del data["redis"]["host"]
    assert "redis: managed: true in a topology with hosts: name the host" in only_problem(tmp_path, data)


def test_a_redis_host_without_a_hosts_map_is_refused(tmp_path: Path) -> None:
    data = demo_topology_data()
    data["redis"]["host"] = "store"
    assert "redis.host: names a host, but the topology has no hosts: map" in only_problem(tmp_path, data)


def test_several_problems_give_one_line_each(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    data["actors"]["gate"]["host"] = "nowhere"
    data["actors"]["buffer"]["host"] = "nowhere_else"
    del data["redis"]["password_env"]
    problems = problems_of(tmp_path, data)
    assert len(problems) == 3, problems


def test_a_host_view_holds_only_that_hosts_programs(tmp_path: Path) -> None:
    topo = load_topology(write_topology(tmp_path, multihost_data(tmp_path)))
    market, store = host_view(topo, "market"), host_view(topo, "store")
    assert not market.redis.managed and market.redis.connection_url() == topo.redis.connection_url()
    assert store.redis.managed and store.actors == {}
    assert set(market.actors) == set(actors_on(topo, "market"))


def test_a_host_hash_changes_only_for_the_host_whose_programs_change(tmp_path: Path) -> None:
    data = multihost_data(tmp_path)
    before = load_topology(write_topology(tmp_path, data))
    data["actors"]["gate"]["settings"]["sigma"] = 0.9
    after = load_topology(write_topology(tmp_path, data, "after.yaml"))
    assert host_hash(before, "exec") != host_hash(after, "exec")
    assert host_hash(before, "market") == host_hash(after, "market")


def _state_writer_b_on_exec(data: dict) -> None:
    data["actors"]["state_writer_b"] = {"kind": "state_writer", "host": "exec", "metrics_port": 9196,
                                        "sockets": {"state": {"connect": "tcp://127.0.0.1:5565"}}}
    data["actors"]["clusterer_b"] = {"kind": "clusterer", "host": "exec", "metrics_port": 9195,
                                     "sockets": {"matrix": {"connect": "tcp://127.0.0.1:5564"},
                                                 "state": {"bind": "tcp://127.0.0.1:5565"}}}
    data["actors"]["correlator_b"] = {"kind": "correlator", "host": "exec", "metrics_port": 9194,
                                      "sockets": {"windows": {"connect": "tcp://127.0.0.1:5562"},
                                                  "snapshot": {"connect": "tcp://127.0.0.1:5563"},
                                                  "matrix": {"bind": "tcp://127.0.0.1:5564"}}}
    data["actors"]["buffer_b"] = {"kind": "buffer", "host": "exec", "metrics_port": 9193,
                                  "sockets": {"ticks": {"connect": "tcp://198.51.100.11:5551", "curve": {}},
                                              "windows": {"bind": "tcp://127.0.0.1:5562"},
                                              "snapshot": {"bind": "tcp://127.0.0.1:5563"}}}
    data["actors"]["price_feed"]["sockets"]["ticks"]["curve"]["allow"].append("buffer_b")


@pytest.mark.parametrize("change", ["a gate's freshness_s on exec", "a standby state writer added on exec"])
def test_a_change_on_another_host_that_a_state_writer_reads_restarts_it(tmp_path: Path, change: str) -> None:
    """docs review (operating.md: a standby added, or the smallest gate freshness_s moved, restarts the running state
    writer): `up --host market` hashed its writer from market's own view, which holds no gate and no other writer, so a
    deploy changed exec and left market's writer running on the old topology: writing without the lease beside a
    standby that took it, or judging its states by the old gates' window."""
    data = multihost_data(tmp_path)
    before = load_topology(write_topology(tmp_path, data))
    if change.startswith("a gate"):
        data["actors"]["gate"]["settings"]["freshness_s"] = 1.0
    else:
        from launcher.curve import generate_keypair
        generate_keypair(tmp_path / "keys", "buffer_b")
        _state_writer_b_on_exec(data)
    after = load_topology(write_topology(tmp_path, data, "after.yaml"))
    from launcher.supervise import actor_config_hash  # what `up --host market` renders into the writer's program
    assert actor_config_hash(host_view(after, "market"), "state_writer") != \
        actor_config_hash(host_view(before, "market"), "state_writer")
    assert host_hash(before, "market") != host_hash(after, "market")  # what deploy records and compares
    assert {a: actor_config_hash(host_view(after, "market"), a) for a in ("buffer", "correlator", "clusterer")} == \
        {a: actor_config_hash(host_view(before, "market"), a) for a in ("buffer", "correlator", "clusterer")}


@pytest.mark.parametrize("host,expected", [(None, "spans hosts market, exec, store: give --host NAME"),
                                           ("exce", "--host exce: unknown host (did you mean 'exec'?)")])
def test_up_on_a_multihost_topology_needs_a_known_host(tmp_path: Path, host, expected) -> None:
    topo = load_topology(write_topology(tmp_path, multihost_data(tmp_path)))
    assert expected in host_problem(topo, host)


def test_a_running_copy_put_back_by_a_rollback_hashes_as_the_file_it_was_made_from(tmp_path: Path) -> None:
    from launcher.supervise import Home, actor_config_hash, topology_copy
    source = write_topology(tmp_path, multihost_data(tmp_path))
    topo = load_topology(source)
    recorded = tmp_path / "elsewhere" / "before-market.yaml"
    recorded.parent.mkdir()
    recorded.write_text(topology_copy(topo, Home(tmp_path / "home")))
    put_back = load_topology(recorded)
    assert {a: actor_config_hash(put_back, a) for a in topo.actors} == {a: actor_config_hash(topo, a) for a in topo.actors}
    assert host_hash(put_back, "market") == host_hash(topo, "market")


def test_a_host_validates_with_only_its_own_secret_keys_and_up_names_a_missing_one(tmp_path: Path) -> None:
    import subprocess
    import sys
    data = multihost_data(tmp_path)
    for name in ("price_feed", "buffer"):  # market's secrets are not on this (exec) machine
        (tmp_path / "keys" / f"{name}.key_secret").unlink()
    path = write_topology(tmp_path, data)
    topo = load_topology(path)
    from launcher.hosts import missing_secrets
    assert missing_secrets(topo, "exec") == []
    missing = missing_secrets(topo, "market")
    assert len(missing) == 2 and missing[0].startswith("actors.price_feed.sockets.ticks.curve.keypair: ")
    up = subprocess.run([sys.executable, "-m", "launcher", "up", str(path), "--host", "market", "--home",
                         str(tmp_path / "home")], capture_output=True, text=True, timeout=60)
    assert up.returncode == 2 and "price_feed.key_secret does not exist" in up.stderr
    assert not (tmp_path / "home" / "run" / "supervisor.sock").exists()


def test_a_secret_key_path_stat_cannot_follow_on_a_multihost_topology_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """A multi-host topology looks for each secret key to fall back to its public half: a name too long (or, as
    another user than root, a directory on the way it cannot search) raised OSError out of validate there before
    read_keypair could say why (keysdir re-review)."""
    data = multihost_data(tmp_path)
    data["actors"]["price_feed"]["sockets"]["ticks"]["curve"]["keypair"] = "x" * 300
    problems = problems_of(tmp_path, data)
    assert any(p.split(": ", 1)[1].startswith(f"actors.price_feed.sockets.ticks.curve.keypair: {tmp_path}/keys/"
                                              f"{'x' * 300}.key_secret cannot be looked at: File name too long")
               for p in problems), problems

def test_hosts_at_loopback_addresses_of_one_machine_validate_and_connect_by_host_address(tmp_path: Path) -> None:
    from launcher.multihost_harness import side_by_side_data
    topo = load_topology(write_topology(tmp_path, side_by_side_data(tmp_path)))
    assert topo.redis.connection_url().startswith("redis://127.0.11.13:")


def test_a_bind_on_another_hosts_loopback_address_is_refused(tmp_path: Path) -> None:
    from launcher.multihost_harness import side_by_side_data
    data = side_by_side_data(tmp_path)
    port = data["actors"]["gate"]["sockets"]["proposals"]["bind"].rpartition(":")[2]
    data["actors"]["gate"]["sockets"]["proposals"]["bind"] = f"tcp://127.0.11.11:{port}"
    problems = problems_of(tmp_path, data)
    assert any("actors.gate.sockets.proposals.bind: binds 127.0.11.11, which is not the address of its host exec"
               in p for p in problems), problems


def test_up_on_a_host_reaching_the_remote_managed_redis_without_its_password_exits_2_before_starting(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    path = write_topology(tmp_path, multihost_data(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERGATE_REDIS_PASSWORD"}
    up = subprocess.run([sys.executable, "-m", "launcher", "up", str(path), "--host", "exec", "--home",
                         str(tmp_path / "home")], capture_output=True, text=True, timeout=60, env=env)
    assert up.returncode == 2, up.stdout + up.stderr
    assert ("redis: $CLUSTERGATE_REDIS_PASSWORD is not set, but the actors of host exec reach the managed Redis on "
            "host store, which requires it") in up.stderr
    assert not (tmp_path / "home" / "run").exists()


def test_a_gate_whose_permit_issuer_runs_on_another_host_is_refused(tmp_path: Path) -> None:
    """The gate gives its issuer deadlines on its own host's clock (the proposal's deadline_ms less
    deadline_skew_ms, and its own), and the issuer moves them onto Redis's clock from its host's: a second
    clock no setting covers. With the issuer's host clock 300 ms behind the gate's (real processes, skew 50 ms,
    Redis stopped 250 ms during the write), a permit was written 100 ms after its client's deadline; such a
    topology (CurveZMQ and all) validated."""
    from launcher.curve import generate_keypair
    data = multihost_data(tmp_path)
    generate_keypair(tmp_path / "keys", "permit_issuer")
    data["actors"]["permit_issuer"]["host"] = "store"
    data["actors"]["permit_issuer"]["sockets"]["requests"] = {
        "bind": "tcp://198.51.100.13:5557", "curve": {"keypair": "permit_issuer", "allow": ["gate"]}}
    data["actors"]["gate"]["sockets"]["permits"] = {"connect": "tcp://198.51.100.13:5557", "curve": {}}
    problem = only_problem(tmp_path, data)
    assert ("actors.gate.sockets.permits.connect: reaches its permit issuer on another host (exec -> store: "
            "actors.permit_issuer)") in problem, problem
    assert "run actors.permit_issuer on exec" in problem, problem


def test_a_gate_whose_permit_issuer_on_another_host_connects_to_its_bound_permits_socket_is_refused(tmp_path: Path) -> None:
    """The link may run either way (the gate's `permits` binds, the issuer's `requests` connects): found by
    rev-merged, that way round the issuer on another host validated, so the check above was bypassed."""
    from launcher.curve import generate_keypair
    data = multihost_data(tmp_path)
    generate_keypair(tmp_path / "keys", "gate_permits")
    generate_keypair(tmp_path / "keys", "permit_issuer")
    data["actors"]["permit_issuer"]["host"] = "store"
    data["actors"]["gate"]["sockets"]["permits"] = {
        "bind": "tcp://198.51.100.12:5557", "curve": {"keypair": "gate_permits", "allow": ["permit_issuer"]}}
    data["actors"]["permit_issuer"]["sockets"]["requests"] = {"connect": "tcp://198.51.100.12:5557", "curve": {}}
    problem = only_problem(tmp_path, data)
    assert ("actors.permit_issuer.sockets.requests.connect: reaches its gate on another host (store -> exec: "
            "actors.gate)") in problem, problem
    assert "run actors.permit_issuer on exec" in problem, problem


def test_a_redis_config_replaced_with_another_timeout_still_reaches_the_hosts_addresses(tmp_path: Path) -> None:
    """dataclasses.replace sets the addresses validation placed back to None: the HA audit's client, given a longer
    timeout that way, looked the sentinels' host names up in DNS (gaierror) and every HA load test failed."""
    redis_cfg = load_topology(write_topology(tmp_path, ha_data(tmp_path, fast=False))).redis
    longer = redis_cfg.replaced(timeout_ms=10_000)
    assert longer.timeout_ms == 10_000
    assert longer.sentinel_addresses() == redis_cfg.sentinel_addresses()
    assert all(not address[0].isalpha() for address in longer.sentinel_addresses()), longer.sentinel_addresses()
    assert longer.server_addresses() == redis_cfg.server_addresses()


def test_render_of_a_multihost_topology_renders_one_hosts_programs_and_needs_its_name(tmp_path: Path) -> None:
    """docs review: `render` printed every actor of every host, and the managed Redis, as one supervisord would run
    them, which no host does; `up` of the same file refuses without --host. Now render takes --host as up does."""
    import subprocess
    import sys
    path = write_topology(tmp_path, multihost_data(tmp_path))

    def render(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "launcher", "render", str(path), "--home", str(tmp_path / "home"),
                               *args], capture_output=True, text=True, timeout=60, cwd=REPO)

    refused = render()
    assert refused.returncode == 2 and "spans hosts market, exec, store: give --host NAME" in refused.stderr, refused
    market = render("--host", "market")
    assert market.returncode == 0, market.stderr
    programs = {line[len("[program:"):-1] for line in market.stdout.splitlines() if line.startswith("[program:")}
    assert programs == set(actors_on(load_topology(path), "market")), programs
    assert render("--host", "exce").returncode == 2


def test_deploy_json_without_history_is_refused_before_any_host_is_touched(tmp_path: Path) -> None:
    """docs review: `--json` ("with --history: machine-readable") given to a deploy was ignored, and the deploy ran,
    host by host, printing text; now refused, exit 2, nothing read or written."""
    import subprocess
    import sys
    path = write_topology(tmp_path, multihost_data(tmp_path))
    done = subprocess.run([sys.executable, "-m", "launcher", "deploy", "--json", str(path), "--home", str(tmp_path / "ops")],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--json goes with --history" in done.stderr and done.stdout == "", done.stderr
    assert not (tmp_path / "ops").exists()


@pytest.mark.parametrize("option", ["--home", "--host"])
def test_status_all_hosts_refuses_one_homes_options_and_names_home_root(tmp_path: Path, option: str) -> None:
    """docs review: `status FILE --all-hosts --home DIR` took no notice of DIR and read each host's exits under the
    repo root's hosts/NAME ("no supervisord log at .../hosts/market/..."); --home and --host name one home, --home-root
    DIR the hosts' homes."""
    import subprocess
    import sys
    path = write_topology(tmp_path, multihost_data(tmp_path))
    value = str(tmp_path / "elsewhere") if option == "--home" else "market"
    done = subprocess.run([sys.executable, "-m", "launcher", "status", str(path), "--all-hosts", option, value],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    assert option in done.stderr and "--home-root" in done.stderr and done.stdout == "", done.stderr
