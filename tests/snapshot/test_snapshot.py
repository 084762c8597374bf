#!/usr/bin/env python3
"""Tests of snapshot files (formats/FORMAT.md) through the command line.

    test_snapshot.py --tool PATH/TO/pyheapsnap [--keep DIR] [--verbose] [--python SPEC]
    test_snapshot.py --tool PATH/TO/pyheapsnap --write-corpus DIR

1. Round trip.  A core of a small Python program (/usr/bin/python3.11, else
   the first python3 in PATH, or --python's: then only 1 and 2 run) is
   snapshotted; `export` and `summary --json`
   (less "input" and "snapshot") must be the same from the core and from the
   snapshot, and so must every other verb that takes just an input, and
   `show`/`path` of a few objects.  A snapshot of the snapshot must be the
   same file byte for byte (so nothing the format holds is lost on reading).
   Bytes per object on disk are printed.
2. Writing.  --json output, no temporary file left behind, a missing
   directory or a missing -o is one clear error line.
3. Corruption.  From a small snapshot (a core read with --max-objects, so
   that each run is quick), a corpus made here: the empty file, truncations
   at many offsets, a bit flipped in every field of the header, in the
   section table and in every section, the version bumped, the magic number
   wrong; and, with every checksum made right again, counts changed and
   sections' decompressed bytes garbled (the allocator state's read by
   `memory` as well) (so the decoders themselves, not
   only the checksums, meet hostile data).  Each must give exit status 3
   and exactly one stderr line starting "pyheapsnap: " within 10 s (the
   garbled-but-checksummed ones may also be read fine, exit 0); never a
   crash or a hang.
4. The committed corpus in corpora/snapshots/: every file there with the
   exit status and message its name's entry in INDEX says.

Prints one line per check ("ok NAME", "FAIL NAME: why", "skip NAME: why")
and then "N passed, N failed[, N skipped]".  Exit status 0 if nothing
failed.  --write-corpus regenerates the committed corpus into DIR.
"""

import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyhs_test import (ProgramFailed, Skip, core_of, default_interpreter,  # noqa: E402
                       parse_runner_args, run_main, test_workdir)

TIMEOUT = 10.0
PROGRAM_TIMEOUT = 60.0

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "corpora", "snapshots"))

PROGRAM = """\
import collections, os
class Account:
    def __init__(self, name, balance):
        self.name = name
        self.balance = balance
        self.history = [balance * k for k in range(5)]
class Slotted:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a = a
        self.b = b
ACCOUNTS = {"acct-%d" % i: Account("owner %d" % i, i * 1.25) for i in range(300)}
PAIRS = [(i, "pair-%d" % i, b"bytes-%d" % i) for i in range(200)]
SLOTS = [Slotted(i, str(i)) for i in range(100)]
QUEUE = collections.deque(range(50))
SETS = {frozenset({i, i + 1}) for i in range(40)}
CYCLE = []
CYCLE.append(CYCLE)
MARKER = ["pyheapsnap-marker-%d" % i for i in range(7)]
def work(depth, local_value="a local"):
    if depth:
        return work(depth - 1)
    os.abort()
work(3)
"""

MESSAGE_RE = re.compile(r"^pyheapsnap: (?![A-Z][a-z])\S.*$")

HEADER_SIZE = 64
ENTRY_SIZE = 40
MAGIC = b"\x89PYHSNAP"


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------
# XXH64 (seed 0) and the file's framing, to make corrupt files with right
# checksums
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, v):
    acc = (acc + v * P2) & M64
    return (_rotl(acc, 31) * P1) & M64


