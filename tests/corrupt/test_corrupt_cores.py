#!/usr/bin/env python3
"""pyheapsnap on corrupted cores: never a crash, a hang, or unbounded memory.

    test_corrupt_cores.py --tool PATH/TO/pyheapsnap [--jobs N] [--keep DIR]
                          [--only TEXT] [--python PY]... [--verbose]

Makes a core with /usr/bin/python3.11 and with a pyenv 3.12 (whichever are
here; none: skipped, exit 77), then runs `pyheapsnap summary --json`,
`pyheapsnap export` (and on every third variant `pyheapsnap memory --json`,
which reads the objects again, to keep the suite's time) on every corrupted
variant make_corrupt_cores.py makes
of it (truncations, bit flips, zeroed pages, looping GC lists, wild
pointers, lying sizes, NT_FILE naming a FIFO, a zstd bomb, ...; see there),
each within TIMEOUT seconds and an address-space limit of 4 GiB (under
AddressSanitizer, which cannot run with one: ASan's own allocation and RSS
limits instead, with failed allocations returning NULL as they would).

Each run must end in one of:

  * exit 0, with output that parses: summary's JSON (its "warnings" count
    is reported), export's header and one JSON line per object it counts,
    memory's JSON with regions that add up to its mapped bytes;
  * exit 3 with exactly one stderr line, "pyheapsnap: ...".

A signal, a timeout, another status or more lines is a failure. Prints one
line per case and then "N passed, N failed". --keep DIR saves the cores of
failing cases there; --only runs the cases whose name contains TEXT.
"""

import argparse
import concurrent.futures
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_corrupt_cores as mcc  # noqa: E402

TIMEOUT = 20.0
MEMORY_LIMIT = 4 << 30
MESSAGE_RE = re.compile(r"^pyheapsnap: \S")


def is_asan(tool):
    with open(tool, "rb") as f:
        return b"__asan_init" in f.read()


class Runner:
    def __init__(self, tool, workdir, timeout):
        self.tool = tool
        self.workdir = workdir
        self.timeout = timeout
        self.asan = is_asan(tool)
        self.env = dict(os.environ)
        if self.asan:
            extra = ("allocator_may_return_null=1:max_allocation_size_mb=%d:"
                     "hard_rss_limit_mb=%d" % (MEMORY_LIMIT >> 20, (MEMORY_LIMIT >> 20) + 2048))
            old = self.env.get("ASAN_OPTIONS")
            self.env["ASAN_OPTIONS"] = old + ":" + extra if old else extra

    def _limits(self):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if not self.asan:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    def run(self, argv):
        """(status or None on timeout, stdout, stderr, seconds)."""
        t0 = time.monotonic()
        try:
            r = subprocess.run([self.tool] + argv, cwd=self.workdir, env=self.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=self.timeout,
                               preexec_fn=self._limits)
        except subprocess.TimeoutExpired as e:
            return None, e.stdout or b"", e.stderr or b"", time.monotonic() - t0
        return r.returncode, r.stdout, r.stderr, time.monotonic() - t0


# What ASan says when an allocation fails and returns NULL as asked
# (allocator_may_return_null): not the tool's output.
ASAN_NULL_RE = re.compile(r"^==\d+==WARNING: AddressSanitizer failed to allocate ")


def judge(verb, status, out, err, secs, timeout):
    """(ok, description)."""
    lines = [l for l in err.decode("utf-8", errors="replace").splitlines()
             if not ASAN_NULL_RE.match(l)]
    if status is None:
        return False, "%s: no answer within %g s (a hang)" % (verb, timeout)
    if status < 0:
        # The sanitizer's verdict, else the last lines.
        first = [i for i, l in enumerate(lines)
                 if "runtime error" in l or "ERROR:" in l or "SUMMARY:" in l]
        shown = lines[first[0]:first[0] + 3] if first else lines[-6:]
        tail = " | ".join(l.strip() for l in shown if l.strip())
        return False, "%s: killed by signal %d after %.1f s: %s" % (verb, -status, secs, tail[:600])
    if status == 3:
        if len(lines) != 1 or not MESSAGE_RE.match(lines[0]):
            return False, "%s: exit 3 but stderr is not one 'pyheapsnap: ' line: %r" % (verb, lines[:4])
        return True, "%s exit 3 (%s)" % (verb, lines[0][len("pyheapsnap: "):][:120])
    if status != 0:
        return False, "%s: exit %d: %r" % (verb, status, lines[-4:])
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        return False, "%s: exit 0 but its output is not UTF-8: %s" % (verb, e)
    if verb == "memory":
        try:
            doc = json.loads(text)
            nwarn = (doc["pymalloc"]["warnings"] + doc["allocations"]["warnings"] +
                     doc["region_warnings"])
            mapped = sum(r["bytes"] for r in doc["regions"])
        except (ValueError, KeyError, TypeError) as e:
            return False, "memory: exit 0 but its JSON does not parse: %s" % e
        if mapped != doc["mapped_bytes"]:
            return False, "memory: regions add up to %d of %d mapped bytes" % (
                mapped, doc["mapped_bytes"])
        return True, "memory exit 0, pymalloc %s, %d warnings" % (
            doc["pymalloc"]["status"], nwarn)
    if verb == "summary":
        try:
            doc = json.loads(text)
            nwarn = doc["warnings"]["count"]
        except (ValueError, KeyError, TypeError) as e:
            return False, "summary: exit 0 but its JSON does not parse: %s" % e
        return True, "summary exit 0, %d objects, %d warnings" % (doc.get("objects", -1), nwarn)
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    try:
        head = json.loads(rows[0])
        n = head["objects"]
        nroots = head["roots"]
    except (ValueError, KeyError, TypeError, IndexError) as e:
        return False, "export: exit 0 but its header does not parse: %s" % e
    if len(rows) != n + nroots + 1:
        return False, "export: exit 0 but %d lines for %d objects and %d roots" % (
            len(rows) - 1, n, nroots)
    sample = set(range(1, min(len(rows), 60))) | set(range(max(1, len(rows) - 60), len(rows)))
    sample |= set(range(1, len(rows), 97))
    for i in sorted(sample):
        try:
            json.loads(rows[i])
        except ValueError as e:
            return False, "export: line %d is not JSON (%s): %r" % (i + 1, e, rows[i][:200])
    return True, "export exit 0"


