#!/usr/bin/env python3
"""Holder-field test for pyheapsnap: what the interpreter's C state holds
is named by the member that holds it.

    run_fields.py --tool PATH/TO/pyheapsnap --python SPEC [--label NAME]
                  [--tool-args ARG ...]

Runs fields_program.py, which leaves a codec search function and an atexit
callback held by the interpreter's state alone, and checks with `show
--json` on its core that the codec search function's holder is the
interpreter state's codec registry, named by its member
("interpreter state: codec registry (codec_search_path)", or
codecs.search_path from 3.12), a root of kind interpreter_field; and that
the atexit callback's holder names the atexit callbacks by their member
(the interpreter state's atexit.callbacks from 3.10, the atexit module's
state.atexit_callbacks in 3.8 and 3.9).

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


def show(args, core, addr):
    out = subprocess.run([args.tool, "show", "--json", core, "%#x" % addr] + args.tool_args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if out.returncode != 0:
        return {"holder": "show exit %d: %s" % (out.returncode,
                                                 out.stderr.decode(errors="replace").strip())}
    return json.loads(out.stdout.decode())


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    t = Tally()
    with test_workdir(args, "fields") as workdir:
        truth_path = os.path.join(workdir, "fields-truth.json")
        core = core_of(args.interp, [os.path.join(HERE, "fields_program.py"), truth_path],
                       workdir)
        with open(truth_path) as f:
            truth = json.load(f)
        shown = show(args, core, truth["codec_search"])
        holder = shown.get("holder") or ""
        ri = (shown.get("path") or {}).get("root_info") or {}
        if (holder.startswith("interpreter state: codec registry (")
                and "search_path)" in holder and ri.get("kind") == "interpreter_field"
                and "search_path" in (ri.get("name") or "")):
            t.ok("the codec search function is held by %r" % holder)
        else:
            t.fail("the codec search function is held by %r (root %s), not the codec "
                   "registry's member" % (holder, ri))
        shown = show(args, core, truth["atexit_callback"])
        holder = shown.get("holder") or ""
        if (holder.startswith("interpreter state: atexit callbacks (atexit.")
                or holder.startswith("module atexit state.atexit_callbacks")):
            t.ok("the atexit callback is held by %r" % holder)
        else:
            t.fail("the atexit callback is held by %r, not the atexit callbacks' member"
                   % holder)
    return t.close()


if __name__ == "__main__":
    run_main(main)
