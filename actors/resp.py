"""Moved to launcher/resp.py (the CLI's `up` and `status` use it too, and the launcher imports no actor module with
I/O); this name is kept for old imports and resolves to that very module."""

import sys

from launcher import resp as _moved

sys.modules[__name__] = _moved
