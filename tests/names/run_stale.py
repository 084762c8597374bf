#!/usr/bin/env python3
"""Stale-candidate test for pyheapsnap: a word of C memory that points to
what looks like an object but is not one makes no object and no warning.

    run_stale.py --tool PATH/TO/pyheapsnap --python SPEC [--label NAME]
                 [--tool-args ARG ...]

Runs stale_program.py, which points one C static at a fake tuple (an
intact header, items that are no pointers) and another at a real tuple
only that static holds, and checks on its core that `summary --json`
counts no warning and at least one dropped candidate, that the fake tuple
is no object (`show` refuses its address) and that the real one is (a
tuple).

Prints "ok: ..." or "FAIL: ..." per check, then "N passed, N failed". Exit
status 0, 1 if a check failed, 77 if the interpreter cannot be had or
leaves no core.
"""

import json
import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
from pyhs_test import Tally, core_of, parse_runner_args, run_main, test_workdir  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def tool(args, *argv):
    return subprocess.run([args.tool] + list(argv) + args.tool_args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=300)


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    t = Tally()
    with test_workdir(args, "stale") as workdir:
        truth_path = os.path.join(workdir, "stale-truth.json")
        core = core_of(args.interp, [os.path.join(HERE, "stale_program.py"), truth_path],
                       workdir)
        with open(truth_path) as f:
            truth = json.load(f)
        out = tool(args, "summary", "--json", core)
        if out.returncode != 0:
            t.fail("summary exit %d: %s" % (out.returncode, out.stderr.decode(errors="replace")))
            return t.close()
        s = json.loads(out.stdout.decode())
        w = s["warnings"]
        kinds = {k: v for k, v in w["kinds"].items() if v}
        if w["count"] or kinds:
            t.fail("warnings %s, e.g. %s" % (kinds, w["examples"][:5]))
        else:
            t.ok("no warnings")
        if s.get("dropped_candidates", 0) >= 1:
            t.ok("%d dropped candidates" % s["dropped_candidates"])
        else:
            t.fail("no dropped candidate: the fake tuple at %#x was not counted" % truth["fake"])
        out = tool(args, "show", "--json", core, "%#x" % truth["fake"])
        if out.returncode == 0:
            t.fail("the fake tuple at %#x is an object" % truth["fake"])
        else:
            t.ok("the fake tuple is no object")
        out = tool(args, "show", "--json", core, "%#x" % truth["held"])
        shown = json.loads(out.stdout.decode()) if out.returncode == 0 else {}
        if shown.get("type") == "tuple":
            t.ok("the tuple only a C static holds is an object")
        else:
            t.fail("the tuple at %#x only a C static holds: show exit %d, type %r"
                   % (truth["held"], out.returncode, shown.get("type")))
    return t.close()


if __name__ == "__main__":
    run_main(main)
