"""Print tests/file_seconds.txt from the JUnit XML of a `make test` run (pytest --junitxml=FILE): each test file's
seconds, the sum of its tests' times, the longest first. tests/conftest.py hands the files out in that order.

    .venv/bin/python tests/file_seconds.py JUNIT.xml > tests/file_seconds.txt
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter


def file_seconds(root: ET.Element) -> Counter:
    """{test file name: seconds} from a pytest JUnit XML (classname tests.test_x or tests.test_x.Class)."""
    seconds: Counter = Counter()
    for case in root.iter("testcase"):
        module = case.get("classname", "").split(".")
        if len(module) >= 2 and module[0] == "tests":
            seconds[module[1] + ".py"] += float(case.get("time") or 0)
    return seconds


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = ET.parse(argv[0]).getroot()
    run = next(root.iter("testsuite"), root)
    took_s = float(run.get("time") or 0)
    print(f"# make test of {run.get('timestamp', '?')[:10]}: {run.get('tests', '?')} tests in {took_s:.0f} s "
          "(tests/file_seconds.py)")
    for name, seconds in file_seconds(root).most_common():
        print(f"{name} {seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
