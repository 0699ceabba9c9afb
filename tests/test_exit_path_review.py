"""Exit-path review (rev-exitpath): what a desk reads in a reply while the permit issuer or Redis misbehaves, against
a real gate, permit issuer and redis-server."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Iterator

from launcher.client import GateClient
from helpers import wait_for
from test_gate_service import decision_of, new_plan, running_p26, settle, write_cluster_state

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
