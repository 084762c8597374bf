#!/usr/bin/env python3
"""Benchmarks: wall time and peak RSS of pyheapsnap on big heaps.

    run_bench.py --tool build/cli/pyheapsnap [--python PYTHON] [--sizes 1000000,10000000]

For each size N, a Python program builds a heap of about N objects (tuples
of an int and a str, in a list, plus a dict of instances), aborts into a
core, and pyheapsnap's `summary` (which includes the dominator tree and
cycle search), `export` and `top` (dominators and retained sizes) are
timed on that core; then a snapshot of it is written (bytes per object on
disk), read back by `summary`, and diffed with itself by type and by path. Prints
one row per run: objects found, wall seconds, peak RSS, bytes of RSS per
object, and the core's size. Numbers, not assertions: run it on a quiet
machine and read them with its noise in mind.
"""
import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PROGRAM = r'''
import gc, os, sys
gc.disable()
n = int(sys.argv[1])
class Item:
    __slots__ = ("key", "value")
    def __init__(self, key, value):
        self.key = key
        self.value = value
# about 3 objects per row: tuple, str, int (ints < 257 are shared)
rows = [(i + 1000, "row-%d" % i) for i in range(n // 4)]
# about 3 objects per item: Item, str, float
items = {i: Item("k%d" % i, i * 0.5) for i in range(n // 12)}
os.abort()
'''


def make_core(python, n, workdir):
    prog = os.path.join(workdir, "bench_heap.py")
    with open(prog, "w") as f:
        f.write(PROGRAM)

    def limits():
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    t0 = time.monotonic()
    p = subprocess.run([python, prog, str(n)], cwd=workdir, preexec_fn=limits)
    if p.returncode != -signal.SIGABRT:
        sys.exit("bench: the heap program did not abort (status %d)" % p.returncode)
    for name in ("core", "core.%d" % p.pid if hasattr(p, "pid") else "core"):
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            return path, time.monotonic() - t0
    cores = [f for f in os.listdir(workdir) if f.startswith("core")]
    if not cores:
        sys.exit("bench: no core written (check kernel.core_pattern and ulimit -c)")
    return os.path.join(workdir, cores[0]), time.monotonic() - t0


def measure(argv, stdout=subprocess.DEVNULL):
    """Runs argv in a child and returns (status, wall seconds, peak RSS bytes)."""
    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if stdout is subprocess.DEVNULL:
                fd = os.open(os.devnull, os.O_WRONLY)
                os.dup2(fd, 1)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(w)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    os.close(r)
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss * 1024


def model_facts(tool, core):
    """Objects, edges and the bytes pyheapsnap's own arrays hold at rest."""
    import json
    out = subprocess.run([tool, "summary", "--json", core], stdout=subprocess.PIPE,
                         check=True).stdout
    d = json.loads(out)
    return d["objects"], d["edges"], d["model_bytes"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--keep", action="store_true", help="keep the cores")
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    print("%-10s %-24s %12s %9s %10s %9s %10s" %
          ("heap", "run", "objects", "wall s", "peak RSS", "B/object", "core"))
    for n in [int(s) for s in args.sizes.split(",")]:
        workdir = tempfile.mkdtemp(prefix="pyheapsnap-bench-")
        try:
            core, made = make_core(args.python, n, workdir)
            size = os.path.getsize(core)
            objects, edges, model = model_facts(tool, core)
            print("%-10s model: %d objects, %d edges, %.1f bytes/object + 8 per edge at rest" %
                  ("", objects, edges, (model - 8 * edges) / max(objects, 1)))
            snap = os.path.join(workdir, "heap.phs")
            label = "%dM" % (n // 1000000) if n >= 1000000 else str(n)
            views = {k: os.path.join(workdir, k) for k in ("heapsnapshot", "speedscope", "report")}
            runs = (("summary", [core]), ("export", [core, "--format", "jsonl"]),
                    ("top", [core, "-n", "10"]), ("snapshot", [core, "-o", snap]),
                    ("summary", [snap]), ("diff", [snap, snap]),
                    ("diff", [snap, snap, "--by", "path"]),
                    ("export", [snap, "--format", "heapsnapshot", "-o", views["heapsnapshot"]]),
                    ("export", [snap, "--format", "speedscope", "-o", views["speedscope"]]),
                    ("report", [snap, "-o", views["report"]]))
            for verb, rest in runs:
                status, wall, rss = measure([tool, verb] + rest)
                if status != 0:
                    sys.exit("bench: %s exited with %d" % (verb, status))
                what = verb + (" (snapshot)" if rest[0] == snap and verb != "diff" else "")
                if "--format" in rest and rest[rest.index("--format") + 1] != "jsonl":
                    what = rest[rest.index("--format") + 1] + (" (snapshot)" if rest[0] == snap
                                                               else "")
                if verb == "diff":
                    what = "diff --by " + (rest[-1] if "--by" in rest else "type")
                print("%-10s %-24s %12d %9.2f %9.0fM %9.1f %9.0fM" %
                      (label, what, objects, wall, rss / 2**20, rss / max(objects, 1),
                       size / 2**20))
                sys.stdout.flush()
            snap_size = os.path.getsize(snap)
            print("%-10s snapshot: %d bytes, %.2f bytes/object on disk" %
                  (label, snap_size, snap_size / max(objects, 1)))
            print("%-10s heapsnapshot %.0fM, speedscope %.1fM, report %.1fM" %
                  (label, os.path.getsize(views["heapsnapshot"]) / 2**20,
                   os.path.getsize(views["speedscope"]) / 2**20,
                   os.path.getsize(views["report"]) / 2**20))
        finally:
            if args.keep:
                print("kept", workdir)
            else:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