def make_fifo_and_dir():
    """A FIFO and a directory with short paths (NT_FILE names must fit)."""
    base = "/tmp" if os.access("/tmp", os.W_OK) else tempfile.gettempdir()
    d = tempfile.mkdtemp(prefix="phs", dir=base)
    fifo = os.path.join(d, "p")
    os.mkfifo(fifo)
    return d, fifo


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=TIMEOUT)
    ap.add_argument("--keep", metavar="DIR", help="save the cores of failing cases in DIR")
    ap.add_argument("--only", metavar="TEXT", help="only cases whose name contains TEXT")
    ap.add_argument("--python", action="append", help="interpreter(s) to make cores with")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    pythons = mcc.named_pythons(args.python) if args.python else mcc.find_pythons()
    if not pythons:
        print("skip: no /usr/bin/python3.11 and no pyenv 3.12 here")
        return 77
    tmp = tempfile.mkdtemp(prefix="pyhs-corrupt-")
    short_dir, fifo = make_fifo_and_dir()
    runner = Runner(tool, tmp, args.timeout)
    lock = threading.Lock()
    passed = failed = skipped = 0
    t_start = time.monotonic()

    def report(ok, name, text):
        nonlocal passed, failed
        with lock:
            if ok:
                passed += 1
            else:
                failed += 1
            print("%s %s: %s" % ("ok" if ok else "FAIL", name, text), flush=True)

    try:
        work = []
        for label, python in pythons:
            try:
                core = mcc.make_core(python, os.path.join(tmp, label))
                objects = mcc.export_objects(tool, core)
            except mcc.Skip as why:
                skipped += 1
                print("skip %s: %s" % (label, why), flush=True)
                continue
            with open(core, "rb") as f:
                data = f.read()
            os.unlink(core)
            print("# %s: %s, core of %d bytes, %d objects" % (label, python.path, len(data),
                                                               len(objects)),
                  flush=True)
            cases = [("pristine", lambda data=data: data)]
            cases += mcc.corrupt_cases(data, objects, fifo_path=fifo, dir_path=short_dir)
            for name, make in cases:
                full = "%s/%s" % (label, name)
                if args.only and args.only not in full:
                    continue
                work.append((full, make, len(work) % 3 == 0 or name == "pristine"))

        counter = iter(range(len(work)))

        def one(item):
            full, make, with_memory = item
            with lock:
                k = next(counter)
            path = os.path.join(tmp, "case-%d.core" % k)
            try:
                with open(path, "wb") as f:
                    f.write(make())
                ok = True
                notes = []
                verbs = [("summary", ["summary", "--json", path]), ("export", ["export", path])]
                if with_memory:
                    verbs.append(("memory", ["memory", "--json", path]))
                for verb, argv in verbs:
                    status, out, err, secs = runner.run(argv)
                    good, text = judge(verb, status, out, err, secs, args.timeout)
                    ok = ok and good
                    notes.append(text.replace(path, "CORE") +
                                 (" [%.1f s]" % secs if secs > 2 else ""))
                    if status is None and verb == "summary":
                        # export reads the same way: spare the wait.
                        notes.append("export not run")
                        break
                if full.endswith("/pristine") and ok and not notes[0].startswith("summary exit 0"):
                    ok = False
                    notes.insert(0, "the pristine core must read")
                if not ok and args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    shutil.copy(path, os.path.join(args.keep, full.replace("/", "-") + ".core"))
                report(ok, full, "; ".join(notes))
            except Exception as e:  # a bug here must not hide the others
                report(False, full, "test error: %r" % e)
            finally:
                try:
                    os.unlink(path)
                except OSError:
                    pass

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            list(pool.map(one, work))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(short_dir, ignore_errors=True)
    if args.verbose:
        print("# %.0f s" % (time.monotonic() - t_start))
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    if failed:
        return 1
    return 0 if passed else 77


if __name__ == "__main__":
    sys.exit(main())
