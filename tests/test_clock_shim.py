"""The stepped clock the cluster-side tests run actors on (tests/clock_shim.py), as a plain function."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest


def _shim(monkeypatch: pytest.MonkeyPatch, offset_file: Path):
    monkeypatch.setenv("CLUSTERGATE_TEST_CLOCK_FILE", str(offset_file))
    spec = importlib.util.spec_from_file_location("clock_shim_under_test", Path(__file__).with_name("clock_shim.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_write_caught_between_its_truncate_and_its_text_keeps_the_last_offset(monkeypatch, tmp_path) -> None:
    # CI (session 38): the test's write_text of the second step truncated the file; the buffer read it empty, took
    # offset 0 and saw its clock come back to real time for one read: a step forward the test never made, after which
    # it saved its history at the real clock's head, and test_a_second_backward_clock_step_... failed.
    offset_file = tmp_path / "clock_offset_s"
    offset_file.write_text("-3600")
    shim = _shim(monkeypatch, offset_file)
    assert shim._stepped_time() - time.time() == pytest.approx(-3600, abs=1)
    for torn in ("", "-36", "-"):  # truncated; cut short mid-write ("-36" is a number: it is read as one)
        offset_file.write_text(torn)
        shim._cached["read_mono"] = -1.0  # past the shim's 20 ms cache
        expected = -36 if torn == "-36" else -3600
        assert shim._stepped_time() - time.time() == pytest.approx(expected, abs=1), torn
        offset_file.write_text("-3600")
        shim._cached["read_mono"] = -1.0
        shim._stepped_time()
    offset_file.unlink()
    shim._cached["read_mono"] = -1.0
    assert shim._stepped_time() - time.time() == pytest.approx(-3600, abs=1)
