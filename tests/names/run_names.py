#!/usr/bin/env python3
"""Names test for pyheapsnap: references are named as CPython names them.

    run_names.py --tool PATH/TO/pyheapsnap --python PATH/TO/python
                 [--label NAME] [--keep DIR] [--tool-args ARG ...]

Runs names_program.py under the interpreter; it records references whose
names CPython knows (a cell's contents by its function's free variable, a
function's __dict__, an lru_cache's cache and wrapped function, members of
C types, a __slots__ attribute, asyncio Future and Task fields, an
exception's args), each with whether gc.get_referents() lists it, and
C memory holding an object's address and the address of a fake object; it
aborts. The export must have no object at the fake's address and an edge
to the real one. Then the core's export must have each reference as an edge with
that name, and in a snapshot of the core `show` of the source must list it
by that name and `path` to the closure's and the slot's values must go
through the names.

Prints "ok NAME" or "FAIL NAME: why" for each check, then "N passed, N
failed". Exit status 0 if all passed, 1 if one failed, 77 if the
interpreter is not installed or leaves no core.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import core_of, parse_runner_args, run_main, test_workdir  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "names_program.py")


class Checks(object):
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, why=""):
        if ok:
            self.passed += 1
            print("ok " + name)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, why))
        sys.stdout.flush()


def tool(args, *verb):
    out = subprocess.run([args.tool] + list(verb) + args.tool_args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def export_edges(args, core, wanted):
    """{src addr: [(dst addr, label), ...]} for the wanted sources."""
    edges = {}
    proc = subprocess.Popen([args.tool, "export", core, "--format", "jsonl"] + args.tool_args,
                            stdout=subprocess.PIPE)
    for n, line in enumerate(proc.stdout):
        if n == 0:
            continue
        rec = json.loads(line)
        if rec.get("addr") in wanted:
            edges[rec["addr"]] = list(zip(rec.get("refs", []), rec.get("edges", [])))
    proc.wait()
    return edges


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    with test_workdir(args, "names") as workdir:
        return run(args, workdir)


def run(args, workdir):
    truth_path = os.path.join(workdir, "truth.json")
    core = core_of(args.interp, [PROGRAM, truth_path], workdir)
    with open(truth_path) as f:
        truth = json.load(f)
    c = Checks()
    c.check("lru_cache's cache found by gc.get_referents", truth["cache_found"],
            "no dict holding the key among gc.get_referents(render)")
    expected = truth["expected"]
    scan = truth["scan"]
    wanted = {e["src"] for e in expected}
    if scan:
        wanted |= {scan["holder"], scan["fake"]}
    edges = export_edges(args, core, wanted)
    if scan:
        c.check("C memory: no object made of bytes that look like one",
                scan["fake"] not in edges,
                "the export has an object at 0x%x" % scan["fake"])
        got = [label for dst, label in edges.get(scan["holder"], []) if dst == scan["known"]]
        c.check("C memory: a word with an object's address is a reference", got,
                "no edge from the %s to the object" % scan["holder_type"])
    for e in expected:
        c.check(e["what"] + ": CPython lists the referent", e["referent"],
                "gc.get_referents(%s) lacks it" % e["src_type"])
        got = [label for dst, label in edges.get(e["src"], []) if dst == e["dst"]]
        named = [g for g in got if g == e["name"] or
                 (e.get("prefix") and g and g.startswith(e["name"]))]
        c.check("%s: export edge %s" % (e["what"], e["name"]), named,
                "edges from the %s to it are labelled %r" % (e["src_type"], got))
    # show and path read a snapshot of the core: the names must survive
    # it, and it is quicker to read than the core.
    snap = os.path.join(workdir, "heap.phs")
    rc, out, err = tool(args, "snapshot", core, "-o", snap)
    c.check("snapshot of the core", rc == 0, "exit %d: %s" % (rc, err))
    if rc:
        snap = core
    states = [e for e in expected if e.get("root")]
    c.check("modules with state are in the heap program", states or truth["version"] < [3, 10],
            "no module's gc.get_referents() has more than its __dict__")
    for e in [e for e in expected if not e.get("root")] + states[:1]:
        rc, out, err = tool(args, "show", snap, hex(e["src"]))
        line = [l for l in out.splitlines() if ("0x%x" % e["dst"]) in l and
                l.strip().startswith(e["name"])]
        c.check("%s: show lists %s" % (e["what"], e["name"]), rc == 0 and line,
                "exit %d, no line '%s ... 0x%x' in:\n%s%s" % (rc, e["name"], e["dst"], out, err))
    for e in states[:1]:
        rc, out, err = tool(args, "show", snap, hex(e["dst"]))
        c.check("%s: show of what it holds names the root" % e["what"],
                rc == 0 and ("root: " + e["root"]) in out,
                "exit %d, no 'root: %s' in:\n%s%s" % (rc, e["root"], out, err))
    for what, addr, name in (("closure", truth["held"], ".cell_contents (held)"),
                             ("slot", truth["slot_value"], ".second")):
        rc, out, err = tool(args, "path", snap, hex(addr), "--json")
        try:
            steps = [s["edge"] for p in json.loads(out)["paths"] for s in p["steps"]]
        except (ValueError, KeyError, TypeError):
            steps = None
        c.check("path to the %s's value goes through %s" % (what, name),
                rc == 0 and steps is not None and name in steps,
                "exit %d, steps %r\n%s" % (rc, steps, err))
    print("%d passed, %d failed" % (c.passed, c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    run_main(main)
