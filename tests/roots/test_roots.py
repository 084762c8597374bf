#!/usr/bin/env python3
"""Roots as data: threads, frames and their locals as the heap holds them.

    test_roots.py --tool PYHEAPSNAP --python PYTHON [--label NAME]

roots_program.py runs a worker thread whose name is longer than 40
characters and a main thread whose frame serve() holds a local history of
N items, and aborts at one of two lines of serve. Checks:

1. stacks, in text and JSON, name the worker thread whole, with its frame
   worker() and its local thread_payload;
2. path --json of thread_payload gives the root as data: kind frame_local,
   the thread's index and whole name, the function, the file and the depth;
3. diff --by path of a core with 3,000 items (serve at one line) and one
   with 6,000 (serve at another) gives one row of exactly +3,000 items
   under serve's local history, and no negative row;
4. the same diff between snapshots gives the same rows.

Exit 77 when the interpreter is not installed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import NoCore, fail, ok, parse_runner_args, run_to_core, verdict  # noqa: E402

LONG_NAME = "ThreadPoolExecutor-0_0-long-name-of-a-worker-thread"
PROGRAM = os.path.join(HERE, "roots_program.py")


def tool(args, *argv):
    p = subprocess.run([args.tool] + list(argv) + args.tool_args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                                 p.stderr.decode(errors="replace")[:500]))
    return p.stdout.decode()


def core(args, work, name, n, at):
    d = os.path.join(work, name)
    os.makedirs(d)
    return run_to_core(args.interp.argv("-I", PROGRAM, str(n), at), d,
                       args.interp.environ(), 120)


def check_stacks(args, a):
    text = tool(args, "stacks", a)
    header = [line for line in text.splitlines() if line.startswith("thread ")]
    if any(line.endswith("(%s)" % LONG_NAME) for line in header):
        ok("stacks names the thread whole: %r" % [h for h in header if LONG_NAME in h][0])
    else:
        fail("stacks does not name the thread %r whole; thread lines: %r" % (LONG_NAME, header))
    threads = json.loads(tool(args, "stacks", a, "--json"))["threads"]
    worker = [t for t in threads if t["name"] == LONG_NAME]
    if len(worker) != 1:
        fail("stacks --json: no one thread named %r: %r" % (LONG_NAME, [t["name"] for t in threads]))
        return None
    frames = [f for f in worker[0]["frames"] if f["function"] == "worker"]
    local = [x for f in frames for x in f["locals"] if x["name"] == "thread_payload"]
    if frames and local and frames[0]["file"].endswith("roots_program.py") and \
            frames[0]["line"] and frames[0]["depth"] >= 0:
        ok("stacks --json: thread %d %r, frame worker (line %d, depth %d) local thread_payload"
           % (worker[0]["thread"], LONG_NAME, frames[0]["line"], frames[0]["depth"]))
    else:
        fail("stacks --json: no frame worker with its local thread_payload: %r" % frames)
        return None
    return worker[0]["thread"], frames[0], local[0]["addr"]


def is_local(info, name):
    """A root that is the local variable name of its frame, or (3.8 to 3.10,
    where frames are objects) the frame object that holds it."""
    return (info.get("kind"), info.get("name")) in (("frame_local", name), ("frame", None))


def check_path(args, a, thread, frame, addr):
    paths = json.loads(tool(args, "path", a, "0x%x" % addr, "--json"))["paths"]
    infos = [p.get("root_info") for p in paths]
    want = {"thread": thread, "thread_name": LONG_NAME, "function": "worker",
            "line": frame["line"], "depth": frame["depth"]}
    good = [i for i in infos if i and all(i.get(k) == v for k, v in want.items())
            and (i.get("file") or "").endswith("roots_program.py") and is_local(i, "thread_payload")]
    if good:
        ok("path --json: root_info %r" % good[0])
    else:
        fail("path --json: no root_info %r among %r" % (want, infos))
    if any(LONG_NAME in p["root"] for p in paths):
        ok("path --json: the root's text names the thread whole")
    else:
        fail("path --json: no root text names %r: %r" % (LONG_NAME, [p["root"] for p in paths]))


def check_growth(args, a, b, what):
    rows = json.loads(tool(args, "diff", a, b, "--by", "path", "--json", "-n", "100000"))["paths"]
    items = [r for r in rows if r["type"] == "__main__.Item"]
    history = [r for r in items if "local history" in r["path"]]
    negative = [r for r in items if r["count_delta"] < 0]
    if len(history) == 1 and history[0]["count_delta"] == 3000 and not negative:
        info = history[0].get("root_info") or {}
        ok("%s: one row +3000 items under %r" % (what, history[0]["path"]))
        if is_local(info, "history") and info.get("function") == "serve" and \
                info.get("thread_name") == "MainThread":
            ok("%s: the row's root_info is serve's local history" % what)
        else:
            fail("%s: the row's root_info is %r" % (what, info))
    else:
        fail("%s: want one row of +3000 items under serve's local history and no negative "
             "row, got %r" % (what, [(r["path"], r["count_delta"]) for r in items]))


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    if args.interp.path is None:
        print("skip: %s: %s" % (args.label, args.interp.missing))
        return 77
    work = tempfile.mkdtemp(prefix="pyheapsnap-roots-")
    try:
        try:
            a = core(args, work, "a", 3000, "early")
            b = core(args, work, "b", 6000, "late")
        except NoCore as e:
            fail(str(e))
            return verdict(True)
        found = check_stacks(args, a)
        if found:
            check_path(args, a, *found)
        check_growth(args, a, b, "diff --by path of cores")
        sa, sb = os.path.join(work, "a.phs"), os.path.join(work, "b.phs")
        tool(args, "snapshot", a, "-o", sa)
        tool(args, "snapshot", b, "-o", sb)
        check_growth(args, sa, sb, "diff --by path of snapshots")
    except RuntimeError as e:
        fail(str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return verdict(True)


if __name__ == "__main__":
    sys.exit(main())
