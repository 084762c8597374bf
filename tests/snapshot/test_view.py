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


WANTS = {}


def compare(tool, qs, path, full, what):
    """The questions whose answers from path differ from full's (asked of
    full once)."""
    bad = []
    for q in qs:
        if (q, full) not in WANTS:
            WANTS[(q, full)] = tool.run(q, full)
        want = WANTS[(q, full)]
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
    binding and every check still right): each block's records frame
    made again at the end, its place in the directory the new one's."""
    block, nblocks, n, binding = struct.unpack_from("<IIQQ", raw)
    head = 32 if block >> 31 else 24
    block &= 0x7fffffff
    out = bytearray(raw)
    for k in range(nblocks):
        ents = struct.unpack_from("<6Q", raw, head + 48 * k)
        cnt = min(block, n - k * block)
        r = bytearray(zstd(raw[ents[3]:ents[3] + ents[4]], True))
        r[16 * cnt:24 * cnt] = b"\x01" * cnt + b"\x00" * (7 * cnt)
        z = zstd(bytes(r), False)
        struct.pack_into("<3Q", out, head + 48 * k + 24, len(out), len(z), len(r))
        out += z
    return bytes(out)


def get32(b, at, n):
    """n u32s stored as 4 byte planes at b[at:]."""
    p = [b[at + k * n:at + (k + 1) * n] for k in range(4)]
    return [p[0][i] | p[1][i] << 8 | p[2][i] << 16 | p[3][i] << 24 for i in range(n)]


def put32(words):
    return b"".join(bytes((w >> (8 * k)) & 0xff for w in words) for k in range(4))


def zframe(data):
    """data as one zstd frame of raw blocks, its content size given."""
    out = struct.pack("<IBI", 0xFD2FB528, 0xA0, len(data))
    at = 0
    while True:
        part = data[at:at + (1 << 17)]
        at += len(part)
        last = at >= len(data)
        h = len(part) << 3 | (1 if last else 0)
        out += struct.pack("<I", h)[:3] + part
        if last:
            return out


def long_lists(raw, chunk, pick):
    """The RAND raw bytes (without long lists) made again with the lists
    of references pick(direction, object, count) says kept out of their
    blocks, in chunks of chunk references (FORMAT.md, long lists)."""
    block, nblocks, n, binding = struct.unpack_from("<IIQQ", raw)
    frames, lists = [], []
    for k in range(nblocks):
        ents = struct.unpack_from("<6Q", raw, 24 + 48 * k)
        cnt, first = min(block, n - k * block), k * block
        made = []
        for f, (rec, field) in enumerate(((9, 4), (56, 48))):
            b = zstd(raw[ents[3 * f]:ents[3 * f] + ents[3 * f + 1]], True)
            counts = get32(b, field * cnt, cnt)
            total, at = sum(counts), rec * cnt
            xs, ys = get32(b, at, total), get32(b, at + 4 * total, total)
            kx, ky, off = [], [], 0
            for q, c in enumerate(counts):
                x, y = xs[off:off + c], ys[off:off + c]
                off += c
                if c and pick(1 - f, first + q, c):
                    lists.append((1 - f, first + q, x, y))
                else:
                    kx += x
                    ky += y
            made.append(b[:at] + put32(kx) + put32(ky) + b[at + 8 * total:])
        frames.append(made)
    lists.sort(key=lambda x: (x[0], x[1]))
    chunks = [put32(x[k:k + chunk]) + put32(y[k:k + chunk])
              for _, _, x, y in lists for k in range(0, len(x), chunk)]
    base = 32 + 48 * nblocks + 12 * len(lists) + 24 * len(chunks)
    body, dirs, cdir, off = b"", b"", b"", base
    for g, r in frames:
        zg, zr = zframe(g), zframe(r)
        dirs += struct.pack("<6Q", off, len(zg), len(g), off + len(zg), len(zr), len(r))
        body += zg + zr
        off += len(zg) + len(zr)
    for c in chunks:
        zc = zframe(c)
        cdir += struct.pack("<3Q", off, len(zc), len(c))
        body += zc
        off += len(zc)
    table = b"".join(struct.pack("<III", o, d, len(x)) for d, o, x, _ in lists)
    head = struct.pack("<IIQQII", block | 1 << 31, nblocks, n, binding, chunk, len(lists))
    return head + dirs + table + cdir + body


