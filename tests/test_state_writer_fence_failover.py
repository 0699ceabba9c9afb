"""A Redis failover that lost the last increment of the fence counter (revfence): a real primary redis-server and a
real replica, the state writers' own lease script and state write. The replica is stopped and its link killed, so it
misses writer A's taking of the free lease (INCR to token T) and A's state; the primary dies, the replica is promoted
(REPLICAOF NO ONE) with the counter at T - 1 and no lease, and writer B takes the lease there: INCR hands it T again,
A's own token. The counter cannot tell A from B, so the write also checks the lease key: it must be A's own (or
lapsed, with A's token the newest). Before, A's next state passed the fence after B's and the stream carried token T
from two writers."""

from __future__ import annotations

import pytest

from actors import keys
from actors.state_writer import ACQUIRE_LEASE, Fenced, write_state
from helpers import RedisServer, scrape, wait_for
from launcher.replica_harness import ReplicaServer
from test_ha_standby import WRITERS, fenced_count, holder, records, state, two_writers


def acquire(client, holder: str) -> int:
    """The state writer's lease script, as lease_tick calls it for a writer with no standby state yet."""
    token, _, _ = client.register_script(ACQUIRE_LEASE)(
        keys=[keys.STATE_WRITER_LEASE, keys.STATE_WRITER_FENCE, keys.CLUSTER_STATE],
        args=[holder, 45_000, "", 3_000, 500])
    return int(token)


@pytest.fixture
def failover_that_lost_a_lease(tmp_path):
    """(new primary's client, A's token, A's lease value): A took the free lease on the old primary, which died before
    its replica got it; the replica is the new primary."""
    primary = RedisServer(tmp_path / "primary").start()
    replica = None
    try:
        replica = ReplicaServer(tmp_path / "replica", primary).start()
        old = primary.client()
        acquire(old, "earlier")
        old.delete(keys.STATE_WRITER_LEASE)  # the earlier holder gave it up
        counter = old.get(keys.STATE_WRITER_FENCE)
        wait_for(lambda: replica.client().get(keys.STATE_WRITER_FENCE) == counter
                 and not replica.client().exists(keys.STATE_WRITER_LEASE), 10, "the replica in sync")
        replica.pause()  # stopped, and its link killed: it cannot read or reconnect until resumed
        old.client_kill_filter(_type="replica")
        token_a = acquire(old, "A")
        write_state(old, state(1), set(), 1000, fence=token_a, lease_value=f"A/{token_a}")
        primary.kill()
        replica.resume()
        new = replica.client()
        new.execute_command("REPLICAOF", "NO", "ONE")
        assert new.get(keys.STATE_WRITER_FENCE) == counter and not new.exists(keys.CLUSTER_STATE)
        yield new, token_a, f"A/{token_a}"
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()


def test_a_token_handed_out_again_after_a_failover_does_not_let_the_old_holder_write_over_the_new_one(
        failover_that_lost_a_lease):
    new, token_a, lease_a = failover_that_lost_a_lease
    token_b = acquire(new, "B")
    assert token_b == token_a  # the counter went back: the same token, another writer
    write_state(new, state(2), set(), 1000, fence=token_b, lease_value=f"B/{token_b}")
    with pytest.raises(Fenced, match="B/"):
        write_state(new, state(3), set(), 1000, fence=token_a, lease_value=lease_a)
    assert [f["cluster_stress"] for _, f in new.xrange(keys.CLUSTER_STATE_STREAM)] == [str(2 / 1e6)]
    assert new.hget(keys.CLUSTER_STATE, "cluster_stress") == str(2 / 1e6)


def test_the_old_holder_whose_lease_went_with_the_failover_is_fenced_before_any_writer_took_it(
        failover_that_lost_a_lease):
    new, token_a, lease_a = failover_that_lost_a_lease
    with pytest.raises(Fenced):
        write_state(new, state(3), set(), 1000, fence=token_a, lease_value=lease_a)
    assert new.xlen(keys.CLUSTER_STATE_STREAM) == 0


def test_a_running_holder_whose_token_a_failover_gave_another_writer_is_fenced_at_its_next_write(tmp_path):
    """Two real state writers: the holder's next state write is held in flight (its relay keeps the MULTI ... EXEC)
    while the lease key is given what the failover above leaves on the new primary once the other writer took the
    lease there: the other writer's value with the holder's own token, the counter unchanged. The holder's write is
    refused (counted fenced) and it stands by (lease_held 0); no record with that token follows. Before, it landed,
    and the stream carried the token for two writers."""
    with two_writers(tmp_path, relayed=True) as system:
        r = system["redis"]
        active = wait_for(lambda: holder(system), 20, "one state writer to hold the lease")
        wait_for(lambda: len(records(r)) >= 2, 10, "two cluster state records")
        token = int(r.get(keys.STATE_WRITER_FENCE))
        other = next(name for name in WRITERS if name != active)
        handed: dict[str, str] = {}

        def the_other_writer_holds_the_same_token() -> None:
            r.set(keys.STATE_WRITER_LEASE, f"{other}:0:failover/{token}", px=3_000)
            handed["after"] = r.xrevrange(keys.CLUSTER_STATE_STREAM, count=1)[0][0]

        relay = system["relays"][active]
        relay.hold_next_transaction(the_other_writer_holds_the_same_token)
        wait_for(relay.holding.is_set, 10, f"{active}'s next state write held in flight")
        relay.release()
        wait_for(relay.answered.is_set, 10, "Redis's answer to the held write")
        landed = lambda: [i for i, f in r.xrange(keys.CLUSTER_STATE_STREAM, f"({handed['after']}")  # noqa: E731
                          if int(f["fence_token"]) == token]
        wait_for(lambda: fenced_count(system, active) >= 1 or landed(), 10,
                 f"the held write refused or landed\n{system['procs'][active].log()[-3000:]}")
        metrics = scrape(system["data"]["actors"][active]["metrics_port"])
        assert not landed() and fenced_count(system, active) == 1
        assert metrics["p27_state_writer_lease_held"] == 0
        assert "event=state_not_written_fenced" in system["procs"][active].log()
