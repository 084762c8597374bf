#!/usr/bin/env python3
"""Configure-time helper for tests/oracle/meson.build.

    find_python.py 3.X [--anywhere]

Prints the newest pyenv interpreter for 3.X,
$(pyenv root)/versions/3.X.*/bin/python3.X (highest patch release first).
With --anywhere, also looks for python3.X on PATH and in /usr/local/bin and
/usr/bin.  If there is none, prints the pattern that was searched, which is
not an existing file: the test then reports itself skipped with that path.
"""

import glob
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import pyenv_root  # noqa: E402


def patch_key(path, version):
    """Sort key: the numeric patch level of .../versions/3.X.P/..."""
    m = re.search(re.escape("/versions/" + version + ".") + r"(\d+)/", path)
    return int(m.group(1)) if m else -1


def main(argv):
    if not argv or not re.match(r"^3\.\d+$", argv[0]):
        sys.stderr.write("usage: find_python.py 3.X [--anywhere]\n")
        return 2
    version = argv[0]
    pattern = os.path.join(pyenv_root(), "versions", version + ".*", "bin",
                           "python" + version)
    found = [p for p in glob.glob(pattern) if os.access(p, os.X_OK)]
    # Only final releases (3.X.P), not 3.X.P-dev or 3.Xt builds.
    found = [p for p in found if patch_key(p, version) >= 0]
    if found:
        print(max(found, key=lambda p: patch_key(p, version)))
        return 0
    if "--anywhere" in argv[1:]:
        for cand in (shutil.which("python" + version),
                     "/usr/local/bin/python" + version, "/usr/bin/python" + version):
            if cand and os.access(cand, os.X_OK):
                print(cand)
                return 0
    print(pattern)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
