#!/usr/bin/env python3
"""Previews test for pyheapsnap: previews say what Python says.

    run_previews.py --tool PATH/TO/pyheapsnap --python SPEC [--label NAME]
                    [--tool-args ARG ...]

Runs previews_program.py under the interpreter into a core, then checks
that `show --json` gives each object the program listed the preview the
program derived from Python's own view of it: an instance of a class of
its own ("module.Class(a='x', b=2)", its first str and int attributes), a
bound method ("Class.method of module.Class"), a pending asyncio Task
("QUALNAME PENDING"), numpy arrays ("shape=(3, 4) dtype=float64") where
numpy can be imported.

Prints "ok: ..." or "FAIL: ..." per object, then a verdict. Exit status 0,
1 if a check failed, 77 if the interpreter cannot be had or leaves no core.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
from pyhs_test import NoCore, fail, ok, parse_runner_args, run_to_core, verdict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_SKIP = 77


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    if not args.interp.path:
        print("skipped: %s: %s" % (args.label, args.interp.missing))
        return EXIT_SKIP
    workdir = tempfile.mkdtemp(prefix="pyheapsnap-previews-")
    try:
        truth_path = os.path.join(workdir, "truth.json")
        argv = args.interp.argv("-I", os.path.join(HERE, "previews_program.py"), truth_path)
        try:
            core = run_to_core(argv, workdir, args.interp.environ(), 120)
        except NoCore as e:
            print("skipped: %s: %s" % (args.label, e))
            return EXIT_SKIP
        with open(truth_path) as f:
            truth = json.load(f)
        for t in truth:
            out = subprocess.run([args.tool, "show", "--json", core, str(t["addr"])] + args.tool_args,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            try:
                got = json.loads(out.stdout.decode()).get("preview")
            except ValueError:
                fail("%s %s: show exit %d: %s" % (args.label, t["what"], out.returncode,
                                                 out.stderr.decode(errors="replace").strip()))
                continue
            if "state" in t and (got or "").endswith(" " + t["state"]):
                ok("%s %s: %s" % (args.label, t["what"], got))
            elif "state" in t:
                fail("%s %s %#x: preview %r does not end with the state %r"
                     % (args.label, t["what"], t["addr"], got, t["state"]))
            elif got == t["preview"]:
                ok("%s %s: %s" % (args.label, t["what"], got))
            else:
                fail("%s %s %#x: preview %r, expected %r" % (args.label, t["what"], t["addr"],
                                                            got, t["preview"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(True)


if __name__ == "__main__":
    sys.exit(main())
