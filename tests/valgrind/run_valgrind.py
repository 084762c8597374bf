#!/usr/bin/env python3
"""Every verb under valgrind on a representative core: no invalid reads or
writes, no uninitialised values, no definite leaks.

    run_valgrind.py --tool PYHEAPSNAP [--python PYTHON]

The core is of a program that builds a varied heap (the oracle's heap
program) under Debian's python3.11 or the given interpreter (a path,
pyenv:3.X or sid:3.X[d]). Exit 77 when
valgrind or the interpreter is missing.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import core_of, parse_runner_args, run_main, skip, test_workdir  # noqa: E402
PROGRAM = os.path.join(HERE, "..", "oracle", "heap_program.py")


def main():
    args = parse_runner_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--reader-only", action="store_true",
        help="only the runs that read the core in another way (summary, "
             "stacks, summary --no-dwarf)"), default_python="/usr/bin/python3.11")
    valgrind = shutil.which("valgrind")
    if not valgrind:
        skip("valgrind is not installed")
    with test_workdir(args, "valgrind") as work:
        return run(args, valgrind, work)


def run(args, valgrind, work):
    targs, tool = args.tool_args, args.tool
    passed = failed = 0
    core = core_of(args.interp, [PROGRAM, os.path.join(work, "truth.jsonl")], work,
                   timeout=300)
    snap = os.path.join(work, "heap.phs")
    subprocess.run([tool, "snapshot", core, "-o", snap] + targs, check=True,
                   stdout=subprocess.DEVNULL)
    addr = subprocess.run([tool, "top", core, "-n", "1", "--json"] + targs, check=True,
                          stdout=subprocess.PIPE).stdout.decode()
    addr = addr.split('"addr": ')[1].split(",")[0]
    runs = [
        ["summary", core], ["summary", "--json", core],
        # The heap's columns mapped from the spill file.
        ["summary", "--spill-above", "1", core],
        ["export", core, "-o", os.path.join(work, "out.jsonl")],
        ["top", core, "--group", "type"], ["path", core, addr, "--all"],
        ["show", core, addr], ["cycles", core], ["cycles", core, "--unreachable"],
        ["stacks", core], ["tasks", core], ["tasks", "--json", snap],
        ["snapshot", core, "-o", os.path.join(work, "again.phs")],
        ["summary", snap], ["diff", core, snap, "--by", "path"],
        ["summary", "--no-dwarf", core],
        ["export", snap, "--format", "heapsnapshot", "-o", os.path.join(work, "h.heapsnapshot")],
        ["export", snap, "--format", "speedscope", "-o", os.path.join(work, "s.json")],
        ["export", snap, "--format", "csv", "-o", os.path.join(work, "tables")],
        ["report", snap, snap, "-o", os.path.join(work, "report.html")],
        ["browse", "--json", snap], ["cycles", snap, "--format", "dot"],
        ["memory", core], ["memory", "--json", "--by", "traceback", core],
    ]
    if args.reader_only:
        # The reader's paths for this interpreter (DWARF, built-in
        # tables, _Py_DebugOffsets) and the walk; the verbs' own code
        # is the same for every interpreter and runs in the full list.
        runs = [["summary", core], ["stacks", core], ["summary", "--no-dwarf", core]]
    for argv in runs:
        cmd = [valgrind, "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite", tool] + argv + \
            (targs if core in argv else [])
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=900)
        name = " ".join(a if not a.startswith(work) else os.path.basename(a)
                        for a in argv)
        if p.returncode == 0:
            passed += 1
            print("ok   %s" % name)
        else:
            failed += 1
            print("FAIL %s (exit %d)\n%s" % (name, p.returncode,
                                             p.stderr.decode()[-3000:]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
