#!/usr/bin/env python3
"""Leak suspects and holder names on a program with planted leaks.

    test_suspects.py --tool PYHEAPSNAP --python PYTHON [--label NAME]

leaks_program.py plants a leak behind each kind of holder (module global,
frame local, closure cell, lru_cache, class attribute, thread-local) and
records the bytes CPython says each keeps alive; it runs at two moments
(every leak doubled in the second). Checks: summary's suspects name every
planted holder before anything else; suspects --json ranks them by
retained size with the right holder names and CPython's sizes; with both
cores, the growth suspects are the planted holders, ranked by their
growth, with CPython's growth; cycles --unreachable and summary's garbage
count the same objects; run under tracemalloc, the suspects say where each
accumulation point was allocated, and diff --by site charges the growth
to the line that made it. Exit 77 when the interpreter cannot be had.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import NoCore, Tally, parse_runner_args, run_to_core  # noqa: E402

# Planted holder -> how its name must read.
HOLDERS = {
    "CACHE": lambda n: n == "module __main__ global CACHE",
    "history": lambda n: re.fullmatch(r"thread \d+ \(MainThread\) frame serve local history", n),
    "held": lambda n: n == "closure of HANDLER: held",
    "render": lambda n: n == "lru_cache of __main__.render",
    "_registry": lambda n: n == "class Config attribute _registry",
    "tls": lambda n: n == "thread-local __main__.LOCAL attribute items",
}


def planted(name):
    """The planted holder a holder name stands for, or None."""
    for key, match in HOLDERS.items():
        if match(name):
            return key
    return None


def run(args, *argv):
    p = subprocess.run([args.tool] + list(argv) + args.tool_args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def moment(args, work, scale):
    d = os.path.join(work, "m%d" % scale)
    os.makedirs(d)
    truth = os.path.join(d, "truth.json")
    core = run_to_core(args.interp.argv("-I", os.path.join(HERE, "leaks_program.py"),
                                        str(scale), truth),
                       d, args.interp.environ(), 120)
    with open(truth) as f:
        return core, json.load(f)["sizes"]


def check_summary(args, t, core):
    rc, out, err = run(args, "summary", core)
    if rc != 0:
        t.fail("summary exits %d: %s" % (rc, err.strip()))
        return
    # The first holders summary names are its object suspects.
    names = re.findall(r"^ +\S+ \S+ \([\d.]+ %\)  (.*) \([^()]* 0x[0-9a-f]+\)$", out, re.M)
    first = [planted(n) for n in names[:len(HOLDERS)]]
    if sorted(filter(None, first)) == sorted(HOLDERS):
        t.ok("summary names the six planted holders first")
    else:
        t.fail("summary's first holders are %r" % names[:len(HOLDERS) + 2])
    if out.index("leak suspects") < out.index("garbage collector:"):
        t.ok("summary's suspects come before the rest of its report")
    else:
        t.fail("summary's suspects are not at the top")


def check_suspects(args, t, core, truth):
    rc, out, err = run(args, "suspects", core, "--json")
    if rc != 0:
        t.fail("suspects --json exits %d: %s" % (rc, err.strip()))
        return
    objs = [s for s in json.loads(out)["suspects"]["suspects"] if s["kind"] == "object"]
    got = [(planted(s["point"]["holder"]), s["point"]["retained"]) for s in objs]
    want = sorted(truth.items(), key=lambda kv: -kv[1])
    if got[:len(want)] == want:
        t.ok("suspects ranks the planted holders by retained size, sizes as CPython says")
    else:
        t.fail("suspects gives %r, CPython says %r (object suspects' holders: %r)"
               % (got[:len(want)], want, [s["point"]["holder"] for s in objs]))


def check_growth(args, t, a, b, truth_a, truth_b):
    rc, out, err = run(args, "suspects", a, b, "--json")
    if rc != 0:
        t.fail("suspects A B --json exits %d: %s" % (rc, err.strip()))
        return
    growth = json.loads(out)["growth"]["suspects"]
    got = [(planted(s["holder"]), s["growth"]) for s in growth]
    want = sorted(((k, truth_b[k] - truth_a[k]) for k in truth_a), key=lambda kv: -kv[1])
    if got[:len(want)] == want:
        t.ok("growth suspects are the planted holders, by growth, as CPython says")
    else:
        t.fail("growth suspects %r, CPython says %r (holders %r)"
               % (got[:len(want)], want, [s["holder"] for s in growth]))


def traced(args, t, work, scale):
    """A core of the program under tracemalloc, and what CPython said."""
    d = os.path.join(work, "traced%d" % scale)
    os.makedirs(d)
    truth = os.path.join(d, "truth.json")
    try:
        core = run_to_core(args.interp.argv("-I", "-X", "tracemalloc=1",
                                            os.path.join(HERE, "leaks_program.py"),
                                            str(scale), truth),
                           d, args.interp.environ(), 120)
    except NoCore as e:
        t.fail("no core under tracemalloc (the untraced runs left one): %s" % e)
        return None, None
    with open(truth) as f:
        return core, json.load(f)


def check_allocated(args, t, core, truth):
    want = truth["sites"]
    rc, out, err = run(args, "suspects", core, "--json")
    if rc != 0:
        t.fail("suspects --json of a traced core exits %d: %s" % (rc, err.strip()))
        return
    got = {}
    for s in json.loads(out)["suspects"]["suspects"]:
        key = s["kind"] == "object" and planted(s["point"]["holder"])
        if key in want:
            site = s["allocated"]
            got[key] = site and [os.path.basename(site["file"]), site["line"]]
    if got == want and any(want.values()):
        t.ok("suspects says where each accumulation point was allocated, as tracemalloc does")
    else:
        t.fail("allocation sites %r, tracemalloc.get_object_traceback says %r" % (got, want))


def check_by_site(args, t, a, b, truth_a, truth_b):
    rc, out, err = run(args, "diff", a, b, "--by", "site", "--json", "-n", "1")
    if rc != 0:
        t.fail("diff --by site exits %d: %s" % (rc, err.strip()))
        return
    sites = json.loads(out)["sites"]
    with open(os.path.join(HERE, "leaks_program.py")) as f:
        line = next(n + 1 for n, text in enumerate(f) if text.startswith("def blob("))
    # blob()'s one line makes every planted bytes object.
    rows = [r for r in sites if r["site"].endswith("leaks_program.py:%d" % (line + 1))]
    want = truth_b["blobs"] - truth_a["blobs"]
    if len(sites) > 1 and len(rows) == 1 and rows[0]["count_delta"] == want:
        t.ok("diff --by site: +%d objects allocated in blob(), all rows in JSON despite -n 1"
             % want)
    else:
        t.fail("diff --by site: %r for blob() (want +%d), %d rows" % (rows, want, len(sites)))


def check_garbage(args, t, core):
    rc1, out1, err1 = run(args, "summary", core, "--json")
    rc2, out2, err2 = run(args, "cycles", core, "--unreachable", "--json")
    if rc1 or rc2:
        t.fail("summary --json / cycles --unreachable --json exit %d / %d: %s %s"
               % (rc1, rc2, err1.strip(), err2.strip()))
        return
    garbage = json.loads(out1)["garbage"]
    groups = json.loads(out2)
    objects = sum(len(g["objects"]) for g in groups)
    size = sum(g["size"] for g in groups)
    # Two Nodes, a list and ten lists at least (and the Nodes' dicts
    # before 3.11): more than the cycle itself.
    planted_ok = any(g["in_cycle"] < len(g["objects"]) and len(g["objects"]) >= 13
                     for g in groups)
    if (objects, size) == (garbage["objects"], garbage["bytes"]) and planted_ok:
        t.ok("cycles --unreachable and summary's garbage agree: %d objects" % objects)
    else:
        t.fail("cycles --unreachable lists %d objects, %d bytes; summary counts %r; "
               "the planted cycle and its payloads %s"
               % (objects, size, garbage, "found" if planted_ok else "not found whole"))


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    if args.interp.path is None:
        print("skipped: %s: %s" % (args.label, args.interp.missing))
        return 77
    work = tempfile.mkdtemp(prefix="pyheapsnap-suspects-")
    t = Tally()
    try:
        try:
            a, truth_a = moment(args, work, 1)
            b, truth_b = moment(args, work, 2)
        except NoCore as e:
            print("skipped: %s: %s" % (args.label, e))
            return 77
        check_summary(args, t, a)
        check_suspects(args, t, a, truth_a)
        check_suspects(args, t, b, truth_b)
        check_growth(args, t, a, b, truth_a, truth_b)
        check_garbage(args, t, a)
        ta, truth_ta = traced(args, t, work, 1)
        tb, truth_tb = traced(args, t, work, 2)
        if ta and tb:
            check_allocated(args, t, ta, truth_ta)
            check_by_site(args, t, ta, tb, truth_ta, truth_tb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return t.close()


if __name__ == "__main__":
    sys.exit(main())
