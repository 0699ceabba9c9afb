"""Loaded by a test's actor processes (PYTHONPATH): their wall clock runs CLUSTERGATE_TEST_CLOCK_OFFSET_S
seconds off the real one, as a gate host's clock can be off the clock of an external Redis; with
CLUSTERGATE_TEST_CLOCK_STEP_FILE, also the number of seconds in that file, read at every call, so the test can
step the host's wall clock (as an NTP step does) while time.monotonic() runs on unchanged."""

import os
import time

_OFFSET_S = float(os.environ.get("CLUSTERGATE_TEST_CLOCK_OFFSET_S") or 0.0)
_STEP_FILE = os.environ.get("CLUSTERGATE_TEST_CLOCK_STEP_FILE")
if _OFFSET_S or _STEP_FILE:
    _real_time = time.time

    def _step_s() -> float:
        try:
            with open(_STEP_FILE) as fh:  # type: ignore[arg-type]
                return float(fh.read().strip() or 0.0)
        except (OSError, ValueError, TypeError):
            return 0.0

    if _STEP_FILE:
        time.time = lambda: _real_time() + _OFFSET_S + _step_s()
    else:
        time.time = lambda: _real_time() + _OFFSET_S
