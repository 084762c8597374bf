#!/usr/bin/env python3
"""A CPython newer than this build knows, made from a real core.

    test_newer_version.py --tool PATH/TO/pyheapsnap [--python sid:3.15]

Runs a small program under the newest CPython pyheapsnap knows (Debian
sid's 3.15 by default) until it aborts, then makes copies of its core with
the _Py_DebugOffsets block at the start of _PyRuntime patched where
pyheapsnap reads it (the "xdebugpy" cookie in the core's memory):

  * version 3.16.0a1: `summary --json` exits 0, reads the same objects and
    bytes as the unpatched core, and prints exactly one warning line saying
    3.16.0a1 is newer than this build knows; with the DWARF and without
    (--no-dwarf: the 3.15 tables with the block's own offsets laid over);
  * version 3.16.0a1 and every offset after the header garbage: with
    --no-dwarf exit 3, one line saying _Py_DebugOffsets is implausible; with
    the DWARF, read by it with a warning naming the implausible block;
  * version 3.15 and garbage offsets, --no-dwarf: read by the built-in
    layout with one warning naming the implausible block.

The unpatched core itself reads with no warning.  Exit status 0 if all
passed, 1 if any failed, 77 (skipped) if the interpreter cannot be had.
"""

import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import Tally, core_of, parse_runner_args, run_main, test_workdir  # noqa: E402

PROGRAM = """\
import os
KEEP = [{"k%d" % i: [i, str(i)]} for i in range(500)]
def gen():
    local = ["gen-local"]
    yield local
G = gen(); next(G)
os.abort()
"""
NEWER = 0x031000A1  # 3.16.0a1
COOKIE = b"xdebugpy"

tally = Tally()
ok, fail = tally.ok, tally.fail


def cookie_offsets(data, version):
    """Offsets in the core file of 8-aligned cookies followed by version."""
    found, start = [], 0
    want = COOKIE + struct.pack("<Q", version)
    while True:
        i = data.find(want, start)
        if i < 0:
            return found
        found.append(i)
        start = i + 1


def patched(core, out, version=None, garbage=False):
    with open(core, "rb") as f:
        data = bytearray(f.read())
    hits = cookie_offsets(data, patched.version)
    if len(hits) != 1:
        raise RuntimeError("%d _Py_DebugOffsets blocks of version 0x%x in the core, not one"
                           % (len(hits), patched.version))
    at = hits[0]
    if version is not None:
        data[at + 8:at + 16] = struct.pack("<Q", version)
    if garbage:
        # runtime_state.size onwards: 8-byte words no layout has.
        for off in range(at + 24, at + 824, 8):
            data[off:off + 8] = struct.pack("<Q", 0x4141414141414141)
    with open(out, "wb") as f:
        f.write(data)
    return out


def summary(tool, core, args):
    p = subprocess.run([tool, "summary", core, "--json"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def warnings_of(out):
    try:
        d = json.loads(out)
    except ValueError:
        return None, None
    w = d.get("warnings") or {}
    examples = [str(x) for x in w.get("examples", [])]
    if w.get("count", 0) != len(examples):
        examples.append("(%s warnings in all)" % w.get("count"))
    return d, examples


def main():
    args = parse_runner_args(__doc__.split("\n")[0], default_python="sid:3.15")
    with test_workdir(args, "newer") as work:
        return run(args.tool, args.interp, work)


def run(tool, interp, work):
    try:
        prog = os.path.join(work, "prog.py")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        core = core_of(interp, [prog], work)
        ta = interp.tool_args
        rc, out, err = summary(tool, core, ta)
        base, base_warnings = warnings_of(out)
        if rc != 0 or base is None:
            fail("the unpatched core: exit %d: %s" % (rc, err.strip()[:300]))
            return 1
        patched.version = base["hexversion"] if "hexversion" in base else None
        if patched.version is None:
            hv = subprocess.run(interp.argv("-I", "-c", "import sys; print(sys.hexversion)"),
                                env=interp.environ(), stdout=subprocess.PIPE, timeout=60)
            patched.version = int(hv.stdout)
        if base_warnings or err.strip():
            fail("the unpatched core has warnings: %r %r" % (base_warnings, err.strip()))
        else:
            ok("the unpatched %s core reads with no warning" % interp.label)

        newer = patched(core, os.path.join(work, "newer.core"), version=NEWER)
        for label, extra in (("DWARF", ta), ("built-in", ta + ["--no-dwarf"])):
            rc, out, err = summary(tool, newer, extra)
            d, w = warnings_of(out)
            if rc != 0 or d is None:
                fail("3.16.0a1 (%s): exit %d: %s" % (label, rc, err.strip()[:300]))
                continue
            problems = []
            if d.get("objects") != base.get("objects") or d.get("bytes") != base.get("bytes"):
                problems.append("%s objects / %s bytes, not %s / %s"
                                % (d.get("objects"), d.get("bytes"),
                                   base.get("objects"), base.get("bytes")))
            lines = [l for l in err.splitlines() if l.strip()]
            texts = [str(x) for x in (w or [])]
            if len(texts) != 1 or "3.16.0a1 is newer than this build knows" not in texts[0]:
                problems.append("warnings %r, not one saying 3.16.0a1 is newer" % texts)
            if len(lines) > 1:
                problems.append("stderr has %d lines: %r" % (len(lines), lines))
            if problems:
                fail("3.16.0a1 (%s): %s" % (label, "; ".join(problems)))
            else:
                ok("3.16.0a1 (%s) is read like the 3.15 core, with one warning: %s"
                   % (label, texts[0]))

        garbage = patched(core, os.path.join(work, "garbage.core"), version=NEWER, garbage=True)
        for label, extra in (("DWARF", ta), ("built-in", ta + ["--no-dwarf"])):
            rc, out, err = summary(tool, garbage, extra)
            lines = [l for l in err.splitlines() if l.strip()]
            if label == "built-in" and rc == 3 and len(lines) == 1 and \
                    "_Py_DebugOffsets is implausible" in lines[0]:
                ok("3.16.0a1 with garbage offsets (%s) is refused: %s" % (label, lines[0]))
            elif label == "DWARF" and rc == 0:
                # The DWARF describes the build; the garbage block is only
                # a cross-check there, and must say so.
                d, w = warnings_of(out)
                texts = [str(x) for x in (w or [])]
                if any("_Py_DebugOffsets is implausible" in t for t in texts):
                    ok("3.16.0a1 with garbage offsets (DWARF) is read by the DWARF, warning: %s"
                       % texts)
                else:
                    fail("3.16.0a1 with garbage offsets (DWARF): exit 0, warnings %r" % texts)
            else:
                fail("3.16.0a1 with garbage offsets (%s): exit %d, stderr %r"
                     % (label, rc, lines))

        known = patched(core, os.path.join(work, "known-garbage.core"), garbage=True)
        rc, out, err = summary(tool, known, ta + ["--no-dwarf"])
        d, w = warnings_of(out)
        texts = [str(x) for x in (w or [])]
        if rc == 0 and d and d.get("objects") == base.get("objects") and len(texts) == 1 \
                and "_Py_DebugOffsets is implausible" in texts[0]:
            ok("3.15 with garbage offsets (built-in) reads by its table, one warning: %s"
               % texts[0])
        else:
            fail("3.15 with garbage offsets (built-in): exit %d, objects %s (not %s), "
                 "warnings %r, stderr %r" % (rc, d and d.get("objects"), base.get("objects"),
                                             texts, err.strip()[:300]))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        fail(str(e))
    return tally.close()


if __name__ == "__main__":
    run_main(main)
