from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import RedisServer  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config) -> None:
    """A short temp root: supervisord's socket (HOME/run/supervisor.sock, bound under a longer
    temporary name) must fit in AF_UNIX's 108 bytes, and pytest's default root
    (/tmp/pytest-of-USER/pytest-N) plus the per-worker part (popen-gwN) plus a test's name left too
    little room for a home. Only the controller picks it (xdist workers get ROOT/popen-gwN)."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        import tempfile
        config.option.basetemp = tempfile.mkdtemp(prefix="cg-")
        config._clustergate_basetemp = config.option.basetemp


def pytest_sessionfinish(session, exitstatus) -> None:
    """Remove the short temp root after a run that passed (a failed run keeps it for its logs), and after a collection
    alone (`make rewritten-tests`), which ran nothing that logs."""
    root = getattr(session.config, "_clustergate_basetemp", None)
    if root and (exitstatus == 0 or session.config.option.collectonly):
        import shutil
        shutil.rmtree(root, ignore_errors=True)


# The longest test files, handed out first; after them every other file, most tests first (xdist's own order).
# `make test` passes --no-loadscope-reorder so that xdist keeps this order: by default (pytest-xdist 3.6 and later)
# it hands out files by their number of tests alone, most first, so the long files with few tests went last:
# test_ha_host_faults.py (6 tests) was the 62nd of 89 files, and the single-test files of 28-50 s each (Sentinel
# across hosts, crashes, planned failover, the Redis outage, the Sentinel load) the very last ones, and ran on
# while the other workers had nothing left. Seconds each, two files at a time (-n 2), 2-core machine, 5 Dec 2026.
LONGEST_FIRST = (
    "test_ha_host_faults.py",              # 247 (in CI, loaded: its two longest tests 151 s)
    "test_multihost_side_by_side.py",      # 179
    "test_backtest_parity.py",             # 60 (-n 1, with the live-states-after-the-last-tick test)
    "test_sentinel_multihost.py",          # 50
    "test_reliability_crashes.py",         # 40
    "test_sentinel_planned_failover.py",   # 35
    "test_reliability_redis_outage.py",    # 32
    "test_sentinel_load.py",               # 28
    "test_reliability_overload.py",        # 15
)


def pytest_collection_modifyitems(session, config, items) -> None:
    """The files of LONGEST_FIRST first, in that order, then the others by their number of tests, most first; a
    file's tests keep their order. The same order on every xdist worker, so the scheduler can match them."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    tests_in: dict[str, int] = {}
    for item in items:
        tests_in[item.path.name] = tests_in.get(item.path.name, 0) + 1
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -tests_in[item.path.name]))


@pytest.fixture
def redis_server(tmp_path: Path):
    """A real redis-server on a free port in a temp dir; stopped after the test."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live(tmp_path: Path):
    """The demo topology up under a real supervisord in its own home (tests/reliability.py)."""
    from reliability import LiveSystem

    system = LiveSystem(tmp_path)
    try:
        yield system.up()
    finally:
        system.down()  # also when `up` failed: it may have left supervisord running


def _test_hosts_factory():
    """The body of both test-hosts fixtures: skip naming what is missing (fail under CI), yield a
    factory of netns.TestHosts, and close every set it made, newest first."""
    import os

    from launcher import netns

    reason = netns.unavailable_reason()
    if reason is not None:
        message = f"network-namespace test hosts unavailable: {reason}"
        if netns.requires_netns(os.environ):
            pytest.fail(message + " (required here: CLUSTERGATE_REQUIRE_NETNS=1 or CI=true)", pytrace=False)
        pytest.skip(message)
    made: list = []

    def make(names):
        hosts = netns.TestHosts(names).__enter__()
        made.append(hosts)
        return hosts

    try:
        yield make
    finally:
        errors = []
        for hosts in reversed(made):
            try:
                hosts.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def test_hosts():
    """Factory of network-namespace test hosts (launcher/netns.py): `hosts = test_hosts(["a", "b"])`.

    Every TestHosts made is removed at teardown. Where namespaces cannot be made the test skips
    naming what is missing; under CI (CLUSTERGATE_REQUIRE_NETNS=1 or CI=true) it fails instead.
    """
    yield from _test_hosts_factory()


@pytest.fixture(scope="module")
def module_test_hosts():
    """test_hosts for a whole module: one set of hosts (and the system on them) shared by its tests,
    so a multi-host system is brought up once. Same skip/fail rules and the same cleanup."""
    yield from _test_hosts_factory()
