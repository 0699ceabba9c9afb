"""A stuck main loop reads as not ready: clustergate_actor_ready is computed when scraped, from the actor's own
verdict and the age of its main loop's last turn (the metrics thread kept answering "ready" for a gate whose
handler never returned, and it answered no proposal).

Real processes: the demo under a real supervisord, with a sitecustomize hook in the gate's process that makes its
timers hang while a trigger file exists; a real probe actor that nothing talks to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, demo_topology_data, free_port, retarget, scrape, wait_for, write_topology
from launcher.topology import LOOP_STALL_FLOOR_S, validate_data

# Run by every Python process started with it on PYTHONPATH (supervisord too): only the actor named in
# CG_HANG_ACTOR is touched. Its timers hang, never returning, while the file CG_HANG_FILE exists.
HANG_HOOK = '''
import os, sys
_argv = getattr(sys, "orig_argv", [])
_target = os.environ.get("CG_HANG_ACTOR")
if _target and "--name" in _argv and _argv.index("--name") + 1 < len(_argv) and _argv[_argv.index("--name") + 1] == _target:
    import time
    import actors.runtime as _runtime
    _trigger = os.environ["CG_HANG_FILE"]
    _run_due_timers = _runtime.Actor._run_due_timers

    def _hanging_timers(self):
        while os.path.exists(_trigger):  # a timer that does not return: a blocking call without a timeout
            time.sleep(0.05)
        _run_due_timers(self)

    _runtime.Actor._run_due_timers = _hanging_timers
'''

GATE_READY = 'clustergate_actor_ready{actor="gate",kind="gate"}'
GATE_AGE = 'clustergate_actor_loop_age_seconds{actor="gate",kind="gate"}'


def clustergate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=180, env=env)


# --------------------------------------------------------------------------- the rule, without processes


@pytest.mark.parametrize("ready, age_s, limit_s, exported", [
    (True, 0.0, 30.0, True),
    (True, 30.0, 30.0, True),  # at the limit: still a legitimate turn
    (True, 30.001, 30.0, False),
    (True, 1e6, 30.0, False),
    (False, 0.0, 30.0, False),
    (False, 1e6, 30.0, False),
])
def test_readiness_as_exported_is_the_actors_verdict_and_a_loop_that_turned_within_the_limit(ready, age_s, limit_s,
                                                                                             exported) -> None:
    from actors.runtime import loop_ready
    assert loop_ready(ready, age_s, limit_s) is exported


def _topology(**gate: object) -> dict:
    data = retarget(demo_topology_data())
    data["actors"]["gate"].update(gate)
    return data


def test_the_default_stall_limit_is_twice_the_longest_turn_the_settings_allow_and_at_least_the_floor() -> None:
    topo, problems = validate_data(_topology())
    assert not problems, problems
    assert topo.loop_stall_limit_s("buffer") == LOOP_STALL_FLOOR_S
    data = _topology(settings={"permit_timeout_ms": 60000})
    topo, problems = validate_data(data)
    assert not problems, problems
    # four batches a turn, each waiting 60 s for the issuer and re-opening its socket, after 8 Redis calls
    longest = topo.longest_turn_s("gate")
    assert longest == pytest.approx(8 * 0.25 + 4 * (60 + 1.0))
    assert topo.loop_stall_limit_s("gate") == pytest.approx(2 * longest)
    assert topo.loop_stall_limit_s("buffer") == LOOP_STALL_FLOOR_S


@pytest.mark.parametrize("limit, said", [
    (5, "loop_stall_limit_s: 5 s is shorter than the longest turn this actor's settings allow (8 s"),
    (0.5, "loop_stall_limit_s"),
    (1e6, "loop_stall_limit_s"),
])
def test_validate_refuses_a_stall_limit_shorter_than_a_legitimate_turn_or_absurd(tmp_path: Path, limit, said) -> None:
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=limit))
    result = clustergate("validate", str(path))
    said_all = result.stdout + result.stderr
    assert result.returncode == 2, said_all
    assert "actors.gate.loop_stall_limit_s" in said_all and said in said_all, said_all


def test_validate_takes_a_stall_limit_at_the_longest_turn(tmp_path: Path) -> None:
    path = write_topology(tmp_path / "t.yaml", _topology(loop_stall_limit_s=8))
    result = clustergate("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- real processes


def test_a_gate_whose_main_loop_hangs_reads_not_ready_status_names_it_and_it_reads_ready_again_when_it_turns(
        tmp_path: Path) -> None:
    limit_s = 8.0  # the demo gate's longest legitimate turn (validate refuses less)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HANG_HOOK)
    trigger = tmp_path / "hang-now"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hook), str(REPO)]), CG_HANG_ACTOR="gate",
               CG_HANG_FILE=str(trigger))
    data = retarget(demo_topology_data())
    data["actors"]["gate"]["loop_stall_limit_s"] = limit_s
    topo_path = write_topology(tmp_path / "demo.yaml", data)
    home = tmp_path / "home"
    port = data["actors"]["gate"]["metrics_port"]
    try:
        up = clustergate("up", str(topo_path), "--home", str(home), env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert scrape(port)[GATE_READY] == 1.0
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 30, "status 0 before the hang")

        trigger.touch()
        # Readiness falls within the limit and slack; the metrics thread goes on answering throughout.
        wait_for(lambda: scrape(port)[GATE_READY] == 0.0, limit_s + 10, "the hung gate exported not ready")
        assert scrape(port)[GATE_AGE] > limit_s
        status = clustergate("status", "--home", str(home))
        assert status.returncode == 1, status.stdout + status.stderr
        assert "NOT READY: gate: main loop stuck for" in status.stdout, status.stdout
        stuck = [line for line in status.stdout.splitlines() if "main loop stuck" in line]
        assert len(stuck) == 1, stuck  # no other actor is said stuck
        rows = {row["name"]: row for row in json.loads(
            clustergate("status", "--json", "--home", str(home)).stdout)["programs"]}
        assert rows["gate"]["ready"] is False and rows["gate"]["loop_age_s"] > limit_s, rows["gate"]
        assert rows["gate"]["not_ready_why"].startswith("main loop stuck for"), rows["gate"]
        assert rows["buffer"]["ready"] is True and rows["buffer"]["loop_age_s"] < limit_s, rows["buffer"]

        trigger.unlink()
        wait_for(lambda: scrape(port)[GATE_READY] == 1.0, 20, "the gate ready again once its loop turns")
        log = (home / "run" / "logs" / "gate.log")
        wait_for(lambda: "event=loop_stalled" in log.read_text(), 10, "the loop_stalled line in the gate's log")
        stalled = [line for line in log.read_text().splitlines() if "event=loop_stalled" in line]
        assert len(stalled) == 1, stalled  # once, when the loop came back
        stalled_s = float(stalled[0].split("stalled_s=")[1].split()[0])
        assert stalled_s > limit_s, stalled[0]
        wait_for(lambda: clustergate("status", "--home", str(home)).returncode == 0, 30, "status 0 after the hang")
    finally:
        if trigger.exists():
            trigger.unlink()
        clustergate("down", "--home", str(home))


IDLE_PROBE = '''
import sys
from actors.runtime import Actor, main

class Idle(Actor):
    kind = "permit_issuer"

    def setup(self):  # no timer; its socket gets no request: every turn ends on the poll's timeout
        self.on_request("requests", lambda frames: {"status": "ok"})
        self.set_ready(True)

main(Idle, sys.argv[1:])
'''


def test_an_idle_actor_with_no_timer_and_no_message_stays_ready_for_several_stall_limits(tmp_path: Path) -> None:
    limit_s = 2.0
    metrics = free_port()
    topo = {"name": "idle", "symbols": ["BTCUSDT"], "redis": {"url": "redis://127.0.0.1:1/0", "timeout_ms": 50},
            "actors": {"probe": {"kind": "permit_issuer", "metrics_port": metrics, "loop_stall_limit_s": limit_s,
                                 "sockets": {"requests": {"bind": f"tcp://127.0.0.1:{free_port()}"}}}}}
    topo_path = write_topology(tmp_path / "idle.yaml", topo)
    script = tmp_path / "idle.py"
    script.write_text(IDLE_PROBE)
    log = open(tmp_path / "idle.log", "wb")
    proc = subprocess.Popen([sys.executable, str(script), "--topology", str(topo_path), "--name", "probe"], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    ready = 'clustergate_actor_ready{actor="probe",kind="permit_issuer"}'
    age = 'clustergate_actor_loop_age_seconds{actor="probe",kind="permit_issuer"}'
    try:
        wait_for(lambda: scrape(metrics).get(ready) == 1.0, 15, "the idle probe ready")
        samples = []
        end = time.monotonic() + 4 * limit_s  # several limits with nothing to do: sampled, not timed
        while time.monotonic() < end:
            sample = scrape(metrics)
            samples.append((sample[ready], sample[age]))
            time.sleep(0.1)
        assert len(samples) > 10 and all(r == 1.0 for r, _ in samples), samples
        assert max(a for _, a in samples) < limit_s, samples
        assert scrape(metrics)['clustergate_actor_loop_stall_limit_seconds{actor="probe",kind="permit_issuer"}'] == limit_s
    finally:
        proc.kill()
        proc.wait()
        log.close()
    assert "loop_stalled" not in (tmp_path / "idle.log").read_text()


def test_status_reads_a_stuck_loop_from_the_age_past_the_limit_and_nothing_from_an_actor_that_exports_no_age() -> None:
    from launcher.overview import loop_liveness
    labels = '{actor="gate",kind="gate"}'
    sample = {f"clustergate_actor_ready{labels}": 0.0, f"clustergate_actor_loop_age_seconds{labels}": 42.4,
              f"clustergate_actor_loop_stall_limit_seconds{labels}": 30.0}
    assert loop_liveness(sample, "gate") == {"loop_age_s": 42.4,
                                             "not_ready_why": "main loop stuck for 42 s (stall limit 30 s)"}
    sample[f"clustergate_actor_loop_age_seconds{labels}"] = 0.05
    assert loop_liveness(sample, "gate") == {"loop_age_s": 0.05}
    assert loop_liveness({f"clustergate_actor_ready{labels}": 1.0}, "gate") == {"loop_age_s": None}  # an older actor
    assert loop_liveness(sample, "buffer") == {"loop_age_s": None}  # another actor's series are not its own


def test_the_longest_turn_counts_the_runtimes_own_batches_a_turn_and_re_bind_wait() -> None:
    """launcher/ may not import actors.runtime (tests/test_layering.py): the figures the stall limit is derived from
    are restated there, and must move with the runtime's."""
    from actors.runtime import BATCHES_PER_TURN, REBIND_WAIT_S
    from launcher.topology import GATE_ISSUER_WAITS_PER_TURN, SOCKET_REOPEN_S
    assert (GATE_ISSUER_WAITS_PER_TURN, SOCKET_REOPEN_S) == (BATCHES_PER_TURN, REBIND_WAIT_S)
