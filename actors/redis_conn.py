"""Moved to launcher/redis_conn.py (issue 15: imports go one way, actors -> launcher); this name is kept for
old imports and resolves to that very module."""

import sys

from launcher import redis_conn as _moved

sys.modules[__name__] = _moved
