"""Loaded by a test's actor processes (PYTHONPATH): their wall clock runs CLUSTERGATE_TEST_CLOCK_OFFSET_S
seconds off the real one, as a gate host's clock can be off the clock of an external Redis."""

import os
import time

_OFFSET_S = float(os.environ.get("CLUSTERGATE_TEST_CLOCK_OFFSET_S") or 0.0)
if _OFFSET_S:
    _real_time = time.time
    time.time = lambda: _real_time() + _OFFSET_S
