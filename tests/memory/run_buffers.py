#!/usr/bin/env python3
"""The memory verb's blocks objects own against CPython's own sizes.

    run_buffers.py --tool PATH/TO/pyheapsnap --label LABEL [--python SPEC]
                   [--keep DIR] [--tool-args ARG ...]

buffers_program.py makes numpy arrays and a pandas frame (where numpy and
pandas are installed), an io.BytesIO, a buffered file, array.array,
collections.deque and large lists, records the size of every block of
those kinds that every object the collector reaches owns in glibc's malloc
(nbytes, __sizeof__() less the layout) and aborts. In `pyheapsnap memory
--json CORE` each kind's "buffers" region must hold as many chunks as
CPython counted blocks and their bytes, less the blocks' sizes, must be
malloc's rounding: at most 32 bytes a chunk in a heap, a page and a header
for one in its own mapping (and 32 bytes more a block under the debug
hooks of a debug build). List items are counted only at least (a list
that shrank keeps its items in the glibc chunk of its larger size, which
Python cannot see). The large str and bytes must be among the "objects"
regions, and the glibc bytes in use must be explained by objects and their
blocks for the most part (at least 80 %: the rest is the interpreter's and
the libraries' own C memory).

Exit status: 0 if everything agrees, 1 if not, 77 (skipped) if the
interpreter is not installed or leaves no core.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import core_of, parse_runner_args, run_main, test_workdir  # noqa: E402

PROGRAM = os.path.join(HERE, "buffers_program.py")
AT_LEAST = ("list items",)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


def rounding(sizes, debug_words):
    """The most malloc's chunks add to blocks of these sizes (and the debug
    hooks' bytes around each block, where they are on)."""
    return sum((4096 + 16 if n >= 128 << 10 else 32) + debug_words for n in sizes)


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    label, tool = args.label, args.tool
    with test_workdir(args, "buffers") as workdir:
        core = core_of(args.interp, [PROGRAM, workdir], workdir)
        with open(os.path.join(workdir, "buffers.json")) as f:
            truth = json.load(f)
        out = subprocess.run([tool, "memory", "--json", core] + args.tool_args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if not check(out.returncode == 0, "%s: memory exited %d: %s" % (
            label, out.returncode, out.stderr.decode(errors="replace").strip())):
        return 1
    d = json.loads(out.stdout)
    regions = {(r["kind"], r["name"]): r for r in d["regions"]}
    # PYMEM_DEBUG hooks put 4 words around every PyMem block (not numpy's
    # data: PyDataMem is malloc itself).
    debug = "debug" in d["pymalloc"]["allocator"]
    for kind, sizes in sorted(truth["blocks"].items()):
        r = regions.get(("buffers", kind), {"bytes": 0, "ranges": 0})
        want, n = sum(sizes), len(sizes)
        if kind in AT_LEAST:
            ok = r["ranges"] >= n and r["bytes"] >= want
        else:
            hooked = debug and not kind.startswith("numpy.")
            ok = r["ranges"] == n and want <= r["bytes"] <= want + rounding(sizes, 32 * hooked)
        check(ok, "%s: %s: %d bytes in %d chunks; CPython counts %d bytes in %d blocks"
              % (label, kind, r["bytes"], r["ranges"], want, n))
        print("%s: %s: %d bytes in %d chunks; CPython: %d bytes in %d blocks"
              % (label, kind, r["bytes"], r["ranges"], want, n), flush=True)
    for kind in ("str", "bytes"):
        r = regions.get(("objects", kind), {"bytes": 0})
        check(r["bytes"] >= truth[kind], "%s: objects %s: %d bytes; one of them is %d"
              % (label, kind, r["bytes"], truth[kind]))
    m = d["malloc_in_use"]
    explained = m["objects"] + m["buffers"]
    check(m["bytes"] and explained + m["other"] == m["bytes"] and explained >= 0.8 * m["bytes"],
          "%s: glibc in use %d bytes, %d of it objects and their blocks"
          % (label, m["bytes"], explained))
    print("%s: glibc in use %d bytes: objects %d, their blocks %d, other %d (numpy %s, pandas %s)"
          % (label, m["bytes"], m["objects"], m["buffers"], m["other"],
             truth["numpy"] or "absent", truth["pandas"] or "absent"), flush=True)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
