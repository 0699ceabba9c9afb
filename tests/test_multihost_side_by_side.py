"""Three hosts of one topology side by side on one machine (no namespaces, no root): each host at its
own loopback address, under its own supervisord and home."""

from __future__ import annotations

import argparse
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import DEADLINE_SCALE, as_another_user
from launcher.multihost_harness import PASSWORD, SYSTEM_HOSTS, side_by_side_data, write_topology

UP_TIMEOUT_S = 60 * DEADLINE_SCALE


def clustergate(env: dict, *argv: str, timeout: float = UP_TIMEOUT_S + 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def topology_and_env(tmp_path: Path) -> tuple[Path, dict]:
    """The side-by-side topology written in tmp_path, and the environment its commands run in (base home there)."""
    topology = write_topology(tmp_path, side_by_side_data(tmp_path))
    return topology, {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}


def up_every_host(env: dict, topology: Path) -> None:
    for host in ("store", "market", "exec"):
        up = clustergate(env, "up", str(topology), "--host", host, "--timeout", str(UP_TIMEOUT_S))
        assert up.returncode == 0, f"{host}: {up.stdout[-2000:]}{up.stderr[-2000:]}"


def exec_rows_through_via(topology: Path, homes: Path, field: str) -> dict:
    """exec's programs -> their `field` in `status FILE --all-hosts`, each host's home read on the host through --via
    (`env` stands in for ssh)."""
    from launcher.hosts_status import ask_exits, collect_all_hosts
    from launcher.topology import load_topology
    topo = load_topology(topology)
    args = argparse.Namespace(via="env CG_HOST={host}", home_root=str(homes))
    through = collect_all_hosts(topo, lambda host: ask_exits(args, topo, host))
    return {row["name"]: row.get(field) for row in through["exec"]["programs"]}


def up_exec_again_and_see_no(env: dict, topology: Path, note: str) -> None:
    """`up FILE --host exec` again, then `status FILE --all-hosts` exits 0 without the note."""
    again = clustergate(env, "up", str(topology), "--host", "exec", "--timeout", str(UP_TIMEOUT_S))
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    after = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
    assert after.returncode == 0 and note not in after.stdout, after.stdout + after.stderr


@pytest.fixture
def tmp_path(tmp_path_factory):
    """A short directory: each host's supervisord socket (base/hosts/HOST/run/...) must fit in AF_UNIX's
    108 bytes, which pytest's per-worker temp paths (popen-gwN/test_three_hosts_of_one_topolo0/...) exceed."""
    short = Path(tempfile.mkdtemp(prefix="cg-"))
    yield short
    shutil.rmtree(short, ignore_errors=True)


def test_three_hosts_of_one_topology_run_side_by_side_each_under_its_own_supervisord_and_home(tmp_path: Path):
    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    try:
        for host in ("store", "market", "exec"):  # docs/multihost-and-deploy.md's order: Redis, then the feed, then its readers
            up = clustergate(env, "up", str(topology), "--host", host, "--timeout", str(UP_TIMEOUT_S))
            assert up.returncode == 0, f"{host}: {up.stdout[-2000:]}{up.stderr[-2000:]}"
        homes = {h: tmp_path / "base" / "hosts" / h for h in SYSTEM_HOSTS}  # the default home of --host
        sockets = {h: (home / "run" / "supervisor.sock") for h, home in homes.items()}
        assert all(sock.exists() for sock in sockets.values()), "one supervisord per host"
        status = clustergate(env, "status", "--host", "exec", "--json", timeout=60)
        assert {row["name"] for row in json.loads(status.stdout)["programs"]} == {"gate", "permit_issuer", "book"}
        # the copy `up --host` wrote is the one programs.d names: not an edited copy
        assert json.loads(status.stdout)["running_copy_edited"] is False, status.stdout
        whole = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert whole.returncode == 0, whole.stdout + whole.stderr
        proof = clustergate(env, "proof", "readiness", "--topology", str(topology), "--home",
                            str(tmp_path / "ops"), timeout=180)
        assert proof.returncode == 0, proof.stdout[-3000:]
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)
    for host in SYSTEM_HOSTS:
        after = clustergate(env, "status", "--host", host, "--json", timeout=60)
        report = json.loads(after.stdout)
        assert report["supervisord"] == "not running" and report["leftovers"] == [], host


def test_status_all_hosts_keeps_a_space_between_a_sixteen_letter_program_name_and_its_ready_column(tmp_path: Path):
    """`redis-sentinel-1` has 16 letters, the width the table gave names: `redis-sentinel-1yes` was printed.
    Nothing runs here: every row is `?`, and the sentinel line says none answers (exit 1)."""
    data = side_by_side_data(tmp_path)
    data["redis"] = {"managed": True, "password_env": "CLUSTERGATE_REDIS_PASSWORD", "timeout_ms": 250,
                     "sentinel": {"master": "clustergate", "servers": ["store:6390", "exec:6391"],
                                  "sentinels": ["store:26390", "exec:26391", "market:26392"]}}
    topology = write_topology(tmp_path, data)
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    whole = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
    assert whole.returncode == 1, whole.stdout + whole.stderr
    rows = [line for line in whole.stdout.splitlines() if "redis-sentinel-" in line]
    assert len(rows) == 3, whole.stdout
    assert all(re.search(r"redis-sentinel-\d\s+\?\s", row) for row in rows), rows


