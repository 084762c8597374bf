#!/usr/bin/env python3
"""End-to-end test of frame line numbers: `pyheapsnap stacks CORE` must name
every Python frame of every thread as "NAME (FILE:LINE)" with the line
CPython itself reports.

    test_frame_lines.py --tool PYHEAPSNAP --python PYTHON [--label L]
                        [--keep DIR] [--tool-args ARGS...]

Writes prog.py (below) to a fresh directory and runs it there with
RLIMIT_CORE unlimited.  prog.py starts worker threads that block at known
lines (a plain lock acquire, one after a long function body whose line table
needs multi-byte entries and EXTENDED_ARG, one inside a call spread over
several lines, one inside a running generator, one in threading.Event.wait),
waits until they are all still, records every thread's stack from
sys._current_frames() (name, file, f_lineno, innermost first) to truth.json,
and calls os.abort() three calls deep in the main thread; the kernel writes
a core.  The test then checks:

  * the truth against the "# MARK: name" comments of prog.py, for the lines
    that do not depend on the version (CPython agrees with the source);
  * the stack of every thread in the truth against a thread of
    `pyheapsnap stacks --json CORE`: same frames, same files, same lines.

Exit status 0 pass, 1 fail, 77 skipped (interpreter not installed).
"""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import core_of, parse_runner_args, run_main, test_workdir  # noqa: E402


PROG = r'''
import os
import sys
import threading
import time

lock = threading.Lock()
lock.acquire()
never = threading.Event()
ready = []


def worker(tag):
    ready.append(tag)
    lock.acquire()  # MARK: worker_block


def multiline_call(tag):
    ready.append(tag)
    blocking, timeout = True, -1
    lock.acquire(  # the line of this call differs between versions
        blocking,
        timeout,
    )


def gen_body():
    yield 1
    lock.acquire()  # MARK: gen_block
    yield 2


def gen_worker(tag):
    ready.append(tag)
    for _ in gen_body():  # MARK: gen_caller
        pass


def event_worker(tag):
    ready.append(tag)
    never.wait()  # MARK: event_call


def deep_worker(tag):
    ready.append(tag)
    x = 0
    if tag:
        x = (DEEP_EXPR)
@@FILLER@@
    lock.acquire()  # MARK: deep_block
    return x


def record(path):
    me = threading.get_ident()
    threads = []
    for ident, frame in sys._current_frames().items():
        stack = []
        f = frame
        while f is not None:
            stack.append([f.f_code.co_name,
                          os.path.basename(f.f_code.co_filename),
                          f.f_lineno, f.f_lasti])
            f = f.f_back
        threads.append({"ident": ident, "main": ident == me, "stack": stack})
    return threads


def level3(path):
    threads = record(path)
    for t in threads:
        if t["main"]:
            # Innermost: level3 itself, which will be at the abort by then.
            assert t["stack"][0][0] == "record", t["stack"]
            t["stack"].pop(0)
            assert t["stack"][0][0] == "level3", t["stack"]
            t["stack"][0][2] = ABORT_LINE
            t["stack"][0][3] = None
    with open(path, "w") as out:
        json.dump({"version": sys.version, "threads": threads}, out)
    os.abort()  # MARK: abort


def level2(path):
    level3(  # MARK: level2_call
        path)


def level1(path):
    return level2(path)  # MARK: level1_call


def still(workers):
    """The top frames of the workers, to see them stop moving."""
    frames = sys._current_frames()
    return [(frames[t.ident].f_code.co_name, frames[t.ident].f_lasti)
            for t in workers if t.ident in frames]


def main(path):
    targets = [worker, multiline_call, gen_worker, event_worker, deep_worker]
    workers = [threading.Thread(target=fn, args=(fn.__name__,), daemon=True)
               for fn in targets]
    for t in workers:
        t.start()
    deadline = time.time() + 60
    while len(ready) < len(workers) and time.time() < deadline:
        time.sleep(0.01)
    # Blocked threads do not move: wait for three equal looks in a row.
    prev, same = None, 0
    while same < 3 and time.time() < deadline:
        time.sleep(0.05)
        cur = still(workers)
        same = same + 1 if cur == prev and len(cur) == len(workers) else 0
        prev = cur
    level1(path)  # MARK: main_call


import json
main(sys.argv[1])  # MARK: module_call
'''


def make_prog():
    """prog.py's text and its marks (name -> line)."""
    deep_expr = " + ".join("x * %d" % k for k in range(1, 60))
    filler = "    # a comment line that moves the next statement far down\n" * 200
    text = PROG.lstrip("\n").replace("DEEP_EXPR", deep_expr)
    text = text.replace("@@FILLER@@\n", filler)
    marks = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = re.search(r"# MARK: (\w+)", line)
        if m:
            marks[m.group(1)] = n
    text = text.replace("ABORT_LINE", str(marks["abort"]))
    return text, marks


