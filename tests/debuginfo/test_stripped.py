#!/usr/bin/env python3
"""Debian's stripped python3.11 read with and without its debug file.

    test_stripped.py --tool PATH/TO/pyheapsnap

A core of /usr/bin/python3.11 running PROGRAM is read three ways: with the
debug file python3.11-dbg installs under /usr/lib/debug (DWARF layouts and
.symtab, where the static 'interned' names the interned strings), without it
(--debug-dir at an empty directory, --no-debuginfod: built-in layouts, the
interned strings found in the binary's data), and both ways again on a copy
of the core whose 'interned' variable is zeroed, so that the table really
cannot be found.

Without the debug file the objects of every type and the unexplained count
must agree with the run with it, to the oracle's 99.9 %, and no missing_root
warning may appear; on the zeroed copy both runs must warn missing_root once.
Exit 0 on success, 1 on failure, 77 (skipped) when the interpreter or its
debug file is not installed, or no core can be had.
"""

import argparse
import collections
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "corrupt"))
from pyhs_test import core_with_debug_file, run_main  # noqa: E402
from make_corrupt_cores import NT_FILE, Core, Patch  # noqa: E402

PYTHON = "/usr/bin/python3.11"
AGREE = 0.999  # the oracle's threshold

# Interns strings of its own (sys.intern, identifiers of a class and a
# function made at run time) beside the interpreter's, then aborts.
PROGRAM = """\
import collections, json, os, re, sys
names = [sys.intern("name_%d" % i) for i in range(300)]
ns = {}
exec("class Made:\\n" + "".join("    attr_%d = %d\\n" % (i, i) for i in range(200)), ns)
data = {"k%d" % i: [i, str(i), (i, i + 1)] for i in range(2000)}
pattern = re.compile(r"(\\w+)=(\\d+)")
os.abort()
"""


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run_tool(tool, args, timeout=120):
    p = subprocess.run([tool] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if p.returncode != 0:
        fail("pyheapsnap %s exited %d: %s" % (" ".join(args), p.returncode,
                                              p.stderr.decode(errors="replace")))
    return p.stdout


def summary(tool, core, args):
    return json.loads(run_tool(tool, ["summary", "--json", core] + args).decode())


def type_counts(tool, core, args):
    counts = collections.Counter()
    out = run_tool(tool, ["export", "--format", "jsonl", core] + args)
    for n, line in enumerate(out.splitlines()):
        if n and line.strip():
            record = json.loads(line)
            if "addr" in record:  # objects, not the root records after them
                counts[record["type"]] += 1
    return counts


def agree(a, b):
    return a == b or min(a, b) >= AGREE * max(a, b)


def interned_address(dbg, core):
    """Where the core holds the static 'interned' (its symbol in the debug
    file, biased by where the core maps PYTHON)."""
    out = subprocess.run(["readelf", "-sW", dbg], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode()
    value = None
    for line in out.split("\n"):
        f = line.split()
        if len(f) >= 8 and f[3] == "OBJECT" and f[7] in ("interned", "interned.lto_priv.0"):
            value = int(f[1], 16)
    if value is None:
        return None
    with open(PYTHON, "rb") as f:
        head = f.read(64)
    e_type, = struct.unpack_from("<H", head, 16)
    if e_type == 2:  # ET_EXEC: not relocated
        return value
    # A PIE: biased by the start of its mapping at file offset 0 (NT_FILE)
    # less its first PT_LOAD's address (0 for the executables gcc links).
    n = core.note(NT_FILE)
    if not n:
        return None
    count, _page = struct.unpack_from("<QQ", core.data, n[3])
    names = core.data[n[3] + 16 + 24 * count:n[3] + n[4]].split(b"\0")
    for i in range(count):
        start, _end, ofs = struct.unpack_from("<QQQ", core.data, n[3] + 16 + 24 * i)
        if ofs == 0 and names[i].decode(errors="replace") == os.path.realpath(PYTHON):
            return start + value
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tool", required=True)
    args = p.parse_args()
    tool = os.path.abspath(args.tool)
    with tempfile.TemporaryDirectory(prefix="pyheapsnap-stripped-") as tmp:
        core_path, _, dbg = core_with_debug_file(PYTHON, PROGRAM, tmp)  # no core: a skip
        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        with_dbg = ["--no-debuginfod"]
        without = ["--debug-dir", empty, "--no-debuginfod"]

        a, b = summary(tool, core_path, with_dbg), summary(tool, core_path, without)
        if a["python"]["layout"] != "dwarf" or b["python"]["layout"] != "builtin":
            fail("layouts %r and %r, not dwarf and builtin"
                 % (a["python"]["layout"], b["python"]["layout"]))
        print("with the debug file:    %d objects, %d unexplained, %d warnings"
              % (a["objects"], a["unexplained_refs"]["count"], a["warnings"]["count"]))
        print("without the debug file: %d objects, %d unexplained, %d warnings"
              % (b["objects"], b["unexplained_refs"]["count"], b["warnings"]["count"]))
        problems = []
        for s, name in ((a, "with"), (b, "without")):
            if s["warnings"]["kinds"].get("missing_root", 0):
                problems.append("missing_root warned %s the debug file: %s"
                                % (name, s["warnings"]["examples"]))
        for what in ("objects",):
            if not agree(a[what], b[what]):
                problems.append("%s: %d with the debug file, %d without" % (what, a[what], b[what]))
        ua, ub = a["unexplained_refs"]["count"], b["unexplained_refs"]["count"]
        if not agree(ua, ub):
            problems.append("unexplained: %d with the debug file, %d without" % (ua, ub))
        ta, tb = type_counts(tool, core_path, with_dbg), type_counts(tool, core_path, without)
        for t in sorted(set(ta) | set(tb)):
            if not agree(ta[t], tb[t]):
                problems.append("type %s: %d with the debug file, %d without" % (t, ta[t], tb[t]))
        print("types compared: %d (str: %d and %d)" % (len(ta), ta["str"], tb["str"]))

        # The table made unfindable: its variable zeroed in a copy.
        core = Core(open(core_path, "rb").read())
        addr = interned_address(dbg, core)
        if addr is None or not core.word(addr):
            fail("cannot find the 'interned' variable of %s in the core" % PYTHON)
        patch = Patch(core)
        patch.word(addr, 0)
        zeroed = os.path.join(tmp, "zeroed.core")
        with open(zeroed, "wb") as f:
            f.write(patch.bytes())
        za, zb = summary(tool, zeroed, with_dbg), summary(tool, zeroed, without)
        for s, name in ((za, "with"), (zb, "without")):
            n = s["warnings"]["kinds"].get("missing_root", 0)
            print("zeroed 'interned', %s the debug file: %d objects, missing_root %d"
                  % (name, s["objects"], n))
            if n != 1:
                problems.append("zeroed 'interned', %s the debug file: missing_root %d, not 1"
                                % (name, n))
            elif not any("interned strings" in e for e in s["warnings"]["examples"]):
                problems.append("the missing_root warning does not name the interned strings: %s"
                                % s["warnings"]["examples"])
            if s["objects"] >= a["objects"]:
                problems.append("zeroed 'interned', %s the debug file: %d objects, not fewer than %d"
                                % (name, s["objects"], a["objects"]))
        if problems:
            fail("\n  ".join(problems))
    print("PASS")


if __name__ == "__main__":
    run_main(main)