def test_status_all_hosts_names_each_hosts_unexpected_exits_from_its_own_supervisords_log(tmp_path: Path):
    """`status --home` named a crash loop from supervisord's log (a program restarted without end shows RUNNING
    and ready between crashes); `status FILE --all-hosts` asks only metrics endpoints and named none. Nothing
    runs here: each host's log is written as supervisord writes it, in its home (hosts/NAME under the usual one,
    or on the host through --via: `env` stands in for ssh)."""
    import time

    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    base = tmp_path / "base"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 60)) + ",123"
    for host, lines in (("exec", [f"{stamp} WARN exited: gate (terminated by SIGKILL; not expected)"] * 3),
                        ("market", [f"{stamp} INFO stopped: buffer (terminated by SIGTERM)"])):  # asked for: not counted
        run = base / "hosts" / host / "run"
        run.mkdir(parents=True)
        (run / "supervisord.log").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(base)}
    whole = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
    said = [line for line in whole.stdout.splitlines() if "unexpected" in line]
    assert len(said) == 2 and said[0].startswith("exec: gate: exited unexpectedly 3 times in the last 10 minutes"), \
        whole.stdout
    assert str(base / "hosts" / "exec" / "run" / "logs" / "gate.log") in said[0], said
    assert said[1].startswith("unexpected exits not read: store (no supervisord log at ") and "market" not in said[1]
    from launcher.hosts_status import ask_exits, collect_all_hosts
    from launcher.topology import load_topology
    topo = load_topology(topology)
    args = argparse.Namespace(via="env CG_HOST={host}", home_root=str(base / "hosts"))
    hosts = collect_all_hosts(topo, lambda host: ask_exits(args, topo, host))
    gate = next(row for row in hosts["exec"]["programs"] if row["name"] == "gate")
    assert "unexpected_exits" in gate, f"the gate's row names no unexpected exit: {gate}"
    assert gate["unexpected_exits"]["count"] == 3 and gate["unexpected_exits"]["last_how"] == "terminated by SIGKILL"
    assert hosts["market"]["exits"]["unexpected_exits"] == {} and "error" in hosts["store"]["exits"]
    assert not any("unexpected_exits" in row for info in hosts.values() for row in info["programs"] if row is not gate)


def test_status_all_hosts_names_a_host_whose_log_it_may_not_read_and_shows_the_others(tmp_path: Path):
    """review16: `up` makes a home's run/ 0700; `status FILE --all-hosts` run by another account than the hosts'
    (an operator's, with its own keys) ended in a PermissionError traceback, no table at all, where it printed
    the table before it read the hosts' logs. Here a forked child reads the hosts' logs as a user who may not
    enter exec's run/ (nobody, when the test runs as root)."""
    import time

    from launcher.hosts_status import ask_exits, collect_all_hosts
    from launcher.topology import load_topology

    data = side_by_side_data(tmp_path)
    topo = load_topology(write_topology(tmp_path, data))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 60)) + ",123"
    for host in ("exec", "market"):
        run = tmp_path / "hosts" / host / "run"
        run.mkdir(parents=True)
        (run / "supervisord.log").write_text(f"{stamp} WARN exited: gate (terminated by SIGKILL; not expected)\n")
    args = argparse.Namespace(via=None, home_root=str(tmp_path / "hosts"))
    collect_all_hosts(topo, lambda host: ask_exits(args, topo, host))  # every module the child needs, imported
    for path in (tmp_path, tmp_path / "hosts", tmp_path / "hosts" / "market", tmp_path / "hosts" / "market" / "run"):
        path.chmod(0o755)
    (tmp_path / "hosts" / "exec" / "run").chmod(0o700 if os.geteuid() == 0 else 0o000)
    try:
        ran = as_another_user(lambda: {host: info.get("exits") for host, info in
                                       collect_all_hosts(topo, lambda host: ask_exits(args, topo, host)).items()})
    finally:
        (tmp_path / "hosts" / "exec" / "run").chmod(0o700)
    assert "raised" not in ran, ran
    said = ran["returned"]
    assert "Permission denied" in said["exec"]["error"] and str(tmp_path / "hosts" / "exec") in said["exec"]["error"]
    assert said["market"]["unexpected_exits"]["gate"]["count"] == 1


