"""Exit-path review (rev-exitpath): what a desk reads in a reply while the permit issuer or Redis misbehaves, against
a real gate, permit issuer and redis-server."""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import contextmanager
from typing import Iterator

import zmq

from launcher.client import GateClient
from helpers import DEADLINE_SCALE, wait_for
from test_gate_deadlines import host_stepped_p26, nothing_written, step_clock_library  # noqa: F401 (fixtures)
from test_gate_service import decision_of, issuer_item, new_plan, running_p26, settle, write_cluster_state

# A decision's portfolio metrics and where K and sigma came from: what a fault HOLD has none of (each field there, null).
METRIC_FIELDS = ("stress", "heat", "concentration", "corr_proxy", "K", "k_source", "sigma_source")


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process SIGSTOPped for the block, then resumed, whatever happens in it."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_fault_hold_reports_no_metrics_and_no_k_source_it_never_decided_on(tmp_path, redis_server):
    """A fault HOLD (recorded false) is no decision on the portfolio: its metrics are null, as docs/proposal-api.md
    says of a metric that cannot be computed. They were 0.0 with `k_source: "proxy"`: with K from a fresh cluster
    state (p26_cluster_stress_used 1, no fallback counted) a desk, a dashboard or the fallback proof read a cold book
    whose K came from the proxy."""
    # A cluster state fresh for the whole test, however slow the machine: K comes from the cluster throughout.
    with running_p26(tmp_path, redis_server, gate_settings={"freshness_s": 600}) as p26:
        settle(p26, write_cluster_state(p26.redis, 0.7))
        d = decision_of(p26.client.propose("SOLUSDT", "HOLD", plan_id=new_plan()))
        assert d["recorded"] and d["k_source"] == "cluster", d
        with GateClient(p26.endpoint, timeout_ms=3000, retries=0) as client:
            with stopped(p26.issuer.proc.pid):  # the issuer does not answer: HOLD permit_unavailable
                unanswered = decision_of(client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
            assert (unanswered["gate_reason"], unanswered["recorded"]) == ("permit_unavailable", False), unanswered
            assert p26.metrics()["p26_cluster_stress_used"] == 1.0  # the gate's own K came from the cluster
            with stopped(redis_server.proc.pid):  # the state read times out: HOLD redis_unavailable

                def state_unread() -> dict:
                    d = decision_of(client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
                    return d if d["gate_reason"] == "redis_unavailable" else {}
                unread = wait_for(state_unread, 10, "a HOLD redis_unavailable while Redis is stopped")
        for fault in (unanswered, unread):
            assert {f: fault.get(f, "absent") for f in METRIC_FIELDS} == dict.fromkeys(METRIC_FIELDS), fault
            assert (fault["final_action"], fault["permit"]) == ("HOLD", False), fault


def test_a_host_clock_stepped_back_while_redis_holds_the_script_lets_no_write_land_after_its_deadline(
        host_stepped_p26):
    """The script compares Redis's wall clock with the deadline; stepped back (an NTP step of the host that runs
    gate, issuer and Redis, as production.yaml does) while a stalled Redis held the script, that clock put the
    deadline seconds late: with the host stepped back 3 s, 0.2 s into a 0.8 s stall, the decision and its permit
    were written 0.5 s after the gate's deadline, after the gate had answered its client "outcome unknown". The
    issuer now also gives the script the earliest its Redis's clock can read when the script is sent: a clock
    found before that went back while the script waited (by more than the wait), and nothing is written."""
    system, r = host_stepped_p26, host_stepped_p26.redis
    plan = new_plan()
    deadline = time.time() + 0.3  # the gate's, set before the step
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(system.data["actors"]["permit_issuer"]["sockets"]["requests"]["bind"])
    try:
        with stopped(int(r.info("server")["process_id"])):
            sock.send(json.dumps({**issuer_item(plan, "ETHUSDT", "PARTIAL_50"), "deadline_epoch": deadline}).encode())
            time.sleep(0.2)  # the issuer has read the request and sent the script: it waits for Redis
            system.step_file.write_text("-3.0")  # the host's wall clock (Redis's too) steps back 3 s
            time.sleep(0.6)  # the stall outlasts the deadline
        assert sock.poll(10_000 * DEADLINE_SCALE), "the permit issuer did not answer"
        reply = json.loads(sock.recv())
    finally:
        sock.close(linger=0)
    assert (reply["status"], reply.get("reason")) == ("error", "expired"), reply
    assert nothing_written(r, plan)
