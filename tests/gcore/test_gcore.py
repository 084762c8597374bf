#!/usr/bin/env python3
"""Tests of `pyheapsnap gcore` (cli/gcore.c, formats/gcore.c).

    test_gcore.py --tool PATH/TO/pyheapsnap [--python PATH ...] [--gdb PATH]

For every installed interpreter ($(pyenv root)/versions/3.X.*/bin/python3.X
for 3.8 to 3.13, newest patch release, /usr/bin/python3.11, and Debian sid's
3.14, 3.14d, 3.15 and 3.15d (tests/debian_sid.py); missing ones
are reported and skipped) a program builds a heap, starts two threads and
waits on stdin. Then, while it waits:

  * `pyheapsnap export --pid PID` first, then `pyheapsnap gcore --pid PID
    -o CORE --json`: the JSON has output, pid, pause_ns > 0, bytes (the
    size of CORE, which is mode 0600) and threads (3);
  * `pyheapsnap export CORE` equals the --pid export line for line: the
    same objects at the same addresses, with the same types, sizes,
    refcounts, generations and references;
  * `gdb -batch -ex 'info threads' -ex 'bt' EXE CORE` lists 3 threads and
    a backtrace down to main, with no error;
  * `pyheapsnap gcore CORE -o CORE2` writes the same bytes again;

and afterwards the program runs on, answers "done" and exits 0.

With the first interpreter found, also: a pid that does not exist exits 3
with one line; -o into a directory that does not exist exits 3, names the
path, leaves nothing behind and the program runs on; no -o exits 2.

Exit status: 0 if all passed, 1 if any failed, 77 (meson's "skipped") if no
interpreter is installed or ptrace is not allowed here.
"""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (Skip, Tally, Target, chosen_interpreters, clean_env, proc_state,  # noqa: E402
                       run_main)

EXIT_OK, EXIT_FAIL = 0, 1
NTHREADS = 2

PROGRAM = r'''
import gc, json, os, sys, threading

gc.disable()
N = int(sys.argv[1])


class Node:
    def __init__(self, i, prev):
        self.i = i
        self.prev = prev
        self.name = "node-%d" % i


prev = None
nodes = []
for i in range(N):
    prev = Node(i, prev)
    nodes.append(prev)
table = {("k", i): [i, float(i), str(i)] for i in range(N // 10)}
blob = bytes(range(256)) * 64
event = threading.Event()
ready = threading.Barrier(3)


def worker():
    ready.wait()
    event.wait()


threads = [threading.Thread(target=worker, name="worker-%d" % k, daemon=True)
           for k in range(2)]
for t in threads:
    t.start()
ready.wait()
sys.stdout.write(json.dumps({"pid": os.getpid()}) + "\n")
sys.stdout.flush()
sys.stdin.readline()
event.set()
for t in threads:
    t.join()
sys.stdout.write("done\n")
sys.stdout.flush()
'''

tally = Tally()
ok, fail = tally.ok, tally.fail


def run(args, timeout=300, **kw):
    p = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, **kw)
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


def one_line_error(label, what, rc, err, want_rc, must_name=None):
    lines = [l for l in err.splitlines() if l.strip()]
    # A usage error adds "Try 'pyheapsnap gcore --help'".
    if want_rc == 2 and len(lines) == 2 and lines[1].startswith("Try "):
        lines = lines[:1]
    problems = []
    if rc != want_rc:
        problems.append("exit %d, not %d" % (rc, want_rc))
    if len(lines) != 1 or not lines[0].startswith("pyheapsnap: "):
        problems.append("stderr is not one 'pyheapsnap: ' line: %r" % err[-500:])
    if must_name and must_name not in err:
        problems.append("the message does not name %r: %r" % (must_name, err[-300:]))
    if problems:
        fail("%s: %s: %s" % (label, what, "; ".join(problems)))
    else:
        ok("%s: %s: exit %d, %s" % (label, what, rc, lines[0]))


def compare_exports(label, live, core):
    a, b = live.splitlines(), core.splitlines()
    if not a:
        fail("%s: the --pid export is empty" % label)
        return
    if a == b:
        ok("%s: export of the core equals export --pid: %d objects, object "
           "for object" % (label, len(a) - 1))
        return
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            fail("%s: export of the core differs from export --pid at line %d:\n"
                 "    --pid: %s\n    core:  %s" % (label, i + 1, x[:300], y[:300]))
            return
    fail("%s: export of the core has %d lines, export --pid %d"
         % (label, len(b), len(a)))