def test_deploy_of_a_renamed_topology_says_to_give_replace_and_with_replace_passes_it_to_each_hosts_up(tmp_path: Path):
    """deploy had no --replace: a renamed topology was refused by the first host's `up` (another name runs there)
    and that host rolled back, with no way through but a `down` of every host first."""
    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(topology.read_text().replace(f"name: {data['name']}\n", "name: renamed\n", 1))
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    deploy = ("deploy", "--home-root", str(tmp_path / "base" / "hosts"), "--home", str(tmp_path / "ops"),
              "--up-timeout", str(UP_TIMEOUT_S))
    try:
        for host in ("store", "market", "exec"):
            up = clustergate(env, "up", str(topology), "--host", host, "--timeout", str(UP_TIMEOUT_S))
            assert up.returncode == 0, f"{host}: {up.stdout[-2000:]}{up.stderr[-2000:]}"
        refused = clustergate(env, *deploy, str(renamed), timeout=20 * UP_TIMEOUT_S)
        assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
        assert "`clustergate deploy --replace` passes --replace to each host's up" in refused.stdout, refused.stdout[-3000:]
        replaced = clustergate(env, *deploy, str(renamed), "--replace", timeout=20 * UP_TIMEOUT_S)
        assert replaced.returncode == 0, replaced.stdout[-3000:] + replaced.stderr[-3000:]
        for host in SYSTEM_HOSTS:
            status = clustergate(env, "status", "--host", host, "--json", timeout=60)
            assert json.loads(status.stdout)["topology"] == "renamed", (host, status.stdout)
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_shows_a_program_a_hosts_supervisord_does_not_run_as_missing(tmp_path: Path):
    """A program removed from a host's supervisord (supervisorctl remove) was shown by `status --all-hosts` as a
    `?` row with a refused connection, like a program that crashed: nothing said supervisord no longer runs it."""
    from launcher.supervise import Home, Supervisor
    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        api = Supervisor(Home(tmp_path / "base" / "hosts" / "exec")).api
        api.stopProcessGroup("gate")
        api.removeProcessGroup("gate")
        whole = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert whole.returncode == 1, whole.stdout + whole.stderr
        assert re.search(r"^exec .* gate +MISSING +http://\S+ +\(MISSING: exec's supervisord does not run it", whole.stdout,
                         re.M), whole.stdout
        assert re.search(r"^exec .* book +yes ", whole.stdout, re.M), whole.stdout
        report = json.loads(clustergate(env, "status", str(topology), "--all-hosts", "--json", timeout=60).stdout)
        states = {row["name"]: row.get("state") for row in report["hosts"]["exec"]["programs"]}
        assert states["gate"] == "MISSING" and states["book"] is None, states
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_names_a_hosts_program_still_running_the_config_an_up_killed_part_way_did_not_apply(
        tmp_path: Path):
    """`status --home` names as NOT APPLIED, and exits 1 for, a program that runs another configuration than the one
    `up` last wrote (an `up` killed after it switched the files, before supervisord applied them); `status FILE
    --all-hosts` showed the same host's programs all ready, exit 0, in text and --json. Read from the host's home
    here, and on the host through --via (`env` stands in for ssh)."""
    import yaml

    from helpers import KILLED_BEFORE_UPDATE

    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    base = tmp_path / "base"
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(base)}
    try:
        for host in ("store", "market", "exec"):
            up = clustergate(env, "up", str(topology), "--host", host, "--timeout", str(UP_TIMEOUT_S))
            assert up.returncode == 0, f"{host}: {up.stdout[-2000:]}{up.stderr[-2000:]}"
        before = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert before.returncode == 0 and "NOT APPLIED" not in before.stdout, before.stdout + before.stderr
        edited = yaml.safe_load(topology.read_text())
        # Read by the gate alone (its freshness_s is read by market's state writer too, which `up --host exec` does
        # not apply: `status FILE --all-hosts` names that NOT FILE'S)
        edited["actors"]["gate"]["settings"]["state_refresh_ms"] = 100
        topology.write_text(yaml.safe_dump(edited, sort_keys=False))
        killed = subprocess.run([sys.executable, "-c", KILLED_BEFORE_UPDATE, "up", str(topology), "--host", "exec",
                                 "--timeout", str(UP_TIMEOUT_S)], capture_output=True, text=True, env=env,
                                timeout=UP_TIMEOUT_S + 60, stdin=subprocess.DEVNULL)
        assert killed.returncode == -9, killed.stdout + killed.stderr
        whole = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert whole.returncode == 1, whole.stdout + whole.stderr
        said = [line for line in whole.stdout.splitlines() if "NOT APPLIED" in line]
        assert len(said) == 1 and said[0].startswith("exec: NOT APPLIED: gate run(s) another configuration"), \
            whole.stdout
        assert f"`clustergate up FILE --host exec` again applies it" in said[0], said
        report = clustergate(env, "status", str(topology), "--all-hosts", "--json", timeout=60)
        assert report.returncode == 1, report.stdout + report.stderr
        hosts = json.loads(report.stdout)["hosts"]
        applied = {row["name"]: row.get("config_applied") for row in hosts["exec"]["programs"]}
        assert applied == {"gate": False, "permit_issuer": True, "book": True}, applied
        assert all(row.get("config_applied") is True for row in hosts["market"]["programs"]), hosts["market"]
        assert hosts["store"]["programs"][0].get("config_applied") is not False, hosts["store"]  # redis: null here,
        # its hash not read from /proc, as `status --home` shows it
        assert exec_rows_through_via(topology, base / "hosts", "config_applied") == applied
        up_exec_again_and_see_no(env, topology, "NOT APPLIED")
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_deploy_refuses_before_changing_any_host_when_a_hosts_running_copy_could_not_be_put_back(tmp_path: Path):
    """market's running copy (run/topology.yaml) names an actor today's validation refuses (`clusterer.v2`: an older
    release's copy, or one edited by hand). deploy hashed it as "unreadable" and went on: store was applied, market's
    `up` failed, market's rollback (`up` of that copy) was refused by validation (exit 2), and the proof after the
    rollback failed on the same copy: outcome "rollback failed", though no rollback of market could ever have worked.
    deploy now reads each host's copy as its rollback will, before it changes any host."""
    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    never_ready = tmp_path / "never-ready.yaml"  # validates; the correlator is never ready within the proof's time
    never_ready.write_text(topology.read_text().replace("min_returns: ", "min_returns: 4000 #", 1)
                           .replace("lookback_returns: ", "lookback_returns: 4000 #", 1))
    market_copy = tmp_path / "base" / "hosts" / "market" / "run" / "topology.yaml"
    try:
        for host in ("store", "market", "exec"):
            up = clustergate(env, "up", str(topology), "--host", host, "--timeout", str(UP_TIMEOUT_S))
            assert up.returncode == 0, f"{host}: {up.stdout[-2000:]}{up.stderr[-2000:]}"
        market_copy.write_text(market_copy.read_text().replace("\n  clusterer:\n", "\n  clusterer.v2:\n", 1))
        assert "clusterer.v2:" in market_copy.read_text()
        copy_before = market_copy.read_text()
        deploy = clustergate(env, "deploy", str(never_ready), "--home-root", str(tmp_path / "base" / "hosts"),
                             "--home", str(tmp_path / "ops"), "--up-timeout", str(UP_TIMEOUT_S), "--proof-timeout",
                             str(10 * DEADLINE_SCALE), timeout=20 * UP_TIMEOUT_S)
        said = deploy.stdout + deploy.stderr
        assert deploy.returncode == 2, said[-4000:]
        assert "cannot put market back" in said and str(market_copy) in said and "clusterer.v2" in said, said[-4000:]
        assert "nothing was changed on any host" in said, said[-4000:]
        assert "--- store: clustergate up" not in said and "--- market: clustergate up" not in said, said[-4000:]
        assert market_copy.read_text() == copy_before  # market still runs (and records) what it ran
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_the_deploy_refusal_of_a_copy_that_does_not_validate_names_a_way_out_that_works(tmp_path: Path):
    """market runs a copy (run/topology.yaml) that today's validation refuses; deploy refuses it and says to stop
    market (`clustergate down --host market` there) and deploy again. `down` keeps the copy, and deploy read a kept
    copy as what the host runs: every deploy after that `down` was refused the same way. The way out is followed here
    and the next deploy goes past the check (market's `up` then fails at once on a port held here; its rollback
    stops it: exit 1, not 2)."""
    import socket
    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    market_copy = tmp_path / "base" / "hosts" / "market" / "run" / "topology.yaml"
    deploy_argv = ("deploy", str(topology), "--host", "market", "--home-root", str(tmp_path / "base" / "hosts"),
                   "--home", str(tmp_path / "ops"), "--up-timeout", "5", "--proof-timeout", str(5 * DEADLINE_SCALE))
    busy = socket.socket()
    try:
        clustergate(env, "up", str(topology), "--host", "market", "--timeout", "1")  # no store: never all ready
        status = clustergate(env, "status", "--host", "market", "--json", timeout=60)
        assert json.loads(status.stdout)["supervisord"] == "running", status.stdout[-2000:]
        market_copy.write_text(market_copy.read_text().replace("\n  clusterer:\n", "\n  clusterer.v2:\n", 1))
        refused = clustergate(env, *deploy_argv, timeout=10 * UP_TIMEOUT_S)
        said = refused.stdout + refused.stderr
        assert refused.returncode == 2 and "cannot put market back" in said, said[-4000:]
        assert "`clustergate down --host market` there" in said, said[-4000:]
        assert clustergate(env, "down", "--host", "market").returncode == 0
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stopped clusterer's port may be in TIME_WAIT
        busy.bind((data["hosts"]["market"]["address"], data["actors"]["clusterer"]["metrics_port"]))
        busy.listen()
        again = clustergate(env, *deploy_argv, timeout=10 * UP_TIMEOUT_S)
        said = again.stdout + again.stderr
        assert "cannot put market back" not in said and "--- market: clustergate up" in said, said[-4000:]
        assert again.returncode == 1 and "market stopped (it ran nothing before)" in said, said[-4000:]
    finally:
        busy.close()
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_a_failed_deploy_leaves_a_host_that_was_stopped_stopped(tmp_path: Path):
    """market was stopped with `clustergate down`, which keeps its copy (run/topology.yaml). deploy read that copy as
    what market runs, so when market's `up` failed its rollback was `up` of the copy: a host an operator had stopped
    was started again on the old topology. A host whose supervisord does not run (and no process of its home is
    left) runs nothing: its rollback stops it."""
    import socket
    import yaml
    data = side_by_side_data(tmp_path)
    old = write_topology(tmp_path, data)
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    market_copy = tmp_path / "base" / "hosts" / "market" / "run" / "topology.yaml"
    market_copy.parent.mkdir(parents=True)
    market_copy.write_text(yaml.safe_dump({**yaml.safe_load(old.read_text()), "base_dir": str(tmp_path)}))
    new_data = yaml.safe_load(old.read_text())
    market = new_data["hosts"]["market"]["address"]
    busy = socket.socket()
    busy.bind((market, 0))
    busy.listen()
    new_data["actors"]["clusterer"]["metrics_port"] = busy.getsockname()[1]  # market's `up` fails at once on it
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(new_data))
    try:
        deploy = clustergate(env, "deploy", str(new), "--host", "market", "--home-root", str(tmp_path / "base" / "hosts"),
                             "--home", str(tmp_path / "ops"), "--up-timeout", "5", "--proof-timeout",
                             str(5 * DEADLINE_SCALE), timeout=10 * UP_TIMEOUT_S)
        said = deploy.stdout + deploy.stderr
        assert deploy.returncode == 1 and "--- market: clustergate up" in said, said[-4000:]
        assert "market stopped (it ran nothing before)" in said, said[-4000:]
        status = clustergate(env, "status", "--host", "market", "--json", timeout=60)
        assert json.loads(status.stdout)["supervisord"] == "not running", status.stdout[-2000:]
    finally:
        busy.close()
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace per host command (unshare -m) needs root")
def test_a_rollback_puts_a_host_back_when_the_host_cannot_see_the_deploying_machines_files(tmp_path: Path):
    """A rollback ran `up DEPLOY_HOME/run/deploys/ID/before-HOST.yaml` on the host: a path on the deploying machine,
    which a host reached with `--via 'ssh ...'` does not have, so every rollback on real machines failed (`cannot
    read topology`). Here each host command runs in a mount namespace where the deploy's home is an empty tmpfs.
    --up-timeout 0 fails the new topology's `up` at once; the rollback's `up` still waits for the recorded topology
    to be ready (at least `up`'s default): given --up-timeout too, a rollback was reported failed whenever the old
    system took longer to come back than a timeout meant to fail the new one fast (CI, 4 Dec 2026, loaded)."""
    data = side_by_side_data(tmp_path)
    topology = write_topology(tmp_path, data)
    bad = json.loads(json.dumps(data))
    bad["clusters"].update(lookback_returns=5000, min_returns=5000)  # validates; the correlator is never ready
    bad_path = write_topology(tmp_path, bad, "bad.yaml")
    ops = tmp_path / "ops"
    ops.mkdir()
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    via = f"unshare -m sh -c 'mount -t tmpfs tmpfs {ops} && exec \"$@\"' {{host}}"
    try:
        for host in ("store", "market", "exec"):
            up = clustergate(env, "up", str(topology), "--host", host, "--timeout", str(UP_TIMEOUT_S))
            assert up.returncode == 0, f"{host}: {up.stdout[-2000:]}{up.stderr[-2000:]}"
        market = tmp_path / "base" / "hosts" / "market" / "run" / "topology.yaml"
        before = market.read_text()
        result = clustergate(env, "deploy", str(bad_path), "--host", "market", "--via", via, "--home-root",
                             str(tmp_path / "base" / "hosts"), "--home", str(ops), "--up-timeout", "0",
                             "--proof-timeout", str(20 * DEADLINE_SCALE), timeout=20 * UP_TIMEOUT_S)
        assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
        assert "rolled back: market back on its recorded topology" in result.stdout, result.stdout[-3000:]
        assert "FAILED (exit" not in result.stdout and "the proof after the rollback passed" in result.stdout, \
            result.stdout[-3000:]
        assert market.read_text() == before
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_names_a_hosts_running_copy_edited_by_hand(tmp_path: Path):
    """rev2: `status --home` names a running copy (run/topology.yaml) edited by hand since `up` wrote it, which a
    program restarted there would run unchecked, and exits 1 (31b93a2); `status FILE --all-hosts` showed that host
    all ready and exited 0. Read from the host's home, as NOT APPLIED is."""
    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        before = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert before.returncode == 0 and "EDITED" not in before.stdout, before.stdout + before.stderr
        copy = tmp_path / "base" / "hosts" / "exec" / "run" / "topology.yaml"
        copy.write_text(copy.read_text() + "# edited by hand\n")
        whole = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert whole.returncode == 1, whole.stdout + whole.stderr
        said = [line for line in whole.stdout.splitlines() if "EDITED" in line]
        assert len(said) == 1 and said[0].startswith(f"exec: EDITED: {copy} is not the copy `up` last wrote"), \
            whole.stdout
        report = clustergate(env, "status", str(topology), "--all-hosts", "--json", timeout=60)
        assert report.returncode == 1, report.stdout + report.stderr
        assert json.loads(report.stdout)["hosts"]["exec"]["exits"]["running_copy_edited"] is True
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_names_a_host_that_runs_another_configuration_than_file_gives_it(tmp_path: Path):
    """A host back with an older configuration (restored from a snapshot, or left on it by a deploy that could not
    reach it to roll it forward) runs, ready, what its own last `up` wrote: `status FILE --all-hosts` compared each
    program only with that, never with FILE, showed the host all ready and exited 0 while its gate ran another
    state refresh than FILE's. Read from the host's home, and on the host through --via (`env` stands in for ssh)."""
    import yaml

    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        before = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert before.returncode == 0 and "NOT FILE'S" not in before.stdout, before.stdout + before.stderr
        newer = yaml.safe_load(topology.read_text())
        newer["actors"]["gate"]["settings"]["state_refresh_ms"] = 100  # read by the gate alone
        second = tmp_path / "multihost-newer.yaml"
        second.write_text(yaml.safe_dump(newer, sort_keys=False))
        whole = clustergate(env, "status", str(second), "--all-hosts", timeout=60)
        assert whole.returncode == 1, whole.stdout + whole.stderr
        said = [line for line in whole.stdout.splitlines() if "NOT FILE'S" in line]
        assert len(said) == 1 and said[0].startswith("exec: NOT FILE'S: gate run(s) another configuration than"), \
            whole.stdout
        assert "`clustergate up FILE --host exec` applies FILE's" in said[0], said
        report = clustergate(env, "status", str(second), "--all-hosts", "--json", timeout=60)
        assert report.returncode == 1, report.stdout + report.stderr
        hosts = json.loads(report.stdout)["hosts"]
        as_file = {row["name"]: row.get("config_as_file") for host in hosts.values() for row in host["programs"]}
        assert as_file == {"gate": False, "permit_issuer": True, "book": True, "price_feed": True, "buffer": True,
                           "correlator": True, "clusterer": True, "state_writer": True, "redis": True}, as_file
        assert exec_rows_through_via(second, tmp_path / "base" / "hosts", "config_as_file") == {
            "gate": False, "permit_issuer": True, "book": True}
        up_exec_again_and_see_no(env, second, "NOT FILE'S")
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_takes_a_host_a_rollback_put_back_on_file_with_a_relative_ipc_path_for_one_on_files(
        tmp_path: Path):
    """A deploy's rollback puts a host back with `up` of the host's recorded running copy, in which `up` had moved
    each relative ipc:// path under the home's run/ipc/: the programs on that socket, reading the same socket as
    FILE gives them, hashed otherwise than FILE's, so `status FILE --all-hosts` named exec's gate and permit issuer
    NOT FILE'S (exit 1) on a healthy system. The rollback's command here as deploy runs it (launcher/deploy.py)."""
    data = side_by_side_data(tmp_path)
    data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"] = "ipc://permits.sock"
    data["actors"]["gate"]["sockets"]["permits"]["connect"] = "ipc://permits.sock"
    topology = write_topology(tmp_path, data)
    env = {**os.environ, "CLUSTERGATE_REDIS_PASSWORD": PASSWORD, "CLUSTERGATE_HOME": str(tmp_path / "base")}
    try:
        up_every_host(env, topology)
        before = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert before.returncode == 0 and "NOT FILE'S" not in before.stdout, before.stdout + before.stderr
        run = tmp_path / "base" / "hosts" / "exec" / "run"
        recorded = run / "deploy-d1-before.yaml"
        recorded.write_text((run / "topology.yaml").read_text())
        back = clustergate(env, "up", str(recorded), "--host", "exec", "--home", str(run.parent), "--timeout",
                           str(UP_TIMEOUT_S), "--replace")
        assert back.returncode == 0, back.stdout[-2000:] + back.stderr[-2000:]
        after = clustergate(env, "status", str(topology), "--all-hosts", timeout=60)
        assert after.returncode == 0 and "NOT FILE'S" not in after.stdout, after.stdout + after.stderr
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_names_a_program_a_host_runs_that_file_does_not_give_it(tmp_path: Path):
    """A host back with an older topology runs, ready, a program FILE removed (here exec's book): `status FILE
    --all-hosts` compared only FILE's programs, whose configurations were unchanged, and exited 0. Read from the
    host's home, and on the host through --via (`env` stands in for ssh)."""
    import yaml

    from launcher.hosts_status import ask_exits, collect_all_hosts
    from launcher.topology import load_topology

    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        newer = yaml.safe_load(topology.read_text())
        del newer["actors"]["book"]
        second = tmp_path / "multihost-newer.yaml"
        second.write_text(yaml.safe_dump(newer, sort_keys=False))
        whole = clustergate(env, "status", str(second), "--all-hosts", timeout=60)
        assert whole.returncode == 1, whole.stdout + whole.stderr
        said = [line for line in whole.stdout.splitlines() if "NOT FILE'S" in line]
        assert len(said) == 1 and said[0].startswith("exec: NOT FILE'S: book run(s) there, which"), whole.stdout
        report = json.loads(clustergate(env, "status", str(second), "--all-hosts", "--json", timeout=60).stdout)
        assert {host: info.get("not_in_file") for host, info in report["hosts"].items()} == {
            "store": [], "market": [], "exec": ["book"]}, report
        topo = load_topology(second)
        args = argparse.Namespace(via="env CG_HOST={host}", home_root=str(tmp_path / "base" / "hosts"))
        assert collect_all_hosts(topo, lambda host: ask_exits(args, topo, host))["exec"]["not_in_file"] == ["book"]
        up_exec_again_and_see_no(env, second, "NOT FILE'S")
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_says_to_upgrade_a_host_that_hashes_configurations_another_way_not_that_it_is_not_files(
        tmp_path: Path, monkeypatch, capsys):
    """lnfix: this machine's clustergate newer than a host's, its config hash given another input: `status FILE
    --all-hosts` named every program of that host NOT FILE'S, and `up FILE --host HOST` (the host's own clustergate)
    could not clear it. Each host says which hashing it uses; when it is not this machine's, status says so. The
    hosts' homes read on each host through --via (`env` stands in for ssh), this machine made newer in-process."""
    import launcher.supervise as supervise
    from launcher.hosts_status import cmd_status_all_hosts

    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        hosts_version = getattr(supervise, "CONFIG_HASH_VERSION", 1)
        hashed = supervise.actor_config_hash
        monkeypatch.setattr(supervise, "actor_config_hash", lambda *args, **kw: hashed(*args, **kw)[::-1])
        monkeypatch.setattr(supervise, "CONFIG_HASH_VERSION", hosts_version + 1, raising=False)
        monkeypatch.setenv("CLUSTERGATE_REDIS_PASSWORD", PASSWORD)
        args = argparse.Namespace(file=str(topology), all_hosts=True, home=None, host=None, json=False,
                                  via="env CG_HOST={host}", home_root=str(tmp_path / "base" / "hosts"))
        assert cmd_status_all_hosts(args) == 1
        out = capsys.readouterr().out
        assert "NOT FILE'S" not in out, out
        said = {line.partition(":")[0]: line for line in out.splitlines() if "hashing version differs" in line}
        assert set(said) == {"market", "exec"}, out
        assert said["exec"].startswith(
            f"exec: hashing version differs: upgrade exec (its clustergate hashes configurations as version "
            f"{hosts_version}, this one as version {hosts_version + 1}): whether "), said
        assert "book" in said["exec"] and "gate" in said["exec"] and "permit_issuer" in said["exec"], said
        args.json = True
        assert cmd_status_all_hosts(args) == 1
        hosts = json.loads(capsys.readouterr().out)["hosts"]
        assert hosts["exec"]["config_hash_version"] == hosts_version, hosts["exec"]
        assert {row["name"]: row.get("config_as_file") for row in hosts["exec"]["programs"]} == {
            "gate": None, "permit_issuer": None, "book": None}, hosts["exec"]["programs"]
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


