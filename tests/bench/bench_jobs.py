#!/usr/bin/env python3
"""Benchmark of -j: summary, export and snapshot on one thread and on two.

    bench_jobs.py --tool build-rel/cli/pyheapsnap [--python PYTHON]
                  [--sizes 2000000] [--big] [--repeat 3] [--keep DIR]
                  [--verbs summary,export,snapshot]

For each size N (2 million objects, and 10 million with --big), the heap of
bench_scale.py (CPython 3.12, pyenv's unless --python) aborts into a core;
on it `summary --no-cache`, `export --no-cache --format jsonl` (to
/dev/null) and `snapshot --no-cache` run with -j1 and with -j2, alternately,
--repeat times each (--verbs picks among them). For each it prints the
fastest wall time of the runs, and the CPU time (user + system), peak RSS
and peak anonymous RSS (bench_scale.py's: memory no file backs, so not the
core) of that run, the latter per object, and the ratios -j1/-j2;
beside them drgn's bare walk of
the collector's lists (bench_scale.py's), when Debian's python3-drgn is
installed. The load average before and after is printed too: on a shared
machine the second core is often someone else's, and the figures say so.
Numbers, not assertions.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import clean_env, run_to_core  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_scale import PROGRAM, bench_arguments, bench_setup, drgn_walk, run  # noqa: E402


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = bench_arguments(__doc__, "2000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--verbs", default="summary,export,snapshot",
                    help="which of summary, export, snapshot to run")
    ap.add_argument("--keep", metavar="DIR", help="make the cores in DIR and keep them "
                    "(a core already there for a size is used again)")
    args = ap.parse_args()
    tool, python, sizes = bench_setup(args)
    print("interpreter: %s; CPUs: %d available to this process"
          % (python, len(os.sched_getaffinity(0))))
    for n in sizes:
        if args.keep:
            workdir = os.path.join(os.path.abspath(args.keep), str(n))
            os.makedirs(workdir, exist_ok=True)
        else:
            workdir = tempfile.mkdtemp(prefix="pyheapsnap-bench-jobs-")
        try:
            bench_one(tool, python, n, workdir, args.repeat, args.verbs.split(","))
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        sys.stdout.flush()


def make_core(python, n, workdir, env):
    core = os.path.join(workdir, "core")
    if os.path.exists(core):
        return core
    prog = os.path.join(workdir, "bench_heap.py")
    with open(prog, "w") as f:
        f.write(PROGRAM)
    return run_to_core([python, prog, str(n)], workdir, env, timeout=600)


def bench_one(tool, python, n, workdir, repeat, which):
    label = "%dM" % (n // 1000000) if n >= 1000000 else str(n)
    env = clean_env()
    core = make_core(python, n, workdir, env)
    size = os.path.getsize(core)
    snap = os.path.join(workdir, "out.phs")
    verbs = [
        ("summary", ["summary", "--no-cache", core], None),
        ("export --format jsonl", ["export", "--no-cache", core, "--format", "jsonl"],
         os.devnull),
        ("snapshot", ["snapshot", "--no-cache", core, "-o", snap], None),
    ]
    verbs = [v for v in verbs if v[0].split()[0] in which]
    print("\n%s heap: core %.0f MiB; load average before: %s" % (label, size / 2**20, loadavg()))
    print("  %-28s %8s %8s %9s %9s %8s" % ("run (fastest of %d)" % repeat, "wall s", "CPU s",
                                            "peak RSS", "anon", "B/obj"))
    objects = None
    for name, argv, out in verbs:
        best = {}
        for _ in range(repeat):
            for j in ("1", "2"):
                wall, cpu, rss, anon, stdout = run([tool, argv[0], "-j", j] + argv[1:], env,
                                                   stdout=out)
                if j not in best or wall < best[j][0]:
                    best[j] = (wall, cpu, rss, anon)
                if objects is None and name == "summary":
                    for line in stdout.decode(errors="replace").splitlines():
                        if line.startswith("objects:"):
                            objects = int(line.split()[1].replace(",", ""))
        per = objects or n
        for j in ("1", "2"):
            wall, cpu, rss, anon = best[j]
            print("  %-28s %8.2f %8.2f %8.0fM %8.0fM %8.1f" % ("%s -j%s" % (name, j), wall, cpu,
                                                             rss / 2**20, anon / 2**20,
                                                             anon / per))
        print("  %-28s %.2fx wall, %.2fx CPU (-j1 / -j2)"
              % (name + " speed-up", best["1"][0] / best["2"][0], best["1"][1] / best["2"][1]))
        sys.stdout.flush()
    d = drgn_walk(core, env)
    if isinstance(d, str):
        print("  %-28s skipped: %s" % ("drgn walk of the GC lists", d))
    else:
        walked, dcpu, dwall = d
        print("  %-28s %8.2f %8.2f  (%d tracked objects walked)"
              % ("drgn walk of the GC lists", dwall, dcpu, walked))
    print("  load average after: %s" % loadavg())


if __name__ == "__main__":
    main()
