#!/usr/bin/env python3
"""Benchmark: the HTML report of a heap of about 10 million objects, and
how headless Chromium copes with it.

    report_10m.py --tool build/cli/pyheapsnap [--python PYTHON] [--objects N]
                  [--workdir DIR] [--keep]

A Python program (pyenv 3.12 unless --python) builds a heap of about N
objects (default 10,000,000): records as small dicts of an int and a str,
instances of a plain class holding a str and a float, kept in lists under a
few module globals, so that the dominator tree has millions of small
subtrees. It aborts into a core in DIR (default a new directory under
/tmp, removed at the end unless --keep; a core already in a --workdir is
reused, and that directory is kept).
Then `pyheapsnap report` is run on the core (wall time, user and system
CPU, peak RSS), and the report is opened in headless Chromium with
--dump-dom and with --screenshot (wall time of each; that of an empty
page beside it). Prints the numbers, the size of the report, the nodes of its tree
and how much was grouped, and what the page says it grouped. Numbers, not
assertions (beyond the runs succeeding and the page naming what it
grouped): run it on a quiet machine.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import NoCore, interpreter, run_to_core  # noqa: E402

PROGRAM = r'''
import gc, os, sys
gc.disable()
n = int(sys.argv[1])
class Point:
    def __init__(self, label, x):
        self.label = label
        self.x = x
# 3 objects a record: the dict, its str and its int (ints over 256)
RECORDS = [{"id": i + 1000, "name": "r%d" % i} for i in range(n // 6)]
# 3 objects a point: the instance (its attributes inline, no dict object
# from 3.11 on), its str and its float
POINTS = [Point("p%d" % i, i * 0.5) for i in range(n // 6)]
# a few mid-sized holders, so the tree has more than two big branches
SHARDS = {"shard%d" % k: POINTS[k::50] for k in range(8)}
os.abort()
'''


def rusage_run(argv, stdout=subprocess.DEVNULL):
    """Runs argv; returns (status, wall s, user s, system s, peak RSS bytes)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("bench: %s exited %d: %s" % (" ".join(argv[:3]), p.returncode, err[-500:]))
    return wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss * 1024


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("bench: Chromium is not installed (Debian chromium)")


def open_in_chromium(workdir, url, *args):
    """Headless Chromium on url with no network; returns (wall s, stdout)."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
    t0 = time.monotonic()
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                        "--host-resolver-rules=MAP * ~NOTFOUND",
                        "--user-data-dir=" + profile] + list(args) + [url],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=900)
    wall = time.monotonic() - t0
    shutil.rmtree(profile, ignore_errors=True)
    if p.returncode != 0:
        sys.exit("bench: chromium %s exited %d" % (" ".join(args), p.returncode))
    return wall, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", default="pyenv:3.12")
    ap.add_argument("--objects", type=int, default=10_000_000)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    interp = interpreter(args.python)
    if not interp.path:
        sys.exit("bench: %s" % interp.missing)
    workdir = args.workdir or tempfile.mkdtemp(prefix="pyheapsnap-report-")
    os.makedirs(workdir, exist_ok=True)
    try:
        cores = [f for f in os.listdir(workdir) if f.startswith("core")]
        if cores:
            core = os.path.join(workdir, cores[0])
            print("core: %s (reused), %.0f MiB" % (core, os.path.getsize(core) / 2**20))
        else:
            prog = os.path.join(workdir, "report_heap.py")
            with open(prog, "w") as f:
                f.write(PROGRAM)
            t0 = time.monotonic()
            try:
                core = run_to_core(interp.argv("-I", prog, str(args.objects)), workdir,
                                   interp.environ(), 1800)
            except NoCore as e:
                sys.exit("bench: %s" % e)
            print("core: %s, %.0f MiB, %.1f s to build" % (
                core, os.path.getsize(core) / 2**20, time.monotonic() - t0))
        sys.stdout.flush()
        out = os.path.join(workdir, "report.html")
        wall, user, sys_s, rss = rusage_run([tool, "report", "--json", "-o", out] +
                                            interp.tool_args + [core],
                                            stdout=open(os.path.join(workdir, "stats.json"), "w"))
        with open(os.path.join(workdir, "stats.json")) as f:
            stats = json.load(f)
        size = os.path.getsize(out)
        print("report: %.1f s wall, %.1f s user, %.1f s system, peak RSS %.0f MiB (%.0f B/object)"
              % (wall, user, sys_s, rss / 2**20, rss / max(stats["objects"], 1)))
        print("report: %d objects, %.2f MiB file, %d tree nodes, %d objects grouped into %d groups"
              % (stats["objects"], size / 2**20, stats["tree_nodes"],
                 stats["grouped_objects"], stats["groups"]))
        sys.stdout.flush()
        empty = os.path.join(workdir, "empty.html")
        with open(empty, "w") as f:
            f.write("<!DOCTYPE html><html><body>empty</body></html>")
        base, _ = open_in_chromium(workdir, "file://" + empty, "--dump-dom")
        wall, dom = open_in_chromium(workdir, "file://" + out, "--dump-dom")
        dom = dom.decode("utf-8", errors="replace")
        drawn = len(re.findall(r'<div class="node', dom))
        print("chromium --dump-dom: %.1f s (an empty page: %.1f s), DOM %.2f MiB, %d bars drawn"
              % (wall, base, len(dom) / 2**20, drawn))
        m = re.search(r"Subtrees under [^<]*", dom)
        print("the page says: %s" % (m.group(0) if m else "(nothing about grouping)"))
        shot = os.path.join(workdir, "report.png")
        wall, _ = open_in_chromium(workdir, "file://" + out, "--window-size=1280,1600",
                                   "--screenshot=" + shot)
        print("chromium --screenshot: %.1f s, %d bytes of PNG (%s)" % (
            wall, os.path.getsize(shot), shot if args.keep or args.workdir else "removed"))
        if not m or drawn < 3:
            sys.exit("bench: the page does not say what it grouped, or drew %d bars" % drawn)
    finally:
        # A directory of one's own naming is left as it is.
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