# What gdb says of a core it cannot read well: anywhere on stderr, or in
# the backtrace on stdout (whose frames may name arguments like "errors").
GDB_ERRORS = re.compile(r"cannot access memory|backtrace stopped|not a core dump|"
                        r"is truncated|error|could not|couldn't|unable to|"
                        r"failed|corrupt|no stack|not in executable format",
                        re.I)
GDB_STDOUT_ERRORS = re.compile(r"cannot access memory|backtrace stopped|"
                               r"^warning:|^error", re.I)


def check_gdb(label, gdb, exe, core, debug_dir=None):
    env = dict(clean_env(), DEBUGINFOD_URLS="")
    # An interpreter of its own root (sid's) keeps its debug files and its
    # libthread_db there.
    root = os.path.dirname(os.path.dirname(os.path.dirname(debug_dir))) if debug_dir else None
    own = ["-iex", "set debug-file-directory " + debug_dir,
           "-iex", "set auto-load safe-path " + root,
           "-iex", "set libthread-db-search-path "
           + os.path.join(root, "usr", "lib", "x86_64-linux-gnu")] if root else []
    rc, out, err = run([gdb, "-nx", "-batch",
                        "-iex", "set auto-load python-scripts off",
                        "-iex", "set debuginfod enabled off"] + own + [
                        "-ex", "info threads", "-ex", "bt", exe, core],
                       timeout=300, env=env)
    text = out + err
    threads = re.findall(r"^\*?\s+\d+\s+(?:Thread|LWP)\b.*$", out, re.M)
    frames = re.findall(r"^#(\d+)\s", out, re.M)
    bad = [l for l in err.splitlines() if GDB_ERRORS.search(l)]
    bad += [l for l in out.splitlines() if GDB_STDOUT_ERRORS.search(l)]
    # Source files that are not installed are not errors.
    bad = [l for l in bad if "No such file or directory" not in l]
    # Nor, for an interpreter on a libc of its own (sid's glibc, newer than
    # the system's gdb knows), gdb's failing to pair that libc with a
    # libthread_db: it lists the threads by their LWPs all the same.
    if root:
        bad = [l for l in bad if "Unable to find libthread_db matching" not in l]
    problems = []
    if rc != 0:
        problems.append("gdb exited %d" % rc)
    if len(threads) != NTHREADS + 1:
        problems.append("info threads lists %d threads, not %d"
                        % (len(threads), NTHREADS + 1))
    if len(frames) < 3 or not re.search(r"^#\d+\s.*\bmain\b", out, re.M):
        problems.append("the backtrace does not reach main (%d frames)" % len(frames))
    if bad:
        problems.append("errors: %s" % " | ".join(bad[:5]))
    if problems:
        fail("%s: gdb on the core: %s\n%s" % (label, "; ".join(problems),
                                              text[-2000:]))
    else:
        ok("%s: gdb reads the core: %d threads, a backtrace of %d frames down "
           "to main, no error" % (label, len(threads), len(frames)))