def test_status_all_hosts_names_what_an_up_killed_part_way_left_stopped_on_a_host(tmp_path: Path):
    """lnrev3: `status --home` says STOPPED BY AN INTERRUPTED UP for the programs an `up` killed part-way left stopped
    (lnfix), `status FILE --all-hosts` showed the host's gate STOPPED with no word of why. The host's run/ holds the
    record as a killed `up` leaves it (its pid ended, the gate stopped since), read through --via (`env` for ssh)."""
    from launcher.supervise import Home, Supervisor
    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        home = Home(tmp_path / "base" / "hosts" / "exec")
        ended = subprocess.Popen(["true"])
        ended.wait()
        (home.run / "up-stopping.json").write_text(json.dumps({"proof": "up", "pid": ended.pid, "started": "1",
                                                               "programs": ["gate"], "at": time.time() + 1}))
        Supervisor(home).api.stopProcess("gate")
        whole = clustergate(env, "status", str(topology), "--all-hosts", "--via", "env CG_HOST={host}",
                            "--home-root", str(tmp_path / "base" / "hosts"), timeout=60)
        assert whole.returncode == 1, whole.stdout + whole.stderr
        said = [line for line in whole.stdout.splitlines() if "STOPPED BY AN INTERRUPTED UP" in line]
        assert said == [f"exec: STOPPED BY AN INTERRUPTED UP: gate stopped by `clustergate up` (pid {ended.pid}) to "
                        f"restart or remove them, which ended before it started them again (killed part-way: a deploy's "
                        f"command timeout, an OOM kill?): `clustergate up FILE --host exec` starts them"], whole.stdout
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)


