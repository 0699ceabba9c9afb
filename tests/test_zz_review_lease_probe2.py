"""Scratch probe (not committed): the last HA test's move_primary_off, from primary == lease host."""
import json, os, signal, sys, time
from helpers import wait_for
from launcher.multihost_harness import HA_HOSTS, HASystem
from test_ha_host_faults import _cluster_side


MODE = "to"


def lease_host(ha):
    side = wait_for(lambda: (s := _cluster_side(ha))["lease"] and len(s["records"]) >= 3 and s, 60, "lease")
    name = side["lease"].split(":")[0]
    return name, ha.data["actors"][name]["host"]


def test_probe(test_hosts, tmp_path):
    hosts = test_hosts([*HA_HOSTS, "ops"])
    ha = HASystem(hosts, tmp_path)
    try:
        ha.up_all()
        outcomes, t_end = [], time.monotonic() + 200
        while time.monotonic() < t_end and len(outcomes) < 3:
            name, L = lease_host(ha)
            state = ha.wait_store_healthy(60)
            if ha.host_of(state["primary"]) != L:
                other = "state_writer_b" if name == "state_writer" else "state_writer"
                pid = ha.pids(ha.data["actors"][other]["host"])[other]
                os.kill(pid, signal.SIGSTOP)
                try:
                    r = ha.hosts["ops"].run([sys.executable, "-m", "launcher.ha_load", "failover", str(ha.topology)],
                                            env=ha.env, cwd="/work/wt-review", timeout=60)
                    time.sleep(1.0)
                    st = ha.wait_store_healthy(60)
                finally:
                    os.kill(pid, signal.SIGCONT)
                print("setup: lease", L, "primary now", ha.host_of(st["primary"]), r.stdout.strip(), flush=True)
                continue
            ha.move_primary_to("store", 120) if MODE == "to" else ha.move_primary_off(L, 120)
            _, L2 = lease_host(ha)
            prim = ha.host_of(ha.redis_state()["primary"])
            outcomes.append({"lease_before": L, "lease_after": L2, "primary_after": prim, "assert_fails": prim == L2})
            print("MOVE", outcomes[-1], flush=True)
        print("\nOUTCOMES", json.dumps(outcomes))
    finally:
        ha.down_all()
