"""`up`'s port locks (launcher/supervise.py claim_endpoints) are per network namespace: two hosts of a
multi-host topology tried on one machine, each in its own namespace, bind the same port numbers
without clashing, so two `up`s starting at the same moment in two namespaces must not refuse each
other (they did: the lock was keyed by port number alone)."""

from __future__ import annotations

import fcntl
import hashlib
import sys

from helpers import REPO
from launcher.supervise import _claims_dir, _held_key

HOLD = """
import fcntl, hashlib, sys
from launcher.supervise import _claims_dir, _held_key
key = hashlib.sha256(_held_key("tcp://127.0.0.1:{port}").encode()).hexdigest()[:24]
lock = open(_claims_dir() / f"{{key}}.lock", "a+")
fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_port_lock_held_in_another_network_namespace_does_not_block_an_up_here(test_hosts) -> None:
    hosts = test_hosts(["a"])
    port = 45199
    holder = hosts["a"].popen([sys.executable, "-c", HOLD.format(port=port)], cwd=REPO, stdin=-1, stdout=-1, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        key = hashlib.sha256(_held_key(f"tcp://127.0.0.1:{port}").encode()).hexdigest()[:24]
        with open(_claims_dir() / f"{key}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError when keyed by port alone
            fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_the_same_port_in_the_same_namespace_is_one_lock() -> None:
    assert _held_key("tcp://127.0.0.1:5551") == _held_key("tcp://0.0.0.0:5551")
    assert _held_key("tcp://127.0.0.1:5551") != _held_key("tcp://127.0.0.1:5552")