HOSTILE_HOST = """import json, os, sys
host = sys.argv[1]
left = {"pid": 7, "programs": ["feed"], "command": "up", "failed": False}
print(json.dumps({"log_found": True, "log": "supervisord.log", "unexpected_exits": {}, "supervised": None,
                  "left_stopped_by_up": json.loads(os.environ["HOSTILE_SHAPE"]) if host == "exec" else left}))
"""


def test_status_all_hosts_reads_a_hosts_malformed_left_stopped_record_as_unreadable_not_a_traceback(tmp_path: Path):
    """recordfix: `status FILE --all-hosts` printed each host's left_stopped_by_up (its `status --exits --json`) as it
    came: one of another shape (a hostile host, another release: not a mapping, programs not a list, owners not a list
    of owners) ended the whole table in a traceback after the hosts before it, and names with escape sequences reached
    the terminal. That host's record is said unreadable, the other hosts' notes and lines are shown. Here every host's
    `status --exits --json` is a script's through --via (in place of ssh): exec's of the hostile shape."""
    topology, env = topology_and_env(tmp_path)
    script = tmp_path / "hostile_host.py"
    script.write_text(HOSTILE_HOST)
    good = "STOPPED BY AN INTERRUPTED UP: feed stopped by `clustergate up` (pid 7)"
    for shape, why in ((["gate"], "left_stopped_by_up is not a mapping"),
                       ({"pid": 1, "programs": 5}, "left_stopped_by_up's programs is not a list of names"),
                       ({"pid": "1", "programs": ["gate"]}, "left_stopped_by_up's pid is not an integer"),
                       ({"pid": 1, "programs": ["gate"], "owners": 3}, "left_stopped_by_up's owners is not a list"),
                       ({"pid": 1, "programs": ["gate"], "owners": ["x"]}, "its owner 1 is not a mapping"),
                       ({"pid": 1, "programs": ["gate"], "owners": [{"pid": 1}]},
                        "its owner 1's programs is not a list of names"),
                       ({"pid": 1, "programs": ["gate"], "command": ["up"]}, "left_stopped_by_up's command is not up "
                                                                              "or down, or its failed not true or false")):
        for as_json in (False, True):
            whole = clustergate({**env, "HOSTILE_SHAPE": json.dumps(shape)}, "status", str(topology), "--all-hosts",
                                "--via", f"{sys.executable} {script} {{host}}", "--home-root",
                                str(tmp_path / "base" / "hosts"), *(["--json"] if as_json else []), timeout=120)
            assert whole.returncode == 1 and "Traceback" not in whole.stderr, (shape, whole.stdout + whole.stderr)
            if as_json:
                hosts = json.loads(whole.stdout)["hosts"]
                assert hosts["exec"]["exits"]["left_stopped_by_up"] is None, hosts["exec"]
                assert hosts["exec"]["exits"]["left_stopped_by_up_error"] == why, hosts["exec"]
                assert hosts["market"]["exits"]["left_stopped_by_up"]["programs"] == ["feed"], hosts["market"]
                continue
            lines = whole.stdout.splitlines()
            assert [line for line in lines if line.startswith("exec: ")] == [
                f"exec: what an interrupted `up` left stopped not read: its `status --exits --json` gave a record of "
                f"another shape ({why}): `clustergate status --home HOME` on exec names it"], (shape, whole.stdout)
            for host in ("market", "store"):
                assert any(line.startswith(f"{host}: {good}") for line in lines), (shape, whole.stdout)
            assert any(line.startswith("not reached: ") for line in lines), whole.stdout  # the table's last line
    escaping = {"pid": 1, "programs": ["gate\x1b[2J"], "owners": [{"pid": 1, "programs": ["gate\x1b[2J"]}]}
    whole = clustergate({**env, "HOSTILE_SHAPE": json.dumps(escaping)}, "status", str(topology), "--all-hosts",
                        "--via", f"{sys.executable} {script} {{host}}", "--home-root", str(tmp_path / "base" / "hosts"),
                        timeout=120)
    assert "\x1b" not in whole.stdout and "exec: STOPPED BY AN INTERRUPTED UP: gate?[2J stopped by" in whole.stdout, \
        whole.stdout


