"""A Redis URL naming a user and no password (the user `nopass`): every client of a topology must talk to Redis as
that user. Found by the second idempotency review (idem2), attacking an ACL user: with `redis://cg@...` the
redis-py actors (state writer, book, buffer) connected as cg, but the gate's and the permit issuer's RespClient sent
no AUTH without a password and ran as `default` (CLIENT LIST: eval and pttl by default; hset, hmget, set by cg), so
an ACL on cg did not hold for them, and with `default` off they could not work at all."""

from __future__ import annotations

from launcher.resp import RespClient
from helpers import scrape
from test_gate_service import P26, decision_of, new_plan, write_book


def test_a_redis_url_user_without_a_password_is_the_user_of_the_gate_and_the_permit_issuer(tmp_path, redis_server):
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "cg", "on", "nopass", "~*", "&*", "+@all")
    assert RespClient(port=redis_server.port, username="cg", timeout_s=2.0).call("ACL", "WHOAMI") == "cg"
    write_book(admin)
    admin.execute_command("ACL", "SETUSER", "default", "off")  # a client that sends no AUTH is refused (NOAUTH)
    admin.connection_pool.disconnect()  # (this test's own connection, made as default before)
    cg = RespClient(port=redis_server.port, username="cg", timeout_s=2.0)
    p26 = P26(tmp_path / "p26", f"redis://cg@127.0.0.1:{redis_server.port}/0")
    try:
        p26.start()  # waits for the permit issuer ready: Redis took its writes, as cg
        decided = decision_of(p26.client.propose("ETHUSDT", "PARTIAL_50", plan_id=new_plan()))
        assert decided["recorded"] and decided["permit"], decided
        users = {line.split(" user=")[1].split(" ")[0] for line in cg.call("CLIENT", "LIST").splitlines()}
        assert users == {"cg"}, cg.call("CLIENT", "LIST")
        assert scrape(p26.gate_metrics_port)['clustergate_actor_ready{actor="gate",kind="gate"}'] == 1.0
    finally:
        p26.stop()
        cg.call("ACL", "SETUSER", "default", "on")
