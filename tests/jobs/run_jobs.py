#!/usr/bin/env python3
"""The same answers whatever the thread count.

    run_jobs.py --tool PATH/TO/pyheapsnap --python SPEC [--label NAME]
                [--keep DIR] [--tool-args ARG ...]

Takes the core of tests/analysis/analysis_program.py (a heap with live and
garbage cycles, objects held only by C code, thread frames) under one
interpreter, and runs on it, with --no-cache, every verb whose work -j
splits across threads: summary (text and --json), top --json, cycles,
cycles --unreachable, suspects, show, path, export as jsonl, heapsnapshot
and speedscope, and snapshot (and summary and export of that snapshot;
and a snapshot of a second heap, whose value texts are large enough for
zstd's workers, and the cache entry summary leaves of it),
once with -j1 and once with -j3 (more threads than this machine's cores,
so that the pieces interleave). Each pair of outputs must be byte for byte
the same, and every run must exit 0. A -j that is not a whole number from
1 to 256 is a usage error (exit 2).

Prints "ok: ..." or "FAIL: ..." for each check, then "N passed, N failed";
exit 0 if all passed, 1 if one failed, 77 when the interpreter or a core
cannot be had here.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (Tally, core_of, parse_runner_args, run_main, tail,  # noqa: E402
                       test_workdir)

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(os.path.dirname(HERE), "analysis", "analysis_program.py")
TIMEOUT = 120
JOBS = ("1", "3")
# A heap whose value texts (about 28 MB) are more than one job of zstd's
# workers (16 MiB), which compress such a section with -j3 and also, one
# worker, with -j1.
BIG_TEXTS = """import os
keep = ["%06d" % i + "x" * 230 for i in range(120000)]
os.abort()
"""


def run_tool(args, argv, workdir):
    """(exit status, stdout bytes, stderr bytes) of pyheapsnap argv."""
    p = subprocess.run([args.tool] + argv + args.tool_args, cwd=workdir,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=args.env, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def same_output(t, args, workdir, name, argv, outfile=None):
    """Runs argv with each of JOBS; the outputs (stdout, or the file
    outfile names, with {j} for the count) must be the same bytes."""
    outs = []
    for j in JOBS:
        full = argv[:1] + ["-j", j] + [a.replace("{j}", j) for a in argv[1:]]
        code, out, err = run_tool(args, full, workdir)
        if code != 0:
            t.fail("%s -j%s: exit %d: %s" % (name, j, code, tail(err, 400)))
            return
        if outfile:
            with open(os.path.join(workdir, outfile.replace("{j}", j)), "rb") as f:
                out = f.read()
        outs.append(out)
    if not outs[0]:
        t.fail("%s: empty output" % name)
    elif outs[0] != outs[1]:
        at = next(i for i in range(min(len(outs[0]), len(outs[1])) + 1)
                  if i >= min(len(outs[0]), len(outs[1])) or outs[0][i] != outs[1][i])
        t.fail("%s: -j%s and -j%s differ (%d and %d bytes, first at byte %d)"
               % (name, JOBS[0], JOBS[1], len(outs[0]), len(outs[1]), at))
    else:
        t.ok("%s: -j%s and -j%s the same (%d bytes)" % (name, JOBS[0], JOBS[1], len(outs[0])))


def main(argv):
    args = parse_runner_args("Check that pyheapsnap's output does not depend on -j.",
                             argv=argv)
    with test_workdir(args, "jobs") as workdir:
        return run(args, workdir)


def run(args, workdir):
    print("jobs %s: %s" % (args.label, args.python))
    truth_path = os.path.join(workdir, "truth.json")
    core = core_of(args.interp, [PROGRAM, truth_path], workdir, timeout=TIMEOUT)
    with open(truth_path) as f:
        truth = json.load(f)
    t = Tally()
    nc = ["--no-cache"]
    holder = hex(truth["holder"]["addr"])
    checks = [
        ("summary", ["summary", core]),
        ("summary --json", ["summary", "--json", core]),
        ("top --json", ["top", "--json", "-n", "30", core]),
        ("cycles", ["cycles", "--json", core]),
        ("cycles --unreachable", ["cycles", "--unreachable", "--json", core]),
        ("suspects", ["suspects", core]),
        ("export jsonl", ["export", "--format", "jsonl", core]),
        ("export heapsnapshot", ["export", "--format", "heapsnapshot", core]),
        ("export speedscope", ["export", "--format", "speedscope", core]),
        ("show", ["show", "--json", core, holder]),
        ("path", ["path", "--json", core, holder]),
    ]
    for name, argv in checks:
        same_output(t, args, workdir, name, argv[:1] + nc + argv[1:])
    same_output(t, args, workdir, "snapshot", ["snapshot"] + nc + [core, "-o", "s{j}.phs"],
                outfile="s{j}.phs")
    big = core_of(args.interp, ["-c", BIG_TEXTS], workdir, timeout=TIMEOUT, subdir="big")
    same_output(t, args, workdir, "snapshot with sections of several zstd jobs",
                ["snapshot"] + nc + [big, "-o", "big{j}.phs"], outfile="big{j}.phs")
    # The cache entry the first verb leaves, written beside its answer
    # (of the second heap: sections of more than one zstd job).
    entries = []
    for j in JOBS:
        cache = os.path.join(workdir, "cache%s" % j)
        os.makedirs(cache, exist_ok=True)
        env = dict(args.env, PYHEAPSNAP_CACHE_DIR=cache)
        p = subprocess.run([args.tool, "summary", "-j", j, big] + args.tool_args, cwd=workdir,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=TIMEOUT)
        names = sorted(f for f in os.listdir(cache) if f.endswith(".phs"))
        if p.returncode != 0 or len(names) != 1:
            t.fail("cache entry -j%s: exit %d, entries %s: %s"
                   % (j, p.returncode, names, tail(p.stderr, 300)))
            break
        with open(os.path.join(cache, names[0]), "rb") as f:
            entries.append(f.read())
    if len(entries) == 2:
        if entries[0] == entries[1]:
            t.ok("cache entry: -j%s and -j%s the same (%d bytes)"
                 % (JOBS[0], JOBS[1], len(entries[0])))
        else:
            t.fail("cache entry: -j%s and -j%s differ (%d and %d bytes)"
                   % (JOBS[0], JOBS[1], len(entries[0]), len(entries[1])))
    # From the snapshot: the heap read from a file, then analysed.
    same_output(t, args, workdir, "summary of the snapshot", ["summary", "s1.phs"])
    same_output(t, args, workdir, "export jsonl of the snapshot",
                ["export", "--format", "jsonl", "s1.phs"])
    for bad in ("0", "x", "257", "-1"):
        code, _, err = run_tool(args, ["summary", "--no-cache", "-j", bad, core], workdir)
        if code == 2 and b"--jobs" in err:
            t.ok("-j %s: usage error" % bad)
        else:
            t.fail("-j %s: exit %d, %s (want 2 and a line about --jobs)"
                   % (bad, code, tail(err, 200)))
    return t.close()


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
