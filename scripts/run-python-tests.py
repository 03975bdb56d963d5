"""Runs the Python suite (bitcask/tests) with unittest and ends with "N passed, N failed".

    PYTHONPATH=build/python python3 scripts/run-python-tests.py

The package is imported from PYTHONPATH (the build tree), so this tests what was built.
"""

import os
import sys
import unittest

import bitcask


def main() -> int:
    package_dir = os.path.dirname(os.path.abspath(bitcask.__file__))
    top = os.path.dirname(package_dir)
    suite = unittest.TestLoader().discover(os.path.join(package_dir, "tests"), top_level_dir=top)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"{passed} passed, {failed} failed" + (f" ({skipped} skipped)" if skipped else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
