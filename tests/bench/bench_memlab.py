#!/usr/bin/env python3
"""Benchmark: memlab's retained sizes beside pyheapsnap's, on one heap.

    bench_memlab.py --tool build-rel/cli/pyheapsnap [--python PYTHON]
                    [--objects 2000000] [--keep]

A CPython 3.12 program (pyenv's, unless --python says another) builds
run_bench.py's heap of about --objects objects and aborts into a core.
pyheapsnap exports it as a .heapsnapshot; memlab (@memlab/heap-analysis,
the npm package the look suite installs, see tests/look) loads that file
and computes dominators and retained sizes itself (tests/look/
memlab_retained.js), and its ten largest retained sizes are compared with
pyheapsnap's `top -n 10`. Printed, in one run: memlab's seconds (loading
the file and computing), pyheapsnap's `top -n 10` from the core
(--no-cache: the walk and the analysis), from a snapshot (which answers
from its largest retainers, TOPR), with --gen 2 from the snapshot (the
whole heap read, the analysis from its index, INDX), and from the same
snapshot without INDX and TOPR (the heap analysed on reading), and
whether the ten agree. Skipped (exit 77) with a message when node or
memlab cannot be had. Numbers, not assertions: the machine is shared.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "look"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "snapshot"))
from pyhs_test import pyenv_interpreter  # noqa: E402
from run_bench import make_core  # noqa: E402
import test_look  # noqa: E402
from test_snapshot import Snapshot  # noqa: E402


def timed(argv, stdout=subprocess.PIPE):
    t0 = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: %s exited %d: %s" % (" ".join(argv[:3]), p.returncode,
                                               p.stderr.decode(errors="replace")[-300:]))
    return wall, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True, help="pyheapsnap (a release build)")
    ap.add_argument("--python", help="the interpreter (default: pyenv's newest 3.12)")
    ap.add_argument("--objects", type=int, default=2000000)
    ap.add_argument("--keep", action="store_true", help="keep the core and the files")
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    try:
        test_look.npm_dir()
    except test_look.Skip as why:
        print("bench: skipped: memlab cannot be had: %s" % why)
        sys.exit(77)
    python = args.python
    if not python:
        interp = pyenv_interpreter("3.12")
        if not interp.path:
            print("bench: skipped: %s" % interp.missing)
            sys.exit(77)
        python = interp.path
    workdir = tempfile.mkdtemp(prefix="pyheapsnap-memlab-")
    try:
        core, _ = make_core(python, args.objects, workdir)
        print("interpreter: %s; heap of about %d objects, core %.0f MiB"
              % (python, args.objects, os.path.getsize(core) / 2**20))
        hs = os.path.join(workdir, "heap.heapsnapshot")
        wall, _ = timed([tool, "export", "--no-cache", "--format", "heapsnapshot", "-o", hs, core])
        print("  %-60s %7.2f s  (%.0f MiB)" % ("pyheapsnap export --format heapsnapshot", wall,
                                               os.path.getsize(hs) / 2**20))
        indexed = os.path.join(workdir, "heap.phs")
        timed([tool, "snapshot", "--no-cache", core, "-o", indexed])
        plain = os.path.join(workdir, "plain.phs")
        snap = Snapshot(open(indexed, "rb").read())
        snap.sections = [s for s in snap.sections if s[0] not in ("INDX", "TOPR")]
        with open(plain, "wb") as f:
            f.write(snap.build(version=snap.version))
        top, walls = {}, {}
        for what, path, extra in (("from the core (--no-cache)", core, ["--no-cache"]),
                                  ("from a snapshot (its largest retainers)", indexed, []),
                                  ("--gen 2, from it (its index, the whole heap)", indexed,
                                   ["--gen", "2"]),
                                  ("from it without its index (analysed)", plain, [])):
            best = None
            for _ in range(3):
                wall, out = timed([tool, "top", "--json", "-n", "10", path] + extra)
                best = wall if best is None else min(best, wall)
            top[what] = json.loads(out)
            walls[what] = best
            print("  %-60s %7.2f s  (best of 3)" % ("pyheapsnap top -n 10 " + what, best))
        t0 = time.monotonic()
        theirs = test_look.node("memlab_retained.js", hs, "10", timeout=1800)
        wall = time.monotonic() - t0
        print("  %-60s %7.2f s  (%.2f s in memlab; %d nodes; node's start and exit the rest)"
              % ("memlab: load the .heapsnapshot, retained sizes", wall, theirs["seconds"],
                 theirs["nodes"]))
        ours = [o["retained"] for o in top["from the core (--no-cache)"]]
        same = ours == [t["retained"] for t in theirs["top"]]
        print("  ten largest retained sizes: %s" % ("the same in memlab and pyheapsnap" if same
                                                   else "DIFFER: memlab %s, pyheapsnap %s" % (
                                                       [t["retained"] for t in theirs["top"]],
                                                       ours)))
        for what in walls:
            print("  %-60s %7.1fx" % ("memlab's seconds / pyheapsnap's " + what,
                                      theirs["seconds"] / max(walls[what], 1e-9)))
    finally:
        if args.keep:
            print("kept", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
