"""Moved to launcher/multihost_harness.py (issue 15: bench/ and tests/ share one harness, and bench
never imports tests/); this name is kept for old imports and resolves to that very module."""

import sys

from launcher import multihost_harness as _moved

sys.modules[__name__] = _moved