HOSTILE_EXITS_HOST = """import json, os, sys
host = sys.argv[1]
said = {"log_found": True, "log": "supervisord.log", "unexpected_exits": {}, "supervised": None}
print(json.dumps({**said, **(json.loads(os.environ["HOSTILE_SAID"]) if host == "exec" else {})}))
"""


def test_status_all_hosts_reads_a_hosts_malformed_exits_as_unreadable_and_shows_what_hosts_say_printable(
        tmp_path: Path) -> None:
    """revrec: recordfix read a host's left_stopped_by_up of another shape as unreadable, but the rest of what a host's
    `status --exits --json` says went to the terminal as it came: an unexpected exit of another shape (not a mapping,
    no count, a last_at that is no time) ended the whole table in a traceback, and a host's error, log path, exit
    words, running copy or programs file with escape sequences reached the terminal. That host's exits are said
    unreadable (`unexpected exits not read`), the other hosts shown; every string a host says is shown printable."""
    topology, env = topology_and_env(tmp_path)
    script = tmp_path / "hostile_host.py"
    script.write_text(HOSTILE_EXITS_HOST)
    escape = "\x1b[2J\x1b]0;owned\x07"

    def status(said: dict) -> subprocess.CompletedProcess:
        return clustergate({**env, "HOSTILE_SAID": json.dumps(said)}, "status", str(topology), "--all-hosts", "--via",
                           f"{sys.executable} {script} {{host}}", "--home-root", str(tmp_path / "base" / "hosts"),
                           timeout=120)
    exit_ok = {"count": 2, "last_at": 1_700_000_000.0, "last_how": "exit status 1", "log": "gate.log", "window_s": 600.0}
    for bad in (5, {}, {**exit_ok, "last_at": "x"}, {**exit_ok, "last_at": 1e300}, {**exit_ok, "count": "2"}):
        whole = status({"unexpected_exits": {"gate": bad}})
        assert whole.returncode == 1 and "Traceback" not in whole.stderr, (bad, whole.stdout + whole.stderr)
        assert "unexpected exits not read: exec (`status --exits` through" in whole.stdout, (bad, whole.stdout)
        assert "gave an unexpected exit of gate of another shape" in whole.stdout, (bad, whole.stdout)
        assert any(line.startswith("store ") for line in whole.stdout.splitlines()), whole.stdout  # the rest shown
    for said in ({"unexpected_exits": {"gate": {**exit_ok, "last_how": "exit" + escape, "log": "gate.log" + escape}}},
                 {"error": "broken" + escape}, {"log_found": False, "log": "supervisord.log" + escape},
                 {"running_copy_edited": True, "running_copy": "topology.yaml" + escape},
                 {"config_applied": {"gate": False}, "programs_file": "clustergate.conf" + escape}):
        whole = status(said)
        assert "Traceback" not in whole.stderr, (said, whole.stderr)
        assert "\x1b" not in whole.stdout and "\x07" not in whole.stdout, (said, whole.stdout)
        assert "?[2J?]0;owned?" in whole.stdout, (said, whole.stdout)


