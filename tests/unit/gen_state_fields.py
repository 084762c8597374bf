#!/usr/bin/env python3
"""Writes reader/state_fields.h: the members of CPython's interpreter state
(PyInterpreterState, struct _is) and runtime state (_PyRuntimeState) that
can hold a reference, by minor version and the struct's size, read with
gdb's `ptype /o` from the DWARF of pyenv's builds of 3.8 to 3.13, Debian's
python3.11 (its debug file, by build-id) and Debian unstable's release and
debug builds of 3.14 and 3.15 (see tests/debian_sid.py).

    tests/unit/gen_state_fields.py [PYENV_ROOT] > reader/state_fields.h

A member is a leaf of the struct (nested structs and unions are followed,
their members named by path to two levels: "codecs.search_path", deeper
members merged into theirs); an array of structs is one member. Only members of 8 bytes or more, 8-aligned, are kept: a word of
the state that holds a reference is in one of them.
"""

import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import debian_sid  # noqa: E402
from gen_known_fields import debug_file  # noqa: E402

STRUCTS = [("PYHS_STATE_INTERP", "struct _is"), ("PYHS_STATE_RUNTIME", "struct pyruntimestate")]
DEPTH = 2
LINE = re.compile(r"^/\*\s+(\d+)\s+\|\s+(\d+) \*/\s*(?P<decl>.*)$")
CLOSE = re.compile(r"^\s*\}\s*(?P<name>\w+)?(?P<array>\[[^\]]*\])*;")
LEAF = re.compile(r"(?P<name>\w+)(?P<array>(\[\d*\])*)(\s*:\s*\d+)?;$")
TOTAL = re.compile(r"/\* total size \(bytes\):\s*(\d+) \*/")
FUNC = re.compile(r"\(\*(?P<name>\w+)\)\(.*\);$")


def has_dwarf(path):
    out = subprocess.run(["readelf", "-S", path], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    return ".debug_info" in out


def builds():
    """(label, minor, path of a file with the DWARF)"""
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.pyenv")
    for minor in range(8, 14):
        base = sorted(glob.glob(os.path.join(root, "versions", "3.%d.*" % minor)))
        lib = glob.glob(os.path.join(base[-1], "lib", "libpython3.%d.so.1.0" % minor)) if base else []
        if not lib:
            sys.exit("gen_state_fields.py: no build of CPython 3.%d under %s" % (minor, root))
        yield "pyenv 3.%d" % minor, minor, lib[0]
    dbg = debug_file("/", "/usr/bin/python3.11")
    if dbg:
        yield "Debian 3.11", 11, dbg
    for version in debian_sid.VERSIONS:
        sid = debian_sid.ensure(version)
        for exe in ("python" + version, "python" + version + "d"):
            exe = os.path.join(sid, "usr", "bin", exe)
            dbg = debug_file(sid, exe) or (exe if has_dwarf(exe) else None)
            if not dbg:
                sys.exit("gen_state_fields.py: no debug file of %s" % exe)
            yield "Debian unstable " + os.path.basename(exe), int(version.split(".")[1]), dbg


def members(text):
    """(size of the struct, [(offset, size, path)]) from ptype /o's text."""
    stack = [[0, 0, []]]  # per open aggregate: offset, size, leaves
    total = 0
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            off, size, decl = int(m.group(1)), int(m.group(2)), m.group("decl")
            if decl.endswith("{"):
                stack.append([off, size, []])
                continue
            leaf = FUNC.search(decl) or LEAF.search(decl)
            if leaf:
                stack[-1][2].append((off, size, leaf.group("name")))
            continue
        t = TOTAL.search(line)
        if t and len(stack) == 1:
            total = int(t.group(1))
            continue
        m = CLOSE.match(line)
        if m and len(stack) > 1:
            off, size, leaves = stack.pop()
            name = m.group("name") or ""
            if m.group("array"):
                stack[-1][2].append((off, size, name))
            else:
                stack[-1][2].extend((o, s, name + "." + p if name else p) for o, s, p in leaves)
    return total, stack[0][2]


def main():
    rows = []
    seen = set()
    for label, minor, path in builds():
        for which, struct in STRUCTS:
            out = subprocess.run(["gdb", "-batch", "-ex", "set max-value-size unlimited",
                                  "-ex", "ptype /o " + struct, path], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, universal_newlines=True).stdout
            size, leaves = members(out)
            if not size:
                sys.exit("gen_state_fields.py: no %s in %s" % (struct, path))
            if (which, minor, size) in seen:
                continue
            seen.add((which, minor, size))
            kept = []
            for o, s, p in leaves:
                if s < 8 or o % 8:
                    continue
                # Two levels name a member well enough ("codecs.search_path",
                # "global_objects.singletons"): deeper ones are merged.
                p = ".".join(p.split(".")[:DEPTH])
                if kept and kept[-1][2] == p and kept[-1][0] + kept[-1][1] <= o:
                    kept[-1] = (kept[-1][0], o + s - kept[-1][0], p)
                else:
                    kept.append((o, s, p))
            rows.append((which, minor, size, label, kept))
    print("/* Generated by tests/unit/gen_state_fields.py from the DWARF of pyenv's")
    print(" * CPython 3.8 to 3.13 builds, Debian's python3.11 and Debian unstable's")
    print(" * 3.14 and 3.15 (release and debug builds): the members of the")
    print(" * interpreter and runtime states that can hold a reference, by minor")
    print(" * version and the struct's size, as { offset, size, member path }. */")
    for which, minor, size, label, kept in rows:
        print("/* %s: %s */" % (label, "interpreter state" if which.endswith("INTERP") else "runtime state"))
        print("STATE(%s, %d, %d)" % (which, minor, size))
        for o, s, p in kept:
            print('\tF(%d, %d, "%s")' % (o, s, p))
        print("END")


if __name__ == "__main__":
    main()