def xxh64(data):
    n = len(data)
    p = 0
    if n >= 32:
        v = [(P1 + P2) & M64, P2, 0, (-P1) & M64]
        while p + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], struct.unpack_from("<Q", data, p + 8 * k)[0])
            p += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for k in range(4):
            h ^= _round(0, v[k])
            h = (h * P1 + P4) & M64
    else:
        h = P5
    h = (h + n) & M64
    while p + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, p)[0])
        h = (_rotl(h, 27) * P1 + P4) & M64
        p += 8
    if p + 4 <= n:
        h ^= (struct.unpack_from("<I", data, p)[0] * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        p += 4
    while p < n:
        h ^= (data[p] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        p += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


class Snapshot:
    """A snapshot file taken apart: header fields and sections."""

    HEADER = struct.Struct("<8sIIQQQQQQ")
    ENTRY = struct.Struct("<4sHBBQQQQ")

    def __init__(self, data):
        (self.magic, self.version, nsec, self.size, self.table_off, self.nobjects,
         self.nedges, self.table_hash, self.header_hash) = self.HEADER.unpack_from(data)
        self.sections = []  # [id, flags, codec, stored bytes, raw size]
        for i in range(nsec):
            sid, flags, codec, _, off, stored, raw, _h = self.ENTRY.unpack_from(
                data, self.table_off + ENTRY_SIZE * i)
            self.sections.append([sid.decode(), flags, codec, data[off:off + stored], raw])
        self.data = data

    def offsets(self):
        """(id, offset, stored size) of each section in the original file."""
        out = []
        for i, s in enumerate(self.sections):
            e = self.ENTRY.unpack_from(self.data, self.table_off + ENTRY_SIZE * i)
            out.append((s[0], e[4], e[5]))
        return out

    def build(self, nobjects=None, nedges=None, version=None):
        """The file again, every checksum right."""
        body = b""
        table = b""
        off = HEADER_SIZE
        for sid, flags, codec, stored, raw in self.sections:
            table += self.ENTRY.pack(sid.encode(), flags, codec, 0, off, len(stored), raw,
                                     xxh64(stored))
            body += stored
            off += len(stored)
        size = off + len(table)
        head = struct.pack("<8sIIQQQQQ", MAGIC, self.version if version is None else version,
                           len(self.sections), size, off,
                           self.nobjects if nobjects is None else nobjects,
                           self.nedges if nedges is None else nedges, xxh64(table))
        return head + struct.pack("<Q", xxh64(head)) + body + table


def zstd_decompress(data):
    r = subprocess.run(["zstd", "-d", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise Skip("zstd -d failed: %s" % r.stderr.decode(errors="replace").strip())
    return r.stdout


# ---------------------------------------------------------------------------
# Making cores and running the tool
# ---------------------------------------------------------------------------

# The interpreter the cores are made with (--python, else
# pyhs_test.default_interpreter()); set by main().
INTERP = None


def make_core(workdir, program):
    """Runs the interpreter with -I program in workdir until it aborts, in a
    bare environment; the core (Skip when there is none)."""
    return core_of(INTERP, program, workdir, timeout=PROGRAM_TIMEOUT, env=INTERP.bare_environ())


def run(tool, argv, timeout=TIMEOUT):
    """(status, stdout, stderr); a hang is a Failure."""
    try:
        r = subprocess.run([tool] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("%s did not finish within %g s" % (" ".join(argv), timeout))
    return r.returncode, r.stdout, r.stderr


def run_ok(tool, argv, timeout=60):
    status, out, err = run(tool, argv, timeout)
    if status != 0:
        raise Failure("%s: exit %d: %s" % (" ".join(argv), status,
                                          err.decode(errors="replace").strip()[:500]))
    return out


def expect_input_error(tool, argv, pattern=None, allow_ok=False):
    """Exit 3 and one "pyheapsnap: " line, or with allow_ok exit 0."""
    status, out, err = run(tool, argv)
    if status < 0:
        raise Failure("killed by signal %d: %s" % (-status, err.decode(errors="replace")[-800:]))
    if allow_ok and status == 0:
        return None
    lines = err.decode(errors="replace").splitlines()
    if status != 3:
        raise Failure("exit %d, not 3; stderr: %r" % (status, lines[:5]))
    if len(lines) != 1 or not MESSAGE_RE.match(lines[0]):
        raise Failure("stderr is not one 'pyheapsnap: ' line: %r" % lines[:5])
    if pattern and not re.search(pattern, lines[0]):
        raise Failure("message %r does not match %r" % (lines[0], pattern))
    return lines[0]


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------

class Tests:
    def __init__(self, tool, tmp, verbose):
        self.tool = tool
        self.tmp = tmp
        self.verbose = verbose
        self.passed = self.failed = self.skipped = 0

    def check(self, name, fn, *args):
        try:
            note = fn(*args)
        except Skip as why:
            self.skipped += 1
            print("skip %s: %s" % (name, why))
        except (Failure, ProgramFailed) as why:
            self.failed += 1
            print("FAIL %s: %s" % (name, why))
        else:
            self.passed += 1
            print("ok %s%s" % (name, " (%s)" % note if note else ""))
        sys.stdout.flush()

    # -- round trip --------------------------------------------------------

    def roundtrip(self):
        d = os.path.join(self.tmp, "program")
        os.mkdir(d)
        with open(os.path.join(d, "program.py"), "w") as f:
            f.write(PROGRAM)
        core = make_core(d, ["program.py"])
        snap = os.path.join(self.tmp, "program.phs")
        out = run_ok(self.tool, ["snapshot", "--json", core, "-o", snap])
        doc = json.loads(out)
        size = os.path.getsize(snap)
        if doc.get("output") != snap or doc.get("bytes_on_disk") != size:
            raise Failure("snapshot --json says %r; the file has %d bytes" % (doc, size))
        if not isinstance(doc.get("objects"), int) or doc["objects"] <= 0:
            raise Failure("snapshot --json: objects is %r" % (doc.get("objects"),))
        if abs(doc["bytes_per_object"] - size / doc["objects"]) > 0.01:
            raise Failure("snapshot --json: bytes_per_object is %r" % (doc["bytes_per_object"],))
        leftovers = [f for f in os.listdir(self.tmp) if f.endswith(".tmp")]
        if leftovers:
            raise Failure("temporary files left behind: %s" % leftovers)
        self.core, self.snap, self.objects = core, snap, doc["objects"]
        return "%d objects, %d bytes, %.2f bytes per object" % (
            doc["objects"], size, size / doc["objects"])

    def need_roundtrip(self):
        if not getattr(self, "snap", None):
            raise Skip("no snapshot was made")

    def same_summary(self):
        self.need_roundtrip()
        a = json.loads(run_ok(self.tool, ["summary", "--json", self.core]))
        b = json.loads(run_ok(self.tool, ["summary", "--json", self.snap]))
        if b.get("snapshot", self.snap) != self.snap or a.get("snapshot") is not None:
            raise Failure("\"snapshot\" is %r from the core and %r from the snapshot"
                          % (a.get("snapshot"), b.get("snapshot")))
        if b.get("input") != a.get("input"):
            raise Failure("the snapshot forgot its input: %r, not %r"
                          % (b.get("input"), a.get("input")))
        for doc in (a, b):
            doc.pop("input", None)
            doc.pop("snapshot", None)
        diffs = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if diffs:
            raise Failure("summary --json differs in %s: %s"
                          % (diffs, "; ".join("%s: %s vs %s" % (k, str(a.get(k))[:200],
                                                                 str(b.get(k))[:200])
                                              for k in diffs)))
        text_a = run_ok(self.tool, ["summary", self.core]).decode()
        text_b = run_ok(self.tool, ["summary", self.snap]).decode()
        strip = re.compile(r"^(input|snapshot):.*\n", re.M)
        if strip.sub("", text_a) != strip.sub("", text_b):
            raise Failure("the text summaries differ")

    def same_export(self):
        self.need_roundtrip()
        a = run_ok(self.tool, ["export", self.core])
        b = run_ok(self.tool, ["export", self.snap])
        if a != b:
            la, lb = a.splitlines(), b.splitlines()
            for n, (x, y) in enumerate(zip(la, lb)):
                if x != y:
                    raise Failure("line %d differs:\n  core:     %s\n  snapshot: %s"
                                  % (n + 1, x[:300], y[:300]))
            raise Failure("%d lines from the core, %d from the snapshot" % (len(la), len(lb)))
        self.export_lines = a.splitlines()
        return "%d lines" % (len(self.export_lines) - 1)

    def verbs(self):
        """The verbs --help lists."""
        out = run_ok(self.tool, ["--help"]).decode()
        return re.findall(r"^  ([a-z]+) ", out, re.M)

    def same_other_verbs(self):
        self.need_roundtrip()
        compared = []
        for verb in self.verbs():
            # memory reads the allocators' state, which snapshots do not
            # keep: it refuses them (tests/memory checks how).
            if verb in ("summary", "export", "snapshot", "demo", "diff", "path", "show",
                        "memory"):
                continue
            for extra in ([], ["--json"]):
                sa, a, ea = run(self.tool, [verb] + extra + [self.core], 120)
                if sa == 2:
                    break  # it needs more than an input
                sb, b, eb = run(self.tool, [verb] + extra + [self.snap], 120)
                if (sa, a) != (sb, b):
                    raise Failure("%s %s: exit %d vs %d, outputs %s"
                                  % (verb, " ".join(extra), sa, sb,
                                     "equal" if a == b else "differ"))
                compared.append(" ".join([verb] + extra))
        return ", ".join(compared)

    def same_show_path(self):
        self.need_roundtrip()
        if not getattr(self, "export_lines", None):
            raise Skip("no export")
        objs = [json.loads(l) for l in self.export_lines[1:] if not l.startswith(b"{\"root\"")]
        picks = [o["addr"] for o in objs if o["type"] in ("Account", "Slotted", "deque",
                                                          "frozenset")][:4]
        picks += [o["addr"] for o in objs if o["type"] == "str"][:2]
        verbs = self.verbs()
        done = []
        for verb in ("show", "path"):
            if verb not in verbs:
                continue
            for addr in picks:
                for extra in ([], ["--json"]):
                    argv = [verb] + extra
                    sa, a, _ = run(self.tool, argv + [self.core, hex(addr)], 60)
                    sb, b, _ = run(self.tool, argv + [self.snap, hex(addr)], 60)
                    if (sa, a) != (sb, b):
                        raise Failure("%s %s: exit %d vs %d, outputs %s"
                                      % (" ".join(argv), hex(addr), sa, sb,
                                         "equal" if a == b else "differ"))
            done.append(verb)
        if not done:
            raise Skip("no show or path verb")
        return "%s of %d objects" % (" and ".join(done), len(picks))

    def same_diff(self):
        self.need_roundtrip()
        if "diff" not in self.verbs():
            raise Skip("no diff verb")
        for argv in (["diff", self.core, self.snap], ["diff", self.snap, self.core],
                     ["diff", self.snap, self.snap]):
            sa, a, _ = run(self.tool, ["diff", self.core, self.core], 120)
            sb, b, eb = run(self.tool, argv, 120)
            if (sa, a) != (sb, b):
                raise Failure("%s: exit %d vs %d with core against core: %s"
                              % (" ".join(argv[1:]), sb, sa,
                                 eb.decode(errors="replace").strip()[:300]))

    def resnapshot(self):
        self.need_roundtrip()
        again = os.path.join(self.tmp, "again.phs")
        run_ok(self.tool, ["snapshot", self.snap, "-o", again])
        with open(self.snap, "rb") as f:
            a = f.read()
        with open(again, "rb") as f:
            b = f.read()
        if a != b:
            sa, sb = Snapshot(a), Snapshot(b)
            diff = [x[0] for x, y in zip(sa.sections, sb.sections) if x != y]
            raise Failure("a snapshot of the snapshot differs, in sections %s" % diff)
        # Overwriting an existing file in place.
        run_ok(self.tool, ["snapshot", again, "-o", again])
        with open(again, "rb") as f:
            if f.read() != a:
                raise Failure("snapshotting a file onto itself changed it")

    def live(self):
        """snapshot --pid of a sleeping process, read back."""
        interp = INTERP.need()
        proc = subprocess.Popen(interp.argv("-I", "-c",
                                 "import sys, time\n"
                                 "x = ['live-%d' % i for i in range(500)]\n"
                                 "print('ready', flush=True)\n"
                                 "time.sleep(60)\n"),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=interp.bare_environ())
        try:
            proc.stdout.readline()
            path = os.path.join(self.tmp, "live.phs")
            status, out, err = run(self.tool, ["snapshot", "--pid", str(proc.pid), "-o", path],
                                   60)
            if status != 0:
                msg = err.decode(errors="replace").strip()
                if re.search(r"permission|not permitted|ptrace|--pid", msg, re.I):
                    raise Skip("cannot read a live process here: %s" % msg)
                raise Failure("snapshot --pid: exit %d: %s" % (status, msg))
            doc = json.loads(run_ok(self.tool, ["summary", "--json", path]))
            if doc.get("source") != "pid" or doc.get("pid") != proc.pid:
                raise Failure("from the snapshot of pid %d: source %r, pid %r"
                              % (proc.pid, doc.get("source"), doc.get("pid")))
            # The 500 strings the process made, and the list holding them.
            if doc["objects"] < 501:
                raise Failure("from the snapshot of pid %d: %d objects, fewer than the "
                              "501 the process made" % (proc.pid, doc["objects"]))
            return "%d objects" % doc["objects"]
        finally:
            proc.kill()
            proc.wait()

    # -- writing -------------------------------------------------------------

    def write_errors(self):
        self.need_roundtrip()
        missing = os.path.join(self.tmp, "no-such-dir", "x.phs")
        expect_input_error(self.tool, ["snapshot", self.snap, "-o", missing],
                           r"cannot write snapshot .*no-such-dir/x\.phs.*: no such file")
        status, _, err = run(self.tool, ["snapshot", self.snap])
        lines = err.decode().splitlines()
        if status != 2 or not lines or "-o" not in lines[0]:
            raise Failure("without -o: exit %d, %r" % (status, lines))
        d = os.path.join(self.tmp, "is-a-dir.phs")
        os.mkdir(d)
        expect_input_error(self.tool, ["snapshot", self.snap, "-o", d],
                           r"cannot write snapshot .*not a regular file")
        if os.path.exists("/dev/null"):
            expect_input_error(self.tool, ["snapshot", self.snap, "-o", "/dev/null"],
                               r"cannot write snapshot '/dev/null': .*not a regular file")
            if not os.path.exists("/dev/null") or os.path.isfile("/dev/null"):
                raise Failure("/dev/null was replaced")
        link = os.path.join(self.tmp, "link.phs")
        os.symlink(self.snap, link)
        expect_input_error(self.tool, ["snapshot", self.snap, "-o", link],
                           r"cannot write snapshot .*not a regular file")
        leftovers = [f for f in os.listdir(self.tmp) if f.endswith(".tmp")]
        if leftovers:
            raise Failure("temporary files left behind: %s" % leftovers)

    # -- corruption ----------------------------------------------------------

    def small_snapshot(self):
        """A snapshot of a few hundred objects: quick to read many times."""
        d = os.path.join(self.tmp, "small")
        os.mkdir(d)
        core = make_core(d, ["-S", "-c", "import os; os.abort()"])
        path = os.path.join(d, "small.phs")
        run_ok(self.tool, ["snapshot", "--max-objects", "300", core, "-o", path])
        with open(path, "rb") as f:
            self.small = f.read()
        return "%d bytes" % len(self.small)

    def corpus(self):
        """(name, bytes, message regex or None, may it read fine)."""
        if not getattr(self, "small", None):
            raise Skip("no small snapshot")
        return make_corpus(self.small)

    def corrupt(self, name, data, pattern, allow_ok):
        path = os.path.join(self.tmp, "corrupt.phs")
        with open(path, "wb") as f:
            f.write(data)
        # The allocator state is read by memory as well.
        verbs = [["summary"], ["export"]] + ([["memory"]] if "MEMS" in name else [])
        for verb in verbs:
            try:
                expect_input_error(self.tool, verb + [path], pattern, allow_ok)
            except Failure as why:
                keep = os.path.join(self.tmp, "failed-" + re.sub(r"\W+", "-", name) + ".phs")
                shutil.copy(path, keep)
                raise Failure("%s: %s (file kept as %s)" % (verb[0], why, keep))

    def committed(self, entry):
        name, status, pattern = entry
        path = os.path.join(CORPUS_DIR, name)
        verbs = [["summary"]] + ([["memory"]] if name.startswith("memory-") else [])
        if status == 0:
            run_ok(self.tool, ["export", path])
            for verb in verbs:
                run_ok(self.tool, verb + [path])
        else:
            for verb in verbs:
                expect_input_error(self.tool, verb + [path], pattern)


def flip(data, pos, bit=0):
    b = bytearray(data)
    b[pos] ^= 1 << bit
    return bytes(b)


def make_corpus(good):
    """Corrupt variants of the snapshot good: [(name, data, regex, allow_ok)]."""
    snap = Snapshot(good)
    out = []
    size = len(good)
    out.append(("empty file", b"", None, False))
    out.append(("wrong magic", b"\x89PYHSNAQ" + good[8:], r"not a pyheapsnap snapshot|not an ELF", False))
    out.append(("version 5", snap.build(version=5),
                r"newer pyheapsnap \(format 5; this one reads up to 4\)", False))
    out.append(("version 5, old checksum", good[:8] + struct.pack("<I", 5) + good[12:],
                r"newer pyheapsnap \(format 5; this one reads up to 4\)", False))
    out.append(("version 0", snap.build(version=0), r"version 0", False))
    # Truncations: every byte of the header, each section's edges, and more.
    cuts = set(range(1, HEADER_SIZE + 2))
    for _sid, off, stored in snap.offsets():
        cuts.update((off - 1, off, off + 1, off + stored // 2, off + stored - 1))
    cuts.update(range(HEADER_SIZE, size, max(1, size // 60)))
    cuts.update(range(size - ENTRY_SIZE * len(snap.sections) - 2, size))
    for cut in sorted(c for c in cuts if 0 < c < size):
        out.append(("truncated to %d" % cut, good[:cut], None, False))
    out.append(("one byte appended", good + b"\0", r"after its end", False))
    # Bit flips: each byte of the header, each table entry's fields, and
    # bytes spread over each section.
    for pos in range(HEADER_SIZE):
        out.append(("header byte %d flipped" % pos, flip(good, pos, pos % 8), None, False))
    for i in range(len(snap.sections)):
        base = snap.table_off + ENTRY_SIZE * i
        for field in (0, 4, 6, 8, 16, 24, 32):
            out.append(("table entry %d byte %d flipped" % (i, field),
                        flip(good, base + field, 1), r"checksum mismatch in the section table",
                        False))
    for sid, off, stored in snap.offsets():
        if stored == 0:
            continue
        for k, pos in enumerate(sorted({off, off + stored // 3, off + stored // 2,
                                        off + stored - 1})):
            out.append(("section %s byte %d flipped" % (sid, pos - off),
                        flip(good, pos, k % 8), r"checksum mismatch in section ", False))
    # Checksums right, contents wrong.
    out.append(("objects + 1", snap.build(nobjects=snap.nobjects + 1), None, False))
    out.append(("objects - 1", snap.build(nobjects=snap.nobjects - 1), None, False))
    out.append(("objects 2^32", snap.build(nobjects=1 << 32), None, False))
    out.append(("objects 2^63", snap.build(nobjects=1 << 63), None, False))
    out.append(("edges + 1", snap.build(nedges=snap.nedges + 1), None, False))
    out.append(("edges 2^60", snap.build(nedges=1 << 60), None, False))
    missing = Snapshot(good)
    missing.sections = [x for x in missing.sections if x[0] != "ELPL"]
    out.append(("a section missing", missing.build(), r"is missing", False))
    # An optional section missing: read from what the file has instead.
    missing = Snapshot(good)
    missing.sections = [x for x in missing.sections if x[0] != "ASYN"]
    out.append(("section ASYN missing", missing.build(), None, True))
    unknown = Snapshot(good)
    unknown.sections.append(["ZZZZ", 1, 0, b"future", 6])
    out.append(("an unknown required section", unknown.build(), r"does not know", False))
    optional = Snapshot(good)
    optional.sections.append(["ZZZZ", 0, 0, b"future", 6])
    out.append(("an unknown optional section", optional.build(), None, True))
    twice = Snapshot(good)
    twice.sections.append(list(twice.sections[0]))
    out.append(("a section twice", twice.build(), r"twice", False))
    bomb = Snapshot(good)
    for s in bomb.sections:
        if s[0] == "GENS":
            s[4] = 1 << 40
    out.append(("a section claiming 1 TiB", bomb.build(), None, False))
    rng = random.Random(1)
    # Garbled zstd frames with right checksums.
    for i, (sid, flags, codec, stored, raw) in enumerate(snap.sections):
        if codec != 1:
            continue
        for k, pos in enumerate((0, 4, 5, 6, len(stored) // 2, len(stored) - 1)):
            if pos >= len(stored):
                continue
            s = Snapshot(good)
            b = bytearray(stored)
            b[pos] ^= 1 << (k % 8)
            s.sections[i][3] = bytes(b)
            out.append(("section %s zstd byte %d flipped, checksum right" % (sid, pos),
                        s.build(), None, True))
        s = Snapshot(good)
        s.sections[i][4] = raw + 1
        out.append(("section %s raw size + 1" % sid, s.build(), None, False))
        s = Snapshot(good)
        s.sections[i][3] = stored + stored
        out.append(("section %s two frames" % sid, s.build(), None, False))
    # Garbled contents, stored uncompressed with right checksums.
    try:
        raws = []
        for sid, flags, codec, stored, raw in snap.sections:
            raws.append(zstd_decompress(stored) if codec == 1 else stored)
    except Skip:
        raws = None
    if raws is not None:
        for i, (sid, flags, codec, stored, raw) in enumerate(snap.sections):
            data = raws[i]
            variants = [("stored raw", data)]
            if data:
                variants.append(("cut short", data[:-1]))
                variants.append(("cut to half", data[:len(data) // 2]))
            variants.append(("one byte more", data + b"\x01"))
            variants.append(("0xff appended", data + b"\xff" * 11))
            for k in range(6 if data else 0):
                b = bytearray(data)
                for _ in range(1 + k):
                    b[rng.randrange(len(b))] = rng.choice((0, 1, 0x7f, 0x80, 0xff,
                                                           rng.randrange(256)))
                variants.append(("garbled %d" % k, bytes(b)))
            if data:
                variants.append(("all 0xff", b"\xff" * len(data)))
                variants.append(("all zero", b"\0" * len(data)))
            for what, new in variants:
                s = Snapshot(good)
                s.sections[i] = [sid, flags, 0, new, len(new)]
                # A raw copy of good data must read exactly as before. The
                # allocator state's in the file's own version, so that its
                # decoder meets them (build() writes version 1, whose
                # threads section the others fail on first).
                version = snap.version if sid == "MEMS" else None
                out.append(("section %s %s" % (sid, what), s.build(version=version),
                            None, True))
    return out


# The committed corpus: name -> (variant name in make_corpus, exit status,
# message regex). Regenerated with --write-corpus.
COMMITTED = [
    ("valid-tiny.phs", None, 0, None),
    ("valid-tiny-v3.phs", None, 0, None),
    ("empty.phs", "empty file", 3, r"empty"),
    ("wrong-magic.phs", "wrong magic", 3, r"not a pyheapsnap snapshot \(wrong magic number\)"),
    ("newer-version.phs", "version 5", 3,
     r"newer pyheapsnap \(format 5; this one reads up to 4\)"),
    ("truncated-header.phs", "truncated to 40", 3, r"truncated to 40 bytes, inside the header"),
    ("truncated-middle.phs", None, 3, r"truncated to \d+ of its \d+ bytes"),
    ("flipped-header.phs", "header byte 20 flipped", 3, r"checksum mismatch in the header"),
    ("flipped-table.phs", None, 3, r"checksum mismatch in the section table"),
    ("flipped-edges.phs", None, 3, r"checksum mismatch in section edges"),
    ("flipped-addresses.phs", None, 3, r"checksum mismatch in section addresses"),
    ("counts-too-big.phs", "objects 2^32", 3, r"counts are out of range"),
    ("counts-wrong.phs", "objects + 1", 3, r"does not fit"),
    ("section-missing.phs", "a section missing", 3, r"is missing"),
    ("section-unknown.phs", "an unknown required section", 3, r"does not know"),
    ("section-bomb.phs", "a section claiming 1 TiB", 3, r"impossible size|does not fit"),
    # The allocator state section (MEMS, optional), which memory reads too.
    ("memory-valid.phs", None, 0, None),
    ("memory-flipped.phs", None, 3, r"checksum mismatch in section allocator state"),
    ("memory-cut.phs", "section MEMS cut short", 3,
     r"truncated or malformed data in section allocator state"),
    ("memory-garbled.phs", "section MEMS all zero", 3,
     r"an unknown version of the section in section allocator state"),
]


def write_corpus(tests, directory):
    tests.small_snapshot()
    variants = {name: data for name, data, _, _ in tests.corpus()}
    snap = Snapshot(tests.small)
    offs = dict((sid, (off, stored)) for sid, off, stored in snap.offsets())
    os.makedirs(directory, exist_ok=True)
    index = []
    for name, variant, status, pattern in COMMITTED:
        if name in ("valid-tiny.phs", "valid-tiny-v3.phs") and \
                os.path.exists(os.path.join(directory, name)):
            # Files of older formats are kept as they are, to keep reading them.
            index.append("%s %d %s" % (name, status, pattern or ""))
            continue
        if name in ("valid-tiny.phs", "valid-tiny-v3.phs", "memory-valid.phs"):
            data = tests.small
        elif name == "memory-flipped.phs":
            off, stored = offs["MEMS"]
            data = flip(tests.small, off + stored // 2, 4)
        elif name == "truncated-middle.phs":
            data = tests.small[:len(tests.small) // 2]
        elif name == "flipped-table.phs":
            data = flip(tests.small, snap.table_off + 9, 2)
        elif name == "flipped-edges.phs":
            off, stored = offs["EDST"]
            data = flip(tests.small, off + stored // 2, 3)
        elif name == "flipped-addresses.phs":
            off, stored = offs["ADDR"]
            data = flip(tests.small, off + stored // 3, 5)
        else:
            data = variants[variant]
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
        index.append("%s %d %s" % (name, status, pattern or ""))
        print("wrote %s (%d bytes)" % (os.path.join(directory, name), len(data)))
    with open(os.path.join(directory, "INDEX"), "w") as f:
        f.write("# file, the exit status pyheapsnap must give reading it, and a regular\n"
                "# expression its one-line message must match. Made by\n"
                "# tests/snapshot/test_snapshot.py --write-corpus corpora/snapshots\n"
                "# (in the format it writes; valid-tiny.phs and the damaged files\n"
                "# committed with it are of format 2, to keep reading old files)\n")
        f.write("\n".join(index) + "\n")


def read_index():
    entries = []
    path = os.path.join(CORPUS_DIR, "INDEX")
    if not os.path.exists(path):
        return entries
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, status, pattern = (line.split(" ", 2) + [""])[:3]
            entries.append((name, int(status), pattern or None))
    return entries


def main():
    def add_arguments(ap):
        ap.add_argument("--verbose", action="store_true")
        ap.add_argument("--write-corpus", metavar="DIR")
    # With --python: only the checks that depend on the interpreter (1, 2).
    args = parse_runner_args(__doc__.splitlines()[0], add_arguments, need_python=False,
                             default_python=default_interpreter())
    global INTERP
    INTERP = args.interp
    with test_workdir(args, "snapshot") as tmp:
        return run_checks(args, Tests(args.tool, tmp, args.verbose))


def run_checks(args, t):
    if args.write_corpus:
        write_corpus(t, args.write_corpus)
        return 0
    t.check("snapshot of a core", t.roundtrip)
    t.check("summary the same from core and snapshot", t.same_summary)
    t.check("export the same from core and snapshot", t.same_export)
    t.check("other verbs the same from core and snapshot", t.same_other_verbs)
    t.check("show and path the same from core and snapshot", t.same_show_path)
    t.check("diff the same with cores and snapshots", t.same_diff)
    t.check("a snapshot of the snapshot is the same file", t.resnapshot)
    t.check("write errors", t.write_errors)
    t.check("a snapshot of a live process", t.live)
    if args.python_given:
        print("%d passed, %d failed%s" % (t.passed, t.failed,
                                          ", %d skipped" % t.skipped if t.skipped else ""))
        return 1 if t.failed else (77 if not t.passed else 0)
    t.check("a small snapshot", t.small_snapshot)
    try:
        corpus = t.corpus()
    except Skip as why:
        corpus = []
        t.check("corrupt snapshots", lambda: (_ for _ in ()).throw(why))
    failures = []
    for name, data, pattern, allow_ok in corpus:
        try:
            t.corrupt(name, data, pattern, allow_ok)
        except Failure as why:
            failures.append("%s: %s" % (name, why))
    if corpus:
        def report():
            if failures:
                raise Failure("%d of %d:\n  %s" % (len(failures), len(corpus),
                                                    "\n  ".join(failures[:30])))
            return "%d files" % len(corpus)
        t.check("corrupt snapshots give exit 3 and one line", report)
    entries = read_index()
    if not entries:
        t.check("committed corpus", lambda: (_ for _ in ()).throw(
            Skip("no %s/INDEX" % CORPUS_DIR)))
    for entry in entries:
        t.check("committed corpus: %s" % entry[0], t.committed, entry)
    print("%d passed, %d failed%s" % (t.passed, t.failed,
                                      ", %d skipped" % t.skipped if t.skipped else ""))
    return 1 if t.failed else (0 if t.passed else 77)


if __name__ == "__main__":
    run_main(main)
