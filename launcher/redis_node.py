"""Start shim of a managed data server under Sentinel: ask the sentinels who the primary is, then become
redis-server as that primary or as its replica.

supervisord restarts a killed redis-server at once. Started from its config alone, a killed primary
would come back as a second primary, taking writes that are lost when Sentinel demotes it. So before
every start this shim asks the sentinels (`SENTINEL get-master-addr-by-name`):

- no sentinel answers (they start beside it, each waiting for the primary its file names): the
  primary the files of this host's sentinels name (highest config-epoch; Sentinel rewrites them at
  each failover), so a `down` then `up` keeps the promoted primary; with no sentinel on this host,
  wait up to down-after + failover-timeout for the others to answer, then the topology's roles (the
  first server primary, the others its replicas: right on a first `up`);
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
from launcher.sentinel import answers_ping, parse_place, primary_in_files, same_address, sentinel_answer  # noqa: E402


def choose(me: tuple[str, int], initial_primary: tuple[str, int], answer: tuple[str, int] | None) -> list[str]:
    """The role arguments for redis-server, given what the sentinels answer now (None: nobody answered). `me` as the
    topology spells it, the answer as Sentinel does: compared as addresses (a primary named ::1 while the topology
    says [0:0:0:0:0:0:0:1] started as a replica of itself)."""
    primary = initial_primary if answer is None else answer
    if same_address(primary, me):
        return ["--replicaof", "no", "one"]
    return ["--replicaof", primary[0], str(primary[1])]


def sentinel_main(argv: list[str]) -> None:
    """`--sentinel-start --master NAME --wait-ms N --password-env VAR -- BINARY CONF --sentinel`: wait
    (at most N ms) until the primary CONF names answers PING, then become the sentinel. A sentinel that
    starts before its primary (after `down`, every program starts at once) would count the primary's
    start-up as down time, and past down-after fail it over for nothing."""
    split = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--sentinel-start", action="store_true")
    p.add_argument("--master", required=True)
    p.add_argument("--wait-ms", type=int, default=6000)
    p.add_argument("--timeout-ms", type=int, default=250)
    p.add_argument("--password-env", default="CLUSTERGATE_REDIS_PASSWORD")
    args = p.parse_args(argv[:split])
    binary_and_args = argv[split + 1:]
    die_with_parent()
    password = os.environ.get(args.password_env) or None
    primary = primary_in_files([binary_and_args[1]], args.master)
    deadline = time.monotonic() + args.wait_ms / 1000.0
    while primary and not answers_ping(primary, args.timeout_ms / 1000.0, password) and time.monotonic() < deadline:
        time.sleep(0.1)
    print(f"redis_node: starting the sentinel (its primary {primary} "
          f"{'answers' if primary and answers_ping(primary, args.timeout_ms / 1000.0, password) else 'does not answer yet'})",
          flush=True)
    os.execv(binary_and_args[0], binary_and_args)


def main(argv: list[str]) -> None:
    if "--sentinel-start" in argv[: argv.index("--") if "--" in argv else len(argv)]:
        return sentinel_main(argv)
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
    p.add_argument("--sentinel-conf", action="append", default=[], help="a config file of a sentinel of this host")
    args = p.parse_args(argv[:split])
    binary_and_conf = argv[split + 1:]
    die_with_parent()
    me = (parse_place(args.me).where, parse_place(args.me).port)
    initial = (parse_place(args.primary).where, parse_place(args.primary).port)
    sentinels = [(parse_place(s).where, parse_place(s).port) for s in args.sentinel]
    password = os.environ.get(args.password_env) or None
    timeout_s = args.timeout_ms / 1000.0
    # No sentinel answers: they start beside this server (after `down`, or the first `up`), and wait for
    # the primary their files name (launcher/redis_node.py --sentinel). The files of this host's
    # sentinels name it (highest epoch); with none here (its sentinels run on other hosts) wait for
    # those to answer, as long as a failover takes, before the topology's roles (right on a first `up`).
    deadline = time.monotonic() + args.wait_ms / 1000.0
    said = sentinel_answer(sentinels, args.master, timeout_s=timeout_s, password=password)
    if said is None and args.sentinel_conf:
        named = primary_in_files(args.sentinel_conf, args.master)
        said = (named, False) if named else None
    while said is None and time.monotonic() < deadline:
        time.sleep(0.1)
        said = sentinel_answer(sentinels, args.master, timeout_s=timeout_s, password=password)
    answer = said[0] if said else None
    if said and said[1] and same_address(said[0], me):
        # A sentinel knew this server as the running primary: this is a restart (killed, crashed). Let
        # Sentinel fail over rather than come back as a second primary beside the one it promotes.
        print(f"redis_node: the sentinels still name this server {args.me} primary; waiting up to "
              f"{args.wait_ms} ms for their failover before starting", flush=True)
        deadline = time.monotonic() + args.wait_ms / 1000.0
        while answer is not None and same_address(answer, me) and time.monotonic() < deadline:
            time.sleep(0.1)
            now = sentinel_answer(sentinels, args.master, timeout_s=timeout_s, password=password)
            answer = now[0] if now else me
    role = choose(me, initial, answer)
    print(f"redis_node: sentinels answer {answer}; starting {args.me} with {' '.join(role)}", flush=True)
    os.execv(binary_and_conf[0], binary_and_conf + role)


if __name__ == "__main__":
    main(sys.argv[1:])
