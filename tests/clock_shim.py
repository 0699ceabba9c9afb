"""Run an actor module with a wall clock the test can step (no libfaketime here): time.time() returns
the real time plus the offset in seconds written in the file named by CLUSTERGATE_TEST_CLOCK_FILE.

Usage: python tests/clock_shim.py actors.buffer --topology FILE --name NAME
"""

from __future__ import annotations

import os
import runpy
import sys
import time

_real_time = time.time
_offset_file = os.environ["CLUSTERGATE_TEST_CLOCK_FILE"]
_cached = {"offset_s": 0.0, "read_mono": -1.0}


def _stepped_time() -> float:
    mono = time.monotonic()
    if mono - _cached["read_mono"] > 0.02:
        # A test's write_text truncates the file before it writes: read in between, it is empty (or cut short), and
        # the last offset holds. Taken as 0, the clock came back to real time for one read, a step forward and back
        # the test never made (CI, session 38: a buffer held back 3600 s saved its history at the real clock's head).
        try:
            with open(_offset_file) as fh:
                text = fh.read().strip()
            if text:
                _cached["offset_s"] = float(text)
        except (OSError, ValueError):
            pass
        _cached["read_mono"] = mono
    return _real_time() + _cached["offset_s"]


if __name__ == "__main__":
    time.time = _stepped_time
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    sys.path.insert(0, os.getcwd())
    runpy.run_module(module, run_name="__main__", alter_sys=True)
