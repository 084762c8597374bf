#!/usr/bin/env python3
"""Clean-heap test for pyheapsnap: clean programs give no warnings.

    run_clean.py --tool PATH/TO/pyheapsnap --python PATH/TO/python
                 [--label NAME] [--third-party] [--tool-args ARG ...]

Runs clean programs under the interpreter, each aborting into a core: a
bare interpreter, the oracle's heap program and the names test's program
(or, with --third-party, a heap of Flask, Jinja2, pydantic, sympy and
networkx at work), and checks that `summary --json` of each core counts no
warning of any kind (bad_pointer, unreadable_object, ...): a heap nothing
corrupted is read without one.

Prints "ok NAME" or "FAIL NAME: the warnings" for each program, then "N
passed, N failed". Exit status 0 if all passed, 1 if one failed, 77 if the
interpreter (or, with --third-party, a package) is not installed or no core
is left.
"""

import json
import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
from pyhs_test import (NoCore, ProgramFailed, core_of, parse_runner_args,  # noqa: E402
                       run_main, test_workdir)

HERE = os.path.dirname(os.path.abspath(__file__))


def add_arguments(p):
    p.add_argument("--third-party", action="store_true", help="the third-party heap instead")
    p.add_argument("--numpy", action="store_true",
                   help="the oracle's heap with numpy and pandas objects instead")


def programs(args, workdir):
    """(name, program arguments) of the programs to run."""
    if args.third_party:
        return [("third-party", [os.path.join(HERE, "thirdparty_program.py")])]
    if args.numpy:
        return [("numpy heap", [os.path.join(TESTS, "oracle", "heap_program.py"),
                                os.path.join(workdir, "numpy-truth.jsonl"), "--numpy"])]
    return [
        ("bare interpreter", ["-c", "import os; os.abort()"]),
        ("oracle heap", [os.path.join(TESTS, "oracle", "heap_program.py"),
                         os.path.join(workdir, "oracle-truth.jsonl")]),
        ("names heap", [os.path.join(HERE, "names_program.py"),
                        os.path.join(workdir, "names-truth.json")]),
    ]


def main():
    args = parse_runner_args(__doc__.splitlines()[0], add_arguments)
    passed = failed = 0
    for k in range(len(programs(args, ""))):
        with test_workdir(args, "clean") as workdir:
            name, program = programs(args, workdir)[k]
            try:
                core = core_of(args.interp, program, workdir, timeout=180)
            except ProgramFailed as e:
                print("FAIL %s: no core: %s" % (name, e))
                failed += 1
                continue
            except NoCore as e:
                raise NoCore("%s: %s: %s" % (args.label, name, e))
            out = subprocess.run([args.tool, "summary", "--json", core] + args.tool_args,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            try:
                warnings = json.loads(out.stdout.decode())["warnings"]
            except (ValueError, KeyError):
                print("FAIL %s: summary exit %d: %s" % (name, out.returncode,
                                                       out.stderr.decode(errors="replace")))
                failed += 1
                continue
            kinds = {k: v for k, v in warnings["kinds"].items() if v}
            if out.returncode == 0 and not warnings["count"] and not kinds:
                print("ok %s: no warnings" % name)
                passed += 1
            else:
                print("FAIL %s: exit %d, warnings %s, e.g. %s" %
                      (name, out.returncode, kinds, warnings.get("examples", [])[:5]))
                failed += 1
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
