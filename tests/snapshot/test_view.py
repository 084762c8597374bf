#!/usr/bin/env python3
"""The object records of snapshots (formats/FORMAT.md, RAND): `show` and
`path` answered from them print the same bytes as from the whole heap,
and records that are damaged or do not fit are never trusted.

    test_view.py --tool PATH/TO/pyheapsnap --python SPEC [--keep DIR]

A core of a program with a leak, shared objects, dict keys of several
kinds, weak references, closures, garbage cycles and a frame's locals is
written as a snapshot (with its records) and as the same snapshot without
them (read whole). For many objects (every object of a sample spread over
the heap, and the program's own), `show` (text and --json) and `path`
(text, --json, --all, --format dot) must print the same bytes, and exit
the same way, from both; so must the cache entry the first verb on the
core leaves, and an address no object has.

Then the records damaged with every checksum right (cut short, lengthened,
emptied, garbled, all 0xff, of another file): the answers must still be
the whole heap's; a flipped byte (its checksum wrong) must be refused by
every verb, with one line naming the section (exit 3). Skipped (exit 77)
when the interpreter cannot be had.
"""

import json
import os
import random
import re
import struct
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from pyhs_test import Tally, core_of, parse_runner_args, run_main, test_workdir  # noqa: E402
from test_snapshot import Snapshot, flip  # noqa: E402
from test_index import Tool, one_line_error, section, with_index_raw  # noqa: E402

TIMEOUT = 60
SAMPLE = 40
CORPUS_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "corpora", "snapshots"))
CORPUS_INDEX = os.path.join(CORPUS_DIR, "INDEX-rand")
CORPUS_OBJECTS = 12

PROGRAM = r'''
import gc, os, weakref
gc.disable()
class Leaf:
    def __init__(self, i):
        self.i = i
        self.tag = "leaf-%d" % i
LEAK = [{"k%d" % i: [i, str(i) * 3, Leaf(i)]} for i in range(300)]
KEYS = {(1, "a"): ["tuple key"], 7: ["int key"], 2.5: ["float key"], None: ["none"],
        frozenset({1, 2}): ["frozenset key"], b"raw": ["bytes key"]}
SHARED = ["shared"]
HOLDERS = [[SHARED, (SHARED,)], {"s": SHARED}]
REFS = [weakref.ref(x[2]) for x in LEAK[0].values()]
def outer():
    captured = ["captured"]
    def inner():
        return captured
    return inner
CLOSURE = outer()
for i in range(40):
    a = [i]
    b = {"other": a}
    a.append(b)
garbage = id(a)
del a, b
def work(depth):
    local_list = ["local", depth]
    if depth:
        return work(depth - 1)
    with open("addrs", "w") as f:
        f.write(" ".join(hex(x) for x in (id(LEAK), id(LEAK[7]), id(SHARED), id(KEYS),
                                         id(local_list), id(CLOSURE), garbage)))
    os.abort()
work(2)
'''


def strip(good, sid):
    s = Snapshot(good)
    s.sections = [x for x in s.sections if x[0] != sid]
    return s.build(version=s.version)


def questions(addr):
    return [("show", addr), ("show", addr, "--json"), ("path", addr),
            ("path", addr, "--json"), ("path", addr, "--all"),
            ("path", addr, "--all", "--json"), ("path", addr, "--format", "dot")]


def sample_addrs(tool, path, extra):
    """Addresses of a sample of the heap's objects, spread over it."""
    status, out, err = tool.run(("export", "--format", "jsonl"), path)
    if status != 0:
        raise RuntimeError("export: exit %d: %s" % (status, err.decode(errors="replace")))
    addrs = []
    for line in out.decode().splitlines():
        rec = json.loads(line)
        if "addr" in rec and "root" not in rec:
            addrs.append(hex(rec["addr"]))
    rng = random.Random(7)
    picked = sorted(set(rng.sample(addrs, min(SAMPLE, len(addrs)))) | set(extra))
    return picked


