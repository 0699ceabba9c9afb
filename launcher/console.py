"""The `clustergate` command's entry point (and `python -m launcher`'s): Ctrl-C while Python is still
loading the launcher exits 130 with nothing printed, as it does once a command runs. Nothing has been
read or changed at that point. Kept free of imports so that the window it cannot cover is Python's own start."""

import sys


def main() -> None:
    try:
        from launcher.cli import main as run
    except KeyboardInterrupt:
        sys.exit(130)
    run()
