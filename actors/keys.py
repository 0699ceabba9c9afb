"""Moved to launcher/keys.py (issue 15: imports go one way, actors -> launcher); this name is kept for
old imports and resolves to that very module."""

import sys

from launcher import keys as _moved

sys.modules[__name__] = _moved
