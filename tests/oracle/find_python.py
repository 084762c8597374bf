#!/usr/bin/env python3
"""The path of pyenv's newest 3.X, for a meson.build that wants one by
minor version (new suites loop over test_interpreters, see tests/meson.build).

    find_python.py 3.X [--anywhere]

Prints pyhs_test.pyenv_interpreter(3.X)'s path.  With --anywhere, when
pyenv has none, python3.X on PATH, in /usr/local/bin or /usr/bin.  If there
is none, prints the pattern that was searched, which is not an existing
file: the test then reports itself skipped with that path.
"""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import pyenv_interpreter  # noqa: E402


def main(argv):
    if not argv or not re.match(r"^3\.\d+$", argv[0]):
        sys.stderr.write("usage: find_python.py 3.X [--anywhere]\n")
        return 2
    version = argv[0]
    found = pyenv_interpreter(version)
    if found.path:
        print(found.path)
        return 0
    if "--anywhere" in argv[1:]:
        for cand in (shutil.which("python" + version),
                     "/usr/local/bin/python" + version, "/usr/bin/python" + version):
            if cand and os.access(cand, os.X_OK):
                print(cand)
                return 0
    print(found.missing.split(" ")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