REDIS_OF_TOPOLOGY = """
import sys
from launcher.redis_conn import connect
from launcher.topology import load_topology
r = connect(load_topology(sys.argv[1]).redis)
print(r.execute_command(*sys.argv[2:]))
"""


def test_a_deploy_whose_backfill_fails_after_every_host_proved_ready_exits_3_not_1_as_a_rolled_back_deploy(
        tmp_path: Path):
    """A deploy that rolled out and proved every host, whose last step (`backfill-permits`) then failed (here Redis
    refuses SCAN to the system's user), exited 1 like a deploy that failed and was rolled back: an operator's
    `deploy || rollback` took a good deploy for a failed one. It exits 3, its record's outcome `ok, backfill failed`,
    and nothing is rolled back (revbackfill)."""
    topology, env = topology_and_env(tmp_path)
    try:
        up_every_host(env, topology)
        refuse = subprocess.run([sys.executable, "-c", REDIS_OF_TOPOLOGY, str(topology), "ACL", "SETUSER", "default",
                                 "-scan"], capture_output=True, text=True, env=env, timeout=30)
        assert refuse.returncode == 0, refuse.stderr
        deploy = clustergate(env, "deploy", str(topology), "--home-root", str(tmp_path / "base" / "hosts"),
                             "--home", str(tmp_path / "ops"), "--up-timeout", str(UP_TIMEOUT_S),
                             timeout=20 * UP_TIMEOUT_S)
        said = deploy.stdout + deploy.stderr
        assert deploy.returncode == 3, said[-4000:]
        assert "FAILED: the backfill of permitted-plan markers on exec exited 1" in said, said[-4000:]
        assert "rollback" not in said and "deploy ok, backfill failed" in said, said[-4000:]
        history = clustergate(env, "deploy", "--history", "--json", "--home", str(tmp_path / "ops"), timeout=60)
        record = json.loads(history.stdout)[-1]
        assert record["outcome"] == "ok, backfill failed" and record["backfill"]["exit"] == 1, record
    finally:
        for host in SYSTEM_HOSTS:
            clustergate(env, "down", "--host", host, timeout=120)
