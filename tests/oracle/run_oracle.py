#!/usr/bin/env python3
"""Oracle test harness for pyheapsnap: CPython itself is the ground truth.

    run_oracle.py --tool PATH/TO/pyheapsnap --python PYTHON
                  [--label NAME] [--keep DIR] [--timeout SECONDS]
                  [--tool-args ARG ...]

PYTHON is an interpreter's path, pyenv:3.X or sid:3.X[d] (Debian unstable's,
see tests/debian_sid.py).  Runs heap_program.py (next to this file) under it in a
fresh directory with RLIMIT_CORE unlimited.  The program records the truth
about its heap to truth.jsonl and aborts; the kernel writes a core.  Then

    pyheapsnap export CORE --format jsonl [tool args]

is run and its output compared with the truth, object by object, keyed by
address: presence, type, size, refcnt (immortal objects: the flag), gen and
refs (the export's refs must include every referent gc.get_referents()
gave).  A per-field agreement table and the first disagreements of each field
are printed.

--tool-args takes every argument after it (so it comes last); the form
--tool-args="ARGS" (split like a shell would) works too.

Exit status: 0 if every field agrees on at least 99.9% of the truth objects
and the export header matches the truth header, 1 otherwise, 77 (meson's
"skipped") if the interpreter is not installed or cannot give a truth.
"""

import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import core_of, parse_runner_args, run_main, test_workdir  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HEAP_PROGRAM = os.path.join(HERE, "heap_program.py")

EXIT_OK = 0
EXIT_FAIL = 1

THRESHOLD = 99.9  # percent of the truth objects that must agree, per field
PER_TYPE_MIN = 20  # types with at least this many objects are judged alone
PER_TYPE_FIELDS = ("size", "refcnt", "refs")
SHOW = 15  # disagreements shown per field

PROGRAM_TIMEOUT = 120


def fail(msg):
    print("FAIL: " + msg)
    sys.stdout.flush()
    sys.exit(EXIT_FAIL)


def parse_args(argv):
    def add_arguments(p):
        p.add_argument("--numpy", action="store_true",
                       help="numpy and pandas objects in the heap too, and a leaked list of "
                            "arrays whose retained size is checked (skipped without them)")
        p.add_argument("--timeout", type=float, default=240.0,
                       help="seconds allowed for pyheapsnap (default 240)")
    return parse_runner_args("Compare pyheapsnap's export of a core with CPython's own "
                             "account of its heap.", add_arguments, argv=argv)


# ---------------------------------------------------------------------------
# Reading the truth and the export
# ---------------------------------------------------------------------------

class Truth(object):
    def __init__(self, path):
        self.header = None
        self.objects = {}  # addr -> record (tracked objects: the test)
        self.untracked = {}  # addr -> record (informational)
        self.threads = []
        self.main_stack = []
        with open(path, "rb") as f:
            for n, line in enumerate(f):
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line.decode("utf-8"))
                if n == 0:
                    self.header = rec
                elif "addr" in rec:
                    if rec.get("untracked") and not rec.get("verdict"):
                        self.untracked[rec["addr"]] = rec
                    else:
                        self.objects[rec["addr"]] = rec
                elif "threads" in rec:
                    self.threads = rec["threads"]
                elif "main_stack" in rec:
                    self.main_stack = rec["main_stack"]
        if self.header is None or "pid" not in self.header:
            raise ValueError("truth file has no header")


class Export(object):
    """The export, keeping only the records of truth addresses."""

    def __init__(self, path, wanted):
        self.header = None
        self.objects = {}
        self.n_objects = 0
        self.n_other_lines = 0
        self.duplicates = []
        self.bad_lines = []
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line.decode("utf-8"))
                except ValueError as e:
                    self.bad_lines.append((n, str(e), line[:200]))
                    continue
                if self.header is None:
                    self.header = rec
                    continue
                if not isinstance(rec, dict) or "addr" not in rec:
                    self.n_other_lines += 1
                    continue
                self.n_objects += 1
                addr = rec["addr"]
                if addr in wanted:
                    if addr in self.objects:
                        self.duplicates.append(addr)
                    self.objects[addr] = rec


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

