#!/usr/bin/env python3
"""diff's growth gate counts the buffers objects own.

    test_buffers_gate.py --tool PYHEAPSNAP --python PYTHON --kind array|numpy

Two cores of buffers_program.py, with no arrays and with 20 one-MiB
arrays: `diff --fail-if-growth 10MiB` must exit 1 and `--fail-if-growth
30MiB` exit 0; the arrays' type must grow by 20 objects and 20 MiB and a
little, and the total by 20 MiB give or take the interpreter's own noise
(two runs of one program differ by some dozens of str objects, since
hash randomisation cannot be turned off under -I).
Exit 77 when the interpreter (or numpy, for --kind numpy) is missing.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyhs_test import core_of, parse_runner_args, run_main, skip, test_workdir  # noqa: E402

MIB = 1 << 20
NOISE = 64 << 10
TYPE = {"array": "array.array", "numpy": "numpy.ndarray"}


def main():
    args = parse_runner_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--kind", choices=("array", "numpy"), required=True))
    tool, interp = args.tool, args.interp
    if args.kind == "numpy":
        probe = subprocess.run(interp.argv("-I", "-c", "import numpy"), env=args.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            skip("%s cannot import numpy" % args.python)
    with test_workdir(args, "buffers") as work:
        cores = [core_of(interp, [os.path.join(HERE, "buffers_program.py"), args.kind, str(n)],
                         work, subdir=str(n)) for n in (0, 20)]
        out = subprocess.run([tool, "diff", cores[0], cores[1], "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if out.returncode != 0:
            print("FAIL: diff exited %d: %s" % (out.returncode, out.stderr.decode()[-500:]))
            return 1
        report = json.loads(out.stdout.decode())
        rows = [t for t in report.get("types", []) if t.get("type") == TYPE[args.kind]]
        if len(rows) != 1:
            print("FAIL: diff has %d rows of type %s" % (len(rows), TYPE[args.kind]))
            return 1
        count, size = rows[0].get("count_delta"), rows[0].get("size_delta")
        print("diff: %s grew by %s objects and %s bytes" % (TYPE[args.kind], count, size))
        if count != 20 or not isinstance(size, int) or not 20 * MIB <= size < 21 * MIB:
            print("FAIL: expected 20 objects and 20 MiB and a little")
            return 1
        growth = report.get("total", {}).get("size_delta")
        print("diff: total size grew by %s bytes" % growth)
        if not isinstance(growth, int) or not 20 * MIB - NOISE <= growth < 21 * MIB:
            print("FAIL: growth %s, expected 20 MiB and a little" % growth)
            return 1
        for threshold, want in (("10MiB", 1), ("30MiB", 0)):
            rc = subprocess.call([tool, "diff", cores[0], cores[1],
                                  "--fail-if-growth", threshold],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print("diff --fail-if-growth %s: exit %d (want %d)" % (threshold, rc, want))
            if rc != want:
                print("FAIL: the gate at %s exited %d" % (threshold, rc))
                return 1
        print("PASS: %s arrays' buffers count in diff and its gate" % args.kind)
        return 0


if __name__ == "__main__":
    run_main(main)
