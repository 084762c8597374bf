#!/usr/bin/env python3
"""diff on two cores of one program before and after a known growth.

    test_diff.py --tool PYHEAPSNAP --python PYTHON --label NAME

The program's cache gains 5,000 entries and a new list of 300 lists
appears; diff must report exactly those counts by type and by path, name
the globals that hold them, and its gate must exit 1 above and 0 below
the growth. With one thread and with two (the two cores read at once),
diff must print the same bytes on both streams and exit the same, by type
and by path, as text and JSON, reading the cores, filling the cache and
answering from it, and when one input cannot be read. Exit 77 when the
interpreter is not installed.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import core_of, parse_runner_args, run_main, test_workdir  # noqa: E402


def run(tool, *args):
    p = subprocess.run([tool] + list(args) + run.tool_args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_bytes(tool, args, env=None):
    p = subprocess.run([tool] + list(args) + run.tool_args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def check_jobs(check, tool, a, b, work):
    """-j1 and -j2 (the second input read on its own thread): the same."""
    nocache = ["--no-cache"]
    for extra in ([], ["--json"], ["--by", "path"], ["--by", "path", "--json"]):
        runs = [run_bytes(tool, ["diff", a, b, "-j", j] + extra + nocache) for j in ("1", "2")]
        check("diff %s the same with -j1 and -j2" % " ".join(extra or ["--by type"]),
              runs[0] == runs[1] and runs[0][0] == 0,
              "exit %d/%d, stderr %r / %r" % (runs[0][0], runs[1][0], runs[0][2][-200:],
                                               runs[1][2][-200:]))
    missing = os.path.join(work, "no-such.core")
    for what, pair in (("the first input", (missing, b)), ("the second input", (a, missing)),
                       ("both inputs", (missing, missing + "2"))):
        runs = [run_bytes(tool, ["diff", pair[0], pair[1], "-j", j] + nocache) for j in ("1", "2")]
        check("%s not to be read: the same with -j1 and -j2" % what,
              runs[0] == runs[1] and runs[0][0] == 3 and runs[0][2].count(b"\n") == 1,
              "%r / %r" % (runs[0], runs[1]))
    want = run_bytes(tool, ["diff", a, b, "-j", "1"] + nocache)
    for j in ("1", "2"):
        env = dict(os.environ, PYHEAPSNAP_CACHE_DIR=os.path.join(work, "cache-j" + j))
        first = run_bytes(tool, ["diff", a, b, "-j", j], env)
        second = run_bytes(tool, ["diff", a, b, "-j", j], env)
        entries = sorted(f for f in os.listdir(env["PYHEAPSNAP_CACHE_DIR"]))
        check("diff -j%s filling the cache and answering from it as without" % j,
              first == want and second == want and len(entries) == 2
              and all(f.endswith(".phs") for f in entries),
              "exit %d/%d, entries %s" % (first[0], second[0], entries))


def main():
    args = parse_runner_args(__doc__.splitlines()[0])
    run.tool_args = args.tool_args
    with test_workdir(args, "diff") as work:
        return run_checks(args, work)


def run_checks(args, work):
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   %s" % name)
        else:
            failed += 1
            print("FAIL %s %s" % (name, detail))

    program = os.path.join(HERE, "grow_program.py")
    a = core_of(args.interp, [program, "1000"], work, subdir="a")
    b = core_of(args.interp, [program, "6000", "300"], work, subdir="b")
    rc, out, err = run(args.tool, "diff", a, b, "--json", "-n", "1000")
    check("diff --by type exits 0", rc == 0, err)
    types = {t["type"]: t for t in json.loads(out)["types"]} if rc == 0 else {}
    leaky = types.get("__main__.Leaky", {})
    check("5000 more __main__.Leaky", leaky.get("count_delta") == 5000, str(leaky))
    total = json.loads(out)["total"] if rc == 0 else {}
    growth = total.get("size_delta", 0)
    check("total growth is positive", growth > 0, str(total))

    rc, out, err = run(args.tool, "diff", a, b, "--by", "path", "--json", "-n", "1000")
    check("diff --by path exits 0", rc == 0, err)
    paths = json.loads(out)["paths"] if rc == 0 else []
    cache = [p for p in paths if p["type"] == "__main__.Leaky"]
    check("Leaky growth is held by module __main__ global CACHE ['k*']",
          len(cache) == 1 and cache[0]["path"] == "module __main__ global CACHE ['k*']"
          and cache[0]["count_delta"] == 5000, str(cache))
    extra = [p for p in paths if p["type"] == "list" and
             p["path"] == "module __main__ global EXTRA [*]"]
    check("300 new lists under module __main__ global EXTRA [*]",
          len(extra) == 1 and extra[0]["count_delta"] == 300, str(extra))

    rc, out, err = run(args.tool, "diff", a, b, "--fail-if-growth", str(growth - 1))
    check("gate below the growth exits 1", rc == 1, "rc=%d %s" % (rc, err))
    check("the report is printed when the gate trips", "__main__.Leaky" in out)
    rc, out, err = run(args.tool, "diff", a, b, "--fail-if-growth", str(growth))
    check("gate at the growth exits 0", rc == 0, "rc=%d %s" % (rc, err))
    rc, out, err = run(args.tool, "diff", a, b, "--fail-if-growth", "1000000%")
    check("gate in percent above the growth exits 0", rc == 0, "rc=%d" % rc)
    rc, out, err = run(args.tool, "diff", a, b, "--fail-if-growth", "lots")
    check("a bad threshold is a usage error (exit 2)", rc == 2, "rc=%d %s" % (rc, err))
    rc, out, err = run(args.tool, "diff", a, b, "--by", "object")
    check("--by object refuses two processes (exit 2)", rc == 2, "rc=%d %s" % (rc, err))
    rc, out, err = run(args.tool, "diff", a, a, "--by", "object", "--json")
    ok = rc == 0 and json.loads(out)["objects"]["new_count"] == 0
    check("a core diffed with itself has no new objects", ok, out[:300] + err)
    check_jobs(check, args.tool, a, b, work)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