class Field(object):
    """Agreement on one field, with samples of the disagreements grouped by
    the object's type (a tool tends to get a whole type wrong)."""

    def __init__(self, name, what):
        self.name = name
        self.what = what
        self.total = 0
        self.agree = 0
        self.bad_by_type = {}  # type name -> number of disagreements
        self.by_type = {}  # type name -> [agree, total]
        self.samples = {}  # type name -> first SHOW descriptions

    def count(self, ok, type_name, describe):
        self.total += 1
        tally = self.by_type.setdefault(type_name, [0, 0])
        tally[1] += 1
        if ok:
            tally[0] += 1
            self.agree += 1
            return
        self.bad_by_type[type_name] = self.bad_by_type.get(type_name, 0) + 1
        samples = self.samples.setdefault(type_name, [])
        if len(samples) < SHOW:
            samples.append(describe())

    def shown(self):
        """Up to SHOW samples, taking the types in turn (most frequent
        first) so that every kind of mistake shows."""
        order = sorted(self.samples, key=lambda k: (-self.bad_by_type[k], k))
        out = []
        i = 0
        while len(out) < SHOW and any(i < len(self.samples[k]) for k in order):
            for k in order:
                if i < len(self.samples[k]) and len(out) < SHOW:
                    out.append(self.samples[k][i])
            i += 1
        return out

    def percent(self):
        return 100.0 * self.agree / self.total if self.total else 100.0

    def passed(self):
        return self.percent() >= THRESHOLD


def short(value, limit=120):
    s = json.dumps(value)
    return s if len(s) <= limit else s[:limit] + "..."


def compare_objects(truth_objects, export_objects, all_truth, hexversion):
    """Returns the list of Fields for the truth objects given."""
    deep_frozen_311 = (hexversion >> 16) == 0x030B
    present = Field("present", "object is in the export")
    ftype = Field("type", "type name equal")
    fsize = Field("size", "size equal to sys.getsizeof()")
    frefcnt = Field("refcnt", "refcnt equal (mortal objects)")
    fimmortal = Field("immortal", "immortal objects flagged \"immortal\": true")
    fgen = Field("gen", "GC generation equal")
    frefs = Field("refs", "refs include every gc.get_referents() id")
    fields = [present, ftype, fsize, frefcnt, fimmortal, fgen, frefs]

    def head(t):
        return "addr=%#x (%d) type=%s" % (t["addr"], t["addr"], t["type"])

    def describe_ref(addr):
        t = all_truth.get(addr)
        return "%#x %s" % (addr, t["type"] if t else "(no truth record: str, int, ...)")

    for addr in sorted(truth_objects):
        t = truth_objects[addr]
        e = export_objects.get(addr)
        tn = t["type"]
        present.count(e is not None, tn, lambda: "%s gen=%s size=%s: missing from the export"
                      % (head(t), short(t["gen"]), t["size"]))
        if e is None:
            continue
        ftype.count(e.get("type") == tn, tn,
                    lambda: "%s: exported type %s" % (head(t), short(e.get("type"))))
        if t.get("py_sizeof"):
            # sys.getsizeof() ran a __sizeof__ written in Python: the export
            # must say that its size is not that one.
            fsize.count(e.get("size_exact") is False, tn,
                        lambda: "%s: __sizeof__ is Python code (truth %s), exported size %s "
                        "without \"size_exact\": false"
                        % (head(t), t["size"], short(e.get("size"))))
        elif t.get("size") is not None:
            fsize.count(e.get("size") == t["size"] and e.get("size_exact") is not False, tn,
                        lambda: "%s: truth size %s, exported %s%s"
                        % (head(t), t["size"], short(e.get("size")),
                           " (size_exact false)" if e.get("size_exact") is False else ""))
        if t.get("immortal"):
            fimmortal.count(e.get("immortal") is True, tn,
                            lambda: "%s: immortal, exported immortal=%s refcnt=%s"
                            % (head(t), short(e.get("immortal")), short(e.get("refcnt"))))
        else:
            # 3.11's deep-frozen objects (code of the frozen modules, their
            # tuples) live in the binary with a count of 999999999 that
            # nothing drops: the count must agree, "immortal" may be said.
            frozen_311 = (deep_frozen_311 and isinstance(t["refcnt"], int)
                          and t["refcnt"] >= 999999999)
            frefcnt.count(e.get("refcnt") == t["refcnt"]
                          and (not e.get("immortal") or frozen_311), tn,
                          lambda: "%s: truth refcnt %s, exported %s%s"
                          % (head(t), t["refcnt"], short(e.get("refcnt")),
                             " (flagged immortal)" if e.get("immortal") else ""))
        fgen.count(e.get("gen") == t["gen"], tn,
                   lambda: "%s: truth gen %s, exported %s"
                   % (head(t), short(t["gen"]), short(e.get("gen"))))
        exported_refs = e.get("refs")
        if not isinstance(exported_refs, list):
            exported_refs = []
        missing = set(t["refs"]) - set(exported_refs)

        def describe_refs():
            ms = sorted(missing)
            return ("%s: %d of %d truth refs missing (export lists %d): %s%s"
                    % (head(t), len(ms), len(set(t["refs"])), len(exported_refs),
                       ", ".join(describe_ref(a) for a in ms[:4]),
                       ", ..." if len(ms) > 4 else ""))
        frefs.count(not missing, tn, describe_refs)
    return fields