def check_interpreter(interp, tool, gdb, workdir, extra):
    label = interp.label
    targs = interp.tool_args
    target = Target(interp, PROGRAM, [20000], workdir, name="gcore_program.py")
    try:
        live_out = os.path.join(workdir, "live.jsonl")
        rc, _, err = run([tool, "export", "--pid", target.pid, "-o", live_out] + targs)
        if rc != 0:
            if "not permitted" in err:
                raise Skip("ptrace is not allowed here: " + err.strip())
            fail("%s: export --pid failed (%d): %s" % (label, rc, err.strip()))
            return
        core = os.path.join(workdir, "core.%d" % target.pid)
        rc, out, err = run([tool, "gcore", "--pid", target.pid, "-o", core, "--json"])
        if rc != 0:
            fail("%s: gcore --pid failed (%d): %s" % (label, rc, err.strip()))
            return
        try:
            d = json.loads(out)
        except ValueError:
            fail("%s: gcore --json printed %r" % (label, out[:300]))
            return
        problems = []
        if set(d) != {"output", "pid", "pause_ns", "bytes", "threads", "consistent"}:
            problems.append("keys %s" % sorted(d))
        if d.get("consistent") is not True:
            problems.append("consistent %r for a stopped capture" % d.get("consistent"))
        if d.get("output") != core:
            problems.append("output %r" % d.get("output"))
        if d.get("pid") != target.pid:
            problems.append("pid %r, not %d" % (d.get("pid"), target.pid))
        if not isinstance(d.get("pause_ns"), int) or d["pause_ns"] <= 0:
            problems.append("pause_ns %r" % d.get("pause_ns"))
        if d.get("threads") != NTHREADS + 1:
            problems.append("threads %r, not %d" % (d.get("threads"), NTHREADS + 1))
        try:
            st = os.stat(core)
            if d.get("bytes") != st.st_size:
                problems.append("bytes %r, the file has %d" % (d.get("bytes"), st.st_size))
            if stat.S_IMODE(st.st_mode) != 0o600:
                problems.append("mode %o, not 600" % stat.S_IMODE(st.st_mode))
        except OSError as e:
            problems.append("no core written: %s" % e)
        if problems:
            fail("%s: gcore --json: %s" % (label, "; ".join(problems)))
            return
        ok("%s: gcore --pid: %d bytes, %d threads, paused %.2f ms"
           % (label, d["bytes"], d["threads"], d["pause_ns"] / 1e6))
        leftovers = [f for f in os.listdir(workdir) if f.endswith(".tmp")]
        if leftovers:
            fail("%s: temporary files left behind: %s" % (label, leftovers))

        rc, core_export, err = run([tool, "export", core] + targs)
        if rc != 0:
            fail("%s: export of the core failed (%d): %s" % (label, rc, err.strip()))
        else:
            with open(live_out) as f:
                compare_exports(label, f.read(), core_export)

        if gdb:
            # The interpreter, not the ld.so that launched sid's.
            exe = interp.path if interp.debug_dir else \
                os.path.realpath("/proc/%d/exe" % target.pid)
            check_gdb(label, gdb, exe, core, interp.debug_dir)

        core2 = core + ".again"
        rc, _, err = run([tool, "gcore", core, "-o", core2])
        if rc != 0:
            fail("%s: gcore CORE -o CORE2 failed (%d): %s" % (label, rc, err.strip()))
        else:
            with open(core, "rb") as f1, open(core2, "rb") as f2:
                same = f1.read() == f2.read()
            if same:
                ok("%s: gcore of the core writes the same bytes again" % label)
            else:
                fail("%s: gcore of the core writes other bytes" % label)
            os.unlink(core2)

        if extra:
            check_errors(label, tool, target, workdir)
        os.unlink(core)
        target.finish(label, ok, fail, after="gcore")
    finally:
        target.kill()


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    return pid_max + 1


def check_errors(label, tool, target, workdir):
    pid = unused_pid()
    rc, _, err = run([tool, "gcore", "--pid", pid, "-o", os.path.join(workdir, "x")])
    one_line_error(label, "gcore --pid of a pid that does not exist", rc, err, 3)

    missing = os.path.join(workdir, "no-such-dir", "core")
    rc, _, err = run([tool, "gcore", "--pid", target.pid, "-o", missing])
    one_line_error(label, "gcore -o into a missing directory", rc, err, 3,
                   must_name=missing)
    if os.path.exists(os.path.dirname(missing)):
        fail("%s: gcore made the missing directory" % label)
    state, _ = proc_state(target.pid)
    if state is None or state in "tT":
        fail("%s: the program is %s after a failed gcore"
             % (label, "gone" if state is None else "stopped"))

    rc, _, err = run([tool, "gcore", "--pid", target.pid])
    one_line_error(label, "gcore without -o", rc, err, 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", action="append", default=[])
    ap.add_argument("--gdb", default=shutil.which("gdb"))
    args = ap.parse_args()

    present = chosen_interpreters(args.python)
    if not args.gdb:
        print("skip: gdb is not installed (apt-get install gdb): its checks are "
              "left out", flush=True)
    workdir = tempfile.mkdtemp(prefix="pyhs-gcore-")
    try:
        for i, interp in enumerate(present):
            label = interp.label
            try:
                check_interpreter(interp, args.tool, args.gdb, workdir,
                                  extra=(i == 0))
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                fail("%s: %s" % (label, e))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return EXIT_FAIL if tally.close() else EXIT_OK


if __name__ == "__main__":
    run_main(main)