def damaged_long(raw):
    """[(what, RAND raw bytes)]: long lists (as long_lists makes them)
    that do not fit, every checksum right; readers must read the whole
    heap instead."""
    nblocks, chunk, nl = struct.unpack_from("<I", raw, 4)[0], *struct.unpack_from("<II", raw, 24)
    table = 32 + 48 * nblocks
    cdir = table + 12 * nl
    nchunks = sum((struct.unpack_from("<I", raw, table + 12 * k + 8)[0] + chunk - 1) // chunk
                  for k in range(nl))
    out = []

    def edit(what, f):
        b = bytearray(raw)
        f(b)
        out.append((what, bytes(b)))
    edit("chunks of 0 references", lambda b: struct.pack_into("<I", b, 24, 0))
    edit("chunks of 2^21 references", lambda b: struct.pack_into("<I", b, 24, 1 << 21))
    edit("2^32 - 1 long lists", lambda b: struct.pack_into("<I", b, 28, 0xffffffff))
    edit("no long lists", lambda b: struct.pack_into("<I", b, 28, 0))
    edit("long lists out of order", lambda b: b.__setitem__(
        slice(table, table + 24), raw[table + 12:table + 24] + raw[table:table + 12]))
    edit("a long list of another direction", lambda b: struct.pack_into("<I", b, table + 4, 7))
    edit("a long list of no object", lambda b: struct.pack_into("<I", b, table, 0x7fffffff))
    edit("a long list of 2^31 - 1 references",
         lambda b: struct.pack_into("<I", b, table + 8, 0x7fffffff))

    def counts(b):
        for k in range(nl):
            at = table + 12 * k + 8
            struct.pack_into("<I", b, at, struct.unpack_from("<I", b, at)[0] + 1)
    edit("long lists one longer than their objects' counts", counts)

    def chunks(field, value):
        def f(b):
            for k in range(nchunks):
                at = cdir + 24 * k + 8 * field
                struct.pack_into("<Q", b, at, value(struct.unpack_from("<Q", b, at)[0]))
        return f
    edit("chunks at 2^40", chunks(0, lambda v: 1 << 40))
    edit("chunks before the frames", chunks(0, lambda v: 24))
    edit("chunks of 8 raw bytes more", chunks(2, lambda v: v + 8))
    edit("chunks of 2^40 raw bytes", chunks(2, lambda v: 1 << 40))
    edit("chunks one byte shorter", chunks(1, lambda v: v - 1))
    return out


def write_program(workdir):
    path = os.path.join(workdir, "program.py")
    with open(path, "w") as f:
        f.write(PROGRAM)
    return path


def snapshot_of(args, tally, workdir, program, name, what):
    """The core of program (its file), the addresses it wrote, a Tool with
    a cache of its own, the snapshot's path and bytes; None if it could not
    be written."""
    core = core_of(args.interp, [program], workdir, timeout=TIMEOUT)
    with open(os.path.join(workdir, "addrs")) as f:
        mine = f.read().split()
    tool = Tool(args, os.path.join(workdir, "cache-" + what))
    snap = os.path.join(workdir, what + ".phs")
    status, _, err = tool.run(("snapshot",), core, ["--no-cache", "-o", snap])
    if status != 0:
        tally.fail("%s: snapshot: exit %d: %s" % (name, status, err.decode(errors="replace")))
        return None
    with open(snap, "rb") as f:
        return core, mine, tool, snap, f.read()


