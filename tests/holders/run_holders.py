#!/usr/bin/env python3
"""Holders test for pyheapsnap: what C code holds is explained by roots.

    run_holders.py --tool PATH/TO/pyheapsnap --python SPEC [--label NAME]
                   [--tool-args ARG ...]

Runs two programs under the interpreter, each aborting into a core:

  1. a bare interpreter (`-c "import os; os.abort()"`): `summary --json`
     counts at most MAX_UNEXPLAINED objects with references no object or
     root explains, and its text names each of them by its type;
  2. holders_program.py: the orphans it planted (each given a reference by
     Py_IncRef that nothing gives back) are all among summary's unexplained
     objects, with no more than MAX_UNEXPLAINED others; the list sorted()
     is sorting when the key function aborts, which only the C stack holds
     (and its bound sort method, which the C stack holds too), is held by a
     root "C stack of thread 0 ..." and is not unexplained; `top --type
     Orphan` (an unqualified class name) lists the planted __main__.Orphan
     and says that name matched.

Prints "ok: ..." or "FAIL: ..." per check (with the counts), then a verdict.
Exit status 0, 1 if a check failed, 77 if the interpreter cannot be had or
leaves no core.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
from pyhs_test import NoCore, fail, ok, parse_runner_args, run_to_core, verdict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_SKIP = 77
MAX_UNEXPLAINED = 5


def tool(args, *argv):
    out = subprocess.run([args.tool] + list(argv) + args.tool_args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=300)
    if out.returncode != 0:
        raise RuntimeError("%s exit %d: %s" % (argv[0], out.returncode,
                                               out.stderr.decode(errors="replace").strip()))
    return out.stdout.decode()


def unexplained(args, core):
    """(addresses, text lines naming them) of summary's unexplained objects."""
    u = json.loads(tool(args, "summary", "--json", core))["unexplained_refs"]
    text = tool(args, "summary", core).splitlines()
    lines = [l for l in text if re.match(r"^\s+0x[0-9a-f]+\s", l)]
    named = {}
    for a in u["objects"]:
        hit = [l for l in lines if l.split()[0] == "%#x" % a]
        if hit:
            named[a] = hit[0].split()[1]
    return u["count"], u["objects"], named


def export(args, core):
    """(objects by address, roots) of the JSON-lines export."""
    objs, roots = {}, []
    for line in tool(args, "export", core, "--format", "jsonl").splitlines()[1:]:
        o = json.loads(line)
        if "root" in o:
            roots.append(o)
        elif "addr" in o:
            objs[o["addr"]] = o
    return objs, roots


def check_bare(args, core):
    count, objs, named = unexplained(args, core)
    desc = ", ".join("%#x %s" % (a, named.get(a, "?")) for a in objs)
    if count <= MAX_UNEXPLAINED:
        ok("%s bare interpreter: %d unexplained (%s)" % (args.label, count, desc or "none"))
    else:
        fail("%s bare interpreter: %d unexplained objects, at most %d expected: %s"
             % (args.label, count, MAX_UNEXPLAINED, desc))
    unnamed = [a for a in objs[:20] if a not in named]
    if unnamed:
        fail("%s bare interpreter: summary's text names no type for %s"
             % (args.label, ", ".join("%#x" % a for a in unnamed)))


def check_program(args, core, truth):
    count, objs, named = unexplained(args, core)
    orphans = truth["orphans"]
    missing = [n for n, a in sorted(orphans.items()) if a not in objs]
    if missing:
        fail("%s: planted orphans not among the unexplained objects: %s"
             % (args.label, ", ".join("%s %#x" % (n, orphans[n]) for n in missing)))
    else:
        ok("%s: the %d planted orphans are unexplained" % (args.label, len(orphans)))
    others = [a for a in objs if a not in orphans.values()]
    if len(others) <= MAX_UNEXPLAINED:
        ok("%s: %d other unexplained objects" % (args.label, len(others)))
    else:
        fail("%s: %d unexplained objects besides the orphans, at most %d expected: %s"
             % (args.label, len(others), MAX_UNEXPLAINED,
                ", ".join("%#x %s" % (a, named.get(a, "?")) for a in others[:10])))
    # The list sorted() made, emptied while list.sort runs: referred to by
    # no object but its bound sort method, held (with that method) by the
    # main thread's C stack.
    heap, roots = export(args, core)
    referrers = {}
    for a, o in heap.items():
        for r in o.get("refs", []):
            referrers.setdefault(r, []).append(a)
    stack_held = {r["object"] for r in roots
                  if re.match(r"^C stack of thread 0( \(.*\))?$", r["root"]) and r.get("owned")}
    found = []
    for a, o in heap.items():
        by = referrers.get(a, [])
        if o["type"] != "list" or o.get("refs") or \
                any(heap[b]["type"] != "builtin_function_or_method" for b in by):
            continue
        if (a in stack_held or any(b in stack_held for b in by)) and \
                a not in objs and not any(b in objs for b in by):
            found.append(a)
    if found:
        ok("%s: sorted()'s list %#x is held by the C stack of thread 0" % (args.label, found[0]))
    else:
        fail("%s: no emptied list held by a root \"C stack of thread 0 ...\" (C-stack roots: %d)"
             % (args.label, len(stack_held)))


def check_type_match(args, core, truth):
    """top --type Orphan (unqualified) finds the planted __main__.Orphan
    and says which qualified name it matched."""
    out = subprocess.run([args.tool, "top", "--json", "--type", "Orphan", core] + args.tool_args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    try:
        rows = json.loads(out.stdout.decode())
    except ValueError:
        fail("%s: top --type Orphan: exit %d: %s" % (args.label, out.returncode,
                                                    out.stderr.decode(errors="replace").strip()))
        return
    addrs = [r["addr"] for r in rows]
    names = {r["type"] for r in rows}
    said = out.stderr.decode(errors="replace")
    if truth["orphans"]["instance"] in addrs and names == {"__main__.Orphan"} and \
            "matched __main__.Orphan" in said:
        ok("%s: top --type Orphan finds __main__.Orphan (%s)" % (args.label, said.strip()))
    else:
        fail("%s: top --type Orphan: rows %s of types %s, stderr %r; expected %#x of "
             "__main__.Orphan and 'matched __main__.Orphan'"
             % (args.label, addrs, sorted(names), said, truth["orphans"]["instance"]))


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    if not args.interp.path:
        print("skipped: %s: %s" % (args.label, args.interp.missing))
        return EXIT_SKIP
    workdir = tempfile.mkdtemp(prefix="pyheapsnap-holders-")
    try:
        truth_path = os.path.join(workdir, "truth.json")
        runs = [("bare", args.interp.argv("-I", "-c", "import os; os.abort()")),
                ("program", args.interp.argv("-I", os.path.join(HERE, "holders_program.py"),
                                             truth_path))]
        for name, argv in runs:
            sub = os.path.join(workdir, name)
            os.mkdir(sub)
            try:
                core = run_to_core(argv, sub, args.interp.environ(), 120)
            except NoCore as e:
                print("skipped: %s: %s" % (args.label, e))
                return EXIT_SKIP
            try:
                if name == "bare":
                    check_bare(args, core)
                else:
                    with open(truth_path) as f:
                        truth = json.load(f)
                    check_program(args, core, truth)
                    check_type_match(args, core, truth)
            except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                fail("%s %s: %s" % (args.label, name, e))
            os.unlink(core)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(True)


if __name__ == "__main__":
    sys.exit(main())
