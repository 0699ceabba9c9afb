"""The HA harness's move of the Redis primary before the cluster-side host crash (tests/test_ha_host_faults.py,
last test): the crash must time the standby's takeover alone, so the primary may not live on the host of
the state writer that holds the lease, after the move and the lease read again. Root, namespaces."""

from __future__ import annotations

import os
import signal
import sys

from helpers import DEADLINE_SCALE, wait_for
from launcher.multihost_harness import HA_HOSTS, REPO, HASystem
from test_ha_host_faults import _cluster_side

TRIALS = 2


def _lease(ha: HASystem) -> tuple[str, str]:
    side = wait_for(lambda: (s := _cluster_side(ha))["lease"] and len(s["records"]) >= 3 and s, 60,
                    "a state writer holding the lease and writing")
    name = side["lease"].split(":")[0]
    return name, ha.data["actors"][name]["host"]


def _put_primary_on_the_lease_holders_host(ha: HASystem) -> str:
    """A forced failover to the lease holder's host, the standby writer SIGSTOPped through it so the lease
    stays: the primary and the lease share a market host (what the primary kills before the crash test may leave)."""
    for _ in range(5):
        name, host = _lease(ha)
        if ha.host_of(ha.wait_store_healthy(60 * DEADLINE_SCALE)["primary"]) == host:
            return host
        other = "state_writer_b" if name == "state_writer" else "state_writer"
        pid = ha.pids(ha.data["actors"][other]["host"])[other]
        os.kill(pid, signal.SIGSTOP)
        try:
            target = next(f"{ha.hosts[host].address}:{place.split(':')[1]}"
                          for place in ha.data["redis"]["sentinel"]["servers"] if place.split(":")[0] == host)
            ha.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "failover", str(ha.topology), "--to", target],
                                env=ha.env, cwd=str(REPO), timeout=60)
            wait_for(lambda: ha.store_healthy(ha.redis_state()), 60 * DEADLINE_SCALE, "the store healthy")
        finally:
            os.kill(pid, signal.SIGCONT)
    raise AssertionError("the primary and the lease never shared a host")


def test_moving_the_primary_to_store_keeps_it_off_the_host_of_the_lease_that_follows(test_hosts, tmp_path):
    """A failover off the lease holder's market host moved the primary to the other market host and the lease
    with it (4 of 4 trials with the earlier move_primary_off); store runs no state writer."""
    hosts = test_hosts([*HA_HOSTS, "ops"])
    ha = HASystem(hosts, tmp_path)
    try:
        ha.up_all()
        for _ in range(TRIALS):
            _put_primary_on_the_lease_holders_host(ha)
            ha.move_primary_to("store", 120 * DEADLINE_SCALE)
            _, host = _lease(ha)
            assert ha.host_of(ha.redis_state()["primary"]) != host, "the lease moved to the Redis primary's host"
    finally:
        ha.down_all()