def print_table(title, fields, verdict=True):
    print("")
    print(title)
    print("  %-9s %15s %9s   %s" % ("field", "agree/total", "%", "meaning"))
    for f in fields:
        mark = "" if f.passed() or not verdict else "   <-- below %.1f%%" % THRESHOLD
        pct = "%8.3f%%" % f.percent() if f.total else "     n/a "
        print("  %-9s %15s %9s   %s%s" % (f.name, "%d/%d" % (f.agree, f.total), pct,
                                          f.what, mark))


def print_disagreements(fields, prefix=""):
    for f in fields:
        if f.agree == f.total:
            continue
        by_type = sorted(f.bad_by_type.items(), key=lambda kv: (-kv[1], kv[0]))
        print("")
        print("%s%s: %d disagreements; by type: %s%s"
              % (prefix, f.name, f.total - f.agree,
                 ", ".join("%s %d" % kv for kv in by_type[:12]),
                 ", ..." if len(by_type) > 12 else ""))
        shown = f.shown()
        print("first %d, types in turn:" % len(shown))
        for line in shown:
            print("  " + line)


def per_type_verdict(truth_objects, fields):
    """Prints, per type, how many objects disagree on size, refcnt
    (immortality included) and refs; returns the types that have at least
    PER_TYPE_MIN objects and agree on fewer than THRESHOLD percent of them
    on some field, as "type field" strings."""
    counts = {}
    for t in truth_objects.values():
        counts[t["type"]] = counts.get(t["type"], 0) + 1
    by_name = dict((f.name, f) for f in fields)
    judged = {"size": [by_name["size"]], "refcnt": [by_name["refcnt"], by_name["immortal"]],
              "refs": [by_name["refs"]]}
    rows = []
    failing = []
    for tn in sorted(counts, key=lambda k: (-counts[k], k)):
        cells = []
        bad_any = False
        under = []
        for name in PER_TYPE_FIELDS:
            agree = total = 0
            for f in judged[name]:
                a, n = f.by_type.get(tn, (0, 0))
                agree += a
                total += n
            if total and agree < total:
                bad_any = True
            pct = 100.0 * agree / total if total else 100.0
            if counts[tn] >= PER_TYPE_MIN and pct < THRESHOLD:
                under.append(name)
            cells.append("%d/%d" % (total - agree, total) if total else "-")
        if bad_any:
            rows.append((tn, counts[tn], cells, under))
        failing.extend("%s %s" % (tn, u) for u in under)
    print("")
    print("per type (every type of >= %d objects must agree on >= %.1f%% of them "
          "for each field): %d types, %d of them disagree somewhere"
          % (PER_TYPE_MIN, THRESHOLD, len(counts), len(rows)))
    if rows:
        print("  %-44s %7s %12s %12s %12s" % ("type", "objects", "size bad", "refcnt bad",
                                              "refs bad"))
        for tn, n, cells, under in rows:
            mark = ("   <-- below %.1f%%: %s" % (THRESHOLD, ", ".join(under)) if under
                    else "   (under %d objects: not judged alone)" % PER_TYPE_MIN
                    if n < PER_TYPE_MIN else "")
            print("  %-44s %7d %12s %12s %12s%s" % (tn[:44], n, cells[0], cells[1], cells[2],
                                                    mark))
    return failing