def check(args, tally, workdir):
    name = args.label
    got = snapshot_of(args, tally, workdir, write_program(workdir), name, "records")
    if not got:
        return
    core, mine, tool, snap, good = got
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

    # The same records with long lists: every list of two or more
    # references kept out of its block, in chunks of three.
    def pick(direction, obj, count):
        return count >= 2
    longp = os.path.join(workdir, "long.phs")
    longraw = long_lists(x[3], 3, pick)
    with open(longp, "wb") as f:
        f.write(with_index_raw(good, longraw, "RAND"))
    bad = compare(tool, qs, longp, full, "long lists")
    if bad:
        tally.fail("%s: %d of %d answers differ with long lists:\n  %s"
                   % (name, len(bad), len(qs), "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d answers the same from records with long lists" % (name, len(qs)))
    with open(forged, "wb") as f:
        f.write(with_index_raw(good, long_lists(forged_records(x[3]), 3, pick), "RAND"))
    got = tool.run(probe, forged)
    if got[0] == 0 and b'"retained": 1,' in got[1]:
        tally.ok("%s: show answers from records with long lists" % name)
    else:
        tally.fail("%s: forged records with long lists did not change show: exit %d, %r"
                   % (name, got[0], got[1][:200]))
    dqs = [q for a in mine[:3] for q in (("show", a), ("path", a, "--json"))]
    bad = []
    for what, new in damaged_long(longraw):
        path = os.path.join(workdir, "damaged.phs")
        with open(path, "wb") as f:
            f.write(with_index_raw(good, new, "RAND"))
        bad += ["%s: %s" % (what, b) for b in compare(tool, dqs, path, full, what)]
    if bad:
        tally.fail("%s: damaged long lists:\n  %s" % (name, "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d kinds of damaged long lists, every answer the whole heap's"
                 % (name, len(damaged_long(longraw))))

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


BIG_PROGRAM = r'''
import gc, os
gc.disable()
SHARED = ["shared"]
POOL = ["item-%d" % i for i in range(500)]
BIG = POOL * 4300
# references that are not in long lists (writers write records only when
# long lists hold at most half of them)
STRS = [str(i) for i in range(46000)]
TUPS = [tuple(STRS[j:j + 100]) for j in range(45000)]
MIXED = [SHARED, POOL[0], BIG, TUPS]
with open("addrs", "w") as f:
    f.write(" ".join(hex(id(x)) for x in (BIG, TUPS[7], SHARED, POOL[0], POOL[499], POOL[250],
                                         MIXED, POOL)))
os.abort()
'''


def check_big(args, tally, workdir):
    """A heap whose lists hold more references than a block may (2^21):
    its snapshot has long lists, and show and path print from them what
    they print from the whole heap, from the snapshot and the cache."""
    name = args.label + " big"
    prog = os.path.join(workdir, "big.py")
    with open(prog, "w") as f:
        f.write(BIG_PROGRAM)
    got = snapshot_of(args, tally, workdir, prog, name, "big")
    if not got:
        return
    core, mine, tool, snap, good = got
    x = section(Snapshot(good), "RAND")
    nlong = struct.unpack_from("<I", x[3], 28)[0] if x and len(x[3]) >= 32 else 0
    if not x or not struct.unpack_from("<I", x[3])[0] >> 31 or nlong < 4:
        tally.fail("%s: the snapshot has no records with long lists" % name)
        return
    tally.ok("%s: the snapshot's records have %d long lists" % (name, nlong))
    full = os.path.join(workdir, "big-whole.phs")
    with open(full, "wb") as f:
        f.write(strip(good, "RAND"))
    qs = [q for a in mine for q in (("show", a), ("path", a))]
    qs += [q for a in mine[3:7] for q in (("show", a, "--json"), ("path", a, "--all"))]
    bad = compare(tool, qs, snap, full, "records")
    if bad:
        tally.fail("%s: %d of %d answers differ:\n  %s"
                   % (name, len(bad), len(qs), "\n  ".join(bad[:10])))
    else:
        tally.ok("%s: %d answers the same from the records and the whole heap"
                 % (name, len(qs)))
    # That the records answered: forged ones (every retained size 1) change
    # show, of objects with long lists out and in, and of their holders.
    forged = os.path.join(workdir, "big-forged.phs")
    with open(forged, "wb") as f:
        f.write(with_index_raw(good, forged_records(x[3]), "RAND"))
    bad = []
    for a in mine[3:]:
        got = tool.run(("show", a, "--json"), forged)
        if got[0] != 0 or b'"retained": 1,' not in got[1]:
            bad.append("show %s --json: exit %d, %r" % (a, got[0], got[1][:100]))
    for a in mine[:3]:
        got = tool.run(("show", a), forged)
        if got[0] != 0 or b", retained 1 B," not in got[1]:
            bad.append("show %s: exit %d, %r" % (a, got[0], got[1][:300]))
    if bad:
        tally.fail("%s: forged records did not change show:\n  %s" % (name, "\n  ".join(bad)))
    else:
        tally.ok("%s: show answers from the records (forged ones change it)" % name)
    tool.run(("summary",), core)
    entries = tool.entries()
    x = section(Snapshot(open(entries[0], "rb").read()), "RAND") if len(entries) == 1 else None
    if not x or not struct.unpack_from("<I", x[3])[0] >> 31:
        tally.fail("%s: the first verb did not leave one entry with long lists: %s"
                   % (name, entries))
    cqs = [("show", mine[0]), ("path", mine[3]), ("show", mine[2])]
    bad = [" ".join(q) for q in cqs if tool.run(q, core) != tool.run(q, core, ["--no-cache"])]
    if bad:
        tally.fail("%s: from the cache entry, not as from the core: %s" % (name, bad))
    else:
        tally.ok("%s: %d answers the same from the cache entry and the core" % (name, len(cqs)))


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


LONG_DAMAGE = {"chunks of 0 references": "rand-long-chunk-zero.phs",
               "2^32 - 1 long lists": "rand-long-many.phs",
               "long lists out of order": "rand-long-order.phs",
               "a long list of 2^31 - 1 references": "rand-long-huge.phs",
               "long lists one longer than their objects' counts": "rand-long-count.phs",
               "chunks at 2^40": "rand-long-chunk-out.phs",
               "chunks of 8 raw bytes more": "rand-long-chunk-size.phs"}


def long_corpus(good):
    """[(file, data, rule)]: good's records with long lists (every list of
    two or more references, in chunks of two), forged, and damaged."""
    raw = section(Snapshot(good), "RAND")[3]
    longraw = long_lists(raw, 2, lambda d, o, c: c >= 2)
    files = [("rand-long-valid.phs", with_index_raw(good, longraw, "RAND"), "same"),
             ("rand-long-forged.phs",
              with_index_raw(good, long_lists(forged_records(raw), 2, lambda d, o, c: c >= 2),
                             "RAND"), "forged")]
    for what, new in damaged_long(longraw):
        if what in LONG_DAMAGE:
            files.append((LONG_DAMAGE[what], with_index_raw(good, new, "RAND"), "same"))
    return files


def write_long_corpus(directory):
    """The long lists' part of the corpus, from its rand-valid.phs, added
    to its INDEX-rand."""
    with open(os.path.join(directory, "rand-valid.phs"), "rb") as f:
        good = f.read()
    index = os.path.join(directory, "INDEX-rand")
    with open(index) as f:
        lines = [x for x in f.read().splitlines() if not x.startswith("rand-long-")]
    for fname, data, rule in long_corpus(good):
        with open(os.path.join(directory, fname), "wb") as f:
            f.write(data)
        lines.append("%s %s" % (fname, rule))
        print("wrote %s (%d bytes)" % (fname, len(data)))
    with open(index, "w") as f:
        f.write("\n".join(lines) + "\n")


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
        ] + long_corpus(good)
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
                    "# --write-corpus corpora/snapshots --python /usr/bin/python3.11\n"
                    "# (rand-long-*: --write-long-corpus, from rand-valid.phs)\n")
            f.write("\n".join(lines) + "\n")


def main():
    def add_arguments(ap):
        ap.add_argument("--write-corpus", metavar="DIR")
        ap.add_argument("--write-long-corpus", metavar="DIR",
                        help="only the long lists' files, from DIR's rand-valid.phs")
        ap.add_argument("--big", action="store_true",
                        help="only the heap with lists longer than a block may hold")
    args = parse_runner_args(__doc__.splitlines()[0], add_arguments)
    if args.write_corpus:
        write_corpus(args, os.path.abspath(args.write_corpus))
        return 0
    if args.write_long_corpus:
        write_long_corpus(os.path.abspath(args.write_long_corpus))
        return 0
    tally = Tally()
    with test_workdir(args, "view") as workdir:
        if args.big:
            check_big(args, tally, workdir)
        else:
            check(args, tally, workdir)
            check_corpus(args, tally, workdir)
    return tally.close()


if __name__ == "__main__":
    run_main(main)
