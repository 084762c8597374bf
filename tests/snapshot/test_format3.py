#!/usr/bin/env python3
"""A format 3 snapshot read by the current reader.

    test_format3.py --tool PYHEAPSNAP --snapshot corpora/snapshots/cells-tasks-v3.phs

The file is a format 3 snapshot of a core of format3_program.py under
CPython 3.8 (closure cells labelled as field text, asyncio task states and
coroutine places kept only as value texts). Next to it,
cells-tasks-v3.tasks.json and cells-tasks-v3.suspects.json hold what
`tasks --json` and `suspects --json` said of it when format 3 was current.
Read now:

  * `tasks --json` and `suspects --json` give exactly those answers (task
    names, states, coroutine stacks, the suspect "closure of HANDLER:
    held");
  * a snapshot of it (in the current format) gives the same answers again,
    and the same `export` (every object, edge label and root).

Exit status 0 pass, 1 fail, 77 if the file is missing.
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import tool_output  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--snapshot", required=True)
    args = ap.parse_args()
    if not os.path.exists(args.snapshot):
        print("skip: no %s" % args.snapshot)
        return 77
    base = args.snapshot[:-len(".phs")]
    failures = []

    def tool(*argv):
        return tool_output(args.tool, *argv)

    def same(what, got, want):
        if got != want:
            failures.append("%s: %s, not %s" % (what, json.dumps(got)[:600], json.dumps(want)[:600]))
        else:
            print("ok %s" % what)

    want = {}
    for verb in ("tasks", "suspects"):
        with open("%s.%s.json" % (base, verb)) as f:
            want[verb] = json.load(f)
    for verb in ("tasks", "suspects"):
        same("%s of the format 3 file" % verb, json.loads(tool(verb, "--json", args.snapshot)),
             want[verb])
    states = sorted((t["name"], t["state"]) for t in want["tasks"]["tasks"])
    if states != [("Task-1", "pending"), ("cancelled-0", "cancelled"), ("chain-0", "pending"),
                  ("chain-1", "pending"), ("done-0", "done")]:
        failures.append("the recorded tasks are not format3_program.py's: %r" % states)
    holders = [s["point"]["holder"] for s in want["suspects"]["suspects"]["suspects"]
               if s.get("point")]
    if "closure of HANDLER: held" not in holders:
        failures.append("the recorded suspects do not name the closure: %r" % holders)
    with tempfile.TemporaryDirectory(prefix="pyhs-format3-") as d:
        again = os.path.join(d, "again.phs")
        tool("snapshot", args.snapshot, "-o", again)
        for verb in ("tasks", "suspects"):
            same("%s of its snapshot" % verb, json.loads(tool(verb, "--json", again)), want[verb])
        old, new = os.path.join(d, "old.jsonl"), os.path.join(d, "new.jsonl")
        tool("export", args.snapshot, "-o", old)
        tool("export", again, "-o", new)
        with open(old) as f1, open(new) as f2:
            a, b = f1.read().splitlines(), f2.read().splitlines()
        # (the header names the input, which differs)
        a, b = a[1:], b[1:]
        if a != b:
            diff = [(x, y) for x, y in zip(a, b) if x != y][:2]
            failures.append("export differs from its snapshot's (%d, %d lines): %r"
                            % (len(a), len(b), diff))
        else:
            print("ok export of its snapshot (%d lines)" % len(a))
    for f in failures:
        print("FAIL %s" % f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