def check_leak(args, core, workdir, leak):
    """The retained size of the leaked list of arrays must be the sum of
    sys.getsizeof() of the list and of its items (their data included)."""
    cmd = [args.tool, "show", core, "%#x" % leak["addr"], "--json"] + args.tool_args
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=workdir, timeout=args.timeout)
        got = json.loads(out.stdout.decode()).get("retained")
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        return ["pyheapsnap show of the leaked list failed: %s" % e]
    print("")
    print("leaked list of arrays %#x: retained %s, sum of sys.getsizeof() %d"
          % (leak["addr"], got, leak["retained"]))
    if got != leak["retained"]:
        return ["retained size of the leaked list %s, sys.getsizeof() sum %d"
                % (got, leak["retained"])]
    return []


def check_header(truth, export):
    """Returns a list of problems with the export's header."""
    problems = []
    h = export.header
    th = truth.header
    if not isinstance(h, dict):
        return ["the first line of the export is not a JSON object: %s" % short(h)]
    for key in ("format", "version", "executable", "pid"):
        if key not in h:
            problems.append("header has no %r" % key)
    print("")
    print("export header: %s" % short(h, 400))
    if "pid" in h and h["pid"] != th["pid"]:
        problems.append("header pid %s, truth pid %s" % (short(h["pid"]), th["pid"]))
    if "version" in h:
        v = h["version"]
        truth_version = th["version"]
        truth_short = truth_version.split()[0]
        if isinstance(v, int) and not isinstance(v, bool):
            ok = v == th["hexversion"]
        elif isinstance(v, str):
            ok = (v == truth_version or v == truth_short
                  or v.split()[:1] == [truth_short])
        else:
            ok = False
        if not ok:
            problems.append("header version %s, truth %s (hexversion %#x)"
                            % (short(v), short(truth_version), th["hexversion"]))
    if "hexversion" in h and h["hexversion"] != th["hexversion"]:
        problems.append("header hexversion %s, truth %#x" % (short(h["hexversion"]),
                                                            th["hexversion"]))
    if "executable" in h:
        same = (h["executable"] == th["executable"]
                or os.path.realpath(str(h["executable"])) == os.path.realpath(th["executable"]))
        print("  executable: export %s, truth %s%s"
              % (short(h["executable"]), short(th["executable"]),
                 "" if same else " (differ; not an error)"))
    return problems


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main(argv):
    args = parse_args(argv)
    with test_workdir(args, "oracle") as workdir:
        return run(args, workdir)


