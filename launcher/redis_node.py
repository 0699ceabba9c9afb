"""Start shim of a managed data server under Sentinel: ask the sentinels who the primary is, then become
redis-server as that primary or as its replica.

supervisord restarts a killed redis-server at once. Started from its config alone, a killed primary
would come back as a second primary, taking writes that are lost when Sentinel demotes it. So before
every start this shim asks the sentinels (`SENTINEL get-master-addr-by-name`):

- no sentinel answers within down-after + failover-timeout (they start beside it, or on other hosts):
  the topology's roles, the first server primary, the others its replicas. After a failover the
  sentinels' files name the current primary, so a `down` then `up` keeps it (the sentinels answer);
- they name another server: start as its replica (`--replicaof ADDR PORT`);
- they name this server and have heard from it (SENTINEL master's info-refresh is not 0): it was the
  running primary and was restarted before Sentinel replaced it. Wait (at most down-after +
  failover-timeout) for them to fail over, then start as the new primary's replica; if they name no
  other by then (no replica could be promoted), start as the primary again;
- they name this server but never heard from it (a first start, or sentinels restarted too): start as
  the primary at once.

The role is always given on the command line (`--replicaof no one` for the primary), so a replicaof
line Sentinel wrote into the config file (CONFIG REWRITE) never contradicts it. After the start,
Sentinel alone reconfigures the server. Usage (the launcher renders it):

    python redis_node.py --self ADDR:PORT --primary ADDR:PORT --master NAME --sentinel ADDR:PORT ...
        --timeout-ms N --wait-ms N --password-env VAR -- BINARY CONF
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher.parent_death import die_with_parent  # noqa: E402
from launcher.sentinel import parse_place, sentinel_answer  # noqa: E402


def choose(me: tuple[str, int], initial_primary: tuple[str, int], answer: tuple[str, int] | None) -> list[str]:
    """The role arguments for redis-server, given what the sentinels answer now (None: nobody answered)."""
    primary = initial_primary if answer is None else answer
    if primary == me:
        return ["--replicaof", "no", "one"]
    return ["--replicaof", primary[0], str(primary[1])]


def main(argv: list[str]) -> None:
    if "--" not in argv:
        sys.exit("usage: redis_node.py OPTIONS -- BINARY CONF")
    split = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--self", dest="me", required=True)
    p.add_argument("--primary", required=True)
    p.add_argument("--master", required=True)
    p.add_argument("--sentinel", action="append", default=[])
    p.add_argument("--timeout-ms", type=int, default=250)
    p.add_argument("--wait-ms", type=int, default=6000)
    p.add_argument("--password-env", default="CLUSTERGATE_REDIS_PASSWORD")
    args = p.parse_args(argv[:split])
    binary_and_conf = argv[split + 1:]
    die_with_parent()
    me = (parse_place(args.me).where, parse_place(args.me).port)
    initial = (parse_place(args.primary).where, parse_place(args.primary).port)
    sentinels = [(parse_place(s).where, parse_place(s).port) for s in args.sentinel]
    password = os.environ.get(args.password_env) or None
    timeout_s = args.timeout_ms / 1000.0
    # The sentinels start beside this server (or on other hosts): give them the same time as a failover
    # to answer before falling back to the topology's roles, which are only right on the first `up`.
    deadline = time.monotonic() + args.wait_ms / 1000.0
    said = sentinel_answer(sentinels, args.master, timeout_s=timeout_s, password=password)
    while said is None and time.monotonic() < deadline:
        time.sleep(0.1)
        said = sentinel_answer(sentinels, args.master, timeout_s=timeout_s, password=password)
    answer = said[0] if said else None
    if said and said == (me, True):
        # A sentinel knew this server as the running primary: this is a restart (killed, crashed). Let
        # Sentinel fail over rather than come back as a second primary beside the one it promotes.
        print(f"redis_node: the sentinels still name this server {args.me} primary; waiting up to "
              f"{args.wait_ms} ms for their failover before starting", flush=True)
        deadline = time.monotonic() + args.wait_ms / 1000.0
        while answer == me and time.monotonic() < deadline:
            time.sleep(0.1)
            now = sentinel_answer(sentinels, args.master, timeout_s=timeout_s, password=password)
            answer = now[0] if now else me
    role = choose(me, initial, answer)
    if role[1] == "no":
        role += ["--replica-priority", "100"]  # (a CONFIG REWRITE made while it was a fresh replica wrote 0)
    else:
        # Sentinel would promote a replica that never had a link (its master_link_down_since_seconds is
        # -1), losing what was written since: not a candidate until its sync is over.
        role += ["--replica-priority", "0"]
        promotable_after_sync(me, password, os.getpid())
    print(f"redis_node: sentinels answer {answer}; starting {args.me} with {' '.join(role)}", flush=True)
    os.execv(binary_and_conf[0], binary_and_conf + role)


def sync_over(info: dict) -> bool:
    """A replica's INFO replication: its link to the primary is up and no sync is in progress."""
    return info.get("master_link_status") == "up" and str(info.get("master_sync_in_progress", "1")) == "0"


def promotable_after_sync(me: tuple[str, int], password: str | None, server_pid: int) -> None:
    """Fork a watcher (detached: a grandchild, so redis-server never reaps it) that sets replica-priority
    100 on the server at `me` once its sync is over, then exits; it also exits when the server's
    process (this pid, after exec) is gone."""
    if os.fork():
        os.wait()  # the intermediate child exits at once
        return
    if os.fork():
        os._exit(0)
    try:  # (same process group: supervisord's stop takes it too)
        import redis
        client = redis.Redis(host=me[0], port=me[1], password=password, socket_timeout=1, socket_connect_timeout=1,
                             decode_responses=True)
        while os.path.exists(f"/proc/{server_pid}"):
            try:
                info = client.info("replication")
                if info.get("role") == "master":
                    break  # promoted by hand (Sentinel never promotes it at priority 0)
                if sync_over(info):
                    client.config_set("replica-priority", 100)
                    print(f"redis_node: {me[0]}:{me[1]} synced with its primary: replica-priority 100", flush=True)
                    break
            except redis.RedisError:
                pass
            time.sleep(0.1)
    finally:
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
