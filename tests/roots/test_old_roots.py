#!/usr/bin/env python3
"""Roots of a format 2 snapshot read as data.

    test_old_roots.py --tool PYHEAPSNAP --snapshot corpora/snapshots/roots-v2.phs

The file is a snapshot, written in format 2 (roots as text), of a core of
roots_program.py 300 early under CPython 3.12. Read now, its roots are
structured: stacks name the worker thread whole and give its frames; a
format 4 snapshot of it diffs against it with no row (the same keys); path
gives the thread's local as a frame_local root.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import tool_output  # noqa: E402

LONG_NAME = "ThreadPoolExecutor-0_0-long-name-of-a-worker-thread"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--snapshot", required=True)
    args = ap.parse_args()
    if not os.path.exists(args.snapshot):
        print("skip: no %s" % args.snapshot)
        return 77
    failures = []

    def tool(*argv):
        return tool_output(args.tool, *argv)

    def check(what, good, detail=""):
        print("%s: %s%s" % ("ok" if good else "FAIL", what, "" if good else " " + detail))
        if not good:
            failures.append(what)

    work = tempfile.mkdtemp(prefix="pyheapsnap-old-roots-")
    try:
        old = args.snapshot
        with open(old, "rb") as f:
            check("the file is of format 2", f.read(12)[8:] == b"\x02\0\0\0")
        threads = json.loads(tool("stacks", old, "--json"))["threads"]
        names = [t["name"] for t in threads]
        check("stacks --json names the worker whole", LONG_NAME in names, repr(names))
        main_frames = [[f["function"] for f in t["frames"]] for t in threads
                       if t["name"] == "MainThread"]
        check("the main thread's frames, innermost first",
              main_frames == [["snap", "serve", "<module>"]], repr(main_frames))
        worker = [t for t in threads if t["name"] == LONG_NAME]
        local = [x for t in worker for f in t["frames"] if f["function"] == "worker"
                 for x in f["locals"] if x["name"] == "thread_payload"]
        check("the worker's frame has its local thread_payload", len(local) == 1)
        if local:
            paths = json.loads(tool("path", old, "0x%x" % local[0]["addr"], "--json"))["paths"]
            infos = [p["root_info"] for p in paths]
            check("path --json: a frame_local root of the worker's frame",
                  any(i and i["kind"] == "frame_local" and i["name"] == "thread_payload" and
                      i["thread_name"] == LONG_NAME and i["function"] == "worker" and
                      i["depth"] == 2 for i in infos), repr(infos))
        new = os.path.join(work, "v4.phs")
        tool("snapshot", old, "-o", new)
        with open(new, "rb") as f:
            check("its snapshot is of format 4", f.read(12)[8:] == b"\x04\0\0\0")
        d = json.loads(tool("diff", old, new, "--by", "path", "--json", "-n", "100000"))
        check("diff --by path of the format 2 file and its format 4 snapshot: no row",
              d["paths"] == [] and d["total"]["count_delta"] == 0,
              repr(d["paths"][:5]))
        check("stacks the same from both", tool("stacks", old) == tool("stacks", new))
    except RuntimeError as e:
        check("pyheapsnap runs", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
