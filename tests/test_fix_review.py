"""rev2b: a hostile second round on the rev-book fixes, each defect reproduced first against real processes
(redis-server, and the launcher's own commands)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers import demo_topology_data, retarget, write_topology
from test_ops_review import clustergate


def test_positions_list_lists_no_key_that_cannot_name_a_symbol_as_not_in_symbols(tmp_path: Path, redis_server) -> None:
    """rev2b: `positions list` took every key under the key_pattern's prefix for a symbol outside the allowlist: an
    execution layer's own keys beside its snapshots (quantum:position:snapshot:BTCUSDT:history, ...:index) were listed
    NOT IN SYMBOLS, each "a position the gates do not count", and with the valid key_pattern "quantum:{symbol}"
    clustergate's own keys (quantum:portfolio:cluster_state, quantum:stream:portfolio.gate, ...) too. A symbol is
    upper-case letters and digits (validate refuses any other): no other key is a position of one."""
    now = str(int(time.time()))
    client = redis_server.client()
    client.hset("quantum:position:snapshot:DOGEUSDT", mapping={"position_amt": "-50000", "mark_price": "0.4",
                                                               "ts_epoch": now})
    client.hset("quantum:position:snapshot:BTCUSDT:history", mapping={"position_amt": "1", "mark_price": "1",
                                                                      "ts_epoch": now})
    client.set("quantum:position:snapshot:index", "BTCUSDT,ETHUSDT")
    client.hset("quantum:portfolio:cluster_state", mapping={"K": "0.5"})
    client.xadd("quantum:stream:portfolio.gate", {"plan_id": "x"})
    for name, pattern in (("default", "quantum:position:snapshot:{symbol}"), ("short", "quantum:{symbol}")):
        data = retarget(demo_topology_data(), redis_server.url)
        data["actors"] = {k: v for k, v in data["actors"].items() if k in ("gate", "permit_issuer")}
        data["positions"]["key_pattern"] = pattern
        topo_path = write_topology(tmp_path / f"{name}.yaml", data)
        said = clustergate("positions", "list", "--json", "--topology", str(topo_path))
        assert said.returncode == 0, said.stdout + said.stderr
        others = sorted(r["symbol"] for r in json.loads(said.stdout) if not r["allowlisted"])
        assert others == (["DOGEUSDT"] if name == "default" else []), (pattern, others)