def compare(tool, qs, path, full, what):
    """The questions whose answers from path differ from full's."""
    bad = []
    for q in qs:
        want = tool.run(q, full)
        got = tool.run(q, path)
        if got != want:
            bad.append("%s from the %s: exit %d, not %d; stderr %r"
                       % (" ".join(q), what, got[0], want[0], got[2][-200:]))
    return bad


def zstd(data, decompress):
    how = ["-d"] if decompress else ["-3", "--stream-size=%d" % len(data)]
    r = subprocess.run(["zstd"] + how + ["-q", "-c"], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("zstd failed: %s" % r.stderr.decode(errors="replace"))
    return r.stdout


def forged_records(raw):
    """The RAND raw bytes with every object's retained size made 1 (its
    binding and every check still right)."""
    block, nblocks, n, binding = struct.unpack_from("<IIQQ", raw)
    base = 24 + 48 * nblocks
    frames = []
    for k in range(nblocks):
        ents = struct.unpack_from("<6Q", raw, 24 + 48 * k)
        cnt = min(block, n - k * block)
        g = raw[ents[0]:ents[0] + ents[1]]
        r = bytearray(zstd(raw[ents[3]:ents[3] + ents[4]], True))
        r[16 * cnt:24 * cnt] = b"\x01" * cnt + b"\x00" * (7 * cnt)
        frames.append((g, ents[2], zstd(bytes(r), False), len(r)))
    head = struct.pack("<IIQQ", block, nblocks, n, binding)
    body, dirs, off = b"", b"", base
    for g, graw, r, rraw in frames:
        dirs += struct.pack("<6Q", off, len(g), graw, off + len(g), len(r), rraw)
        body += g + r
        off += len(g) + len(r)
    return head + dirs + body


def write_program(workdir):
    path = os.path.join(workdir, "program.py")
    with open(path, "w") as f:
        f.write(PROGRAM)
    return path


def check(args, tally, workdir):
    name = args.label
    core = core_of(args.interp, [write_program(workdir)], workdir, timeout=TIMEOUT)
    with open(os.path.join(workdir, "addrs")) as f:
        mine = f.read().split()
    tool = Tool(args, os.path.join(workdir, "cache"))
    snap = os.path.join(workdir, "records.phs")
    status, _, err = tool.run(("snapshot",), core, ["--no-cache", "-o", snap])
    if status != 0:
        tally.fail("%s: snapshot: exit %d: %s" % (name, status, err.decode(errors="replace")))
        return
    with open(snap, "rb") as f:
        good = f.read()
    x = section(Snapshot(good), "RAND")
    if not x or x[1] & 1:
        tally.fail("%s: the snapshot has no optional RAND section" % name)
        return
    tally.ok("%s: the snapshot has an optional RAND section (%d bytes)" % (name, len(x[3])))
    full = os.path.join(workdir, "whole.phs")
    with open(full, "wb") as f:
        f.write(strip(good, "RAND"))

    addrs = sample_addrs(tool, snap, mine)
    qs = [q for a in addrs for q in questions(a)] + [("show", "0x10"), ("path", "0x10")]
    bad = compare(tool, qs, snap, full, "records")
    if bad:
        tally.fail("%s: %d of %d answers differ:\n  %s"
                   % (name, len(bad), len(qs), "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d answers about %d objects the same from the records and the whole heap"
                 % (name, len(qs), len(addrs)))

    # Not a check of speed: that the records are what answered, shown by
    # records whose retained sizes were all made 1 changing show's.
    probe = ("show", mine[0], "--json")
    forged = os.path.join(workdir, "forged.phs")
    with open(forged, "wb") as f:
        f.write(with_index_raw(good, forged_records(x[3]), "RAND"))
    got = tool.run(probe, forged)
    if got[0] == 0 and b'"retained": 1,' in got[1] and got[1] != tool.run(probe, full)[1]:
        tally.ok("%s: show answers from the records (forged ones change it)" % name)
    else:
        tally.fail("%s: forged records did not change show: exit %d, %r"
                   % (name, got[0], got[1][:200]))

    # The cache entry (written by the first verb on the core).
    tool.run(("summary",), core)
    entries = tool.entries()
    if len(entries) != 1 or not section(Snapshot(open(entries[0], "rb").read()), "RAND"):
        tally.fail("%s: the first verb did not leave one entry with records: %s"
                   % (name, entries))
    cqs = [q for a in mine for q in questions(a)]
    bad = []
    for q in cqs:
        want = tool.run(q, core, ["--no-cache"])
        got = tool.run(q, core)
        if got != want:
            bad.append("%s from the cache: exit %d, not %d" % (" ".join(q), got[0], want[0]))
    if bad:
        tally.fail("%s: %d differences:\n  %s" % (name, len(bad), "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d answers the same from the cache entry and the core" % (name, len(cqs)))

    # Damaged records, every checksum right: the whole heap answers.
    s = Snapshot(good)
    raw = x[3]
    rng = random.Random(11)
    damaged = [("cut short", raw[:-1]), ("cut to a third", raw[:len(raw) // 3]),
               ("one byte more", raw + b"\x00"), ("all 0xff", b"\xff" * len(raw)),
               ("empty", b""), ("head only", raw[:24]),
               ("other binding", raw[:16] + struct.pack("<Q", 12345) + raw[24:])]
    for k in range(10):
        b = bytearray(raw)
        for _ in range(1 + k):
            b[rng.randrange(24, len(b))] = rng.choice((0, 1, 2, 0x7f, 0x80, 0xff))
        damaged.append(("garbled %d" % k, bytes(b)))
    # A directory entry pointing elsewhere, with the binding kept.
    b = bytearray(raw)
    struct.pack_into("<Q", b, 24 + 8, 1 << 40)
    damaged.append(("a block of 2^40 bytes", bytes(b)))
    dqs = [q for a in mine[:2] for q in questions(a)[:4]]
    bad = []
    for what, new in damaged:
        path = os.path.join(workdir, "damaged.phs")
        with open(path, "wb") as f:
            f.write(with_index_raw(good, new, "RAND"))
        for q in dqs:
            want = tool.run(q, full)
            got = tool.run(q, path)
            if got != want:
                bad.append("records %s, %s: exit %d, not %d; stderr %r"
                           % (what, " ".join(q), got[0], want[0], got[2][-200:]))
    if bad:
        tally.fail("%s: damaged records:\n  %s" % (name, "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d kinds of damaged records, every answer the whole heap's"
                 % (name, len(damaged)))

    # A flipped byte: refused by every verb, naming the section.
    offs = dict((sid, (off, n)) for sid, off, n in s.offsets())
    off, n = offs["RAND"]
    bad = []
    for k in sorted({0, n // 2, n - 1}):
        path = os.path.join(workdir, "flipped.phs")
        with open(path, "wb") as f:
            f.write(flip(good, off + k, k % 8))
        for q in (("show", mine[0]), ("path", mine[1]), ("summary",), ("top", "-n", "3")):
            why = one_line_error(tool.run(q, path), r"checksum mismatch in section object records")
            if why:
                bad.append("byte %d flipped, %s: %s" % (k, " ".join(q), why))
    if bad:
        tally.fail("%s: flipped records:\n  %s" % (name, "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: flipped records refused by every verb" % name)


def check_corpus(args, tally, workdir):
    """The committed files (INDEX-rand): 'same', show and path of their
    first objects the same as from the file without its records; else the
    exit status and message every verb must give."""
    if not os.path.exists(CORPUS_INDEX):
        tally.fail("no %s" % CORPUS_INDEX)
        return
    tool = Tool(args, os.path.join("/nonexistent", "cache"))
    with open(CORPUS_INDEX) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fname, rule = line.split(" ", 1)
            path = os.path.join(CORPUS_DIR, fname)
            with open(path, "rb") as g:
                data = g.read()
            if rule == "same":
                full = os.path.join(workdir, "corpus-whole.phs")
                with open(full, "wb") as g:
                    g.write(strip(data, "RAND"))
                addrs = sample_addrs(tool, full, [])[:CORPUS_OBJECTS]
                qs = [q for a in addrs for q in (("show", a, "--json"), ("path", a, "--all"))]
                bad = compare(tool, qs, path, full, fname)
                why = "; ".join(bad[:3]) if bad else None
            elif rule == "forged":
                full = os.path.join(workdir, "corpus-whole.phs")
                with open(full, "wb") as g:
                    g.write(strip(data, "RAND"))
                a = sample_addrs(tool, full, [])[0]
                got = tool.run(("show", a, "--json"), path)
                why = None if got[0] == 0 and b'"retained": 1,' in got[1] else \
                    "show %s --json: exit %d, %r" % (a, got[0], got[1][:200])
            else:
                status, pattern = rule.split(" ", 1)
                why = None
                for q in (("show", "0x10"), ("summary",)):
                    why = why or one_line_error(tool.run(q, path), pattern)
            if why:
                tally.fail("corpus %s: %s" % (fname, why))
            else:
                tally.ok("corpus %s: %s" % (fname, rule))


def write_corpus(args, directory):
    """The committed corpus, from a small snapshot (300 objects) of this
    interpreter."""
    with test_workdir(args, "view-corpus") as tmp:
        core = core_of(args.interp, [write_program(tmp)], tmp, timeout=TIMEOUT)
        path = os.path.join(tmp, "small.phs")
        subprocess.run([args.tool, "snapshot", "--no-cache", "--max-objects", "300", core, "-o",
                        path] + args.tool_args, check=True, stdout=subprocess.DEVNULL)
        with open(path, "rb") as f:
            good = f.read()
        raw = section(Snapshot(good), "RAND")[3]
        off, n = dict((sid, (o, k)) for sid, o, k in Snapshot(good).offsets())["RAND"]
        b = bytearray(raw)
        struct.pack_into("<Q", b, 24 + 8, 1 << 40)
        files = [
            ("rand-valid.phs", good, "same"),
            ("rand-flipped.phs", flip(good, off + n // 2, 5),
             "3 checksum mismatch in section object records"),
            ("rand-cut.phs", with_index_raw(good, raw[:len(raw) // 2], "RAND"), "same"),
            ("rand-other.phs", with_index_raw(good, raw[:16] + struct.pack("<Q", 1) + raw[24:],
                                              "RAND"), "same"),
            ("rand-block-out.phs", with_index_raw(good, bytes(b), "RAND"), "same"),
            ("rand-forged.phs", with_index_raw(good, forged_records(raw), "RAND"), "forged"),
        ]
        os.makedirs(directory, exist_ok=True)
        lines = []
        for fname, data, rule in files:
            with open(os.path.join(directory, fname), "wb") as f:
                f.write(data)
            lines.append("%s %s" % (fname, rule))
            print("wrote %s (%d bytes)" % (fname, len(data)))
        with open(CORPUS_INDEX if directory == CORPUS_DIR else
                  os.path.join(directory, "INDEX-rand"), "w") as f:
            f.write("# file, then 'same' (show and path of its first objects print the same\n"
                    "# as from the file without its object records), 'forged' (records whose\n"
                    "# retained sizes are all 1, every check right: show --json says 1), or\n"
                    "# the exit status and a regular expression the one-line message of every\n"
                    "# verb must match. Made by tests/snapshot/test_view.py\n"
                    "# --write-corpus corpora/snapshots --python /usr/bin/python3.11\n")
            f.write("\n".join(lines) + "\n")


def main():
    def add_arguments(ap):
        ap.add_argument("--write-corpus", metavar="DIR")
    args = parse_runner_args(__doc__.splitlines()[0], add_arguments)
    if args.write_corpus:
        write_corpus(args, os.path.abspath(args.write_corpus))
        return 0
    tally = Tally()
    with test_workdir(args, "view") as workdir:
        check(args, tally, workdir)
        check_corpus(args, tally, workdir)
    return tally.close()


if __name__ == "__main__":
    run_main(main)
