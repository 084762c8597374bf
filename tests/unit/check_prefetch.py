#!/usr/bin/env python3
"""The walk's prefetch hints are in the binary.

GCC deletes a __builtin_prefetch whose address is worked out under a
condition in a loop (common/prefetch.h), and nothing else shows that the
hints are gone but the time the walk takes. This reads the machine code of
the functions that walk a container's references (objdump -d) and fails if
one of them holds no prefetch instruction. Skipped (77) off x86-64 or
without objdump.

    check_prefetch.py BINARY
"""
import platform
import re
import shutil
import subprocess
import sys

# Each walks references a container holds, fetching ahead the index slots
# of those it will look up.
FUNCTIONS = ("walk_items", "pyhs_dict_foreach")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_prefetch.py BINARY")
    if platform.machine() != "x86_64":
        print("skip: the check reads x86-64 machine code, this is %s" % platform.machine())
        return 77
    objdump = shutil.which("objdump")
    if not objdump:
        print("skip: objdump (binutils) is not installed")
        return 77
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", sys.argv[1]],
                         capture_output=True, text=True, check=True).stdout
    count, fn = {}, None
    for line in out.splitlines():
        m = re.match(r"[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            fn = m.group(1)
            count.setdefault(fn, 0)
        elif fn and re.search(r"\sprefetch", line):
            count[fn] += 1
    failed = False
    for f in FUNCTIONS:
        if f not in count:
            print("FAIL: no function %s in %s" % (f, sys.argv[1]))
            failed = True
        elif not count[f]:
            print("FAIL: %s holds no prefetch instruction: the compiler dropped its hints" % f)
            failed = True
        else:
            print("ok: %s holds %d prefetch instructions" % (f, count[f]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
