from __future__ import annotations

import signal
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


# The test files are handed out longest first, by the seconds each took in a measured `make test`
# (tests/file_seconds.txt, written by tests/file_seconds.py from the run's JUnit XML), so that no long file starts late
# and runs on alone while the other workers have nothing left; a file not in the table (new since) goes first, its
# length unknown. `make test` passes --no-loadscope-reorder so that xdist keeps this order: by default (pytest-xdist
# 3.6 and later) it hands out files by their number of tests alone, most first, and the long files with few tests went
# last. A table of the nine longest with the others by number of tests (5 Dec) had gone stale by 7 Dec: the two longest
# files then (test_cluster_side_attack.py 564 s, test_launcher.py 511 s) were not in it, and single-test files of 20-40
# s followed the many-test ones to the end.
FILE_SECONDS = Path(__file__).resolve().parent / "file_seconds.txt"


def measured_file_seconds() -> dict[str, float]:
    """{test file name: seconds} from tests/file_seconds.txt (`# ` lines are comments); {} without it."""
    try:
        lines = FILE_SECONDS.read_text().splitlines()
    except FileNotFoundError:
        return {}
    return {name: float(seconds) for name, seconds in (line.split() for line in lines if line and line[0] != "#")}


def pytest_collection_modifyitems(session, config, items) -> None:
    """The files, the longest first by tests/file_seconds.txt, those it does not name before them; a file's tests keep
    their order. The same order on every xdist worker, so the scheduler can match them."""
    seconds = measured_file_seconds()
    items.sort(key=lambda item: -seconds.get(item.path.name, float("inf")))


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture(autouse=True)
def stop_signal_handlers_as_the_worker_had_them():
    """Each test starts with this process's stop-signal handlers as they were before it. A test that runs `clustergate`
    in this process (launcher.cli.main) leaves SIGINT at SIG_DFL, as the command does once it has answered; the next
    test in the same xdist worker then ran with a SIGINT that ends the process: the in-process client test that sends
    itself a SIGINT killed its pytest worker whenever such a test had run there before it (reproduced with the two
    alone, one worker)."""
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    yield
    for signum, handler in before.items():
        if handler is not None and signal.getsignal(signum) is not handler:
            signal.signal(signum, handler)


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
