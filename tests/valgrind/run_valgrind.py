#!/usr/bin/env python3
"""Every verb under valgrind on a representative core: no invalid reads or
writes, no uninitialised values, no definite leaks.

    run_valgrind.py --tool PYHEAPSNAP [--python PYTHON]

The core is of a program that builds a varied heap (the oracle's heap
program) under Debian's python3.11 or the given interpreter. Exit 77 when
valgrind or the interpreter is missing.
"""
import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "..", "oracle", "heap_program.py")


def make_core(python, workdir):
    def limits():
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and not k.startswith("MALLOC_")}
    p = subprocess.run([python, "-I", PROGRAM, os.path.join(workdir, "truth.jsonl")],
                       cwd=workdir, preexec_fn=limits, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if p.returncode != -signal.SIGABRT:
        sys.exit("FAIL: the heap program did not abort (status %d)" % p.returncode)
    for name in os.listdir(workdir):
        if name == "core" or name.startswith("core."):
            return os.path.join(workdir, name)
    sys.exit("FAIL: no core written (kernel.core_pattern?)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", default="/usr/bin/python3.11")
    args = ap.parse_args()
    valgrind = shutil.which("valgrind")
    if not valgrind:
        print("skipped: valgrind is not installed")
        return 77
    if not os.path.exists(args.python):
        print("skipped: %s is not installed" % args.python)
        return 77
    tool = os.path.abspath(args.tool)
    work = tempfile.mkdtemp(prefix="pyheapsnap-valgrind-")
    passed = failed = 0
    try:
        core = make_core(args.python, work)
        snap = os.path.join(work, "heap.phs")
        subprocess.run([tool, "snapshot", core, "-o", snap], check=True,
                       stdout=subprocess.DEVNULL)
        addr = subprocess.run([tool, "top", core, "-n", "1", "--json"], check=True,
                              stdout=subprocess.PIPE).stdout.decode()
        addr = addr.split('"addr": ')[1].split(",")[0]
        runs = [
            ["summary", core], ["summary", "--json", core],
            ["export", core, "-o", os.path.join(work, "out.jsonl")],
            ["top", core, "--group", "type"], ["path", core, addr, "--all"],
            ["show", core, addr], ["cycles", core], ["cycles", core, "--unreachable"],
            ["stacks", core], ["snapshot", core, "-o", os.path.join(work, "again.phs")],
            ["summary", snap], ["diff", core, snap, "--by", "path"],
            ["summary", "--no-dwarf", core],
            ["memory", core], ["memory", "--json", "--by", "traceback", core],
        ]
        for argv in runs:
            cmd = [valgrind, "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", tool] + argv
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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