def run(args, workdir):
    truth_path = os.path.join(workdir, "truth.jsonl")
    export_path = os.path.join(workdir, "export.jsonl")
    print("oracle %s: %s" % (args.label, args.python))

    start = time.time()
    core = core_of(args.interp, [HEAP_PROGRAM, truth_path] + (["--numpy"] if args.numpy else []),
                   workdir, timeout=PROGRAM_TIMEOUT)
    prog_time = time.time() - start
    if not os.path.isfile(truth_path):
        fail("heap_program.py wrote no truth file")
    truth = Truth(truth_path)
    th = truth.header
    print("python %s (hexversion %#x), pid %d"
          % (th["version"].split()[0], th["hexversion"], th["pid"]))
    print("heap program: %.2f s, truth: %d tracked objects (%d untracked, informational), "
          "%d threads, main stack depth %d"
          % (prog_time, len(truth.objects), len(truth.untracked), len(truth.threads),
             len(truth.main_stack)))
    print("core: %s (%.1f MiB)" % (core, os.path.getsize(core) / 1048576.0))
    if th.get("collections_during_recording"):
        print("warning: the collector ran during the recording: the truth may be off")

    cmd = [args.tool, "export", core, "--format", "jsonl"] + args.tool_args
    print("running: %s" % " ".join(shlex.quote(c) for c in cmd))
    sys.stdout.flush()
    start = time.time()
    with open(export_path, "wb") as out, open(export_path + ".stderr", "wb") as err:
        try:
            rc = subprocess.call(cmd, stdout=out, stderr=err, cwd=workdir,
                                 timeout=args.timeout)
        except subprocess.TimeoutExpired:
            rc = None
        except OSError as e:
            fail("cannot run %s: %s" % (args.tool, e))
    tool_time = time.time() - start
    with open(export_path + ".stderr", "rb") as f:
        tool_err = f.read().decode(errors="replace")
    if rc != 0:
        tail = "\n".join(tool_err.splitlines()[-40:])
        fail("pyheapsnap export %s\nstderr (last 40 lines):\n%s%s"
             % ("timed out after %.0f s" % args.timeout if rc is None
                else "exited with status %d" % rc, tail,
                "" if args.keep else "\n(rerun with --keep DIR to keep the core)"))
    if tool_err.strip():
        print("pyheapsnap stderr (first 20 lines):")
        for line in tool_err.splitlines()[:20]:
            print("  " + line)

    wanted = set(truth.objects)
    wanted.update(truth.untracked)
    export = Export(export_path, wanted)
    print("pyheapsnap export: %.2f s, %d objects exported (%.1f MiB of jsonl)"
          % (tool_time, export.n_objects, os.path.getsize(export_path) / 1048576.0))

    problems = []
    if export.header is None:
        problems.append("the export is empty")
    else:
        problems.extend(check_header(truth, export))
    if export.bad_lines:
        problems.append("%d export lines are not JSON, first: %s"
                        % (len(export.bad_lines), export.bad_lines[0]))
    if export.duplicates:
        problems.append("%d truth addresses appear more than once in the export, first %#x"
                        % (len(export.duplicates), export.duplicates[0]))

    all_truth = dict(truth.objects)
    all_truth.update(truth.untracked)
    fields = compare_objects(truth.objects, export.objects, all_truth, th["hexversion"])
    print_table("agreement over %d tracked truth objects (must be >= %.1f%% per field):"
                % (len(truth.objects), THRESHOLD), fields)
    info = []
    if truth.untracked:
        info = compare_objects(truth.untracked, export.objects, all_truth, th["hexversion"])
        print_table("informational, not part of the verdict: %d untracked objects "
                    "(str, int, float, bytes, bytearray; on 3.12+ also "
                    "immortal None, True, 5, '', (), int, ...; gen null):"
                    % len(truth.untracked), info, verdict=False)
    print("")
    print("threads and main stack are in the truth but not in the jsonl export "
          "(not compared): %s; main stack %s"
          % (", ".join("%s (native id %s)" % (t["name"], t.get("native_id"))
                       for t in truth.threads), " < ".join(truth.main_stack)))
    print_disagreements(fields)
    print_disagreements(info, prefix="informational, untracked objects: ")

    leak = th.get("leak")
    if leak:
        problems.extend(check_leak(args, core, workdir, leak))
    failed = [f.name for f in fields if not f.passed()]
    failed_types = per_type_verdict(truth.objects, fields)
    print("")
    for p in problems:
        print("header/format problem: " + p)
    if failed or failed_types or problems:
        print("FAIL: oracle %s: %s" % (args.label, ", ".join(
            ["%s %.3f%%" % (f.name, f.percent()) for f in fields if not f.passed()]
            + (["per type: " + ", ".join(failed_types)] if failed_types else [])
            + (["export header/format"] if problems else []))))
        if not args.keep:
            print("(rerun with --keep DIR to keep the core, truth and export)")
        return EXIT_FAIL
    print("PASS: oracle %s: every field agrees on >= %.1f%% of %d objects, and of "
          "the objects of every type of >= %d" % (args.label, THRESHOLD, len(truth.objects),
                                                  PER_TYPE_MIN))
    return EXIT_OK


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
