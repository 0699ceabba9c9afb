"""Run inside a test host (tests/test_multihost.py, bench/bench_multihost.py): one proposal or one scrape, printed as JSON.

    python multihost_client.py propose TOPOLOGY KEY [ACTION]   -> the gate's reply, or {"status": "no_answer"}
    python multihost_client.py scrape HOST PORT               -> the metrics sample
    python multihost_client.py probe TOPOLOGY KEY INTERVAL_S MAX_S -> one JSON line per HOLD proposal
        ({"t": unix time, "status", "k_source", "gate_reason"}) until MAX_S or stdin closes (bench)
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher.client import GateClient, GateUnavailable  # noqa: E402
from launcher.supervise import scrape  # noqa: E402


def main(argv: list[str]) -> int:
    if argv[0] == "propose":
        topology, key = argv[1], argv[2]
        action = argv[3] if len(argv) > 3 else "HOLD"
        client = GateClient.from_topology(topology, client_key=key, timeout_ms=1000, retries=0)
        try:
            reply = client.propose("BTCUSDT", action, plan_id=f"multihost-test-{uuid.uuid4().hex[:12]}")
        except GateUnavailable:
            reply = {"status": "no_answer"}
        finally:
            client.close()
        print(json.dumps(reply))
        return 0
    if argv[0] == "probe":
        import select
        import time
        topology, key, interval_s, max_s = argv[1], argv[2], float(argv[3]), float(argv[4])
        client = GateClient.from_topology(topology, client_key=key, timeout_ms=500, retries=0)
        end = time.monotonic() + max_s
        try:
            while time.monotonic() < end:
                sent = time.time()
                try:
                    reply = client.propose("BTCUSDT", "HOLD", plan_id=f"multihost-probe-{uuid.uuid4().hex[:12]}")
                except GateUnavailable:
                    reply = {"status": "no_answer"}
                decision = reply.get("decision", {})
                print(json.dumps({"t": sent, "status": reply.get("status"), "k_source": decision.get("k_source"),
                                  "gate_reason": decision.get("gate_reason")}), flush=True)
                if select.select([sys.stdin], [], [], interval_s)[0] and not sys.stdin.readline():
                    break  # the bench closed our stdin: stop
        finally:
            client.close()
        return 0
    if argv[0] == "scrape":
        print(json.dumps(scrape(argv[1], int(argv[2]), timeout_s=2.0)))
        return 0
    print(f"unknown command {argv[0]!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
