"""Moved to launcher/netns.py (issue 15: bench/ and tests/ share one harness, and bench never imports
tests/); this name is kept for old imports and resolves to that very module."""

import sys

from launcher import netns as _moved

sys.modules[__name__] = _moved