FRAME_RE = re.compile(r"^(.*) \(([^():]*)(?::(\d+))?\)$")


def parse_frame(desc):
    m = FRAME_RE.match(desc)
    if not m:
        return [desc, None, None]
    return [m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None]


def fmt(stack):
    return "\n".join("      %s (%s:%s)" % (f[0], f[1], f[2]) for f in stack)


def check_marks(truth, marks, problems):
    """CPython's own f_lineno agrees with the marks it must agree with."""
    want = {
        "worker": ("worker", marks["worker_block"]),
        "gen_worker": ("gen_body", marks["gen_block"]),
        "event_worker": ("event_worker", marks["event_call"]),
        "deep_worker": ("deep_worker", marks["deep_block"]),
    }
    found = set()
    for t in truth["threads"]:
        names = [f[0] for f in t["stack"]]
        if t["main"]:
            exp = [("level3", marks["abort"]), ("level2", None),
                   ("level1", marks["level1_call"]), ("main", marks["main_call"]),
                   ("<module>", marks["module_call"])]
            for (name, line), f in zip(exp, t["stack"]):
                if f[0] != name or (line is not None and f[2] != line):
                    problems.append("truth: main thread frame %s at line %s, expected %s "
                                    "at %s" % (f[0], f[2], name, line))
            # level2's call spans two lines; CPython says one of them.
            if len(t["stack"]) > 1 and t["stack"][1][2] not in (
                    marks["level2_call"], marks["level2_call"] + 1):
                problems.append("truth: level2 at line %s" % t["stack"][1][2])
            found.add("main")
            continue
        for key, (name, line) in want.items():
            if key in names:
                found.add(key)
                f = t["stack"][names.index(name)] if name in names else None
                if f is None or f[2] != line:
                    problems.append("truth: %s thread: %s at line %s, expected %s"
                                    % (key, name, f and f[2], line))
                if key == "gen_worker":
                    g = t["stack"][names.index("gen_worker")]
                    if g[2] != marks["gen_caller"]:
                        problems.append("truth: gen_worker at line %s, expected %s"
                                        % (g[2], marks["gen_caller"]))
        if "multiline_call" in names:
            found.add("multiline_call")
    for key in list(want) + ["main", "multiline_call"]:
        if key not in found:
            problems.append("truth: no thread for %s" % key)


def main(argv):
    args = parse_runner_args("Check the line of every frame `pyheapsnap stacks` gives.",
                             argv=argv)
    with test_workdir(args, "lines") as workdir:
        return run(args, args.label, args.tool, workdir)


def run(args, label, tool, workdir):
    text, marks = make_prog()
    prog = os.path.join(workdir, "prog.py")
    with open(prog, "w") as f:
        f.write(text)
    truth_path = os.path.join(workdir, "truth.json")
    core = core_of(args.interp, [prog, truth_path], workdir)
    if not os.path.isfile(truth_path):
        print("FAIL: prog.py wrote no truth")
        return 1
    with open(truth_path) as f:
        truth = json.load(f)
    print("%s: %s, core %s" % (label, truth["version"].split()[0], core))

    problems = []
    check_marks(truth, marks, problems)

    cmd = [tool, "stacks", "--json", core] + args.tool_args
    r = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=240)
    if r.returncode != 0:
        print("FAIL: %s exited with %d\n%s" % (" ".join(cmd), r.returncode,
                                              r.stderr.decode(errors="replace")))
        return 1
    got = json.loads(r.stdout.decode())
    core_threads = [[parse_frame(fr["frame"]) for fr in t["frames"]]
                    for t in got["threads"]]

    used = set()
    for t in truth["threads"]:
        want = [f[:3] for f in t["stack"]]
        match = None
        for i, ct in enumerate(core_threads):
            if i not in used and ct == want:
                match = i
                break
        who = "main thread" if t["main"] else "thread %d" % t["ident"]
        if match is None:
            # The closest thread: the one sharing the most (name, file) pairs.
            best = max(range(len(core_threads)), default=None,
                       key=lambda i: sum(1 for a, b in zip(core_threads[i], want)
                                         if a[:2] == b[:2]))
            problems.append("%s: no thread in the core with this stack:\n%s\n"
                            "    closest in the core:\n%s"
                            % (who, fmt(want),
                               fmt(core_threads[best]) if best is not None else "      -"))
        else:
            used.add(match)
            print("  %s: %d frames match, innermost %s (%s:%s)"
                  % (who, len(want), want[0][0], want[0][1], want[0][2]))

    if problems:
        print("FAIL (%s):" % label)
        for pr in problems:
            print("  " + pr)
        if not args.keep:
            print("(rerun with --keep DIR to keep the core)")
        return 1
    print("PASS (%s): %d threads" % (label, len(truth["threads"])))
    return 0


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
