#!/usr/bin/env python3
"""The verbs that write a file (-o) make it before they read their input.

    run_output_order.py --tool PATH/TO/pyheapsnap

For each of export (JSON lines and a V8 heap snapshot), report, snapshot and
gcore:

  * an output that cannot be written (a missing directory) fails with exit
    3 and one line about the output, although the input is unreadable too:
    the input was never opened;
  * an output in a good directory with an unreadable input (an empty file)
    fails with exit 3 and one line about the input, and leaves nothing in
    that directory: no output, no temporary file.

No interpreter or core is needed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import fail, ok, verdict  # noqa: E402

EXIT_INPUT = 3
TIMEOUT = 30

VERBS = [
    ("export", ["export"], "export"),
    ("export --format heapsnapshot", ["export", "--format", "heapsnapshot"], "export"),
    ("report", ["report"], "report"),
    ("snapshot", ["snapshot"], "snapshot"),
    ("gcore", ["gcore"], "core"),
]


def run(tool, argv):
    p = subprocess.run([tool] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    return p.returncode, p.stderr.decode(errors="replace").splitlines()


def check(name, tool, argv, want_re):
    code, lines = run(tool, argv)
    if code != EXIT_INPUT:
        fail("%s: exit %d, not %d (%s)" % (name, code, EXIT_INPUT, " / ".join(lines)))
    elif len(lines) != 1 or not re.search(want_re, lines[0]):
        fail("%s: stderr %r does not match %r" % (name, lines, want_re))
    else:
        ok(name)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tool", required=True, help="the pyheapsnap executable")
    args = p.parse_args()
    tool = os.path.abspath(args.tool)
    tmp = tempfile.mkdtemp(prefix="pyheapsnap-output-order.")
    try:
        empty = os.path.join(tmp, "empty.core")
        open(empty, "w").close()
        missing_dir = os.path.join(tmp, "no-such-dir")
        for name, argv, what in VERBS:
            out = os.path.join(missing_dir, "out")
            check("%s: an unwritable -o is found before the input" % name, tool,
                  argv + ["-o", out, empty],
                  r"^pyheapsnap: cannot write %s '%s': no such file or directory$"
                  % (what, re.escape(out)))
            outdir = os.path.join(tmp, "out-" + name.replace(" ", "_"))
            os.mkdir(outdir)
            check("%s: an unreadable input fails as before" % name, tool,
                  argv + ["-o", os.path.join(outdir, "out"), empty],
                  r"^pyheapsnap: '%s' is empty$" % re.escape(empty))
            left = os.listdir(outdir)
            if left:
                fail("%s: left %s behind" % (name, ", ".join(sorted(left))))
            else:
                ok("%s: nothing left behind" % name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return verdict(True)


if __name__ == "__main__":
    sys.exit(main())
