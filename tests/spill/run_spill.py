#!/usr/bin/env python3
"""A heap kept in a file answers as one kept in memory.

    run_spill.py --tool PATH/TO/pyheapsnap --python SPEC [--label NAME]
                 [--keep DIR] [--tool-args ARG ...]

Takes the core of tests/analysis/analysis_program.py under one
interpreter and runs on it, with --no-cache, the verbs that read every
column of the heap: summary (text and --json), top --json, cycles --json,
suspects, show, path, memory --json, export as jsonl and heapsnapshot, and
snapshot. Each runs with --spill-above 1 (its columns written to an
unlinked file in $TMPDIR and mapped from there) and with --no-spill; the
outputs must be the same bytes and every run must exit 0.

Under strace, it checks that --spill-above 1 makes an unnamed file in the
$TMPDIR it is given and maps it (and --no-spill does neither), that
nothing is left in that directory afterwards, and that a file system that
takes only part of the columns (RLIMIT_FSIZE) keeps the
rest in memory with the same answers and no warning, and is not ended by
SIGXFSZ. A $TMPDIR in memory
(tmpfs) is opened and never mapped. A --spill-above that is not a size of
1 byte or more is a usage error (exit 2).

Prints "ok: ..." or "FAIL: ..." for each check, then "N passed, N failed";
exit 0 if all passed, 1 if one failed, 77 when the interpreter or a core
cannot be had here.
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (Tally, core_of, parse_runner_args, run_main, tail,  # noqa: E402
                       test_workdir)

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(os.path.dirname(HERE), "analysis", "analysis_program.py")
TIMEOUT = 120
SPILL = ["--spill-above", "1"]
KEEP = ["--no-spill"]


def run_tool(args, argv, workdir, tmpdir, prefix=(), fsize=None):
    """(exit status, stdout bytes, stderr bytes) of pyheapsnap argv with
    TMPDIR=tmpdir, after prefix (strace ...); fsize: the largest file the
    tool may write, a multiple of 512 (RLIMIT_FSIZE, set by a shell for the
    tool alone: writing past it would end the tool with SIGXFSZ)."""
    env = dict(args.env, TMPDIR=tmpdir)
    if prefix:
        # LeakSanitizer cannot work under ptrace.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    cmd = [args.tool] + argv + args.tool_args
    if fsize is not None:
        cmd = ["sh", "-c", 'ulimit -f %d && exec "$@"' % (fsize // 512), "sh"] + cmd
    p = subprocess.run(list(prefix) + cmd, cwd=workdir,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def spill_calls(trace, tmpdir):
    """(whether an unnamed file was made in tmpdir, how many private
    mappings of it, how many shared) in an strace -f -e trace=openat,mmap
    log."""
    fds, maps, shared = set(), 0, 0
    for line in trace.splitlines():
        m = re.search(r'openat\(AT_FDCWD, "([^"]*)", [^)]*O_TMPFILE[^)]*\) = (\d+)', line)
        if m and os.path.realpath(m.group(1)) == os.path.realpath(tmpdir):
            fds.add(m.group(2))
            continue
        m = re.search(r"mmap\(NULL, \d+, [A-Z_|]+, (MAP_PRIVATE|MAP_SHARED), (\d+), ", line)
        if m and m.group(2) in fds:
            if m.group(1) == "MAP_SHARED":
                shared += 1
            else:
                maps += 1
    return bool(fds), maps, shared


def main(argv):
    args = parse_runner_args("Check that a heap kept in a file answers as one in memory.",
                             argv=argv)
    with test_workdir(args, "spill") as workdir:
        return run(args, workdir)


def run(args, workdir):
    print("spill %s: %s" % (args.label, args.python))
    truth_path = os.path.join(workdir, "truth.json")
    core = core_of(args.interp, [PROGRAM, truth_path], workdir, timeout=TIMEOUT)
    with open(truth_path) as f:
        truth = json.load(f)
    tmpdir = os.path.join(workdir, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    t = Tally()
    nc = ["--no-cache"]
    holder = hex(truth["holder"]["addr"])
    checks = [
        ("summary", ["summary", core]),
        ("summary --json", ["summary", "--json", core]),
        ("top --json", ["top", "--json", "-n", "30", core]),
        ("cycles", ["cycles", "--json", core]),
        ("suspects", ["suspects", core]),
        ("show", ["show", "--json", core, holder]),
        ("path", ["path", "--json", core, holder]),
        ("memory --json", ["memory", "--json", core]),
        ("export jsonl", ["export", "--format", "jsonl", core]),
        ("export heapsnapshot", ["export", "--format", "heapsnapshot", core]),
        ("snapshot", ["snapshot", core, "-o", "s{mode}.phs"]),
    ]
    for name, argv in checks:
        outs = []
        for mode, extra in (("spill", SPILL), ("keep", KEEP)):
            full = argv[:1] + nc + extra + [a.replace("{mode}", mode) for a in argv[1:]]
            code, out, err = run_tool(args, full, workdir, tmpdir)
            if code != 0:
                t.fail("%s %s: exit %d: %s" % (name, " ".join(extra), code, tail(err, 400)))
                break
            if "-o" in argv:
                with open(os.path.join(workdir, "s%s.phs" % mode), "rb") as f:
                    out = f.read()
            outs.append(out)
        if len(outs) < 2:
            continue
        if not outs[0]:
            t.fail("%s: empty output" % name)
        elif outs[0] != outs[1]:
            t.fail("%s: --spill-above 1 and --no-spill differ (%d and %d bytes)"
                   % (name, len(outs[0]), len(outs[1])))
        else:
            t.ok("%s: --spill-above 1 and --no-spill the same (%d bytes)" % (name, len(outs[0])))

    summary = ["summary", "--json"] + nc
    code, kept, err = run_tool(args, summary + KEEP + [core], workdir, tmpdir)
    if code != 0:
        t.fail("summary --no-spill: exit %d: %s" % (code, tail(err, 400)))
        return t.close()
    nobjects = json.loads(kept)["objects"]
    strace = shutil.which("strace")
    if not strace:
        t.fail("strace is not installed (.ci/deps installs it)")
        return t.close()
    log = os.path.join(workdir, "strace.log")
    trace_prefix = [strace, "-f", "-qq", "-o", log, "-e", "trace=openat,mmap"]

    def traced(extra, fsize=None, where=tmpdir):
        code, out, err = run_tool(args, summary + extra + [core], workdir, where,
                                  prefix=trace_prefix, fsize=fsize)
        with open(log) as f:
            return code, out, err, spill_calls(f.read(), where)

    code, out, err, (made, maps, shared) = traced(SPILL)
    # Addresses, types, sizes, refcounts, generations, flags, value
    # offsets: each of a page or more is a private mapping; the value
    # texts, written in place, the one shared mapping.
    if code == 0 and made and maps >= 5 and shared == 1 and out == kept:
        t.ok("--spill-above 1: an unnamed file in $TMPDIR, %d columns mapped from it "
             "and the value texts written in it, the same summary" % maps)
    else:
        t.fail("--spill-above 1: exit %d, file made %s, %d mappings, %d shared, summary %s: %s"
               % (code, made, maps, shared, "same" if out == kept else "differs",
                  tail(err, 300)))
    left = os.listdir(tmpdir)
    if left:
        t.fail("left in $TMPDIR: %s" % ", ".join(left))
    else:
        t.ok("nothing left in $TMPDIR")
    code, out, err, (made, maps, shared) = traced(KEEP)
    if code == 0 and not made and not maps and not shared and out == kept:
        t.ok("--no-spill: no file made")
    else:
        t.fail("--no-spill: exit %d, file made %s, %d mappings" % (code, made, maps))

    # Room for the addresses (8 bytes an object, to a whole page) and a
    # page: the types do not fit, and neither does anything after them.
    fsize = (8 * nobjects + 4095) // 4096 * 4096 + 4096
    code, out, err, (made, maps, shared) = traced(SPILL, fsize=fsize)
    if code == 0 and made and maps == 1 and not shared and out == kept and json.loads(out)["warnings"]["count"] == 0:
        t.ok("a file system with room for one column (%d bytes): it alone mapped, "
             "the same summary, no warning" % fsize)
    else:
        t.fail("room for one column (%d bytes): exit %d, %d mappings, summary %s: %s"
               % (fsize, code, maps, "same" if out == kept else "differs", tail(err, 300)))
    code, out, err, (made, maps, shared) = traced(SPILL, fsize=512)
    if code == 0 and not maps and not shared and out == kept:
        t.ok("a file system with no room: nothing mapped, the same summary")
    else:
        t.fail("no room: exit %d, %d mappings, summary %s: %s"
               % (code, maps, "same" if out == kept else "differs", tail(err, 300)))

    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and \
            subprocess.run(["stat", "-f", "-c", "%T", shm], stdout=subprocess.PIPE,
                           text=True).stdout.strip() == "tmpfs":
        code, out, err, (made, maps, shared) = traced(SPILL, where=shm)
        if code == 0 and made and not maps and not shared and out == kept:
            t.ok("a $TMPDIR in memory (%s): opened, nothing mapped" % shm)
        else:
            t.fail("$TMPDIR %s: exit %d, file made %s, %d mappings" % (shm, code, made, maps))
    else:
        print("note: no writable tmpfs at %s; the check of a $TMPDIR in memory "
              "is not made" % shm, flush=True)

    for bad in ("0", "x", "-1", "1Q"):
        code, _, err = run_tool(args, ["summary", "--no-cache", "--spill-above", bad, core],
                                workdir, tmpdir)
        if code == 2 and b"--spill-above" in err:
            t.ok("--spill-above %s: usage error" % bad)
        else:
            t.fail("--spill-above %s: exit %d, %s (want 2 and a line about --spill-above)"
                   % (bad, code, tail(err, 200)))
    return t.close()


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
