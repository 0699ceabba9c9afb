"""Run inside a test host (tests/test_multihost.py): one proposal or one scrape, printed as JSON.

    python multihost_client.py propose TOPOLOGY KEY [ACTION]   -> the gate's reply, or {"status": "no_answer"}
    python multihost_client.py scrape HOST PORT               -> the metrics sample
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
    if argv[0] == "scrape":
        print(json.dumps(scrape(argv[1], int(argv[2]), timeout_s=2.0)))
        return 0
    print(f"unknown command {argv[0]!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
